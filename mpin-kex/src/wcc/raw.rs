//! Byte-level access to each WCC step with caller-chosen randomness, mirroring the Apache
//! Milagro C API (`HASH_ID`, `GET_G1_MULTIPLE`, `GET_G2_MULTIPLE`, `Hq`, `SENDER_KEY`,
//! `RECEIVER_KEY`). For conformance tests against the Milagro vectors (the `milagro_vectors`
//! example); applications use [`super::Initiator`] and [`super::Responder`]. Received points
//! are validated as in the state machines.

use super::error::WccError;
use super::fast::G2;
use super::h2;
use super::keys::{ReceiverKey, SenderKey};
use super::math;
use crate::backend;
use crate::curve::{big_from, g1_to_bytes, g2_decode, g2_mul, g2_to_bytes, G1_LEN, G2_LEN, MB};
use crate::error::DecodeError;
use crate::identity::HashedId;
use crate::math::KEY_LEN;

/// A 48-byte big-endian scalar.
pub type Scalar = [u8; MB];
/// A 97-byte G1 point.
pub type G1Bytes = [u8; G1_LEN];
/// A 192-byte legacy G2 point.
pub type G2Bytes = [u8; G2_LEN];

fn bad(field: &'static str) -> impl Fn(crate::error::PointError) -> WccError {
    move |source| WccError::Decode(DecodeError::Point { field, source })
}

/// `H1(HID)` (`ECP_mapit`), the sender's identity point.
pub fn h1(id: &HashedId) -> G1Bytes {
    g1_to_bytes(&h2::sender_point(id))
}

/// `H2(HID)` (`ECP2_mapit`), the receiver's identity point.
pub fn h2(id: &HashedId) -> G2Bytes {
    g2_to_bytes(&h2::receiver_point(id))
}

/// The point `ECP2_mapit` finds before cofactor clearing (legacy root of `y`).
pub fn h2_before_cofactor(id: &HashedId) -> G2Bytes {
    g2_to_bytes(&h2::legacy_h2_pre(id.as_bytes()))
}

/// `S·H1(HID)` (`GET_G1_MULTIPLE`): key shares, `PaG1 = x·A`, `PgG1 = w·A`.
pub fn g1_multiple(s: &Scalar, id: &HashedId) -> G1Bytes {
    g1_to_bytes(&crate::curve::g1_mul_secret(
        &h2::sender_point(id),
        &big_from(s),
    ))
}

/// `S·H2(HID)` (`GET_G2_MULTIPLE`): key shares, `PbG2 = y·B`.
pub fn g2_multiple(s: &Scalar, id: &HashedId) -> G2Bytes {
    g2_to_bytes(&g2_mul(&h2::receiver_point(id), &big_from(s)))
}

/// `Hq(A, B, C, D)` as 48 bytes.
pub fn hq(a: &[u8], b: &[u8], c: &[u8], d: &[u8]) -> Scalar {
    math::scalar_bytes(&math::hq([a, b, c, d]))
}

/// The inside of a key derivation: `Tr(g)`, the DH point and the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyOutput {
    /// `Tr(g)`, 192 bytes.
    pub trace: Vec<u8>,
    /// The DH point, 97 bytes.
    pub dh: G1Bytes,
    /// The 16-byte key.
    pub key: [u8; KEY_LEN],
}

fn out(p: math::KeyParts) -> KeyOutput {
    KeyOutput {
        trace: p.trace.to_vec(),
        dh: p.dh,
        key: p.key,
    }
}

/// `SENDER_KEY(x, πa, πb, PbG2, PgG1, AKeyG1, IdB)` (no permits).
pub fn sender_key(
    x: &Scalar,
    (pia, pib): (&Scalar, &Scalar),
    pb: &[u8],
    pg: &[u8],
    key: &SenderKey,
    id_b: &[u8],
) -> Result<KeyOutput, WccError> {
    let pb = g2_decode(pb)
        .and_then(|p| G2::from_miracl(&p))
        .map_err(bad("PbG2"))?;
    let pg = backend::g1_decode(pg).map_err(bad("PgG1"))?;
    let sa = backend::g1_from_miracl(&key.point()?).map_err(bad("sender key"))?;
    let b =
        G2::from_miracl(&h2::receiver_point(&HashedId::of(id_b))).map_err(bad("identity point"))?;
    math::sender(
        &big_from(x),
        (&big_from(pia), &big_from(pib)),
        &pb,
        &pg,
        &sa,
        &b,
    )
    .map(out)
    .map_err(WccError::Degenerate)
}

/// `RECEIVER_KEY(y, w, πa, πb, PaG1, PgG1, BKeyG2, IdA)` (no permits; PgG1 is only
/// validated, as the library only decodes it).
#[allow(clippy::too_many_arguments)]
pub fn receiver_key(
    (y, w): (&Scalar, &Scalar),
    (pia, pib): (&Scalar, &Scalar),
    pa: &[u8],
    pg: &[u8],
    key: &ReceiverKey,
    id_a: &[u8],
) -> Result<KeyOutput, WccError> {
    let pa = backend::g1_decode(pa).map_err(bad("PaG1"))?;
    backend::g1_decode(pg).map_err(bad("PgG1"))?;
    let a = backend::g1_from_miracl(&h2::sender_point(&HashedId::of(id_a)))
        .map_err(bad("identity point"))?;
    math::receiver(
        (&big_from(y), &big_from(w)),
        (&big_from(pia), &big_from(pib)),
        &pa,
        &G2::from_miracl(&key.point()?).map_err(bad("receiver key"))?,
        &a,
    )
    .map(out)
    .map_err(WccError::Degenerate)
}
