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
    /// A device (P2P links): device key shares once (those of [`DeviceKeys`]), then device
    /// permits while not revoked.
    Device,
}

/// Which device keys a device grant allows: a **send** (G1) key lets the device dial, a
/// **receive** (G2) key lets it accept (P2P-SPEC §12–13).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceKeys {
    /// Only the sender key (and sender permits): the device may only dial.
    Send,
    /// Only the receiver key (and receiver permits): the device may only accept.
    Receive,
    /// Both keys: the device may dial and accept.
    Both,
}

impl DeviceKeys {
    /// From the two capabilities; `None` when neither is set.
    pub fn new(send: bool, receive: bool) -> Option<Self> {
        match (send, receive) {
            (true, true) => Some(Self::Both),
            (true, false) => Some(Self::Send),
            (false, true) => Some(Self::Receive),
            (false, false) => None,
        }
    }

    /// Includes the sender key.
    pub fn send(self) -> bool {
        matches!(self, Self::Send | Self::Both)
    }

    /// Includes the receiver key.
    pub fn receive(self) -> bool {
        matches!(self, Self::Receive | Self::Both)
    }

    /// Whether every key of `other` is also in `self`.
    pub fn covers(self, other: DeviceKeys) -> bool {
        (self.send() || !other.send()) && (self.receive() || !other.receive())
    }
}

impl fmt::Display for DeviceKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DeviceKeys::Send => "send",
            DeviceKeys::Receive => "receive",
            DeviceKeys::Both => "both",
        })
    }
}

impl fmt::Display for GrantKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GrantKind::Client => "client",
            GrantKind::Server => "server",
            GrantKind::Device => "device",
        })
    }
}

/// A grant signed by the RA (JSON, see `FORMATS.md`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    /// Format version, 1.
    pub version: u32,
    /// Client, server or device.
    pub kind: GrantKind,
    /// Client and device grants: the hashed identity (96 hex digits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hashed_id: Option<String>,
    /// Server grants: the server's name (1..=128 printable ASCII characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// Device grants: which device keys (required there, refused elsewhere).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_keys: Option<DeviceKeys>,
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
    /// Client, server or device.
    pub kind: GrantKind,
    /// The hashed identity of a client or device grant.
    pub hashed_id: Option<HashedId>,
    /// The server name of a server grant.
    pub server_name: Option<String>,
    /// The keys of a device grant.
    pub device_keys: Option<DeviceKeys>,
    /// The grant id.
    pub grant_id: [u8; 16],
    /// Enrolment deadline.
    pub enrol_until: u64,
}

impl Grant {
    /// The bytes the RA signs (device grants add a last line with their keys; the message of
    /// client and server grants is unchanged).
    pub fn signed_message(&self) -> Vec<u8> {
        let mut m = format!(
            "milagro-dta-grant-v1\n{}\n{}\n{}\n{}\n{}\n{}\n{}",
            self.kind,
            self.hashed_id.as_deref().unwrap_or(""),
            self.server_name.as_deref().unwrap_or(""),
            self.grant_id,
            self.issued_at,
            self.enrol_until,
            self.ra_key
        );
        if let Some(k) = self.device_keys {
            m.push_str(&format!("\n{k}"));
        }
        m.into_bytes()
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
        if self.kind != GrantKind::Device && self.device_keys.is_some() {
            return Err(field("device_keys", "allowed in device grants only"));
        }
        let (hashed_id, server_name) = match self.kind {
            GrantKind::Client | GrantKind::Device => {
                if self.server_name.is_some() {
                    return Err(field(
                        "server_name",
                        "not allowed in a client or device grant",
                    ));
                }
                if self.kind == GrantKind::Device && self.device_keys.is_none() {
                    return Err(field("device_keys", "missing"));
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
            device_keys: self.device_keys,
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

    #[test]
    fn device_grants_sign_their_keys() {
        let ra = RaKey::generate();
        let id = HashedId::of(b"device:a");
        let g = ra.grant_device(&id, DeviceKeys::Send, 100, 60);
        let v = g.verify(&[ra.public()]).unwrap();
        assert_eq!(
            (v.kind, v.hashed_id, v.device_keys),
            (GrantKind::Device, Some(id), Some(DeviceKeys::Send))
        );
        // Widening the keys after signing breaks the signature.
        let mut t = g.clone();
        t.device_keys = Some(DeviceKeys::Both);
        assert!(matches!(
            t.verify(&[ra.public()]),
            Err(RaError::BadGrantSignature)
        ));
        let mut t = g.clone();
        t.device_keys = None;
        assert!(matches!(
            t.verify(&[ra.public()]),
            Err(RaError::GrantField {
                field: "device_keys",
                ..
            })
        ));
        // A device grant relabelled as a client grant does not verify either.
        let mut t = g.clone();
        t.kind = GrantKind::Client;
        assert!(t.verify(&[ra.public()]).is_err());
        let mut c = ra.grant_client(&id, 100, 60);
        c.device_keys = Some(DeviceKeys::Both);
        assert!(matches!(
            c.verify(&[ra.public()]),
            Err(RaError::GrantField {
                field: "device_keys",
                ..
            })
        ));
        let json = serde_json::to_string(&g).unwrap();
        assert!(json.contains(r#""device_keys":"send""#), "{json}");
        assert_eq!(serde_json::from_str::<Grant>(&json).unwrap(), g);
        assert!(DeviceKeys::new(false, false).is_none());
        assert!(DeviceKeys::Both.covers(DeviceKeys::Receive));
        assert!(!DeviceKeys::Send.covers(DeviceKeys::Receive));
        assert!(!DeviceKeys::Send.covers(DeviceKeys::Both));
    }
}
