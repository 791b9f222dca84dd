//! The JSON bodies of `dta_client::api` and the response signature.
//!
//! First byte `% 11`: 0..=9 parse the rest as `ClientSecretRequest`, `ServerSecretRequest`,
//! `ShareResponse`, `TimePermitsRequest`, `PermitShare`, `TimePermitsResponse`,
//! `RevocationRequest`, `RevocationResponse`, `Info`, `ErrorBody`; a parsed body must
//! re-encode to JSON that parses and re-encodes to the same bytes. 10: `verify_response`
//! with fuzzed method, path, bodies, status and signature text; a genuine signature (fixed
//! key) must verify, in lower or upper case hex, and not for another status; a fuzzed
//! signature may only verify if it is the genuine one.
#![no_main]

use dta_client::api::{
    sign_response, verify_response, ClientSecretRequest, ErrorBody, Info, PermitShare,
    RevocationRequest, RevocationResponse, ServerSecretRequest, ShareResponse, TimePermitsRequest,
    TimePermitsResponse,
};
use ed25519_dalek::SigningKey;
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use serde::Serialize;

fn round_trip<T: Serialize + DeserializeOwned>(data: &[u8]) -> Option<T> {
    let v: T = serde_json::from_slice(data).ok()?;
    let once = serde_json::to_vec(&v).expect("encodes");
    let back: T = serde_json::from_slice(&once).expect("re-encoded body parses");
    assert_eq!(serde_json::to_vec(&back).expect("encodes"), once);
    Some(v)
}

fn signature(u: &mut Unstructured<'_>) -> Result<()> {
    let key = SigningKey::from_bytes(&[9; 32]);
    let vk = key.verifying_key();
    let method: String = u.arbitrary()?;
    let path: String = u.arbitrary()?;
    let req: Vec<u8> = u.arbitrary()?;
    let status: u16 = u.arbitrary()?;
    let resp: Vec<u8> = u.arbitrary()?;
    let fuzzed: String = u.arbitrary()?;
    let good = sign_response(&key, &method, &path, &req, status, &resp);
    assert!(verify_response(
        &vk, &method, &path, &req, status, &resp, &good
    ));
    assert!(verify_response(
        &vk,
        &method,
        &path,
        &req,
        status,
        &resp,
        &good.to_uppercase()
    ));
    assert!(!verify_response(
        &vk,
        &method,
        &path,
        &req,
        status ^ 1,
        &resp,
        &good
    ));
    if verify_response(&vk, &method, &path, &req, status, &resp, &fuzzed) {
        assert_eq!(hex::decode(&fuzzed).ok(), hex::decode(&good).ok());
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    match sel % 11 {
        0 => {
            let _ = round_trip::<ClientSecretRequest>(rest);
        }
        1 => {
            let _ = round_trip::<ServerSecretRequest>(rest);
        }
        2 => {
            let _ = round_trip::<ShareResponse>(rest);
        }
        3 => {
            let _ = round_trip::<TimePermitsRequest>(rest);
        }
        4 => {
            let _ = round_trip::<PermitShare>(rest);
        }
        5 => {
            let _ = round_trip::<TimePermitsResponse>(rest);
        }
        6 => {
            let _ = round_trip::<RevocationRequest>(rest);
        }
        7 => {
            let _ = round_trip::<RevocationResponse>(rest);
        }
        8 => {
            if let Some(info) = round_trip::<Info>(rest) {
                let json = serde_json::to_vec(&info).expect("encodes");
                assert_eq!(serde_json::from_slice::<Info>(&json).ok(), Some(info));
            }
        }
        9 => {
            let _ = round_trip::<ErrorBody>(rest);
        }
        _ => {
            let _ = signature(&mut Unstructured::new(rest));
        }
    }
});
