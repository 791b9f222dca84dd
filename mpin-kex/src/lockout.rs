//! Per-identity lockout: the [`FailureStore`] trait and its bounded in-memory implementation.
//!
//! Only failures made with the identity's genuine token count (the server finds the PIN-error
//! distance in the PIN range); anything else only occupies a slot while it is verified. An
//! attempt takes a slot *before* its proof is verified ([`FailureStore::begin`]) and reports
//! its outcome afterwards ([`FailureStore::finish`]); attempts that could exceed the remaining
//! budget wait until an in-flight one is decided, so parallel guesses never exceed
//! `lockout_after`, and a user's own parallel logins are never refused.
//!
//! `lockout_after` failures lock the identity for `lockout_for`; after it expires one more
//! attempt is allowed, and each further lockout doubles the time, up to `lockout_max`
//! (24 h by default). A success resets everything. Time is the caller's (`now`, unix seconds).
//!
//! With time permits the proof is checked against `UT` and `U` is used for nothing else, so a
//! thief holding the token *and* a permit can send a random `U` and make every wrong guess
//! "not made with the token". Such failures count against the pair (identity, source) instead,
//! under the key [`source_pair`], with the same rules: a source is whatever opaque prefix the
//! caller names (the tunnel: an IPv4 address or an IPv6 /48).
//!
//! A thief with many source prefixes would still get `lockout_after` guesses from each, so
//! the same unattributable failures also count against the identity's *distributed* budget,
//! under the key [`distributed_key`], with its own rules (`lockout_after` =
//! [`crate::ServerPolicy::distributed_lockout_after`], the same `lockout_for` doubling): once
//! spent, every permit-mode attempt for the identity from a named source is refused before
//! any pairing until the lockout expires, and a success resets it.
//!
//! Known sources: so that an attacker without the token cannot aim that lock at the networks
//! the victim uses, the store also remembers, per (identity, source), the time of the last
//! verified success ([`FailureStore::mark_known`], key [`known_source`]), for
//! [`crate::ServerPolicy::known_source_ttl`] (30 days). An attempt from a known source is
//! outside the distributed budget: it is neither refused nor held back by it, its failures do
//! not spend it and its success does not reset it; the pair and identity lockouts still apply.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::curve::MB;
use crate::identity::HashedId;
use crate::known::KnownMarks;

/// Domain-separation tag of [`source_pair`] keys; also their first 16 bytes, so a pair key
/// never equals a hashed identity (those start with 16 zero bytes).
const PAIR_TAG: &[u8; MB - 32] = b"mpin-kex/pair/v1";

/// Domain-separation tag of [`distributed_key`] keys (and their first 16 bytes).
const DIST_TAG: &[u8; MB - 32] = b"mpin-kex/dist/v1";

/// Domain-separation tag of [`known_source`] keys (and their first 16 bytes).
const KNOWN_TAG: &[u8; MB - 32] = b"mpin-kex/know/v1";

/// A key `tag ‖ SHA-256(tag ‖ parts…)`: never a valid hashed identity (those start with 16
/// zero bytes), and separated from other tags.
fn derived_key(tag: &[u8; MB - 32], parts: &[&[u8]]) -> HashedId {
    let mut h = Sha256::new();
    h.update(tag);
    for part in parts {
        h.update(part);
    }
    let mut key = [0u8; MB];
    key[..MB - 32].copy_from_slice(tag);
    key[MB - 32..].copy_from_slice(&h.finalize());
    HashedId(key)
}

/// The [`FailureStore`] key of the pair (identity `id`, `source`): `PAIR_TAG ‖
/// SHA-256(PAIR_TAG ‖ id ‖ source)`. It is never a valid hashed identity, so an attacker
/// cannot reach it by naming an identity. `source` is an opaque prefix chosen by the caller
/// (e.g. an IPv4 address or an IPv6 /48); use it to inspect or [`FailureStore::clear`] a pair.
pub fn source_pair(id: &HashedId, source: &[u8]) -> HashedId {
    derived_key(PAIR_TAG, &[&id.as_bytes()[..], source])
}

