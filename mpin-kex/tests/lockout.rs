//! Lockout that an attacker cannot aim at a victim: only wrong PINs made with the identity's
//! genuine token count, parallel guesses wait instead of exceeding the budget, lockouts expire
//! and double, and one-pass replay entries are written only after a proof verified.

mod common;

use std::sync::{Arc, Barrier};
use std::time::Duration;

use common::*;
use mpin_kex::*;
use rand_core::OsRng;

fn policy(after: u32, secs: u64) -> ServerPolicy {
    ServerPolicy {
        lockout_after: after,
        lockout_for: Duration::from_secs(secs),
        ..ServerPolicy::default()
    }
}

fn standing(ctx: &ServerContext, now: u64) -> Standing {
    ctx.failures.standing(&HashedId::of(ID), now)
}

#[test]
fn foreign_token_failures_do_not_count_against_the_identity() {
    let real = MpinWorld::new(2);
    let foreign = MpinWorld::new(2); // other D-TAs, same identity
    let ctx = real.context(ServerPolicy::default());
    let fake = foreign.credential(ID, 1234, Some(today()));
    for _ in 0..10 {
        let err = multi_pass(&fake, 1234, &ctx, NOW).unwrap_err();
        assert_eq!(
            err,
            AuthError::BadProof {
                pin_error: None,
                genuine_token: false
            }
        );
        assert!(!err.is_token_failure());
        let err = one_pass(&fake, 1234, &ctx, NOW, b"").unwrap_err();
        assert!(!err.is_token_failure(), "{err}");
    }
    // A forged response (a valid point that is not a proof) does not count either.
    let alice = real.credential(ID, 1234, Some(today()));
    let mut client = Client::new(&alice, Pin::new(1234).unwrap());
    let mut server = Server::new(ctx.clone());
    let hello = client.hello(&mut OsRng).unwrap();
    server.hello(&hello, NOW, &mut OsRng).unwrap();
    let err = server.response(&Response { v: hello.u }, NOW).unwrap_err();
    assert!(!err.is_token_failure(), "{err}");
    assert_eq!(standing(&ctx, NOW), Standing::default());
    assert!(multi_pass(&alice, 1234, &ctx, NOW).is_ok(), "not locked");
}

#[test]
fn genuine_wrong_pins_count_and_a_success_resets() {
    let w = MpinWorld::new(2);
    let ctx = w.context(ServerPolicy::default());
    let cred = w.credential(ID, 1234, Some(today()));
    for n in 1..=2 {
        let err = one_pass(&cred, 4321, &ctx, NOW, b"").unwrap_err();
        assert!(err.is_token_failure(), "{err}");
        assert_eq!(standing(&ctx, NOW).failures, n);
    }
    assert!(multi_pass(&cred, 1234, &ctx, NOW).is_ok());
    assert_eq!(standing(&ctx, NOW), Standing::default());
}

#[test]
fn lockout_expires_then_doubles_on_the_callers_clock() {
    let w = MpinWorld::new(2);
    let ctx = w.context(policy(3, 60));
    let cred = w.credential(ID, 1234, Some(today()));
    for _ in 0..3 {
        assert!(multi_pass(&cred, 1, &ctx, NOW)
            .unwrap_err()
            .is_token_failure());
    }
    let locked = |until| AuthError::LockedOut { failures: 3, until };
    let before = pairings_on_this_thread();
    assert_eq!(
        multi_pass(&cred, 1234, &ctx, NOW + 59).unwrap_err(),
        locked(NOW + 60),
        "refused even with the right PIN"
    );
    assert_eq!(pairings_on_this_thread(), before, "no pairing while locked");
    // Expired: one attempt; a wrong PIN locks for twice as long.
    assert!(multi_pass(&cred, 1, &ctx, NOW + 60)
        .unwrap_err()
        .is_token_failure());
    assert_eq!(
        multi_pass(&cred, 1234, &ctx, NOW + 61).unwrap_err(),
        locked(NOW + 180)
    );
    assert!(multi_pass(&cred, 1234, &ctx, NOW + 180).is_ok());
    // The success reset the doubling.
    for _ in 0..3 {
        assert!(multi_pass(&cred, 1, &ctx, NOW + 200).is_err());
    }
    assert_eq!(
        multi_pass(&cred, 1234, &ctx, NOW + 200).unwrap_err(),
        locked(NOW + 260)
    );
}

