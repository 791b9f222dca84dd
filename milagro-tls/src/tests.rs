//! In-memory client ↔ server tests of the sans-IO core.

use std::sync::Arc;

use crate::record::{content, write_plain};
use crate::*;

const KEY: &[u8] = b"an-example-psk-key-0123456789";

pub(crate) fn psk(hash: HashAlgorithm) -> Psk {
    Psk::new(b"client1", KEY, hash).unwrap()
}

pub(crate) fn store_with(p: Psk) -> Arc<StaticPskStore> {
    Arc::new([p].into_iter().collect())
}

pub(crate) fn pair(cc: ClientConfig, sc: ServerConfig) -> (ClientConnection, ServerConnection) {
    (
        ClientConnection::new(Arc::new(cc)).unwrap(),
        ServerConnection::new(Arc::new(sc)).unwrap(),
    )
}

/// Moves bytes both ways until nothing moves; returns the first error of
/// (client, server).
pub(crate) fn pump(
    c: &mut ClientConnection,
    s: &mut ServerConnection,
) -> (Result<(), Error>, Result<(), Error>) {
    let (mut rc, mut rs) = (Ok(()), Ok(()));
    for _ in 0..20 {
        let to_s = c.take_tls();
        let to_c = s.take_tls();
        if to_s.is_empty() && to_c.is_empty() {
            break;
        }
        if !to_s.is_empty() && rs.is_ok() {
            s.read_tls(&to_s);
            rs = s.process_new_packets();
        }
        if !to_c.is_empty() && rc.is_ok() {
            c.read_tls(&to_c);
            rc = c.process_new_packets();
        }
    }
    (rc, rs)
}

pub(crate) fn read_all(conn: &mut ConnectionCommon) -> Vec<u8> {
    let mut out = vec![0u8; conn.plaintext_len()];
    let n = conn.read_plaintext(&mut out);
    out.truncate(n);
    out
}

pub(crate) fn exchange(c: &mut ClientConnection, s: &mut ServerConnection, n: usize) {
    let data: Vec<u8> = (0..n).map(|i| (i * 7 % 251) as u8).collect();
    c.write_plaintext(&data).unwrap();
    s.write_plaintext(&data[..n / 2]).unwrap();
    let (rc, rs) = pump(c, s);
    rc.unwrap();
    rs.unwrap();
    assert_eq!(read_all(s), data);
    assert_eq!(read_all(c), data[..n / 2].to_vec());
}

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

pub(crate) fn expect_server_alert(
    c_result: Result<(), Error>,
    s_result: Result<(), Error>,
    server_err: Error,
    alert: AlertDescription,
) {
    assert_eq!(s_result, Err(server_err));
    assert_eq!(c_result, Err(Error::AlertReceived(alert)));
}

#[test]
fn wrong_key_gets_decrypt_error() {
    let good = psk(HashAlgorithm::Sha256);
    let bad = Psk::new(
        b"client1",
        b"a-different-key-0123456789",
        HashAlgorithm::Sha256,
    )
    .unwrap();
    let (mut c, mut s) = pair(ClientConfig::new(bad), ServerConfig::new(store_with(good)));
    c.write_plaintext(b"must not arrive").unwrap();
    let (rc, rs) = pump(&mut c, &mut s);
    expect_server_alert(rc, rs, Error::BadPskBinder, AlertDescription::DecryptError);
    assert_eq!(s.plaintext_len(), 0);
    assert_eq!(s.error(), Some(&Error::BadPskBinder));
    // sticky
    assert_eq!(s.process_new_packets(), Err(Error::BadPskBinder));
}

#[test]
fn unknown_identity_gets_decrypt_error() {
    let good = psk(HashAlgorithm::Sha256);
    let other = Psk::new(b"mallory", KEY, HashAlgorithm::Sha256).unwrap();
    let (mut c, mut s) = pair(
        ClientConfig::new(other),
        ServerConfig::new(store_with(good)),
    );
    let (rc, rs) = pump(&mut c, &mut s);
    expect_server_alert(rc, rs, Error::BadPskBinder, AlertDescription::DecryptError);
}

