//! Handshakes: every suite and group, HelloRetryRequest, fragmented and byte-by-byte delivery.

use super::*;
use crate::record::{content, write_plain};
use crate::*;

#[test]
fn every_suite_and_group() {
    for suite in CipherSuite::ALL {
        for group in NamedGroup::ALL {
            let p = psk(suite.hash());
            let mut cc = ClientConfig::new(p.clone());
            cc.options.cipher_suites = vec![suite];
            cc.options.groups = vec![group];
            let mut sc = ServerConfig::new(store_with(p));
            sc.options.groups = vec![group];
            let (mut c, mut s) = pair(cc, sc);
            let (rc, rs) = pump(&mut c, &mut s);
            rc.unwrap();
            rs.unwrap();
            for conn in [&*c, &*s] {
                assert!(!conn.is_handshaking());
                assert!(conn.authenticated_by_psk());
                assert_eq!(conn.cipher_suite(), Some(suite));
                assert_eq!(conn.group(), Some(group));
                assert_eq!(conn.psk_identity(), Some(&b"client1"[..]));
                assert!(!conn.negotiated().unwrap().hello_retry);
            }
            exchange(&mut c, &mut s, 40_000);
            let (mut a, mut b) = ([0u8; 42], [0u8; 42]);
            c.export_keying_material(&mut a, b"EXPERIMENTAL test", b"ctx")
                .unwrap();
            s.export_keying_material(&mut b, b"EXPERIMENTAL test", b"ctx")
                .unwrap();
            assert_eq!(a, b);
            s.export_keying_material(&mut b, b"EXPERIMENTAL other", b"ctx")
                .unwrap();
            assert_ne!(a, b);
        }
    }
}

#[test]
fn default_client_offers_hybrid_and_x25519() {
    let p = psk(HashAlgorithm::Sha256);
    // server without the hybrid: picks X25519 from the second share, no HRR
    let mut sc = ServerConfig::new(store_with(p.clone()));
    sc.options.groups = vec![NamedGroup::X25519, NamedGroup::Secp256r1];
    let (mut c, mut s) = pair(ClientConfig::new(p.clone()), sc);
    let (rc, rs) = pump(&mut c, &mut s);
    rc.unwrap();
    rs.unwrap();
    assert_eq!(s.group(), Some(NamedGroup::X25519));
    assert!(!s.negotiated().unwrap().hello_retry);
    // default server: hybrid
    let (mut c, mut s) = pair(
        ClientConfig::new(p.clone()),
        ServerConfig::new(store_with(p)),
    );
    pump(&mut c, &mut s).1.unwrap();
    assert_eq!(c.group(), Some(NamedGroup::X25519Mlkem768));
}

#[test]
fn hello_retry_request_for_each_suite() {
    for suite in CipherSuite::ALL {
        let p = psk(suite.hash());
        let mut cc = ClientConfig::new(p.clone());
        cc.options.cipher_suites = vec![suite];
        let mut sc = ServerConfig::new(store_with(p));
        sc.options.groups = vec![NamedGroup::Secp256r1];
        let (mut c, mut s) = pair(cc, sc);
        let (rc, rs) = pump(&mut c, &mut s);
        rc.unwrap();
        rs.unwrap();
        assert_eq!(c.group(), Some(NamedGroup::Secp256r1));
        assert!(c.negotiated().unwrap().hello_retry);
        assert!(s.negotiated().unwrap().hello_retry);
        exchange(&mut c, &mut s, 1000);
    }
}

#[test]
fn no_common_group_is_handshake_failure() {
    let p = psk(HashAlgorithm::Sha256);
    let mut cc = ClientConfig::new(p.clone());
    cc.options.groups = vec![NamedGroup::X25519];
    let mut sc = ServerConfig::new(store_with(p));
    sc.options.groups = vec![NamedGroup::Secp256r1];
    let (mut c, mut s) = pair(cc, sc);
    let (rc, rs) = pump(&mut c, &mut s);
    assert!(matches!(rs, Err(Error::HandshakeFailure(_))));
    assert_eq!(
        rc,
        Err(Error::AlertReceived(AlertDescription::HandshakeFailure))
    );
}

#[test]
fn byte_by_byte_delivery() {
    let p = psk(HashAlgorithm::Sha256);
    let (mut c, mut s) = pair(
        ClientConfig::new(p.clone()),
        ServerConfig::new(store_with(p)),
    );
    c.write_plaintext(b"early queued data").unwrap();
    for _ in 0..10 {
        for b in c.take_tls() {
            s.read_tls(&[b]);
            s.process_new_packets().unwrap();
        }
        for b in s.take_tls() {
            c.read_tls(&[b]);
            c.process_new_packets().unwrap();
        }
    }
    assert!(!c.is_handshaking() && !s.is_handshaking());
    assert_eq!(read_all(&mut s), b"early queued data");
}

#[test]
fn handshake_message_fragmented_over_records() {
    let p = psk(HashAlgorithm::Sha256);
    let (mut c, mut s) = pair(
        ClientConfig::new(p.clone()),
        ServerConfig::new(store_with(p)),
    );
    let first = c.take_tls();
    assert_eq!(first[0], content::HANDSHAKE);
    let mut refragmented = Vec::new();
    for chunk in first[5..].chunks(37) {
        write_plain(&mut refragmented, content::HANDSHAKE, chunk);
    }
    s.read_tls(&refragmented);
    s.process_new_packets().unwrap();
    let (rc, rs) = pump(&mut c, &mut s);
    rc.unwrap();
    rs.unwrap();
    assert!(!s.is_handshaking());
}

#[test]
fn coalesced_data_after_client_hello_is_rejected_at_key_change() {
    // Handshake bytes that follow the ClientHello in the same record would
    // straddle the server's key change: RFC 8446 §5.1 unexpected_message.
    let p = psk(HashAlgorithm::Sha256);
    let (mut c, mut s) = pair(
        ClientConfig::new(p.clone()),
        ServerConfig::new(store_with(p)),
    );
    let first = c.take_tls();
    let mut payload = first[5..].to_vec();
    payload.extend_from_slice(&messages::frame(messages::typ::FINISHED, &[0; 32]));
    let mut rec = Vec::new();
    write_plain(&mut rec, content::HANDSHAKE, &payload);
    s.read_tls(&rec);
    assert!(matches!(
        s.process_new_packets(),
        Err(Error::UnexpectedMessage(_))
    ));
}
