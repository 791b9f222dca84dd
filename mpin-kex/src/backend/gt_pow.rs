//! Fixed-base exponentiation in GT for the one GT value a client raises on every run,
//! `g = e(Q, TOKEN + pin·A)` (its key is `g^(r+h)`): the exponent is split along the
//! Frobenius endomorphism (GLS) and the four parts are raised together from one joint table.
//!
//! On GT, `f ↦ f^p` is the Frobenius map, and `p ≡ x ≡ −Z (mod q)`, `Z = |x|` the curve
//! parameter, so `g^Z = conj(frob(g))`, `g^(Z²) = frob²(g)`, `g^(Z³) = conj(frob³(g))`
//! (GT elements are unitary: the inverse is the conjugate). A scalar `k < q < Z⁴` is
//! `d0 + d1·Z + d2·Z² + d3·Z³` with every `d_i < 2^64`. Each digit is split in two 32-bit
//! halves (a comb with two teeth), so `g^k` is 32 squarings and 64 multiplications by one of
//! the 16 products of `g, g^Z, g^(Z²), g^(Z³)` or of their `2^32`-th powers: about 0.4 of the
//! pairing `e(Q, k·S)` it replaces.
//!
//! Constant time in `k`: the digits come from a fixed 256-step binary long division with
//! masks, the loop has a fixed 64 steps, and each step reads the whole table with masked
//! copies (`subtle`). Only blst arithmetic is used (through `blstrs`); the table is key
//! material and is overwritten on drop (best effort).

use blstrs::{Fp12, Gt};
use group::ff::Field;
use subtle::{ConditionallySelectable, ConstantTimeEq};

use super::GtValue;

/// `|x|` for BLS12-381 (`x = −Z`).
const Z: u64 = 0xd201_0000_0001_0000;
/// Joint table size: every subset of the four bases.
const ENTRIES: usize = 16;
/// Bits per half digit (the comb's tooth spacing).
const HALF_BITS: u32 = 32;

/// The 16 products `∏_{i ∈ m} g^(Z^i)` of one GT value `g` (`lo`), and the same for
/// `g^(2^32)` (`hi`).
pub(crate) struct GtTable {
    lo: [Fp12; ENTRIES],
    hi: [Fp12; ENTRIES],
}

impl GtTable {
    /// Builds the table of `g` (Frobenius maps, 128 squarings and 22 multiplications).
    pub fn new(g: &GtValue) -> Self {
        let lo = joint(Fp12::from(g.0));
        let mut high = Fp12::from(g.0);
        for _ in 0..HALF_BITS {
            high = high.square();
        }
        Self {
            lo,
            hi: joint(high),
        }
    }

    /// `g^k` for the little-endian 256-bit `k` (any value below `Z⁴`; callers pass a scalar
    /// reduced mod q). Constant time in `k`.
    pub fn pow(&self, k_le: &[u8; 32]) -> GtValue {
        let mut digits = digits(k_le);
        let mut acc = Fp12::ONE;
        for bit in (0..HALF_BITS).rev() {
            acc = acc.square();
            acc *= pick(&self.hi, &digits, bit + HALF_BITS);
            acc *= pick(&self.lo, &digits, bit);
        }
        zeroize::Zeroize::zeroize(&mut digits);
        GtValue(Gt::from(acc))
    }
}

/// The entry of `table` for bit `bit` of the four digits, read with masked copies over the
/// whole table.
fn pick(table: &[Fp12; ENTRIES], digits: &[u64; 4], bit: u32) -> Fp12 {
    let m = digits
        .iter()
        .enumerate()
        .fold(0u8, |m, (i, d)| m | ((((d >> bit) & 1) as u8) << i));
    let mut out = Fp12::ONE;
    for (j, entry) in (0u8..).zip(table.iter()) {
        out.conditional_assign(entry, m.ct_eq(&j));
    }
    out
}

