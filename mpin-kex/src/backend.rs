//! The blst backend (through the safe `blstrs` wrapper) for the per-handshake arithmetic of
//! both sides (the client's fixed-base G1 tables in `fixed_base`, its key's GT exponentiation
//! in `gt_pow`), and the one place where values cross between blst and miracl_core. `gt_pow`
//! uses blstrs' `Fp12` (Frobenius, conjugate, constant-time select), which blstrs exports
//! under its `__private_bench` feature; the version is pinned in `Cargo.lock` and the tests
//! pin the results.
//!
//! Byte layouts (each pinned by a test against miracl_core):
//! - G1: Milagro's `04 ‖ X ‖ Y` is ZCash's uncompressed form with a `04` prefix.
//! - G2: Milagro's legacy `X.re ‖ X.im ‖ Y.re ‖ Y.im` is ZCash's uncompressed
//!   `X.im ‖ X.re ‖ Y.im ‖ Y.re`: the halves of each coordinate swapped.
//! - GT: miracl's coefficient order a.a, a.b, b.a, b.b, c.a, c.b is blst's
//!   c0.c0, c1.c1, c1.c0, c0.c2, c0.c1, c1.c2, each Fp² as re ‖ im. blstrs exposes the
//!   coefficients only through its serde serialisation, read here by [`U64s`].
//!
//! Points cross only after one library validated them: received points go through
//! [`g1_decode`] (canonical, on the curve, in the subgroup, not the identity); points miracl_core
//! computed (the legacy hash-to-curve maps, the server secret) are converted with the on-curve
//! check blst's deserialiser always makes.
//!
//! Constant time: `blstrs` multiplies every G1 point by a scalar with `blst_p1_mult` on 255
//! bits, which takes blst's GLV path (`POINTonE1_mult_glv`: constant-time scalar split, fixed
//! 128-step window loop, table lookups by masked copies over the whole table), the routine blst
//! itself signs with. So secret scalars (`w`) are safe to multiply here.

use std::sync::OnceLock;

use blstrs::{Bls12, G1Affine, G1Projective, G2Affine, G2Prepared, Gt, Scalar};
use group::prime::PrimeCurveAffine;
use group::{Curve, Group};
use miracl_core::bls12381::big::BIG;
use miracl_core::bls12381::ecp::ECP;
use miracl_core::bls12381::ecp2::ECP2;
use miracl_core::bls12381::fp12::FP12;
use pairing::{MillerLoopResult, MultiMillerLoop};
use serde::ser::{self, Impossible, Serialize};

use crate::curve::{self, G1_LEN, GT_LEN, MB};
use crate::error::PointError;

mod fixed_base;
pub(crate) use fixed_base::FixedBase;
mod gt_pow;
pub(crate) use gt_pow::GtTable;

/// A G1 point multiplied by secret scalars in constant time: a plain point (blst's GLV) or
/// the table of a point used on every run ([`FixedBase`]).
pub(crate) trait MulBy {
    /// `k·P` (`k` reduced mod q first; constant time in `k`).
    fn mul_by(&self, k: &BIG) -> G1;
}

impl MulBy for G1 {
    fn mul_by(&self, k: &BIG) -> G1 {
        self.mul(k)
    }
}

impl MulBy for FixedBase {
    fn mul_by(&self, k: &BIG) -> G1 {
        self.mul(k)
    }
}

/// A G1 point validated by one of the libraries (never the identity when decoded).
#[derive(Clone, Debug)]
pub(crate) struct G1(G1Affine);

impl G1 {
    /// Whether this is the point at infinity (a computed point can be).
    pub fn is_infinity(&self) -> bool {
        bool::from(self.0.is_identity())
    }

    /// `04 ‖ X ‖ Y` (the caller guarantees it is not the identity).
    pub fn to_bytes(&self) -> [u8; G1_LEN] {
        let mut out = [0u8; G1_LEN];
        out[0] = 0x04;
        out[1..].copy_from_slice(&self.0.to_uncompressed());
        out
    }