/// The [`FailureStore`] key of the distributed budget of identity `id` (unattributable
/// permit-mode failures from all sources): `DIST_TAG ‖ SHA-256(DIST_TAG ‖ id)`, with the
/// tag `"mpin-kex/dist/v1"`. Like [`source_pair`] keys it is never a valid hashed identity;
/// use it to inspect or [`FailureStore::clear`] the budget.
pub fn distributed_key(id: &HashedId) -> HashedId {
    derived_key(DIST_TAG, &[&id.as_bytes()[..]])
}

/// The key of the known-source mark of the pair (identity `id`, `source`) for
/// [`FailureStore::mark_known`] and [`FailureStore::known_at`]: `KNOWN_TAG ‖
/// SHA-256(KNOWN_TAG ‖ id ‖ source)`, with the tag `"mpin-kex/know/v1"`; never a valid
/// hashed identity, nor a pair or distributed key.
pub fn known_source(id: &HashedId, source: &[u8]) -> HashedId {
    derived_key(KNOWN_TAG, &[&id.as_bytes()[..], source])
}

/// The lockout rules a store applies (from [`crate::ServerPolicy::lockout`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutRules {
    /// Failures that lock the identity (at least 1).
    pub after: u32,
    /// Length of the first lockout.
    pub first: Duration,
    /// Longest lockout; also how long a store remembers an identity after its last failure
    /// or lockout.
    pub max: Duration,
}

impl LockoutRules {
    fn after(&self) -> u32 {
        self.after.max(1)
    }

    /// Length of lockout number `level` (0-based): `first · 2^level`, at most `max`.
    pub fn duration_secs(&self, level: u32) -> u64 {
        let first = self.first.as_secs().max(1);
        let max = self.max.as_secs().max(first);
        first
            .checked_shl(level.min(63))
            .filter(|d| d >> level.min(63) == first)
            .map_or(max, |d| d.min(max))
    }
}

/// The answer to [`FailureStore::begin`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// A slot was taken: verify, then report with [`FailureStore::finish`] exactly once.
    Go,
    /// The remaining budget is taken by attempts being verified: try again when one of them
    /// is decided. Nothing was taken.
    Wait,
    /// Locked out. Nothing was taken.
    Locked {
        /// Failures that caused it.
        failures: u32,
        /// Unix second the lockout ends.
        until: u64,
    },
    /// The identity is revoked by an operator (a shared store's revocation set): refused
    /// until it is unlocked. Nothing was taken.
    Revoked,
    /// The store cannot answer (e.g. Redis unreachable or too slow): refused, fail closed.
    /// Nothing was taken.
    Unavailable,
}

/// How an attempt that got [`Gate::Go`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The proof verified: failures and lockout level reset.
    Success,
    /// A wrong PIN with the identity's genuine token: counts.
    Failure,
    /// Anything else (a proof not made with this identity's token, a degenerate value, a
    /// cancelled attempt): only frees the slot.
    Released,
}

/// What a store knows about an identity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Standing {
    /// Counted failures since the last success (or since the last lockout expired).
    pub failures: u32,
    /// Attempts being verified.
    pub in_flight: u32,
    /// Unix second the current lockout ends, when locked.
    pub locked_until: Option<u64>,
}