/// The 16 products of `g, g^Z, g^(Z²), g^(Z³)` (three Frobenius maps, eleven
/// multiplications).
fn joint(g0: Fp12) -> [Fp12; ENTRIES] {
    let frob = |power: usize, conj: bool| {
        let mut b = g0;
        b.frobenius_map(power);
        if conj {
            b.conjugate();
        }
        b
    };
    let bases = [g0, frob(1, true), frob(2, false), frob(3, true)];
    let mut t = [Fp12::ONE; ENTRIES];
    for m in 1..ENTRIES {
        let top = usize::BITS - 1 - m.leading_zeros();
        t[m] = t[m ^ (1 << top)] * bases[top as usize];
    }
    t
}

impl Drop for GtTable {
    fn drop(&mut self) {
        // Best effort: the table of e(Q, TOKEN + pin·A) is key material.
        self.lo = [Fp12::ZERO; ENTRIES];
        self.hi = [Fp12::ZERO; ENTRIES];
        std::hint::black_box((&self.lo, &self.hi));
    }
}

/// `k = d0 + d1·Z + d2·Z² + d3·Z³` (`k < Z⁴`), by three constant-time divisions by `Z`.
fn digits(k_le: &[u8; 32]) -> [u64; 4] {
    let mut limbs = [0u64; 4];
    for (l, c) in limbs.iter_mut().zip(k_le.chunks_exact(8)) {
        let mut b = [0u8; 8];
        b.copy_from_slice(c);
        *l = u64::from_le_bytes(b);
    }
    let mut out = [0u64; 4];
    for d in out.iter_mut().take(3) {
        let (q, r) = div_rem_z(&limbs);
        *d = r;
        limbs = q;
    }
    // k < Z⁴: the last quotient is a single digit
    out[3] = limbs[0];
    zeroize::Zeroize::zeroize(&mut limbs);
    out
}

/// `(n div Z, n mod Z)` by restoring binary long division, without data-dependent branches.
fn div_rem_z(n: &[u64; 4]) -> ([u64; 4], u64) {
    let mut q = [0u64; 4];
    let mut r: u128 = 0;
    for i in (0..256).rev() {
        let bit = (n[i / 64] >> (i % 64)) & 1;
        r = (r << 1) | u128::from(bit); // r < 2·Z < 2^65
        let t = r.wrapping_sub(u128::from(Z));
        let ge = 1 - (t >> 127) as u64; // 1 when r ≥ Z
        let mask = 0u128.wrapping_sub(u128::from(ge));
        r = (t & mask) | (r & !mask);
        q[i / 64] |= ge << (i % 64);
    }
    (q, r as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use blstrs::Scalar;
    use group::Group;

    fn le(s: &Scalar) -> [u8; 32] {
        s.to_bytes_le()
    }

    #[test]
    fn digits_recompose_the_scalar() {
        for k in [
            Scalar::ZERO,
            Scalar::ONE,
            -Scalar::ONE,
            Scalar::from(Z),
            Scalar::from(Z - 1),
        ] {
            let d = digits(&le(&k));
            let z = Scalar::from(Z);
            let back = Scalar::from(d[0])
                + z * (Scalar::from(d[1]) + z * (Scalar::from(d[2]) + z * Scalar::from(d[3])));
            assert_eq!(back, k);
        }
    }

    #[test]
    fn pow_matches_double_and_add_on_edge_and_random_scalars() {
        let g = Gt::generator() * Scalar::from(0x1234_5678_9abc_u64);
        let t = GtTable::new(&GtValue(g));
        let mut cases = vec![
            Scalar::ZERO,
            Scalar::ONE,
            Scalar::from(15),
            Scalar::from(Z),
            Scalar::from(Z) * Scalar::from(Z),
            -Scalar::ONE,
            -Scalar::from(2),
        ];
        let mut s = Scalar::from(0xdead_beef_u64);
        for _ in 0..8 {
            s = s.square() + Scalar::from(7);
            cases.push(s);
        }
        for k in &cases {
            assert_eq!(t.pow(&le(k)).0, g * k, "k = {k:?}");
        }
    }
}
