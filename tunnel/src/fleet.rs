//! The process's fleet state: the store its M-Pin servers decide logins with
//! ([`milagro_state::SharedState`]: `memory`, or Redis shared by every replica) and the ticket
//! store sealing session tickets, with single use recorded in that store. Ticket keys come
//! from `ticket_key_file`, else (on Redis) from the fleet's keys kept in Redis, else a random
//! key of the process. Opened once per process and kept across reloads while the settings
//! stay the same (a reload re-reads `ticket_key_file`, so rotating the keys is a SIGHUP; keys
//! in Redis are read again every [`KEYS_EVERY`] seconds).
//!
//! Fail closed: while Redis does not answer, M-Pin logins, one-pass hellos and resumptions it
//! would decide are refused; the store logs one line when an outage starts and one when it
//! ends, `/healthz` answers 503 and [`watch`] pings it so that recovery is noticed without
//! traffic. `revoke` and `unlock` ([`admin`]) act on every replica at once.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use milagro_state::{RedisOptions, SharedState};
use milagro_tls::{TicketKeys, TicketStore};
use zeroize::Zeroizing;

use crate::config::FleetSpec;

/// The environment variable holding the Redis password when no `state_password_file` is set.
pub const PASSWORD_ENV: &str = "MILAGRO_STATE_PASSWORD";

/// How often [`watch`] asks the store whether it answers.
pub const WATCH_EVERY: Duration = Duration::from_secs(1);

/// Every how many [`WATCH_EVERY`] the fleet's ticket keys are read again from Redis.
pub const KEYS_EVERY: u64 = 30;

