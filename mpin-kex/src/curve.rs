//! Thin, validating wrappers over miracl_core's BLS12-381 arithmetic and the legacy Apache
//! Milagro byte encodings (MPIN-SPEC §1.2).
//!
//! Every decoder here is strict: canonical coordinates (< p), on the curve, in the prime-order
//! subgroup and not the point at infinity. Nothing decoded from outside reaches a pairing
//! without passing through [`g1_decode`] or [`g2_decode`].

use miracl_core::bls12381::big::{self, BIG};
use miracl_core::bls12381::ecp::ECP;
use miracl_core::bls12381::ecp2::ECP2;
use miracl_core::bls12381::fp12::FP12;
use miracl_core::bls12381::fp2::FP2;
use miracl_core::bls12381::fp4::FP4;
use miracl_core::bls12381::{pair, rom};
use rand_core::{CryptoRng, RngCore};

use crate::error::PointError;

/// Bytes in a field element or scalar (MODBYTES).
pub const MB: usize = big::MODBYTES;
/// Bytes in an uncompressed G1 point `04 ‖ X ‖ Y`.
pub const G1_LEN: usize = 2 * MB + 1;
/// Bytes in a legacy G2 point `X.re ‖ X.im ‖ Y.re ‖ Y.im`.
pub const G2_LEN: usize = 4 * MB;
/// Bytes in a legacy GT element (12 Fp coefficients, a.a.a first).
pub const GT_LEN: usize = 12 * MB;

/// The prime order `q` of G1, G2 and GT.
pub(crate) fn order() -> BIG {
    BIG::new_ints(&rom::CURVE_ORDER)
}

fn modulus() -> BIG {
    BIG::new_ints(&rom::MODULUS)
}

/// The field modulus `p` as MB big-endian bytes.
pub(crate) fn modulus_bytes() -> [u8; MB] {
    big_to_bytes(&modulus())
}

/// Reads a big-endian MB-byte integer.
pub(crate) fn big_from(bytes: &[u8; MB]) -> BIG {
    BIG::frombytes(bytes)
}

/// Writes a BIG as MB big-endian bytes.
pub(crate) fn big_to_bytes(b: &BIG) -> [u8; MB] {
    let mut out = [0u8; MB];
    let mut c = BIG::new_copy(b);
    c.norm();
    c.tobytes(&mut out);
    out
}

/// An MB-byte integer reduced mod q.
pub(crate) fn scalar_mod_q(bytes: &[u8; MB]) -> BIG {
    let mut s = big_from(bytes);
    s.rmod(&order());
    s
}

/// A scalar that must already be canonical (`< q`).
pub(crate) fn scalar_canonical(bytes: &[u8]) -> Result<BIG, PointError> {
    let arr: &[u8; MB] = bytes.try_into().map_err(|_| PointError::Length)?;
    let s = big_from(arr);
    if BIG::comp(&s, &order()) >= 0 {
        return Err(PointError::NonCanonical);
    }
    Ok(s)
}

/// A uniformly random non-zero scalar mod q (384 random bits reduced mod q: bias < 2^-128).
pub(crate) fn random_scalar<R: RngCore + CryptoRng>(rng: &mut R) -> BIG {
    loop {
        let mut buf = [0u8; MB];
        rng.fill_bytes(&mut buf);
        let s = scalar_mod_q(&buf);
        zeroize::Zeroize::zeroize(&mut buf);
        if !s.iszilch() {
            return s;
        }
    }
}

/// `(a + b) mod q`.
pub(crate) fn add_mod_q(a: &BIG, b: &BIG) -> BIG {
    BIG::modadd(a, b, &order())
}

/// `-a mod q`.
pub(crate) fn neg_mod_q(a: &BIG) -> BIG {
    BIG::modneg(a, &order())
}

/// Scalar multiplication for secret scalars: fixed-length ladder (no bit-length leak).
pub(crate) fn g1_mul_secret(p: &ECP, e: &BIG) -> ECP {
    let mut ee = BIG::new_copy(e);
    ee.rmod(&order());
    p.clmul(&ee, &order())
}

/// Scalar multiplication in G2 (secret scalars are reduced; GLS as in miracl_core).
pub(crate) fn g2_mul(p: &ECP2, e: &BIG) -> ECP2 {
    pair::g2mul(p, e)
}

