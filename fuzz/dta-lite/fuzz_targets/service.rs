//! A whole D-TA: `dta_lite::service::Dta::handle` with fuzzed method, path, headers, body and
//! clock. One `Dta` (fixed master share, fixed signing key, trusting the fixed fuzzing RA key)
//! with a database in a temporary folder is built once and kept for the whole run.
//!
//! Input: byte 0 picks the method (`GET`, `POST`, or fuzzed text), byte 1 the path (one of
//! the routes, or fuzzed text), byte 2 the body: the rest as is, or a well-formed request
//! body for a route (client-secret, time-permits, server-secret, revocation) made from fuzzed
//! fields with grants signed by the RA key; byte 3 the headers: none, fuzzed pairs, or an RA
//! signature of the request (so revocations are reachable). The clock is
//! `1_800_000_000 + i32` (or any `u64`).
//!
//! Every answer must carry a valid response signature, must not be a 500, its JSON bodies
//! must parse, and a 200 must carry the body type its route promises.
#![no_main]

use std::sync::OnceLock;

use dta_lite::api::{
    self, DeviceKeysResponse, DevicePermitsResponse, ErrorBody, Info, RevocationResponse,
    ShareResponse, TimePermitsResponse,
};
use dta_lite::db::Db;
use dta_lite::ra::{DeviceKeys, RaKey};
use dta_lite::service::{ApiRequest, Dta};
use ed25519_dalek::SigningKey;
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use mpin_kex::wcc::P2pMasterShare;
use mpin_kex::{HashedId, MasterShare};

const NOW: u64 = 1_800_000_000;
const PATHS: [&str; 9] = [
    "/v1/client-secret",
    "/v1/device-keys",
    "/v1/device-permits",
    "/v1/time-permits",
    "/v1/server-secret",
    "/v1/revocations",
    "/v1/info",
    "/healthz",
    "/metrics",
];

struct Fixture {
    _dir: tempfile::TempDir,
    dta: Dta,
    ra: RaKey,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut ms = [0u8; 48];
        ms[47] = 5;
        let ra = RaKey::from_signing_key(SigningKey::from_bytes(&[7; 32]));
        let db = Db::open(&dir.path().join("db")).expect("db");
        let dta = Dta::new(
            "fuzz".into(),
            MasterShare::from_bytes(&ms).expect("master share"),
            SigningKey::from_bytes(&[8; 32]),
            "00".repeat(32),
            vec![ra.public()],
            db,
        )
        .with_p2p_master(
            P2pMasterShare::from_bytes(&[&b"P2P1"[..], &[0; 47], &[6]].concat())
                .expect("P2P master share"),
        );
        Fixture { _dir: dir, dta, ra }
    })
}

fn hashed_id(u: &mut Unstructured<'_>) -> Result<String> {
    Ok(match u.int_in_range(0u8..=3)? {
        0 => u.arbitrary()?,
        _ => hex::encode(HashedId::of(&[u.arbitrary::<u8>()?]).as_bytes()),
    })
}

