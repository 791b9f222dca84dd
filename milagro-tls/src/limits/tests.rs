//! Post-handshake bounds, attacked through the sans-IO core: KeyUpdate and
//! NewSessionTicket floods, unread events, the AEAD usage limit.

use std::sync::Arc;

use super::AES_GCM_RECORD_LIMIT;
use crate::record::HEADER_LEN;
use crate::*;

const KEY: &[u8] = b"post-auth-limits-key-0123456789";

fn configs() -> (ClientConfig, ServerConfig) {
    let p = Psk::new(b"client1", KEY, HashAlgorithm::Sha256).unwrap();
    let store: StaticPskStore = [p.clone()].into_iter().collect();
    (ClientConfig::new(p), ServerConfig::new(Arc::new(store)))
}

/// Moves bytes both ways until nothing moves (bounded), panicking on errors.
fn pump(c: &mut ConnectionCommon, s: &mut ConnectionCommon) {
    for _ in 0..1000 {
        let to_s = c.take_tls();
        let to_c = s.take_tls();
        if to_s.is_empty() && to_c.is_empty() {
            return;
        }
        s.read_tls(&to_s);
        s.process_new_packets().unwrap();
        c.read_tls(&to_c);
        c.process_new_packets().unwrap();
    }
    panic!("pump did not settle");
}

fn established(cc: ClientConfig, sc: ServerConfig) -> (ConnectionCommon, ConnectionCommon) {
    let mut c = ClientConnection::new(Arc::new(cc)).unwrap().into_common();
    let mut s = ServerConnection::new(Arc::new(sc)).unwrap().into_common();
    pump(&mut c, &mut s);
    assert!(!c.is_handshaking() && !s.is_handshaking());
    (c, s)
}

fn read_all(conn: &mut ConnectionCommon) -> Vec<u8> {
    let mut out = vec![0u8; conn.plaintext_len()];
    let n = conn.read_plaintext(&mut out);
    out.truncate(n);
    out
}

/// Number of TLS records in a byte string of whole records.
fn records(wire: &[u8]) -> usize {
    let (mut n, mut pos) = (0, 0);
    while pos + HEADER_LEN <= wire.len() {
        let len = usize::from(u16::from_be_bytes([wire[pos + 3], wire[pos + 4]]));
        pos += HEADER_LEN + len;
        n += 1;
    }
    assert_eq!(pos, wire.len(), "not whole records");
    n
}

const FLOOD: usize = 100_000;

/// A peer sends 100,000 KeyUpdates asking for updates and never reads: the
/// server's queued output stays at zero (one reply is due, not 100,000), its
/// events stay capped, and the one reply it finally sends keeps both
/// directions in step.
#[test]
fn key_update_flood_gets_one_reply_and_bounded_memory() {
    let (cc, sc) = configs();
    let (mut c, mut s) = established(cc, sc);
    let max_events = s.limits().max_events;
    let mut max_out = 0;
    for _ in 0..FLOOD / 1000 {
        for _ in 0..1000 {
            c.refresh_traffic_keys().unwrap();
        }
        s.read_tls(&c.take_tls());
        s.process_new_packets().unwrap();
        max_out = max_out.max(s.buffered_tls());
        assert!(s.pending_events() <= max_events + 1);
        assert!(s.wants_read());
    }
    assert_eq!(
        max_out, 0,
        "replies were queued for a peer that never reads"
    );
    assert!(s.wants_write(), "the reply is due");
    let st = s.stats();
    assert_eq!(st.key_updates_received, FLOOD as u64);
    assert_eq!(st.coalesced_key_update_requests, FLOOD as u64 - 1);
    assert_eq!(st.dropped_events, (FLOOD - max_events + 1) as u64);
    // the server's answer: exactly one KeyUpdate record, then the data
    s.write_plaintext(b"pong").unwrap();
    let wire = s.take_tls();
    assert_eq!(records(&wire), 2);
    c.read_tls(&wire);
    c.process_new_packets().unwrap();
    assert_eq!(read_all(&mut c), b"pong");
    assert_eq!(s.stats().key_updates_sent, 1);
    assert_eq!(c.stats().key_updates_received, 1);
    // both directions still work on the new keys
    c.write_plaintext(b"ping").unwrap();
    pump(&mut c, &mut s);
    assert_eq!(read_all(&mut s), b"ping");
}

/// When the adapter takes the output between batches, each batch gets at
/// most one reply, never one per request.
#[test]
fn key_update_replies_coalesce_per_flush() {
    let (cc, sc) = configs();
    let (mut c, mut s) = established(cc, sc);
    let mut replies = 0;
    for _ in 0..10 {
        for _ in 0..50 {
            c.refresh_traffic_keys().unwrap();
        }
        s.read_tls(&c.take_tls());
        s.process_new_packets().unwrap();
        let wire = s.take_tls();
        replies += records(&wire);
        c.read_tls(&wire);
        c.process_new_packets().unwrap();
    }
    assert_eq!(replies, 10);
    assert_eq!(s.stats().key_updates_sent, 10);
    assert_eq!(c.stats().key_updates_received, 10);
    c.write_plaintext(b"still in step").unwrap();
    s.write_plaintext(b"both ways").unwrap();
    pump(&mut c, &mut s);
    assert_eq!(read_all(&mut s), b"still in step");
    assert_eq!(read_all(&mut c), b"both ways");
}