/// A field element's canonical bytes: miracl_core's `redc` may return a value in `[0, p]`, so
/// reduce once more (an unreduced `p` would otherwise be emitted for zero).
fn fp_canonical_bytes(mut v: BIG) -> [u8; MB] {
    v.rmod(&modulus());
    big_to_bytes(&v)
}

/// Encodes a G1 point as `04 ‖ X ‖ Y`. The caller guarantees it is not infinity.
pub(crate) fn g1_to_bytes(p: &ECP) -> [u8; G1_LEN] {
    let mut out = [0u8; G1_LEN];
    let mut w = ECP::new();
    w.copy(p);
    w.affine();
    out[0] = 0x04;
    out[1..=MB].copy_from_slice(&fp_canonical_bytes(w.getx()));
    out[MB + 1..].copy_from_slice(&fp_canonical_bytes(w.gety()));
    out
}

/// Decodes a G1 point without the subgroup check: canonical, on curve, not infinity.
/// Used only for points this crate itself encoded and stored after full validation.
pub(crate) fn g1_decode_on_curve(bytes: &[u8]) -> Result<ECP, PointError> {
    if bytes == [0u8]
        || (bytes.len() == G1_LEN && bytes[0] == 0x04 && bytes[1..].iter().all(|&b| b == 0))
    {
        return Err(PointError::Identity);
    }
    if bytes.len() != G1_LEN {
        return Err(PointError::Length);
    }
    if bytes[0] != 0x04 {
        return Err(PointError::Prefix(bytes[0]));
    }
    let p = modulus();
    let mut xb = [0u8; MB];
    let mut yb = [0u8; MB];
    xb.copy_from_slice(&bytes[1..=MB]);
    yb.copy_from_slice(&bytes[MB + 1..]);
    let (x, y) = (big_from(&xb), big_from(&yb));
    if BIG::comp(&x, &p) >= 0 || BIG::comp(&y, &p) >= 0 {
        return Err(PointError::NonCanonical);
    }
    let pt = ECP::new_bigs(&x, &y);
    if pt.is_infinity() {
        return Err(PointError::NotOnCurve);
    }
    Ok(pt)
}

/// Strictly decodes a G1 point (MPIN-SPEC §8.1): uncompressed `04 ‖ X ‖ Y`, canonical,
/// on the curve, in the order-q subgroup, not the identity.
pub fn g1_decode(bytes: &[u8]) -> Result<ECP, PointError> {
    let pt = g1_decode_on_curve(bytes)?;
    if !pair::g1member(&pt) {
        return Err(PointError::NotInSubgroup);
    }
    Ok(pt)
}

fn fp2_from(bytes: &[u8]) -> Result<FP2, PointError> {
    let p = modulus();
    let mut re = [0u8; MB];
    let mut im = [0u8; MB];
    re.copy_from_slice(&bytes[..MB]);
    im.copy_from_slice(&bytes[MB..2 * MB]);
    let (a, b) = (big_from(&re), big_from(&im));
    if BIG::comp(&a, &p) >= 0 || BIG::comp(&b, &p) >= 0 {
        return Err(PointError::NonCanonical);
    }
    Ok(FP2::new_bigs(&a, &b))
}

fn fp2_write(v: &FP2, out: &mut [u8]) {
    let mut c = FP2::new_copy(v);
    out[..MB].copy_from_slice(&fp_canonical_bytes(c.geta()));
    out[MB..2 * MB].copy_from_slice(&fp_canonical_bytes(c.getb()));
}

/// Encodes a G2 point in the legacy layout `X.re ‖ X.im ‖ Y.re ‖ Y.im` (no prefix).
pub(crate) fn g2_to_bytes(p: &ECP2) -> [u8; G2_LEN] {
    let mut out = [0u8; G2_LEN];
    let mut w = ECP2::new();
    w.copy(p);
    w.affine();
    fp2_write(&w.getx(), &mut out[..2 * MB]);
    fp2_write(&w.gety(), &mut out[2 * MB..]);
    out
}

