//! RFC 8446 conformance regressions (the tlsfuzzer findings of issue 8):
//! each test plays the misbehaving peer against the real engine and checks
//! the error and the alert that goes on the wire.

use std::sync::Arc;

use crate::conn::MAX_SKIPPED_EARLY_DATA;
use crate::messages::hello::ext as ext_type;
use crate::record::{content, write_plain, Deframer};
use crate::tests::{exchange, pair, psk, pump, server_on_edited_hello, store_with};
use crate::*;

const UNEXPECTED: u8 = 10;

fn early_data_ext() -> messages::Extension {
    messages::Extension {
        typ: ext_type::EARLY_DATA,
        data: Vec::new(),
    }
}

/// A client whose first ClientHello offers early data, and a server.
fn zero_rtt_pair(sc: ServerConfig) -> (ClientConnection, ServerConnection) {
    let p = psk(HashAlgorithm::Sha256);
    let c = ClientConnection::with_extra_extensions(
        Arc::new(ClientConfig::new(p)),
        vec![early_data_ext()],
    )
    .unwrap();
    (c, ServerConnection::new(Arc::new(sc)).unwrap())
}

fn default_server() -> ServerConfig {
    ServerConfig::new(store_with(psk(HashAlgorithm::Sha256)))
}

/// A server that asks the default client for another key share.
fn hrr_server() -> ServerConfig {
    let mut sc = default_server();
    sc.options.groups = vec![NamedGroup::Secp256r1];
    sc
}

/// `count` records of `len` random-looking bytes each, as 0-RTT records
/// (outer type application_data) that no key of the server opens.
fn fake_early_data(count: usize, len: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..count {
        let body: Vec<u8> = (0..len).map(|j| (i * 31 + j * 7) as u8).collect();
        write_plain(&mut out, content::APPLICATION_DATA, &body);
    }
    out
}

fn ccs() -> Vec<u8> {
    let mut out = Vec::new();
    write_plain(&mut out, content::CHANGE_CIPHER_SPEC, &[1]);
    out
}

/// Splits TLS bytes into whole records.
fn records(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut d = Deframer::default();
    d.push(bytes);
    let mut out = Vec::new();
    while let Some(r) = d.next_record().unwrap() {
        out.push(bytes[r.start - 5..r.end].to_vec());
    }
    out
}

fn completed_pair() -> (ClientConnection, ServerConnection) {
    let p = psk(HashAlgorithm::Sha256);
    let (mut c, mut s) = pair(
        ClientConfig::new(p.clone()),
        ServerConfig::new(store_with(p)),
    );
    let (rc, rs) = pump(&mut c, &mut s);
    rc.unwrap();
    rs.unwrap();
    (c, s)
}

/// Feeds the client's queued bytes to the server; returns the server's result.
fn client_to_server(c: &mut ClientConnection, s: &mut ServerConnection) -> Result<(), Error> {
    let bytes = c.take_tls();
    s.read_tls(&bytes);
    s.process_new_packets()
}

/// The server's reply, decrypted by the client: the alert it carries.
fn client_sees(c: &mut ClientConnection, s: &mut ServerConnection) -> Result<(), Error> {
    let bytes = s.take_tls();
    c.read_tls(&bytes);
    c.process_new_packets()
}

#[test]
fn zero_rtt_records_are_skipped_and_early_data_is_never_accepted() {
    let (mut c, mut s) = zero_rtt_pair(default_server());
    let mut first = c.take_tls();
    // 16 KiB of 0-RTT records with a change_cipher_spec among them (tlsfuzzer)
    first.extend(fake_early_data(1, 8192));
    first.extend(ccs());
    first.extend(fake_early_data(1, 8192));
    s.read_tls(&first);
    s.process_new_packets().unwrap();
    assert_eq!(s.plaintext_len(), 0);
    // the client refuses an EncryptedExtensions with early_data, so
    // completing shows the server did not accept 0-RTT
    let (rc, rs) = pump(&mut c, &mut s);
    rc.unwrap();
    rs.unwrap();
    assert!(!s.is_handshaking());
    assert_eq!(
        s.plaintext_len(),
        0,
        "no early data reaches the application"
    );
    exchange(&mut c, &mut s, 3000);
}

