//! What a successful run gives both sides.

use core::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::curve::MB;
use crate::identity::HashedId;
use crate::math::KEY_LEN;

/// The 16-byte M-Pin Full session key. Zeroized on drop; `Debug` prints nothing of it.
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct SessionKey([u8; KEY_LEN]);

impl SessionKey {
    pub(crate) fn new(k: [u8; KEY_LEN]) -> Self {
        Self(k)
    }

    /// The key bytes (for a KDF such as the RFC 9258 PSK importer).
    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionKey(<redacted>)")
    }
}

/// Which flow ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Hello, challenge, response (default).
    MultiPass,
    /// One message each way; the challenge is derived from a timestamp.
    OnePass,
}

/// The outcome of a successful run, on either side.
#[derive(Clone, Debug)]
pub struct Session {
    /// The authenticated raw identity.
    pub identity: Vec<u8>,
    /// Its hash.
    pub hashed_id: HashedId,
    /// The time-permit day used (0 = none).
    pub day: u32,
    /// The flow.
    pub mode: Mode,
    /// The one-pass application message (empty in multi-pass).
    pub message: Vec<u8>,
    /// The transcript hash `HM = Hn(HCID ‖ U' ‖ V ‖ y ‖ Z ‖ T)`.
    pub transcript_hash: [u8; MB],
    /// The shared key.
    pub key: SessionKey,
}
