//! The configuration as written: serde types for the TOML file, also filled from command-line
//! flags ([`crate::cli`]), so both go through the same validation.
//!
//! Adding a service key: a field here, its rule in the module of its concern (`addrs`,
//! `auth`, `lockout`, `limits`, `tls`), and for a flag, the flag and one line of the mapping
//! in `cli.rs`.

use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

use super::Role;
use crate::logging::LogFormat;

/// Global options as written in the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// `text` or `json`.
    pub log_format: Option<LogFormat>,
    /// Status listener address.
    pub status: Option<String>,
    /// SIGTERM drain deadline, seconds.
    pub drain_timeout: Option<f64>,
    /// `memory` or a Redis URL: the M-Pin servers' shared state.
    pub state: Option<String>,
    /// File holding the Redis password.
    pub state_password_file: Option<PathBuf>,
    /// Ticket keys shared by a fleet's replicas (mode 0600).
    pub ticket_key_file: Option<PathBuf>,
    /// The services.
    #[serde(default)]
    pub service: Vec<Spanned<RawService>>,
}

/// One `[[service]]` table (or the `client`/`server` flags) as written.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawService {
    /// Name used in logs and metrics (default: the accept address).
    pub name: Option<String>,
    /// `client` or `server`.
    pub mode: Option<Role>,
    /// Listen address.
    pub accept: Option<String>,
    /// Forward address.
    pub connect: Option<String>,
    /// stunnel PSKsecrets file.
    pub psk_secrets: Option<PathBuf>,
    /// Client: PSK identity to offer.
    pub psk_identity: Option<String>,
    /// M-Pin client credential.
    pub credential: Option<PathBuf>,
    /// M-Pin PIN file.
    pub pin_file: Option<PathBuf>,
    /// M-Pin client: use the one-pass flow instead of multi-pass.
    pub one_pass: Option<bool>,
    /// M-Pin client: resume with session tickets (default true); false runs M-Pin every time.
    pub resume: Option<bool>,
    /// M-Pin server secret.
    pub server_secret: Option<PathBuf>,
    /// M-Pin server: demand time permits.
    pub require_permits: Option<bool>,
    /// M-Pin server: identity globs.
    pub allow: Option<Vec<String>>,
    /// M-Pin server: wrong-PIN failures that lock an identity (default 3).
    pub lockout_after: Option<i64>,
    /// M-Pin server: first lockout, e.g. `30s`, `5m`, `1h` (default `5m`; doubles up to 24 h).
    pub lockout_for: Option<String>,
    /// M-Pin server: unattributable permit-mode failures across all sources that lock an
    /// identity's permit-mode logins (default 30; 0 = off).
    pub distributed_lockout_after: Option<i64>,
    /// M-Pin server: days a source prefix stays exempt from the distributed lock after a
    /// verified login from it (default 30; 0 = off).
    pub known_source_days: Option<i64>,
    /// Device link (P2P): the device credential (dialling with `peer`, or accepting).
    pub device_credential: Option<PathBuf>,
    /// Device link client: the one device identity it may reach.
    pub peer: Option<String>,
    /// IANA cipher suite name.
    pub suite: Option<String>,
    /// IANA group name.
    pub group: Option<String>,
    /// Connection limit.
    pub max_connections: Option<i64>,
    /// Seconds.
    pub handshake_timeout: Option<f64>,
    /// Seconds without traffic either way before closing.
    pub idle_timeout: Option<f64>,
    /// Handshakes per second per source (0: off).
    pub rate_limit: Option<f64>,
    /// Rate-limit bucket size.
    pub rate_burst: Option<f64>,
    /// Unauthenticated connections at once.
    pub max_handshakes: Option<i64>,
    /// Unauthenticated connections at once per source.
    pub max_handshakes_per_source: Option<i64>,
}
