//! Grants: what the RA signs to authorise one enrolment (see [`crate::ra`] for the RA's key
//! and signed requests). A client grant names a [`HashedId`] (never the plaintext identity),
//! a server grant names a relying server. A D-TA issues a secret share for a grant once
//! (grant ids are recorded) and only before `enrol_until`. A client grant also authorises
//! time permits for its identity for as long as the identity is not revoked: the client
//! keeps it in its credential.

use std::fmt;
use std::path::Path;

use ed25519_dalek::{Signature, VerifyingKey};
use mpin_kex::HashedId;
use serde::{Deserialize, Serialize};

use crate::fsutil;
use crate::ra::{parse_public_key, RaError};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ra::RaKey;

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
}