/// Events nobody reads are capped and counted; HandshakeComplete and
/// PeerClosed are never dropped.
#[test]
fn unread_events_are_capped_and_counted() {
    let (cc, mut sc) = configs();
    sc.limits.max_events = 4;
    let (mut c, mut s) = established(cc, sc);
    for _ in 0..20 {
        c.refresh_traffic_keys().unwrap();
        pump(&mut c, &mut s);
    }
    c.send_close_notify();
    pump(&mut c, &mut s);
    let events: Vec<_> = std::iter::from_fn(|| s.next_event()).collect();
    assert_eq!(
        events,
        vec![
            Event::HandshakeComplete,
            Event::PeerKeyUpdate,
            Event::PeerKeyUpdate,
            Event::PeerKeyUpdate,
            Event::PeerClosed,
        ]
    );
    assert_eq!(s.stats().dropped_events, 17);
    assert_eq!(s.stats().key_updates_received, 20);
}

/// A server flooding NewSessionTickets: the client turns only the first
/// `max_session_tickets` into tickets and events, keeps at most four, and
/// ignores (counts) the rest; the connection goes on working.
#[test]
fn session_ticket_flood_is_capped() {
    let (cc, sc) = configs();
    let (mut c, mut s) = established(cc, sc);
    let cap = c.limits().max_session_tickets;
    let flood = 10_000;
    for i in 0..flood {
        let t = messages::NewSessionTicket {
            lifetime: 60,
            age_add: i,
            nonce: i.to_be_bytes().to_vec(),
            ticket: vec![7; 200],
            extensions: vec![],
        };
        s.emit_handshake(&messages::new_session_ticket(&t)).unwrap();
        if i % 500 == 0 {
            pump(&mut c, &mut s);
        }
    }
    s.write_plaintext(b"after the flood").unwrap();
    pump(&mut c, &mut s);
    assert_eq!(read_all(&mut c), b"after the flood");
    let tickets = std::iter::from_fn(|| c.next_event())
        .filter(|e| matches!(e, Event::SessionTicket(_)))
        .count();
    assert_eq!(tickets, cap);
    assert_eq!(c.stats().ignored_tickets, u64::from(flood) - cap as u64);
    assert_eq!(c.take_tickets().len(), 4);
}

/// Each side sends its own KeyUpdate before a (lowered) AEAD usage limit and
/// the data stays intact both ways.
#[test]
fn transfer_past_lowered_aead_limit_rekeys() {
    const LIMIT: u64 = 8;
    for suite in CipherSuite::ALL {
        let p = Psk::new(b"client1", KEY, suite.hash()).unwrap();
        let store: StaticPskStore = [p.clone()].into_iter().collect();
        let mut cc = ClientConfig::new(p);
        cc.options.cipher_suites = vec![suite];
        cc.limits.aead_record_limit = Some(LIMIT);
        let mut sc = ServerConfig::new(Arc::new(store));
        sc.limits.aead_record_limit = Some(LIMIT);
        let (mut c, mut s) = established(cc, sc);
        let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
        let (mut at_s, mut at_c) = (Vec::new(), Vec::new());
        for chunk in data.chunks(40_000) {
            c.write_plaintext(chunk).unwrap();
            s.write_plaintext(chunk).unwrap();
            pump(&mut c, &mut s);
            at_s.extend(read_all(&mut s));
            at_c.extend(read_all(&mut c));
        }
        assert!(at_s == data && at_c == data, "{suite:?}: data corrupted");
        // 1 MB is at least 62 full records; a key seals at most LIMIT - 1 of
        // them plus its KeyUpdate
        let data_records = 1_000_000u64.div_ceil(16_384);
        let min_rekeys = data_records.div_ceil(LIMIT - 1) - 1;
        for (side, peer) in [(&c, &s), (&s, &c)] {
            let st = side.stats();
            assert!(st.limit_rekeys >= min_rekeys, "{suite:?}: {st:?}");
            assert_eq!(st.key_updates_sent, st.limit_rekeys);
            assert_eq!(peer.stats().key_updates_received, st.key_updates_sent);
        }
    }
}

/// The sans-IO backpressure signal: no more input wanted while the queued
/// output is at the bound; wanted again once it has been taken.
#[test]
fn wants_read_turns_false_while_output_is_full() {
    let (cc, mut sc) = configs();
    sc.limits.max_tls_out = 64 * 1024;
    let (_c, mut s) = established(cc, sc);
    assert!(s.wants_read());
    s.write_plaintext(&[1u8; 60 * 1024]).unwrap();
    assert!(s.wants_read());
    s.write_plaintext(&[1u8; 8 * 1024]).unwrap();
    assert!(!s.wants_read() && s.buffered_tls() >= 64 * 1024);
    assert!(!s.take_tls().is_empty());
    assert!(s.wants_read() && s.buffered_tls() == 0);
}

#[test]
fn default_record_limits_follow_rfc_8446() {
    let l = ConnectionLimits::default();
    assert_eq!(l.record_limit(CipherSuite::Aes128GcmSha256), 23_726_566);
    assert_eq!(l.record_limit(CipherSuite::Aes256GcmSha384), 23_726_566);
    assert_eq!(l.record_limit(CipherSuite::Chacha20Poly1305Sha256), 1 << 32);
    // 2^24.5, rounded down
    assert_eq!((2f64.powf(24.5)) as u64, AES_GCM_RECORD_LIMIT);
}
