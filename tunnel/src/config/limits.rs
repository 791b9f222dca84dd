//! Connection limits and timeouts: how many connections, how long they may idle, and the
//! pre-authentication bounds (per-source handshake rate, handshake slots).

use std::time::Duration;

use super::origin::{ConfigError, Ctx};
use super::raw::RawService;
use super::Role;

/// Default per-service connection limit.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1000;
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

/// A service's validated limits.
pub(super) struct Limits {
    pub(super) max_connections: usize,
    pub(super) idle_timeout: Option<Duration>,
    pub(super) rate_limit: Option<f64>,
    pub(super) rate_burst: f64,
    pub(super) max_handshakes: usize,
    pub(super) max_handshakes_per_source: usize,
}

/// A number of seconds written in `field` (0 only where `allow_zero`).
pub(super) fn seconds(
    ctx: &Ctx<'_>,
    field: &str,
    v: f64,
    allow_zero: bool,
) -> Result<Duration, ConfigError> {
    if !v.is_finite() || v < 0.0 || (!allow_zero && v == 0.0) || v > 1e9 {
        return Err(ctx.err(field, format!("{v} is not a valid number of seconds")));
    }
    Ok(Duration::from_secs_f64(v))
}

/// A count of at least 1 written in `field`, else `default`.
fn count(ctx: &Ctx<'_>, field: &str, v: Option<i64>, default: usize) -> Result<usize, ConfigError> {
    match v {
        Some(n) if n >= 1 => usize::try_from(n).map_err(|_| ctx.err(field, "too large")),
        Some(n) => Err(ctx.err(field, format!("{n} is not a positive number"))),
        None => Ok(default),
    }
}

/// The handshake rate limit: written, or the role's default. A server faces
/// unauthenticated network peers; a client tunnel's peers are local applications, limited
/// only when asked to.
fn rate_limit(ctx: &Ctx<'_>, v: Option<f64>, role: Role) -> Result<Option<f64>, ConfigError> {
    match v {
        Some(0.0) => Ok(None),
        Some(v) if v.is_finite() && v > 0.0 => Ok(Some(v)),
        Some(v) => Err(ctx.err(
            "rate_limit",
            format!(
                "{v} is not a positive number of handshakes per second (0 turns the limit off)"
            ),
        )),
        None => Ok((role == Role::Server).then_some(DEFAULT_RATE_LIMIT)),
    }
}

/// Validates a service's limits; `role` picks the rate-limit default.
pub(super) fn limits(ctx: &Ctx<'_>, raw: &RawService, role: Role) -> Result<Limits, ConfigError> {
    let max_connections = count(
        ctx,
        "max_connections",
        raw.max_connections,
        DEFAULT_MAX_CONNECTIONS,
    )?;
    let idle_timeout = match raw.idle_timeout {
        Some(0.0) | None => None,
        Some(v) => Some(seconds(ctx, "idle_timeout", v, false)?),
    };
    let rate_limit = rate_limit(ctx, raw.rate_limit, role)?;
    let rate_burst = match raw.rate_burst {
        Some(v) if v.is_finite() && v >= 1.0 => v,
        Some(v) => return Err(ctx.err("rate_burst", format!("{v} is not a number of at least 1"))),
        None => rate_limit.map_or(1.0, |r| (r * DEFAULT_BURST_SECONDS).max(1.0)),
    };
    Ok(Limits {
        max_connections,
        idle_timeout,
        rate_limit,
        rate_burst,
        max_handshakes: count(
            ctx,
            "max_handshakes",
            raw.max_handshakes,
            DEFAULT_MAX_HANDSHAKES,
        )?,
        max_handshakes_per_source: count(
            ctx,
            "max_handshakes_per_source",
            raw.max_handshakes_per_source,
            DEFAULT_MAX_HANDSHAKES_PER_SOURCE,
        )?,
    })
}
