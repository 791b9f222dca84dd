//! The distributed residual of the pair lockout, performed and bounded: a thief holding the
//! token and a permit who sends a random `U` gets `lockout_after` guesses per source prefix,
//! so it spreads its guesses over many prefixes. The identity's distributed budget
//! (`distributed_lockout_after`) counts those failures across all sources; once spent, every
//! permit-mode attempt for the identity from a named source is refused before any pairing
//! until the lockout expires, and a success resets it. Sources the identity logged in from
//! within `known_source_ttl` are outside the budget: its lock cannot be aimed at them.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::{Arc, Barrier};
use std::time::Duration;

use common::*;
use mpin_kex::*;
use rand_core::OsRng;

/// Pair lockout after 3, distributed budget `budget`, first lockout 60 s.
fn ctx(w: &MpinWorld, budget: u32) -> ServerContext {
    w.context(ServerPolicy {
        lockout_after: 3,
        distributed_lockout_after: budget,
        lockout_for: Duration::from_secs(60),
        ..ServerPolicy::default()
    })
}

/// Source prefix number `i` (opaque bytes, as the tunnel's `SourceKey` encodings).
fn src(i: u32) -> Vec<u8> {
    [&[4u8][..], &(0x7f00_0000 + i).to_be_bytes()].concat()
}

/// The thief's multi-pass run from `source`: the genuine token and permit, `pin`, a random `U`.
fn thief(
    cred: &Credential,
    pin: u32,
    ctx: &ServerContext,
    source: &[u8],
    now: u64,
) -> Result<Session, AuthError> {
    let mut client = Client::new(cred, Pin::new(pin).unwrap());
    let mut hello = client.hello(&mut OsRng).unwrap();
    assert!(hello.ut.is_some(), "the thief holds a permit");
    hello.u = random_u(&hello.u);
    let mut server = Server::new(ctx.clone()).with_source(source);
    let ch = server.hello(&hello, now, &mut OsRng)?;
    let (resp, _) = client.challenge(&ch).unwrap();
    server.response(&resp, now)
}

/// The thief's one-pass run from `source`.
fn thief_one_pass(
    cred: &Credential,
    pin: u32,
    ctx: &ServerContext,
    source: &[u8],
    now: u64,
) -> Result<Session, AuthError> {
    let mut client = Client::new(cred, Pin::new(pin).unwrap());
    let mut hello = client.one_pass_hello(now, b"", &mut OsRng).unwrap();
    hello.u = random_u(&hello.u);
    let (_, session) = Server::new(ctx.clone())
        .with_source(source)
        .one_pass(&hello, now, &mut OsRng)?;
    Ok(session)
}

/// A multi-pass run with `cred` (genuine `U`) from `source`.
fn login(
    cred: &Credential,
    pin: u32,
    ctx: &ServerContext,
    source: &[u8],
    now: u64,
) -> Result<Session, AuthError> {
    let mut client = Client::new(cred, Pin::new(pin).unwrap());
    let mut server = Server::new(ctx.clone()).with_source(source);
    let ch = server.hello(&client.hello(&mut OsRng).unwrap(), now, &mut OsRng)?;
    let (resp, _) = client.challenge(&ch).unwrap();
    server.response(&resp, now)
}

fn budget(ctx: &ServerContext, now: u64) -> Standing {
    ctx.failures
        .standing(&distributed_key(&HashedId::of(ID)), now)
}

fn identity(ctx: &ServerContext, now: u64) -> Standing {
    ctx.failures.standing(&HashedId::of(ID), now)
}

fn unattributed(r: &Result<Session, AuthError>) -> bool {
    matches!(
        r,
        Err(AuthError::BadProof {
            genuine_token: false,
            ..
        })
    )
}