    /// `k·self` (constant time in `k`).
    pub fn mul(&self, k: &BIG) -> G1 {
        G1(mul(self, k).to_affine())
    }

    /// `self + k·P` (`k` reduced mod q first; constant time in `k`).
    pub fn add_mul(&self, k: &BIG, p: &G1) -> G1 {
        G1((G1Projective::from(&self.0) + mul(p, k)).to_affine())
    }

    /// `self + other`.
    pub fn add(&self, other: &G1) -> G1 {
        G1((G1Projective::from(&self.0) + other.0).to_affine())
    }
}

fn mul(p: &G1, k: &BIG) -> G1Projective {
    let s = scalar(k);
    p.0 * s
}

/// A miracl scalar as a blst scalar (reduced mod q on the way).
pub(crate) fn scalar(k: &BIG) -> Scalar {
    let mut r = BIG::new_copy(k);
    r.rmod(&curve::order());
    let mut b = curve::big_to_bytes(&r);
    let mut le = [0u8; 32];
    for (d, s) in le.iter_mut().zip(b.iter().rev()) {
        *d = *s;
    }
    zeroize::Zeroize::zeroize(&mut b);
    // r < q, so the top 16 of the 48 bytes are zero and the value is canonical.
    let s = Scalar::from_bytes_le(&le).unwrap_or(Scalar::from(0u64));
    zeroize::Zeroize::zeroize(&mut le);
    s
}

/// Strictly decodes a received G1 point (MPIN-SPEC §8.1), with the same errors, in the same
/// order, as [`curve::g1_decode`].
pub(crate) fn g1_decode(bytes: &[u8]) -> Result<G1, PointError> {
    let pt = g1_decode_on_curve(bytes)?;
    if !bool::from(pt.0.is_torsion_free()) {
        return Err(PointError::NotInSubgroup);
    }
    Ok(pt)
}

/// Decodes a G1 point without the subgroup check (as [`curve::g1_decode_on_curve`]): only for
/// points this crate itself encoded and stored after full validation.
pub(crate) fn g1_decode_on_curve(bytes: &[u8]) -> Result<G1, PointError> {
    if bytes == [0u8]
        || (bytes.len() == G1_LEN && bytes[0] == 0x04 && bytes[1..].iter().all(|&b| b == 0))
    {
        return Err(PointError::Identity);
    }
    let raw: &[u8; G1_LEN] = bytes.try_into().map_err(|_| PointError::Length)?;
    if raw[0] != 0x04 {
        return Err(PointError::Prefix(raw[0]));
    }
    // Canonical coordinates: below p also means blst's three flag bits are clear.
    let p = curve::modulus_bytes();
    if raw[1..=MB] >= p[..] || raw[MB + 1..] >= p[..] {
        return Err(PointError::NonCanonical);
    }
    g1_on_curve(raw)
}

/// Milagro's `04 ‖ X ‖ Y` (prefix already checked) as a blst point: the rest is ZCash's
/// uncompressed form, and blst's deserialiser checks the curve equation.
fn g1_on_curve(raw: &[u8; G1_LEN]) -> Result<G1, PointError> {
    let mut zcash = [0u8; G1_LEN - 1];
    zcash.copy_from_slice(&raw[1..]);
    Option::<G1Affine>::from(G1Affine::from_uncompressed_unchecked(&zcash))
        .map(G1)
        .ok_or(PointError::NotOnCurve)
}

/// A point miracl_core computed (a legacy map, a sum of validated points) as a blst point.
pub(crate) fn g1_from_miracl(p: &ECP) -> Result<G1, PointError> {
    if p.is_infinity() {
        return Err(PointError::Identity);
    }
    g1_on_curve(&curve::g1_to_bytes(p))
}

/// A validated miracl G2 point's prepared Miller-loop lines.
pub(crate) fn g2_prepared(p: &ECP2) -> Result<G2Prepared, PointError> {
    if p.is_infinity() {
        return Err(PointError::Identity);
    }
    let legacy = curve::g2_to_bytes(p);
    let zcash = g2_legacy_to_zcash(&legacy);
    let q = Option::<G2Affine>::from(G2Affine::from_uncompressed_unchecked(&zcash))
        .ok_or(PointError::NotOnCurve)?;
    Ok(G2Prepared::from(q))
}

