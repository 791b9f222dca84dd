//! The strict point decoders: the first byte selects G1 (even) or G2 (odd).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mpin_kex::curve::{g1_decode, g2_decode};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    if sel % 2 == 0 {
        if let Ok(p) = g1_decode(rest) {
            assert!(!p.is_infinity(), "g1_decode accepted the identity");
            // Uncompressed miracl_core encoding is the same 04 ‖ X ‖ Y layout.
            let mut out = [0u8; 97];
            p.tobytes(&mut out, false);
            assert_eq!(&out[..], rest, "g1: encode(decode(x)) != x");
        }
    } else if let Ok(p) = g2_decode(rest) {
        assert!(!p.is_infinity(), "g2_decode accepted the identity");
    }
});
