//! The Registration Authority (RA): its Ed25519 key, the grants it signs, and the signed
//! requests it sends to D-TAs. D-TAs hold only RA *public* keys.
//!
//! * A **grant** ([`crate::grant`], re-exported here) authorises one enrolment.
//! * A **signed request** (headers `x-ra-*`) is an Ed25519 signature over method, path,
//!   SHA-256 of the body, a timestamp and a nonce; it expires after [`REQUEST_MAX_AGE_SECS`]
//!   and each nonce is accepted once. Revocations use it.

use std::fmt;
use std::path::Path;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use mpin_kex::HashedId;
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::fsutil::{self, FsError};

/// How long a signed request stays valid (seconds, both directions of clock skew).
pub const REQUEST_MAX_AGE_SECS: u64 = 60;

/// Header carrying the RA public key (hex).
pub const H_RA_KEY: &str = "x-ra-key";
/// Header carrying the request timestamp (unix seconds).
pub const H_RA_TIMESTAMP: &str = "x-ra-timestamp";
/// Header carrying the 16-byte request nonce (hex).
pub const H_RA_NONCE: &str = "x-ra-nonce";
/// Header carrying the Ed25519 signature (hex).
pub const H_RA_SIGNATURE: &str = "x-ra-signature";

/// Errors about RA keys, grants and signed requests.
#[derive(Debug, thiserror::Error)]
pub enum RaError {
    /// Reading or writing a file failed.
    #[error(transparent)]
    File(#[from] FsError),
    /// A key file or key string does not parse.
    #[error("{what}: {why}")]
    Key {
        /// Which key (file name or field).
        what: String,
        /// Why.
        why: &'static str,
    },
    /// A grant field is invalid.
    #[error("grant field `{field}`: {why}")]
    GrantField {
        /// The field.
        field: &'static str,
        /// Why.
        why: &'static str,
    },
    /// A grant file does not parse.
    #[error("{file}: not a grant: {why}")]
    GrantFile {
        /// The file.
        file: String,
        /// Why.
        why: String,
    },
    /// The grant was signed by a key this D-TA does not trust.
    #[error("grant signed by an RA key this D-TA does not trust")]
    UntrustedGrant,
    /// The grant signature does not verify.
    #[error("grant signature does not verify")]
    BadGrantSignature,
    /// The grant may no longer be used for enrolment.
    #[error("grant expired at {0} (unix seconds); ask the RA for a new one")]
    GrantExpired(u64),
}

/// Parses a 32-byte Ed25519 public key from hex.
pub fn parse_public_key(hex_str: &str, what: &str) -> Result<VerifyingKey, RaError> {
    let bad = |why| RaError::Key {
        what: what.to_owned(),
        why,
    };
    let bytes = hex::decode(hex_str.trim()).map_err(|_| bad("not hex"))?;
    let arr: [u8; 32] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| bad("an Ed25519 public key is 32 bytes (64 hex digits)"))?;
    VerifyingKey::from_bytes(&arr).map_err(|_| bad("not a valid Ed25519 public key"))
}

/// Parses a 32-byte Ed25519 secret key (seed) from hex.
pub fn parse_signing_key(hex_str: &str, what: &str) -> Result<SigningKey, RaError> {
    let bytes = Zeroizing::new(hex::decode(hex_str.trim()).map_err(|_| RaError::Key {
        what: what.to_owned(),
        why: "not hex",
    })?);
    let arr: Zeroizing<[u8; 32]> =
        Zeroizing::new(bytes.as_slice().try_into().map_err(|_| RaError::Key {
            what: what.to_owned(),
            why: "an Ed25519 secret key is 32 bytes (64 hex digits)",
        })?);
    Ok(SigningKey::from_bytes(&arr))
}

/// The RA's signing key (zeroized on drop, redacted in `Debug`).
pub struct RaKey(SigningKey);

impl fmt::Debug for RaKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RaKey(public {}, <redacted>)", self.public_hex())
    }
}

impl RaKey {
    /// A fresh key.
    pub fn generate() -> Self {
        Self(SigningKey::generate(&mut OsRng))
    }

    /// Wraps an existing key.
    pub fn from_signing_key(key: SigningKey) -> Self {
        Self(key)
    }

    /// The public key.
    pub fn public(&self) -> VerifyingKey {
        self.0.verifying_key()
    }

    /// The public key in hex.
    pub fn public_hex(&self) -> String {
        hex::encode(self.public().as_bytes())
    }

    /// Reads a key file (64 hex digits; mode 0600 required).
    pub fn load(path: &Path) -> Result<Self, RaError> {
        let bytes = fsutil::read_secret(path)?;
        let text = std::str::from_utf8(&bytes).map_err(|_| RaError::Key {
            what: path.display().to_string(),
            why: "not text",
        })?;
        Ok(Self(parse_signing_key(text, &path.display().to_string())?))
    }

