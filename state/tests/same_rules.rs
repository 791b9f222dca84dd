//! The Redis store decides exactly like the in-memory store: the same scenario table, and a
//! long pseudo-random sequence of calls, give the same answers on both.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use test_support::RedisServer;

use std::time::Duration;

use milagro_state::{MemoryState, RedisOptions, RedisState, Revocations, SingleUse};
use mpin_kex::{
    distributed_key, FailureStore, Gate, HashedId, LockoutRules, MemoryFailureStore,
    MemoryReplayCache, Outcome, ReplayCache,
};

fn rules() -> LockoutRules {
    LockoutRules {
        after: 3,
        first: Duration::from_secs(60),
        max: Duration::from_secs(300),
    }
}

fn redis(server: &RedisServer) -> RedisState {
    let options = RedisOptions {
        // virtual time jumps far: no slot may expire in these scenarios
        slot_lease: Duration::from_secs(1 << 30),
        ..RedisOptions::default()
    };
    RedisState::open(&server.url(), options).expect("open")
}

fn memory() -> MemoryState {
    MemoryState::new(
        MemoryFailureStore::new(1 << 16),
        MemoryReplayCache::new(1 << 16),
    )
}

/// The lockout table of `mpin_kex::lockout`'s unit tests, on any store.
fn table(s: &dyn FailureStore) {
    let (id, r) = (HashedId::of(b"alice"), rules());
    // slots: the budget of 3 in flight, released attempts do not count
    for _ in 0..3 {
        assert_eq!(s.begin(&id, 0, &r), Gate::Go);
    }
    assert_eq!(s.begin(&id, 0, &r), Gate::Wait, "budget of 3 in flight");
    s.finish(&id, Outcome::Released, 0, &r);
    assert_eq!(
        s.begin(&id, 0, &r),
        Gate::Go,
        "a decided attempt frees a slot"
    );
    assert_eq!(s.standing(&id, 0).in_flight, 3);
    for _ in 0..3 {
        s.finish(&id, Outcome::Released, 0, &r);
    }
    assert_eq!(s.standing(&id, 0), Default::default());
    // failures lock, expire leaving one attempt, and double
    for t in 0..3 {
        assert_eq!(s.begin(&id, t, &r), Gate::Go);
        s.finish(&id, Outcome::Failure, t, &r);
    }
    let locked = |failures, until| Gate::Locked { failures, until };
    assert_eq!(s.begin(&id, 10, &r), locked(3, 62));
    assert_eq!(s.standing(&id, 10).locked_until, Some(62));
    assert_eq!(s.begin(&id, 62, &r), Gate::Go);
    assert_eq!(s.begin(&id, 62, &r), Gate::Wait, "one attempt after expiry");
    s.finish(&id, Outcome::Failure, 62, &r);
    assert_eq!(s.begin(&id, 63, &r), locked(3, 182), "doubled");
    assert_eq!(s.begin(&id, 182, &r), Gate::Go);
    s.finish(&id, Outcome::Success, 182, &r);
    assert_eq!(s.standing(&id, 182), Default::default(), "a success resets");
    // lowered rules lock at once
    for t in 200..202 {
        assert_eq!(s.begin(&id, t, &r), Gate::Go);
        s.finish(&id, Outcome::Failure, t, &r);
    }
    let lower = LockoutRules { after: 2, ..r };
    assert_eq!(s.begin(&id, 203, &lower), locked(2, 263));
    // clear unlocks; history is forgotten `max` after the last lockout
    s.clear(&id);
    assert_eq!(s.begin(&id, 204, &r), Gate::Go);
    s.finish(&id, Outcome::Failure, 204, &r);
    assert_eq!(s.standing(&id, 503).failures, 1);
    assert_eq!(s.standing(&id, 504).failures, 0, "forgotten after max");
    // pair and distributed keys are independent entries
    let dist = distributed_key(&id);
    assert_eq!(s.begin(&dist, 600, &r), Gate::Go);
    s.finish(&dist, Outcome::Failure, 600, &r);
    assert_eq!(s.standing(&dist, 600).failures, 1);
    assert_eq!(s.standing(&id, 600).failures, 0);
    // known sources: kept for the ttl, never lowered
    let k = mpin_kex::known_source(&id, &[10, 0, 0, 1]);
    let ttl = Duration::from_secs(50);
    assert_eq!(s.known_at(&k, 100, ttl), None);
    s.mark_known(&k, 100, ttl);
    assert_eq!(s.known_at(&k, 149, ttl), Some(100));
    assert_eq!(
        s.known_at(&k, 150, ttl),
        None,
        "expired on the caller's clock"
    );
    s.mark_known(&k, 140, ttl);
    s.mark_known(&k, 120, ttl);
    assert_eq!(s.known_at(&k, 189, ttl), Some(140), "never lowered");
}

