//! Server policy and the stores it needs: one-pass replay cache and per-identity failure
//! counter, as traits with in-memory implementations (a shared store such as Redis lives
//! outside this crate).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::identity::HashedId;

/// Seconds in a day.
pub const DAY_SECS: u64 = 86_400;

/// The UTC day number (days since 1970-01-01) of a unix time.
pub fn day_of(unix_secs: u64) -> u32 {
    u32::try_from(unix_secs / DAY_SECS).unwrap_or(u32::MAX)
}

/// A predicate on raw identities (e.g. an allow-list of globs), checked before any pairing.
pub type IdentityFilter = Arc<dyn Fn(&[u8]) -> bool + Send + Sync>;

/// What the server accepts.
#[derive(Clone)]
pub struct ServerPolicy {
    /// Refuse clients without a time permit (default: true).
    pub require_permits: bool,
    /// Accept yesterday's permit during the first `permit_grace_secs` of the UTC day
    /// (default 3600, as Milagro's RPS).
    pub permit_grace_secs: u64,
    /// How long a multi-pass challenge stays valid (default 15 s).
    pub challenge_ttl_secs: u64,
    /// Accept one-pass hellos (default: true).
    pub allow_one_pass: bool,
    /// Largest `|now − t|` for one-pass timestamps (default 300 s).
    pub one_pass_window_secs: u64,
    /// Failed attempts after which an identity is locked out (default 3).
    pub max_failures: u32,
    /// Compute the PIN-error distance on failures (default: off; it tells the server how far
    /// the entered PIN is from the registered one and costs ~300 GT multiplications).
    pub pin_error_detection: bool,
    /// Only identities this accepts may authenticate (default: all).
    pub identity_filter: Option<IdentityFilter>,
}

impl Default for ServerPolicy {
    fn default() -> Self {
        Self {
            require_permits: true,
            permit_grace_secs: 3600,
            challenge_ttl_secs: 15,
            allow_one_pass: true,
            one_pass_window_secs: 300,
            max_failures: 3,
            pin_error_detection: false,
            identity_filter: None,
        }
    }
}

impl core::fmt::Debug for ServerPolicy {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ServerPolicy")
            .field("require_permits", &self.require_permits)
            .field("permit_grace_secs", &self.permit_grace_secs)
            .field("challenge_ttl_secs", &self.challenge_ttl_secs)
            .field("allow_one_pass", &self.allow_one_pass)
            .field("one_pass_window_secs", &self.one_pass_window_secs)
            .field("max_failures", &self.max_failures)
            .field("pin_error_detection", &self.pin_error_detection)
            .field("identity_filter", &self.identity_filter.is_some())
            .finish()
    }
}

/// Remembers one-pass hellos for as long as their timestamp is acceptable.
pub trait ReplayCache: Send + Sync {
    /// Records `key` until `expires` (unix seconds). Returns false if it was already present
    /// (a replay) or cannot be recorded (the caller then refuses: fail closed).
    fn insert_new(&self, key: [u8; 32], now: u64, expires: u64) -> bool;
}

/// Counts failed attempts per identity.
pub trait FailureStore: Send + Sync {
    /// Current count.
    fn failures(&self, id: &HashedId) -> u32;
    /// Adds one attempt and returns the new count. Called *before* verifying, so parallel
    /// attempts cannot exceed the limit; [`FailureStore::clear`] undoes it on success.
    fn record_attempt(&self, id: &HashedId) -> u32;
    /// Resets the count (after a success, or by an operator).
    fn clear(&self, id: &HashedId);
}

/// In-memory [`ReplayCache`] with a capacity bound; expired entries are purged as it fills.
#[derive(Debug)]
pub struct MemoryReplayCache {
    entries: Mutex<HashMap<[u8; 32], u64>>,
    capacity: usize,
}

impl MemoryReplayCache {
    /// A cache holding at most `capacity` live entries.
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            capacity,
        }
    }
}

impl Default for MemoryReplayCache {
    fn default() -> Self {
        Self::new(1 << 20)
    }
}

impl ReplayCache for MemoryReplayCache {
    fn insert_new(&self, key: [u8; 32], now: u64, expires: u64) -> bool {
        let Ok(mut map) = self.entries.lock() else {
            return false;
        };
        if map.get(&key).is_some_and(|&exp| exp >= now) {
            return false;
        }
        if map.len() >= self.capacity {
            map.retain(|_, exp| *exp >= now);
            if map.len() >= self.capacity {
                return false;
            }
        }
        map.insert(key, expires);
        true
    }
}

/// In-memory [`FailureStore`].
#[derive(Debug, Default)]
pub struct MemoryFailureStore {
    counts: Mutex<HashMap<HashedId, u32>>,
}

impl FailureStore for MemoryFailureStore {
    fn failures(&self, id: &HashedId) -> u32 {
        self.counts
            .lock()
            .map(|m| m.get(id).copied().unwrap_or(0))
            .unwrap_or(u32::MAX)
    }

    fn record_attempt(&self, id: &HashedId) -> u32 {
        match self.counts.lock() {
            Ok(mut m) => {
                let c = m.entry(*id).or_insert(0);
                *c = c.saturating_add(1);
                *c
            }
            Err(_) => u32::MAX,
        }
    }

    fn clear(&self, id: &HashedId) {
        if let Ok(mut m) = self.counts.lock() {
            m.remove(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_cache_refuses_duplicates_until_expiry_and_fails_closed_when_full() {
        let c = MemoryReplayCache::new(2);
        assert!(c.insert_new([1; 32], 100, 200));
        assert!(!c.insert_new([1; 32], 150, 250));
        assert!(
            c.insert_new([1; 32], 201, 300),
            "expired entries may be reused"
        );
        assert!(c.insert_new([2; 32], 201, 300));
        assert!(
            !c.insert_new([3; 32], 201, 300),
            "full of live entries: fail closed"
        );
        assert!(
            c.insert_new([3; 32], 301, 400),
            "expired entries are purged"
        );
    }

    #[test]
    fn failure_store_counts_and_clears() {
        let s = MemoryFailureStore::default();
        let id = HashedId::of(b"alice");
        assert_eq!(s.failures(&id), 0);
        assert_eq!(s.record_attempt(&id), 1);
        assert_eq!(s.record_attempt(&id), 2);
        s.clear(&id);
        assert_eq!(s.failures(&id), 0);
    }

    #[test]
    fn day_numbers() {
        assert_eq!(day_of(16574 * DAY_SECS + 5), 16574);
        assert_eq!(day_of(0), 0);
    }
}