#[test]
fn zero_rtt_beyond_the_skip_bound_is_unexpected_message() {
    let (mut c, mut s) = zero_rtt_pair(default_server());
    let mut first = c.take_tls();
    let n = MAX_SKIPPED_EARLY_DATA / (16384 + 5) + 1;
    first.extend(fake_early_data(n, 16384));
    s.read_tls(&first);
    assert!(matches!(
        s.process_new_packets(),
        Err(Error::UnexpectedMessage(m)) if m.contains("early data")
    ));
    // the alert is protected: the client decrypts it after the flight
    assert_eq!(
        client_sees(&mut c, &mut s),
        Err(Error::AlertReceived(AlertDescription::UnexpectedMessage))
    );
}

#[test]
fn garbage_after_the_first_deprotected_record_is_bad_record_mac() {
    let (mut c, mut s) = zero_rtt_pair(default_server());
    let mut first = c.take_tls();
    first.extend(fake_early_data(2, 100));
    s.read_tls(&first);
    s.process_new_packets().unwrap();
    client_sees(&mut c, &mut s).unwrap();
    // the client's Finished deprotects; skipping ends there
    let mut second = c.take_tls();
    second.extend(fake_early_data(1, 100));
    s.read_tls(&second);
    assert_eq!(s.process_new_packets(), Err(Error::BadRecordMac));
}

#[test]
fn zero_rtt_before_the_second_client_hello_is_skipped() {
    let (mut c, mut s) = zero_rtt_pair(hrr_server());
    let mut first = c.take_tls();
    first.extend(fake_early_data(2, 4000));
    s.read_tls(&first);
    s.process_new_packets().unwrap();
    let (rc, rs) = pump(&mut c, &mut s);
    rc.unwrap();
    rs.unwrap();
    assert!(s.negotiated().unwrap().hello_retry);
    exchange(&mut c, &mut s, 100);
}

#[test]
fn zero_rtt_after_the_second_client_hello_is_bad_record_mac() {
    let (mut c, mut s) = zero_rtt_pair(hrr_server());
    let mut first = c.take_tls();
    first.extend(fake_early_data(1, 500));
    s.read_tls(&first);
    s.process_new_packets().unwrap();
    client_sees(&mut c, &mut s).unwrap(); // HelloRetryRequest
    let mut second = c.take_tls();
    let ch2 = messages::ClientHello::decode(&second[9..]).unwrap();
    assert!(ch2.extension(ext_type::EARLY_DATA).is_none());
    second.extend(fake_early_data(1, 500));
    s.read_tls(&second);
    assert_eq!(s.process_new_packets(), Err(Error::BadRecordMac));
}

#[test]
fn early_data_in_the_second_client_hello_is_illegal_parameter() {
    let (mut c, mut s) = zero_rtt_pair(hrr_server());
    client_to_server(&mut c, &mut s).unwrap();
    client_sees(&mut c, &mut s).unwrap();
    let second = c.take_tls();
    let mut ch2 = messages::ClientHello::decode(&second[9..]).unwrap();
    let at = ch2.extensions.len() - 1; // pre_shared_key stays last
    ch2.extensions.insert(at, early_data_ext());
    let mut rec = Vec::new();
    write_plain(&mut rec, content::HANDSHAKE, &ch2.encode());
    s.read_tls(&rec);
    assert_eq!(
        s.process_new_packets(),
        Err(Error::IllegalParameter(
            "early_data in the second ClientHello"
        ))
    );
    assert_eq!(s.take_tls(), [21, 3, 3, 0, 2, 2, 47]);
}

#[test]
fn application_data_between_handshake_fragments_is_unexpected_message() {
    for between in [content::APPLICATION_DATA, content::ALERT] {
        let (mut c, mut s) = completed_pair();
        let ku = messages::key_update(false);
        c.seal_for_test(content::HANDSHAKE, &ku[..2]).unwrap();
        let body: &[u8] = if between == content::ALERT {
            &[1, 0]
        } else {
            b"spliced"
        };
        c.seal_for_test(between, body).unwrap();
        c.seal_for_test(content::HANDSHAKE, &ku[2..]).unwrap();
        assert_eq!(
            client_to_server(&mut c, &mut s),
            Err(Error::UnexpectedMessage(
                "record between the fragments of a handshake message"
            ))
        );
        assert_eq!(s.plaintext_len(), 0, "the spliced data is not delivered");
        assert_eq!(
            client_sees(&mut c, &mut s),
            Err(Error::AlertReceived(AlertDescription::UnexpectedMessage))
        );
    }
    // control: the same fragments back to back are one KeyUpdate
    let (mut c, mut s) = completed_pair();
    let ku = messages::key_update(false);
    c.seal_for_test(content::HANDSHAKE, &ku[..2]).unwrap();
    c.seal_for_test(content::HANDSHAKE, &ku[2..]).unwrap();
    client_to_server(&mut c, &mut s).unwrap();
    let events: Vec<Event> = std::iter::from_fn(|| s.next_event()).collect();
    assert!(events.contains(&Event::PeerKeyUpdate));
}