#[test]
fn imported_binder_label_must_match() {
    let p = psk(HashAlgorithm::Sha256);
    let imp = p.clone().with_binder_label(BinderLabel::Imported);
    // both imported: works
    let (mut c, mut s) = pair(
        ClientConfig::new(imp.clone()),
        ServerConfig::new(store_with(imp.clone())),
    );
    pump(&mut c, &mut s).1.unwrap();
    assert!(!s.is_handshaking());
    // client external, server imported: binder fails
    let (mut c, mut s) = pair(ClientConfig::new(p), ServerConfig::new(store_with(imp)));
    let (rc, rs) = pump(&mut c, &mut s);
    expect_server_alert(rc, rs, Error::BadPskBinder, AlertDescription::DecryptError);
}

#[test]
fn psk_hash_mismatch_is_decrypt_error_like_an_unknown_identity() {
    let c384 = psk(HashAlgorithm::Sha384);
    let s256 = psk(HashAlgorithm::Sha256);
    let (mut c, mut s) = pair(ClientConfig::new(c384), ServerConfig::new(store_with(s256)));
    let (rc, rs) = pump(&mut c, &mut s);
    expect_server_alert(rc, rs, Error::BadPskBinder, AlertDescription::DecryptError);
}

#[test]
fn client_config_without_matching_suite_is_refused() {
    let mut cc = ClientConfig::new(psk(HashAlgorithm::Sha384));
    cc.options.cipher_suites = vec![CipherSuite::Aes128GcmSha256];
    assert!(matches!(
        ClientConnection::new(Arc::new(cc)),
        Err(Error::Config(_))
    ));
    let mut cc = ClientConfig::new(psk(HashAlgorithm::Sha256));
    cc.options.groups.clear();
    assert!(ClientConnection::new(Arc::new(cc)).is_err());
}

/// Re-encodes the client's first ClientHello after `edit`, then feeds it to a server.
pub(crate) fn server_on_edited_hello(
    edit: impl FnOnce(&mut messages::ClientHello),
) -> (Result<(), Error>, Vec<u8>) {
    let p = psk(HashAlgorithm::Sha256);
    let (mut c, mut s) = pair(
        ClientConfig::new(p.clone()),
        ServerConfig::new(store_with(p)),
    );
    let first = c.take_tls();
    let mut ch = messages::ClientHello::decode(&first[9..]).unwrap();
    edit(&mut ch);
    let mut rec = Vec::new();
    write_plain(&mut rec, content::HANDSHAKE, &ch.encode());
    s.read_tls(&rec);
    let r = s.process_new_packets();
    (r, s.take_tls())
}

const ALERT_40: [u8; 7] = [21, 3, 3, 0, 2, 2, 40];

#[test]
fn client_hello_without_psk_is_handshake_failure() {
    let (r, wire) = server_on_edited_hello(|ch| {
        ch.extensions.retain(|e| e.typ != 41);
    });
    assert!(matches!(r, Err(Error::HandshakeFailure(_))));
    assert_eq!(wire, ALERT_40);
}

#[test]
fn psk_ke_only_is_handshake_failure() {
    let (r, wire) = server_on_edited_hello(|ch| {
        for e in ch.extensions.iter_mut() {
            if e.typ == 45 {
                e.data = vec![1, 0];
            }
        }
    });
    assert!(matches!(r, Err(Error::HandshakeFailure(_))));
    assert_eq!(wire, ALERT_40);
}

#[test]
fn tls12_only_client_is_protocol_version() {
    let (r, wire) = server_on_edited_hello(|ch| {
        ch.extensions.retain(|e| e.typ != 43);
    });
    assert_eq!(r, Err(Error::ProtocolVersion));
    assert_eq!(wire, [21, 3, 3, 0, 2, 2, 70]);
}

