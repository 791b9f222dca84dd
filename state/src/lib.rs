//! # milagro-state
//!
//! The state a tunnel server keeps about logins, shared by every replica of a fleet: failure
//! counts and lockouts ([`mpin_kex::FailureStore`]), the one-pass replay cache
//! ([`mpin_kex::ReplayCache`]), single-use tickets ([`SingleUse`]) and the operators'
//! revocations ([`Revocations`]).
//!
//! Two implementations: [`MemoryState`], the embedded default for one process (today's
//! in-memory stores), and [`RedisState`], one logical store for many processes on Redis. Every
//! decision on Redis is one Lua script (one round trip, atomic on the Redis side), so two
//! replicas never race between a read and a write. [`SharedState`] picks one from a
//! `--state` value (`memory` or `redis://HOST:PORT/DB`, `rediss://…` for TLS).
//!
//! Fail closed: when Redis cannot answer within the call timeout, a lockout gate is
//! [`mpin_kex::Gate::Unavailable`] (the server refuses with
//! [`mpin_kex::AuthError::StateUnavailable`]), a replay check reads "seen", a ticket cannot be
//! claimed and every identity reads revoked. [`SharedState::health`] reports `degraded` (and
//! since when) until a call succeeds again; the connection reconnects by itself.
//!
//! ```
//! use milagro_state::{RedisOptions, Revocations, SharedState, SingleUse};
//! use mpin_kex::HashedId;
//!
//! // `--state memory`: one process; `redis://127.0.0.1:6379/0` shares it with a fleet.
//! let state = SharedState::open("memory", RedisOptions::default())?;
//! let alice = HashedId::of(b"alice@example.com");
//! let revocations = state.revocations();
//! assert!(!revocations.is_revoked(&alice));
//! assert!(revocations.revoke(&alice));
//! assert!(revocations.is_revoked(&alice));
//! // A single-use key (a ticket id) is claimed once, until it expires.
//! let now = 1_800_000_000;
//! assert!(state.single_use().claim(b"ticket 1", now, now + 3600));
//! assert!(!state.single_use().claim(b"ticket 1", now + 1, now + 3600));
//! assert!(SharedState::open("postgres://db", RedisOptions::default()).is_err());
//! # Ok::<(), milagro_state::StateError>(())
//! ```
#![forbid(unsafe_code)]

mod health;
mod memory;
mod redis_store;

use std::sync::Arc;

use mpin_kex::{FailureStore, HashedId, ReplayCache};

pub use health::{Health, HealthStatus, PROBE_INTERVAL};
pub use memory::MemoryState;
pub use redis_store::{RedisOptions, RedisState};

/// Errors opening a state store. Calls on an open store never fail: they fail closed.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The `--state` value is neither `memory` nor a Redis URL.
    #[error("invalid state store {0:?}: expected \"memory\", \"redis://HOST:PORT/DB\" or \"rediss://HOST:PORT/DB\"")]
    Scheme(String),
    /// The Redis URL does not parse.
    #[error("invalid Redis URL {url}: {reason}")]
    Url {
        /// The URL with any password removed.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The background thread that talks to Redis could not start.
    #[error("cannot start the Redis client thread: {0}")]
    Runtime(#[from] std::io::Error),
}

/// Operators' fleet-wide revocations: a revoked identity's new logins (every lockout gate of
/// the identity answers [`mpin_kex::Gate::Revoked`]) and resumptions (the caller checks
/// [`is_revoked`](Self::is_revoked)) are refused on every replica sharing the store.
pub trait Revocations: Send + Sync {
    /// Revokes `id` until [`unlock`](Self::unlock). Returns false when the store cannot
    /// record it (the operator must retry).
    fn revoke(&self, id: &HashedId) -> bool;
    /// Lets `id` in again: lifts a revocation and clears its lockout (failures, lockout level
    /// and the distributed budget). Returns false when the store cannot answer.
    fn unlock(&self, id: &HashedId) -> bool;
    /// True when `id` is revoked, or when the store cannot answer (fail closed).
    fn is_revoked(&self, id: &HashedId) -> bool;
}

/// Keys that may be used once each, until they expire: a single-use ticket's id.
pub trait SingleUse: Send + Sync {
    /// Atomically claims `key` until `expires` (unix seconds). True exactly once per key
    /// while it is remembered; false when already claimed or when the store cannot answer.
    fn claim(&self, key: &[u8], now: u64, expires: u64) -> bool;
}

/// The state store a server runs on, chosen by its `--state` setting.
#[derive(Debug, Clone)]
pub enum SharedState {
    /// This process only (the default).
    Memory(Arc<MemoryState>),
    /// Shared by every replica using the same Redis database.
    Redis(Arc<RedisState>),
}

impl SharedState {
    /// Opens the store named by `spec`: `memory`, or a `redis://` / `rediss://` URL (then
    /// `options` apply). Redis need not be reachable yet: calls fail closed until it is.
    pub fn open(spec: &str, options: RedisOptions) -> Result<Self, StateError> {
        if spec == "memory" {
            return Ok(Self::Memory(Arc::new(MemoryState::default())));
        }
        if spec.starts_with("redis://") || spec.starts_with("rediss://") {
            return Ok(Self::Redis(Arc::new(RedisState::open(spec, options)?)));
        }
        Err(StateError::Scheme(redis_store::redact(spec)))
    }

    /// The lockout store, for [`mpin_kex::ServerContext::failures`].
    pub fn failure_store(&self) -> Arc<dyn FailureStore> {
        match self {
            Self::Memory(m) => m.clone(),
            Self::Redis(r) => r.clone(),
        }
    }

    /// The one-pass replay cache, for [`mpin_kex::ServerContext::replay`].
    pub fn replay_cache(&self) -> Arc<dyn ReplayCache> {
        match self {
            Self::Memory(m) => m.clone(),
            Self::Redis(r) => r.clone(),
        }
    }

    /// The revocation set.
    pub fn revocations(&self) -> Arc<dyn Revocations> {
        match self {
            Self::Memory(m) => m.clone(),
            Self::Redis(r) => r.clone(),
        }
    }

    /// The single-use key store (tickets).
    pub fn single_use(&self) -> Arc<dyn SingleUse> {
        match self {
            Self::Memory(m) => m.clone(),
            Self::Redis(r) => r.clone(),
        }
    }

    /// Single use of sealed tickets, for [`milagro_tls::TicketStore::with_keys`].
    pub fn used_tickets(&self) -> Arc<dyn milagro_tls::UsedTickets> {
        match self {
            Self::Memory(m) => m.clone(),
            Self::Redis(r) => r.clone(),
        }
    }

    /// Whether the store currently answers (memory: always).
    pub fn health(&self) -> Health {
        match self {
            Self::Memory(m) => m.health(),
            Self::Redis(r) => r.health(),
        }
    }

    /// Calls that failed closed because the store did not answer (for a metric).
    pub fn failed_calls(&self) -> u64 {
        match self {
            Self::Memory(_) => 0,
            Self::Redis(r) => r.failed_calls(),
        }
    }

    /// A description for logs, without secrets (`memory`, or the Redis address and db).
    pub fn describe(&self) -> String {
        match self {
            Self::Memory(_) => "memory".to_owned(),
            Self::Redis(r) => r.describe(),
        }
    }
}