/// Why the fleet state could not be opened (a configuration error).
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// The state store does not open.
    #[error("state: {0}")]
    State(#[from] milagro_state::StateError),
    /// The password file cannot be used.
    #[error("state_password_file {path}: {reason}")]
    Password {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The ticket key file cannot be used (the message names the file).
    #[error("ticket_key_file: {0}")]
    TicketKeys(#[from] milagro_tls::TicketKeyError),
    /// No random ticket key could be made.
    #[error("cannot make a random ticket key: {0}")]
    Random(String),
    /// A reload naming another store than the running one.
    #[error("state: the running process uses {running}; changing state or state_password_file takes a restart (the running configuration is kept)")]
    Changed {
        /// The store in use, without secrets.
        running: String,
    },
    /// A password written in the URL.
    #[error("--state: {}", crate::config::PASSWORD_IN_URL)]
    PasswordInUrl,
    /// `revoke`/`unlock` on a store of this process only.
    #[error("revoke and unlock act on a fleet's shared state: give --state redis://HOST:PORT/DB")]
    NotShared,
    /// The store did not record the operation.
    #[error("{store} did not answer: nothing was changed; check that it is up and retry")]
    Unanswered {
        /// The store, without secrets.
        store: String,
    },
}

/// The state and ticket store of a process.
#[derive(Debug)]
pub struct Fleet {
    /// Lockouts, replay cache, used tickets, revocations.
    pub state: SharedState,
    /// Session tickets (sealed, single use through [`Fleet::state`]).
    pub tickets: Arc<TicketStore>,
    spec: FleetSpec,
}

/// The Redis password: from `file` (mode 0600, one line), else [`PASSWORD_ENV`], else none
/// (the URL's, if any).
fn password(file: Option<&Path>) -> Result<Option<Zeroizing<String>>, FleetError> {
    let Some(path) = file else {
        return Ok(std::env::var(PASSWORD_ENV)
            .ok()
            .filter(|p| !p.is_empty())
            .map(Zeroizing::new));
    };
    let err = |reason: String| FleetError::Password {
        path: path.display().to_string(),
        reason,
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|e| err(e.to_string()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(err(format!(
                "mode {:o}: it holds a password, make it readable by its owner only (chmod 600)",
                mode & 0o777
            )));
        }
    }
    let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?);
    let line = text.lines().next().unwrap_or("").trim();
    if line.is_empty() {
        return Err(err("empty".into()));
    }
    Ok(Some(Zeroizing::new(line.to_owned())))
}

/// Opens the store `state` names, with the password of `password_file` or the environment.
pub fn open_state(state: &str, password_file: Option<&Path>) -> Result<SharedState, FleetError> {
    let options = RedisOptions {
        password: password(password_file)?,
        ..RedisOptions::default()
    };
    Ok(SharedState::open(state, options)?)
}

/// The ticket keys: from `ticket_key_file`; else, on Redis, the fleet's keys kept there
/// (created by the first replica); else a random key of this process.
fn ticket_keys(spec: &FleetSpec, state: &SharedState) -> Result<TicketKeys, FleetError> {
    if let Some(path) = &spec.ticket_key_file {
        return Ok(TicketKeys::from_file(path)?);
    }
    if let SharedState::Redis(r) = state {
        if let Some(keys) = r.ticket_keys() {
            return Ok(keys);
        }
        tracing::warn!(store = %r.describe(), "cannot read the fleet's ticket keys from Redis: a key of this process until it answers");
    }
    TicketKeys::generate().map_err(|e| FleetError::Random(e.to_string()))
}

impl Fleet {
    /// The fleet of `spec`: the one already open when the state settings are the same
    /// (re-reading `ticket_key_file`), else, the first time, a newly opened one; a reload
    /// naming another store is refused ([`FleetError::Changed`]).
    pub fn open(spec: &FleetSpec) -> Result<Arc<Self>, FleetError> {
        static OPEN: Mutex<Option<Arc<Fleet>>> = Mutex::new(None);
        let mut open = OPEN
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(f) = open
            .as_ref()
            .filter(|f| f.spec.state == spec.state && f.spec.password_file == spec.password_file)
        {
            // a rotated key file takes effect; without one the keys stay (Redis: [`watch`])
            if let Some(path) = &spec.ticket_key_file {
                f.tickets.set_keys(TicketKeys::from_file(path)?);
            }
            return Ok(f.clone());
        }
        if let Some(f) = open.as_ref() {
            // the status listener, the watcher and live services hold the running store
            return Err(FleetError::Changed {
                running: f.state.describe(),
            });
        }
        let state = open_state(&spec.state, spec.password_file.as_deref())?;
        let keys = ticket_keys(spec, &state)?;
        let tickets = Arc::new(TicketStore::with_keys(keys, state.used_tickets()));
        let fleet = Arc::new(Self {
            state,
            tickets,
            spec: spec.clone(),
        });
        if spec.is_shared() {
            tracing::info!(store = %fleet.state.describe(), shared_ticket_keys = spec.ticket_key_file.is_some(), "M-Pin state shared with the fleet");
        }
        *open = Some(fleet.clone());
        Ok(fleet)
    }

    /// `Some(reason)` while the store does not answer (logins it decides are refused).
    pub fn degraded(&self) -> Option<String> {
        let h = self.state.health();
        (!h.is_ok()).then(|| {
            format!(
                "shared state {} unavailable since unix time {}: M-Pin logins and resumptions are refused",
                self.state.describe(),
                h.since
            )
        })
    }

    /// Asks the store whether it answers (Redis: one `PING`), updating its health. Blocks
    /// for at most the store's call timeout: call it off the async threads.
    pub fn check(&self) {
        if let SharedState::Redis(r) = &self.state {
            r.ping();
        }
    }

    /// Without `ticket_key_file`, on Redis: takes up the fleet's current ticket keys (a
    /// rotation made elsewhere, or the shared keys after starting while Redis was down).
    pub fn refresh_ticket_keys(&self) {
        let SharedState::Redis(r) = &self.state else {
            return;
        };
        if self.spec.ticket_key_file.is_some() {
            return;
        }
        if let Some(keys) = r.ticket_keys() {
            let same = self
                .tickets
                .keys()
                .is_some_and(|k| k.current().id() == keys.current().id());
            if !same {
                self.tickets.set_keys(keys);
                tracing::info!(store = %r.describe(), "ticket keys taken up from the fleet");
            }
        }
    }
}

/// Pings a shared store every [`WATCH_EVERY`] so an outage and its end are noticed (and
/// logged) without logins; memory needs no watching.
pub async fn watch(fleet: Arc<Fleet>) {
    if !fleet.spec.is_shared() {
        return;
    }
    for tick in 1u64.. {
        tokio::time::sleep(WATCH_EVERY).await;
        let f = fleet.clone();
        let _ = tokio::task::spawn_blocking(move || {
            f.check();
            if tick % KEYS_EVERY == 0 {
                f.refresh_ticket_keys();
            }
        })
        .await;
    }
}

/// `revoke` and `unlock`: fleet-wide operations on one identity.
pub mod admin {
    use super::*;

    /// What to do to the identity.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Action {
        /// Refuse its new logins and resumptions on every replica.
        Revoke,
        /// Lift a revocation and clear its lockout.
        Unlock,
    }

    /// Applies `action` to `identity` in the shared store `state`; returns what to print.
    pub fn apply(
        action: Action,
        state: &str,
        password_file: Option<&Path>,
        identity: &str,
    ) -> Result<String, FleetError> {
        if crate::config::url_has_password(state) {
            return Err(FleetError::PasswordInUrl);
        }
        let store = open_state(state, password_file)?;
        if matches!(store, SharedState::Memory(_)) {
            return Err(FleetError::NotShared);
        }
        let id = mpin_kex::HashedId::of(identity.as_bytes());
        let revocations = store.revocations();
        let (done, what) = match action {
            Action::Revoke => (revocations.revoke(&id), "revoked"),
            Action::Unlock => (revocations.unlock(&id), "unlocked"),
        };
        if !done {
            return Err(FleetError::Unanswered {
                store: store.describe(),
            });
        }
        let shown = crate::auth::Identity::from(identity.as_bytes());
        tracing::info!(identity = %shown, store = %store.describe(), "{what}");
        Ok(format!("{shown}: {what} on {}", store.describe()))
    }
}
