//! RA grants: `serde_json::from_slice::<Grant>` + `Grant::verify`.
//!
//! First byte even: the rest is grant JSON. Every parsed grant must survive a JSON round trip
//! unchanged; it must never verify against an empty trust list; if it verifies against the
//! fixed fuzzing RA key, its re-encoding must verify to the same result.
//!
//! First byte odd: a grant is built from fuzzed fields and signed with the fixed RA key (so
//! that the signature check passes and every field check is reached); grants made by
//! `RaKey::grant_client` / `grant_server` must verify exactly when their fields are valid, and
//! a grant with one field changed after signing must never verify.
#![no_main]

use dta_client::ra::{DeviceKeys, Grant, GrantKind, RaError, RaKey};
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use mpin_kex::HashedId;

const RA_SEED: [u8; 32] = [7; 32];

fn ra() -> (SigningKey, VerifyingKey) {
    let sk = SigningKey::from_bytes(&RA_SEED);
    let vk = sk.verifying_key();
    (sk, vk)
}

fn check_parsed(g: &Grant) {
    let (_, vk) = ra();
    let json = serde_json::to_vec(g).unwrap_or_default();
    let back: Grant = serde_json::from_slice(&json).expect("re-encoded grant parses");
    assert_eq!(&back, g);
    let pretty = serde_json::to_string_pretty(g).unwrap_or_default();
    let back: Grant = serde_json::from_str(&pretty).expect("pretty grant parses");
    assert_eq!(&back, g);
    assert!(g.verify(&[]).is_err(), "verified with no trusted key");
    let first = g.verify(&[vk]);
    let second = back.verify(&[vk]);
    assert_eq!(first.is_ok(), second.is_ok());
    match first {
        Ok(v) => {
            assert_eq!(v.kind, g.kind);
            assert_eq!(v.enrol_until, g.enrol_until);
            match v.kind {
                GrantKind::Client => assert!(v.hashed_id.is_some() && v.server_name.is_none()),
                GrantKind::Server => assert!(v.hashed_id.is_none() && v.server_name.is_some()),
                GrantKind::Device => assert!(
                    v.hashed_id.is_some() && v.server_name.is_none() && v.device_keys.is_some()
                ),
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

fn text(u: &mut Unstructured<'_>) -> Result<String> {
    u.arbitrary::<String>()
}

fn structured(u: &mut Unstructured<'_>) -> Result<()> {
    let (sk, vk) = ra();
    let key = RaKey::from_signing_key(sk.clone());
    let now: u64 = u.arbitrary()?;
    let valid: u64 = u.arbitrary()?;
    match u.int_in_range(0u8..=2)? {
        0 => {
            // an honest client grant always verifies
            let id = HashedId::of(&u.arbitrary::<Vec<u8>>()?);
            let g = key.grant_client(&id, now, valid);
            let v = g.verify(&[vk]).expect("honest client grant verifies");
            assert_eq!(v.hashed_id, Some(id));
            assert_eq!(v.enrol_until, now.saturating_add(valid));
            check_parsed(&g);
            tamper(u, g, &vk)?;
        }
        1 => {
            // an honest server grant verifies exactly when the name is valid
            let name = text(u)?;
            let g = key.grant_server(&name, now, valid);
            let ok =
                !name.is_empty() && name.len() <= 128 && name.bytes().all(|b| b.is_ascii_graphic());
            let r = g.verify(&[vk]);
            assert_eq!(r.is_ok(), ok, "server name {name:?}: {r:?}");
            if let Ok(v) = r {
                assert_eq!(v.server_name.as_deref(), Some(name.as_str()));
            }
            check_parsed(&g);
            tamper(u, g, &vk)?;
        }
        _ => {
            // arbitrary fields, correctly signed: only field checks can refuse it
            let hashed_id = match u.int_in_range(0u8..=2)? {
                0 => None,
                1 => Some(hex::encode(
                    HashedId::of(&u.arbitrary::<Vec<u8>>()?).as_bytes(),
                )),
                _ => Some(text(u)?),
            };
            let server_name = if u.arbitrary()? { Some(text(u)?) } else { None };
            let grant_id = if u.arbitrary()? {
                hex::encode(u.arbitrary::<[u8; 16]>()?)
            } else {
                text(u)?
            };
            let ra_key = if u.arbitrary()? {
                hex::encode(vk.as_bytes())
            } else {
                text(u)?
            };
            let mut g = Grant {
                version: if u.arbitrary()? { 1 } else { u.arbitrary()? },
                kind: match u.int_in_range(0u8..=2)? {
                    0 => GrantKind::Client,
                    1 => GrantKind::Server,
                    _ => GrantKind::Device,
                },
                hashed_id,
                server_name,
                device_keys: match u.int_in_range(0u8..=3)? {
                    0 => None,
                    1 => Some(DeviceKeys::Send),
                    2 => Some(DeviceKeys::Receive),
                    _ => Some(DeviceKeys::Both),
                },
                grant_id,
                issued_at: now,
                enrol_until: valid,
                ra_key,
                signature: String::new(),
            };
            g.signature = hex::encode(sk.sign(&g.signed_message()).to_bytes());
            match g.verify(&[vk]) {
                Ok(_) => assert_eq!(g.version, 1),
                Err(RaError::BadGrantSignature) => {
                    // only possible if `ra_key` parses to our key but was written differently
                    panic!("correctly signed grant failed the signature check: {g:?}")
                }
                Err(_) => {}
            }
            check_parsed(&g);
        }
    }
    Ok(())
}

/// Changes one signed field: the grant must then never verify.
fn tamper(u: &mut Unstructured<'_>, mut g: Grant, vk: &VerifyingKey) -> Result<()> {
    let before = g.clone();
    match u.int_in_range(0u8..=4)? {
        0 => g.enrol_until = g.enrol_until.wrapping_add(u.int_in_range(1..=u64::MAX)?),
        1 => g.issued_at = g.issued_at.wrapping_add(u.int_in_range(1..=u64::MAX)?),
        2 => g.grant_id = hex::encode(u.arbitrary::<[u8; 16]>()?),
        3 => {
            g.kind = match g.kind {
                GrantKind::Client => GrantKind::Server,
                GrantKind::Server => GrantKind::Device,
                GrantKind::Device => GrantKind::Client,
            }
        }
        _ => {
            g.hashed_id = Some(hex::encode(
                HashedId::of(&u.arbitrary::<Vec<u8>>()?).as_bytes(),
            ))
        }
    }
    if g.signed_message() != before.signed_message() {
        assert!(g.verify(&[*vk]).is_err(), "tampered grant verified: {g:?}");
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    if sel % 2 == 0 {
        if let Ok(g) = serde_json::from_slice::<Grant>(rest) {
            check_parsed(&g);
        }
    } else {
        let _ = structured(&mut Unstructured::new(rest));
    }
});
