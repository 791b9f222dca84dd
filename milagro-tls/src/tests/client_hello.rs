//! The server refusing bad ClientHellos, each with its alert.

use super::*;
use crate::*;

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
