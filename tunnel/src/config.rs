//! The TOML configuration file and its validation.
//!
//! ```toml
//! log_format = "text"          # or "json"
//! status = "127.0.0.1:9100"    # /healthz and /metrics (optional)
//! drain_timeout = 30           # seconds allowed for live connections on SIGTERM
//!
//! [[service]]
//! name = "db"
//! mode = "server"              # accept TLS-PSK, forward plaintext
//! accept = "127.0.0.1:5433"
//! connect = "127.0.0.1:5432"
//! psk_secrets = "/etc/milagro/psk.txt"
//! max_connections = 100
//! handshake_timeout = 10
//! idle_timeout = 300
//! rate_limit = 20              # handshakes per second per source (IPv4 address, IPv6 /64); 0: off
//! rate_burst = 100             # bucket size (default: 5 s worth of rate_limit)
//! max_handshakes = 1024        # unauthenticated connections at once (oldest evicted when full)
//! max_handshakes_per_source = 128
//! ```
//!
//! Every error names the file, the line, the service and the field.

use std::collections::HashSet;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use milagro_tls::{CipherSuite, NamedGroup};
use serde::Deserialize;
use toml::Spanned;

use crate::addr::Addr;
use crate::auth::{AuthSpec, TlsParams};
use crate::lockout::LockoutSpec;
use crate::logging::LogFormat;

/// Default per-service connection limit.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1000;
/// Default handshake timeout.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Default per-source handshake rate (per second) of server-mode services;
/// on unless set to 0 (client mode: off unless set).
pub const DEFAULT_RATE_LIMIT: f64 = 20.0;
/// Seconds of `rate_limit` the default burst holds (100 at the default rate).
pub const DEFAULT_BURST_SECONDS: f64 = 5.0;
/// Default cap on unauthenticated connections per service.
pub const DEFAULT_MAX_HANDSHAKES: usize = 1024;
/// Default cap on unauthenticated connections per source and service.
pub const DEFAULT_MAX_HANDSHAKES_PER_SOURCE: usize = 128;
/// Default SIGTERM drain deadline.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Tunnel direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Accept plaintext, connect with TLS.
    Client,
    /// Accept TLS, connect plaintext.
    Server,
}

impl Mode {
    /// `client` or `server`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Client => "client",
            Self::Server => "server",
        }
    }
}

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
    pub mode: Option<Mode>,
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

/// A validated service.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceConfig {
    /// Name (unique within a config).
    pub name: String,
    /// Direction.
    pub mode: Mode,
    /// Listen address.
    pub accept: Addr,
    /// Forward address.
    pub connect: Addr,
    /// Authentication.
    pub auth: AuthSpec,
    /// TLS parameters.
    pub tls: TlsParams,
    /// Connection limit.
    pub max_connections: usize,
    /// Idle timeout.
    pub idle_timeout: Option<Duration>,
    /// Handshakes per second per source (None: no rate limit).
    pub rate_limit: Option<f64>,
    /// Rate-limit bucket size (≥ 1).
    pub rate_burst: f64,
    /// Unauthenticated connections at once (≥ 1).
    pub max_handshakes: usize,
    /// Unauthenticated connections at once per source (≥ 1).
    pub max_handshakes_per_source: usize,
    /// Where the auth settings were written (prefix for errors found when
    /// the files they name are read), e.g. `t.toml line 9: service "db": psk_secrets`.
    pub auth_origin: String,
}

/// A validated configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Log format (None: the command line or the default decides).
    pub log_format: Option<LogFormat>,
    /// Status listener.
    pub status: Option<Addr>,
    /// SIGTERM drain deadline.
    pub drain_timeout: Duration,
    /// Services.
    pub services: Vec<ServiceConfig>,
}

/// A configuration problem; the message is one line naming where.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Syntax or semantic problem.
    #[error("{0}")]
    Invalid(String),
}

/// Where settings come from: a file (with its text, for line numbers) or
/// command-line flags.
#[derive(Clone, Copy, Debug)]
pub enum Origin<'a> {
    /// A TOML file.
    File {
        /// Shown name.
        path: &'a str,
        /// Its text.
        src: &'a str,
    },
    /// Command-line flags.
    Flags,
}

