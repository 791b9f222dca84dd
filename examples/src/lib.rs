//! Runnable examples for milagro-rs; see the `examples/` folder of this crate.
//! This library holds the small helpers the example programs share.
//!
//! ```
//! assert!(!examples::ABOUT.is_empty());
//! let suites = examples::parse_suites(&["TLS_AES_128_GCM_SHA256".to_string()]).unwrap();
//! assert_eq!(suites, vec![milagro_tls::CipherSuite::Aes128GcmSha256]);
//! ```
#![forbid(unsafe_code)]

use milagro_tls::{CipherSuite, HashAlgorithm, NamedGroup};

/// What this crate holds.
pub const ABOUT: &str = "runnable examples for milagro-rs";

/// Parses `--suite` values (each may be a comma-separated list of IANA
/// names); an empty list means every suite.
pub fn parse_suites(values: &[String]) -> Result<Vec<CipherSuite>, milagro_tls::Error> {
    let mut out = Vec::new();
    for v in values.iter().flat_map(|v| v.split(',')) {
        out.push(v.trim().parse()?);
    }
    if out.is_empty() {
        out = CipherSuite::ALL.to_vec();
    }
    Ok(out)
}

/// Parses `--group` values (each may be a comma-separated list); an empty
/// list means the defaults.
pub fn parse_groups(values: &[String]) -> Result<Vec<NamedGroup>, milagro_tls::Error> {
    let mut out = Vec::new();
    for v in values.iter().flat_map(|v| v.split(',')) {
        out.push(v.trim().parse()?);
    }
    if out.is_empty() {
        out = NamedGroup::ALL.to_vec();
    }
    Ok(out)
}

/// The hash PSKs are bound to: that of the first suite (SHA-256 unless a
/// SHA-384 suite comes first). A PSKsecrets file carries no hash, and
/// OpenSSL binds `-psk` keys to SHA-256.
pub fn psk_hash(suites: &[CipherSuite]) -> HashAlgorithm {
    suites.first().map_or(HashAlgorithm::Sha256, |s| s.hash())
}