/// Failure counts and lockouts per identity, with attempt slots.
///
/// Every method must be atomic per identity (one lock, or one Redis `MULTI`/Lua script): the
/// budget check and the slot increment of [`begin`](Self::begin), and the slot decrement and
/// the counting of [`finish`](Self::finish), each happen as one step. A store that cannot
/// answer must fail closed ([`Gate::Unavailable`]), never [`Gate::Go`].
pub trait FailureStore: Send + Sync {
    /// Before a proof is verified, atomically: if locked → [`Gate::Locked`]; if
    /// `failures + in_flight ≥ after` with an attempt in flight → [`Gate::Wait`]; otherwise
    /// `in_flight += 1` → [`Gate::Go`]. An expired lockout leaves one attempt before the next.
    fn begin(&self, id: &HashedId, now: u64, rules: &LockoutRules) -> Gate;
    /// After a [`Gate::Go`], atomically: `in_flight −= 1` and apply `outcome` (a failure that
    /// reaches `after` locks for `rules.duration_secs(level)` and raises the level).
    fn finish(&self, id: &HashedId, outcome: Outcome, now: u64, rules: &LockoutRules);
    /// The identity's standing (read only; for resumption checks, operators and tests).
    fn standing(&self, id: &HashedId, now: u64) -> Standing;
    /// Forgets the identity's failures and lockout (an operator's unlock); slots stay.
    fn clear(&self, id: &HashedId);
    /// Records a *verified* success from a source at `now` under `key` (a [`known_source`]
    /// key), remembered for `ttl` (nothing when `ttl` is zero). Must be one atomic step that
    /// never lowers a stored time (Redis: a Lua `max` then `EXPIRE`, or `SET key now EX ttl`
    /// when `now` is monotonic), bounded in memory, and the mark must expire by itself.
    /// The default records nothing: no source is ever known, which fails closed (every
    /// source stays subject to the distributed lock).
    fn mark_known(&self, key: &HashedId, now: u64, ttl: Duration) {
        let _ = (key, now, ttl);
    }
    /// The last success recorded under `key` when it is less than `ttl` before `now` (read
    /// only, one atomic `GET`). A store that cannot answer must return `None`.
    fn known_at(&self, key: &HashedId, now: u64, ttl: Duration) -> Option<u64> {
        let _ = (key, now, ttl);
        None
    }
    /// Whether calls wait on the network (a shared store such as Redis), so the runs that
    /// call it should not run on an async worker thread. The default, `false`, is an
    /// in-process store.
    fn waits_on_network(&self) -> bool {
        false
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Entry {
    failures: u32,
    in_flight: u32,
    level: u32,
    locked_until: u64,
    /// Key in the expiry queue (0: not queued, i.e. only slots).
    forget_at: u64,
}

impl Entry {
    /// An expired lockout leaves one attempt (`after − 1` failures), the level stays.
    fn expire_lock(&mut self, now: u64, rules: &LockoutRules) {
        if self.locked_until != 0 && now >= self.locked_until {
            self.locked_until = 0;
            self.failures = rules.after() - 1;
        }
    }

    fn has_history(&self) -> bool {
        self.failures != 0 || self.level != 0 || self.locked_until != 0
    }
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<HashedId, Entry>,
    /// `(forget_at, id)` of every entry with history: expired ones are dropped from the front.
    expiry: BTreeSet<(u64, [u8; MB])>,
}

impl Inner {
    fn purge(&mut self, now: u64) {
        while let Some(&(at, key)) = self.expiry.first() {
            if at > now {
                break;
            }
            self.expiry.pop_first();
            self.forget(&HashedId(key));
        }
    }

    /// Drops the history of `id` (its queue entry must already be gone).
    fn forget(&mut self, id: &HashedId) {
        if let Some(e) = self.entries.get_mut(id) {
            if e.in_flight == 0 {
                self.entries.remove(id);
            } else {
                *e = Entry {
                    in_flight: e.in_flight,
                    ..Entry::default()
                };
            }
        }
    }

    /// Re-queues `id` after a change; removes it when nothing is left to remember.
    fn requeue(&mut self, id: &HashedId, e: Entry, now: u64, rules: &LockoutRules) {
        let mut e = e;
        if e.forget_at != 0 {
            self.expiry.remove(&(e.forget_at, id.0));
            e.forget_at = 0;
        }
        if e.has_history() {
            e.forget_at = e
                .locked_until
                .max(now)
                .saturating_add(rules.max.as_secs().max(1));
            self.expiry.insert((e.forget_at, id.0));
        } else if e.in_flight == 0 {
            self.entries.remove(id);
            return;
        }
        self.entries.insert(*id, e);
    }
}

/// In-memory [`FailureStore`] holding at most `capacity` identities. Entries expire
/// `lockout_max` after their last failure or lockout; when full, the entry closest to expiry
/// is dropped. Every call costs O(log n).
#[derive(Debug)]
pub struct MemoryFailureStore {
    inner: Mutex<Inner>,
    known: Mutex<KnownMarks>,
    capacity: usize,
}

impl MemoryFailureStore {
    /// A store for at most `capacity` identities (at least 1), and as many known-source
    /// marks (each forgotten `ttl` after its last success; when full, the oldest goes).
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            known: Mutex::new(KnownMarks::new(capacity)),
            capacity: capacity.max(1),
        }
    }

