//! The permit-mode gap of the lockout, performed and closed: with a time permit the proof is
//! checked against `UT`, so a thief holding the token and a permit can send a random `U` and
//! make every wrong guess "not made with the token". With a source named
//! (`Server::with_source`), such failures lock the pair (identity, source) under the same
//! rules, and only that source.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use mpin_kex::*;
use rand_core::OsRng;

const S: &[u8] = &[127, 0, 0, 1];
const S2: &[u8] = &[127, 0, 0, 2];

fn ctx(w: &MpinWorld) -> ServerContext {
    w.context(ServerPolicy {
        lockout_after: 3,
        lockout_for: Duration::from_secs(60),
        ..ServerPolicy::default()
    })
}

fn server(ctx: &ServerContext, source: Option<&[u8]>) -> Server {
    let s = Server::new(ctx.clone());
    match source {
        Some(src) => s.with_source(src),
        None => s,
    }
}

/// The thief's multi-pass run: the genuine token and permit, `pin`, and a random `U`.
fn thief_multi(
    cred: &Credential,
    pin: u32,
    ctx: &ServerContext,
    source: Option<&[u8]>,
    now: u64,
) -> Result<Session, AuthError> {
    let mut client = Client::new(cred, Pin::new(pin).unwrap());
    let mut hello = client.hello(&mut OsRng).unwrap();
    assert!(hello.ut.is_some(), "the thief holds a permit");
    hello.u = random_u(&hello.u);
    let mut server = server(ctx, source);
    let ch = server.hello(&Hello::decode(&hello.encode())?, now, &mut OsRng)?;
    let (resp, _) = client.challenge(&ch).unwrap();
    server.response(&resp, now)
}

/// The thief's one-pass run (`U` is not part of the one-pass challenge either).
fn thief_one_pass(
    cred: &Credential,
    pin: u32,
    ctx: &ServerContext,
    source: Option<&[u8]>,
    now: u64,
) -> Result<Session, AuthError> {
    let mut client = Client::new(cred, Pin::new(pin).unwrap());
    let mut hello = client.one_pass_hello(now, b"", &mut OsRng).unwrap();
    hello.u = random_u(&hello.u);
    let (_, session) = server(ctx, source).one_pass(&hello, now, &mut OsRng)?;
    Ok(session)
}

/// A genuine multi-pass run from `source`.
fn genuine(
    cred: &Credential,
    pin: u32,
    ctx: &ServerContext,
    source: &[u8],
    now: u64,
) -> Result<Session, AuthError> {
    let mut client = Client::new(cred, Pin::new(pin).unwrap());
    let mut server = server(ctx, Some(source));
    let ch = server.hello(&client.hello(&mut OsRng).unwrap(), now, &mut OsRng)?;
    let (resp, _) = client.challenge(&ch).unwrap();
    server.response(&resp, now)
}

fn pair(ctx: &ServerContext, source: &[u8], now: u64) -> Standing {
    ctx.failures
        .standing(&source_pair(&HashedId::of(ID), source), now)
}

fn identity(ctx: &ServerContext, now: u64) -> Standing {
    ctx.failures.standing(&HashedId::of(ID), now)
}

#[test]
fn without_a_source_a_random_u_makes_wrong_pins_unattributable() {
    // The gap itself (what library callers that name no source still have).
    let w = MpinWorld::new(2);
    let ctx = ctx(&w);
    let cred = w.credential(ID, 1234, Some(today()));
    for i in 0..10 {
        let err = thief_multi(&cred, 1000 + i, &ctx, None, NOW).unwrap_err();
        assert!(
            matches!(
                err,
                AuthError::BadProof {
                    genuine_token: false,
                    ..
                }
            ),
            "{err}"
        );
    }
    assert_eq!(identity(&ctx, NOW), Standing::default());
    assert!(
        thief_multi(&cred, 1234, &ctx, None, NOW).is_ok(),
        "the right PIN verifies with a random U"
    );
}

