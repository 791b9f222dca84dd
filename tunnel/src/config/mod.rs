//! The TOML configuration file and its validation.
//!
//! ```toml
//! log_format = "text"          # or "json"
//! status = "127.0.0.1:9100"    # /healthz and /metrics (optional)
//! drain_timeout = 30           # seconds allowed for live connections on SIGTERM
//! state = "memory"             # or "redis://HOST:PORT/DB" shared by a fleet's replicas
//! # state_password_file = "/etc/milagro/redis.pass"   # else MILAGRO_STATE_PASSWORD
//! # ticket_key_file = "/etc/milagro/ticket.keys"     # shared by the replicas, mode 0600
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
//! Every error names the file, the line, the service and the field. Command-line flags
//! ([`crate::cli`]) fill the same [`RawService`] and go through the same validation
//! ([`Config::from_flags`]).
//!
//! One module per concern, each rule stated once: `raw` (the serde types), `origin` (where a
//! setting was written, [`ConfigError`]), `addrs` (name and addresses), `auth` ([`AuthSpec`]
//! and the role), `lockout`, `limits` (limits and timeouts), `tls` (suites, groups and the
//! handshake timeout as [`milagro_tls::Options`]).

use std::collections::HashSet;
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use milagro_tls::Options;

use crate::addr::Addr;
use crate::logging::LogFormat;

mod addrs;
mod auth;
#[cfg(test)]
mod auth_tests;
#[cfg(test)]
mod device_tests;
mod fleet;
mod limits;
mod lockout;
mod origin;
mod raw;
#[cfg(test)]
mod tests;
mod tls;

pub use auth::{AuthSpec, ClientAuth, Role, ServerAuth};
pub use fleet::{url_has_password, FleetSpec, DEFAULT_STATE, PASSWORD_IN_URL};
pub use limits::{
    DEFAULT_BURST_SECONDS, DEFAULT_DRAIN_TIMEOUT, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_HANDSHAKES,
    DEFAULT_MAX_HANDSHAKES_PER_SOURCE, DEFAULT_RATE_LIMIT,
};
pub use origin::{ConfigError, Origin};
pub use raw::{RawConfig, RawService};

use origin::Ctx;

/// A validated service.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceConfig {
    /// Name (unique within a config).
    pub name: String,
    /// Listen address.
    pub accept: Addr,
    /// Forward address.
    pub connect: Addr,
    /// Authentication, and with it the role ([`ServiceConfig::role`]).
    pub auth: AuthSpec,
    /// TLS suites, groups and handshake timeout, handed down as they are.
    pub options: Options,
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

impl ServiceConfig {
    /// Client (accept plaintext, connect with TLS) or server (accept TLS, connect plaintext).
    pub fn role(&self) -> Role {
        self.auth.role()
    }
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
    /// Where the M-Pin servers' shared state lives, and the ticket keys.
    pub fleet: FleetSpec,
    /// Services.
    pub services: Vec<ServiceConfig>,
}

/// The global settings: the status listener and the drain deadline.
fn globals(
    ctx: &Ctx<'_>,
    status: Option<&str>,
    drain_timeout: Option<f64>,
) -> Result<(Option<Addr>, Duration), ConfigError> {
    let status = match status {
        Some(s) => Some(addrs::parse_addr(ctx, "status", s)?),
        None => None,
    };
    let drain_timeout = match drain_timeout {
        Some(v) => limits::seconds(ctx, "drain_timeout", v, true)?,
        None => DEFAULT_DRAIN_TIMEOUT,
    };
    Ok((status, drain_timeout))
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
        let raw: RawConfig = toml::from_str(src).map_err(|e| origin::toml_error(path, src, &e))?;
        let origin = Origin::File { path, src };
        let global = Ctx {
            origin,
            span: 0..src.find("[[").unwrap_or(src.len()),
            service: None,
        };
        let (status, drain_timeout) = globals(&global, raw.status.as_deref(), raw.drain_timeout)?;
        let fleet = fleet::spec(
            &global,
            raw.state.as_deref(),
            raw.state_password_file,
            raw.ticket_key_file,
        )?;
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
            fleet,
            services,
        })
    }

    /// The one-service configuration given by command-line flags: `service` as the flags
    /// wrote it, and the global `--status` and `--drain-timeout`. Errors name the flag.
    pub fn from_flags(
        service: RawService,
        status: Option<&str>,
        drain_timeout: Option<f64>,
    ) -> Result<Self, ConfigError> {
        let service = validate_service(service, Origin::Flags, 0..0)?;
        let (status, drain_timeout) = globals(&Ctx::flags(), status, drain_timeout)?;
        Ok(Self {
            log_format: None,
            status,
            drain_timeout,
            fleet: FleetSpec::default(),
            services: vec![service],
        })
    }

    /// Sets the fleet settings given by the flags `--state`, `--state-password-file` and
    /// `--ticket-key-file` (`None`: not given); they only apply to an M-Pin server.
    pub fn with_fleet_flags(
        mut self,
        state: Option<&str>,
        password_file: Option<std::path::PathBuf>,
        ticket_key_file: Option<std::path::PathBuf>,
    ) -> Result<Self, ConfigError> {
        let ctx = Ctx::flags();
        let mpin_server = self
            .services
            .iter()
            .any(|s| matches!(&s.auth, AuthSpec::Server(a) if a.serves_mpin()));
        if !mpin_server {
            ctx.refuse(
                &[
                    ("state", state.is_some()),
                    ("state_password_file", password_file.is_some()),
                    ("ticket_key_file", ticket_key_file.is_some()),
                ],
                "only applies to an M-Pin server (server mode with --server-secret)",
            )?;
        }
        self.fleet = fleet::spec(&ctx, state, password_file, ticket_key_file)?;
        Ok(self)
    }
}

/// Validates one service written at `span` of `origin`.
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
    let accept_text = addrs::accept_text(&mut ctx, &raw)?;
    let role = raw
        .mode
        .ok_or_else(|| ctx.err("mode", "missing (client or server)"))?;
    let ends = addrs::endpoints(&ctx, &raw, &accept_text)?;
    let auth = auth::spec(&ctx, &raw, role)?;
    let options = tls::options(&ctx, &raw)?;
    let limits = limits::limits(&ctx, &raw, role)?;
    Ok(ServiceConfig {
        name: addrs::name(&ctx, &raw, role, &accept_text),
        accept: ends.accept,
        connect: ends.connect,
        auth_origin: ctx.at(auth.origin_field()),
        auth,
        options,
        max_connections: limits.max_connections,
        idle_timeout: limits.idle_timeout,
        rate_limit: limits.rate_limit,
        rate_burst: limits.rate_burst,
        max_handshakes: limits.max_handshakes,
        max_handshakes_per_source: limits.max_handshakes_per_source,
    })
}