#[test]
fn a_thief_spreading_random_u_guesses_over_many_sources_is_refused_after_the_budget() {
    let w = MpinWorld::new(2);
    let ctx = ctx(&w, 9);
    let cred = w.credential(ID, 1234, Some(today()));
    // One wrong guess from each of many fresh sources: no pair ever locks.
    let mut verified = 0;
    let mut next = 0;
    for i in 0..20 {
        next = i + 1;
        let r = thief(&cred, 1000 + i, &ctx, &src(i), NOW);
        if unattributed(&r) {
            verified += 1;
            continue;
        }
        assert_eq!(
            r.unwrap_err(),
            AuthError::DistributedLockedOut {
                failures: 9,
                until: NOW + 60
            }
        );
        break;
    }
    assert_eq!(verified, 9, "the thief got exactly the budget verified");
    assert_eq!(next, 10, "refused at the first attempt past the budget");
    // The right PIN from a fresh source is refused, before any pairing, both modes.
    let before = pairings_on_this_thread();
    assert!(matches!(
        thief(&cred, 1234, &ctx, &src(100), NOW + 1),
        Err(AuthError::DistributedLockedOut { failures: 9, .. })
    ));
    assert!(matches!(
        thief_one_pass(&cred, 1234, &ctx, &src(101), NOW + 1),
        Err(AuthError::DistributedLockedOut { failures: 9, .. })
    ));
    assert_eq!(pairings_on_this_thread(), before, "refused before pairing");
    assert_eq!(
        identity(&ctx, NOW + 1),
        Standing::default(),
        "identity not counted"
    );
    // The documented price: the genuine user (with a permit) is refused too, until expiry.
    assert!(matches!(
        login(&cred, 1234, &ctx, &src(102), NOW + 1),
        Err(AuthError::DistributedLockedOut { .. })
    ));
    // Expired: one more attempt; a wrong one locks again for twice as long.
    assert!(unattributed(&thief(&cred, 1, &ctx, &src(103), NOW + 60)));
    assert_eq!(
        thief(&cred, 1234, &ctx, &src(104), NOW + 61).unwrap_err(),
        AuthError::DistributedLockedOut {
            failures: 9,
            until: NOW + 180
        }
    );
    // After it, a genuine success resets the budget.
    assert!(login(&cred, 1234, &ctx, &src(105), NOW + 180).is_ok());
    assert_eq!(budget(&ctx, NOW + 180), Standing::default());
}

#[test]
fn parallel_guesses_from_distinct_sources_never_exceed_the_budget() {
    let w = MpinWorld::new(2);
    let ctx = ctx(&w, 4);
    let cred = Arc::new(w.credential(ID, 1234, Some(today())));
    let n = 10;
    let barrier = Arc::new(Barrier::new(n));
    let threads: Vec<_> = (0..n as u32)
        .map(|i| {
            let (ctx, cred, barrier) = (ctx.clone(), cred.clone(), barrier.clone());
            std::thread::spawn(move || {
                let mut client = Client::new(cred, Pin::new(2000 + i).unwrap());
                let mut hello = client.hello(&mut OsRng).unwrap();
                hello.u = random_u(&hello.u);
                let mut server = Server::new(ctx).with_source(&src(i));
                let ch = server.hello(&hello, NOW, &mut OsRng).unwrap();
                let (resp, _) = client.challenge(&ch).unwrap();
                barrier.wait();
                // retry while Busy (bounded)
                for _ in 0..20_000 {
                    match server.response(&resp, NOW) {
                        Err(AuthError::Busy) => std::thread::sleep(Duration::from_millis(1)),
                        r => return r,
                    }
                }
                Err(AuthError::Busy)
            })
        })
        .collect();
    let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let verified = results.iter().filter(|r| unattributed(r)).count();
    let refused = results
        .iter()
        .filter(|r| matches!(r, Err(AuthError::DistributedLockedOut { .. })))
        .count();
    assert_eq!(verified, 4, "exactly the budget was verified: {results:?}");
    assert_eq!(
        refused,
        n - 4,
        "the rest waited, then were refused unverified"
    );
}

#[test]
fn a_genuine_success_resets_the_budget_and_token_failures_do_not_spend_it() {
    let w = MpinWorld::new(2);
    let ctx = ctx(&w, 9);
    let cred = w.credential(ID, 1234, Some(today()));
    for i in 0..8 {
        assert!(unattributed(&thief(&cred, 1, &ctx, &src(i), NOW)));
    }
    assert_eq!(budget(&ctx, NOW).failures, 8);
    // a wrong PIN with the genuine token counts against the identity only
    assert!(login(&cred, 1, &ctx, &src(50), NOW)
        .unwrap_err()
        .is_token_failure());
    assert_eq!(budget(&ctx, NOW).failures, 8);
    assert_eq!(identity(&ctx, NOW).failures, 1);
    assert!(login(&cred, 1234, &ctx, &src(51), NOW).is_ok());
    assert_eq!(
        budget(&ctx, NOW),
        Standing::default(),
        "reset by the success"
    );
    assert_eq!(identity(&ctx, NOW), Standing::default());
    for i in 0..8 {
        assert!(unattributed(&thief(&cred, 1, &ctx, &src(i + 8), NOW)));
    }
    assert!(
        login(&cred, 1234, &ctx, &src(52), NOW).is_ok(),
        "budget counted anew"
    );
}

