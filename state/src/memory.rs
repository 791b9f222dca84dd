//! [`MemoryState`]: the embedded default, one process's state in its own memory.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use mpin_kex::{
    distributed_key, FailureStore, Gate, HashedId, LockoutRules, MemoryFailureStore,
    MemoryReplayCache, Outcome, ReplayCache, Standing,
};

use crate::health::{unix_now, Health, HealthStatus};
use crate::{Revocations, SingleUse};

/// Most revocations a [`MemoryState`] holds (a revocation beyond it is refused).
const MAX_REVOKED: usize = 1 << 20;

/// Today's in-memory stores in one place: [`MemoryFailureStore`], [`MemoryReplayCache`]
/// (which also holds single-use ticket claims, under a separate key space) and a bounded
/// revocation set. Nothing is shared with other processes and nothing survives a restart.
#[derive(Debug)]
pub struct MemoryState {
    failures: MemoryFailureStore,
    replay: MemoryReplayCache,
    claims: MemoryReplayCache,
    revoked: Mutex<HashSet<HashedId>>,
    opened: u64,
}

impl Default for MemoryState {
    fn default() -> Self {
        Self::new(MemoryFailureStore::default(), MemoryReplayCache::default())
    }
}

impl MemoryState {
    /// A state over the given stores (sized by the caller).
    pub fn new(failures: MemoryFailureStore, replay: MemoryReplayCache) -> Self {
        Self {
            failures,
            replay,
            claims: MemoryReplayCache::default(),
            revoked: Mutex::new(HashSet::new()),
            opened: unix_now(),
        }
    }

    /// The lockout store inside.
    pub fn failures(&self) -> &MemoryFailureStore {
        &self.failures
    }

    /// Always ok: memory always answers.
    pub fn health(&self) -> Health {
        Health {
            status: HealthStatus::Ok,
            since: self.opened,
        }
    }
}

impl FailureStore for MemoryState {
    fn begin(&self, id: &HashedId, now: u64, rules: &LockoutRules) -> Gate {
        if self.is_revoked(id) {
            return Gate::Revoked;
        }
        self.failures.begin(id, now, rules)
    }

    fn finish(&self, id: &HashedId, outcome: Outcome, now: u64, rules: &LockoutRules) {
        self.failures.finish(id, outcome, now, rules);
    }

    fn standing(&self, id: &HashedId, now: u64) -> Standing {
        self.failures.standing(id, now)
    }

    fn clear(&self, id: &HashedId) {
        self.failures.clear(id);
    }

    fn mark_known(&self, key: &HashedId, now: u64, ttl: Duration) {
        self.failures.mark_known(key, now, ttl);
    }

    fn known_at(&self, key: &HashedId, now: u64, ttl: Duration) -> Option<u64> {
        self.failures.known_at(key, now, ttl)
    }
}

impl ReplayCache for MemoryState {
    fn contains(&self, key: &[u8; 32], now: u64) -> bool {
        self.replay.contains(key, now)
    }

    fn insert_new(&self, key: [u8; 32], now: u64, expires: u64) -> bool {
        self.replay.insert_new(key, now, expires)
    }
}

impl SingleUse for MemoryState {
    fn claim(&self, key: &[u8], now: u64, expires: u64) -> bool {
        self.claims.insert_new(claim_key(key), now, expires)
    }
}

/// A fixed-size key for any claim key (tickets carry 16-byte ids; longer keys are hashed).
fn claim_key(key: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::digest(key).into()
}

impl milagro_tls::UsedTickets for MemoryState {
    fn use_once(&self, id: &[u8; 16], now: u64, expires: u64) -> bool {
        self.claim(id, now, expires)
    }
}

impl Revocations for MemoryState {
    fn revoke(&self, id: &HashedId) -> bool {
        let Ok(mut set) = self.revoked.lock() else {
            return false;
        };
        if set.len() >= MAX_REVOKED && !set.contains(id) {
            return false;
        }
        set.insert(*id);
        true
    }

    fn unlock(&self, id: &HashedId) -> bool {
        let Ok(mut set) = self.revoked.lock() else {
            return false;
        };
        set.remove(id);
        self.failures.clear(id);
        self.failures.clear(&distributed_key(id));
        true
    }

    fn is_revoked(&self, id: &HashedId) -> bool {
        self.revoked.lock().map(|s| s.contains(id)).unwrap_or(true)
    }
}
