//! A whole server connection fed arbitrary bytes (in two chunks).
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use milagro_tls::{HashAlgorithm, Psk, ServerConfig, ServerConnection, StaticPskStore};

fuzz_target!(|data: &[u8]| {
    let Ok(psk) = Psk::new(b"client1", b"fuzzing-key-0123456789", HashAlgorithm::Sha256) else {
        return;
    };
    let store: StaticPskStore = [psk].into_iter().collect();
    let Ok(mut s) = ServerConnection::new(Arc::new(ServerConfig::new(Arc::new(store)))) else {
        return;
    };
    let mid = data.len() / 2;
    for part in [&data[..mid], &data[mid..]] {
        s.read_tls(part);
        if s.process_new_packets().is_err() {
            break;
        }
    }
    let _ = s.take_tls();
    let mut buf = [0u8; 64];
    let _ = s.read_plaintext(&mut buf);
});
