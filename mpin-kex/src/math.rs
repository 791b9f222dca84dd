//! The M-Pin / M-Pin Full computations on curve values (MPIN-SPEC §3–4, §9). Crate-private:
//! the state machines in [`crate::client`]/[`crate::server`] and the byte-level `crate::raw`
//! module are built on these, so each formula exists exactly once.

use std::sync::{Arc, OnceLock};

use miracl_core::bls12381::big::BIG;
use miracl_core::bls12381::ecp::{ECP, G2_TABLE};
use miracl_core::bls12381::ecp2::ECP2;
use miracl_core::bls12381::fp12::FP12;
use miracl_core::bls12381::fp4::FP4;
use miracl_core::bls12381::pair;
use sha2::{Digest, Sha256};

use crate::backend::{self, FixedBase, GtTable, GtValue, MulBy, G1};
use crate::curve::{add_mod_q, fp4_to_bytes, neg_mod_q, q_generator, scalar_mod_q, G1_LEN, MB};
use crate::error::{DecodeError, PointError};
use crate::hash::hn;
use crate::identity::{Active, HashedId, IdentityProfile};
use crate::pin::PIN_BITS;

thread_local! {
    static PAIRINGS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    static CLIENT_KEYS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Counts one pairing (final exponentiation) on this thread. Every pairing of the crate, in
/// either library, calls this (tests use the count to prove checks happen before any pairing),
/// except the client's own: the pairing of its key table, once per PIN and day
/// ([`client_key_table`]); its per-run key is counted by [`client_keys_on_this_thread`].
pub(crate) fn count_pairing() {
    PAIRINGS.with(|c| c.set(c.get() + 1));
}

/// Counts one client key (the GT exponentiation of [`client_key`]) on this thread.
fn count_client_key() {
    CLIENT_KEYS.with(|c| c.set(c.get() + 1));
}

/// How many client keys ([`crate::Client`]'s last step, a GT exponentiation) this thread has
/// computed; counted apart from pairings, so tests that run both sides on one thread still
/// see whether the server paired.
#[doc(hidden)]
pub fn client_keys_on_this_thread() -> u64 {
    CLIENT_KEYS.with(std::cell::Cell::get)
}

/// Final exponentiation of a miracl_core Miller-loop product (counted).
fn finish_pairing(r: &mut [FP12]) -> FP12 {
    count_pairing();
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

/// `S = TOKEN + pin·A` (the PIN-combined client secret) and `SEC = S (+ TP)`.
pub(crate) fn client_secrets(token: &ECP, a: &ECP, pin: i32, permit: Option<&ECP>) -> (ECP, ECP) {
    let mut s = token.clone();
    s.add(&a.pinmul(pin, PIN_BITS));
    let mut sec = s.clone();
    if let Some(tp) = permit {
        sec.add(tp);
    }
    (s, sec)
}

/// One-pass challenge `y = Hn(t, U' ‖ message) mod q`.
pub(crate) fn one_pass_y(t: u32, u_prime: &[u8], message: &[u8]) -> BIG {
    scalar_mod_q(&hn(Some(t), &[u_prime, message]))
}

/// `V = −((x + y) mod q)·SEC`, or `None` when `x + y ≡ 0`.
pub(crate) fn response(x: &BIG, y: &BIG, sec: &impl MulBy) -> Option<G1> {
    let s = add_mod_q(x, y);
    if s.iszilch() {
        return None;
    }
    Some(sec.mul_by(&neg_mod_q(&s)))
}

/// A point multiplied on many runs: the point, and its fixed-base table once built.
#[derive(Clone)]
pub(crate) struct Base {
    pub p: G1,
    table: Option<Arc<FixedBase>>,
}

impl MulBy for Base {
    fn mul_by(&self, k: &BIG) -> G1 {
        match &self.table {
            Some(t) => t.mul(k),
            None => self.p.mul(k),
        }
    }
}

/// The identity points on the blst side (both ends of a run): `A` and `A' = A + A_T(d)`.
#[derive(Clone)]
pub(crate) struct BlstIdPoints {
    pub a: Base,
    pub a_prime: Base,
}

impl BlstIdPoints {
    /// Maps the identity with the legacy maps (miracl_core) and converts the results.
    pub fn new(id: &HashedId, day: u32) -> Result<Self, PointError> {
        Self::of(&IdPoints::new(id, day))
    }

    /// Converts points already mapped by miracl_core.
    pub fn of(p: &IdPoints) -> Result<Self, PointError> {
        let base = |p| backend::g1_from_miracl(p).map(|p| Base { p, table: None });
        Ok(Self {
            a: base(&p.a)?,
            a_prime: base(&p.a_prime)?,
        })
    }

    /// Whether the fixed-base tables are built.
    pub fn has_tables(&self) -> bool {
        self.a.table.is_some()
    }

    /// The same points with fixed-base tables (one shared table when `A' = A`).
    pub fn with_tables(&self) -> Self {
        let a = Arc::new(FixedBase::new(&self.a.p));
        let a_prime = if self.a_prime.p.to_bytes() == self.a.p.to_bytes() {
            Arc::clone(&a)
        } else {
            Arc::new(FixedBase::new(&self.a_prime.p))
        };
        Self {
            a: Base {
                p: self.a.p.clone(),
                table: Some(a),
            },
            a_prime: Base {
                p: self.a_prime.p.clone(),
                table: Some(a_prime),
            },
        }
    }
}

/// The prepared Miller-loop lines of a G2 point (the server secret), on blst.
pub(crate) struct G2Table(blstrs::G2Prepared);

impl G2Table {
    /// Prepares the lines of a validated G2 point.
    pub fn new(p: &ECP2) -> Result<Self, DecodeError> {
        backend::g2_prepared(p)
            .map(Self)
            .map_err(|source| DecodeError::Point {
                field: "server secret",
                source,
            })
    }
}

/// A fixed-argument Miller-loop table for a G2 point (`pair::precomp`), on miracl_core.
struct MiraclG2Table(Vec<FP4>);

impl MiraclG2Table {
    fn new(p: &ECP2) -> Self {
        let mut t = vec![FP4::new(); G2_TABLE];
        pair::precomp(&mut t, p);
        Self(t)
    }
}

impl Drop for MiraclG2Table {
    fn drop(&mut self) {
        // Best effort: the table of the server secret is key material.
        for v in self.0.iter_mut() {
            v.zero();
        }
        std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
    }
}

fn q_table() -> &'static MiraclG2Table {
    static T: OnceLock<MiraclG2Table> = OnceLock::new();
    T.get_or_init(|| MiraclG2Table::new(&q_generator()))
}

/// `g = e(Q, V)·e(SS, P)` with prepared lines for `Q` and `SS` (one final exponentiation).
pub(crate) fn verify_product(ss: &G2Table, v: &G1, p: &G1) -> GtValue {
    backend::pairing_product(&[(v, backend::q_prepared()), (p, &ss.0)])
}

/// `P = U' + y·A'`.
pub(crate) fn verify_point(u_prime: &G1, y: &BIG, a_prime: &impl MulBy) -> G1 {
    u_prime.add(&a_prime.mul_by(y))
}

/// `F = e(Q, U + y·A)`, the PIN-error base (permit excluded), as a miracl_core value for the
/// search; `None` only if the GT value could not be read back (see [`GtValue::to_miracl`]).
pub(crate) fn pin_error_base(u: &G1, y: &BIG, a: &impl MulBy) -> Option<FP12> {
    let p = verify_point(u, y, a);
    backend::pairing_product(&[(&p, backend::q_prepared())]).to_miracl()
}

/// The PIN-error distance of a failed verify product `g` (see [`pin_error`]).
pub(crate) fn pin_error_of(g: &GtValue, u: &G1, y: &BIG, a: &impl MulBy) -> Option<i32> {
    pin_error(&g.to_miracl()?, &pin_error_base(u, y, a)?)
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

/// `SHA-256(c ‖ P.x ‖ P.y)[..16]`, `pb` being `04 ‖ P.x ‖ P.y`.
fn key_hash(c: &FP4, pb: &[u8; G1_LEN]) -> [u8; KEY_LEN] {
    let mut h = Sha256::new();
    h.update(fp4_to_bytes(c));
    h.update(&pb[1..]);
    let d = h.finalize();
    let mut k = [0u8; KEY_LEN];
    k.copy_from_slice(&d[..KEY_LEN]);
    k
}

/// `e(Q, P)` on blst, read back for miracl_core's GT exponentiations; on miracl_core if `P`
/// does not convert (never for a valid point).
fn pair_with_q_fast(p: &ECP) -> FP12 {
    backend::g1_from_miracl(p)
        .ok()
        .and_then(|fast| backend::pairing_product(&[(&fast, backend::q_prepared())]).to_miracl())
        .unwrap_or_else(|| pair_with_q(p))
}

/// Client precomputation `G1 = e(Q, TOKEN)`, `G2 = e(Q, A)`.
pub(crate) fn precompute(token: &ECP, a: &ECP) -> (FP12, FP12) {
    (pair_with_q_fast(token), pair_with_q_fast(a))
}

/// `K_C = H(Tr((G1·G2^pin)^(r+h)) ‖ x·T)`, where `G1·G2^pin = e(Q, TOKEN)·e(Q, A)^pin =
/// e(Q, S)` with `S = TOKEN + pin·A`: `gs` is the fixed-base table of `e(Q, S)`, made once per
/// PIN and day ([`client_key_table`]), and `e(Q, S)^(r+h)` is one GLS exponentiation on blst
/// (constant time in the secret `r`), about half the pairing `e(Q, (r+h)·S)` it replaces.
/// `None` only if the GT value could not be read back.
pub(crate) fn client_key(gs: &GtTable, r: &BIG, x: &BIG, h: &BIG, t: &G1) -> Option<[u8; KEY_LEN]> {
    let mut k = backend::scalar(&add_mod_q(r, h)).to_bytes_le();
    let g = gs.pow(&k);
    zeroize::Zeroize::zeroize(&mut k);
    count_client_key();
    let c = g.to_miracl()?.trace();
    Some(key_hash(&c, &t.mul(x).to_bytes()))
}

/// The table of `e(Q, S)`, `S = TOKEN + pin·A`, for [`client_key`] (one pairing, not counted:
/// see [`count_pairing`]).
pub(crate) fn client_key_table(s: &G1) -> GtTable {
    GtTable::new(&backend::uncounted_pairing(s, backend::q_prepared()))
}

/// The server's commitment `T = w·A'` (constant time in the secret `w`).
pub(crate) fn server_t(a_prime: &impl MulBy, w: &BIG) -> [u8; G1_LEN] {
    a_prime.mul_by(w).to_bytes()
}

/// `K_S = H(Tr(e(SS, Z + h·A)) ‖ w·U')`, or `None` when `Z + h·A = O` (or, never seen, when
/// the GT value could not be read back).
pub(crate) fn server_key(
    ss: &G2Table,
    z: &G1,
    w: &BIG,
    h: &BIG,
    a: &impl MulBy,
    u_prime: &G1,
) -> Option<[u8; KEY_LEN]> {
    let rp = z.add(&a.mul_by(h));
    if rp.is_infinity() {
        return None;
    }
    let mut g = backend::pairing_product(&[(&rp, &ss.0)]).to_miracl()?;
    let c = g.trace();
    Some(key_hash(&c, &u_prime.mul(w).to_bytes()))
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
