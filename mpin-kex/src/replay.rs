//! The one-pass replay cache: the [`ReplayCache`] trait and its bounded in-memory
//! implementation.
//!
//! The server looks a hello up *before* any pairing ([`ReplayCache::contains`], read only) and
//! records it only *after* its proof verified ([`ReplayCache::insert_new`]), so hellos that do
//! not verify (a flood of fresh garbage) never take room.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

/// Remembers verified one-pass hellos for as long as their timestamp is acceptable.
///
/// A shared implementation (e.g. Redis) must make [`insert_new`](Self::insert_new) one atomic
/// insert-if-absent with expiry (`SET key 1 NX EXAT expires`): of two servers verifying the
/// same hello at once exactly one may get `true`.
pub trait ReplayCache: Send + Sync {
    /// True when `key` is recorded and not expired at `now` (read only).
    fn contains(&self, key: &[u8; 32], now: u64) -> bool;
    /// Atomically records `key` until `expires` (unix seconds). Returns false if it was
    /// already present (a replay) or cannot be recorded (the caller then refuses: fail
    /// closed).
    fn insert_new(&self, key: [u8; 32], now: u64, expires: u64) -> bool;
    /// Whether calls wait on the network (a shared cache such as Redis); see
    /// [`FailureStore::waits_on_network`](crate::FailureStore::waits_on_network). Default
    /// `false`.
    fn waits_on_network(&self) -> bool {
        false
    }
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<[u8; 32], u64>,
    by_expiry: BTreeSet<(u64, [u8; 32])>,
}

impl Inner {
    /// Drops entries with `expires < now`, oldest first (O(log n) each).
    fn purge(&mut self, now: u64) {
        while let Some(&(exp, key)) = self.by_expiry.first() {
            if exp >= now {
                break;
            }
            self.by_expiry.pop_first();
            self.entries.remove(&key);
        }
    }
}

/// In-memory [`ReplayCache`] holding at most `capacity` live entries; expired entries are
/// dropped from an expiry queue (no scans). Full of live entries it fails closed.
#[derive(Debug)]
pub struct MemoryReplayCache {
    inner: Mutex<Inner>,
    capacity: usize,
}

impl MemoryReplayCache {
    /// A cache holding at most `capacity` live entries.
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            capacity,
        }
    }

    /// Entries currently held (live or not yet purged).
    pub fn len(&self) -> usize {
        self.inner.lock().map(|i| i.entries.len()).unwrap_or(0)
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for MemoryReplayCache {
    /// Room for 2^20 live entries.
    fn default() -> Self {
        Self::new(1 << 20)
    }
}

impl ReplayCache for MemoryReplayCache {
    fn contains(&self, key: &[u8; 32], now: u64) -> bool {
        // fail closed: a poisoned lock reads as "seen"
        self.inner
            .lock()
            .map(|i| i.entries.get(key).is_some_and(|&exp| exp >= now))
            .unwrap_or(true)
    }

    fn insert_new(&self, key: [u8; 32], now: u64, expires: u64) -> bool {
        let Ok(mut inner) = self.inner.lock() else {
            return false;
        };
        inner.purge(now);
        if inner.entries.contains_key(&key) || inner.entries.len() >= self.capacity {
            return false;
        }
        inner.entries.insert(key, expires);
        inner.by_expiry.insert((expires, key));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_cache_refuses_duplicates_until_expiry_and_fails_closed_when_full() {
        let c = MemoryReplayCache::new(2);
        assert!(!c.contains(&[1; 32], 100));
        assert!(c.insert_new([1; 32], 100, 200));
        assert!(c.contains(&[1; 32], 150));
        assert!(!c.insert_new([1; 32], 150, 250));
        assert!(!c.contains(&[1; 32], 201), "expired");
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
        assert_eq!(c.len(), 1);
    }
}