/// Legacy `X.re ‖ X.im ‖ Y.re ‖ Y.im` to ZCash's `X.im ‖ X.re ‖ Y.im ‖ Y.re`.
pub(crate) fn g2_legacy_to_zcash(legacy: &[u8; curve::G2_LEN]) -> [u8; curve::G2_LEN] {
    let mut out = [0u8; curve::G2_LEN];
    for c in 0..2 {
        let base = c * 2 * MB;
        out[base..base + MB].copy_from_slice(&legacy[base + MB..base + 2 * MB]);
        out[base + MB..base + 2 * MB].copy_from_slice(&legacy[base..base + MB]);
    }
    out
}

/// The prepared lines of the fixed generator `Q` (Milagro's `Q` is the standard generator;
/// pinned by a test).
pub(crate) fn q_prepared() -> &'static G2Prepared {
    static Q: OnceLock<G2Prepared> = OnceLock::new();
    Q.get_or_init(|| G2Prepared::from(G2Affine::generator()))
}

/// `∏ e(P_i, Q_i)` over prepared G2 points, one final exponentiation (counted per thread).
pub(crate) fn pairing_product(terms: &[(&G1, &G2Prepared)]) -> GtValue {
    crate::math::count_pairing();
    product(terms)
}

/// `e(P, Q)` over a prepared G2 point, not counted (the client's key table: see
/// [`crate::math::count_pairing`]).
pub(crate) fn uncounted_pairing(p: &G1, q: &G2Prepared) -> GtValue {
    product(&[(p, q)])
}

fn product(terms: &[(&G1, &G2Prepared)]) -> GtValue {
    let t: Vec<(&G1Affine, &G2Prepared)> = terms.iter().map(|(p, q)| (&p.0, *q)).collect();
    GtValue(Bls12::multi_miller_loop(&t).final_exponentiation())
}

/// A pairing result computed by blst.
pub(crate) struct GtValue(Gt);

impl GtValue {
    /// Whether this is the unit of GT.
    pub fn isunity(&self) -> bool {
        bool::from(self.0.is_identity())
    }

    /// Milagro's legacy bytes; `None` only if blstrs' serialisation changed shape (pinned by
    /// a test).
    pub fn to_bytes(&self) -> Option<[u8; GT_LEN]> {
        gt_to_bytes(&self.0).ok()
    }

    /// The same value as a miracl_core FP12 (for its GT exponentiations and the trace).
    pub fn to_miracl(&self) -> Option<FP12> {
        self.to_bytes().map(|b| curve::gt_from_bytes(&b))
    }
}

/// blst's Fp² coefficient index (c0.c0, c0.c1, c0.c2, c1.c0, c1.c1, c1.c2 = 0..6, the order
/// of blstrs' serialisation) of each of miracl's a.a, a.b, b.a, b.b, c.a, c.b.
const MIRACL_FROM_BLST: [usize; 6] = [0, 4, 3, 2, 1, 5];

/// A GT value in Milagro's legacy byte layout ([`curve::gt_to_bytes`]).
fn gt_to_bytes(g: &Gt) -> Result<[u8; GT_LEN], Unexpected> {
    let mut limbs = U64s(Vec::with_capacity(72));
    g.serialize(&mut limbs)?;
    if limbs.0.len() != 72 {
        return Err(Unexpected);
    }
    let mut out = [0u8; GT_LEN];
    for (slot, &src) in MIRACL_FROM_BLST.iter().enumerate() {
        // each Fp is 6 little-endian u64 limbs; write re then im, big-endian
        for half in 0..2 {
            let fp = &limbs.0[(src * 2 + half) * 6..(src * 2 + half + 1) * 6];
            let o = &mut out[(slot * 2 + half) * MB..(slot * 2 + half + 1) * MB];
            for (i, limb) in fp.iter().rev().enumerate() {
                o[i * 8..(i + 1) * 8].copy_from_slice(&limb.to_be_bytes());
            }
        }
    }
    Ok(out)
}

