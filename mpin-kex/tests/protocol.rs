//! End-to-end runs of the state machines, and every refusal the server must make.

mod common;

use common::*;
use mpin_kex::*;
use rand_core::OsRng;

fn no_permits() -> ServerPolicy {
    ServerPolicy {
        require_permits: false,
        ..ServerPolicy::default()
    }
}

#[test]
fn multi_pass_with_and_without_permits_agree_on_keys() {
    let w = MpinWorld::new(3);
    for (permit, policy) in [
        (Some(today()), ServerPolicy::default()),
        (None, no_permits()),
    ] {
        let cred = w.credential(ID, 1234, permit);
        let (c, s) = multi_pass(&cred, 1234, &w.context(policy), NOW).unwrap();
        assert_eq!(c.key, s.key);
        assert_eq!(c.transcript_hash, s.transcript_hash);
        assert_eq!(s.identity, ID);
        assert_eq!(s.mode, Mode::MultiPass);
        assert_eq!(s.day, permit.unwrap_or(0));
    }
}

#[test]
fn one_pass_with_and_without_permits_agree_on_keys() {
    let w = MpinWorld::new(2);
    for (permit, policy) in [
        (Some(today()), ServerPolicy::default()),
        (None, no_permits()),
    ] {
        let cred = w.credential(ID, 42, permit);
        let (c, s) = one_pass(&cred, 42, &w.context(policy), NOW, b"server.example").unwrap();
        assert_eq!(c.key, s.key);
        assert_eq!(s.mode, Mode::OnePass);
        assert_eq!(s.message, b"server.example");
    }
}

#[test]
fn every_run_gives_a_fresh_key() {
    let w = MpinWorld::new(2);
    let cred = w.credential(ID, 1, Some(today()));
    let ctx = w.context(ServerPolicy::default());
    let (a, _) = multi_pass(&cred, 1, &ctx, NOW).unwrap();
    let (b, _) = multi_pass(&cred, 1, &ctx, NOW).unwrap();
    assert_ne!(a.key, b.key);
}

