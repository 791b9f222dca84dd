//! The bad-point variants of a G1 encoding, shared by the M-Pin and the WCC invalid-point
//! tests (`wcc_invalid_points` includes this file alone).

use miracl_core::bls12381::big::BIG;
use miracl_core::bls12381::ecp::ECP;
use miracl_core::bls12381::rom;
use mpin_kex::PointError;

/// The four kinds of bad G1 point built from a valid encoding, with the error each must give.
pub fn g1_variants(valid: &[u8; 97]) -> Vec<(&'static str, [u8; 97], PointError)> {
    // Off the curve: change Y by one.
    let mut off = *valid;
    off[96] ^= 1;
    // The identity, as the legacy format would write it.
    let mut identity = [0u8; 97];
    identity[0] = 4;
    // Add the order-3 point (0, 2) of y² = x³ + 4: on the curve, outside the prime-order subgroup.
    let mut p = ECP::frombytes(valid);
    p.add(&ECP::new_bigs(&BIG::new_int(0), &BIG::new_int(2)));
    let mut small = [0u8; 97];
    p.tobytes(&mut small, false);
    // Non-canonical: X + p instead of X (same point for a decoder that reduces silently).
    let mut x = BIG::frombytes(&valid[1..49]);
    x.add(&BIG::new_ints(&rom::MODULUS));
    x.norm();
    let mut noncanon = *valid;
    x.tobytes(&mut noncanon[1..49]);
    vec![
        ("off-curve", off, PointError::NotOnCurve),
        ("identity", identity, PointError::Identity),
        ("small-subgroup component", small, PointError::NotInSubgroup),
        ("non-canonical", noncanon, PointError::NonCanonical),
    ]
}
