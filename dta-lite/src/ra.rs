//! The Registration Authority (RA): its Ed25519 key, the grants it signs, and the signed
//! requests it sends to D-TAs. D-TAs hold only RA *public* keys.
//!
//! * A **grant** authorises one enrolment: a client grant names a [`HashedId`] (never the
//!   plaintext identity), a server grant names a relying server. A D-TA issues a
//!   client-secret or server-secret share for a grant once (grant ids are recorded) and only
//!   before `enrol_until`. A client grant also authorises time permits for its identity for
//!   as long as the identity is not revoked: the client keeps it in its credential.
//! * A **signed request** (headers `x-ra-*`) is an Ed25519 signature over method, path,
//!   SHA-256 of the body, a timestamp and a nonce; it expires after [`REQUEST_MAX_AGE_SECS`]
//!   and each nonce is accepted once. Revocations use it.

use std::fmt;
use std::path::Path;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use mpin_kex::HashedId;
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
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
            now,
            valid_secs,
        )
    }

    fn sign_grant(
        &self,
        kind: GrantKind,
        hashed_id: Option<String>,
        server_name: Option<String>,
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

/// What a grant authorises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GrantKind {
    /// A client identity: client-secret share once, then time permits.
    Client,
    /// A relying server: server-secret share once.
    Server,
}

impl fmt::Display for GrantKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GrantKind::Client => "client",
            GrantKind::Server => "server",
        })
    }
}

/// A grant signed by the RA (JSON, see `FORMATS.md`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    /// Format version, 1.
    pub version: u32,
    /// Client or server.
    pub kind: GrantKind,
    /// Client grants: the hashed identity (96 hex digits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hashed_id: Option<String>,
    /// Server grants: the server's name (1..=128 printable ASCII characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// 16 random bytes (hex): each D-TA issues a secret share for a grant id once.
    pub grant_id: String,
    /// When the RA signed it (unix seconds).
    pub issued_at: u64,
    /// Last moment a secret share may be issued for it (unix seconds).
    pub enrol_until: u64,
    /// The RA public key that signed it (hex).
    pub ra_key: String,
    /// Ed25519 signature over [`Grant::signed_message`] (hex).
    pub signature: String,
}

/// A grant whose signature verified.
#[derive(Debug, Clone)]
pub struct VerifiedGrant {
    /// Client or server.
    pub kind: GrantKind,
    /// The hashed identity of a client grant.
    pub hashed_id: Option<HashedId>,
    /// The server name of a server grant.
    pub server_name: Option<String>,
    /// The grant id.
    pub grant_id: [u8; 16],
    /// Enrolment deadline.
    pub enrol_until: u64,
}

impl Grant {
    /// The bytes the RA signs.
    pub fn signed_message(&self) -> Vec<u8> {
        format!(
            "milagro-dta-grant-v1\n{}\n{}\n{}\n{}\n{}\n{}\n{}",
            self.kind,
            self.hashed_id.as_deref().unwrap_or(""),
            self.server_name.as_deref().unwrap_or(""),
            self.grant_id,
            self.issued_at,
            self.enrol_until,
            self.ra_key
        )
        .into_bytes()
    }

    /// Checks the fields and the signature against the trusted RA keys (expiry is checked
    /// separately: permits do not expire with the enrolment window).
    pub fn verify(&self, trusted: &[VerifyingKey]) -> Result<VerifiedGrant, RaError> {
        let field = |field, why| RaError::GrantField { field, why };
        if self.version != 1 {
            return Err(field("version", "unsupported (expected 1)"));
        }
        let grant_id: [u8; 16] = hex::decode(&self.grant_id)
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or(field("grant_id", "must be 32 hex digits"))?;
        let (hashed_id, server_name) = match self.kind {
            GrantKind::Client => {
                if self.server_name.is_some() {
                    return Err(field("server_name", "not allowed in a client grant"));
                }
                let h = self
                    .hashed_id
                    .as_deref()
                    .ok_or(field("hashed_id", "missing"))?;
                (
                    Some(parse_hashed_id(h).map_err(|why| field("hashed_id", why))?),
                    None,
                )
            }
            GrantKind::Server => {
                if self.hashed_id.is_some() {
                    return Err(field("hashed_id", "not allowed in a server grant"));
                }
                let n = self
                    .server_name
                    .as_deref()
                    .ok_or(field("server_name", "missing"))?;
                if n.is_empty() || n.len() > 128 || !n.bytes().all(|b| b.is_ascii_graphic()) {
                    return Err(field(
                        "server_name",
                        "must be 1 to 128 printable ASCII characters",
                    ));
                }
                (None, Some(n.to_owned()))
            }
        };
        let key = parse_public_key(&self.ra_key, "grant field `ra_key`")?;
        let sig: [u8; 64] = hex::decode(&self.signature)
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or(field("signature", "must be 128 hex digits"))?;
        if !trusted.contains(&key) {
            return Err(RaError::UntrustedGrant);
        }
        key.verify_strict(&self.signed_message(), &Signature::from_bytes(&sig))
            .map_err(|_| RaError::BadGrantSignature)?;
        Ok(VerifiedGrant {
            kind: self.kind,
            hashed_id,
            server_name,
            grant_id,
            enrol_until: self.enrol_until,
        })
    }