/// Strictly decodes a legacy G2 point: canonical, on the twist, in the subgroup, not infinity.
pub fn g2_decode(bytes: &[u8]) -> Result<ECP2, PointError> {
    if bytes.len() != G2_LEN {
        return Err(PointError::Length);
    }
    if bytes.iter().all(|&b| b == 0) {
        return Err(PointError::Identity);
    }
    let x = fp2_from(&bytes[..2 * MB])?;
    let y = fp2_from(&bytes[2 * MB..])?;
    let pt = ECP2::new_fp2s(&x, &y);
    if pt.is_infinity() {
        return Err(PointError::NotOnCurve);
    }
    if !pair::g2member(&pt) {
        return Err(PointError::NotInSubgroup);
    }
    Ok(pt)
}

fn fp4_write(v: &FP4, out: &mut [u8]) {
    fp2_write(&v.geta(), &mut out[..2 * MB]);
    fp2_write(&v.getb(), &mut out[2 * MB..4 * MB]);
}

/// Encodes an Fp4 value `a.a ‖ a.b ‖ b.a ‖ b.b` (the trace used in the key hash).
pub(crate) fn fp4_to_bytes(v: &FP4) -> [u8; 4 * MB] {
    let mut out = [0u8; 4 * MB];
    fp4_write(v, &mut out);
    out
}

/// Encodes a GT element in the legacy order a.a.a, a.a.b, …, c.b.b.
pub(crate) fn gt_to_bytes(v: &FP12) -> Vec<u8> {
    let mut out = vec![0u8; GT_LEN];
    let mut c = FP12::new_copy(v);
    fp4_write(&c.geta(), &mut out[..4 * MB]);
    fp4_write(&c.getb(), &mut out[4 * MB..8 * MB]);
    fp4_write(&c.getc(), &mut out[8 * MB..]);
    out
}

fn fp2_read(b: &[u8]) -> FP2 {
    let mut re = [0u8; MB];
    let mut im = [0u8; MB];
    re.copy_from_slice(&b[..MB]);
    im.copy_from_slice(&b[MB..2 * MB]);
    FP2::new_bigs(&big_from(&re), &big_from(&im))
}

fn fp4_read(b: &[u8]) -> FP4 {
    FP4::new_fp2s(&fp2_read(&b[..2 * MB]), &fp2_read(&b[2 * MB..4 * MB]))
}

/// Reads a GT element written by [`gt_to_bytes`] (legacy order; values known canonical).
pub(crate) fn gt_from_bytes(b: &[u8; GT_LEN]) -> FP12 {
    FP12::new_fp4s(
        &fp4_read(&b[..4 * MB]),
        &fp4_read(&b[4 * MB..8 * MB]),
        &fp4_read(&b[8 * MB..]),
    )
}

/// The fixed G2 generator `Q`.
pub(crate) fn q_generator() -> ECP2 {
    ECP2::generator()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g1_generator_round_trips() {
        let g = ECP::generator();
        let b = g1_to_bytes(&g);
        let back = g1_decode(&b).unwrap();
        assert!(back.equals(&g));
    }

    #[test]
    fn g2_generator_matches_spec_encoding() {
        let b = g2_to_bytes(&q_generator());
        assert_eq!(
            &b[..MB],
            &[
                0x02, 0x4a, 0xa2, 0xb2, 0xf0, 0x8f, 0x0a, 0x91, 0x26, 0x08, 0x05, 0x27, 0x2d, 0xc5,
                0x10, 0x51, 0xc6, 0xe4, 0x7a, 0xd4, 0xfa, 0x40, 0x3b, 0x02, 0xb4, 0x51, 0x0b, 0x64,
                0x7a, 0xe3, 0xd1, 0x77, 0x0b, 0xac, 0x03, 0x26, 0xa8, 0x05, 0xbb, 0xef, 0xd4, 0x80,
                0x56, 0xc8, 0xc1, 0x21, 0xbd, 0xb8
            ][..]
        );
        assert!(g2_decode(&b).unwrap().equals(&q_generator()));
    }

    #[test]
    fn g1_rejects_bad_prefix_and_length() {
        let mut b = g1_to_bytes(&ECP::generator());
        b[0] = 0x02;
        assert_eq!(g1_decode(&b).unwrap_err(), PointError::Prefix(2));
        assert_eq!(g1_decode(&b[..96]).unwrap_err(), PointError::Length);
    }
}
