//! The P2P channel in memory (no sockets, no runtime): the sans-IO initiator and responder
//! pumped into each other with their jobs run inline, so `pairings_on_this_thread` counts
//! every pairing either side computes. Links, both identities, and every refusal of
//! P2P-SPEC §12 before any pairing (impostors and splicing: `p2p_binding.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod p2p_common;

use std::sync::Arc;

use milagro_tls::mpin::frame::{self, FrameType};
use milagro_tls::mpin::{Handshake, MpinError, Peer, Status};
use milagro_tls::p2p::{P2pClientConnection, PREFACE};
use mpin_kex::pairings_on_this_thread;
use mpin_kex::wcc::{P2pHello, P2pReply, WccError};
use p2p_common::*;

fn is_failure_frame(bytes: &[u8]) -> bool {
    bytes == [0x7f, 0, 0, 0]
}

#[test]
fn link_carries_data_both_ways_and_both_sides_learn_both_identities() {
    let d = Dtas::new();
    let (mut c, mut s) = conns(d.client(ALICE, BOB), d.server(BOB));
    let before = pairings_on_this_thread();
    let (rc, rs) = pump(&mut c, &mut s, |_, b| b);
    assert!(rc.unwrap() && rs.unwrap());
    // the counter the refusal tests rely on sees both sides' pairing work
    assert!(pairings_on_this_thread() >= before + 2);
    let (mut ct, cp) = c.into_parts().unwrap();
    let (mut st, sp) = s.into_parts().unwrap();
    let want = Peer::P2p {
        initiator: ALICE.to_vec(),
        responder: BOB.to_vec(),
        day: DAY,
    };
    assert_eq!(cp, want);
    assert_eq!(sp, want);
    assert_eq!(sp.identity(), ALICE);
    // exactly one PSK offered and used: the imported one, in a full handshake
    assert_eq!(ct.psk_identity(), st.psk_identity());
    assert!(!st.resumed());
    ct.write_plaintext(b"ping from alice").unwrap();
    st.read_tls(&ct.take_tls());
    st.process_new_packets().unwrap();
    let mut buf = [0u8; 64];
    let n = st.read_plaintext(&mut buf);
    assert_eq!(&buf[..n], b"ping from alice");
    st.write_plaintext(b"pong from bob").unwrap();
    ct.read_tls(&st.take_tls());
    ct.process_new_packets().unwrap();
    let n = ct.read_plaintext(&mut buf);
    assert_eq!(&buf[..n], b"pong from bob");
}

#[test]
fn link_without_permits_on_day_zero() {
    let d = Dtas::new();
    let mut client = d.client(ALICE, BOB);
    client.permit = None;
    let mut server = d.server(BOB);
    server.responder = Some(d.responder(BOB, None));
    let (mut c, mut s) = conns(client, server);
    let (rc, rs) = pump(&mut c, &mut s, |_, b| b);
    assert!(rc.unwrap() && rs.unwrap());
    let (_, peer) = s.into_parts().unwrap();
    assert!(matches!(peer, Peer::P2p { day: 0, .. }));
}

/// Pumps a link whose first flight (HELLO) `f` rewrites; the responder must refuse it with
/// the one FAILURE frame and no pairing, the initiator see [`MpinError::PeerRefused`].
fn refused_before_pairing(
    client: milagro_tls::p2p::P2pClientConfig,
    server: milagro_tls::p2p::P2pServerConfig,
    mut f: impl FnMut(Vec<u8>) -> Vec<u8>,
) -> MpinError {
    let (mut c, mut s) = conns(client, server);
    assert!(!settle(&mut c).unwrap());
    let hello = f(c.take_output());
    s.read_input(&hello);
    let before = pairings_on_this_thread();
    let err = settle(&mut s).unwrap_err();
    assert_eq!(
        pairings_on_this_thread(),
        before,
        "{err}: a pairing before the refusal"
    );
    assert!(s.refused());
    let out = s.take_output();
    assert!(
        is_failure_frame(&out),
        "one opaque FAILURE frame, got {out:02x?}"
    );
    c.read_input(&out);
    assert!(matches!(settle(&mut c), Err(MpinError::PeerRefused)));
    err
}

#[test]
fn responder_refuses_a_hello_for_another_identity() {
    let d = Dtas::new();
    let e = refused_before_pairing(d.client(ALICE, CAROL), d.server(BOB), |b| b);
    assert!(matches!(e, MpinError::Wcc(WccError::NotForMe)), "{e}");
}