    /// Writes the key file (mode 0600, atomically).
    pub fn save(&self, path: &Path) -> Result<(), RaError> {
        let text = Zeroizing::new(format!("{}\n", hex::encode(self.0.to_bytes())));
        Ok(fsutil::write_atomic(
            path,
            text.as_bytes(),
            fsutil::SECRET_MODE,
        )?)
    }

    /// Signs a grant for a client identity (given hashed) valid for enrolment for `valid_secs`.
    pub fn grant_client(&self, id: &HashedId, now: u64, valid_secs: u64) -> Grant {
        self.sign_grant(
            GrantKind::Client,
            Some(hex::encode(id.as_bytes())),
            None,
            None,
            now,
            valid_secs,
        )
    }

    /// Signs a grant for a device identity (given hashed) and its keys, valid for enrolment
    /// for `valid_secs`.
    pub fn grant_device(
        &self,
        id: &HashedId,
        keys: DeviceKeys,
        now: u64,
        valid_secs: u64,
    ) -> Grant {
        self.sign_grant(
            GrantKind::Device,
            Some(hex::encode(id.as_bytes())),
            None,
            Some(keys),
            now,
            valid_secs,
        )
    }

    /// Signs a grant for a relying server's server secret.
    pub fn grant_server(&self, name: &str, now: u64, valid_secs: u64) -> Grant {
        self.sign_grant(
            GrantKind::Server,
            None,
            Some(name.to_owned()),
            None,
            now,
            valid_secs,
        )
    }

    fn sign_grant(
        &self,
        kind: GrantKind,
        hashed_id: Option<String>,
        server_name: Option<String>,
        device_keys: Option<DeviceKeys>,
        now: u64,
        valid_secs: u64,
    ) -> Grant {
        let mut id = [0u8; 16];
        OsRng.fill_bytes(&mut id);
        let mut g = Grant {
            version: 1,
            kind,
            hashed_id,
            server_name,
            device_keys,
            grant_id: hex::encode(id),
            issued_at: now,
            enrol_until: now.saturating_add(valid_secs),
            ra_key: self.public_hex(),
            signature: String::new(),
        };
        g.signature = hex::encode(self.0.sign(&g.signed_message()).to_bytes());
        g
    }

    /// Signs a request: returns the `x-ra-*` headers to send with it.
    pub fn sign_request(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
        now: u64,
    ) -> Vec<(&'static str, String)> {
        let mut nonce = [0u8; 16];
        OsRng.fill_bytes(&mut nonce);
        let nonce = hex::encode(nonce);
        let sig = self
            .0
            .sign(&request_message(method, path, body, now, &nonce));
        vec![
            (H_RA_KEY, self.public_hex()),
            (H_RA_TIMESTAMP, now.to_string()),
            (H_RA_NONCE, nonce),
            (H_RA_SIGNATURE, hex::encode(sig.to_bytes())),
        ]
    }
}

pub use crate::grant::{parse_hashed_id, DeviceKeys, Grant, GrantKind, VerifiedGrant};

/// The bytes an RA signs for a request.
pub fn request_message(
    method: &str,
    path: &str,
    body: &[u8],
    timestamp: u64,
    nonce: &str,
) -> Vec<u8> {
    format!(
        "milagro-dta-request-v1\n{method}\n{path}\n{}\n{timestamp}\n{nonce}",
        hex::encode(Sha256::digest(body))
    )
    .into_bytes()
}

