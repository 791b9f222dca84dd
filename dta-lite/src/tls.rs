//! TLS on the D-TA's side: its self-signed certificate and its server configuration. The
//! client's pinned verifier lives in `dta_client::tls` (re-exported here).

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::ServerConfig;
use zeroize::Zeroizing;

pub use dta_client::tls::{client_config, fingerprint, provider, PinnedVerifier};

/// TLS setup failed.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// Generating the certificate failed.
    #[error("generating the TLS certificate: {0}")]
    Generate(String),
    /// rustls refused the configuration (e.g. a damaged key).
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
}

/// A fresh ECDSA P-256 key and a self-signed certificate for `localhost` and `127.0.0.1`:
/// `(certificate DER, PKCS#8 key DER)`.
pub fn self_signed() -> Result<(Vec<u8>, Zeroizing<Vec<u8>>), TlsError> {
    let g = |e: rcgen::Error| TlsError::Generate(e.to_string());
    let key = rcgen::KeyPair::generate().map_err(g)?;
    let params =
        rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .map_err(g)?;
    let cert = params.self_signed(&key).map_err(g)?;
    Ok((cert.der().to_vec(), Zeroizing::new(key.serialize_der())))
}

/// The server configuration (TLS 1.3 only, ALPN `http/1.1`).
pub fn server_config(cert_der: &[u8], key_der: &[u8]) -> Result<ServerConfig, TlsError> {
    let mut cfg = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(cert_der.to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_der.to_vec())),
        )?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::client::danger::ServerCertVerifier;
    use rustls::pki_types::{ServerName, UnixTime};

    #[test]
    fn pinned_verifier_accepts_only_the_pin() {
        let (cert, key) = self_signed().unwrap();
        assert!(server_config(&cert, &key).is_ok());
        let v = PinnedVerifier::new(fingerprint(&cert));
        let name = ServerName::try_from("localhost").unwrap();
        let c = CertificateDer::from(cert.clone());
        assert!(v
            .verify_server_cert(&c, &[], &name, &[], UnixTime::now())
            .is_ok());
        let (other, _) = self_signed().unwrap();
        let o = CertificateDer::from(other);
        assert!(v
            .verify_server_cert(&o, &[], &name, &[], UnixTime::now())
            .is_err());
        assert!(server_config(&cert, b"garbage").is_err());
    }
}