#[test]
fn an_attacker_without_the_token_needs_many_sources_to_lock_the_victim_out() {
    let w = MpinWorld::new(2);
    let ctx = ctx(&w, 9);
    let cred = w.credential(ID, 1234, Some(today()));
    let foreign = MpinWorld::new(2).credential(ID, 1234, Some(today()));
    // From one source: the pair locks after 3, the budget is not reached.
    for i in 0..10 {
        let err = login(&foreign, 1234, &ctx, &src(0), NOW).unwrap_err();
        if i < 3 {
            assert!(matches!(err, AuthError::BadProof { .. }), "{err}");
        } else {
            assert!(matches!(err, AuthError::SourceLockedOut { .. }), "{err}");
        }
    }
    assert_eq!(budget(&ctx, NOW).failures, 3);
    assert!(
        login(&cred, 1234, &ctx, &src(99), NOW).is_ok(),
        "victim not locked"
    );
    // From ceil(9 / 3) = 3 sources (fresh after the success), it can lock the victim's
    // logins from *new* networks: the documented trade-off (its known src(99) stays open).
    for s in 1..=3 {
        for _ in 0..3 {
            assert!(login(&foreign, 1234, &ctx, &src(s), NOW).is_err());
        }
    }
    assert!(matches!(
        login(&cred, 1234, &ctx, &src(98), NOW).unwrap_err(),
        AuthError::DistributedLockedOut { failures: 9, .. }
    ));
    // ...only for the lockout period.
    assert!(login(&cred, 1234, &ctx, &src(98), NOW + 60).is_ok());
}

#[test]
fn a_zero_budget_turns_it_off_and_no_source_named_takes_no_budget() {
    let w = MpinWorld::new(2);
    let off = ctx(&w, 0);
    let cred = w.credential(ID, 1234, Some(today()));
    for i in 0..6 {
        assert!(unattributed(&thief(&cred, 1, &off, &src(i), NOW)));
    }
    assert_eq!(budget(&off, NOW), Standing::default());
    assert!(thief(&cred, 1234, &off, &src(7), NOW).is_ok());
    // Without a source the pair and the budget do not apply (one network could spend it).
    let on = ctx(&w, 2);
    for _ in 0..4 {
        let mut client = Client::new(&cred, Pin::new(1).unwrap());
        let mut hello = client.hello(&mut OsRng).unwrap();
        hello.u = random_u(&hello.u);
        let mut server = Server::new(on.clone());
        let ch = server.hello(&hello, NOW, &mut OsRng).unwrap();
        let (resp, _) = client.challenge(&ch).unwrap();
        assert!(unattributed(&server.response(&resp, NOW)));
    }
    assert_eq!(budget(&on, NOW), Standing::default());
}

fn known(ctx: &ServerContext, source: &[u8], now: u64) -> Option<u64> {
    ctx.failures.known_at(
        &known_source(&HashedId::of(ID), source),
        now,
        ctx.policy.known_source_ttl,
    )
}

/// An attacker without the token (a credential for the identity from other D-TAs) fails
/// `lockout_after` times from each of `sources`, spending the budget of 9.
fn spend_budget_without_the_token(ctx: &ServerContext, sources: std::ops::Range<u32>, now: u64) {
    let foreign = MpinWorld::new(2).credential(ID, 1234, Some(today()));
    for s in sources {
        for _ in 0..3 {
            assert!(unattributed(&login(&foreign, 1234, ctx, &src(s), now)));
        }
    }
    assert!(
        budget(ctx, now).locked_until.is_some(),
        "the budget is spent: {:?}",
        budget(ctx, now)
    );
}

