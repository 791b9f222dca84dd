//! The small string parsers of `dta_client::ra` and `DtaEndpoint::from_str`.
//!
//! First byte `% 4` selects `parse_hashed_id`, `parse_public_key`, `parse_signing_key` or
//! `DtaEndpoint::from_str`; the rest is the (lossily UTF-8 decoded) text. Every success must
//! round-trip through its encoder (hex, `Display`, serde JSON).
#![no_main]

use dta_client::client::DtaEndpoint;
use dta_client::ra::{parse_hashed_id, parse_public_key, parse_signing_key};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    match sel % 4 {
        0 => {
            if let Ok(h) = parse_hashed_id(&text) {
                let again = parse_hashed_id(&hex::encode(h.as_bytes()));
                assert_eq!(again, Ok(h));
                assert_eq!(mpin_kex::HashedId::from_bytes(h.as_bytes()), Some(h));
            }
        }
        1 => match parse_public_key(&text, "fuzz") {
            Ok(k) => {
                let again = parse_public_key(&hex::encode(k.as_bytes()), "fuzz").ok();
                assert_eq!(again, Some(k));
            }
            Err(e) => {
                let _ = e.to_string();
            }
        },
        2 => {
            if let Ok(k) = parse_signing_key(&text, "fuzz") {
                let again = parse_signing_key(&hex::encode(k.to_bytes()), "fuzz").ok();
                assert_eq!(again.map(|a| a.to_bytes()), Some(k.to_bytes()));
            }
        }
        _ => match text.parse::<DtaEndpoint>() {
            Ok(ep) => {
                let shown = ep.to_string();
                let again = shown.parse::<DtaEndpoint>().ok();
                assert_eq!(again.as_ref(), Some(&ep), "Display/FromStr: {shown:?}");
                let json = serde_json::to_vec(&ep).unwrap_or_default();
                let back: Option<DtaEndpoint> = serde_json::from_slice(&json).ok();
                assert_eq!(back.as_ref(), Some(&ep));
            }
            Err(e) => {
                let _ = e.to_string();
            }
        },
    }
});