#[test]
fn a_permit_thief_sending_random_u_is_locked_for_its_source_only() {
    let w = MpinWorld::new(2);
    let ctx = ctx(&w);
    let cred = w.credential(ID, 1234, Some(today()));
    for n in 1..=3 {
        let err = thief_multi(&cred, 1000 + n, &ctx, Some(S), NOW).unwrap_err();
        assert!(!err.is_token_failure(), "{err}");
        assert_eq!(pair(&ctx, S, NOW).failures, n);
    }
    let before = pairings_on_this_thread();
    assert_eq!(
        thief_multi(&cred, 1234, &ctx, Some(S), NOW + 1).unwrap_err(),
        AuthError::SourceLockedOut {
            failures: 3,
            until: NOW + 60
        },
        "even the right PIN is refused from the thief's source"
    );
    assert_eq!(pairings_on_this_thread(), before, "refused before pairing");
    assert_eq!(
        thief_one_pass(&cred, 1234, &ctx, Some(S), NOW + 1).unwrap_err(),
        AuthError::SourceLockedOut {
            failures: 3,
            until: NOW + 60
        },
        "one-pass takes the same gate"
    );
    assert_eq!(identity(&ctx, NOW + 1), Standing::default(), "not aimed");
    // The genuine user from another source logs in at once, and does not unlock S.
    assert!(genuine(&cred, 1234, &ctx, S2, NOW + 1).is_ok());
    assert!(pair(&ctx, S, NOW + 1).locked_until.is_some());
    // Expired: one more attempt from S; a wrong one doubles the lockout.
    assert!(thief_one_pass(&cred, 1, &ctx, Some(S), NOW + 60).is_err());
    assert_eq!(
        thief_multi(&cred, 1234, &ctx, Some(S), NOW + 61).unwrap_err(),
        AuthError::SourceLockedOut {
            failures: 3,
            until: NOW + 180
        }
    );
    // After it, a success from S resets the pair.
    assert!(thief_multi(&cred, 1234, &ctx, Some(S), NOW + 180).is_ok());
    assert_eq!(pair(&ctx, S, NOW + 180), Standing::default());
}

#[test]
fn garbage_from_one_source_never_locks_another_or_the_identity() {
    let w = MpinWorld::new(2);
    let ctx = ctx(&w);
    let cred = w.credential(ID, 1234, Some(today()));
    let foreign = MpinWorld::new(2).credential(ID, 1234, Some(today()));
    for i in 0..10 {
        let err = genuine(&foreign, 1234, &ctx, S, NOW).unwrap_err();
        if i < 3 {
            assert!(matches!(err, AuthError::BadProof { .. }), "{err}");
        } else {
            assert!(matches!(err, AuthError::SourceLockedOut { .. }), "{err}");
        }
    }
    assert_eq!(identity(&ctx, NOW), Standing::default());
    assert_eq!(pair(&ctx, S2, NOW), Standing::default());
    assert!(genuine(&cred, 1234, &ctx, S2, NOW).is_ok());
    assert!(
        Server::new(ctx.clone())
            .one_pass(
                &Client::new(&cred, Pin::new(1234).unwrap())
                    .one_pass_hello(NOW, b"", &mut OsRng)
                    .unwrap(),
                NOW,
                &mut OsRng
            )
            .is_ok(),
        "a caller naming no source is not affected"
    );
}

#[test]
fn genuine_wrong_pins_count_against_the_identity_not_the_pair() {
    let w = MpinWorld::new(2);
    let ctx = ctx(&w);
    let cred = w.credential(ID, 1234, Some(today()));
    for n in 1..=2 {
        assert!(genuine(&cred, 1, &ctx, S, NOW)
            .unwrap_err()
            .is_token_failure());
        assert_eq!(identity(&ctx, NOW).failures, n);
    }
    assert_eq!(
        pair(&ctx, S, NOW),
        Standing::default(),
        "pair slot released"
    );
    // two unattributable failures from S, then a success from S resets both
    for _ in 0..2 {
        assert!(thief_multi(&cred, 1, &ctx, Some(S), NOW).is_err());
    }
    assert_eq!(pair(&ctx, S, NOW).failures, 2);
    assert!(genuine(&cred, 1234, &ctx, S, NOW).is_ok());
    assert_eq!(pair(&ctx, S, NOW), Standing::default());
    assert_eq!(identity(&ctx, NOW), Standing::default());
}

#[test]
fn a_busy_pair_waits_and_frees_the_identity_slot() {
    let w = MpinWorld::new(2);
    let ctx = ctx(&w);
    let cred = w.credential(ID, 1234, Some(today()));
    let key = source_pair(&HashedId::of(ID), S);
    let rules = ctx.policy.lockout();
    for _ in 0..3 {
        assert_eq!(ctx.failures.begin(&key, NOW, &rules), Gate::Go);
    }
    let mut client = Client::new(&cred, Pin::new(1234).unwrap());
    let mut server = server(&ctx, Some(S));
    let ch = server
        .hello(&client.hello(&mut OsRng).unwrap(), NOW, &mut OsRng)
        .unwrap();
    let (resp, _) = client.challenge(&ch).unwrap();
    assert_eq!(server.response(&resp, NOW).unwrap_err(), AuthError::Busy);
    assert_eq!(identity(&ctx, NOW).in_flight, 0, "identity slot freed");
    ctx.failures.finish(&key, Outcome::Released, NOW, &rules);
    assert!(
        server.response(&resp, NOW).is_ok(),
        "state kept for the retry"
    );
    for _ in 0..2 {
        ctx.failures.finish(&key, Outcome::Released, NOW, &rules);
    }
    assert_eq!(pair(&ctx, S, NOW), Standing::default());
}
