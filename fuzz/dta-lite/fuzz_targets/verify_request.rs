//! `dta_client::ra::verify_request` with fuzzed method, path, body, clock and headers.
//!
//! Headers start as a genuine signature by the fixed fuzzing RA key (timestamp near the
//! fuzzed clock); each of the four `x-ra-*` headers is then kept, dropped, or replaced by
//! fuzzed text. A request must never verify against an empty trust list; one that verifies
//! must be signed by the trusted key, inside the time window; an untouched request must
//! verify exactly when it is inside the window.
#![no_main]

use dta_client::ra::{
    verify_request, RaKey, H_RA_KEY, H_RA_NONCE, H_RA_SIGNATURE, H_RA_TIMESTAMP,
    REQUEST_MAX_AGE_SECS,
};
use ed25519_dalek::SigningKey;
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;

fn run(u: &mut Unstructured<'_>) -> Result<()> {
    let ra = RaKey::from_signing_key(SigningKey::from_bytes(&[7; 32]));
    let trusted = [ra.public()];
    let method: String = u.arbitrary()?;
    let path: String = u.arbitrary()?;
    let body: Vec<u8> = u.arbitrary()?;
    let now: u64 = u.arbitrary()?;
    let ts = if u.arbitrary()? {
        now.wrapping_add(i64::from(u.arbitrary::<i8>()?) as u64)
    } else {
        u.arbitrary()?
    };
    let signed = ra.sign_request(&method, &path, &body, ts);
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut untouched = true;
    for (name, value) in signed {
        match u.int_in_range(0u8..=3)? {
            0 | 1 => headers.push((name.to_owned(), value)),
            2 => untouched = false,
            _ => {
                untouched = false;
                headers.push((name.to_owned(), u.arbitrary()?));
            }
        }
    }
    let lookup = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    assert!(verify_request(lookup, &method, &path, &body, now, &[]).is_err());
    let r = verify_request(lookup, &method, &path, &body, now, &trusted);
    if untouched {
        assert_eq!(r.is_ok(), now.abs_diff(ts) <= REQUEST_MAX_AGE_SECS, "{r:?}");
    }
    match r {
        Ok(v) => {
            assert_eq!(v.key, ra.public());
            assert!(now.abs_diff(v.timestamp) <= REQUEST_MAX_AGE_SECS);
            // only the canonical spelling of the signed timestamp is accepted
            assert_eq!(
                lookup(H_RA_TIMESTAMP),
                Some(v.timestamp.to_string().as_str())
            );
            assert_eq!(lookup(H_RA_NONCE).map(str::len), Some(32));
            assert!(lookup(H_RA_KEY).is_some() && lookup(H_RA_SIGNATURE).is_some());
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
});
