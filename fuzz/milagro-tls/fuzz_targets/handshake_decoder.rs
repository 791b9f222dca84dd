//! Decodes arbitrary bytes as a framed handshake message and exercises every
//! typed accessor of the hello messages.
#![no_main]

use libfuzzer_sys::fuzz_target;
use milagro_tls::messages::{decode_framed, HandshakeMessage};

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = decode_framed(data) {
        match msg {
            HandshakeMessage::ClientHello(ch) => {
                let _ = ch.supported_versions();
                let _ = ch.supported_groups();
                let _ = ch.key_shares();
                let _ = ch.psk_modes();
                let _ = ch.cookie();
                let _ = ch.pre_shared_key();
                // re-encoding a decoded hello must decode to the same value
                let again = decode_framed(&ch.encode());
                assert_eq!(again.ok(), Some(HandshakeMessage::ClientHello(ch)));
            }
            HandshakeMessage::ServerHello(sh) => {
                let _ = sh.selected_version();
                let _ = sh.key_share();
                let _ = sh.hrr_group();
                let _ = sh.selected_psk();
                let _ = sh.cookie();
            }
            _ => {}
        }
    }
});