#[test]
fn a_distributed_attacker_cannot_lock_the_victim_out_of_its_known_source() {
    let w = MpinWorld::new(2);
    let ctx = ctx(&w, 9);
    let cred = w.credential(ID, 1234, Some(today()));
    assert!(
        login(&cred, 1234, &ctx, &src(99), NOW).is_ok(),
        "the victim's usual network"
    );
    assert_eq!(
        known(&ctx, &src(99), NOW),
        Some(NOW),
        "a verified success marks it"
    );
    // The attack: fresh sources 1..=3 spend the budget (each pair locks after 3).
    spend_budget_without_the_token(&ctx, 1..4, NOW + 10);
    for s in 1..4 {
        assert_eq!(
            known(&ctx, &src(s), NOW + 10),
            None,
            "a failure never marks a source"
        );
    }
    // The victim from its known source logs in at once, both modes.
    assert!(login(&cred, 1234, &ctx, &src(99), NOW + 11).is_ok());
    let mut client = Client::new(&cred, Pin::new(1234).unwrap());
    let hello = client.one_pass_hello(NOW + 11, b"m", &mut OsRng).unwrap();
    assert!(Server::new(ctx.clone())
        .with_source(&src(99))
        .one_pass(&hello, NOW + 11, &mut OsRng)
        .is_ok());
    // ...without lifting the lock for everyone else: a fresh source with the right PIN (a
    // thief on a new network, or the victim there) is still refused before any pairing.
    assert!(
        budget(&ctx, NOW + 11).locked_until.is_some(),
        "not reset by a known source"
    );
    let before = pairings_on_this_thread();
    assert!(matches!(
        thief(&cred, 1234, &ctx, &src(50), NOW + 11),
        Err(AuthError::DistributedLockedOut { failures: 9, .. })
    ));
    assert!(matches!(
        login(&cred, 1234, &ctx, &src(51), NOW + 11),
        Err(AuthError::DistributedLockedOut { failures: 9, .. })
    ));
    assert_eq!(pairings_on_this_thread(), before, "refused before pairing");
    assert_eq!(known(&ctx, &src(51), NOW + 11), None);
}

#[test]
fn a_known_source_stays_subject_to_its_pair_and_identity_lockouts() {
    let w = MpinWorld::new(2);
    let ctx = ctx(&w, 9);
    let cred = w.credential(ID, 1234, Some(today()));
    assert!(login(&cred, 1234, &ctx, &src(99), NOW).is_ok());
    spend_budget_without_the_token(&ctx, 1..4, NOW);
    // A thief with the token and a permit on the known network (random `U`): its pair
    // locks after 3 guesses; the budget is neither consulted nor spent.
    for i in 0..3 {
        assert!(unattributed(&thief(
            &cred,
            1000 + i,
            &ctx,
            &src(99),
            NOW + 1
        )));
    }
    assert_eq!(
        budget(&ctx, NOW + 1).failures,
        9,
        "not counted against the budget"
    );
    assert_eq!(
        thief(&cred, 1234, &ctx, &src(99), NOW + 1).unwrap_err(),
        AuthError::SourceLockedOut {
            failures: 3,
            until: NOW + 61
        }
    );
    // Wrong PINs with the genuine token from a known source lock the identity, as anywhere.
    let ctx = self::ctx(&w, 9);
    assert!(login(&cred, 1234, &ctx, &src(99), NOW).is_ok());
    spend_budget_without_the_token(&ctx, 1..4, NOW);
    for _ in 0..3 {
        assert!(login(&cred, 1, &ctx, &src(99), NOW + 1)
            .unwrap_err()
            .is_token_failure());
    }
    assert!(matches!(
        login(&cred, 1234, &ctx, &src(99), NOW + 1),
        Err(AuthError::LockedOut { failures: 3, .. })
    ));
}

#[test]
fn known_source_marks_expire_after_the_ttl_on_the_callers_clock() {
    let w = MpinWorld::new(2);
    let ctx = w.context(ServerPolicy {
        lockout_after: 3,
        distributed_lockout_after: 9,
        lockout_for: Duration::from_secs(600),
        known_source_ttl: Duration::from_secs(100),
        ..ServerPolicy::default()
    });
    let cred = w.credential(ID, 1234, Some(today()));
    assert!(login(&cred, 1234, &ctx, &src(98), NOW).is_ok());
    assert!(login(&cred, 1234, &ctx, &src(99), NOW + 1).is_ok());
    spend_budget_without_the_token(&ctx, 1..4, NOW + 100);
    // src(98) succeeded 100 s ago: expired; src(99) 99 s ago: still known.
    assert_eq!(known(&ctx, &src(98), NOW + 100), None);
    assert!(matches!(
        login(&cred, 1234, &ctx, &src(98), NOW + 100),
        Err(AuthError::DistributedLockedOut { .. })
    ));
    assert!(login(&cred, 1234, &ctx, &src(99), NOW + 100).is_ok());
    assert_eq!(
        known(&ctx, &src(99), NOW + 199),
        Some(NOW + 100),
        "renewed by the success"
    );
    // Zero turns the exemption off: no source is ever known.
    let off = w.context(ServerPolicy {
        known_source_ttl: Duration::ZERO,
        ..ctx.policy.clone()
    });
    assert!(login(&cred, 1234, &off, &src(99), NOW).is_ok());
    spend_budget_without_the_token(&off, 1..4, NOW);
    assert!(matches!(
        login(&cred, 1234, &off, &src(99), NOW),
        Err(AuthError::DistributedLockedOut { .. })
    ));
}
