//! PSK selection: wrong keys, unknown identities, binder labels and hash mismatches.

use std::sync::Arc;

use super::*;
use crate::*;

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
