//! Byte-level access to each step of the protocol with caller-chosen randomness, mirroring the
//! Apache Milagro C API (`CLIENT_1`, `CLIENT_2`, `SERVER_2`, `HASH_ALL`, `CLIENT_KEY`,
//! `SERVER_KEY`, …). It exists for conformance testing against the Milagro vectors (see the
//! `milagro_vectors` example); applications use the state machines in [`crate::client`] and
//! [`crate::server`], which draw fresh randomness and validate every message.
//!
//! Inputs given as [`Token`]/[`TimePermit`]/[`ServerSecret`] are already validated; point inputs
//! given as bytes are validated here and reported as [`DecodeError`].

use miracl_core::bls12381::ecp::ECP;

use crate::backend::G1;
use crate::curve::{big_to_bytes, g1_decode, g1_to_bytes, gt_to_bytes, scalar_mod_q, G1_LEN, MB};
use crate::error::DecodeError;
use crate::identity::{permit_hash, Active, HashedId, IdentityProfile};
use crate::math::{self, BlstIdPoints, G2Table, IdPoints, KEY_LEN};
use crate::pin::Pin;
use crate::secrets::{ServerSecret, TimePermit, Token};

/// A 48-byte big-endian scalar.
pub type Scalar = [u8; MB];
/// A 97-byte uncompressed G1 point.
pub type G1Bytes = [u8; G1_LEN];

fn g1(field: &'static str, b: &[u8]) -> Result<ECP, DecodeError> {
    g1_decode(b).map_err(|source| DecodeError::Point { field, source })
}

/// Decodes a point for the blst backend (the server's path), with the same checks.
fn g1_fast(field: &'static str, b: &[u8]) -> Result<G1, DecodeError> {
    crate::backend::g1_decode(b).map_err(|source| DecodeError::Point { field, source })
}

/// The server's identity points, on the blst backend.
fn server_points(id: &HashedId, day: u32) -> Result<BlstIdPoints, DecodeError> {
    BlstIdPoints::new(id, day).map_err(|source| DecodeError::Point {
        field: "identity point",
        source,
    })
}

const UNREADABLE_GT: DecodeError = DecodeError::Invalid {
    field: "GT",
    why: "the pairing result could not be read back from blst",
};

/// `HTP(d) = Hn(d, HCID)`.
pub fn permit_hash_bytes(id: &HashedId, day: u32) -> Scalar {
    permit_hash(id, day)
}

/// `A = M(HCID)`.
pub fn identity_point(id: &HashedId) -> G1Bytes {
    g1_to_bytes(&Active::identity_point(id))
}

/// `A_T(d) = M(Hn(d, HCID))`.
pub fn permit_point(id: &HashedId, day: u32) -> G1Bytes {
    g1_to_bytes(&Active::permit_point(id, day))
}

/// `HTID = A + A_T(d)` (or `A` when `day == 0`).
pub fn active_point(id: &HashedId, day: u32) -> G1Bytes {
    g1_to_bytes(&IdPoints::new(id, day).a_prime)
}

/// Output of [`client_1`].
pub struct Client1 {
    /// `U = x·A`.
    pub u: G1Bytes,
    /// `UT = x·(A + A_T)` when a day is given.
    pub ut: Option<G1Bytes>,
    /// `SEC = TOKEN + pin·A (+ TP)` — secret.
    pub sec: G1Bytes,
}

/// `CLIENT_1`: commitments and the client's combined secret for a given `x`.
pub fn client_1(
    identity: &[u8],
    x: &Scalar,
    pin: &Pin,
    token: &Token,
    permit: Option<&TimePermit>,
) -> Client1 {
    let id = HashedId::of(identity);
    let day = permit.map_or(0, |p| p.day());
    let pts = IdPoints::new(&id, day);
    let x = scalar_mod_q(x);
    let tp = permit.map(|p| p.point());
    let (_, sec) = math::client_secrets(&token.point(), &pts.a, pin.value(), tp.as_ref());
    let u = g1_to_bytes(&crate::curve::g1_mul_secret(&pts.a, &x));
    let ut = (day != 0).then(|| g1_to_bytes(&crate::curve::g1_mul_secret(&pts.a_prime, &x)));
    Client1 {
        u,
        ut,
        sec: g1_to_bytes(&sec),
    }
}

/// One-pass `y = Hn(t, U' ‖ message) mod q`.
pub fn one_pass_y(t: u32, u_prime: &[u8], message: &[u8]) -> Scalar {
    big_to_bytes(&math::one_pass_y(t, u_prime, message))
}

/// `CLIENT_2`: `V = −(x + y)·SEC`; `None` if `x + y ≡ 0 (mod q)`.
pub fn client_2(x: &Scalar, y: &Scalar, sec: &[u8]) -> Result<Option<G1Bytes>, DecodeError> {
    let sec = g1_fast("SEC", sec)?;
    Ok(math::response(&scalar_mod_q(x), &scalar_mod_q(y), &sec).map(|v| v.to_bytes()))
}