fn line_of(src: &str, offset: usize) -> usize {
    1 + src
        .as_bytes()
        .iter()
        .take(offset.min(src.len()))
        .filter(|b| **b == b'\n')
        .count()
}

/// The line where `field = …` is written inside `span`, else the span's first line.
fn field_line(src: &str, span: &Range<usize>, field: &str) -> usize {
    let start = span.start.min(src.len());
    let end = span.end.clamp(start, src.len());
    let mut offset = start;
    for line in src.get(start..end).unwrap_or("").split_inclusive('\n') {
        let t = line.trim_start();
        if let Some(rest) = t.strip_prefix(field) {
            if rest.trim_start().starts_with('=') {
                return line_of(src, offset);
            }
        }
        offset += line.len();
    }
    line_of(src, start)
}

/// Error builder for one service.
/// Refuses `lockout_after` / `lockout_for` / `distributed_lockout_after` /
/// `known_source_days` where they do not apply.
fn not_in_lockout(ctx: &Ctx<'_>, raw: &RawService, why: &str) -> Result<(), ConfigError> {
    if raw.lockout_after.is_some() {
        return Err(ctx.err("lockout_after", why));
    }
    if raw.lockout_for.is_some() {
        return Err(ctx.err("lockout_for", why));
    }
    if raw.distributed_lockout_after.is_some() {
        return Err(ctx.err("distributed_lockout_after", why));
    }
    if raw.known_source_days.is_some() {
        return Err(ctx.err("known_source_days", why));
    }
    Ok(())
}

struct Ctx<'a> {
    origin: Origin<'a>,
    span: Range<usize>,
    service: Option<String>,
}

impl Ctx<'_> {
    fn at(&self, field: &str) -> String {
        match self.origin {
            Origin::Flags => format!("command line: --{}", field.replace('_', "-")),
            Origin::File { path, src } => {
                let line = field_line(src, &self.span, field);
                match &self.service {
                    Some(name) => format!("{path} line {line}: service {name:?}: {field}"),
                    None => format!("{path} line {line}: {field}"),
                }
            }
        }
    }
    fn err(&self, field: &str, msg: impl std::fmt::Display) -> ConfigError {
        ConfigError::Invalid(format!("{}: {msg}", self.at(field)))
    }
}

/// The `name = "…"` of the `[[service]]` table containing `offset`, found
/// textually (used for errors raised before the table could be parsed).
fn enclosing_service_name(src: &str, offset: usize) -> Option<String> {
    let before = src.get(..offset.min(src.len()))?;
    let header = before.rfind("[[service]]")?;
    let rest = src.get(header + "[[service]]".len()..)?;
    for line in rest.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            break;
        }
        if let Some(v) = t.strip_prefix("name") {
            if let Some(v) = v.trim_start().strip_prefix('=') {
                let v = v.trim().trim_matches('"').trim_matches('\'');
                return Some(v.to_string());
            }
        }
    }
    None
}

fn toml_error(path: &str, src: &str, e: &toml::de::Error) -> ConfigError {
    let msg = e.message().trim().replace('\n', " ");
    match e.span() {
        Some(span) => {
            let line = line_of(src, span.start);
            match enclosing_service_name(src, span.start) {
                Some(name) => {
                    ConfigError::Invalid(format!("{path} line {line}: service {name:?}: {msg}"))
                }
                None => ConfigError::Invalid(format!("{path} line {line}: {msg}")),
            }
        }
        None => ConfigError::Invalid(format!("{path}: {msg}")),
    }
}

fn seconds(ctx: &Ctx<'_>, field: &str, v: f64, allow_zero: bool) -> Result<Duration, ConfigError> {
    if !v.is_finite() || v < 0.0 || (!allow_zero && v == 0.0) || v > 1e9 {
        return Err(ctx.err(field, format!("{v} is not a valid number of seconds")));
    }
    Ok(Duration::from_secs_f64(v))
}

fn tls_error_text(e: milagro_tls::Error) -> String {
    match e {
        milagro_tls::Error::Config(m) => m,
        other => other.to_string(),
    }
}

