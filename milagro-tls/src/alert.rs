//! TLS alert descriptions (RFC 8446 §6).

use std::fmt;

macro_rules! alerts {
    ($($name:ident = $val:expr, $text:expr;)*) => {
        /// A TLS alert description. Every value defined by RFC 8446 has a
        /// variant; anything else is kept as [`AlertDescription::Unknown`].
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum AlertDescription {
            $(
                #[doc = $text]
                $name,
            )*
            /// A value not defined by RFC 8446.
            Unknown(u8),
        }

        impl AlertDescription {
            /// The wire value.
            pub fn code(self) -> u8 {
                match self {
                    $(Self::$name => $val,)*
                    Self::Unknown(v) => v,
                }
            }

            /// Maps a wire value to a description.
            pub fn from_code(v: u8) -> Self {
                match v {
                    $($val => Self::$name,)*
                    other => Self::Unknown(other),
                }
            }

            /// The RFC name, e.g. `decrypt_error`.
            pub fn name(self) -> &'static str {
                match self {
                    $(Self::$name => $text,)*
                    Self::Unknown(_) => "unknown",
                }
            }
        }
    };
}

alerts! {
    CloseNotify = 0, "close_notify";
    UnexpectedMessage = 10, "unexpected_message";
    BadRecordMac = 20, "bad_record_mac";
    RecordOverflow = 22, "record_overflow";
    HandshakeFailure = 40, "handshake_failure";
    BadCertificate = 42, "bad_certificate";
    UnsupportedCertificate = 43, "unsupported_certificate";
    CertificateRevoked = 44, "certificate_revoked";
    CertificateExpired = 45, "certificate_expired";
    CertificateUnknown = 46, "certificate_unknown";
    IllegalParameter = 47, "illegal_parameter";
    UnknownCa = 48, "unknown_ca";
    AccessDenied = 49, "access_denied";
    DecodeError = 50, "decode_error";
    DecryptError = 51, "decrypt_error";
    ProtocolVersion = 70, "protocol_version";
    InsufficientSecurity = 71, "insufficient_security";
    InternalError = 80, "internal_error";
    InappropriateFallback = 86, "inappropriate_fallback";
    UserCanceled = 90, "user_canceled";
    MissingExtension = 109, "missing_extension";
    UnsupportedExtension = 110, "unsupported_extension";
    UnrecognizedName = 112, "unrecognized_name";
    BadCertificateStatusResponse = 113, "bad_certificate_status_response";
    UnknownPskIdentity = 115, "unknown_psk_identity";
    CertificateRequired = 116, "certificate_required";
    NoApplicationProtocol = 120, "no_application_protocol";
}

impl fmt::Display for AlertDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.name(), self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_roundtrips() {
        for v in 0..=255u8 {
            assert_eq!(AlertDescription::from_code(v).code(), v);
        }
        assert_eq!(
            AlertDescription::from_code(51),
            AlertDescription::DecryptError
        );
        assert_eq!(
            AlertDescription::DecryptError.to_string(),
            "decrypt_error(51)"
        );
        assert_eq!(
            AlertDescription::from_code(200),
            AlertDescription::Unknown(200)
        );
    }
}
