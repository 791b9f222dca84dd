//! Device (P2P) formats of `dta-client`: first byte `% 5`: 0 = the rest is a device
//! credential file (`DeviceCredentialFile::from_json`: accepted files re-encode to a file
//! that parses to the same JSON, holds the grant's keys, and errors name the file); 1..=4 =
//! the rest as `DeviceKeysRequest`, `DeviceKeysResponse`, `DevicePermitsRequest`,
//! `DevicePermitsResponse` (accepted bodies round-trip through JSON).
#![no_main]

use std::path::Path;

use dta_client::api::{
    DeviceKeysRequest, DeviceKeysResponse, DevicePermitsRequest, DevicePermitsResponse,
};
use dta_client::device_file::DeviceCredentialFile;
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use serde::Serialize;

const FILE: &str = "fuzz.device";

fn round_trip<T: Serialize + DeserializeOwned>(bytes: &[u8]) {
    if let Ok(v) = serde_json::from_slice::<T>(bytes) {
        let json = serde_json::to_vec(&v).expect("encodes");
        let back: T = serde_json::from_slice(&json).expect("re-encoded body parses");
        assert_eq!(serde_json::to_vec(&back).expect("encodes"), json);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    match sel % 5 {
        0 => match DeviceCredentialFile::from_json(rest, Path::new(FILE)) {
            Ok(c) => {
                let json = c.to_json();
                let back = DeviceCredentialFile::from_json(json.as_bytes(), Path::new(FILE))
                    .expect("re-encoded device credential parses");
                assert_eq!(*back.to_json(), *json);
                assert_eq!(back.keys(), c.grant.device_keys);
                let _ = format!("{c:?}");
            }
            Err(e) => {
                let msg = e.to_string();
                assert!(msg.contains(FILE), "error does not name the file: {msg}");
            }
        },
        1 => round_trip::<DeviceKeysRequest>(rest),
        2 => round_trip::<DeviceKeysResponse>(rest),
        3 => round_trip::<DevicePermitsRequest>(rest),
        _ => round_trip::<DevicePermitsResponse>(rest),
    }
});
