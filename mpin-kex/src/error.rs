//! Error types. Every failure names what was wrong so that a person (or a log) can act on it;
//! on the wire the server still sends one generic failure.

use thiserror::Error;

/// Why a point or scalar encoding was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum PointError {
    /// The encoding has the wrong number of bytes.
    #[error("wrong length")]
    Length,
    /// A G1 encoding that does not start with 0x04 (only uncompressed points are accepted).
    #[error("unsupported prefix byte 0x{0:02x} (only uncompressed 0x04 points are accepted)")]
    Prefix(u8),
    /// A coordinate or scalar not reduced below the modulus.
    #[error("non-canonical encoding (coordinate or scalar not reduced)")]
    NonCanonical,
    /// An encoding of the point at infinity (`04 ‖ 0…0` or a lone `00`).
    #[error("the identity point (point at infinity)")]
    Identity,
    /// Not on the curve.
    #[error("not a point of the curve")]
    NotOnCurve,
    /// On the curve but outside the prime-order subgroup.
    #[error("not in the prime-order subgroup")]
    NotInSubgroup,
}

/// Errors from decoding a protocol message or a stored secret.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// The message ended before a field was complete.
    #[error("message truncated while reading {0}")]
    Truncated(&'static str),
    /// Bytes left over after the last field.
    #[error("{0} trailing bytes after the message")]
    Trailing(usize),
    /// A length field above its bound.
    #[error("{field} is {len} bytes, more than the limit of {max}")]
    TooLong {
        /// The field.
        field: &'static str,
        /// Its declared length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A point or scalar field is invalid.
    #[error("invalid {field}: {source}")]
    Point {
        /// The field (`U`, `UT`, `V`, `Z`, `T`, `y`, ...).
        field: &'static str,
        /// What was wrong with it.
        source: PointError,
    },
    /// A field value outside what the protocol allows.
    #[error("invalid {field}: {why}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// Why.
        why: &'static str,
    },
}

/// Errors of the secret-management operations (shares, PIN, permits).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SecretError {
    /// A secret failed to decode.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// Combining needs at least one share.
    #[error("no shares to combine")]
    NoShares,
    /// Time-permit shares for different days were combined.
    #[error("time-permit shares are for different days ({0} and {1})")]
    MixedDays(u32, u32),
    /// A combined or derived secret is the identity point (degenerate shares).
    #[error("the combined secret is the identity point")]
    Degenerate,
    /// Day 0 means "no time permit" and cannot carry a permit.
    #[error("day 0 cannot carry a time permit")]
    DayZero,
}

