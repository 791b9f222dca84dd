//! The crate's error type and its mapping to TLS alerts.

use crate::alert::AlertDescription;

/// Everything that can end a connection. Errors caused by the peer carry the
/// alert that was (or will be) sent to it; see [`Error::alert`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A message or record could not be parsed (`decode_error` sent).
    #[error("malformed {0} from peer (decode_error sent)")]
    Decode(&'static str),
    /// A field had a value the protocol forbids (`illegal_parameter` sent).
    #[error("illegal parameter from peer: {0} (illegal_parameter sent)")]
    IllegalParameter(&'static str),
    /// A message arrived that is not allowed in the current state
    /// (`unexpected_message` sent).
    #[error("unexpected message from peer: {0} (unexpected_message sent)")]
    UnexpectedMessage(&'static str),
    /// No acceptable parameters: no usable PSK, no psk_dhe_ke mode, no common
    /// cipher suite or group (`handshake_failure` sent).
    #[error("handshake failure: {0} (handshake_failure sent)")]
    HandshakeFailure(&'static str),
    /// The peer did not offer TLS 1.3 (`protocol_version` sent).
    #[error("peer does not offer TLS 1.3 (protocol_version sent)")]
    ProtocolVersion,
    /// A required extension is missing (`missing_extension` sent).
    #[error("peer omitted a required extension: {0} (missing_extension sent)")]
    MissingExtension(&'static str),
    /// The peer sent an extension that is not allowed here
    /// (`unsupported_extension` sent).
    #[error("peer sent an extension that is not allowed: {0} (unsupported_extension sent)")]
    UnsupportedExtension(&'static str),
    /// The PSK binder did not verify, the PSK identity is unknown, or no
    /// offered cipher suite uses the known PSK's hash; the cases are
    /// deliberately indistinguishable on the wire (`decrypt_error` sent).
    #[error("PSK binder did not verify, PSK identity unknown, or no offered cipher suite uses the PSK's hash (decrypt_error sent): check that both sides use the same identity, key and hash")]
    BadPskBinder,
    /// The peer's Finished message did not verify: the peer holds a different
    /// PSK (`decrypt_error` sent).
    #[error("peer Finished did not verify: the peer uses a different PSK (decrypt_error sent)")]
    BadFinished,
    /// A record failed authentication (`bad_record_mac` sent).
    #[error("record failed authentication (bad_record_mac sent)")]
    BadRecordMac,
    /// A record was larger than the protocol allows (`record_overflow` sent).
    #[error("record too large (record_overflow sent)")]
    RecordOverflow,
    /// The peer sent a fatal alert.
    #[error("peer sent alert {0}")]
    AlertReceived(AlertDescription),
    /// The connection was closed (TCP EOF) before the handshake finished or
    /// without a close_notify.
    #[error("connection closed by peer without close_notify")]
    UnexpectedEof,
    /// The handshake did not finish in time.
    #[error("TLS handshake timed out")]
    HandshakeTimeout,
    /// Application data was written after close_notify was sent.
    #[error("connection already closed")]
    AlreadyClosed,
    /// An invalid local configuration or API use.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A local cryptographic failure (`internal_error` sent).
    #[error("internal error: {0} (internal_error sent)")]
    Internal(&'static str),
}

impl Error {
    /// The alert this side sends to the peer for this error, if any.
    pub fn alert(&self) -> Option<AlertDescription> {
        use AlertDescription as A;
        Some(match self {
            Self::Decode(_) => A::DecodeError,
            Self::IllegalParameter(_) => A::IllegalParameter,
            Self::UnexpectedMessage(_) => A::UnexpectedMessage,
            Self::HandshakeFailure(_) => A::HandshakeFailure,
            Self::ProtocolVersion => A::ProtocolVersion,
            Self::MissingExtension(_) => A::MissingExtension,
            Self::UnsupportedExtension(_) => A::UnsupportedExtension,
            Self::BadPskBinder | Self::BadFinished => A::DecryptError,
            Self::BadRecordMac => A::BadRecordMac,
            Self::RecordOverflow => A::RecordOverflow,
            Self::Internal(_) => A::InternalError,
            Self::AlertReceived(_)
            | Self::UnexpectedEof
            | Self::HandshakeTimeout
            | Self::AlreadyClosed
            | Self::Config(_) => return None,
        })
    }
}

impl From<Error> for std::io::Error {
    fn from(e: Error) -> Self {
        let kind = match e {
            Error::UnexpectedEof => std::io::ErrorKind::UnexpectedEof,
            Error::HandshakeTimeout => std::io::ErrorKind::TimedOut,
            Error::AlreadyClosed => std::io::ErrorKind::BrokenPipe,
            _ => std::io::ErrorKind::InvalidData,
        };
        std::io::Error::new(kind, e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binder_and_unknown_identity_share_an_alert() {
        assert_eq!(
            Error::BadPskBinder.alert(),
            Some(AlertDescription::DecryptError)
        );
        assert_eq!(
            Error::HandshakeFailure("x").alert(),
            Some(AlertDescription::HandshakeFailure)
        );
        assert_eq!(
            Error::AlertReceived(AlertDescription::DecodeError).alert(),
            None
        );
        let io: std::io::Error = Error::HandshakeTimeout.into();
        assert_eq!(io.kind(), std::io::ErrorKind::TimedOut);
    }
}
