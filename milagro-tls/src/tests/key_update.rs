//! KeyUpdate and close_notify in both directions.

use super::*;
use crate::*;

#[test]
fn key_update_both_ways() {
    let p = psk(HashAlgorithm::Sha384);
    let (mut c, mut s) = pair(
        ClientConfig::new(p.clone()),
        ServerConfig::new(store_with(p)),
    );
    let (rc, rs) = pump(&mut c, &mut s);
    rc.unwrap();
    rs.unwrap();
    for round in 0..3 {
        c.refresh_traffic_keys().unwrap();
        exchange(&mut c, &mut s, 100 + round);
        s.refresh_traffic_keys().unwrap();
        exchange(&mut c, &mut s, 200 + round);
    }
    let mut seen = 0;
    while let Some(e) = s.next_event() {
        if e == Event::PeerKeyUpdate {
            seen += 1;
        }
    }
    // 3 requested by the client + 3 answers to the server's requests
    assert_eq!(seen, 6);
    let before = c.export_keying_material(&mut [0u8; 8], b"l", b"");
    assert!(before.is_ok());
}

#[test]
fn key_update_before_handshake_is_refused() {
    let p = psk(HashAlgorithm::Sha256);
    let (mut c, _s) = pair(
        ClientConfig::new(p.clone()),
        ServerConfig::new(store_with(p)),
    );
    assert!(c.refresh_traffic_keys().is_err());
    assert!(c.export_keying_material(&mut [0u8; 8], b"l", b"").is_err());
}

#[test]
fn close_notify_both_ways() {
    let p = psk(HashAlgorithm::Sha256);
    let (mut c, mut s) = pair(
        ClientConfig::new(p.clone()),
        ServerConfig::new(store_with(p)),
    );
    pump(&mut c, &mut s).1.unwrap();
    c.write_plaintext(b"last words").unwrap();
    c.send_close_notify();
    assert_eq!(c.write_plaintext(b"more"), Err(Error::AlreadyClosed));
    pump(&mut c, &mut s).1.unwrap();
    assert!(s.peer_has_closed());
    assert_eq!(read_all(&mut s), b"last words");
    let events: Vec<_> = std::iter::from_fn(|| s.next_event()).collect();
    assert_eq!(events, vec![Event::HandshakeComplete, Event::PeerClosed]);
    s.write_plaintext(b"reply").unwrap();
    s.send_close_notify();
    pump(&mut c, &mut s).0.unwrap();
    assert_eq!(read_all(&mut c), b"reply");
    assert!(c.peer_has_closed());
}