/// Why the server refused an authentication. The wire only ever says "authentication failed";
/// these details are for logs and tests.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AuthError {
    /// A message failed to decode or a point failed validation (before any pairing).
    #[error("malformed message: {0}")]
    Decode(#[from] DecodeError),
    /// The identity is not on the server's allow-list.
    #[error("identity not allowed by the server's policy")]
    NotAllowed,
    /// The hello carries no time permit but the server requires them.
    #[error("a time permit is required but the client sent none")]
    PermitRequired,
    /// The permit day is not the server's current day (or yesterday within the grace period).
    #[error("time-permit day {client} is not accepted (server day {server})")]
    PermitDay {
        /// The day the client claims.
        client: u32,
        /// The server's current day.
        server: u32,
    },
    /// One-pass timestamp outside the allowed window.
    #[error(
        "one-pass timestamp {client} is {skew} s away from the server clock (window {window} s)"
    )]
    Stale {
        /// The client's timestamp.
        client: u64,
        /// Absolute difference to the server clock.
        skew: u64,
        /// The configured window.
        window: u64,
    },
    /// One-pass hello already seen.
    #[error("replayed one-pass hello")]
    Replay,
    /// Too many wrong-PIN failures for this identity: locked until `until`.
    #[error("identity locked out after {failures} wrong-PIN attempts, until unix time {until}")]
    LockedOut {
        /// The counted failures.
        failures: u32,
        /// Unix second the lockout ends.
        until: u64,
    },
    /// Too many failed proofs with a time permit, not attributable to the identity's token,
    /// came from this source (a token-and-permit thief sending a random `U`, or proofs made
    /// without the token): the identity is locked for this source only, until `until`.
    #[error("identity locked out for this source after {failures} failed proofs with a time permit (not attributable to its token), until unix time {until}")]
    SourceLockedOut {
        /// The counted failures of the pair (identity, source).
        failures: u32,
        /// Unix second the lockout ends.
        until: u64,
    },
    /// Too many failed proofs with a time permit, not attributable to the identity's token,
    /// came from many sources together (the distributed budget,
    /// [`crate::ServerPolicy::distributed_lockout_after`]): every permit-mode attempt for the
    /// identity from a named source is refused until `until`.
    #[error("identity locked out for permit-mode logins after {failures} failed proofs with a time permit from several sources (not attributable to its token), until unix time {until}")]
    DistributedLockedOut {
        /// The counted failures of the identity's distributed budget.
        failures: u32,
        /// Unix second the lockout ends.
        until: u64,
    },
    /// Other attempts for this identity are being verified and take its remaining budget:
    /// retry the same call when one of them is decided (the state is kept).
    #[error("other attempts for this identity are being verified; retry shortly")]
    Busy,
    /// An operator revoked the identity in the shared state (fleet-wide): every login is
    /// refused until it is unlocked.
    #[error("identity revoked by an operator; unlock it in the shared state to allow logins")]
    Revoked,
    /// The shared state (lockout counts, replay cache) cannot answer, so the attempt cannot
    /// be counted and is refused (fail closed); it works again once the store is back.
    #[error("shared state unavailable (lockout store not answering): login refused, fail closed; check the state store (e.g. Redis) is reachable")]
    StateUnavailable,
    /// The multi-pass challenge expired before the response arrived.
    #[error("challenge expired (response after {0} s)")]
    Expired(u64),
    /// The zero-knowledge proof did not verify: wrong PIN, wrong token, wrong or missing permit.
    #[error("proof rejected: {}{}", cause_text(*.genuine_token), pin_error_text(.pin_error))]
    BadProof {
        /// `PIN_entered − PIN_registered` when PIN-error detection is on (it is computed
        /// anyway, for `genuine_token`).
        pin_error: Option<i32>,
        /// The PIN-error distance was found in the PIN range: the proof was made with the
        /// identity's genuine token and a wrong PIN, and counted against the identity.
        /// Otherwise it was made without the token (another credential, a forgery), with a
        /// wrong time permit, or with a `U` that does not match `UT`; it counts against its
        /// source, and, with a permit and a source given, against the pair (identity, source).
        genuine_token: bool,
    },
    /// A degenerate value (e.g. `U + y·A = O`) that must not be paired.
    #[error("degenerate protocol value: {0}")]
    Degenerate(&'static str),
    /// A call that the state machine does not allow in its current state.
    #[error("protocol call out of order: {0}")]
    State(&'static str),
}

fn cause_text(genuine_token: bool) -> &'static str {
    if genuine_token {
        "wrong PIN with the identity's token (counted toward its lockout)"
    } else {
        "not made with this identity's token and permit (another credential, a forgery, or a wrong time permit)"
    }
}

impl AuthError {
    /// True only for a failure counted against the identity (a wrong PIN with its genuine
    /// token).
    pub fn is_token_failure(&self) -> bool {
        matches!(
            self,
            AuthError::BadProof {
                genuine_token: true,
                ..
            }
        )
    }

    /// True when the caller should retry the same call shortly ([`AuthError::Busy`]).
    pub fn is_busy(&self) -> bool {
        matches!(self, AuthError::Busy)
    }
}

fn pin_error_text(e: &Option<i32>) -> String {
    match e {
        Some(d) => format!(" (PIN off by {d})"),
        None => String::new(),
    }
}

/// Errors on the client side of the protocol.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ClientError {
    /// The server's message failed to decode or validate.
    #[error("malformed server message: {0}")]
    Decode(#[from] DecodeError),
    /// The server reported an authentication failure.
    #[error("the server refused authentication")]
    Refused,
    /// `x + y ≡ 0 (mod q)`: this run must be abandoned (probability 2^-255).
    #[error("degenerate challenge; start again")]
    Degenerate,
    /// The one-pass timestamp does not fit the protocol's 31-bit field.
    #[error("clock value {0} does not fit the one-pass timestamp (must be 1..2^31)")]
    Clock(u64),
    /// A call that the state machine does not allow in its current state.
    #[error("protocol call out of order: {0}")]
    State(&'static str),
}
