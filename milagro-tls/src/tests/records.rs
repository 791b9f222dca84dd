//! Records after the handshake: ordering, tampering, ChangeCipherSpec, size, alerts, tickets.

use std::sync::Arc;

use super::*;
use crate::record::{content, write_plain};
use crate::*;

#[test]
fn server_rejects_out_of_order_and_plaintext_data() {
    let p = psk(HashAlgorithm::Sha256);
    let mut s = ServerConnection::new(Arc::new(ServerConfig::new(store_with(p)))).unwrap();
    let mut rec = Vec::new();
    write_plain(&mut rec, content::APPLICATION_DATA, b"hi");
    s.read_tls(&rec);
    assert!(matches!(
        s.process_new_packets(),
        Err(Error::UnexpectedMessage(_))
    ));
    assert_eq!(s.take_tls(), [21, 3, 3, 0, 2, 2, 10]);

    let p = psk(HashAlgorithm::Sha256);
    let mut s = ServerConnection::new(Arc::new(ServerConfig::new(store_with(p)))).unwrap();
    let mut rec = Vec::new();
    write_plain(&mut rec, content::HANDSHAKE, &messages::frame(20, &[0; 32]));
    s.read_tls(&rec);
    assert!(matches!(
        s.process_new_packets(),
        Err(Error::UnexpectedMessage(_))
    ));
}

#[test]
fn client_rejects_certificate_and_peer_alerts_map() {
    let p = psk(HashAlgorithm::Sha256);
    let mut c = ClientConnection::new(Arc::new(ClientConfig::new(p.clone()))).unwrap();
    let mut rec = Vec::new();
    write_plain(
        &mut rec,
        content::HANDSHAKE,
        &messages::frame(11, &[0, 0, 0, 0]),
    );
    c.read_tls(&rec);
    assert!(matches!(
        c.process_new_packets(),
        Err(Error::UnexpectedMessage(_))
    ));

    for code in [40u8, 47, 50, 51, 70, 80, 115, 200] {
        let mut c = ClientConnection::new(Arc::new(ClientConfig::new(p.clone()))).unwrap();
        c.take_tls();
        c.read_tls(&[21, 3, 3, 0, 2, 2, code]);
        assert_eq!(
            c.process_new_packets(),
            Err(Error::AlertReceived(AlertDescription::from_code(code)))
        );
        // no alert is sent back in reply to an alert
        assert!(c.take_tls().is_empty());
    }
}

#[test]
fn tampered_record_after_handshake_is_bad_record_mac() {
    let p = psk(HashAlgorithm::Sha256);
    let (mut c, mut s) = pair(
        ClientConfig::new(p.clone()),
        ServerConfig::new(store_with(p)),
    );
    pump(&mut c, &mut s).1.unwrap();
    c.write_plaintext(b"hello").unwrap();
    let mut wire = c.take_tls();
    let n = wire.len();
    wire[n - 3] ^= 0x80;
    s.read_tls(&wire);
    assert_eq!(s.process_new_packets(), Err(Error::BadRecordMac));
    assert_eq!(s.plaintext_len(), 0);
}

#[test]
fn change_cipher_spec_after_handshake_is_unexpected() {
    let p = psk(HashAlgorithm::Sha256);
    let (mut c, mut s) = pair(
        ClientConfig::new(p.clone()),
        ServerConfig::new(store_with(p)),
    );
    pump(&mut c, &mut s).1.unwrap();
    s.read_tls(&[20, 3, 3, 0, 1, 1]);
    assert!(matches!(
        s.process_new_packets(),
        Err(Error::UnexpectedMessage(_))
    ));
}

#[test]
fn oversized_record_is_record_overflow() {
    let p = psk(HashAlgorithm::Sha256);
    let mut s = ServerConnection::new(Arc::new(ServerConfig::new(store_with(p)))).unwrap();
    s.read_tls(&[22, 3, 3, 0x41, 0x01]);
    assert_eq!(s.process_new_packets(), Err(Error::RecordOverflow));
    assert_eq!(s.take_tls(), [21, 3, 3, 0, 2, 2, 22]);
    // a plaintext record may not exceed 2^14 bytes
    let p = psk(HashAlgorithm::Sha256);
    let mut s = ServerConnection::new(Arc::new(ServerConfig::new(store_with(p)))).unwrap();
    let mut rec = vec![22, 3, 3, 0x40, 0x01];
    rec.resize(5 + 0x4001, 0);
    s.read_tls(&rec);
    assert_eq!(s.process_new_packets(), Err(Error::RecordOverflow));
}

#[test]
fn client_surfaces_new_session_ticket() {
    let p = psk(HashAlgorithm::Sha256);
    let (mut c, mut s) = pair(
        ClientConfig::new(p.clone()),
        ServerConfig::new(store_with(p)),
    );
    pump(&mut c, &mut s).1.unwrap();
    let t = messages::NewSessionTicket {
        lifetime: 60,
        age_add: 1,
        nonce: vec![0],
        ticket: vec![9; 40],
        extensions: vec![],
    };
    s.emit_handshake(&messages::new_session_ticket(&t)).unwrap();
    s.write_plaintext(b"after ticket").unwrap();
    pump(&mut c, &mut s).0.unwrap();
    let events: Vec<_> = std::iter::from_fn(|| c.next_event()).collect();
    assert_eq!(
        events,
        vec![Event::HandshakeComplete, Event::SessionTicket(t)]
    );
    assert_eq!(read_all(&mut c), b"after ticket");
    // a server never accepts a ticket
    let t2 = messages::new_session_ticket(&messages::NewSessionTicket {
        lifetime: 1,
        age_add: 1,
        nonce: vec![],
        ticket: vec![1],
        extensions: vec![],
    });
    c.emit_handshake(&t2).unwrap();
    assert!(matches!(
        pump(&mut c, &mut s).1,
        Err(Error::UnexpectedMessage(_))
    ));
}