/// Why a signed request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestAuthError {
    /// A header is missing.
    #[error("missing header `{0}` (this request must be signed by the RA)")]
    Missing(&'static str),
    /// A header does not parse.
    #[error("malformed header `{0}`")]
    Malformed(&'static str),
    /// The key is not a trusted RA key.
    #[error("request signed by a key this D-TA does not trust")]
    Untrusted,
    /// The signature does not verify.
    #[error("request signature does not verify")]
    BadSignature,
    /// The timestamp is more than [`REQUEST_MAX_AGE_SECS`] away from the D-TA's clock.
    #[error("request expired or from the future (timestamp {timestamp}, D-TA time {now}, window {REQUEST_MAX_AGE_SECS} s)")]
    Expired {
        /// The request's timestamp.
        timestamp: u64,
        /// The D-TA's time.
        now: u64,
    },
}

/// A signed request that verified; the caller must still check the nonce for replay.
#[derive(Debug, Clone)]
pub struct VerifiedRequest {
    /// The RA key that signed.
    pub key: VerifyingKey,
    /// The nonce.
    pub nonce: [u8; 16],
    /// The timestamp.
    pub timestamp: u64,
}

/// Verifies the `x-ra-*` headers of a request (`header` looks a header up by name).
pub fn verify_request<'a>(
    header: impl Fn(&str) -> Option<&'a str>,
    method: &str,
    path: &str,
    body: &[u8],
    now: u64,
    trusted: &[VerifyingKey],
) -> Result<VerifiedRequest, RequestAuthError> {
    let get = |h: &'static str| header(h).ok_or(RequestAuthError::Missing(h));
    let key = parse_public_key(get(H_RA_KEY)?, H_RA_KEY)
        .map_err(|_| RequestAuthError::Malformed(H_RA_KEY))?;
    let ts_str = get(H_RA_TIMESTAMP)?;
    // Only the canonical decimal form (what is signed is the number, so `+5` or `05` must not
    // pass as `5`).
    let timestamp: u64 = ts_str
        .parse()
        .ok()
        .filter(|t: &u64| t.to_string() == ts_str)
        .ok_or(RequestAuthError::Malformed(H_RA_TIMESTAMP))?;
    let nonce_str = get(H_RA_NONCE)?;
    let nonce: [u8; 16] = hex::decode(nonce_str)
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or(RequestAuthError::Malformed(H_RA_NONCE))?;
    let sig: [u8; 64] = hex::decode(get(H_RA_SIGNATURE)?)
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or(RequestAuthError::Malformed(H_RA_SIGNATURE))?;
    if !trusted.contains(&key) {
        return Err(RequestAuthError::Untrusted);
    }
    key.verify_strict(
        &request_message(method, path, body, timestamp, nonce_str),
        &Signature::from_bytes(&sig),
    )
    .map_err(|_| RequestAuthError::BadSignature)?;
    if now.abs_diff(timestamp) > REQUEST_MAX_AGE_SECS {
        return Err(RequestAuthError::Expired { timestamp, now });
    }
    Ok(VerifiedRequest {
        key,
        nonce,
        timestamp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup<'a>(h: &'a [(&'static str, String)]) -> impl Fn(&str) -> Option<&'a str> + 'a {
        move |name| h.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str())
    }

    #[test]
    fn request_signatures_verify_and_refuse_tampering() {
        let ra = RaKey::generate();
        let trusted = [ra.public()];
        let h = ra.sign_request("POST", "/v1/revocations", b"{}", 1000);
        assert!(
            verify_request(lookup(&h), "POST", "/v1/revocations", b"{}", 1030, &trusted).is_ok()
        );
        let e = verify_request(
            lookup(&h),
            "POST",
            "/v1/revocations",
            b"{ }",
            1030,
            &trusted,
        );
        assert_eq!(e.unwrap_err(), RequestAuthError::BadSignature);
        let e = verify_request(lookup(&h), "POST", "/v1/other", b"{}", 1030, &trusted);
        assert_eq!(e.unwrap_err(), RequestAuthError::BadSignature);
        let e = verify_request(lookup(&h), "POST", "/v1/revocations", b"{}", 1061, &trusted);
        assert!(matches!(e, Err(RequestAuthError::Expired { .. })));
        let e = verify_request(lookup(&h), "POST", "/v1/revocations", b"{}", 939, &trusted);
        assert!(matches!(e, Err(RequestAuthError::Expired { .. })));
        let other = RaKey::generate();
        let e = verify_request(
            lookup(&h),
            "POST",
            "/v1/revocations",
            b"{}",
            1000,
            &[other.public()],
        );
        assert_eq!(e.unwrap_err(), RequestAuthError::Untrusted);
    }

    #[test]
    fn malformed_request_headers() {
        let ra = RaKey::generate();
        let trusted = [ra.public()];
        let good = ra.sign_request("POST", "/p", b"", 5);
        for (i, name) in [H_RA_KEY, H_RA_TIMESTAMP, H_RA_NONCE, H_RA_SIGNATURE]
            .iter()
            .enumerate()
        {
            let mut h = good.clone();
            h.remove(i);
            let e = verify_request(lookup(&h), "POST", "/p", b"", 5, &trusted);
            assert_eq!(e.unwrap_err(), RequestAuthError::Missing(name));
            let mut h = good.clone();
            h[i].1 = "zz".into();
            let e = verify_request(lookup(&h), "POST", "/p", b"", 5, &trusted);
            assert_eq!(e.unwrap_err(), RequestAuthError::Malformed(name));
        }
        // The signed timestamp is a number: only its canonical spelling is accepted.
        let ts = good.iter().position(|(k, _)| *k == H_RA_TIMESTAMP).unwrap();
        for alias in ["+5", "05", " 5"] {
            let mut h = good.clone();
            h[ts].1 = alias.into();
            let e = verify_request(lookup(&h), "POST", "/p", b"", 5, &trusted);
            assert_eq!(
                e.unwrap_err(),
                RequestAuthError::Malformed(H_RA_TIMESTAMP),
                "{alias:?}"
            );
        }
    }

    #[test]
    fn key_files_and_parsers() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("ra.key");
        let k = RaKey::generate();
        k.save(&p).unwrap();
        assert_eq!(RaKey::load(&p).unwrap().public(), k.public());
        assert!(!format!("{k:?}").contains(&hex::encode(k.0.to_bytes())));
        std::fs::write(&p, "abcd").unwrap();
        assert!(RaKey::load(&p).is_err());
        assert!(parse_public_key("zz", "k").is_err());
        assert!(parse_public_key("00", "k").is_err());
        assert!(parse_public_key(&k.public_hex(), "k").is_ok());
        assert!(parse_hashed_id("xyz").is_err());
    }
}