#[test]
fn tampered_binder_is_decrypt_error_and_garbage_is_decode_error() {
    let (r, wire) = server_on_edited_hello(|ch| {
        let last = ch.extensions.last_mut().unwrap();
        let n = last.data.len();
        last.data[n - 1] ^= 1;
    });
    assert_eq!(r, Err(Error::BadPskBinder));
    assert_eq!(wire, [21, 3, 3, 0, 2, 2, 51]);

    let (r, wire) = server_on_edited_hello(|ch| {
        for e in ch.extensions.iter_mut() {
            if e.typ == 51 {
                e.data = vec![0, 9, 0];
            }
        }
    });
    assert!(matches!(r, Err(Error::Decode(_))));
    assert_eq!(wire, [21, 3, 3, 0, 2, 2, 50]);
}

#[test]
fn bad_key_share_is_illegal_parameter() {
    let (r, wire) = server_on_edited_hello(|ch| {
        for e in ch.extensions.iter_mut() {
            if e.typ == 51 {
                e.data = messages::hello::client_key_shares(&[(0x1d, &[1, 2, 3])]);
            }
        }
    });
    // the binder covers the edited hello, so it now fails first
    assert_eq!(r, Err(Error::BadPskBinder));
    assert_eq!(wire[6], 51);
}

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

/// A client that has sent its ClientHello, and that hello.
fn client_and_hello() -> (ClientConnection, messages::ClientHello) {
    let p = psk(HashAlgorithm::Sha256);
    let mut c = ClientConnection::new(Arc::new(ClientConfig::new(p))).unwrap();
    let first = c.take_tls();
    let ch = messages::ClientHello::decode(&first[9..]).unwrap();
    (c, ch)
}

fn feed_server_hello(c: &mut ClientConnection, sh: &messages::ServerHello) -> Result<(), Error> {
    let mut rec = Vec::new();
    write_plain(&mut rec, content::HANDSHAKE, &sh.encode());
    c.read_tls(&rec);
    c.process_new_packets()
}

fn hello_reply(
    ch: &messages::ClientHello,
    random: [u8; 32],
    exts: Vec<messages::Extension>,
) -> messages::ServerHello {
    messages::ServerHello {
        legacy_version: 0x0303,
        random,
        session_id: ch.session_id.clone(),
        cipher_suite: 0x1301,
        compression_method: 0,
        extensions: exts,
    }
}

fn ext(typ: u16, data: Vec<u8>) -> messages::Extension {
    messages::Extension { typ, data }
}

/// An edit applied to a valid ServerHello.
type ShEdit = Box<dyn Fn(&mut messages::ServerHello)>;
/// An edit and the check of the resulting error.
type Case = (ShEdit, fn(&Error) -> bool);

