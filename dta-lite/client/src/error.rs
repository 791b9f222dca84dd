//! [`ClientError`]: what can go wrong talking to D-TAs; errors about one D-TA name it.

use mpin_kex::SecretError;

use crate::transport::REQUEST_TIMEOUT;

/// Client errors. Those about one D-TA name it.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// A D-TA descriptor is invalid.
    #[error("D-TA {url}: {why}")]
    Endpoint {
        /// The D-TA.
        url: String,
        /// Why.
        why: String,
    },
    /// Could not reach the D-TA.
    #[error("D-TA {url}: cannot connect: {why}")]
    Connect {
        /// The D-TA.
        url: String,
        /// Why.
        why: String,
    },
    /// The TLS handshake failed (wrong pin, not a D-TA).
    #[error(
        "D-TA {url}: TLS handshake failed (is the pinned certificate fingerprint right?): {why}"
    )]
    Tls {
        /// The D-TA.
        url: String,
        /// Why.
        why: String,
    },
    /// An HTTP-level failure.
    #[error("D-TA {url}: HTTP failure: {why}")]
    Http {
        /// The D-TA.
        url: String,
        /// Why.
        why: String,
    },
    /// No answer in time.
    #[error("D-TA {url}: no answer within {} s", REQUEST_TIMEOUT.as_secs())]
    Timeout {
        /// The D-TA.
        url: String,
    },
    /// The answer's signature is missing or wrong.
    #[error("D-TA {url}: response signature missing or invalid (tampered answer, or wrong signing key configured)")]
    BadSignature {
        /// The D-TA.
        url: String,
    },
    /// The D-TA refused the request.
    #[error("D-TA {url}: refused with HTTP {status}: {message}")]
    Refused {
        /// The D-TA.
        url: String,
        /// HTTP status.
        status: u16,
        /// The D-TA's message.
        message: String,
    },
    /// The answer is malformed or a share does not validate.
    #[error("D-TA {url}: invalid answer, field `{field}`: {why}")]
    BadAnswer {
        /// The D-TA.
        url: String,
        /// The field.
        field: &'static str,
        /// Why.
        why: String,
    },
    /// Combining shares failed.
    #[error("combining shares: {0}")]
    Combine(#[from] SecretError),
    /// No D-TA given.
    #[error("no D-TAs given")]
    NoDtas,
    /// The grant does not fit the operation.
    #[error("grant: {0}")]
    Grant(String),
}

impl ClientError {
    /// HTTP status of a refusal, if this is one.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Refused { status, .. } => Some(*status),
            _ => None,
        }
    }
}