/// The replay table of `mpin_kex::replay`'s unit test (without the memory bound).
fn replay_table(c: &dyn ReplayCache) {
    assert!(!c.contains(&[1; 32], 100));
    assert!(c.insert_new([1; 32], 100, 200));
    assert!(c.contains(&[1; 32], 150));
    assert!(!c.insert_new([1; 32], 150, 250), "a replay");
    assert!(c.contains(&[1; 32], 200));
    assert!(!c.contains(&[1; 32], 201), "expired");
    assert!(
        c.insert_new([1; 32], 201, 300),
        "expired entries may be reused"
    );
}

#[test]
fn memory_store_passes_the_table() {
    let m = memory();
    table(&m);
    replay_table(&m);
    // in process: the runs that call it may run on an async worker thread
    assert!(!FailureStore::waits_on_network(&m) && !ReplayCache::waits_on_network(&m));
}

#[test]
fn redis_store_passes_the_same_table() {
    let server = RedisServer::start();
    let r = redis(&server);
    table(&r);
    replay_table(&r);
    assert!(r.health().is_ok());
    assert_eq!(r.failed_calls(), 0);
    // the runs that call it go to a blocking pool
    assert!(FailureStore::waits_on_network(&r) && ReplayCache::waits_on_network(&r));
}

/// A small deterministic generator (xorshift), so the sequence is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Runs the same random calls on both stores and compares every answer.
#[test]
fn random_calls_get_the_same_answers_from_memory_and_redis() {
    let server = RedisServer::start();
    let (m, r) = (memory(), redis(&server));
    let ids: Vec<HashedId> = (0..3u8).map(|i| HashedId::of(&[i])).collect();
    let mut in_flight = [0u32; 3];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut now = 1_000u64;
    let (mut go, mut locked) = (0, 0);
    for step in 0..1_500 {
        now += rng.next(3) * rng.next(40);
        let i = rng.next(3) as usize;
        let id = &ids[i];
        let r_ = if rng.next(5) == 0 {
            LockoutRules {
                after: 2,
                ..rules()
            }
        } else {
            rules()
        };
        match rng.next(10) {
            0..=3 => {
                let (a, b) = (m.begin(id, now, &r_), r.begin(id, now, &r_));
                assert_eq!(a, b, "begin at step {step}");
                if a == Gate::Go {
                    in_flight[i] += 1;
                    go += 1;
                }
                if matches!(a, Gate::Locked { .. }) {
                    locked += 1;
                }
            }
            4..=7 if in_flight[i] > 0 => {
                in_flight[i] -= 1;
                let o = [
                    Outcome::Failure,
                    Outcome::Failure,
                    Outcome::Released,
                    Outcome::Success,
                ][rng.next(4) as usize];
                m.finish(id, o, now, &r_);
                r.finish(id, o, now, &r_);
            }
            8 => {
                if rng.next(8) == 0 {
                    m.clear(id);
                    r.clear(id);
                } else if rng.next(4) == 0 {
                    assert_eq!(m.revoke(id), r.revoke(id));
                } else {
                    assert_eq!(m.unlock(id), r.unlock(id));
                }
            }
            _ => {
                let key = [rng.next(4) as u8; 16];
                let exp = now + rng.next(100);
                assert_eq!(
                    m.claim(&key, now, exp),
                    r.claim(&key, now, exp),
                    "claim at {step}"
                );
            }
        }
        assert_eq!(
            m.standing(id, now),
            r.standing(id, now),
            "standing at step {step}"
        );
        assert_eq!(m.is_revoked(id), r.is_revoked(id));
    }
    assert!(
        go > 100 && locked > 20,
        "the sequence exercises both: {go} go, {locked} locked"
    );
}
