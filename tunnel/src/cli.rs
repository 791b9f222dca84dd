//! Command line (DESIGN §5).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::{Config, ConfigError, RawService, Role};
use crate::logging::LogFormat;

/// Certificate-less TLS 1.3 tunnels authenticated by static PSKs or M-Pin.
#[derive(Debug, Parser)]
#[command(name = "milagro-tunnel", version, about)]
pub struct Cli {
    /// Log line format (overrides the config file's `log_format`).
    #[arg(long, global = true, value_enum)]
    pub log_format: Option<LogFormat>,
    /// Log level or filter (`RUST_LOG` takes precedence).
    #[arg(long, global = true, default_value = "info")]
    pub log_level: String,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run every service of a TOML config file.
    Run(RunArgs),
    /// Accept plaintext on --accept, connect with TLS to --connect.
    Client(TunnelArgs),
    /// Accept TLS on --accept, forward plaintext to --connect.
    Server(TunnelArgs),
    /// The whole system on loopback: 3 D-TAs, enrolment, tunnels, data, a wrong PIN; prints a report.
    #[cfg(feature = "demo")]
    Demo,
    /// Enrol an identity with the D-TAs: writes a credential file (mode 0600, no PIN inside).
    Enroll(EnrollArgs),
    /// Fetch the server secret from the D-TAs.
    ServerSecret(ServerSecretArgs),
    /// Fetch time permits for a credential.
    Permit(PermitArgs),
    /// Stop an identity's new logins and resumptions on every replica sharing --state.
    Revoke(StateAdminArgs),
    /// Let an identity in again on every replica sharing --state: lifts a revocation and
    /// clears its lockout.
    Unlock(StateAdminArgs),
}

/// `revoke` / `unlock` arguments.
#[derive(Debug, Args)]
pub struct StateAdminArgs {
    /// The fleet's shared state: redis://HOST:PORT/DB or rediss://HOST:PORT/DB.
    #[arg(long, value_name = "URL")]
    pub state: String,
    /// File holding the Redis password (else MILAGRO_STATE_PASSWORD).
    #[arg(long, value_name = "FILE")]
    pub state_password_file: Option<PathBuf>,
    /// The identity.
    #[arg(long, value_name = "ID")]
    pub identity: String,
}

/// `run` arguments.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The config file.
    #[arg(long, value_name = "FILE.toml")]
    pub config: PathBuf,
    /// Only validate the config (and the files it names), then exit.
    #[arg(long)]
    pub check: bool,
}

/// `enroll` arguments.
#[derive(Debug, Args)]
pub struct EnrollArgs {
    /// The identity (the RA's grant must be for it).
    #[arg(long, value_name = "ID")]
    pub identity: String,
    /// Enrol a device (P2P links, a `device` grant): writes a device credential holding its
    /// keys whole (no PIN) and device permits.
    #[arg(long)]
    pub device: bool,
    /// A D-TA as URL,FINGERPRINT,SIGNING_KEY (repeat for every D-TA).
    #[arg(long = "dta", value_name = "URL,FP,KEY", required = true)]
    pub dtas: Vec<String>,
    /// The RA's client (or, with --device, device) grant file.
    #[arg(long, value_name = "FILE")]
    pub grant: PathBuf,
    /// Where to write the credential.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// PIN file (else MILAGRO_PIN, else a prompt).
    #[arg(long, value_name = "FILE", conflicts_with = "device")]
    pub pin_file: Option<PathBuf>,
    /// Days of time permits to fetch right away, from today (default and most: the D-TAs'
    /// permit horizon from /v1/info; more is cut to it with a warning; 0: none).
    #[arg(long, value_name = "N")]
    pub days: Option<u32>,
}

