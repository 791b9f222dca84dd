//! The legacy Apache Milagro hash to G2 (`ECP2_mapit`, P2P-SPEC §3.5) and the WCC identity
//! points in both groups.
//!
//! `H2(h)`: hunt-and-peck on `X = 1 + x·i` from `x = int(h) mod p`, the square root the legacy
//! Fp2 algorithm returns (its real part is a non-zero quadratic residue), then Budroni–Pintore
//! cofactor clearing. miracl_core's own `ECP2::mapit` picks the other root for about half of
//! all identities, so it is not used. Not constant time: identities are public.

use miracl_core::bls12381::big::BIG;
use miracl_core::bls12381::ecp::ECP;
use miracl_core::bls12381::ecp2::ECP2;
use miracl_core::bls12381::rom;

use crate::curve::{big_from, MB};
use crate::identity::{permit_hash, Active, HashedId, IdentityProfile};

/// `x = int(h) mod p`, then the first `X = 1 + x·i` on the twist, with the root of `y`
/// chosen as the legacy `FP2_sqrt` does; before cofactor clearing.
pub(crate) fn legacy_h2_pre(h: &[u8; MB]) -> ECP2 {
    let mut x = big_from(h);
    x.rmod(&BIG::new_ints(&rom::MODULUS));
    let mut q = ECP2::hap2point(&x);
    let ya = q.gety().getA();
    if ya.iszilch() || ya.qr(None) != 1 {
        q.neg();
    }
    q
}

/// `H2(h)`: the legacy map to G2 (after cofactor clearing).
pub(crate) fn legacy_h2(h: &[u8; MB]) -> ECP2 {
    let mut q = legacy_h2_pre(h);
    q.cfp();
    q
}

/// The sender's identity point `A = H1(HID)` (the M-Pin identity point).
pub(crate) fn sender_point(id: &HashedId) -> ECP {
    Active::identity_point(id)
}

/// The sender's permit point `A_T(d) = H1(Hn(d, HID))` (the M-Pin permit point).
pub(crate) fn sender_permit_point(id: &HashedId, day: u32) -> ECP {
    Active::permit_point(id, day)
}

/// The receiver's identity point `B = H2(HID)`.
pub(crate) fn receiver_point(id: &HashedId) -> ECP2 {
    legacy_h2(id.as_bytes())
}

/// The receiver's permit point `B_T(d) = H2(Hn(d, HID))` (our extension, P2P-SPEC §5.1).
pub(crate) fn receiver_permit_point(id: &HashedId, day: u32) -> ECP2 {
    legacy_h2(&permit_hash(id, day))
}

/// `A' = A + A_T(d)` (or `A` when `day = 0`).
pub(crate) fn sender_active_point(id: &HashedId, day: u32) -> ECP {
    let mut a = sender_point(id);
    if day != 0 {
        a.add(&sender_permit_point(id, day));
    }
    a
}

/// `B' = B + B_T(d)` (or `B` when `day = 0`).
pub(crate) fn receiver_active_point(id: &HashedId, day: u32) -> ECP2 {
    let mut b = receiver_point(id);
    if day != 0 {
        b.add(&receiver_permit_point(id, day));
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use miracl_core::bls12381::pair;

    #[test]
    fn h2_is_in_the_subgroup_and_differs_from_miracl_mapit_only_by_sign() {
        for id in [&b"alice@milagro.com"[..], b"bob@milagro.com", b"x"] {
            let h = HashedId::of(id);
            let ours = legacy_h2(h.as_bytes());
            assert!(pair::g2member(&ours) && !ours.is_infinity());
            let theirs = ECP2::mapit(h.as_bytes());
            let mut neg = theirs.clone();
            neg.neg();
            assert!(ours.equals(&theirs) || ours.equals(&neg));
        }
    }
}
