//! The credential's cache of PIN-combined secrets (`TOKEN + pin·A`, `SEC`) is used only for
//! the PIN, permit day and identity it was made for, also under concurrent runs; the
//! client's key pairing runs only after `T` was validated.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use common::*;
use mpin_kex::*;
use rand_core::OsRng;

/// PIN-error detection on, no lockout: every wrong PIN reports its distance.
fn detecting(w: &MpinWorld) -> ServerContext {
    w.context(ServerPolicy {
        pin_error_detection: true,
        lockout_after: u32::MAX,
        ..Default::default()
    })
}

fn pin_error(r: Result<(Session, Session), AuthError>) -> Option<i32> {
    match r {
        Err(AuthError::BadProof { pin_error, .. }) => pin_error,
        other => panic!("expected a bad proof, got {:?}", other.map(|_| ())),
    }
}

#[test]
fn a_cached_pin_secret_is_never_used_for_another_pin() {
    let w = MpinWorld::new(2);
    let ctx = detecting(&w);
    let cred = w.credential(ID, 1234, Some(today()));
    for _ in 0..2 {
        let (c, s) = multi_pass(&cred, 1234, &ctx, NOW).unwrap();
        assert_eq!(c.key.as_bytes(), s.key.as_bytes());
        // the distance shows which PIN the proof was made with (not the cached one)
        assert_eq!(pin_error(multi_pass(&cred, 1243, &ctx, NOW)), Some(9));
        assert_eq!(pin_error(multi_pass(&cred, 1235, &ctx, NOW)), Some(1));
        let (c, s) = one_pass(&cred, 1234, &ctx, NOW, b"m").unwrap();
        assert_eq!(c.key.as_bytes(), s.key.as_bytes());
        assert_eq!(
            pin_error(one_pass(&cred, 1000, &ctx, NOW, b"m")),
            Some(-234)
        );
    }
}

#[test]
fn a_cached_pin_secret_is_never_used_for_another_day() {
    let w = MpinWorld::new(2);
    let ctx = w.context(ServerPolicy::default());
    let mut cred = w.credential(ID, 1234, Some(today()));
    multi_pass(&cred, 1234, &ctx, NOW).unwrap();
    // tomorrow's permit: SEC must include tomorrow's TP, not the cached one
    let tomorrow = NOW + 86_400;
    cred.set_permit(Some(w.permit(ID, today() + 1)));
    let (c, s) = multi_pass(&cred, 1234, &ctx, tomorrow).unwrap();
    assert_eq!(c.key.as_bytes(), s.key.as_bytes());
    // and back: today's permit again, today
    cred.set_permit(Some(w.permit(ID, today())));
    let (c, s) = one_pass(&cred, 1234, &ctx, NOW, b"").unwrap();
    assert_eq!(c.key.as_bytes(), s.key.as_bytes());
    // no permit, on a server without permits
    cred.set_permit(None);
    let no_permits = w.context(ServerPolicy {
        require_permits: false,
        ..Default::default()
    });
    let (c, s) = multi_pass(&cred, 1234, &no_permits, NOW).unwrap();
    assert_eq!((c.day, s.day), (0, 0));
    assert_eq!(c.key.as_bytes(), s.key.as_bytes());
}

#[test]
fn each_identity_uses_its_own_secrets() {
    let w = MpinWorld::new(2);
    let ctx = w.context(ServerPolicy::default());
    let alice = w.credential(ID, 1234, Some(today()));
    let bob = w.credential(b"bob@example.com", 1234, Some(today()));
    for _ in 0..2 {
        for (cred, id) in [(&alice, ID), (&bob, &b"bob@example.com"[..])] {
            let (c, s) = multi_pass(cred, 1234, &ctx, NOW).unwrap();
            assert_eq!(s.identity, id);
            assert_eq!(c.key.as_bytes(), s.key.as_bytes());
        }
    }
}

/// One credential shared by threads that use different PINs at the same time: each run gets
/// the secrets of its own PIN, whatever the cache held when it started.
#[test]
fn concurrent_runs_with_different_pins_each_use_their_own_pin() {
    let w = MpinWorld::new(2);
    let ctx = detecting(&w);
    let cred = Arc::new(w.credential(ID, 1234, Some(today())));
    let threads: Vec<_> = [1234u32, 1243, 1234, 1200]
        .into_iter()
        .map(|pin| {
            let (cred, ctx) = (Arc::clone(&cred), ctx.clone());
            std::thread::spawn(move || {
                for _ in 0..3 {
                    let r = multi_pass(&cred, pin, &ctx, NOW);
                    if pin == 1234 {
                        let (c, s) = r.unwrap();
                        assert_eq!(c.key.as_bytes(), s.key.as_bytes());
                    } else {
                        assert_eq!(pin_error(r), Some(pin as i32 - 1234));
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn a_bad_t_is_refused_before_the_clients_key() {
    let w = MpinWorld::new(2);
    let ctx = w.context(ServerPolicy::default());
    let cred = w.credential(ID, 1234, Some(today()));
    let mut client = Client::new(&cred, Pin::new(1234).unwrap());
    let ch = Server::new(ctx.clone())
        .hello(&client.hello(&mut OsRng).unwrap(), NOW, &mut OsRng)
        .unwrap();
    let mut off_curve = ch.t;
    off_curve[96] ^= 1;
    let mut c = Client::new(&cred, Pin::new(1234).unwrap());
    c.hello(&mut OsRng).unwrap();
    let before = client_keys_on_this_thread();
    let err = c
        .challenge(&Challenge {
            y: ch.y,
            t: off_curve,
        })
        .unwrap_err();
    assert_eq!(client_keys_on_this_thread(), before, "a key from a bad T");
    assert!(matches!(
        err,
        ClientError::Decode(DecodeError::Point { field: "T", .. })
    ));
    // the genuine challenge costs exactly one client key, and no pairing
    let pairings = pairings_on_this_thread();
    client.challenge(&ch).unwrap();
    assert_eq!(client_keys_on_this_thread(), before + 1);
    assert_eq!(pairings_on_this_thread(), pairings);
}