#[test]
fn client_secret_from_n_minus_1_of_n_shares_fails() {
    let w = MpinWorld::new(3);
    let h = HashedId::of(ID);
    let partial = ClientSecret::combine(
        &w.dtas[..2]
            .iter()
            .map(|d| d.client_secret_share(&h))
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let token = Token::extract(&partial, ID, &Pin::new(1234).unwrap()).unwrap();
    let cred = Credential::new(ID, token, Some(w.permit(ID, today()))).unwrap();
    let err = multi_pass(&cred, 1234, &w.context(ServerPolicy::default()), NOW).unwrap_err();
    assert_eq!(
        err,
        AuthError::BadProof {
            pin_error: None,
            genuine_token: false
        }
    );
}

#[test]
fn permit_from_n_minus_1_of_n_shares_fails() {
    let w = MpinWorld::new(3);
    let h = HashedId::of(ID);
    let tp = TimePermit::combine(
        &w.dtas[1..]
            .iter()
            .map(|d| d.time_permit_share(&h, today()).unwrap())
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let token = Token::extract(&w.client_secret(ID), ID, &Pin::new(1).unwrap()).unwrap();
    let cred = Credential::new(ID, token, Some(tp)).unwrap();
    let err = multi_pass(&cred, 1, &w.context(ServerPolicy::default()), NOW).unwrap_err();
    assert_eq!(
        err,
        AuthError::BadProof {
            pin_error: None,
            genuine_token: false
        },
        "a wrong permit is not counted against the identity"
    );
}

#[test]
fn wrong_pin_fails_and_pin_error_detection_measures_the_distance() {
    let w = MpinWorld::new(2);
    let cred = w.credential(ID, 1234, Some(today()));
    let err = multi_pass(&cred, 1235, &w.context(ServerPolicy::default()), NOW).unwrap_err();
    assert_eq!(
        err,
        AuthError::BadProof {
            pin_error: None,
            genuine_token: true
        },
        "classified as a wrong PIN, distance not exposed"
    );
    assert!(err.is_token_failure());
    let policy = ServerPolicy {
        pin_error_detection: true,
        ..ServerPolicy::default()
    };
    let err = multi_pass(&cred, 1200, &w.context(policy), NOW).unwrap_err();
    assert_eq!(
        err,
        AuthError::BadProof {
            pin_error: Some(-34),
            genuine_token: true
        }
    );
}

#[test]
fn a_permit_for_another_day_fails() {
    let w = MpinWorld::new(2);
    // Claiming the old day: refused by policy, before any pairing.
    let cred = w.credential(ID, 7, Some(today() - 2));
    let before = pairings_on_this_thread();
    let err = multi_pass(&cred, 7, &w.context(ServerPolicy::default()), NOW).unwrap_err();
    assert_eq!(
        err,
        AuthError::PermitDay {
            client: today() - 2,
            server: today()
        }
    );
    assert_eq!(pairings_on_this_thread(), before);
    // Yesterday's permit relabelled as today's: the proof fails.
    let old = w.permit(ID, today() - 1).to_bytes();
    let mut relabelled = today().to_be_bytes().to_vec();
    relabelled.extend_from_slice(&old[4..]);
    let token = Token::extract(&w.client_secret(ID), ID, &Pin::new(7).unwrap()).unwrap();
    let cred = Credential::new(
        ID,
        token,
        Some(TimePermit::from_bytes(&relabelled).unwrap()),
    )
    .unwrap();
    let err = multi_pass(&cred, 7, &w.context(ServerPolicy::default()), NOW).unwrap_err();
    assert_eq!(
        err,
        AuthError::BadProof {
            pin_error: None,
            genuine_token: false
        }
    );
}

#[test]
fn yesterdays_permit_is_accepted_only_in_the_first_hour() {
    let w = MpinWorld::new(2);
    let cred = w.credential(ID, 7, Some(today() - 1));
    let midnight = NOW - NOW % 86_400;
    assert!(multi_pass(
        &cred,
        7,
        &w.context(ServerPolicy::default()),
        midnight + 1800
    )
    .is_ok());
    let err = multi_pass(
        &cred,
        7,
        &w.context(ServerPolicy::default()),
        midnight + 3600,
    )
    .unwrap_err();
    assert_eq!(
        err,
        AuthError::PermitDay {
            client: today() - 1,
            server: today()
        }
    );
}

#[test]
fn missing_permit_fails_when_required() {
    let w = MpinWorld::new(2);
    let cred = w.credential(ID, 7, None);
    let before = pairings_on_this_thread();
    let err = multi_pass(&cred, 7, &w.context(ServerPolicy::default()), NOW).unwrap_err();
    assert_eq!(err, AuthError::PermitRequired);
    assert_eq!(pairings_on_this_thread(), before);
}

#[test]
fn identities_outside_the_filter_are_refused_before_pairing() {
    let w = MpinWorld::new(2);
    let cred = w.credential(ID, 7, Some(today()));
    let policy = ServerPolicy {
        identity_filter: Some(std::sync::Arc::new(|id: &[u8]| {
            id.ends_with(b"@corp.example")
        })),
        ..ServerPolicy::default()
    };
    let before = pairings_on_this_thread();
    assert_eq!(
        multi_pass(&cred, 7, &w.context(policy), NOW).unwrap_err(),
        AuthError::NotAllowed
    );
    assert_eq!(pairings_on_this_thread(), before);
}

#[test]
fn fourth_attempt_after_three_failures_is_locked_out_without_pairing() {
    let w = MpinWorld::new(2);
    let cred = w.credential(ID, 1111, Some(today()));
    let ctx = w.context(ServerPolicy::default());
    for _ in 0..3 {
        assert!(matches!(
            multi_pass(&cred, 2222, &ctx, NOW),
            Err(AuthError::BadProof { .. })
        ));
    }
    let before = pairings_on_this_thread();
    assert_eq!(
        multi_pass(&cred, 1111, &ctx, NOW).unwrap_err(),
        AuthError::LockedOut {
            failures: 3,
            until: NOW + 300
        }
    );
    assert_eq!(
        pairings_on_this_thread(),
        before,
        "no pairing for a locked identity"
    );
    // Another identity is unaffected; an operator can clear the lock.
    let bob = w.credential(b"bob", 5, Some(today()));
    assert!(multi_pass(&bob, 5, &ctx, NOW).is_ok());
    ctx.failures.clear(&HashedId::of(ID));
    assert!(multi_pass(&cred, 1111, &ctx, NOW).is_ok());
}

#[test]
fn replayed_one_pass_hello_is_rejected() {
    let w = MpinWorld::new(2);
    let cred = w.credential(ID, 9, Some(today()));
    let ctx = w.context(ServerPolicy::default());
    let mut client = Client::new(&cred, Pin::new(9).unwrap());
    let hello = client.one_pass_hello(NOW, b"", &mut OsRng).unwrap();
    assert!(Server::new(ctx.clone())
        .one_pass(&hello, NOW, &mut OsRng)
        .is_ok());
    let before = pairings_on_this_thread();
    assert_eq!(
        Server::new(ctx)
            .one_pass(&hello, NOW + 1, &mut OsRng)
            .unwrap_err(),
        AuthError::Replay
    );
    assert_eq!(pairings_on_this_thread(), before);
}

#[test]
fn stale_and_future_one_pass_timestamps_are_rejected() {
    let w = MpinWorld::new(2);
    let cred = w.credential(ID, 9, Some(today()));
    let ctx = w.context(ServerPolicy::default());
    for skewed in [NOW - 301, NOW + 301] {
        let err = one_pass(&cred, 9, &ctx, skewed, b"").map(|_| ());
        // client stamped `skewed`, server clock is NOW
        let mut client = Client::new(&cred, Pin::new(9).unwrap());
        let hello = client.one_pass_hello(skewed, b"", &mut OsRng).unwrap();
        let before = pairings_on_this_thread();
        let e = Server::new(ctx.clone())
            .one_pass(&hello, NOW, &mut OsRng)
            .unwrap_err();
        assert_eq!(
            e,
            AuthError::Stale {
                client: skewed,
                skew: 301,
                window: 300
            }
        );
        assert_eq!(pairings_on_this_thread(), before);
        drop(err);
    }
    // Within the window it works.
    let mut client = Client::new(&cred, Pin::new(9).unwrap());
    let hello = client.one_pass_hello(NOW - 299, b"", &mut OsRng).unwrap();
    assert!(Server::new(ctx).one_pass(&hello, NOW, &mut OsRng).is_ok());
}

#[test]
fn an_expired_challenge_is_refused() {
    let w = MpinWorld::new(2);
    let cred = w.credential(ID, 9, Some(today()));
    let mut client = Client::new(&cred, Pin::new(9).unwrap());
    let mut server = Server::new(w.context(ServerPolicy::default()));
    let ch = server
        .hello(&client.hello(&mut OsRng).unwrap(), NOW, &mut OsRng)
        .unwrap();
    let (resp, _) = client.challenge(&ch).unwrap();
    assert_eq!(
        server.response(&resp, NOW + 16).unwrap_err(),
        AuthError::Expired(16)
    );
}

#[test]
fn wrong_order_calls_are_errors_not_panics() {
    let w = MpinWorld::new(1);
    let cred = w.credential(ID, 9, Some(today()));
    let mut client = Client::new(&cred, Pin::new(9).unwrap());
    let ch = Challenge {
        y: [0; 48],
        t: [0; 97],
    };
    assert!(matches!(client.challenge(&ch), Err(ClientError::State(_))));
    assert!(matches!(
        client.one_pass_reply(&OnePassReply { t: [0; 97] }),
        Err(ClientError::State(_))
    ));
    let hello = client.hello(&mut OsRng).unwrap();
    assert!(matches!(
        client.hello(&mut OsRng),
        Err(ClientError::State(_))
    ));
    assert!(matches!(
        client.one_pass_hello(NOW, b"", &mut OsRng),
        Err(ClientError::State(_))
    ));

    let mut server = Server::new(w.context(ServerPolicy::default()));
    assert!(matches!(
        server.response(&Response { v: [0; 97] }, NOW),
        Err(AuthError::State(_))
    ));
    let mut server = Server::new(w.context(ServerPolicy::default()));
    server.hello(&hello, NOW, &mut OsRng).unwrap();
    assert!(matches!(
        server.hello(&hello, NOW, &mut OsRng),
        Err(AuthError::State(_))
    ));
    let mut c2 = Client::new(&cred, Pin::new(9).unwrap());
    let oph = c2.one_pass_hello(NOW, b"", &mut OsRng).unwrap();
    assert!(matches!(
        server.one_pass(&oph, NOW, &mut OsRng),
        Err(AuthError::State(_))
    ));
    // A failed run cannot be continued.
    let mut server = Server::new(w.context(ServerPolicy::default()));
    let mut bad = hello.clone();
    bad.u[5] ^= 1;
    assert!(server.hello(&bad, NOW, &mut OsRng).is_err());
    assert!(matches!(
        server.response(&Response { v: hello.u }, NOW),
        Err(AuthError::State(_))
    ));
}

#[test]
fn one_pass_can_be_disabled() {
    let w = MpinWorld::new(1);
    let cred = w.credential(ID, 9, Some(today()));
    let ctx = w.context(ServerPolicy {
        allow_one_pass: false,
        ..ServerPolicy::default()
    });
    assert!(matches!(
        one_pass(&cred, 9, &ctx, NOW, b""),
        Err(AuthError::State(_))
    ));
}

#[test]
fn client_refuses_out_of_range_clock_and_oversized_message() {
    let w = MpinWorld::new(1);
    let cred = w.credential(ID, 9, Some(today()));
    let mut c = Client::new(&cred, Pin::new(9).unwrap());
    assert_eq!(
        c.one_pass_hello(1 << 31, b"", &mut OsRng).unwrap_err(),
        ClientError::Clock(1 << 31)
    );
    let mut c = Client::new(&cred, Pin::new(9).unwrap());
    assert!(matches!(
        c.one_pass_hello(NOW, &[0u8; 1025], &mut OsRng),
        Err(ClientError::Decode(DecodeError::TooLong {
            field: "message",
            ..
        }))
    ));
}

#[test]
fn a_credential_given_the_next_days_permit_logs_in_on_that_day() {
    let w = MpinWorld::new(2);
    let mut cred = w.credential(ID, 4321, Some(today()));
    let ctx = w.context(ServerPolicy::default());
    multi_pass(&cred, 4321, &ctx, NOW).unwrap();
    // the next day: the old permit is refused, the replaced one (and its points) works
    let tomorrow = NOW + 86_400;
    assert!(matches!(
        multi_pass(&cred, 4321, &ctx, tomorrow),
        Err(AuthError::PermitDay { .. })
    ));
    cred.set_permit(Some(w.permit(ID, today() + 1)));
    let (c, s) = multi_pass(&cred, 4321, &ctx, tomorrow).unwrap();
    assert_eq!(c.key.as_bytes(), s.key.as_bytes());
    // and back to no permit on a server that does not require one
    cred.set_permit(None);
    multi_pass(&cred, 4321, &w.context(no_permits()), tomorrow).unwrap();
}