    /// Known-source marks currently remembered.
    pub fn known_len(&self) -> usize {
        self.known.lock().map(|k| k.len()).unwrap_or(0)
    }

    /// Identities currently remembered (with failures, lockouts or slots).
    pub fn len(&self) -> usize {
        self.inner.lock().map(|i| i.entries.len()).unwrap_or(0)
    }

    /// True when no identity is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for MemoryFailureStore {
    /// Room for 2^20 identities.
    fn default() -> Self {
        Self::new(1 << 20)
    }
}

impl FailureStore for MemoryFailureStore {
    fn begin(&self, id: &HashedId, now: u64, rules: &LockoutRules) -> Gate {
        let Ok(mut inner) = self.inner.lock() else {
            return Gate::Wait;
        };
        inner.purge(now);
        let mut e = match inner.entries.get(id) {
            Some(e) => *e,
            None => {
                if inner.entries.len() >= self.capacity {
                    // Full: drop the entry closest to expiry when nothing is verifying it.
                    let Some(&(at, key)) = inner.expiry.first() else {
                        return Gate::Wait;
                    };
                    let victim = HashedId(key);
                    if inner.entries.get(&victim).is_some_and(|v| v.in_flight > 0) {
                        return Gate::Wait;
                    }
                    inner.expiry.remove(&(at, key));
                    inner.forget(&victim);
                }
                Entry::default()
            }
        };
        e.expire_lock(now, rules);
        let after = rules.after();
        if e.locked_until > now {
            inner.requeue(id, e, now, rules);
            return Gate::Locked {
                failures: e.failures,
                until: e.locked_until,
            };
        }
        if e.failures.saturating_add(e.in_flight) >= after {
            if e.in_flight > 0 {
                inner.requeue(id, e, now, rules);
                return Gate::Wait;
            }
            // Only reachable when the rules were lowered: lock now.
            e.locked_until = now.saturating_add(rules.duration_secs(e.level));
            e.level = e.level.saturating_add(1);
            inner.requeue(id, e, now, rules);
            return Gate::Locked {
                failures: e.failures,
                until: e.locked_until,
            };
        }
        e.in_flight += 1;
        inner.requeue(id, e, now, rules);
        Gate::Go
    }

    fn finish(&self, id: &HashedId, outcome: Outcome, now: u64, rules: &LockoutRules) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        inner.purge(now);
        let mut e = inner.entries.get(id).copied().unwrap_or_default();
        e.in_flight = e.in_flight.saturating_sub(1);
        e.expire_lock(now, rules);
        match outcome {
            Outcome::Success => {
                e.failures = 0;
                e.level = 0;
                e.locked_until = 0;
            }
            Outcome::Failure => {
                e.failures = e.failures.saturating_add(1);
                if e.failures >= rules.after() && e.locked_until <= now {
                    e.locked_until = now.saturating_add(rules.duration_secs(e.level));
                    e.level = e.level.saturating_add(1);
                }
            }
            Outcome::Released => {}
        }
        inner.requeue(id, e, now, rules);
    }

    fn standing(&self, id: &HashedId, now: u64) -> Standing {
        let Ok(inner) = self.inner.lock() else {
            return Standing {
                locked_until: Some(u64::MAX),
                ..Standing::default()
            };
        };
        match inner.entries.get(id) {
            Some(e) if e.forget_at == 0 || e.forget_at > now => Standing {
                failures: e.failures,
                in_flight: e.in_flight,
                locked_until: (e.locked_until > now).then_some(e.locked_until),
            },
            Some(e) => Standing {
                in_flight: e.in_flight,
                ..Standing::default()
            },
            None => Standing::default(),
        }
    }

    fn clear(&self, id: &HashedId) {
        if let Ok(mut inner) = self.inner.lock() {
            if let Some(e) = inner.entries.get(id).copied() {
                let kept = Entry {
                    in_flight: e.in_flight,
                    forget_at: e.forget_at,
                    ..Entry::default()
                };
                inner.requeue(id, kept, 0, &LockoutRules::default());
            }
        }
    }

    fn mark_known(&self, key: &HashedId, now: u64, ttl: Duration) {
        if let Ok(mut known) = self.known.lock() {
            known.mark(key, now, ttl.as_secs());
        }
    }

    fn known_at(&self, key: &HashedId, now: u64, ttl: Duration) -> Option<u64> {
        self.known.lock().ok()?.last(key, now, ttl.as_secs())
    }
}

