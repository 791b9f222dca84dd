//! TLS: the D-TA's self-signed certificate, its server configuration, and the client's
//! pinned verifier that accepts exactly one certificate (by SHA-256 fingerprint), no CA.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, ServerConfig, SignatureScheme};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

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

/// The crypto provider (aws-lc-rs).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// SHA-256 of a certificate (what clients pin).
pub fn fingerprint(cert_der: &[u8]) -> [u8; 32] {
    Sha256::digest(cert_der).into()
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

/// A client configuration that trusts exactly the certificate with this SHA-256.
pub fn client_config(pinned: [u8; 32]) -> Result<ClientConfig, TlsError> {
    let provider = provider();
    let mut cfg = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinnedVerifier { pinned, provider }))
        .with_no_client_auth();
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(cfg)
}

/// Accepts exactly one certificate, by SHA-256 fingerprint, then checks the handshake
/// signature with that certificate's key. Names and CAs are not consulted: the pin is the
/// D-TA's identity.
#[derive(Debug)]
pub struct PinnedVerifier {
    pinned: [u8; 32],
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if fingerprint(end_entity.as_ref()) == self.pinned {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_verifier_accepts_only_the_pin() {
        let (cert, key) = self_signed().unwrap();
        assert!(server_config(&cert, &key).is_ok());
        let v = PinnedVerifier {
            pinned: fingerprint(&cert),
            provider: provider(),
        };
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
