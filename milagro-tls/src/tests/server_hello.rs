//! The client refusing bad ServerHellos and HelloRetryRequests, and echoing the cookie.

use std::sync::Arc;

use super::*;
use crate::record::{content, write_plain};
use crate::*;

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
