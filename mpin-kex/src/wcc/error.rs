//! Why a WCC exchange was refused.

use thiserror::Error;

use crate::error::{DecodeError, SecretError};

/// A refused WCC step. On the wire every reason maps to the one opaque FAILURE frame
/// (P2P-SPEC §12); the message here is for the local log.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum WccError {
    /// A message or key did not decode or validate (bad length, bad point, trailing bytes).
    #[error("malformed WCC message or key: {0}")]
    Decode(#[from] DecodeError),

    /// Key material could not be combined.
    #[error("bad key material: {0}")]
    Secret(#[from] SecretError),

    /// An identity outside `1..=1024` bytes.
    #[error("identity of {0} bytes (must be 1 to 1024)")]
    IdentityLength(usize),

    /// The peer's identity is our own: a reflected session (Selfie) is refused.
    #[error("the peer claims our own identity (reflection / Selfie attack refused)")]
    SelfPeer,

    /// The reply came from another identity than the one dialled.
    #[error("the responder answered as another identity than the peer dialled")]
    WrongPeer,

    /// The hello asks for another responder identity than ours.
    #[error("the initiator asked for another identity than this responder's")]
    NotForMe,

    /// Permits are required but the initiator sent day 0.
    #[error("device permits are required but the initiator offered none (day 0)")]
    PermitRequired,

    /// This side holds no permit for the day the initiator asked for.
    #[error("no device permit for day {0} (fetch today's permit from the D-TAs)")]
    PermitDay(u32),

    /// A value that must not be zero or the identity was (x+πa ≡ 0, y+πb ≡ 0, g = 1, …).
    #[error("degenerate protocol value: {0}; start again")]
    Degenerate(&'static str),

    /// A call out of order (e.g. `reply` before `hello`, or twice).
    #[error("protocol call out of order: {0}")]
    State(&'static str),
}