fn body(u: &mut Unstructured<'_>, ra: &RaKey, path: &str, now: u64) -> Result<Vec<u8>> {
    let issued = now.wrapping_add(i64::from(u.arbitrary::<i16>()?) as u64);
    let valid = u64::from(u.arbitrary::<u16>()?);
    let v = match (u.int_in_range(0u8..=4)?, path) {
        (0, _) => return Ok(u.bytes(u.len())?.to_vec()),
        (_, "/v1/client-secret") => {
            let hid = hashed_id(u)?;
            let gid = HashedId::of(&[u.arbitrary::<u8>()?]);
            serde_json::json!({"hashed_id": hid, "grant": ra.grant_client(&gid, issued, valid)})
        }
        (_, "/v1/time-permits") => {
            let hid = hashed_id(u)?;
            let gid = HashedId::of(&[u.arbitrary::<u8>()?]);
            let today = mpin_kex::policy::day_of(now);
            let from_day = if u.arbitrary()? {
                today.wrapping_add(i32::from(u.arbitrary::<i8>()?) as u32)
            } else {
                u.arbitrary()?
            };
            let days = u32::from(u.arbitrary::<u8>()?);
            serde_json::json!({"hashed_id": hid, "grant": ra.grant_client(&gid, issued, valid),
                "from_day": from_day, "days": days})
        }
        (_, "/v1/device-keys" | "/v1/device-permits") => {
            let hid = hashed_id(u)?;
            let gid = HashedId::of(&[u.arbitrary::<u8>()?]);
            let pick = |i: u8| match i % 3 {
                0 => DeviceKeys::Send,
                1 => DeviceKeys::Receive,
                _ => DeviceKeys::Both,
            };
            let g = if u.ratio(7u8, 8)? {
                ra.grant_device(&gid, pick(u.arbitrary()?), issued, valid)
            } else {
                ra.grant_client(&gid, issued, valid)
            };
            if path == "/v1/device-keys" {
                serde_json::json!({"hashed_id": hid, "grant": g, "keys": pick(u.arbitrary()?)})
            } else {
                let today = mpin_kex::policy::day_of(now);
                let from_day = today.wrapping_add(i32::from(u.arbitrary::<i8>()?) as u32);
                let days = u32::from(u.arbitrary::<u8>()?);
                serde_json::json!({"hashed_id": hid, "grant": g, "from_day": from_day, "days": days})
            }
        }
        (_, "/v1/server-secret") => {
            let name: String = if u.arbitrary()? {
                u.arbitrary()?
            } else {
                format!("srv{}", u.arbitrary::<u8>()?)
            };
            let g = if u.arbitrary()? {
                ra.grant_server(&name, issued, valid)
            } else {
                ra.grant_client(&HashedId::of(name.as_bytes()), issued, valid)
            };
            serde_json::json!({ "grant": g })
        }
        _ => serde_json::json!({ "hashed_id": hashed_id(u)? }),
    };
    Ok(v.to_string().into_bytes())
}

fn run(u: &mut Unstructured<'_>) -> Result<()> {
    let f = fixture();
    let method: String = match u.int_in_range(0u8..=3)? {
        0 | 1 => "POST".into(),
        2 => "GET".into(),
        _ => u.arbitrary()?,
    };
    let path: String = match u.int_in_range(0u8..=9)? {
        9 => u.arbitrary()?,
        i => PATHS[usize::from(i)].into(),
    };
    let now = if u.ratio(15u8, 16)? {
        NOW.wrapping_add(i64::from(u.arbitrary::<i32>()?) as u64)
    } else {
        u.arbitrary()?
    };
    let header_mode = u.int_in_range(0u8..=2)?;
    let fuzzed_headers: Vec<(String, String)> = if header_mode == 1 {
        u.arbitrary()?
    } else {
        Vec::new()
    };
    let body = body(u, &f.ra, &path, now)?;
    let headers: Vec<(String, String)> = match header_mode {
        2 => {
            let ts = now.wrapping_add(i64::from(u.arbitrary::<i8>()?) as u64);
            f.ra.sign_request(&method, &path, &body, ts)
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect()
        }
        _ => fuzzed_headers,
    };
    let req = ApiRequest {
        method: &method,
        path: &path,
        headers: &headers,
        body: &body,
    };
    let r = f.dta.handle(&req, now);
    let vk = ed25519_dalek::SigningKey::from_bytes(&[8; 32]).verifying_key();
    assert!(
        api::verify_response(&vk, &method, &path, &body, r.status, &r.body, &r.signature),
        "answer signature does not verify"
    );
    assert_ne!(
        r.status,
        500,
        "internal error: {}",
        String::from_utf8_lossy(&r.body)
    );
    if r.content_type == "application/json" {
        if r.status == 200 {
            let ok = match path.as_str() {
                "/v1/client-secret" | "/v1/server-secret" => {
                    serde_json::from_slice::<ShareResponse>(&r.body).is_ok()
                }
                "/v1/time-permits" => serde_json::from_slice::<TimePermitsResponse>(&r.body)
                    .is_ok_and(|p| !p.permits.is_empty()),
                "/v1/revocations" => serde_json::from_slice::<RevocationResponse>(&r.body).is_ok(),
                "/v1/device-keys" => serde_json::from_slice::<DeviceKeysResponse>(&r.body)
                    .is_ok_and(|k| k.sender_key.is_some() || k.receiver_key.is_some()),
                "/v1/device-permits" => serde_json::from_slice::<DevicePermitsResponse>(&r.body)
                    .is_ok_and(|p| !p.permits.is_empty()),
                "/v1/info" => serde_json::from_slice::<Info>(&r.body).is_ok(),
                _ => false,
            };
            assert!(
                ok,
                "200 on {path} with body {:?}",
                String::from_utf8_lossy(&r.body)
            );
        } else {
            assert!(serde_json::from_slice::<ErrorBody>(&r.body).is_ok());
        }
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
});
