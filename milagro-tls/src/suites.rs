//! The three TLS 1.3 cipher suites and their hash functions.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// A hash function a PSK and a cipher suite are bound to (RFC 8446 §4.2.11).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HashAlgorithm {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
}

impl HashAlgorithm {
    /// Output length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha384 => 48,
        }
    }
}

/// A TLS 1.3 cipher suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CipherSuite {
    /// TLS_AES_128_GCM_SHA256 (0x1301), the default.
    Aes128GcmSha256,
    /// TLS_AES_256_GCM_SHA384 (0x1302).
    Aes256GcmSha384,
    /// TLS_CHACHA20_POLY1305_SHA256 (0x1303).
    Chacha20Poly1305Sha256,
}

impl CipherSuite {
    /// Every supported suite, in default preference order.
    pub const ALL: [CipherSuite; 3] = [
        Self::Aes128GcmSha256,
        Self::Aes256GcmSha384,
        Self::Chacha20Poly1305Sha256,
    ];

    /// The IANA code point.
    pub fn code(self) -> u16 {
        match self {
            Self::Aes128GcmSha256 => 0x1301,
            Self::Aes256GcmSha384 => 0x1302,
            Self::Chacha20Poly1305Sha256 => 0x1303,
        }
    }

    /// Maps a code point to a supported suite.
    pub fn from_code(code: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.code() == code)
    }

    /// The IANA name, e.g. `TLS_AES_128_GCM_SHA256`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Aes128GcmSha256 => "TLS_AES_128_GCM_SHA256",
            Self::Aes256GcmSha384 => "TLS_AES_256_GCM_SHA384",
            Self::Chacha20Poly1305Sha256 => "TLS_CHACHA20_POLY1305_SHA256",
        }
    }

    /// The suite's hash function.
    pub fn hash(self) -> HashAlgorithm {
        match self {
            Self::Aes256GcmSha384 => HashAlgorithm::Sha384,
            _ => HashAlgorithm::Sha256,
        }
    }

    pub(crate) fn aead(self) -> &'static aws_lc_rs::aead::Algorithm {
        match self {
            Self::Aes128GcmSha256 => &aws_lc_rs::aead::AES_128_GCM,
            Self::Aes256GcmSha384 => &aws_lc_rs::aead::AES_256_GCM,
            Self::Chacha20Poly1305Sha256 => &aws_lc_rs::aead::CHACHA20_POLY1305,
        }
    }
}

impl fmt::Display for CipherSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for CipherSuite {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                Error::Config(format!(
                    "unknown cipher suite {s:?}; expected one of TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256"
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_codes() {
        for s in CipherSuite::ALL {
            assert_eq!(CipherSuite::from_code(s.code()), Some(s));
            assert_eq!(s.name().parse::<CipherSuite>().unwrap(), s);
        }
        assert_eq!(CipherSuite::from_code(0x1304), None);
        assert!("TLS_AES_128_CCM_SHA256".parse::<CipherSuite>().is_err());
        assert_eq!(CipherSuite::Aes256GcmSha384.hash(), HashAlgorithm::Sha384);
    }
}
