//! The P2P master share `s'_i` of one D-TA, kept apart from the M-Pin [`crate::MasterShare`]
//! (P2P-SPEC §13): with one master secret for both, a device sender key `s·H1(HID)` would be
//! an M-Pin client secret of the same identity (PIN 0). A separate type with its own byte
//! format (`"P2P1" ‖ 48-byte scalar`) means an M-Pin share cannot be loaded or used for
//! devices by mistake.

use core::fmt;

use miracl_core::bls12381::big::BIG;
use rand_core::{CryptoRng, RngCore};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::h2;
use super::keys::{ReceiverKeyShare, ReceiverPermitShare, SenderKeyShare, SenderPermitShare};
use crate::curve::{
    big_from, big_to_bytes, g1_mul_secret, g2_mul, random_scalar, scalar_canonical, MB,
};
use crate::error::{DecodeError, SecretError};
use crate::identity::HashedId;

/// One D-TA's P2P master-secret share `s'_i` (uniform in `[1, q)`).
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct P2pMasterShare {
    bytes: [u8; MB],
}

impl P2pMasterShare {
    /// The 4 bytes that start every encoding.
    pub const PREFIX: &'static [u8; 4] = b"P2P1";
    /// Length of the encoding (prefix and 48-byte scalar).
    pub const LEN: usize = 4 + MB;

    /// Draws a fresh share.
    pub fn generate<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        Self {
            bytes: big_to_bytes(&random_scalar(rng)),
        }
    }

    /// Reads `"P2P1" ‖ scalar`: the scalar must be below the group order and non-zero. A bare
    /// 48-byte M-Pin master share is refused.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        const FIELD: &str = "P2P master share";
        if bytes.len() != Self::LEN {
            return Err(DecodeError::Invalid {
                field: FIELD,
                why: "not 52 bytes (\"P2P1\" and a 48-byte scalar); an M-Pin master share cannot be used for devices",
            });
        }
        if &bytes[..4] != Self::PREFIX {
            return Err(DecodeError::Invalid {
                field: FIELD,
                why: "does not start with \"P2P1\"",
            });
        }
        let s = scalar_canonical(&bytes[4..]).map_err(|source| DecodeError::Point {
            field: FIELD,
            source,
        })?;
        if s.iszilch() {
            return Err(DecodeError::Invalid {
                field: FIELD,
                why: "zero",
            });
        }
        Ok(Self {
            bytes: big_to_bytes(&s),
        })
    }

    /// The encoding `"P2P1" ‖ scalar`. Treat it as secret.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut v = Zeroizing::new(Vec::with_capacity(Self::LEN));
        v.extend_from_slice(Self::PREFIX);
        v.extend_from_slice(&self.bytes);
        v
    }

    fn scalar(&self) -> BIG {
        big_from(&self.bytes)
    }

    /// The sender-key share `s'_i·H1(HID)` (G1), for a device allowed to dial.
    pub fn sender_key_share(&self, id: &HashedId) -> SenderKeyShare {
        SenderKeyShare::from_point(&g1_mul_secret(&h2::sender_point(id), &self.scalar()))
    }

    /// The receiver-key share `s'_i·H2(HID)` (G2), for a device allowed to accept.
    pub fn receiver_key_share(&self, id: &HashedId) -> ReceiverKeyShare {
        ReceiverKeyShare::from_point(&g2_mul(&h2::receiver_point(id), &self.scalar()))
    }

    /// The sender-permit share `s'_i·H1(Hn(d, HID))` for day `d > 0` (our extension).
    pub fn sender_permit_share(
        &self,
        id: &HashedId,
        day: u32,
    ) -> Result<SenderPermitShare, SecretError> {
        if day == 0 {
            return Err(SecretError::DayZero);
        }
        let p = g1_mul_secret(&h2::sender_permit_point(id, day), &self.scalar());
        Ok(SenderPermitShare::from_point(day, &p))
    }

    /// The receiver-permit share `s'_i·H2(Hn(d, HID))` for day `d > 0` (our extension).
    pub fn receiver_permit_share(
        &self,
        id: &HashedId,
        day: u32,
    ) -> Result<ReceiverPermitShare, SecretError> {
        if day == 0 {
            return Err(SecretError::DayZero);
        }
        let p = g2_mul(&h2::receiver_permit_point(id, day), &self.scalar());
        Ok(ReceiverPermitShare::from_point(day, &p))
    }
}

impl fmt::Debug for P2pMasterShare {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("P2pMasterShare(<redacted>)")
    }
}
