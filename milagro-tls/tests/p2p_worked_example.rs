//! The worked example of the P2P channel in `milagro-tls/PROTOCOL.md` (§7.4) is real: the
//! frames, transcript hash, importer context and PSK are regenerated here from a seeded RNG and
//! must equal the hex printed there; and the channel's own connections derive that PSK the
//! same way (`import` over the same inputs).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use milagro_tls::mpin::frame::{self, FrameType};
use milagro_tls::mpin::importer::{import, imported_identity_with_context};
use milagro_tls::p2p::PREFACE;
use mpin_kex::wcc::*;
use rand::rngs::StdRng;
use rand::SeedableRng;
use test_support::P2pWorld;

const DOC: &str = include_str!("../PROTOCOL.md");

/// The hex in the fenced block after `<!-- name -->`, whitespace removed.
fn block(name: &str) -> String {
    let marker = format!("<!-- {name} -->");
    let start = DOC
        .find(&marker)
        .unwrap_or_else(|| panic!("PROTOCOL.md lacks {marker}"));
    let rest = &DOC[start + marker.len()..];
    let open = rest.find("```").unwrap() + 3;
    let body = &rest[open..];
    let body = &body[body.find('\n').unwrap() + 1..];
    let end = body.find("```").unwrap();
    body[..end].split_whitespace().collect()
}

struct Example {
    hello: Vec<u8>,
    reply: Vec<u8>,
    th: [u8; 32],
    key: Vec<u8>,
    imported: Vec<u8>,
    ipskx: Vec<u8>,
}

fn example() -> Example {
    let mut rng = StdRng::seed_from_u64(10);
    let world = P2pWorld::seeded(3, &mut rng);
    let (alice, bob, day) = (&b"device:alice"[..], &b"device:bob"[..], 20_400u32);
    let (a_key, a_permit) = (world.sender_key(alice), world.sender_permit(alice, day));
    let mut initiator = Initiator::new(alice, &a_key, Some(&a_permit), bob).unwrap();
    let responder = world.responder(bob, Some(day));
    let hello = initiator.hello(&mut rng).unwrap();
    let (reply, r_session) = responder.respond(&hello, &mut rng).unwrap();
    let i_session = initiator.reply(&reply).unwrap();
    assert_eq!(i_session.key, r_session.key);
    let hello = frame::encode(FrameType::P2pHello, &hello.encode());
    let reply = frame::encode(FrameType::P2pReply, &reply.encode());
    let th = transcript_hash(&PREFACE, &hello, &reply);
    let context = i_session.import_context(&th);
    let imported = imported_identity_with_context(&i_session.session_id, &context);
    let psk = import(i_session.key.as_bytes(), &imported).unwrap();
    Example {
        hello,
        reply,
        th,
        key: i_session.key.as_bytes().to_vec(),
        imported,
        ipskx: psk.key().to_vec(),
    }
}

#[test]
fn protocol_md_worked_example_is_regenerated_exactly() {
    let e = example();
    if std::env::var_os("P2P_PRINT_EXAMPLE").is_some() {
        for (name, v) in [
            ("hello", &e.hello[..]),
            ("reply", &e.reply[..]),
            ("th", &e.th[..]),
            ("key", &e.key[..]),
            ("imported", &e.imported[..]),
            ("ipskx", &e.ipskx[..]),
        ] {
            println!("{name} ({} bytes):", v.len());
            for line in v.chunks(32) {
                println!("{}", hex::encode(line));
            }
        }
    }
    assert_eq!(block("p2p-hello"), hex::encode(&e.hello), "HELLO frame");
    assert_eq!(block("p2p-reply"), hex::encode(&e.reply), "REPLY frame");
    assert_eq!(block("p2p-th"), hex::encode(e.th), "TH");
    assert_eq!(block("p2p-key"), hex::encode(&e.key), "K");
    assert_eq!(
        block("p2p-imported"),
        hex::encode(&e.imported),
        "ImportedIdentity"
    );
    assert_eq!(block("p2p-ipskx"), hex::encode(&e.ipskx), "ipskx");
}

#[test]
fn documented_frames_decode_strictly_and_respect_the_bounds() {
    let e = example();
    assert_eq!(e.hello[0], 0x11);
    assert_eq!(e.reply[0], 0x12);
    let hello = P2pHello::decode(&e.hello[4..]).unwrap();
    let reply = P2pReply::decode(&e.reply[4..]).unwrap();
    assert_eq!(hello.initiator, b"device:alice");
    assert_eq!(hello.responder, b"device:bob");
    assert_eq!(reply.responder, b"device:bob");
    assert_eq!(e.hello.len(), 4 + 105 + 12 + 10);
    assert_eq!(e.reply.len(), 4 + 307 + 10);
    // the bounds PROTOCOL.md states
    assert_eq!(messages::MAX_HELLO_LEN, 2153);
    assert_eq!(messages::MAX_REPLY_LEN, 1331);
    const { assert!(messages::MAX_HELLO_LEN <= frame::MAX_BODY) };
    assert!(P2pHello::decode(&e.hello[4..e.hello.len() - 1]).is_err());
}
