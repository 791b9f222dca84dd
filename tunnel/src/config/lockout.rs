//! The M-Pin server's lockout fields (`lockout_after`, `lockout_for`,
//! `distributed_lockout_after`, `known_source_days`); their values are checked by
//! [`LockoutSpec::from_raw`].

use super::origin::{ConfigError, Ctx};
use super::raw::RawService;
use crate::lockout::LockoutSpec;

/// The lockout fields (name, written?), in check order.
pub(super) fn fields(raw: &RawService) -> [(&'static str, bool); 4] {
    [
        ("lockout_after", raw.lockout_after.is_some()),
        ("lockout_for", raw.lockout_for.is_some()),
        (
            "distributed_lockout_after",
            raw.distributed_lockout_after.is_some(),
        ),
        ("known_source_days", raw.known_source_days.is_some()),
    ]
}

/// The validated lockout settings (defaults where not written).
pub(super) fn spec(ctx: &Ctx<'_>, raw: &RawService) -> Result<LockoutSpec, ConfigError> {
    LockoutSpec::from_raw(
        raw.lockout_after,
        raw.lockout_for.as_deref(),
        raw.distributed_lockout_after,
        raw.known_source_days,
    )
    .map_err(|(field, msg)| ctx.err(field, msg))
}
