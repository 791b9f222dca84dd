//! Sealed files: `serde_json::from_slice::<Sealed>` + `seal::open`, and `seal`/`open`.
//!
//! First byte even: the rest is a sealed file; it must survive a JSON round trip; it is
//! opened (passphrase `fuzz`) only if its Argon2id parameters are tiny (m <= 256 KiB, t <= 2,
//! p <= 2) or over the bounds `open` enforces (then it must be refused before any hashing),
//! so that no input takes more than a millisecond or so.
//! First byte odd: the rest is plaintext sealed with tiny fuzzed parameters; it must open
//! to itself, not with another passphrase, and not once a parameter is changed.
#![no_main]

use dta_lite::seal::{open, seal, SealError, SealParams, Sealed};
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;

const PASS: &[u8] = b"fuzz";

fn over_bounds(m: u32, t: u32, p: u32) -> bool {
    m > 1 << 21 || t > 64 || p > 16
}

fn tiny(m: u32, t: u32, p: u32) -> bool {
    m <= 256 && t <= 2 && p <= 2
}

fn sealed_json(data: &[u8]) {
    let Ok(s) = serde_json::from_slice::<Sealed>(data) else {
        return;
    };
    let json = serde_json::to_vec(&s).expect("encodes");
    assert_eq!(
        serde_json::from_slice::<Sealed>(&json).ok().as_ref(),
        Some(&s)
    );
    let (m, t, p) = (s.m_cost_kib, s.t_cost, s.p_cost);
    if over_bounds(m, t, p) {
        if s.version == 1 && s.kdf == "argon2id" {
            if let Err(e @ SealError::Open) = open(&s, PASS) {
                panic!("over-bound parameters reached decryption: {e}");
            }
        }
    } else if tiny(m, t, p) {
        if let Err(e) = open(&s, PASS) {
            let _ = e.to_string();
        }
    }
}

fn seal_open(u: &mut Unstructured<'_>) -> Result<()> {
    let p = u.int_in_range(1u32..=2)?;
    let params = SealParams {
        m_cost_kib: u.int_in_range(8 * p..=64)?,
        t_cost: u.int_in_range(1u32..=2)?,
        p_cost: p,
    };
    let plain = u.bytes(u.len().min(4096))?;
    let s = seal(plain, PASS, params).expect("seals");
    assert_eq!(&**open(&s, PASS).expect("opens"), plain);
    assert!(matches!(open(&s, b"fuzZ"), Err(SealError::Open)));
    let json = serde_json::to_vec(&s).expect("encodes");
    let back: Sealed = serde_json::from_slice(&json).expect("parses");
    assert_eq!(&**open(&back, PASS).expect("opens"), plain);
    let mut t = back;
    t.t_cost = 3 - t.t_cost;
    assert!(open(&t, PASS).is_err(), "parameters are not authenticated");
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    if sel % 2 == 0 {
        sealed_json(rest);
    } else {
        let _ = seal_open(&mut Unstructured::new(rest));
    }
});