/// Result of [`server_2`].
pub enum Verdict {
    /// `MPIN_OK`.
    Ok,
    /// `MPIN_BAD_PIN`, with the PIN-error values `E`, `F` (legacy GT bytes) when `U` was given,
    /// and the error `PIN_entered − PIN_registered` when it could be found.
    BadPin {
        /// `E = e(Q, V)·e(SS, U' + y·A')`.
        e: Vec<u8>,
        /// `F = e(Q, U + y·A)`, when `U` was supplied.
        f: Option<Vec<u8>>,
        /// The PIN error, when found.
        pin_error: Option<i32>,
    },
}

/// `SERVER_2` (with `SERVER_1` folded in): verifies `V` for `identity` on `day`.
pub fn server_2(
    ss: &ServerSecret,
    identity: &[u8],
    day: u32,
    y: &Scalar,
    u: Option<&[u8]>,
    u_prime: &[u8],
    v: &[u8],
) -> Result<Verdict, DecodeError> {
    let id = HashedId::of(identity);
    let pts = server_points(&id, day)?;
    let y = scalar_mod_q(y);
    let table = G2Table::new(&ss.point()?)?;
    let p = math::verify_point(&g1_fast("U'", u_prime)?, &y, &pts.a_prime);
    let g = math::verify_product(&table, &g1_fast("V", v)?, &p);
    if g.isunity() {
        return Ok(Verdict::Ok);
    }
    let e = g.to_miracl().ok_or(UNREADABLE_GT)?;
    let (f, pin_error) = match u {
        Some(u) => {
            let f = math::pin_error_base(&g1_fast("U", u)?, &y, &pts.a).ok_or(UNREADABLE_GT)?;
            (Some(gt_to_bytes(&f)), math::pin_error(&e, &f))
        }
        None => (None, None),
    };
    Ok(Verdict::BadPin {
        e: gt_to_bytes(&e),
        f,
        pin_error,
    })
}

/// `PRECOMPUTE`: `(e(Q, TOKEN), e(Q, A))` as legacy GT bytes.
pub fn precompute(token: &Token, identity: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let a = Active::identity_point(&HashedId::of(identity));
    let (g1, g2) = math::precompute(&token.point(), &a);
    (gt_to_bytes(&g1), gt_to_bytes(&g2))
}

/// `GET_G1_MULTIPLE`: `k·P` for a G1 point given as bytes.
pub fn g1_multiple(k: &Scalar, p: &[u8]) -> Result<G1Bytes, DecodeError> {
    let p = g1("point", p)?;
    Ok(g1_to_bytes(&crate::curve::g1_mul_secret(
        &p,
        &scalar_mod_q(k),
    )))
}

/// `HASH_ALL(HCID, U', V, y, Z, T)`.
pub fn hash_all(id: &HashedId, u_prime: &[u8], v: &[u8], y: &Scalar, z: &[u8], t: &[u8]) -> Scalar {
    math::hash_all(id, u_prime, v, y, z, t).0
}

/// `CLIENT_KEY`: the client's M-Pin Full key.
#[allow(clippy::too_many_arguments)]
pub fn client_key(
    token: &Token,
    identity: &[u8],
    pin: &Pin,
    r: &Scalar,
    x: &Scalar,
    h: &Scalar,
    t: &[u8],
) -> Result<[u8; KEY_LEN], DecodeError> {
    let a = Active::identity_point(&HashedId::of(identity));
    let (s, _) = math::client_secrets(&token.point(), &a, pin.value(), None);
    let s = crate::backend::g1_from_miracl(&s).map_err(|source| DecodeError::Point {
        field: "TOKEN + pin·A",
        source,
    })?;
    let t = g1_fast("T", t)?;
    math::client_key(
        &math::client_key_table(&s),
        &scalar_mod_q(r),
        &scalar_mod_q(x),
        &scalar_mod_q(h),
        &t,
    )
    .ok_or(UNREADABLE_GT)
}

/// `SERVER_KEY`: the server's M-Pin Full key (`u_prime` is `UT` with permits, else `U`).
pub fn server_key(
    ss: &ServerSecret,
    identity: &[u8],
    z: &[u8],
    w: &Scalar,
    h: &Scalar,
    u_prime: &[u8],
) -> Result<Option<[u8; KEY_LEN]>, DecodeError> {
    let pts = server_points(&HashedId::of(identity), 0)?;
    let table = G2Table::new(&ss.point()?)?;
    Ok(math::server_key(
        &table,
        &g1_fast("Z", z)?,
        &scalar_mod_q(w),
        &scalar_mod_q(h),
        &pts.a,
        &g1_fast("U'", u_prime)?,
    ))
}
