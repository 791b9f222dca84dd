//! The M-Pin / M-Pin Full computations on curve values (MPIN-SPEC §3–4, §9). Crate-private:
//! the state machines in [`crate::client`]/[`crate::server`] and the byte-level [`crate::raw`]
//! module are built on these, so each formula exists exactly once.

use std::sync::OnceLock;

use miracl_core::bls12381::big::BIG;
use miracl_core::bls12381::ecp::{ECP, G2_TABLE};
use miracl_core::bls12381::ecp2::ECP2;
use miracl_core::bls12381::fp12::FP12;
use miracl_core::bls12381::fp4::FP4;
use miracl_core::bls12381::pair;
use sha2::{Digest, Sha256};

use crate::curve::{
    add_mod_q, fp4_to_bytes, g1_mul_public, g1_mul_secret, g1_to_bytes, neg_mod_q, order,
    q_generator, scalar_mod_q, MB,
};
use crate::hash::hn;
use crate::identity::{Active, HashedId, IdentityProfile};
use crate::pin::PIN_BITS;

thread_local! {
    static PAIRINGS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Final exponentiation of a Miller-loop product; every pairing of the crate goes through here
/// and is counted per thread (tests use the count to prove checks happen before any pairing).
fn finish_pairing(r: &mut [FP12]) -> FP12 {
    PAIRINGS.with(|c| c.set(c.get() + 1));
    pair::fexp(&pair::miller(r))
}

/// How many pairings (final exponentiations) this thread has computed so far.
#[doc(hidden)]
pub fn pairings_on_this_thread() -> u64 {
    PAIRINGS.with(std::cell::Cell::get)
}

/// Length of an M-Pin Full session key.
pub const KEY_LEN: usize = 16;

/// The identity points a run needs: `A` and the active `A' = A + A_T(d)` (or `A` when d = 0).
#[derive(Clone)]
pub(crate) struct IdPoints {
    pub a: ECP,
    pub a_prime: ECP,
}

impl IdPoints {
    pub fn new(id: &HashedId, day: u32) -> Self {
        let a = Active::identity_point(id);
        let mut a_prime = a.clone();
        if day != 0 {
            a_prime.add(&Active::permit_point(id, day));
        }
        Self { a, a_prime }
    }
}

/// `SEC = TOKEN + pin·A (+ TP)`.
pub(crate) fn client_sec(token: &ECP, a: &ECP, pin: i32, permit: Option<&ECP>) -> ECP {
    let mut s = token.clone();
    s.add(&a.pinmul(pin, PIN_BITS));
    if let Some(tp) = permit {
        s.add(tp);
    }
    s
}

/// One-pass challenge `y = Hn(t, U' ‖ message) mod q`.
pub(crate) fn one_pass_y(t: u32, u_prime: &[u8], message: &[u8]) -> BIG {
    scalar_mod_q(&hn(Some(t), &[u_prime, message]))
}

/// `V = −((x + y) mod q)·SEC`, or `None` when `x + y ≡ 0`.
pub(crate) fn response(x: &BIG, y: &BIG, sec: &ECP) -> Option<ECP> {
    let s = add_mod_q(x, y);
    if s.iszilch() {
        return None;
    }
    Some(g1_mul_secret(sec, &neg_mod_q(&s)))
}

/// A fixed-argument Miller-loop table for a G2 point (`pair::precomp`).
pub(crate) struct G2Table(Vec<FP4>);

impl G2Table {
    pub fn new(p: &ECP2) -> Self {
        let mut t = vec![FP4::new(); G2_TABLE];
        pair::precomp(&mut t, p);
        Self(t)
    }
}

impl Drop for G2Table {
    fn drop(&mut self) {
        // Best effort: the table of the server secret is key material.
        for v in self.0.iter_mut() {
            v.zero();
        }
        std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
    }
}

fn q_table() -> &'static G2Table {
    static T: OnceLock<G2Table> = OnceLock::new();
    T.get_or_init(|| G2Table::new(&q_generator()))
}

/// `g = e(Q, V)·e(SS, P)` with precomputed tables for `Q` and `SS` (one final exponentiation).
pub(crate) fn verify_product(ss: &G2Table, v: &ECP, p: &ECP) -> FP12 {
    let mut r = pair::initmp();
    pair::another_pc(&mut r, &q_table().0, v);
    pair::another_pc(&mut r, &ss.0, p);
    finish_pairing(&mut r)
}

/// `P = U' + y·A'`.
pub(crate) fn verify_point(u_prime: &ECP, y: &BIG, a_prime: &ECP) -> ECP {
    let mut p = g1_mul_public(a_prime, y);
    p.add(u_prime);
    p
}

/// `F = e(Q, U + y·A)`, the PIN-error base (permit excluded).
pub(crate) fn pin_error_base(u: &ECP, y: &BIG, a: &ECP) -> FP12 {
    let p = verify_point(u, y, a);
    let mut r = pair::initmp();
    pair::another_pc(&mut r, &q_table().0, &p);
    finish_pairing(&mut r)
}

