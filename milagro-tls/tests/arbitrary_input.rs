//! Stable-toolchain stand-ins for the cargo-fuzz targets in
//! `fuzz/milagro-tls`: arbitrary bytes into the handshake decoder, the record
//! deframer and a whole server connection must never panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::sync::Arc;

use milagro_tls::messages::{decode_framed, HandshakeMessage};
use milagro_tls::record::Deframer;
use milagro_tls::*;
use proptest::prelude::*;

fn server() -> ServerConnection {
    let psk = Psk::new(b"client1", b"fuzzing-key-0123456789", HashAlgorithm::Sha256).unwrap();
    let store: StaticPskStore = [psk].into_iter().collect();
    ServerConnection::new(Arc::new(ServerConfig::new(Arc::new(store)))).unwrap()
}

/// A real ClientHello, to mutate.
fn client_hello_record() -> Vec<u8> {
    let psk = Psk::new(b"client1", b"fuzzing-key-0123456789", HashAlgorithm::Sha256).unwrap();
    let mut c = ClientConnection::new(Arc::new(ClientConfig::new(psk))).unwrap();
    c.take_tls()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn handshake_decoder_never_panics(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(HandshakeMessage::ClientHello(ch)) = decode_framed(&data) {
            let _ = ch.key_shares();
            let _ = ch.pre_shared_key();
            prop_assert_eq!(decode_framed(&ch.encode()).ok(), Some(HandshakeMessage::ClientHello(ch)));
        }
    }

    #[test]
    fn deframer_never_panics(data in proptest::collection::vec(any::<u8>(), 0..2000), cut in 0usize..2000) {
        let mut d = Deframer::default();
        let cut = cut.min(data.len());
        d.push(&data[..cut]);
        while let Ok(Some(_)) = d.next_record() {}
        d.push(&data[cut..]);
        while let Ok(Some(r)) = d.next_record() {
            prop_assert!(r.end - r.start <= milagro_tls::record::MAX_CIPHERTEXT);
        }
    }

    #[test]
    fn server_survives_arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..2000)) {
        let mut s = server();
        s.read_tls(&data);
        let _ = s.process_new_packets();
        let _ = s.take_tls();
    }

    #[test]
    fn server_survives_mutated_client_hello(pos in 0usize..4096, xor in 1u8..=255, cut in 0usize..4096) {
        let mut rec = client_hello_record();
        let p = pos % rec.len();
        rec[p] ^= xor;
        rec.truncate(cut.max(1).min(rec.len()));
        let mut s = server();
        s.read_tls(&rec);
        if s.process_new_packets().is_err() {
            // every failure ends in exactly one alert record (or none for truncation)
            let out = s.take_tls();
            prop_assert!(out.is_empty() || out.starts_with(&[21, 3, 3, 0, 2, 2]) || out[0] == 22);
        }
    }
}
