//! Two `RedisState`s on one Redis behave as one store: two replicas of a fleet.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use test_support::RedisServer;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use milagro_state::{RedisOptions, RedisState, Revocations, SharedState, SingleUse};
use mpin_kex::{FailureStore, Gate, HashedId, LockoutRules, Outcome, ReplayCache};

const NOW: u64 = 1_800_000_000;

fn replicas(server: &RedisServer) -> (RedisState, RedisState) {
    let open = || RedisState::open(&server.url(), RedisOptions::default()).expect("open");
    (open(), open())
}

#[test]
fn failures_spread_over_two_replicas_lock_the_identity_on_both() {
    let server = RedisServer::start();
    let (a, b) = replicas(&server);
    let (id, rules) = (HashedId::of(b"alice"), LockoutRules::default());
    for (t, s) in [(0, &a), (1, &b), (2, &a)] {
        assert_eq!(s.begin(&id, NOW + t, &rules), Gate::Go);
        s.finish(&id, Outcome::Failure, NOW + t, &rules);
    }
    let until = NOW + 2 + 300;
    for s in [&a, &b] {
        assert_eq!(
            s.begin(&id, NOW + 3, &rules),
            Gate::Locked { failures: 3, until }
        );
        assert_eq!(s.standing(&id, NOW + 3).locked_until, Some(until));
    }
    // unlock on one replica lets the identity in on the other
    assert!(a.unlock(&id));
    assert_eq!(b.begin(&id, NOW + 4, &rules), Gate::Go);
}

#[test]
fn concurrent_attempts_on_two_replicas_never_exceed_the_budget() {
    let server = RedisServer::start();
    let (a, b) = replicas(&server);
    let (a, b) = (Arc::new(a), Arc::new(b));
    let id = HashedId::of(b"bob");
    let rules = LockoutRules {
        after: 5,
        ..LockoutRules::default()
    };
    let (threads, rounds) = (16, 25);
    let (in_flight, peak, failures) = (
        Arc::new(AtomicU32::new(0)),
        Arc::new(AtomicU32::new(0)),
        Arc::new(AtomicU32::new(0)),
    );
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|i| {
            let s = if i % 2 == 0 { a.clone() } else { b.clone() };
            let (in_flight, peak, failures, barrier) = (
                in_flight.clone(),
                peak.clone(),
                failures.clone(),
                barrier.clone(),
            );
            std::thread::spawn(move || {
                barrier.wait();
                for _ in 0..rounds {
                    if s.begin(&id, NOW, &rules) != Gate::Go {
                        std::thread::sleep(Duration::from_millis(1));
                        continue;
                    }
                    let n = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(n, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(2));
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                    failures.fetch_add(1, Ordering::SeqCst);
                    s.finish(&id, Outcome::Failure, NOW, &rules);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("thread");
    }
    assert_eq!(
        failures.load(Ordering::SeqCst),
        5,
        "exactly the budget was spent"
    );
    assert!(peak.load(Ordering::SeqCst) <= 5);
    assert!(peak.load(Ordering::SeqCst) >= 2, "the attempts did overlap");
    assert!(matches!(
        a.begin(&id, NOW, &rules),
        Gate::Locked { failures: 5, .. }
    ));
}

#[test]
fn a_hello_recorded_on_one_replica_is_a_replay_on_the_other() {
    let server = RedisServer::start();
    let (a, b) = replicas(&server);
    let key = [7u8; 32];
    assert!(!b.contains(&key, NOW));
    assert!(a.insert_new(key, NOW, NOW + 30));
    assert!(b.contains(&key, NOW + 1), "seen on the other replica");
    assert!(
        !b.insert_new(key, NOW + 1, NOW + 31),
        "replayed to the other replica"
    );
    assert!(!a.insert_new(key, NOW + 2, NOW + 32));
    // of many replicas racing on one fresh hello exactly one wins
    let a = Arc::new(a);
    let b = Arc::new(b);
    let winners: u32 = (0..8)
        .map(|i| {
            let s = if i % 2 == 0 { a.clone() } else { b.clone() };
            std::thread::spawn(move || u32::from(s.insert_new([9; 32], NOW, NOW + 30)))
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().expect("thread"))
        .sum();
    assert_eq!(winners, 1);
}

#[test]
fn a_ticket_is_claimed_once_across_replicas() {
    let server = RedisServer::start();
    let (a, b) = replicas(&server);
    let ticket = [3u8; 16];
    assert!(a.claim(&ticket, NOW, NOW + 3600));
    assert!(
        !b.claim(&ticket, NOW + 1, NOW + 3600),
        "used on the other replica"
    );
    assert!(b.claim(&[4u8; 16], NOW + 1, NOW + 3600));
}

#[test]
fn revocation_is_fleet_wide_until_unlocked() {
    let server = RedisServer::start();
    let (a, b) = replicas(&server);
    let (id, rules) = (HashedId::of(b"carol"), LockoutRules::default());
    assert!(!b.is_revoked(&id));
    assert!(a.revoke(&id));
    assert!(b.is_revoked(&id));
    assert_eq!(
        b.begin(&id, NOW, &rules),
        Gate::Revoked,
        "new logins refused"
    );
    assert_eq!(a.begin(&id, NOW, &rules), Gate::Revoked);
    assert_eq!(b.standing(&id, NOW).in_flight, 0, "nothing was taken");
    let other = HashedId::of(b"dave");
    assert_eq!(b.begin(&other, NOW, &rules), Gate::Go, "only that identity");
    assert!(b.unlock(&id));
    assert!(!a.is_revoked(&id));
    assert_eq!(a.begin(&id, NOW, &rules), Gate::Go);
}

#[test]
fn known_source_marks_are_shared() {
    let server = RedisServer::start();
    let (a, b) = replicas(&server);
    let key = mpin_kex::known_source(&HashedId::of(b"erin"), &[192, 0, 2, 1]);
    let ttl = Duration::from_secs(30 * 86_400);
    a.mark_known(&key, NOW, ttl);
    assert_eq!(b.known_at(&key, NOW + 10, ttl), Some(NOW));
}

#[test]
fn shared_state_opens_memory_or_redis_and_refuses_other_schemes() {
    let server = RedisServer::start();
    let m = SharedState::open("memory", RedisOptions::default()).expect("memory");
    assert!(m.health().is_ok());
    assert_eq!(m.describe(), "memory");
    let r = SharedState::open(&server.url(), RedisOptions::default()).expect("redis");
    assert!(r.describe().contains(&server.port().to_string()));
    let id = HashedId::of(b"frank");
    assert_eq!(
        r.failure_store().begin(&id, NOW, &LockoutRules::default()),
        Gate::Go
    );
    let err = SharedState::open("redis-cluster://:hunter2@x", RedisOptions::default())
        .expect_err("unknown scheme");
    assert!(err.to_string().contains("memory"), "{err}");
    assert!(
        !err.to_string().contains("hunter2"),
        "no password in the message: {err}"
    );
    let err =
        SharedState::open("redis://:hunter2@[::1", RedisOptions::default()).expect_err("bad url");
    assert!(
        !err.to_string().contains("hunter2"),
        "no password in the message: {err}"
    );
}
