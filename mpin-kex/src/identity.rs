//! Identities: raw bytes → [`HashedId`] (HCID) → G1 point, behind the [`IdentityProfile`] trait so
//! that an RFC 9380 hash-to-curve profile can be added without touching the protocol.

use core::fmt;

use miracl_core::bls12381::big::BIG;
use miracl_core::bls12381::ecp::ECP;
use miracl_core::bls12381::rom;

use crate::curve::{big_from, MB};
use crate::hash::hn;

/// The hashed identity `HCID = Hn(ID)` (MB = 48 bytes: 16 zero bytes then SHA-256).
/// This is all a D-TA ever learns about a user.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct HashedId(pub(crate) [u8; MB]);

impl HashedId {
    /// Length of the encoding.
    pub const LEN: usize = MB;

    /// Hashes a raw identity with the active profile.
    pub fn of(identity: &[u8]) -> Self {
        Active::hash_id(identity)
    }

    /// The 48-byte encoding.
    pub fn as_bytes(&self) -> &[u8; MB] {
        &self.0
    }

    /// Reads a 48-byte encoding (as sent to a D-TA). The legacy profile's hashes always start
    /// with 16 zero bytes; anything else is refused.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let arr: [u8; MB] = bytes.try_into().ok()?;
        if arr[..MB - 32].iter().any(|&b| b != 0) {
            return None;
        }
        Some(Self(arr))
    }

    /// Lower-case hex of the 32 significant bytes (for logs: a hashed identity is not secret).
    pub fn short_hex(&self) -> String {
        self.0[MB - 32..]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

impl fmt::Debug for HashedId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HashedId({})", self.short_hex())
    }
}

/// How identities are hashed and mapped to G1.
pub trait IdentityProfile {
    /// Raw identity → hashed identity.
    fn hash_id(identity: &[u8]) -> HashedId;
    /// Hashed identity → identity point `A`.
    fn identity_point(id: &HashedId) -> ECP;
    /// Hashed identity and day → time-permit point `A_T(d)`.
    fn permit_point(id: &HashedId, day: u32) -> ECP;
}

/// The Apache Milagro profile (MPIN-SPEC §1.3–1.5): `Hn` with SHA-256 and left padding,
/// hash-and-increment to G1 with even y, times the full G1 cofactor.
#[derive(Debug, Clone, Copy)]
pub struct MilagroLegacy;

/// The profile the protocol uses.
pub type Active = MilagroLegacy;

/// BLS12-381 full G1 cofactor (u−1)²/3 = 0x396c8c005555e1568c00aaab0000aaab.
const COFACTOR: [u8; MB] = {
    let mut c = [0u8; MB];
    let v: [u8; 16] = [
        0x39, 0x6c, 0x8c, 0x00, 0x55, 0x55, 0xe1, 0x56, 0x8c, 0x00, 0xaa, 0xab, 0x00, 0x00, 0xaa,
        0xab,
    ];
    let mut i = 0;
    while i < 16 {
        c[MB - 16 + i] = v[i];
        i += 1;
    }
    c
};

/// The legacy map `M(h)`: hunt-and-peck from `int(h) mod p` with even y, then the full cofactor.
pub(crate) fn legacy_map(h: &[u8; MB]) -> ECP {
    let p = BIG::new_ints(&rom::MODULUS);
    let cof = big_from(&COFACTOR);
    let mut x = big_from(h);
    x.rmod(&p);
    loop {
        let pt = ECP::new_bigint(&x, 0);
        x.inc(1);
        x.norm();
        if x.iszilch() || BIG::comp(&x, &p) >= 0 {
            x.rmod(&p);
        }
        if pt.is_infinity() {
            continue;
        }
        let q = pt.mul(&cof);
        if !q.is_infinity() {
            return q;
        }
    }
}

impl IdentityProfile for MilagroLegacy {
    fn hash_id(identity: &[u8]) -> HashedId {
        HashedId(hn(None, &[identity]))
    }

    fn identity_point(id: &HashedId) -> ECP {
        legacy_map(&id.0)
    }

    fn permit_point(id: &HashedId, day: u32) -> ECP {
        legacy_map(&hn(Some(day), &[&id.0]))
    }
}

/// `HTP(d) = Hn(d, HCID)`, exposed for conformance tests.
pub(crate) fn permit_hash(id: &HashedId, day: u32) -> [u8; MB] {
    hn(Some(day), &[&id.0])
}