/// Runs the response with retries while the server says Busy (bounded).
fn respond(server: &mut Server, resp: &Response, now: u64) -> (Result<Session, AuthError>, u32) {
    let mut waits = 0;
    loop {
        match server.response(resp, now) {
            Err(AuthError::Busy) if waits < 20_000 => {
                waits += 1;
                std::thread::sleep(Duration::from_millis(1));
            }
            r => return (r, waits),
        }
    }
}

#[test]
fn parallel_genuine_token_guesses_never_exceed_the_budget() {
    let w = MpinWorld::new(2);
    let ctx = w.context(ServerPolicy::default());
    let cred = Arc::new(w.credential(ID, 1234, Some(today())));
    let n = 8;
    let barrier = Arc::new(Barrier::new(n));
    let threads: Vec<_> = (0..n as u32)
        .map(|i| {
            let (ctx, cred, barrier) = (ctx.clone(), cred.clone(), barrier.clone());
            std::thread::spawn(move || {
                let mut client = Client::new(cred, Pin::new(2000 + i).unwrap());
                let mut server = Server::new(ctx);
                let hello = client.hello(&mut OsRng).unwrap();
                let ch = server.hello(&hello, NOW, &mut OsRng).unwrap();
                let (resp, _) = client.challenge(&ch).unwrap();
                barrier.wait();
                respond(&mut server, &resp, NOW).0
            })
        })
        .collect();
    let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let counted = results
        .iter()
        .filter(|r| r.as_ref().is_err_and(AuthError::is_token_failure))
        .count();
    let locked = results
        .iter()
        .filter(|r| matches!(r, Err(AuthError::LockedOut { .. })))
        .count();
    assert_eq!(counted, 3, "exactly the budget was verified: {results:?}");
    assert_eq!(
        locked,
        n - 3,
        "the rest waited, then were refused unverified"
    );
}

#[test]
fn in_flight_attempts_wait_and_are_not_failures() {
    let w = MpinWorld::new(2);
    let ctx = w.context(ServerPolicy::default());
    let cred = w.credential(ID, 1234, Some(today()));
    let id = HashedId::of(ID);
    let rules = ctx.policy.lockout();
    // Three attempts in flight (e.g. three connections of the user verifying at once).
    for _ in 0..3 {
        assert_eq!(ctx.failures.begin(&id, NOW, &rules), Gate::Go);
    }
    let mut client = Client::new(&cred, Pin::new(1234).unwrap());
    let mut server = Server::new(ctx.clone());
    let ch = server
        .hello(&client.hello(&mut OsRng).unwrap(), NOW, &mut OsRng)
        .unwrap();
    let (resp, _) = client.challenge(&ch).unwrap();
    let before = pairings_on_this_thread();
    assert_eq!(server.response(&resp, NOW).unwrap_err(), AuthError::Busy);
    assert_eq!(pairings_on_this_thread(), before, "not verified early");
    assert_eq!(
        standing(&ctx, NOW).failures,
        0,
        "in flight is not a failure"
    );
    ctx.failures.finish(&id, Outcome::Success, NOW, &rules);
    assert!(
        server.response(&resp, NOW).is_ok(),
        "state kept for the retry"
    );
    for _ in 0..2 {
        ctx.failures.finish(&id, Outcome::Released, NOW, &rules);
    }
    assert_eq!(
        standing(&ctx, NOW),
        Standing::default(),
        "every slot released"
    );
}