    /// Reads a grant file.
    pub fn load(path: &Path) -> Result<Self, RaError> {
        let bytes = fsutil::read_secret(path)?;
        serde_json::from_slice(&bytes).map_err(|e| RaError::GrantFile {
            file: path.display().to_string(),
            why: e.to_string(),
        })
    }

    /// Writes a grant file (mode 0600: until used it lets its holder enrol).
    pub fn save(&self, path: &Path) -> Result<(), RaError> {
        let text = serde_json::to_string_pretty(self).map_err(|e| RaError::GrantFile {
            file: path.display().to_string(),
            why: e.to_string(),
        })?;
        Ok(fsutil::write_atomic(
            path,
            text.as_bytes(),
            fsutil::SECRET_MODE,
        )?)
    }
}

/// Parses a hashed identity from 96 hex digits.
pub fn parse_hashed_id(hex_str: &str) -> Result<HashedId, &'static str> {
    let bytes = hex::decode(hex_str.trim()).map_err(|_| "not hex")?;
    if bytes.len() != HashedId::LEN {
        return Err("a hashed identity is 48 bytes (96 hex digits)");
    }
    HashedId::from_bytes(&bytes).ok_or("not a hashed identity (must start with 16 zero bytes)")
}

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
    fn grants_verify_and_refuse_tampering() {
        let ra = RaKey::generate();
        let id = HashedId::of(b"alice@example.com");
        let g = ra.grant_client(&id, 100, 60);
        let v = g.verify(&[ra.public()]).unwrap();
        assert_eq!(v.hashed_id, Some(id));
        assert_eq!(v.enrol_until, 160);
        assert!(matches!(g.verify(&[]), Err(RaError::UntrustedGrant)));
        let mut t = g.clone();
        t.hashed_id = Some(hex::encode(HashedId::of(b"mallory").as_bytes()));
        assert!(matches!(
            t.verify(&[ra.public()]),
            Err(RaError::BadGrantSignature)
        ));
        let mut t = g.clone();
        t.enrol_until += 1;
        assert!(matches!(
            t.verify(&[ra.public()]),
            Err(RaError::BadGrantSignature)
        ));
        let mut t = g.clone();
        t.hashed_id = Some("00".into());
        assert!(matches!(
            t.verify(&[ra.public()]),
            Err(RaError::GrantField {
                field: "hashed_id",
                ..
            })
        ));
        let mut t = g.clone();
        t.hashed_id = Some(format!("01{}", &hex::encode(id.as_bytes())[2..]));
        assert!(matches!(
            t.verify(&[ra.public()]),
            Err(RaError::GrantField {
                field: "hashed_id",
                ..
            })
        ));
        let mut t = g.clone();
        t.grant_id = "abc".into();
        assert!(matches!(
            t.verify(&[ra.public()]),
            Err(RaError::GrantField {
                field: "grant_id",
                ..
            })
        ));
        let mut t = g.clone();
        t.signature = "00".into();
        assert!(matches!(
            t.verify(&[ra.public()]),
            Err(RaError::GrantField {
                field: "signature",
                ..
            })
        ));
        let mut t = g.clone();
        t.server_name = Some("x".into());
        assert!(matches!(
            t.verify(&[ra.public()]),
            Err(RaError::GrantField {
                field: "server_name",
                ..
            })
        ));
        let mut t = g;
        t.ra_key = "zz".into();
        assert!(matches!(t.verify(&[ra.public()]), Err(RaError::Key { .. })));
        let s = ra.grant_server("relying-1", 100, 60);
        assert_eq!(
            s.verify(&[ra.public()]).unwrap().server_name.as_deref(),
            Some("relying-1")
        );
        let mut t = ra.grant_server("bad name", 100, 60);
        t.signature = s.signature;
        assert!(matches!(
            t.verify(&[ra.public()]),
            Err(RaError::GrantField {
                field: "server_name",
                ..
            })
        ));
    }

    #[test]
    fn grant_json_never_holds_the_identity_and_refuses_unknown_fields() {
        let ra = RaKey::generate();
        let g = ra.grant_client(&HashedId::of(b"alice@example.com"), 1, 2);
        let json = serde_json::to_string(&g).unwrap();
        assert!(!json.contains("alice"));
        let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
        v["identity"] = "alice".into();
        assert!(serde_json::from_value::<Grant>(v).is_err());
        let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
        v["kind"] = "admin".into();
        assert!(serde_json::from_value::<Grant>(v).is_err());
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
