//! A service's name and addresses (`name`, `accept`, `connect`) and the global `status`
//! listener.

use super::origin::{ConfigError, Ctx, Origin};
use super::raw::RawService;
use super::Role;
use crate::addr::Addr;

/// Parses an address written in `field`.
pub(super) fn parse_addr(ctx: &Ctx<'_>, field: &str, s: &str) -> Result<Addr, ConfigError> {
    s.parse().map_err(|e| ctx.err(field, e))
}

/// A service's validated name and addresses.
pub(super) struct Endpoints {
    pub(super) accept: Addr,
    pub(super) connect: Addr,
}

/// The accept address as written; from here on, errors in a file name the service by it
/// when it has no name.
pub(super) fn accept_text(ctx: &mut Ctx<'_>, raw: &RawService) -> Result<String, ConfigError> {
    let accept = raw
        .accept
        .clone()
        .ok_or_else(|| ctx.err("accept", "missing"))?;
    if ctx.service.is_none() && matches!(ctx.origin, Origin::File { .. }) {
        ctx.service = Some(accept.clone());
    }
    Ok(accept)
}

/// Parses both addresses and checks the name.
pub(super) fn endpoints(
    ctx: &Ctx<'_>,
    raw: &RawService,
    accept_text: &str,
) -> Result<Endpoints, ConfigError> {
    let accept = parse_addr(ctx, "accept", accept_text)?;
    let connect_s = raw
        .connect
        .as_deref()
        .ok_or_else(|| ctx.err("connect", "missing"))?;
    let connect = parse_addr(ctx, "connect", connect_s)?;
    if let Some(name) = &raw.name {
        if name.is_empty() || name.len() > 64 || name.chars().any(|c| c.is_control() || c == '"') {
            return Err(ctx.err(
                "name",
                "must be 1 to 64 printable characters without quotes",
            ));
        }
    }
    Ok(Endpoints { accept, connect })
}

/// The service's name: written, else the role (flags) or the accept address (file).
pub(super) fn name(ctx: &Ctx<'_>, raw: &RawService, role: Role, accept_text: &str) -> String {
    raw.name.clone().unwrap_or_else(|| match ctx.origin {
        Origin::Flags => role.as_str().to_string(),
        Origin::File { .. } => accept_text.to_string(),
    })
}
