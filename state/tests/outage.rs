//! Redis unavailable: every decision fails closed, health turns degraded and failed calls are
//! counted; when Redis is back the same `RedisState` recovers by itself.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use test_support::RedisServer;

use std::time::{Duration, Instant};

use milagro_state::{HealthStatus, RedisOptions, RedisState, Revocations, SingleUse};
use mpin_kex::{FailureStore, Gate, HashedId, LockoutRules, Outcome, ReplayCache};

const NOW: u64 = 1_800_000_000;

fn options() -> RedisOptions {
    RedisOptions {
        timeout: Duration::from_millis(300),
        ..RedisOptions::default()
    }
}

/// Asks `begin` until it answers `Go` (the connection may need a moment to come back),
/// at most 50 times over about 10 s.
fn begin_until_go(s: &RedisState, id: &HashedId, rules: &LockoutRules) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    for _ in 0..50 {
        if s.begin(id, NOW, rules) == Gate::Go {
            return true;
        }
        if Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

#[test]
fn redis_down_fails_closed_then_recovers_without_a_new_state() {
    let mut server = RedisServer::start();
    let port = server.port();
    let s = RedisState::open(&server.url(), options()).expect("open");
    let (id, rules) = (HashedId::of(b"alice"), LockoutRules::default());
    assert_eq!(s.begin(&id, NOW, &rules), Gate::Go);
    s.finish(&id, Outcome::Released, NOW, &rules);
    assert!(s.health().is_ok());

    server.stop();
    assert_eq!(
        s.begin(&id, NOW, &rules),
        Gate::Unavailable,
        "no login it cannot count"
    );
    assert!(
        !s.insert_new([1; 32], NOW, NOW + 30),
        "no hello it cannot record"
    );
    assert!(
        s.contains(&[2; 32], NOW),
        "an unanswered replay check reads as seen"
    );
    assert!(
        !s.claim(&[3; 16], NOW, NOW + 60),
        "no ticket it cannot mark used"
    );
    assert!(s.is_revoked(&id), "an unanswered revocation check refuses");
    assert_eq!(s.known_at(&id, NOW, Duration::from_secs(60)), None);
    assert_eq!(s.standing(&id, NOW).locked_until, Some(u64::MAX));
    let health = s.health();
    assert_eq!(health.status, HealthStatus::Degraded);
    assert!(s.failed_calls() >= 7, "{} failed calls", s.failed_calls());

    let _server = RedisServer::start_on(port);
    assert!(
        begin_until_go(&s, &id, &rules),
        "recovers when Redis is back"
    );
    assert!(s.health().is_ok());
    assert!(s.health().since >= health.since);
    assert!(s.insert_new([1; 32], NOW, NOW + 30));
    assert!(!s.is_revoked(&id));
}

#[test]
fn a_state_opened_while_redis_is_down_connects_when_it_comes_up() {
    let port = {
        let server = RedisServer::start();
        server.port()
    };
    let s = RedisState::open(&format!("redis://127.0.0.1:{port}/0"), options()).expect("open");
    let (id, rules) = (HashedId::of(b"bob"), LockoutRules::default());
    assert_eq!(s.begin(&id, NOW, &rules), Gate::Unavailable);
    assert!(!s.ping());
    assert!(!s.health().is_ok());
    let _server = RedisServer::start_on(port);
    assert!(begin_until_go(&s, &id, &rules));
    assert!(s.ping());
}

#[test]
fn an_unanswering_redis_times_out_within_the_call_timeout() {
    // a listener that accepts and never answers
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let s = RedisState::open(&format!("redis://127.0.0.1:{port}/0"), options()).expect("open");
    let started = Instant::now();
    assert_eq!(
        s.begin(&HashedId::of(b"x"), NOW, &LockoutRules::default()),
        Gate::Unavailable
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "bounded by the call timeout"
    );
    drop(listener);
}

#[test]
fn while_degraded_calls_fail_at_once_instead_of_each_waiting_for_the_timeout() {
    // a blackholed Redis: without the probe interval each of these 40 calls would wait the
    // 300 ms call timeout (12 s in all, every runtime thread held); with it, one probe waits
    // and the rest are refused at once, still fail closed
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let s = RedisState::open(&format!("redis://127.0.0.1:{port}/0"), options()).expect("open");
    let id = HashedId::of(b"x");
    assert_eq!(
        s.begin(&id, NOW, &LockoutRules::default()),
        Gate::Unavailable
    );
    let failed = s.failed_calls();
    let started = Instant::now();
    for _ in 0..40 {
        assert_eq!(
            s.begin(&id, NOW, &LockoutRules::default()),
            Gate::Unavailable
        );
        assert!(
            !s.insert_new([7; 32], NOW, NOW + 60),
            "replay check fails closed"
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "calls while degraded waited {:?}: each one went to the unanswering store",
        started.elapsed()
    );
    assert!(s.failed_calls() >= failed + 80, "refused calls are counted");
    drop(listener);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_from_an_async_task_do_not_panic() {
    let server = RedisServer::start();
    let s = RedisState::open(&server.url(), options()).expect("open");
    let id = HashedId::of(b"carol");
    // called directly on a runtime worker, and from a blocking thread (the pairing job)
    assert_eq!(s.begin(&id, NOW, &LockoutRules::default()), Gate::Go);
    let s = std::sync::Arc::new(s);
    let t = s.clone();
    let gate = tokio::task::spawn_blocking(move || t.begin(&id, NOW, &LockoutRules::default()))
        .await
        .expect("join");
    assert_eq!(gate, Gate::Go);
    drop(s); // dropping the state inside a runtime must not panic either
}