impl Default for LockoutRules {
    /// 3 failures, 5 minutes, doubling up to 24 hours.
    fn default() -> Self {
        Self {
            after: 3,
            first: Duration::from_secs(300),
            max: Duration::from_secs(86_400),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> LockoutRules {
        LockoutRules {
            after: 3,
            first: Duration::from_secs(60),
            max: Duration::from_secs(300),
        }
    }

    #[test]
    fn durations_double_up_to_the_maximum() {
        let r = rules();
        let d: Vec<u64> = (0..6).map(|l| r.duration_secs(l)).collect();
        assert_eq!(d, [60, 120, 240, 300, 300, 300]);
        assert_eq!(r.duration_secs(200), 300, "no overflow");
    }

    #[test]
    fn gate_waits_instead_of_exceeding_the_budget_and_releases_without_counting() {
        let s = MemoryFailureStore::new(16);
        let (id, r) = (HashedId::of(b"alice"), rules());
        assert_eq!(s.begin(&id, 0, &r), Gate::Go);
        assert_eq!(s.begin(&id, 0, &r), Gate::Go);
        assert_eq!(s.begin(&id, 0, &r), Gate::Go);
        assert_eq!(s.begin(&id, 0, &r), Gate::Wait, "budget of 3 in flight");
        s.finish(&id, Outcome::Released, 0, &r);
        assert_eq!(
            s.begin(&id, 0, &r),
            Gate::Go,
            "a decided attempt frees a slot"
        );
        for _ in 0..3 {
            s.finish(&id, Outcome::Released, 0, &r);
        }
        assert_eq!(s.standing(&id, 0), Standing::default());
        assert!(s.is_empty(), "nothing to remember");
    }

    #[test]
    fn failures_lock_expire_leave_one_attempt_and_double() {
        let s = MemoryFailureStore::new(16);
        let (id, r) = (HashedId::of(b"alice"), rules());
        for t in 0..3 {
            assert_eq!(s.begin(&id, t, &r), Gate::Go);
            s.finish(&id, Outcome::Failure, t, &r);
        }
        assert_eq!(
            s.begin(&id, 10, &r),
            Gate::Locked {
                failures: 3,
                until: 62
            }
        );
        assert_eq!(s.standing(&id, 10).locked_until, Some(62));
        // expired: one more attempt, a failure locks for twice as long
        assert_eq!(s.begin(&id, 62, &r), Gate::Go);
        assert_eq!(s.begin(&id, 62, &r), Gate::Wait);
        s.finish(&id, Outcome::Failure, 62, &r);
        assert_eq!(
            s.begin(&id, 63, &r),
            Gate::Locked {
                failures: 3,
                until: 182
            }
        );
        assert_eq!(s.begin(&id, 182, &r), Gate::Go);
        s.finish(&id, Outcome::Success, 182, &r);
        assert_eq!(s.standing(&id, 182), Standing::default());
        for t in 200..203 {
            assert_eq!(s.begin(&id, t, &r), Gate::Go);
            s.finish(&id, Outcome::Failure, t, &r);
        }
        assert_eq!(
            s.begin(&id, 203, &r),
            Gate::Locked {
                failures: 3,
                until: 262
            },
            "a success resets the doubling"
        );
    }

    #[test]
    fn store_is_bounded_and_forgets_expired_identities() {
        let s = MemoryFailureStore::new(4);
        let r = rules();
        for i in 0..10u8 {
            let id = HashedId::of(&[i]);
            assert_eq!(s.begin(&id, u64::from(i), &r), Gate::Go);
            s.finish(&id, Outcome::Failure, u64::from(i), &r);
            assert!(s.len() <= 4);
        }
        assert_eq!(s.len(), 4);
        assert_eq!(
            s.standing(&HashedId::of(&[9]), 9).failures,
            1,
            "newest kept"
        );
        assert_eq!(
            s.standing(&HashedId::of(&[0]), 9).failures,
            0,
            "oldest evicted"
        );
        // everything expires `max` after the last failure
        let id = HashedId::of(b"late");
        assert_eq!(s.begin(&id, 10_000, &r), Gate::Go);
        s.finish(&id, Outcome::Released, 10_000, &r);
        assert!(s.is_empty());
    }

    #[test]
    fn pair_keys_are_separated_from_identities_and_from_each_other() {
        let (a, b) = (HashedId::of(b"alice"), HashedId::of(b"bob"));
        let k = source_pair(&a, &[127, 0, 0, 1]);
        assert_eq!(k, source_pair(&a, &[127, 0, 0, 1]), "deterministic");
        assert_ne!(k, source_pair(&a, &[127, 0, 0, 2]));
        assert_ne!(k, source_pair(&b, &[127, 0, 0, 1]));
        assert!(
            HashedId::from_bytes(k.as_bytes()).is_none(),
            "not an identity"
        );
        assert_ne!(k, a);
        let d = distributed_key(&a);
        assert_eq!(d, distributed_key(&a), "deterministic");
        assert_ne!(d, distributed_key(&b));
        assert!(
            HashedId::from_bytes(d.as_bytes()).is_none(),
            "not an identity"
        );
        assert_ne!(d, source_pair(&a, &[]), "separated from pair keys");
        assert_ne!(d, a);
        let k2 = known_source(&a, &[127, 0, 0, 1]);
        assert_ne!(k2, k, "separated from pair keys");
        assert_ne!(k2, known_source(&b, &[127, 0, 0, 1]));
        assert!(
            HashedId::from_bytes(k2.as_bytes()).is_none(),
            "not an identity"
        );
    }

    /// Failed guesses a store lets through in `horizon` seconds, trying every second.
    fn guesses_within(r: &LockoutRules, horizon: u64) -> u32 {
        let s = MemoryFailureStore::new(4);
        let id = HashedId::of(b"alice");
        let mut n = 0;
        for t in 0..horizon {
            while s.begin(&id, t, r) == Gate::Go {
                s.finish(&id, Outcome::Failure, t, r);
                n += 1;
            }
        }
        n
    }

    #[test]
    fn guesses_before_revocation_stops_permits_with_the_default_rules() {
        // The figures of docs/SECURITY.md: first 24 h, and the permit horizon (2 days) plus
        // the grace hour after a revocation.
        let (day, revoked) = (86_400, 2 * 86_400 + 3_600);
        let pair = LockoutRules::default();
        assert_eq!(guesses_within(&pair, day), 11);
        assert_eq!(guesses_within(&pair, revoked), 12);
        let dist = LockoutRules {
            after: 30,
            ..LockoutRules::default()
        };
        assert_eq!(guesses_within(&dist, day), 38);
        assert_eq!(guesses_within(&dist, revoked), 39);
    }

    #[test]
    fn clear_unlocks() {
        let s = MemoryFailureStore::new(4);
        let (id, r) = (HashedId::of(b"alice"), rules());
        for _ in 0..3 {
            assert_eq!(s.begin(&id, 0, &r), Gate::Go);
            s.finish(&id, Outcome::Failure, 0, &r);
        }
        assert!(matches!(s.begin(&id, 1, &r), Gate::Locked { .. }));
        s.clear(&id);
        assert_eq!(s.begin(&id, 1, &r), Gate::Go);
    }
}
