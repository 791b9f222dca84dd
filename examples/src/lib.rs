//! Runnable examples for milagro-rs; see the `examples/` folder of this crate.
//! This library holds the small helpers the example programs share: suite and group
//! parsing for the PSK examples, and [`mpin_acceptor`] / [`mpin_connector`], which turn
//! the D-TA files (a server secret; a credential and a PIN file) into the M-Pin channel's
//! tokio adapters. [`cli`] holds the options, exit handling and accept loop the
//! programs share.
//!
//! ```
//! assert!(!examples::ABOUT.is_empty());
//! let suites = examples::parse_suites(&["TLS_AES_128_GCM_SHA256".to_string()]).unwrap();
//! assert_eq!(suites, vec![milagro_tls::CipherSuite::Aes128GcmSha256]);
//! // A missing server-secret file is an error naming the file, not a panic.
//! let e = examples::mpin_acceptor("/nonexistent/ss.json".as_ref(), true).unwrap_err();
//! assert!(e.contains("/nonexistent/ss.json"), "{e}");
//! ```
#![forbid(unsafe_code)]

pub mod cli;

use std::path::Path;
use std::sync::Arc;

use dta_client::files::{CredentialFile, ServerSecretFile};
use milagro_tls::mpin::{MpinAcceptor, MpinClientConfig, MpinConnector, MpinServerConfig};
use milagro_tls::{CipherSuite, HashAlgorithm, NamedGroup};
use mpin_kex::{policy, ServerContext, ServerKey, ServerPolicy};

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

/// An M-Pin acceptor for the server secret in `server_secret` (a D-TA server-secret
/// file, mode 0600). With `require_permits`, clients without a time permit for today are
/// refused. Errors name the file and what is wrong with it.
pub fn mpin_acceptor(server_secret: &Path, require_permits: bool) -> Result<MpinAcceptor, String> {
    let file = ServerSecretFile::load(server_secret).map_err(|e| e.to_string())?;
    let key = ServerKey::new(file.secret().clone())
        .map_err(|e| format!("{}: {e}", server_secret.display()))?;
    let policy = ServerPolicy {
        require_permits,
        ..ServerPolicy::default()
    };
    let config = MpinServerConfig::new(ServerContext::new(key, policy));
    Ok(MpinAcceptor::new(Arc::new(config)))
}

/// An M-Pin connector for the credential in `credential` (a D-TA credential file,
/// mode 0600; today's time permit is used if it holds one) and the PIN in `pin_file`
/// (mode 0600). Errors name the file and what is wrong with it.
pub fn mpin_connector(credential: &Path, pin_file: &Path) -> Result<MpinConnector, String> {
    let file = CredentialFile::load(credential).map_err(|e| e.to_string())?;
    let today = policy::day_of(dta_client::clock::now());
    let credential = file
        .to_credential(today)
        .map_err(|e| format!("{}: {e}", credential.display()))?;
    let pin = dta_client::pin_input::read_pin(Some(pin_file)).map_err(|e| e.to_string())?;
    let config = MpinClientConfig::new(Arc::new(credential), pin);
    Ok(MpinConnector::new(Arc::new(config)))
}