/// `server-secret` arguments.
#[derive(Debug, Args)]
pub struct ServerSecretArgs {
    /// A D-TA as URL,FINGERPRINT,SIGNING_KEY (repeat for every D-TA).
    #[arg(long = "dta", value_name = "URL,FP,KEY", required = true)]
    pub dtas: Vec<String>,
    /// The RA's server grant file.
    #[arg(long, value_name = "FILE")]
    pub grant: PathBuf,
    /// Where to write the server secret.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

/// `permit` arguments.
#[derive(Debug, Args)]
pub struct PermitArgs {
    /// The credential file (updated in place).
    #[arg(long, value_name = "FILE")]
    pub credential: PathBuf,
    /// Days of permits from today (default and most: the D-TAs' permit horizon from
    /// /v1/info; more is cut to it with a warning).
    #[arg(long, value_name = "N")]
    pub days: Option<u32>,
}

/// `client` / `server` arguments: one service from flags.
#[derive(Debug, Args)]
pub struct TunnelArgs {
    /// Listen address: HOST:PORT or unix:PATH.
    #[arg(long, value_name = "ADDR")]
    pub accept: String,
    /// Forward address: HOST:PORT or unix:PATH.
    #[arg(long, value_name = "ADDR")]
    pub connect: String,
    /// Service name in logs and metrics (default: client or server).
    #[arg(long)]
    pub name: Option<String>,
    /// Static PSK: stunnel PSKsecrets file (IDENTITY:KEY lines).
    #[arg(long, value_name = "FILE")]
    pub psk_secrets: Option<PathBuf>,
    /// Static PSK, client: identity to offer (default: the file's first line).
    #[arg(long, value_name = "ID")]
    pub psk_identity: Option<String>,
    /// M-Pin client: credential file.
    #[arg(long, value_name = "FILE")]
    pub credential: Option<PathBuf>,
    /// M-Pin client: file holding the PIN.
    #[arg(long, value_name = "FILE")]
    pub pin_file: Option<PathBuf>,
    /// M-Pin client: one-pass flow (one message each way) instead of multi-pass.
    #[arg(long)]
    pub one_pass: bool,
    /// M-Pin client: no session-ticket resumption (every connection runs M-Pin, with pairings).
    #[arg(long)]
    pub no_resume: bool,
    /// Device link: the device credential (client: dials `--peer` with its sender key;
    /// server: accepts devices with its receiver key, M-Pin/PSK too when configured).
    #[arg(long, value_name = "FILE")]
    pub device_credential: Option<PathBuf>,
    /// Device link client: the one device identity to reach (any other is refused).
    #[arg(long, value_name = "ID")]
    pub peer: Option<String>,
    /// M-Pin server: server secret file.
    #[arg(long, value_name = "FILE")]
    pub server_secret: Option<PathBuf>,
    /// M-Pin server: require time permits.
    #[arg(long)]
    pub require_permits: bool,
    /// M-Pin or device server: allowed identities (glob; repeatable).
    #[arg(long, value_name = "GLOB")]
    pub allow: Vec<String>,
    /// M-Pin server: wrong PINs (with the identity's genuine token) that lock it (default 3);
    /// as many failed proofs with a permit not attributable to its token lock it for their
    /// source prefix (IPv4 address, or IPv6 /48) only.
    #[arg(long, value_name = "N")]
    pub lockout_after: Option<i64>,
    /// M-Pin server: first lockout, e.g. 30s, 5m, 1h (default 5m; doubles up to 24h).
    #[arg(long, value_name = "DURATION")]
    pub lockout_for: Option<String>,
    /// M-Pin server: failed proofs with a permit not attributable to the identity's token,
    /// from all sources together, that lock its permit-mode logins for --lockout-for
    /// (default 30; 0 turns it off).
    #[arg(long, value_name = "N")]
    pub distributed_lockout_after: Option<i64>,
    /// M-Pin server: days a source prefix (IPv4 address, or IPv6 /48) an identity logged in
    /// from stays exempt from that distributed lockout (default 30; 0 turns it off).
    #[arg(long, value_name = "DAYS")]
    pub known_source_days: Option<i64>,
    /// Only this cipher suite (IANA name, e.g. TLS_AES_128_GCM_SHA256).
    #[arg(long, value_name = "NAME")]
    pub suite: Option<String>,
    /// Only this group (IANA name: X25519MLKEM768, X25519, secp256r1).
    #[arg(long, value_name = "NAME")]
    pub group: Option<String>,
    /// Status listener (/healthz, /metrics), e.g. 127.0.0.1:9100.
    #[arg(long, value_name = "ADDR")]
    pub status: Option<String>,
    /// Most simultaneous connections; more are closed at once.
    #[arg(long, value_name = "N")]
    pub max_connections: Option<i64>,
    /// Seconds allowed for connecting and the handshake.
    #[arg(long, value_name = "SECS")]
    pub handshake_timeout: Option<f64>,
    /// Close a connection after this many seconds without traffic.
    #[arg(long, value_name = "SECS")]
    pub idle_timeout: Option<f64>,
    /// Handshakes per second allowed per source (IPv4 address, IPv6 /64); 0 turns it off [default: 20 in server mode, off in client mode].
    #[arg(long, value_name = "PER_SEC")]
    pub rate_limit: Option<f64>,
    /// Rate-limit burst per source [default: 5 s worth of --rate-limit].
    #[arg(long, value_name = "N")]
    pub rate_burst: Option<f64>,
    /// Most unauthenticated connections at once; when full the oldest is closed [default: 1024].
    #[arg(long, value_name = "N")]
    pub max_handshakes: Option<i64>,
    /// Most unauthenticated connections at once per source; more are closed at once [default: 128].
    #[arg(long, value_name = "N")]
    pub max_handshakes_per_source: Option<i64>,
    /// Seconds live connections get after SIGTERM.
    #[arg(long, value_name = "SECS")]
    pub drain_timeout: Option<f64>,
    /// M-Pin server: shared state of a fleet, `memory` (this process, the default) or
    /// redis://HOST:PORT/DB (rediss:// for TLS); logins it cannot decide are refused.
    #[arg(long, value_name = "URL")]
    pub state: Option<String>,
    /// M-Pin server: file holding the Redis password (else MILAGRO_STATE_PASSWORD).
    #[arg(long, value_name = "FILE")]
    pub state_password_file: Option<PathBuf>,
    /// M-Pin server: ticket keys shared by the replicas (mode 0600; lines `ID KEY`, current
    /// first) [default: with a redis:// state the fleet's keys in Redis, else a random key].
    #[arg(long, value_name = "FILE")]
    pub ticket_key_file: Option<PathBuf>,
}

impl TunnelArgs {
    /// The one-service configuration these flags describe.
    pub fn to_config(&self, role: Role) -> Result<Config, ConfigError> {
        let raw = RawService {
            name: self.name.clone(),
            mode: Some(role),
            accept: Some(self.accept.clone()),
            connect: Some(self.connect.clone()),
            psk_secrets: self.psk_secrets.clone(),
            psk_identity: self.psk_identity.clone(),
            credential: self.credential.clone(),
            pin_file: self.pin_file.clone(),
            one_pass: self.one_pass.then_some(true),
            resume: self.no_resume.then_some(false),
            server_secret: self.server_secret.clone(),
            require_permits: self.require_permits.then_some(true),
            allow: (!self.allow.is_empty()).then(|| self.allow.clone()),
            lockout_after: self.lockout_after,
            lockout_for: self.lockout_for.clone(),
            distributed_lockout_after: self.distributed_lockout_after,
            known_source_days: self.known_source_days,
            device_credential: self.device_credential.clone(),
            peer: self.peer.clone(),
            suite: self.suite.clone(),
            group: self.group.clone(),
            max_connections: self.max_connections,
            handshake_timeout: self.handshake_timeout,
            idle_timeout: self.idle_timeout,
            rate_limit: self.rate_limit,
            rate_burst: self.rate_burst,
            max_handshakes: self.max_handshakes,
            max_handshakes_per_source: self.max_handshakes_per_source,
        };
        Config::from_flags(raw, self.status.as_deref(), self.drain_timeout)?.with_fleet_flags(
            self.state.as_deref(),
            self.state_password_file.clone(),
            self.ticket_key_file.clone(),
        )
    }
}