/// Collects the u64 limbs blstrs' serde form of a GT value is made of, in order.
struct U64s(Vec<u64>);

/// The only failure: a serde shape other than structs, tuples and u64s.
#[derive(Debug)]
struct Unexpected;

impl std::fmt::Display for Unexpected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("unexpected shape in blstrs' GT serialisation")
    }
}

impl std::error::Error for Unexpected {}

impl ser::Error for Unexpected {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        Unexpected
    }
}

macro_rules! refuse {
    ($($name:ident($($t:ty),*)),* $(,)?) => {
        $(fn $name(self, $(_: $t),*) -> Result<(), Unexpected> { Err(Unexpected) })*
    };
}

impl ser::Serializer for &mut U64s {
    type Ok = ();
    type Error = Unexpected;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Impossible<(), Unexpected>;
    type SerializeTupleVariant = Impossible<(), Unexpected>;
    type SerializeMap = Impossible<(), Unexpected>;
    type SerializeStruct = Self;
    type SerializeStructVariant = Impossible<(), Unexpected>;

    fn serialize_u64(self, v: u64) -> Result<(), Unexpected> {
        self.0.push(v);
        Ok(())
    }
    refuse!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_char(char),
        serialize_str(&str),
        serialize_bytes(&[u8]),
        serialize_none(),
        serialize_unit(),
        serialize_unit_struct(&'static str),
        serialize_unit_variant(&'static str, u32, &'static str),
    );
    fn serialize_some<T: ?Sized + Serialize>(self, _: &T) -> Result<(), Unexpected> {
        Err(Unexpected)
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: &T,
    ) -> Result<(), Unexpected> {
        Err(Unexpected)
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), Unexpected> {
        Err(Unexpected)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self, Unexpected> {
        Ok(self)
    }
    fn serialize_tuple(self, _: usize) -> Result<Self, Unexpected> {
        Ok(self)
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, Unexpected> {
        Err(Unexpected)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Unexpected> {
        Err(Unexpected)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Unexpected> {
        Err(Unexpected)
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self, Unexpected> {
        Ok(self)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Unexpected> {
        Err(Unexpected)
    }
}

impl ser::SerializeSeq for &mut U64s {
    type Ok = ();
    type Error = Unexpected;
    fn serialize_element<T: ?Sized + Serialize>(&mut self, v: &T) -> Result<(), Unexpected> {
        v.serialize(&mut **self)
    }
    fn end(self) -> Result<(), Unexpected> {
        Ok(())
    }
}

impl ser::SerializeTuple for &mut U64s {
    type Ok = ();
    type Error = Unexpected;
    fn serialize_element<T: ?Sized + Serialize>(&mut self, v: &T) -> Result<(), Unexpected> {
        v.serialize(&mut **self)
    }
    fn end(self) -> Result<(), Unexpected> {
        Ok(())
    }
}

impl ser::SerializeStruct for &mut U64s {
    type Ok = ();
    type Error = Unexpected;
    fn serialize_field<T: ?Sized + Serialize>(
        &mut self,
        _: &'static str,
        v: &T,
    ) -> Result<(), Unexpected> {
        v.serialize(&mut **self)
    }
    fn end(self) -> Result<(), Unexpected> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use miracl_core::bls12381::pair;

    fn some_g1(k: isize) -> ECP {
        pair::g1mul(&ECP::generator(), &BIG::new_int(k))
    }

    fn some_g2(k: isize) -> ECP2 {
        pair::g2mul(&ECP2::generator(), &BIG::new_int(k))
    }

    #[test]
    fn gt_bytes_match_miracl_for_the_same_pairing() {
        for (a, b) in [(1, 1), (7, 11), (123_456, 789)] {
            let (p, q) = (some_g1(a), some_g2(b));
            let want = curve::gt_to_bytes(&pair::fexp(&pair::ate(&q, &p)));
            let prep = g2_prepared(&q).unwrap();
            let g = pairing_product(&[(&g1_from_miracl(&p).unwrap(), &prep)]);
            assert_eq!(want, g.to_bytes().unwrap().to_vec(), "e({a}·G1, {b}·G2)");
            assert!(g
                .to_miracl()
                .unwrap()
                .equals(&pair::fexp(&pair::ate(&q, &p))));
            // the same through the prepared generator
            if b == 1 {
                let g = pairing_product(&[(&g1_from_miracl(&p).unwrap(), q_prepared())]);
                assert_eq!(want, g.to_bytes().unwrap().to_vec());
            }
        }
    }

    #[test]
    fn g1_and_scalar_multiplication_match_miracl() {
        let p = some_g1(5);
        let k = {
            let mut s = curve::order();
            s.dec(12345);
            s.norm();
            s
        };
        let fast = g1_decode(&curve::g1_to_bytes(&p)).unwrap();
        assert_eq!(fast.to_bytes(), curve::g1_to_bytes(&p));
        assert_eq!(
            fast.mul(&k).to_bytes(),
            curve::g1_to_bytes(&pair::g1mul(&p, &k))
        );
        let mut sum = pair::g1mul(&p, &k);
        sum.add(&some_g1(9));
        let base = g1_from_miracl(&some_g1(9)).unwrap();
        assert_eq!(base.add(&fast.mul(&k)).to_bytes(), curve::g1_to_bytes(&sum));
        assert_eq!(base.add_mul(&k, &fast).to_bytes(), curve::g1_to_bytes(&sum));
    }

    /// Every malformed encoding gets the same verdict from both decoders, including blst's
    /// flag bits (compression, infinity, sign) set on either coordinate.
    #[test]
    fn g1_decoders_agree_on_malformed_points() {
        let valid = curve::g1_to_bytes(&some_g1(77));
        let mut small = {
            let mut p = some_g1(77);
            p.add(&ECP::new_bigs(&BIG::new_int(0), &BIG::new_int(2)));
            curve::g1_to_bytes(&p)
        };
        let mut cases: Vec<Vec<u8>> = vec![valid.to_vec(), small.to_vec()];
        small[96] ^= 1;
        cases.push(small.to_vec());
        for byte in [1usize, 49] {
            for flag in [0x80u8, 0x40, 0x20] {
                let mut b = valid;
                b[byte] |= flag;
                cases.push(b.to_vec());
            }
        }
        let mut inf = [0u8; G1_LEN];
        inf[0] = 4;
        cases.push(inf.to_vec());
        inf[1] = 0x40;
        cases.push(inf.to_vec());
        cases.push(vec![0]);
        cases.push(valid[..96].to_vec());
        let mut p2 = valid;
        p2[0] = 2;
        cases.push(p2.to_vec());
        let mut noncanon = valid;
        noncanon[1..=MB].copy_from_slice(&curve::modulus_bytes());
        cases.push(noncanon.to_vec());
        for (i, c) in cases.iter().enumerate() {
            let fast = g1_decode(c).map(|p| p.to_bytes().to_vec());
            let slow = curve::g1_decode(c).map(|p| curve::g1_to_bytes(&p).to_vec());
            assert_eq!(fast, slow, "case {i}");
        }
        assert!(g1_decode(&cases[0]).is_ok());
        assert_eq!(g1_decode(&cases[1]).unwrap_err(), PointError::NotInSubgroup);
        assert_eq!(g1_decode(&cases[2]).unwrap_err(), PointError::NotOnCurve);
    }

    #[test]
    fn g2_layout_is_zcash_with_halves_swapped() {
        let q = some_g2(3);
        let zcash = g2_legacy_to_zcash(&curve::g2_to_bytes(&q));
        let fast = Option::<G2Affine>::from(G2Affine::from_uncompressed(&zcash)).unwrap();
        let g = Option::<G2Affine>::from(G2Affine::from_uncompressed(&g2_legacy_to_zcash(
            &curve::g2_to_bytes(&ECP2::generator()),
        )))
        .unwrap();
        assert_eq!(
            fast,
            (G2Affine::generator() * Scalar::from(3u64)).to_affine()
        );
        assert_eq!(g, G2Affine::generator());
    }
}