#[test]
fn many_concurrent_genuine_logins_all_succeed() {
    let w = MpinWorld::new(2);
    let ctx = w.context(ServerPolicy::default());
    let cred = Arc::new(w.credential(ID, 1234, Some(today())));
    let n = 12;
    let barrier = Arc::new(Barrier::new(n));
    let threads: Vec<_> = (0..n)
        .map(|_| {
            let (ctx, cred, barrier) = (ctx.clone(), cred.clone(), barrier.clone());
            std::thread::spawn(move || {
                let mut client = Client::new(cred, Pin::new(1234).unwrap());
                let mut server = Server::new(ctx);
                let ch = server
                    .hello(&client.hello(&mut OsRng).unwrap(), NOW, &mut OsRng)
                    .unwrap();
                let (resp, _) = client.challenge(&ch).unwrap();
                barrier.wait();
                respond(&mut server, &resp, NOW).0.map(|_| ())
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), Ok(()));
    }
    assert_eq!(standing(&ctx, NOW), Standing::default());
}

#[test]
fn replay_entries_are_written_only_after_the_proof_verified() {
    let w = MpinWorld::new(2);
    let mut ctx = w.context(ServerPolicy::default());
    let cache = Arc::new(MemoryReplayCache::new(1));
    ctx.replay = cache.clone();
    let cred = w.credential(ID, 9, Some(today()));
    let fake = MpinWorld::new(2).credential(ID, 9, Some(today()));
    // A flood of fresh hellos that do not verify takes no room.
    for i in 0..20 {
        let err = one_pass(&fake, 9, &ctx, NOW + i, b"").unwrap_err();
        assert!(matches!(err, AuthError::BadProof { .. }), "{err}");
    }
    assert!(cache.is_empty());
    // The genuine hello is recorded, and its replay refused before any pairing.
    let mut client = Client::new(&cred, Pin::new(9).unwrap());
    let hello = client.one_pass_hello(NOW, b"", &mut OsRng).unwrap();
    assert!(Server::new(ctx.clone())
        .one_pass(&hello, NOW, &mut OsRng)
        .is_ok());
    assert_eq!(cache.len(), 1);
    let before = pairings_on_this_thread();
    assert_eq!(
        Server::new(ctx)
            .one_pass(&hello, NOW, &mut OsRng)
            .unwrap_err(),
        AuthError::Replay
    );
    assert_eq!(pairings_on_this_thread(), before);
}

#[test]
fn every_well_formed_hello_gets_a_challenge_and_policy_refusals_come_after_the_response() {
    let w = MpinWorld::new(2);
    let only_bob: policy::IdentityFilter = Arc::new(|id: &[u8]| id == b"bob");
    let ctx = w.context(ServerPolicy {
        identity_filter: Some(only_bob),
        ..ServerPolicy::default()
    });
    let cases = [
        (w.credential(ID, 7, Some(today())), AuthError::NotAllowed),
        (w.credential(b"bob", 7, None), AuthError::PermitRequired),
        (
            w.credential(b"bob", 7, Some(today() - 3)),
            AuthError::PermitDay {
                client: today() - 3,
                server: today(),
            },
        ),
    ];
    for (cred, want) in cases {
        let mut client = Client::new(&cred, Pin::new(7).unwrap());
        let mut server = Server::new(ctx.clone());
        let before = pairings_on_this_thread();
        let ch = server.hello(&client.hello(&mut OsRng).unwrap(), NOW, &mut OsRng);
        let (resp, _) = client
            .challenge(&ch.expect("a challenge for everyone"))
            .unwrap();
        assert_eq!(server.response(&resp, NOW).unwrap_err(), want);
        assert_eq!(pairings_on_this_thread(), before, "refused before pairing");
    }
}

/// A replay cache whose read-only lookup always misses, as when two servers sharing one
/// store verify the same hello at the same moment.
struct RacingCache(MemoryReplayCache);

impl ReplayCache for RacingCache {
    fn contains(&self, _: &[u8; 32], _: u64) -> bool {
        false
    }
    fn insert_new(&self, key: [u8; 32], now: u64, expires: u64) -> bool {
        self.0.insert_new(key, now, expires)
    }
}

#[test]
fn a_replay_that_wins_the_lookup_race_is_refused_at_the_atomic_insert() {
    let w = MpinWorld::new(2);
    let mut ctx = w.context(ServerPolicy::default());
    ctx.replay = Arc::new(RacingCache(MemoryReplayCache::default()));
    let cred = w.credential(ID, 9, Some(today()));
    let mut client = Client::new(&cred, Pin::new(9).unwrap());
    let hello = client.one_pass_hello(NOW, b"", &mut OsRng).unwrap();
    assert!(Server::new(ctx.clone())
        .one_pass(&hello, NOW, &mut OsRng)
        .is_ok());
    assert_eq!(
        Server::new(ctx.clone())
            .one_pass(&hello, NOW, &mut OsRng)
            .unwrap_err(),
        AuthError::Replay
    );
    assert_eq!(standing(&ctx, NOW), Standing::default(), "slot released");
}