#[test]
fn responder_refuses_an_initiator_outside_its_allow_list() {
    let d = Dtas::new();
    let mut server = d.server(BOB);
    server.allow = Some(Arc::new(|id: &[u8]| id == CAROL));
    let e = refused_before_pairing(d.client(ALICE, BOB), server, |b| b);
    assert!(
        matches!(e, MpinError::PeerNotAllowed(ref who) if who == "device:alice"),
        "{e}"
    );
}

#[test]
fn selfie_refused_on_both_sides() {
    let d = Dtas::new();
    // the initiator will not dial itself
    let cfg = d.client(ALICE, ALICE);
    assert!(matches!(
        P2pClientConnection::new(Arc::new(cfg)),
        Err(MpinError::Wcc(WccError::SelfPeer))
    ));
    // the responder refuses a HELLO claiming its own identity as the initiator
    let e = refused_before_pairing(d.client(ALICE, BOB), d.server(BOB), |b| {
        let mut h = hello_of(&b);
        h.initiator = BOB.to_vec();
        with_hello(&h)
    });
    assert!(matches!(e, MpinError::Wcc(WccError::SelfPeer)), "{e}");
    // the initiator refuses a REPLY reflecting its own identity, before any pairing
    let e = reply_rewritten(&d, |r| r.responder = ALICE.to_vec());
    assert!(matches!(e, MpinError::Wcc(WccError::SelfPeer)), "{e}");
}

/// A genuine exchange whose REPLY is rewritten by `f`: the initiator's error, which must come
/// before any pairing on its side.
fn reply_rewritten(d: &Dtas, f: impl FnOnce(&mut P2pReply)) -> MpinError {
    let mut server = d.server(BOB);
    server.responder = Some(d.responder(BOB, Some(DAY)));
    let mut carol = d.server(CAROL);
    carol.responder = Some(d.responder(CAROL, Some(DAY)));
    let (mut c, mut s) = conns(d.client(ALICE, BOB), server);
    assert!(!settle(&mut c).unwrap());
    s.read_input(&c.take_output());
    assert!(!settle(&mut s).unwrap());
    let mut reply = reply_of(&s.take_output());
    f(&mut reply);
    c.read_input(&with_reply(&reply));
    let before = pairings_on_this_thread();
    let e = settle(&mut c).unwrap_err();
    assert_eq!(
        pairings_on_this_thread(),
        before,
        "{e}: a pairing before the refusal"
    );
    assert!(
        c.take_output().is_empty(),
        "the initiator sends nothing on a refusal"
    );
    e
}

#[test]
fn initiator_refuses_a_reply_from_another_identity() {
    let d = Dtas::new();
    let e = reply_rewritten(&d, |r| r.responder = CAROL.to_vec());
    assert!(matches!(e, MpinError::Wcc(WccError::WrongPeer)), "{e}");
    // a genuine carol answering a hello re-addressed to her is refused just the same
    let (mut c, mut s) = conns(d.client(ALICE, BOB), d.server(CAROL));
    assert!(!settle(&mut c).unwrap());
    let mut h = hello_of(&c.take_output());
    h.responder = CAROL.to_vec();
    s.read_input(&with_hello(&h));
    assert!(!settle(&mut s).unwrap(), "carol answers a hello for carol");
    c.read_input(&s.take_output());
    let before = pairings_on_this_thread();
    assert!(matches!(
        settle(&mut c),
        Err(MpinError::Wcc(WccError::WrongPeer))
    ));
    assert_eq!(pairings_on_this_thread(), before);
}

#[test]
fn invalid_points_refused_before_any_pairing() {
    let d = Dtas::new();
    let g1_infinity = {
        let mut p = [0u8; 97];
        p[0] = 0x40;
        p
    };
    // PaG1: off the curve, the identity, not canonical
    for (name, mutate) in [
        (
            "flipped",
            Box::new(|h: &mut P2pHello| h.pa[50] ^= 1) as Box<dyn Fn(&mut P2pHello)>,
        ),
        (
            "infinity",
            Box::new(move |h: &mut P2pHello| h.pa = g1_infinity),
        ),
        ("prefix", Box::new(|h: &mut P2pHello| h.pa[0] = 0x05)),
    ] {
        let e = refused_before_pairing(d.client(ALICE, BOB), d.server(BOB), |b| {
            let mut h = hello_of(&b);
            mutate(&mut h);
            with_hello(&h)
        });
        assert!(
            matches!(e, MpinError::Wcc(WccError::Decode(_))),
            "PaG1 {name}: {e}"
        );
    }
    // PbG2, PgG1 in the REPLY
    let e = reply_rewritten(&d, |r| r.pb[100] ^= 1);
    assert!(
        matches!(e, MpinError::Wcc(WccError::Decode(_))),
        "PbG2: {e}"
    );
    let e = reply_rewritten(&d, |r| r.pg[60] ^= 1);
    assert!(
        matches!(e, MpinError::Wcc(WccError::Decode(_))),
        "PgG1: {e}"
    );
    let e = reply_rewritten(&d, |r| r.pg = g1_infinity);
    assert!(
        matches!(e, MpinError::Wcc(WccError::Decode(_))),
        "PgG1 infinity: {e}"
    );
}