impl Config {
    /// Reads and validates a configuration file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let shown = path.display().to_string();
        let src = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: shown.clone(),
            source,
        })?;
        Self::from_toml_str(&src, &shown)
    }

    /// Parses and validates TOML text; `path` is the name used in errors.
    pub fn from_toml_str(src: &str, path: &str) -> Result<Self, ConfigError> {
        let raw: RawConfig = toml::from_str(src).map_err(|e| toml_error(path, src, &e))?;
        let origin = Origin::File { path, src };
        let global = Ctx {
            origin,
            span: 0..src.find("[[").unwrap_or(src.len()),
            service: None,
        };
        let status = match &raw.status {
            Some(s) => Some(parse_addr(&global, "status", s)?),
            None => None,
        };
        let drain_timeout = match raw.drain_timeout {
            Some(v) => seconds(&global, "drain_timeout", v, true)?,
            None => DEFAULT_DRAIN_TIMEOUT,
        };
        if raw.service.is_empty() {
            return Err(ConfigError::Invalid(format!(
                "{path}: no [[service]] table: nothing to do"
            )));
        }
        let mut services = Vec::new();
        let mut names = HashSet::new();
        // a [[service]] span covers its header only: the table runs to the next one
        let starts: Vec<usize> = raw.service.iter().map(|s| s.span().start).collect();
        for (i, s) in raw.service.into_iter().enumerate() {
            let span = s.span().start..starts.get(i + 1).copied().unwrap_or(src.len());
            let svc = validate_service(s.into_inner(), origin, span.clone())?;
            if !names.insert(svc.name.clone()) {
                let ctx = Ctx {
                    origin,
                    span,
                    service: Some(svc.name.clone()),
                };
                return Err(ctx.err("name", "duplicate service name"));
            }
            services.push(svc);
        }
        Ok(Self {
            log_format: raw.log_format,
            status,
            drain_timeout,
            services,
        })
    }
}

fn parse_addr(ctx: &Ctx<'_>, field: &str, s: &str) -> Result<Addr, ConfigError> {
    s.parse().map_err(|e| ctx.err(field, e))
}

