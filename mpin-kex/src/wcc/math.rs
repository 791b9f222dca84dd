//! The WCC formulas (P2P-SPEC §5, §5.1), each once. G1 and G2 arithmetic and the pairing run
//! on the blst backend (constant time in secret scalars); the legacy maps on miracl_core.

use miracl_core::bls12381::big::BIG;
use sha2::{Digest, Sha256};

use super::fast::G2;
use crate::backend::{self, G1};
use crate::curve::{add_mod_q, big_to_bytes, fp4_to_bytes, scalar_mod_q, G1_LEN, MB};
use crate::math::KEY_LEN;

/// Bytes of `Hq`'s input buffer in the C library: longer inputs are silently cut there.
const HQ_BUFFER: usize = 2000;

/// `Hq(A, B, C, D) = int(SHA-256(A ‖ B ‖ C ‖ D)) mod q`, with the C library's 2,000-byte
/// input buffer (P2P-SPEC §3.3; never reached with identities of ≤ 1,024 bytes).
pub(crate) fn hq(parts: [&[u8]; 4]) -> BIG {
    let mut h = Sha256::new();
    let mut room = HQ_BUFFER;
    for p in parts {
        let n = p.len().min(room);
        h.update(&p[..n]);
        room -= n;
    }
    let mut wide = [0u8; MB];
    wide[MB - 32..].copy_from_slice(&h.finalize());
    scalar_mod_q(&wide)
}

/// `(πa, πb)`: `πa = Hq(PaG1 ‖ PbG2 ‖ PgG1 ‖ IdB)`, `πb = Hq(PbG2 ‖ PaG1 ‖ PgG1 ‖ IdA)`.
pub(crate) fn pis(pa: &[u8], pb: &[u8], pg: &[u8], id_a: &[u8], id_b: &[u8]) -> (BIG, BIG) {
    (hq([pa, pb, pg, id_b]), hq([pb, pa, pg, id_a]))
}

/// What goes into the key hash, and the key.
pub(crate) struct KeyParts {
    /// `Tr(g)`, 192 bytes.
    pub trace: [u8; 4 * MB],
    /// The DH point `xw·A'`, `04 ‖ X ‖ Y`.
    pub dh: [u8; G1_LEN],
    /// `SHA-256(Tr(g) ‖ DH)[..16]`.
    pub key: [u8; KEY_LEN],
}

impl Drop for KeyParts {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.trace);
        zeroize::Zeroize::zeroize(&mut self.dh);
        zeroize::Zeroize::zeroize(&mut self.key);
    }
}

/// `e(q, p)` on blst, its trace, the DH point, and the key; `None` if `g = 1`.
fn finish(q: &G2, p: &G1, dh: &G1) -> Result<KeyParts, &'static str> {
    if q.is_infinity() {
        return Err("G2 pairing argument is the identity");
    }
    if p.is_infinity() {
        return Err("G1 pairing argument is the identity");
    }
    let g = backend::pairing_product(&[(p, &q.prepared())]);
    if g.isunity() {
        return Err("pairing value is 1");
    }
    let trace = fp4_to_bytes(&g.to_miracl().ok_or("pairing value unreadable")?.trace());
    let dh = dh.to_bytes();
    let mut h = Sha256::new();
    h.update(trace);
    h.update(dh);
    let mut key = [0u8; KEY_LEN];
    key.copy_from_slice(&h.finalize()[..KEY_LEN]);
    Ok(KeyParts { trace, dh, key })
}

/// Sender (initiator): `g = e(πb·B' + PbG2, (x+πa)·SA')`, DH point `x·PgG1`.
pub(crate) fn sender(
    x: &BIG,
    (pia, pib): (&BIG, &BIG),
    pb: &G2,
    pg: &G1,
    sa: &G1,
    b_active: &G2,
) -> Result<KeyParts, &'static str> {
    let s = add_mod_q(x, pia);
    if s.iszilch() {
        return Err("x + πa = 0");
    }
    let q = b_active.mul(pib).add(pb);
    finish(&q, &sa.mul(&s), &pg.mul(x))
}

/// Receiver (responder): `g = e((y+πb)·SB', πa·A' + PaG1)`, DH point `w·PaG1`.
pub(crate) fn receiver(
    (y, w): (&BIG, &BIG),
    (pia, pib): (&BIG, &BIG),
    pa: &G1,
    sb: &G2,
    a_active: &G1,
) -> Result<KeyParts, &'static str> {
    let s = add_mod_q(y, pib);
    if s.iszilch() {
        return Err("y + πb = 0");
    }
    let q = sb.mul(&s);
    finish(&q, &pa.add_mul(pia, a_active), &pa.mul(w))
}

/// A scalar as 48 bytes.
pub(crate) fn scalar_bytes(s: &BIG) -> [u8; MB] {
    big_to_bytes(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hq_cuts_its_input_at_2000_bytes_like_the_c_library() {
        let (a, b, c) = ([1u8; 97], [2u8; 192], [3u8; 97]);
        let d1 = vec![7u8; 2000 - 386];
        let mut d2 = d1.clone();
        d2.extend_from_slice(b"dropped");
        assert!(BIG::comp(&hq([&a, &b, &c, &d1]), &hq([&a, &b, &c, &d2])) == 0);
        let short = &d1[..d1.len() - 1];
        assert!(BIG::comp(&hq([&a, &b, &c, &d1]), &hq([&a, &b, &c, short])) != 0);
    }
}