#[test]
fn malformed_frames_refused_before_any_pairing() {
    let d = Dtas::new();
    // trailing byte inside the HELLO frame
    let e = refused_before_pairing(d.client(ALICE, BOB), d.server(BOB), |b| {
        let mut body = hello_of(&b).encode();
        body.push(0);
        let mut v = PREFACE.to_vec();
        v.extend_from_slice(&frame::encode(FrameType::P2pHello, &body));
        v
    });
    assert!(matches!(e, MpinError::Wcc(WccError::Decode(_))), "{e}");
    // a frame longer than any message: refused from its header
    let e = refused_before_pairing(d.client(ALICE, BOB), d.server(BOB), |_| {
        let mut v = PREFACE.to_vec();
        v.extend_from_slice(&[0x11, 0xff, 0xff, 0xff]);
        v
    });
    assert!(matches!(e, MpinError::Protocol(_)), "{e}");
    // another frame type where the HELLO belongs
    let e = refused_before_pairing(d.client(ALICE, BOB), d.server(BOB), |b| {
        let mut v = b;
        v[5] = FrameType::P2pReply as u8;
        v
    });
    assert!(matches!(e, MpinError::Protocol(_)), "{e}");
    // an empty identity
    let e = refused_before_pairing(d.client(ALICE, BOB), d.server(BOB), |b| {
        let mut h = hello_of(&b);
        h.initiator.clear();
        with_hello(&h)
    });
    assert!(matches!(e, MpinError::Wcc(WccError::Decode(_))), "{e}");
    // another channel version: refused without a failure frame (it speaks another protocol)
    let (_, mut s) = conns(d.client(ALICE, BOB), d.server(BOB));
    s.read_input(b"MP2P\x02");
    assert!(matches!(s.process(), Err(MpinError::Version(2))));
    // garbage first bytes
    let (_, mut s) = conns(d.client(ALICE, BOB), d.server(BOB));
    s.read_input(b"GET / HTTP/1.1\r\n");
    assert!(matches!(s.process(), Err(MpinError::UnknownProtocol(b'G'))));
    // a TLS record on a P2P-only listener
    let (_, mut s) = conns(d.client(ALICE, BOB), d.server(BOB));
    s.read_input(&[0x16, 3, 1, 0, 5]);
    assert!(matches!(s.process(), Err(MpinError::UnknownProtocol(0x16))));
}

#[test]
fn permit_policy_before_any_pairing() {
    let d = Dtas::new();
    // permits required, none offered
    let mut client = d.client(ALICE, BOB);
    client.permit = None;
    let e = refused_before_pairing(client, d.server(BOB), |b| b);
    assert!(matches!(e, MpinError::Wcc(WccError::PermitRequired)), "{e}");
    // yesterday's permit two hours into the day (a device revoked since): refused
    let mut client = d.client(ALICE, BOB);
    client.permit = Some(d.sender_permit(ALICE, DAY - 1));
    let e = refused_before_pairing(client, d.server(BOB), |b| b);
    assert!(
        matches!(e, MpinError::Wcc(WccError::PermitDay(day)) if day == DAY - 1),
        "{e}"
    );
    // tomorrow's permit: refused too
    let mut client = d.client(ALICE, BOB);
    client.permit = Some(d.sender_permit(ALICE, DAY + 1));
    let e = refused_before_pairing(client, d.server(BOB), |b| b);
    assert!(matches!(e, MpinError::Wcc(WccError::PermitDay(_))), "{e}");
}

#[test]
fn a_job_output_fed_to_another_connection_is_refused() {
    let d = Dtas::new();
    let (mut c1, _) = conns(d.client(ALICE, BOB), d.server(BOB));
    let (mut c2, _) = conns(d.client(ALICE, BOB), d.server(BOB));
    let Status::Compute(j1) = c1.process().unwrap() else {
        panic!("first step is the hello job")
    };
    let Status::Compute(_j2) = c2.process().unwrap() else {
        panic!("first step is the hello job")
    };
    assert!(matches!(c2.complete(j1.run()), Err(MpinError::Internal(_))));
}
