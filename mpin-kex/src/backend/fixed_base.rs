//! Fixed-base G1 multiplication for the points a client multiplies on every run (`A`,
//! `A + A_T(d)`, `SEC`), and the server for frequent identities: a table of `j·16^i·P`
//! (64 windows of 4 bits, `1 ≤ j ≤ 15`, affine, ≈ 92 KiB), so `k·P` is 64 mixed additions
//! instead of blst's GLV ladder: 0.46 M instructions against 0.92 M (callgrind). Building a table costs about 40
//! multiplications (960 affine conversions, blstrs has no batch inversion), once per
//! credential and permit day, or per PIN and day.
//!
//! Constant time in `k`: a fixed 64-step loop; each step selects its entry with masked
//! copies over the whole row (`subtle`), and adds it with blst's
//! `blst_p1_add_or_double_affine`, which handles the identity and doubling cases without
//! branches. Only blst arithmetic is used (through `blstrs`); the table of a secret point is
//! overwritten on drop (best effort).

use blstrs::{G1Affine, G1Projective};
use group::prime::PrimeCurveAffine;
use group::{Curve, Group};
use miracl_core::bls12381::big::BIG;
use subtle::{ConditionallySelectable, ConstantTimeEq};

use super::{scalar, G1};

const WINDOWS: usize = 64;
const ENTRIES: usize = 15;

/// The precomputed multiples of one G1 point.
pub(crate) struct FixedBase(Vec<[G1Affine; ENTRIES]>);

impl FixedBase {
    /// Builds the table of `p`.
    pub fn new(p: &G1) -> Self {
        let mut proj = Vec::with_capacity(WINDOWS * ENTRIES);
        let mut base = G1Projective::from(&p.0);
        for _ in 0..WINDOWS {
            let mut acc = base;
            for _ in 0..ENTRIES {
                proj.push(acc);
                acc += &base;
            }
            base = acc; // 16·base
        }
        let mut flat = vec![G1Affine::identity(); WINDOWS * ENTRIES];
        G1Projective::batch_normalize(&proj, &mut flat);
        let rows = flat
            .chunks_exact(ENTRIES)
            .map(|c| {
                let mut row = [G1Affine::identity(); ENTRIES];
                row.copy_from_slice(c);
                row
            })
            .collect();
        for (f, q) in flat.iter_mut().zip(proj.iter_mut()) {
            *f = G1Affine::identity();
            *q = G1Projective::identity();
        }
        std::hint::black_box((&flat, &proj));
        Self(rows)
    }

    /// `k·P` (`k` reduced mod q first; constant time in `k`).
    pub fn mul(&self, k: &BIG) -> G1 {
        let mut le = scalar(k).to_bytes_le();
        let mut acc = G1Projective::identity();
        for (i, row) in self.0.iter().enumerate() {
            let nibble = (le[i / 2] >> ((i % 2) * 4)) & 0x0f;
            let mut pick = G1Affine::identity();
            for (j, entry) in (1u8..).zip(row.iter()) {
                pick.conditional_assign(entry, nibble.ct_eq(&j));
            }
            acc += &pick;
        }
        zeroize::Zeroize::zeroize(&mut le);
        G1(acc.to_affine())
    }
}

impl Drop for FixedBase {
    fn drop(&mut self) {
        // Best effort: the table of SEC or TOKEN + pin·A is key material.
        for row in self.0.iter_mut() {
            *row = [G1Affine::identity(); ENTRIES];
        }
        std::hint::black_box(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::curve;

    #[test]
    fn fixed_base_matches_the_ladder_on_edge_scalars() {
        let p = super::super::g1_from_miracl(&miracl_core::bls12381::ecp::ECP::generator())
            .unwrap()
            .mul(&BIG::new_int(987_654_321));
        let t = FixedBase::new(&p);
        let q = curve::order();
        let mut cases = vec![
            BIG::new_int(1),
            BIG::new_int(15),
            BIG::new_int(16),
            BIG::new_int(0x1111),
        ];
        for d in [1, 2, 16] {
            let mut k = BIG::new_copy(&q);
            k.dec(d);
            k.norm();
            cases.push(k);
        }
        let mut all_f = BIG::new();
        all_f.fshl(1);
        for _ in 0..254 {
            all_f.fshl(1);
            all_f.inc(1);
            all_f.norm();
        }
        cases.push(all_f); // reduced mod q first
        for k in &cases {
            assert_eq!(t.mul(k).to_bytes(), p.mul(k).to_bytes(), "k = {k}");
        }
        assert!(t.mul(&BIG::new_copy(&q)).is_infinity(), "q·P");
        assert!(t.mul(&BIG::new()).is_infinity(), "0·P");
    }
}