#[test]
fn plaintext_records_between_client_hello_fragments_are_unexpected_message() {
    let warning_alert = {
        let mut a = Vec::new();
        write_plain(&mut a, content::ALERT, &[1, 90]); // user_canceled: ignored alone
        a
    };
    for between in [ccs(), warning_alert] {
        let p = psk(HashAlgorithm::Sha256);
        let (mut c, mut s) = pair(
            ClientConfig::new(p.clone()),
            ServerConfig::new(store_with(p)),
        );
        let first = c.take_tls();
        let mut wire = Vec::new();
        write_plain(&mut wire, content::HANDSHAKE, &first[5..50]);
        wire.extend(&between);
        write_plain(&mut wire, content::HANDSHAKE, &first[50..]);
        s.read_tls(&wire);
        assert_eq!(
            s.process_new_packets(),
            Err(Error::UnexpectedMessage(
                "record between the fragments of a handshake message"
            ))
        );
        assert_eq!(s.take_tls(), [21, 3, 3, 0, 2, 2, UNEXPECTED]);
    }
}

#[test]
fn empty_encrypted_alert_is_unexpected_message() {
    let (mut c, mut s) = completed_pair();
    c.seal_for_test(content::ALERT, &[]).unwrap();
    assert_eq!(
        client_to_server(&mut c, &mut s),
        Err(Error::UnexpectedMessage("empty alert record"))
    );
    assert_eq!(
        client_sees(&mut c, &mut s),
        Err(Error::AlertReceived(AlertDescription::UnexpectedMessage))
    );
    // an alert of the wrong, non-zero length stays a decode_error
    let (mut c, mut s) = completed_pair();
    c.seal_for_test(content::ALERT, &[2]).unwrap();
    assert!(matches!(
        client_to_server(&mut c, &mut s),
        Err(Error::Decode(_))
    ));
}

#[test]
fn legacy_version_0x0300_or_lower_is_protocol_version() {
    for v in [0x0300, 0x0200, 0x0002, 0x0100, 0x0103, 0x0000, 0x0001] {
        let (r, wire) = server_on_edited_hello(|ch| ch.legacy_version = v);
        assert_eq!(r, Err(Error::ProtocolVersion), "legacy_version {v:#06x}");
        assert_eq!(wire, [21, 3, 3, 0, 2, 2, 70]);
    }
    // control: 0x0301 passes the version check (the edit then breaks the binder)
    let (r, _) = server_on_edited_hello(|ch| ch.legacy_version = 0x0301);
    assert_eq!(r, Err(Error::BadPskBinder));
}

/// A client that processed only the server's ServerHello (so it holds the
/// client handshake key), and the server waiting for the client Finished.
fn client_before_finished() -> (ClientConnection, ServerConnection) {
    let p = psk(HashAlgorithm::Sha256);
    let (mut c, mut s) = pair(
        ClientConfig::new(p.clone()),
        ServerConfig::new(store_with(p)),
    );
    client_to_server(&mut c, &mut s).unwrap();
    let flight = records(&s.take_tls());
    assert_eq!(flight[0][0], content::HANDSHAKE);
    c.read_tls(&flight[0]);
    c.process_new_packets().unwrap();
    assert!(c.take_tls().is_empty());
    (c, s)
}

#[test]
fn finished_of_the_wrong_length_is_decode_error() {
    for len in [0, 31, 33, 48] {
        let (mut c, mut s) = client_before_finished();
        let fin = messages::frame(messages::typ::FINISHED, &vec![0; len]);
        c.seal_for_test(content::HANDSHAKE, &fin).unwrap();
        assert_eq!(
            client_to_server(&mut c, &mut s),
            Err(Error::Decode("Finished of the wrong length")),
            "length {len}"
        );
        assert_eq!(
            s.error().unwrap().alert(),
            Some(AlertDescription::DecodeError)
        );
    }
    // control: the right length with a wrong MAC is decrypt_error
    let (mut c, mut s) = client_before_finished();
    let fin = messages::frame(messages::typ::FINISHED, &[0; 32]);
    c.seal_for_test(content::HANDSHAKE, &fin).unwrap();
    assert_eq!(client_to_server(&mut c, &mut s), Err(Error::BadFinished));
}

