//! The WCC records (`WCC_BLS381.json`, `WCC_H2_BLS381.json`): every derived field recomputed.

use std::collections::BTreeSet;

use mpin_kex::wcc::{raw, P2pMasterShare, ReceiverKey, ReceiverKeyShare, SenderKey};
use mpin_kex::HashedId;

use super::{Checker, Record};

fn p2p_share(rec: &Record, k: &str) -> Result<P2pMasterShare, String> {
    let mut b = P2pMasterShare::PREFIX.to_vec();
    b.extend_from_slice(&rec.scalar(k)?);
    P2pMasterShare::from_bytes(&b).map_err(|e| format!("{k}: {e}"))
}

/// A `WCC_BLS381.json` record: D-TA shares, keys, exchanged points, πa/πb, traces, keys, validity.
pub fn check_exchange(rec: &Record) -> Result<BTreeSet<String>, String> {
    let mut c = Checker {
        rec,
        checked: BTreeSet::new(),
    };
    let (id_a, id_b) = (rec.hex("IdA")?, rec.hex("IdB")?);
    let (ms1, ms2) = (p2p_share(rec, "MS1")?, p2p_share(rec, "MS2")?);
    let (ha, hb) = (HashedId::of(&id_a), HashedId::of(&id_b));
    c.eq("HIdA", ha.as_bytes())?;
    c.eq("HIdB", hb.as_bytes())?;

    let a_shares = [ms1.sender_key_share(&ha), ms2.sender_key_share(&ha)];
    c.eq("A1KeyG1", &a_shares[0].to_bytes())?;
    c.eq("A2KeyG1", &a_shares[1].to_bytes())?;
    let a_key = SenderKey::combine(&a_shares).map_err(|e| e.to_string())?;
    c.eq("AKeyG1", &a_key.to_bytes())?;

    // The receiver's shares, honest or as the record's FAULT says.
    let he = match rec.get("IdE") {
        Some(_) => {
            let he = HashedId::of(&rec.hex("IdE")?);
            c.eq("HIdE", he.as_bytes())?;
            Some(he)
        }
        None => None,
    };
    let other = || he.ok_or_else(|| "FAULT needs IdE".to_string());
    let (b1, b2) = match rec.get("FAULT") {
        None => (ms1.receiver_key_share(&hb), ms2.receiver_key_share(&hb)),
        Some("B2KEY_WRONG_MS") => (
            ms1.receiver_key_share(&hb),
            p2p_share(rec, "MS2R")?.receiver_key_share(&hb),
        ),
        Some("B2KEY_WRONG_ID") => (
            ms1.receiver_key_share(&hb),
            ms2.receiver_key_share(&other()?),
        ),
        Some("BKEY_WRONG_ID") => (
            ms1.receiver_key_share(&other()?),
            ms2.receiver_key_share(&other()?),
        ),
        Some(f) => return Err(format!("unknown FAULT {f}")),
    };
    c.eq("B1KeyG2", &b1.to_bytes())?;
    c.eq("B2KeyG2", &b2.to_bytes())?;
    let b_key =
        ReceiverKey::combine(&[b1, b2] as &[ReceiverKeyShare]).map_err(|e| e.to_string())?;
    c.eq("BKeyG2", &b_key.to_bytes())?;

    // The exchange.
    let (x, y, w) = (rec.scalar("X")?, rec.scalar("Y")?, rec.scalar("W")?);
    c.checked.insert("Y".into()); // an input here (derived in M-Pin one-pass records)
    let pa = raw::g1_multiple(&x, &ha);
    c.eq("PaG1", &pa)?;
    let pb = raw::g2_multiple(&y, &hb);
    c.eq("PbG2", &pb)?;
    let pg = raw::g1_multiple(&w, &ha);
    c.eq("PgG1", &pg)?;
    let pia = raw::hq(&pa, &pb, &pg, &id_b);
    c.eq("PIA", &pia)?;
    let pib = raw::hq(&pb, &pa, &pg, &id_a);
    c.eq("PIB", &pib)?;
    let k2 = raw::receiver_key((&y, &w), (&pia, &pib), &pa, &pg, &b_key, &id_a)
        .map_err(|e| format!("receiver: {e}"))?;
    let k1 = raw::sender_key(&x, (&pia, &pib), &pb, &pg, &a_key, &id_b)
        .map_err(|e| format!("sender: {e}"))?;
    c.eq("TRACE1", &k1.trace)?;
    c.eq("TRACE2", &k2.trace)?;
    c.eq("DHG1", &k1.dh)?;
    c.eq("DHG1", &k2.dh)?;
    c.eq("K1", &k1.key)?;
    c.eq("K2", &k2.key)?;
    let valid = k1.key == k2.key;
    if rec.need("VALID")? != valid.to_string() {
        return Err(format!(
            "VALID is {}, keys match: {valid}",
            rec.need("VALID")?
        ));
    }
    c.checked.insert("VALID".into());
    Ok(c.checked)
}

/// How far the hunt went: `X.im` of the pre-cofactor point minus `int(HID)`.
fn increments(pre: &[u8], hid: &[u8]) -> Option<i64> {
    // X.im is bytes 48..96; HID < 2^256, so both fit the low 32 bytes plus a small carry.
    let xi = &pre[48..96];
    if xi[..8].iter().any(|&b| b != 0) || hid[..8].iter().any(|&b| b != 0) {
        return None;
    }
    let (mut a, mut b) = (0i128, 0i128);
    for i in 8..48 {
        a = a.wrapping_shl(8) | i128::from(xi[i]);
        b = b.wrapping_shl(8) | i128::from(hid[i]);
    }
    i64::try_from(a.wrapping_sub(b)).ok()
}

/// A `WCC_H2_BLS381.json` record: HID, the legacy maps to G2 (before and after the cofactor)
/// and to G1.
pub fn check_maps(rec: &Record) -> Result<BTreeSet<String>, String> {
    let mut c = Checker {
        rec,
        checked: BTreeSet::new(),
    };
    let id = HashedId::of(&rec.hex("ID")?);
    c.eq("HID", id.as_bytes())?;
    let pre = raw::h2_before_cofactor(&id);
    c.eq("H2PRE", &pre)?;
    c.eq_int(
        "INC",
        increments(&pre, id.as_bytes()).ok_or("INC out of range")?,
    )?;
    c.eq("H2", &raw::h2(&id))?;
    c.eq("H1", &raw::h1(&id))?;
    Ok(c.checked)
}
