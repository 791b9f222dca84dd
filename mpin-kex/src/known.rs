//! Known sources: per (identity, source prefix), the unix second of the last *verified*
//! success, bounded and expiring. [`crate::lockout::MemoryFailureStore`] keeps them here;
//! the server exempts a known source from the identity's distributed lock (see
//! [`crate::lockout`]).

use std::collections::{BTreeSet, HashMap};

use crate::curve::MB;
use crate::identity::HashedId;

/// A mark: the last success and the unix second the mark is forgotten.
#[derive(Debug, Clone, Copy)]
struct Mark {
    last: u64,
    forget_at: u64,
}

/// At most `capacity` marks; each is forgotten `ttl` after its last success, and when full
/// the mark closest to being forgotten is dropped. Every call costs O(log n).
#[derive(Debug)]
pub(crate) struct KnownMarks {
    marks: HashMap<HashedId, Mark>,
    /// `(forget_at, key)` of every mark: expired ones are dropped from the front.
    expiry: BTreeSet<(u64, [u8; MB])>,
    capacity: usize,
}

impl KnownMarks {
    /// Room for `capacity` marks (at least 1).
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            marks: HashMap::new(),
            expiry: BTreeSet::new(),
            capacity: capacity.max(1),
        }
    }

    fn purge(&mut self, now: u64) {
        while let Some(&(at, key)) = self.expiry.first() {
            if at > now {
                break;
            }
            self.expiry.pop_first();
            self.marks.remove(&HashedId(key));
        }
    }

    /// Records a success for `key` at `now`, remembered for `ttl_secs` (0: nothing). A
    /// record never lowers a stored time.
    pub(crate) fn mark(&mut self, key: &HashedId, now: u64, ttl_secs: u64) {
        self.purge(now);
        if ttl_secs == 0 {
            return;
        }
        let mut last = now;
        if let Some(old) = self.marks.remove(key) {
            self.expiry.remove(&(old.forget_at, key.0));
            last = last.max(old.last);
        } else if self.marks.len() >= self.capacity {
            if let Some((_, victim)) = self.expiry.pop_first() {
                self.marks.remove(&HashedId(victim));
            }
        }
        let forget_at = last.saturating_add(ttl_secs);
        self.expiry.insert((forget_at, key.0));
        self.marks.insert(*key, Mark { last, forget_at });
    }

    /// The last success recorded for `key`, when less than `ttl_secs` before `now`.
    pub(crate) fn last(&self, key: &HashedId, now: u64, ttl_secs: u64) -> Option<u64> {
        self.marks
            .get(key)
            .map(|m| m.last)
            .filter(|&last| now.saturating_sub(last) < ttl_secs)
    }

    /// Marks remembered.
    pub(crate) fn len(&self) -> usize {
        self.marks.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_expire_after_the_ttl_and_are_bounded() {
        let mut k = KnownMarks::new(2);
        let a = HashedId::of(b"a");
        k.mark(&a, 100, 50);
        assert_eq!(k.last(&a, 149, 50), Some(100));
        assert_eq!(k.last(&a, 150, 50), None, "expired on the caller's clock");
        k.mark(&a, 140, 50);
        assert_eq!(k.last(&a, 189, 50), Some(140), "a new success renews it");
        k.mark(&a, 120, 50);
        assert_eq!(k.last(&a, 189, 50), Some(140), "never lowered");
        for i in 0..5u8 {
            k.mark(&HashedId::of(&[i]), 150 + u64::from(i), 50);
            assert!(k.len() <= 2);
        }
        assert_eq!(
            k.last(&HashedId::of(&[4]), 160, 50),
            Some(154),
            "newest kept"
        );
        assert_eq!(k.last(&a, 160, 50), None, "oldest dropped");
        k.mark(&a, 1_000, 0);
        assert_eq!(k.len(), 0, "expired marks purged; ttl 0 records nothing");
    }
}