/// Validates one service.
pub fn validate_service(
    raw: RawService,
    origin: Origin<'_>,
    span: Range<usize>,
) -> Result<ServiceConfig, ConfigError> {
    let mut ctx = Ctx {
        origin,
        span,
        service: raw.name.clone(),
    };
    let accept_s = raw
        .accept
        .clone()
        .ok_or_else(|| ctx.err("accept", "missing"))?;
    if ctx.service.is_none() && matches!(origin, Origin::File { .. }) {
        ctx.service = Some(accept_s.clone());
    }
    let mode = raw
        .mode
        .ok_or_else(|| ctx.err("mode", "missing (client or server)"))?;
    let accept = parse_addr(&ctx, "accept", &accept_s)?;
    let connect_s = raw
        .connect
        .as_deref()
        .ok_or_else(|| ctx.err("connect", "missing"))?;
    let connect = parse_addr(&ctx, "connect", connect_s)?;
    if let Some(name) = &raw.name {
        if name.is_empty() || name.len() > 64 || name.chars().any(|c| c.is_control() || c == '"') {
            return Err(ctx.err(
                "name",
                "must be 1 to 64 printable characters without quotes",
            ));
        }
    }
    let not_in = |field: &str, present: bool, why: &str| -> Result<(), ConfigError> {
        if present {
            Err(ctx.err(field, why))
        } else {
            Ok(())
        }
    };
    let auth = match mode {
        Mode::Client => {
            not_in(
                "server_secret",
                raw.server_secret.is_some(),
                "only applies to server mode",
            )?;
            not_in(
                "require_permits",
                raw.require_permits.is_some(),
                "only applies to server mode",
            )?;
            not_in("allow", raw.allow.is_some(), "only applies to server mode")?;
            not_in_lockout(&ctx, &raw, "only applies to server mode")?;
            match (&raw.psk_secrets, &raw.credential) {
                (Some(_), Some(_)) => {
                    return Err(ctx.err(
                        "credential",
                        "give either psk_secrets or credential, not both",
                    ))
                }
                (None, None) => {
                    return Err(ctx.err(
                        "psk_secrets",
                        "missing: client mode needs psk_secrets (static PSK) or credential (M-Pin)",
                    ))
                }
                (Some(secrets), None) => {
                    not_in(
                        "pin_file",
                        raw.pin_file.is_some(),
                        "only applies with credential (M-Pin)",
                    )?;
                    not_in(
                        "one_pass",
                        raw.one_pass.is_some(),
                        "only applies with credential (M-Pin)",
                    )?;
                    not_in(
                        "resume",
                        raw.resume.is_some(),
                        "only applies with credential (M-Pin)",
                    )?;
                    AuthSpec::StaticPsk {
                        secrets: secrets.clone(),
                        identity: raw.psk_identity.clone(),
                    }
                }
                (None, Some(credential)) => {
                    not_in(
                        "psk_identity",
                        raw.psk_identity.is_some(),
                        "only applies with psk_secrets",
                    )?;
                    AuthSpec::MpinClient {
                        credential: credential.clone(),
                        pin_file: raw.pin_file.clone(),
                        one_pass: raw.one_pass.unwrap_or(false),
                        resume: raw.resume.unwrap_or(true),
                    }
                }
            }
        }
        Mode::Server => {
            not_in(
                "credential",
                raw.credential.is_some(),
                "only applies to client mode",
            )?;
            not_in(
                "pin_file",
                raw.pin_file.is_some(),
                "only applies to client mode",
            )?;
            not_in(
                "one_pass",
                raw.one_pass.is_some(),
                "only applies to client mode",
            )?;
            not_in(
                "resume",
                raw.resume.is_some(),
                "only applies to client mode",
            )?;
            not_in("psk_identity", raw.psk_identity.is_some(), "only applies to client mode (a server accepts every identity of its psk_secrets file)")?;
            match &raw.server_secret {
                Some(server_secret) => {
                    let allow = raw.allow.clone().unwrap_or_default();
                    for g in &allow {
                        if let Err(e) = globset::Glob::new(g) {
                            return Err(ctx.err("allow", format!("bad pattern {g:?}: {e}")));
                        }
                    }
                    let lockout = LockoutSpec::from_raw(
                        raw.lockout_after,
                        raw.lockout_for.as_deref(),
                        raw.distributed_lockout_after,
                        raw.known_source_days,
                    )
                    .map_err(|(field, msg)| ctx.err(field, msg))?;
                    AuthSpec::MpinServer {
                        server_secret: server_secret.clone(),
                        require_permits: raw.require_permits.unwrap_or(false),
                        allow,
                        psk_secrets: raw.psk_secrets.clone(),
                        lockout,
                    }
                }
                None => {
                    not_in(
                        "require_permits",
                        raw.require_permits.is_some(),
                        "only applies with server_secret (M-Pin)",
                    )?;
                    not_in(
                        "allow",
                        raw.allow.is_some(),
                        "only applies with server_secret (M-Pin)",
                    )?;
                    not_in_lockout(&ctx, &raw, "only applies with server_secret (M-Pin)")?;
                    let secrets = raw.psk_secrets.clone().ok_or_else(|| {
                        ctx.err("psk_secrets", "missing: server mode needs psk_secrets (static PSK) or server_secret (M-Pin)")
                    })?;
                    AuthSpec::StaticPsk {
                        secrets,
                        identity: None,
                    }
                }
            }
        }
    };
    let auth_field = match &auth {
        AuthSpec::StaticPsk { .. } => "psk_secrets",
        AuthSpec::MpinClient { .. } => "credential",
        AuthSpec::MpinServer { .. } => "server_secret",
    };
    let suite = match &raw.suite {
        Some(s) => Some(
            s.parse::<CipherSuite>()
                .map_err(|e| ctx.err("suite", tls_error_text(e)))?,
        ),
        None => None,
    };
    let group = match &raw.group {
        Some(s) => Some(
            s.parse::<NamedGroup>()
                .map_err(|e| ctx.err("group", tls_error_text(e)))?,
        ),
        None => None,
    };
    let max_connections = match raw.max_connections {
        Some(n) if n >= 1 => {
            usize::try_from(n).map_err(|_| ctx.err("max_connections", "too large"))?
        }
        Some(n) => return Err(ctx.err("max_connections", format!("{n} is not a positive number"))),
        None => DEFAULT_MAX_CONNECTIONS,
    };
    let handshake_timeout = match raw.handshake_timeout {
        Some(v) => seconds(&ctx, "handshake_timeout", v, false)?,
        None => DEFAULT_HANDSHAKE_TIMEOUT,
    };
    let idle_timeout = match raw.idle_timeout {
        Some(0.0) => None,
        Some(v) => Some(seconds(&ctx, "idle_timeout", v, false)?),
        None => None,
    };
    let rate_limit = match raw.rate_limit {
        Some(0.0) => None,
        Some(v) if v.is_finite() && v > 0.0 => Some(v),
        Some(v) => {
            return Err(ctx.err(
                "rate_limit",
                format!(
                    "{v} is not a positive number of handshakes per second (0 turns the limit off)"
                ),
            ))
        }
        // server mode faces unauthenticated network peers; a client tunnel's
        // peers are local applications, limited only when asked to
        None => (mode == Mode::Server).then_some(DEFAULT_RATE_LIMIT),
    };
    let rate_burst = match raw.rate_burst {
        Some(v) if v.is_finite() && v >= 1.0 => v,
        Some(v) => return Err(ctx.err("rate_burst", format!("{v} is not a number of at least 1"))),
        None => rate_limit.map_or(1.0, |r| (r * DEFAULT_BURST_SECONDS).max(1.0)),
    };
    let count = |field: &str, v: Option<i64>, default: usize| match v {
        Some(n) if n >= 1 => usize::try_from(n).map_err(|_| ctx.err(field, "too large")),
        Some(n) => Err(ctx.err(field, format!("{n} is not a positive number"))),
        None => Ok(default),
    };
    let max_handshakes = count("max_handshakes", raw.max_handshakes, DEFAULT_MAX_HANDSHAKES)?;
    let max_handshakes_per_source = count(
        "max_handshakes_per_source",
        raw.max_handshakes_per_source,
        DEFAULT_MAX_HANDSHAKES_PER_SOURCE,
    )?;
    let name = raw.name.clone().unwrap_or_else(|| match origin {
        Origin::Flags => mode.as_str().to_string(),
        Origin::File { .. } => accept_s.clone(),
    });
    Ok(ServiceConfig {
        name,
        mode,
        accept,
        connect,
        auth_origin: ctx.at(auth_field),
        auth,
        tls: TlsParams {
            suite,
            group,
            handshake_timeout,
        },
        max_connections,
        idle_timeout,
        rate_limit,
        rate_burst,
        max_handshakes,
        max_handshakes_per_source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
log_format = "json"
status = "127.0.0.1:9100"
drain_timeout = 5

[[service]]
name = "db"
mode = "server"
accept = "127.0.0.1:5433"
connect = "127.0.0.1:5432"
psk_secrets = "/etc/psk.txt"
max_connections = 3
handshake_timeout = 2.5
idle_timeout = 60
rate_limit = 10

[[service]]
mode = "client"
accept = "unix:/tmp/app.sock"
connect = "db.example:5433"
psk_secrets = "/etc/psk.txt"
psk_identity = "app"
suite = "TLS_AES_256_GCM_SHA384"
group = "X25519"
"#;

    #[test]
    fn parses_a_full_config() {
        let c = Config::from_toml_str(GOOD, "t.toml").unwrap();
        assert_eq!(c.log_format, Some(LogFormat::Json));
        assert_eq!(c.drain_timeout, Duration::from_secs(5));
        assert_eq!(c.services.len(), 2);
        let db = &c.services[0];
        assert_eq!(db.name, "db");
        assert_eq!(db.mode, Mode::Server);
        assert_eq!(db.max_connections, 3);
        assert_eq!(db.tls.handshake_timeout, Duration::from_millis(2500));
        assert_eq!(db.idle_timeout, Some(Duration::from_secs(60)));
        assert_eq!(db.rate_limit, Some(10.0));
        assert_eq!(
            db.auth_origin,
            "t.toml line 11: service \"db\": psk_secrets"
        );
        let app = &c.services[1];
        assert_eq!(app.name, "unix:/tmp/app.sock");
        assert_eq!(app.accept, Addr::Unix("/tmp/app.sock".into()));
        assert_eq!(app.tls.suite, Some(CipherSuite::Aes256GcmSha384));
        assert_eq!(app.tls.group, Some(NamedGroup::X25519));
        assert_eq!(
            app.auth,
            AuthSpec::StaticPsk {
                secrets: "/etc/psk.txt".into(),
                identity: Some("app".into())
            }
        );
    }

    #[test]
    fn example_config_is_valid() {
        let src = include_str!("../tunnel.example.toml");
        let c = Config::from_toml_str(src, "tunnel.example.toml").unwrap();
        assert_eq!(c.services.len(), 2);
        // uncomment the M-Pin services at the end
        let (head, tail) = src.split_once("# M-Pin (").unwrap();
        let tail: String = tail
            .lines()
            .skip(1)
            .map(|l| format!("{}\n", l.strip_prefix('#').unwrap_or(l)))
            .collect();
        let mpin = format!("{head}{tail}");
        let c = Config::from_toml_str(&mpin, "uncommented").unwrap();
        assert_eq!(c.services.len(), 4);
    }

    fn err(src: &str) -> String {
        Config::from_toml_str(src, "tunnel.toml")
            .unwrap_err()
            .to_string()
    }

    const HEAD: &str = "[[service]]\nname = \"db\"\nmode = \"server\"\naccept = \"127.0.0.1:1\"\n";

    #[test]
    fn unknown_field_names_file_line_service_and_field() {
        let src = format!("{HEAD}psk_secrets = \"p\"\n\nconect = \"127.0.0.1:2\"\n");
        let e = err(&src);
        assert!(
            e.starts_with("tunnel.toml line 7: service \"db\": unknown field `conect`"),
            "{e}"
        );
        let e = err("drain_timeout = 1\nlog_fromat = \"json\"\n");
        assert!(
            e.starts_with("tunnel.toml line 2: unknown field `log_fromat`"),
            "{e}"
        );
    }

    #[test]
    fn syntax_and_type_errors_name_the_line() {
        let e = err(&format!("{HEAD}max_connections = \"many\"\n"));
        assert!(e.starts_with("tunnel.toml line 5: service \"db\": "), "{e}");
        let e = err("[[service]]\nmode = \"sever\"\n");
        assert!(e.starts_with("tunnel.toml line 2: "), "{e}");
        assert!(e.contains("sever"), "{e}");
        let e = err("status = \n");
        assert!(e.starts_with("tunnel.toml line 1: "), "{e}");
    }

    #[test]
    fn semantic_errors_name_service_and_field() {
        let e = err(&format!("{HEAD}connect = \"127.0.0.1:2\"\n"));
        assert_eq!(e, "tunnel.toml line 1: service \"db\": psk_secrets: missing: server mode needs psk_secrets (static PSK) or server_secret (M-Pin)");
        let e = err(&format!("{HEAD}connect = \"nope\"\npsk_secrets = \"p\"\n"));
        assert!(
            e.starts_with("tunnel.toml line 5: service \"db\": connect: invalid address \"nope\""),
            "{e}"
        );
        let e = err(&format!(
            "{HEAD}connect = \"h:2\"\npsk_secrets = \"p\"\nsuite = \"RC4\"\n"
        ));
        assert!(
            e.starts_with("tunnel.toml line 7: service \"db\": suite: unknown cipher suite"),
            "{e}"
        );
        let e = err(&format!(
            "{HEAD}connect = \"h:2\"\npsk_secrets = \"p\"\nmax_connections = 0\n"
        ));
        assert!(
            e.starts_with("tunnel.toml line 7: service \"db\": max_connections: "),
            "{e}"
        );
        let e = err(&format!(
            "{HEAD}connect = \"h:2\"\npsk_secrets = \"p\"\npsk_identity = \"x\"\n"
        ));
        assert!(
            e.contains("psk_identity: only applies to client mode"),
            "{e}"
        );
        let e = err(&format!("{HEAD}connect = \"h:2\"\npsk_secrets = \"p\"\n{HEAD}connect = \"h:2\"\npsk_secrets = \"p\"\n"));
        assert!(
            e.contains("service \"db\": name: duplicate service name"),
            "{e}"
        );
        let e =
            err("[[service]]\nmode = \"client\"\naccept = \"127.0.0.1:1\"\nconnect = \"h:1\"\n");
        assert!(
            e.contains("service \"127.0.0.1:1\": psk_secrets: missing"),
            "{e}"
        );
        assert!(err("drain_timeout = 3\n").contains("no [[service]] table"));
    }

    #[test]
    fn mpin_settings_are_parsed() {
        let src = "[[service]]\nmode = \"server\"\naccept = \"127.0.0.1:1\"\nconnect = \"h:1\"\nserver_secret = \"ss\"\nrequire_permits = true\nallow = [\"*@example.com\"]\n";
        let c = Config::from_toml_str(src, "t").unwrap();
        assert!(
            matches!(&c.services[0].auth, AuthSpec::MpinServer { require_permits: true, allow, .. } if allow.len() == 1)
        );
        let bad = src.replace("*@example.com", "[");
        assert!(err(&bad).contains("allow: bad pattern"));
        let lock = src.replace(
            "allow =",
            "lockout_after = 5\nlockout_for = \"2s\"\ndistributed_lockout_after = 12\nknown_source_days = 7\nallow =",
        );
        let c = Config::from_toml_str(&lock, "t.toml").unwrap();
        assert!(matches!(
            &c.services[0].auth,
            AuthSpec::MpinServer { lockout, .. }
                if *lockout == LockoutSpec { after: 5, lasts: Duration::from_secs(2), distributed_after: 12, known_days: 7 }
        ));
        assert!(
            err(&src.replace("allow =", "lockout_for = \"2d\"\nallow ="))
                .contains("lockout_for: \"2d\" is not a duration")
        );
        assert!(
            err(&src.replace("allow =", "lockout_after = 0\nallow =")).contains("lockout_after")
        );
        assert!(
            err(&src.replace("allow =", "distributed_lockout_after = -1\nallow ="))
                .contains("distributed_lockout_after: -1 is not a number")
        );
        assert!(
            err(&src.replace("allow =", "known_source_days = 400\nallow ="))
                .contains("known_source_days: 400 is not a number of days")
        );
    }

    #[test]
    fn pre_auth_limits_default_on_and_can_be_set_or_turned_off() {
        let base = format!("{HEAD}connect = \"h:2\"\npsk_secrets = \"p\"\n");
        let c = Config::from_toml_str(&base, "t").unwrap();
        let s = &c.services[0];
        assert_eq!(s.rate_limit, Some(DEFAULT_RATE_LIMIT));
        assert_eq!(s.rate_burst, 100.0);
        assert_eq!(s.max_handshakes, DEFAULT_MAX_HANDSHAKES);
        assert_eq!(
            s.max_handshakes_per_source,
            DEFAULT_MAX_HANDSHAKES_PER_SOURCE
        );
        let set = format!("{base}rate_limit = 2\nrate_burst = 7\nmax_handshakes = 9\nmax_handshakes_per_source = 3\n");
        let s = &Config::from_toml_str(&set, "t").unwrap().services[0];
        assert_eq!((s.rate_limit, s.rate_burst), (Some(2.0), 7.0));
        assert_eq!((s.max_handshakes, s.max_handshakes_per_source), (9, 3));
        let client = "[[service]]\nmode = \"client\"\naccept = \"127.0.0.1:1\"\nconnect = \"h:1\"\npsk_secrets = \"p\"\n";
        let s = &Config::from_toml_str(client, "t").unwrap().services[0];
        assert_eq!(s.rate_limit, None, "client mode: no default rate limit");
        assert_eq!(s.max_handshakes, DEFAULT_MAX_HANDSHAKES);
        let off = format!("{base}rate_limit = 0\n");
        assert_eq!(
            Config::from_toml_str(&off, "t").unwrap().services[0].rate_limit,
            None
        );
        assert!(
            err(&format!("{base}rate_limit = -1\n")).contains("rate_limit: -1 is not a positive")
        );
        assert!(err(&format!("{base}max_handshakes = 0\n"))
            .contains("max_handshakes: 0 is not a positive"));
        assert!(err(&format!("{base}rate_burst = 0.5\n")).contains("rate_burst: 0.5"));
    }

    #[test]
    fn flags_origin_names_the_flag() {
        let raw = RawService {
            mode: Some(Mode::Client),
            accept: Some("127.0.0.1:1".into()),
            connect: Some("127.0.0.1:2".into()),
            ..RawService::default()
        };
        let e = validate_service(raw, Origin::Flags, 0..0)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("command line: --psk-secrets: missing"), "{e}");
    }
}