/// `e(Q, P)` through the precomputed `Q` table.
pub(crate) fn pair_with_q(p: &ECP) -> FP12 {
    let mut r = pair::initmp();
    pair::another_pc(&mut r, &q_table().0, p);
    finish_pairing(&mut r)
}

/// `HASH_ALL`: `Hn(HCID ‖ U' ‖ V ‖ y ‖ Z ‖ T)`, and its value mod q.
pub(crate) fn hash_all(
    id: &HashedId,
    u_prime: &[u8],
    v: &[u8],
    y: &[u8; MB],
    z: &[u8],
    t: &[u8],
) -> ([u8; MB], BIG) {
    let hb = hn(None, &[id.as_bytes(), u_prime, v, y, z, t]);
    let h = scalar_mod_q(&hb);
    (hb, h)
}

/// `SHA-256(c ‖ P.x ‖ P.y)[..16]`.
fn key_hash(c: &FP4, p: &ECP) -> [u8; KEY_LEN] {
    let mut h = Sha256::new();
    h.update(fp4_to_bytes(c));
    let pb = g1_to_bytes(p);
    h.update(&pb[1..]);
    let d = h.finalize();
    let mut k = [0u8; KEY_LEN];
    k.copy_from_slice(&d[..KEY_LEN]);
    k
}

/// Client precomputation `G1 = e(Q, TOKEN)`, `G2 = e(Q, A)`.
pub(crate) fn precompute(token: &ECP, a: &ECP) -> (FP12, FP12) {
    (pair_with_q(token), pair_with_q(a))
}

/// `K_C = H(Tr((G1·G2^pin)^(r+h)) ‖ x·T)`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn client_key(
    g1: &FP12,
    g2: &FP12,
    pin: i32,
    r: &BIG,
    x: &BIG,
    h: &BIG,
    t: &ECP,
) -> [u8; KEY_LEN] {
    let z = add_mod_q(r, h);
    let mut g = FP12::new_copy(g2);
    g.pinpow(pin, PIN_BITS);
    g.mul(g1);
    let c = g.compow(&z, &order());
    key_hash(&c, &g1_mul_secret(t, x))
}

/// `K_S = H(Tr(e(SS, Z + h·A)) ‖ w·U')`, or `None` when `Z + h·A = O`.
pub(crate) fn server_key(
    ss: &G2Table,
    z: &ECP,
    w: &BIG,
    h: &BIG,
    a: &ECP,
    u_prime: &ECP,
) -> Option<[u8; KEY_LEN]> {
    let mut rp = g1_mul_public(a, h);
    rp.add(z);
    if rp.is_infinity() {
        return None;
    }
    let mut r = pair::initmp();
    pair::another_pc(&mut r, &ss.0, &rp);
    let mut g = finish_pairing(&mut r);
    let c = g.trace();
    Some(key_hash(&c, &g1_mul_secret(u_prime, w)))
}

/// PIN-error distance: finds `e` in `(−10000, 10000)` with `E = F^(−e)`, i.e.
/// `e = PIN_entered − PIN_registered`, by baby-step giant-step (deterministic, always finds the
/// true value when one exists; MPIN-SPEC §3.6 allows any method that returns the truth or
/// nothing). Costs about 2·142 GT multiplications.
pub(crate) fn pin_error(e: &FP12, f: &FP12) -> Option<i32> {
    use std::collections::HashMap;
    const MAX: i32 = crate::pin::MAX_PIN as i32 - 1; // |e| ≤ 9999
    const M: i32 = 142; // ≥ sqrt(2·MAX + 1)
                        // Want k = e + MAX in [0, 2·MAX] with F^k = E^-1 · F^MAX.
    let mut target = FP12::new_copy(e);
    target.conj(); // E^-1 (GT elements are unitary)
    target.mul(&f.pow(&BIG::new_int(MAX as isize)));
    let mut baby: HashMap<Vec<u8>, i32> = HashMap::with_capacity(M as usize);
    let mut cur = FP12::new_int(1);
    for j in 0..M {
        baby.entry(crate::curve::gt_to_bytes(&cur)).or_insert(j);
        cur.mul(f);
    }
    // cur = F^M; giant step multiplies by F^-M.
    let mut step = FP12::new_copy(&cur);
    step.conj();
    let mut g = target;
    for i in 0..=(2 * MAX / M + 1) {
        if let Some(&j) = baby.get(&crate::curve::gt_to_bytes(&g)) {
            let k = i * M + j;
            if k <= 2 * MAX {
                return Some(k - MAX);
            }
        }
        g.mul(&step);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pin_error_finds_every_distance_at_the_edges() {
        let f = pair_with_q(&ECP::generator());
        for d in [9999i32, 9998, 1, -1, -9999, -9998, 0, 4321, -142, 142, 143] {
            // E = F^(reg − entered) = F^(−d)
            let mut e = FP12::new_copy(&f);
            e.pinpow(d.unsigned_abs() as i32, PIN_BITS);
            if d > 0 {
                e.conj();
            }
            assert_eq!(pin_error(&e, &f), Some(d), "distance {d}");
        }
    }
}
