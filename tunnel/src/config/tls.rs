//! The TLS settings of a service (`suite`, `group`, `handshake_timeout`) as one
//! [`milagro_tls::Options`], handed down unchanged to the TLS and M-Pin layers.

use milagro_tls::{CipherSuite, NamedGroup, Options};

use super::limits::seconds;
use super::origin::{ConfigError, Ctx};
use super::raw::RawService;

fn tls_error_text(e: milagro_tls::Error) -> String {
    match e {
        milagro_tls::Error::Config(m) => m,
        other => other.to_string(),
    }
}

/// Parses an IANA name written in `field`.
fn named<T: std::str::FromStr<Err = milagro_tls::Error>>(
    ctx: &Ctx<'_>,
    field: &str,
    v: Option<&str>,
) -> Result<Option<T>, ConfigError> {
    v.map(|s| {
        s.parse::<T>()
            .map_err(|e| ctx.err(field, tls_error_text(e)))
    })
    .transpose()
}

/// The service's options: all suites and groups unless one is named, the default
/// handshake timeout unless written.
pub(super) fn options(ctx: &Ctx<'_>, raw: &RawService) -> Result<Options, ConfigError> {
    let suite = named::<CipherSuite>(ctx, "suite", raw.suite.as_deref())?;
    let group = named::<NamedGroup>(ctx, "group", raw.group.as_deref())?;
    let mut options = Options::only(suite, group);
    if let Some(v) = raw.handshake_timeout {
        options.handshake_timeout = seconds(ctx, "handshake_timeout", v, false)?;
    }
    Ok(options)
}
