//! The fleet settings, global to a process (TOML `state`, `state_password_file`,
//! `ticket_key_file`; flags `--state`, `--state-password-file`, `--ticket-key-file` of
//! `server`): where lockouts, the one-pass replay cache, used tickets and revocations live, and
//! the key tickets are sealed under. The store itself is opened by [`crate::fleet`].

use std::path::PathBuf;

use super::origin::{ConfigError, Ctx};

/// `state` when none is written: this process only.
pub const DEFAULT_STATE: &str = "memory";

/// Validated fleet settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FleetSpec {
    /// `memory` or a `redis://` / `rediss://` URL (shown only redacted).
    pub state: String,
    /// File holding the Redis password (else `MILAGRO_STATE_PASSWORD`, else the URL's).
    pub password_file: Option<PathBuf>,
    /// `ticket_key_file` (mode 0600): the ticket keys every replica shares (else a random key
    /// of this process: its tickets do not survive a restart nor resume on another replica).
    pub ticket_key_file: Option<PathBuf>,
}

impl Default for FleetSpec {
    fn default() -> Self {
        Self {
            state: DEFAULT_STATE.to_owned(),
            password_file: None,
            ticket_key_file: None,
        }
    }
}

impl FleetSpec {
    /// True when the state is shared through Redis.
    pub fn is_shared(&self) -> bool {
        self.state != DEFAULT_STATE
    }
}

/// Validates the fleet settings as written (`None`: not written).
pub(super) fn spec(
    ctx: &Ctx<'_>,
    state: Option<&str>,
    password_file: Option<PathBuf>,
    ticket_key_file: Option<PathBuf>,
) -> Result<FleetSpec, ConfigError> {
    let state = state.unwrap_or(DEFAULT_STATE);
    let shared = state.starts_with("redis://") || state.starts_with("rediss://");
    if state != DEFAULT_STATE && !shared {
        return Err(ctx.err(
            "state",
            "expected \"memory\", \"redis://HOST:PORT/DB\" or \"rediss://HOST:PORT/DB\"",
        ));
    }
    if !shared && password_file.is_some() {
        return Err(ctx.err(
            "state_password_file",
            "only applies with a redis:// or rediss:// state",
        ));
    }
    Ok(FleetSpec {
        state: state.to_owned(),
        password_file,
        ticket_key_file,
    })
}