#[test]
fn second_change_cipher_spec_is_unexpected_message() {
    let p = psk(HashAlgorithm::Sha256);
    let (mut c, mut s) = pair(
        ClientConfig::new(p.clone()),
        ServerConfig::new(store_with(p)),
    );
    let mut first = c.take_tls();
    first.extend(ccs());
    first.extend(ccs());
    s.read_tls(&first);
    assert_eq!(
        s.process_new_packets(),
        Err(Error::UnexpectedMessage("second change_cipher_spec"))
    );
    assert_eq!(
        client_sees(&mut c, &mut s),
        Err(Error::AlertReceived(AlertDescription::UnexpectedMessage))
    );
    // control: one change_cipher_spec is dropped and the handshake completes
    let p = psk(HashAlgorithm::Sha256);
    let (mut c, mut s) = pair(
        ClientConfig::new(p.clone()),
        ServerConfig::new(store_with(p)),
    );
    let mut first = c.take_tls();
    first.extend(ccs());
    s.read_tls(&first);
    s.process_new_packets().unwrap();
    let (rc, rs) = pump(&mut c, &mut s);
    rc.unwrap();
    rs.unwrap();
    assert!(!s.is_handshaking());
}

#[test]
fn change_cipher_spec_before_the_client_hello_is_unexpected_message() {
    let p = psk(HashAlgorithm::Sha256);
    let (mut c, mut s) = pair(
        ClientConfig::new(p.clone()),
        ServerConfig::new(store_with(p)),
    );
    let mut wire = ccs();
    wire.extend(c.take_tls());
    s.read_tls(&wire);
    assert_eq!(
        s.process_new_packets(),
        Err(Error::UnexpectedMessage(
            "change_cipher_spec before the ClientHello"
        ))
    );
    assert_eq!(s.take_tls(), [21, 3, 3, 0, 2, 2, UNEXPECTED]);
}

#[test]
fn plaintext_alert_after_handshake_keys_is_unexpected_message() {
    let plain_alert = [21, 3, 3, 0, 2, 2, 40];
    // server: it installed the client handshake key with its flight
    let p = psk(HashAlgorithm::Sha256);
    let (mut c, mut s) = pair(
        ClientConfig::new(p.clone()),
        ServerConfig::new(store_with(p)),
    );
    client_to_server(&mut c, &mut s).unwrap();
    s.read_tls(&plain_alert);
    assert_eq!(
        s.process_new_packets(),
        Err(Error::UnexpectedMessage(
            "plaintext alert after handshake keys were installed"
        ))
    );
    // client: after the ServerHello
    let (mut c, _s) = client_before_finished();
    c.read_tls(&plain_alert);
    assert_eq!(
        c.process_new_packets(),
        Err(Error::UnexpectedMessage(
            "plaintext alert after handshake keys were installed"
        ))
    );
    // control: before any key, a plaintext alert is the peer's alert
    let p = psk(HashAlgorithm::Sha256);
    let mut c = ClientConnection::new(Arc::new(ClientConfig::new(p))).unwrap();
    c.read_tls(&plain_alert);
    assert_eq!(
        c.process_new_packets(),
        Err(Error::AlertReceived(AlertDescription::HandshakeFailure))
    );
}

#[test]
fn client_encrypts_its_alerts_once_it_has_handshake_keys() {
    let (mut c, mut s) = client_before_finished();
    // a tampered EncryptedExtensions record
    let p = psk(HashAlgorithm::Sha256);
    let (mut c2, mut s2) = pair(
        ClientConfig::new(p.clone()),
        ServerConfig::new(store_with(p)),
    );
    client_to_server(&mut c2, &mut s2).unwrap();
    let flight = records(&s2.take_tls());
    let mut ee = flight
        .iter()
        .find(|r| r[0] == content::APPLICATION_DATA)
        .unwrap()
        .clone();
    let last = ee.len() - 1;
    ee[last] ^= 1;
    // feed the genuine flight's ServerHello to c2, then the tampered record
    c2.read_tls(&flight[0]);
    c2.process_new_packets().unwrap();
    c2.read_tls(&ee);
    assert_eq!(c2.process_new_packets(), Err(Error::BadRecordMac));
    let alert = c2.take_tls();
    assert_eq!(alert[0], content::APPLICATION_DATA, "alert is protected");
    s2.read_tls(&alert);
    assert_eq!(
        s2.process_new_packets(),
        Err(Error::AlertReceived(AlertDescription::BadRecordMac))
    );
    // close_notify during the handshake is protected too
    c.send_close_notify();
    let bytes = c.take_tls();
    assert_eq!(bytes[0], content::APPLICATION_DATA);
    s.read_tls(&bytes);
    assert_eq!(
        s.process_new_packets(),
        Err(Error::AlertReceived(AlertDescription::CloseNotify))
    );
}