#[test]
fn client_rejects_bad_server_hellos() {
    let x25519_share = {
        let (pub_key, _) = kx::respond(NamedGroup::X25519, &[9u8; 32]).unwrap();
        let mut d = 0x1du16.to_be_bytes().to_vec();
        crate::codec::put_vec(&mut d, 2, |o| o.extend_from_slice(&pub_key));
        d
    };
    let versions = || ext(43, vec![3, 4]);
    let cases: Vec<Case> = vec![
        // TLS 1.2 answer (no supported_versions): no fallback
        (Box::new(|sh| sh.extensions.retain(|e| e.typ != 43)), |e| {
            *e == Error::ProtocolVersion
        }),
        // no pre_shared_key: the server wants certificates
        (Box::new(|sh| sh.extensions.retain(|e| e.typ != 41)), |e| {
            matches!(e, Error::HandshakeFailure(_))
        }),
        // no key_share: psk_ke
        (Box::new(|sh| sh.extensions.retain(|e| e.typ != 51)), |e| {
            matches!(e, Error::HandshakeFailure(_))
        }),
        (Box::new(|sh| sh.session_id = vec![1; 32]), |e| {
            matches!(e, Error::IllegalParameter(_))
        }),
        (Box::new(|sh| sh.cipher_suite = 0x1302), |e| {
            matches!(e, Error::IllegalParameter(_))
        }),
        (Box::new(|sh| sh.compression_method = 1), |e| {
            matches!(e, Error::IllegalParameter(_))
        }),
        (Box::new(|sh| sh.extensions[2] = ext(41, vec![0, 1])), |e| {
            matches!(e, Error::IllegalParameter(_))
        }),
        (Box::new(|sh| sh.extensions.push(ext(0, vec![]))), |e| {
            matches!(e, Error::UnsupportedExtension(_))
        }),
    ];
    for (i, (edit, check)) in cases.into_iter().enumerate() {
        let (mut c, ch) = client_and_hello();
        let mut sh = hello_reply(
            &ch,
            [7; 32],
            vec![
                versions(),
                ext(51, x25519_share.clone()),
                ext(41, vec![0, 0]),
            ],
        );
        edit(&mut sh);
        let r = feed_server_hello(&mut c, &sh);
        assert!(r.as_ref().is_err_and(check), "case {i}: {r:?}");
        assert!(!c.take_tls().is_empty(), "case {i}: an alert is sent");
    }
}

#[test]
fn client_rejects_bad_hello_retry_requests() {
    let versions = || ext(43, vec![3, 4]);
    // a retry for a group that already has a share
    let (mut c, ch) = client_and_hello();
    let hrr = hello_reply(
        &ch,
        messages::HRR_RANDOM,
        vec![versions(), ext(51, vec![0, 0x1d])],
    );
    assert!(matches!(
        feed_server_hello(&mut c, &hrr),
        Err(Error::IllegalParameter(_))
    ));
    // a retry for a group never offered
    let (mut c, ch) = client_and_hello();
    let hrr = hello_reply(
        &ch,
        messages::HRR_RANDOM,
        vec![versions(), ext(51, vec![0, 0x18])],
    );
    assert!(matches!(
        feed_server_hello(&mut c, &hrr),
        Err(Error::IllegalParameter(_))
    ));
    // a retry that changes nothing
    let (mut c, ch) = client_and_hello();
    let hrr = hello_reply(&ch, messages::HRR_RANDOM, vec![versions()]);
    assert!(matches!(
        feed_server_hello(&mut c, &hrr),
        Err(Error::IllegalParameter(_))
    ));
    // two retries
    let (mut c, ch) = client_and_hello();
    let hrr = hello_reply(
        &ch,
        messages::HRR_RANDOM,
        vec![versions(), ext(51, vec![0, 0x17])],
    );
    feed_server_hello(&mut c, &hrr).unwrap();
    let ch2 = messages::ClientHello::decode(&c.take_tls()[9..]).unwrap();
    assert_eq!(ch2.key_shares().unwrap().unwrap()[0].0, 0x17);
    assert_eq!(ch2.random, ch.random);
    let hrr2 = hello_reply(
        &ch,
        messages::HRR_RANDOM,
        vec![versions(), ext(51, vec![0, 0x1d])],
    );
    assert!(matches!(
        feed_server_hello(&mut c, &hrr2),
        Err(Error::UnexpectedMessage(_))
    ));
}

#[test]
fn client_echoes_hello_retry_cookie() {
    let (mut c, ch) = client_and_hello();
    let hrr = hello_reply(
        &ch,
        messages::HRR_RANDOM,
        vec![
            ext(43, vec![3, 4]),
            ext(51, vec![0, 0x17]),
            ext(44, vec![0, 3, 1, 2, 3]),
        ],
    );
    feed_server_hello(&mut c, &hrr).unwrap();
    let ch2 = messages::ClientHello::decode(&c.take_tls()[9..]).unwrap();
    assert_eq!(ch2.cookie().unwrap(), Some(vec![1, 2, 3]));
    assert_eq!(ch2.extensions.last().unwrap().typ, 41);
}