#[test]
fn known_identity_with_another_hash_gets_the_same_alert_as_an_unknown_one() {
    let run = |client: Psk| {
        let (mut c, mut s) = pair(
            ClientConfig::new(client),
            ServerConfig::new(store_with(psk(HashAlgorithm::Sha256))),
        );
        let rs = client_to_server(&mut c, &mut s);
        (rs, s.take_tls())
    };
    let known_sha384 = run(psk(HashAlgorithm::Sha384));
    let unknown_sha384 =
        run(Psk::new(b"nobody", b"another-key-0123456789", HashAlgorithm::Sha384).unwrap());
    let unknown_sha256 =
        run(Psk::new(b"nobody", b"another-key-0123456789", HashAlgorithm::Sha256).unwrap());
    assert_eq!(known_sha384.0, Err(Error::BadPskBinder));
    assert_eq!(known_sha384, unknown_sha384);
    assert_eq!(known_sha384, unknown_sha256);
    assert_eq!(known_sha384.1, [21, 3, 3, 0, 2, 2, 51]);
}

#[test]
fn no_suite_in_common_is_handshake_failure_whatever_the_identity() {
    // the server enables only AES-128-GCM; the client offers only ChaCha20: no suite in
    // common, which is handshake_failure for a known and an unknown identity alike
    let run = |client: Psk| {
        let mut cc = ClientConfig::new(client);
        cc.options.cipher_suites = vec![CipherSuite::Chacha20Poly1305Sha256];
        let mut sc = ServerConfig::new(store_with(psk(HashAlgorithm::Sha256)));
        sc.options.cipher_suites = vec![CipherSuite::Aes128GcmSha256];
        let (mut c, mut s) = pair(cc, sc);
        let rs = client_to_server(&mut c, &mut s);
        (rs, s.take_tls())
    };
    let known = run(psk(HashAlgorithm::Sha256));
    let unknown =
        run(Psk::new(b"nobody", b"another-key-0123456789", HashAlgorithm::Sha256).unwrap());
    assert!(matches!(known.0, Err(Error::HandshakeFailure(_))));
    assert_eq!(known, unknown);
    assert_eq!(known.1, [21, 3, 3, 0, 2, 2, 40]);
}

#[test]
fn extension_and_key_share_duplicates_found_in_long_lists() {
    let mut ch = sample_hello();
    // 3000 distinct unknown extensions decode
    let psk_ext = ch.extensions.pop().unwrap();
    for t in 1000..4000u16 {
        ch.extensions.push(messages::Extension {
            typ: t,
            data: vec![],
        });
    }
    let mut with_psk = ch.clone();
    with_psk.extensions.push(psk_ext.clone());
    let dec = messages::ClientHello::decode(&with_psk.encode()[4..]).unwrap();
    assert_eq!(dec.extensions.len(), with_psk.extensions.len());
    // a duplicate of the first one at the end is found
    ch.extensions.push(messages::Extension {
        typ: 1000,
        data: vec![],
    });
    ch.extensions.push(psk_ext);
    assert_eq!(
        messages::ClientHello::decode(&ch.encode()[4..]),
        Err(Error::IllegalParameter("duplicate extension"))
    );
    // key shares: many groups, a late duplicate
    let keys: Vec<(u16, Vec<u8>)> = (0..2000u16).map(|g| (g, vec![1])).collect();
    let mut list: Vec<(u16, &[u8])> = keys.iter().map(|(g, k)| (*g, k.as_slice())).collect();
    let mut ch = sample_hello();
    ch.extensions[2].data = messages::hello::client_key_shares(&list);
    assert_eq!(ch.key_shares().unwrap().unwrap().len(), 2000);
    list.push((0, &[2]));
    ch.extensions[2].data = messages::hello::client_key_shares(&list);
    assert_eq!(
        ch.key_shares(),
        Err(Error::IllegalParameter("duplicate key_share group"))
    );
}

/// The default client's first ClientHello, decoded.
fn sample_hello() -> messages::ClientHello {
    let p = psk(HashAlgorithm::Sha256);
    let mut c = ClientConnection::new(Arc::new(ClientConfig::new(p))).unwrap();
    let first = c.take_tls();
    let ch = messages::ClientHello::decode(&first[9..]).unwrap();
    assert_eq!(ch.extensions[2].typ, ext_type::KEY_SHARE);
    ch
}
