//! Sealing secrets at rest: a key derived from a passphrase with Argon2id encrypts the
//! plaintext with XChaCha20-Poly1305. The KDF parameters are authenticated as associated data.
//!
//! ```
//! use dta_lite::seal::{open, seal, SealParams};
//! let fast = SealParams { m_cost_kib: 64, t_cost: 1, p_cost: 1 };
//! let sealed = seal(b"master share bytes", b"correct horse", fast)?;
//! assert_eq!(&*open(&sealed, b"correct horse")?, b"master share bytes");
//! assert!(open(&sealed, b"wrong").is_err());
//! # Ok::<(), dta_lite::seal::SealError>(())
//! ```

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealParams {
    /// Memory in KiB.
    pub m_cost_kib: u32,
    /// Passes.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

impl Default for SealParams {
    /// OWASP's Argon2id recommendation: 19 MiB, 2 passes, 1 lane.
    fn default() -> Self {
        Self {
            m_cost_kib: 19 * 1024,
            t_cost: 2,
            p_cost: 1,
        }
    }
}

/// Upper bounds accepted when opening (a doctored file must not exhaust memory or time).
const MAX_M_COST_KIB: u32 = 1 << 21;
const MAX_T_COST: u32 = 64;
const MAX_P_COST: u32 = 16;

/// A sealed secret as stored (JSON, see `FORMATS.md`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Sealed {
    /// Format version, 1.
    pub version: u32,
    /// Always `argon2id`.
    pub kdf: String,
    /// Argon2id memory in KiB.
    pub m_cost_kib: u32,
    /// Argon2id passes.
    pub t_cost: u32,
    /// Argon2id lanes.
    pub p_cost: u32,
    /// 16-byte salt, hex.
    pub salt: String,
    /// 24-byte XChaCha20-Poly1305 nonce, hex.
    pub nonce: String,
    /// Ciphertext and tag, hex.
    pub ciphertext: String,
}

/// Sealing or opening failed.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The KDF parameters are out of range.
    #[error("sealed secret: bad Argon2id parameters: {0}")]
    Params(String),
    /// A field does not parse.
    #[error("sealed secret: field `{field}`: {why}")]
    Field {
        /// The field.
        field: &'static str,
        /// Why.
        why: &'static str,
    },
    /// Authentication failed.
    #[error("cannot open the sealed secret: wrong passphrase, or the file was modified")]
    Open,
    /// Encryption failed (should not happen).
    #[error("sealing failed")]
    Seal,
}

fn aad(m: u32, t: u32, p: u32) -> Vec<u8> {
    format!("dta-lite sealed v1 argon2id m={m} t={t} p={p}").into_bytes()
}

fn derive(
    passphrase: &[u8],
    salt: &[u8],
    m: u32,
    t: u32,
    p: u32,
) -> Result<Zeroizing<[u8; 32]>, SealError> {
    if m > MAX_M_COST_KIB || t > MAX_T_COST || p > MAX_P_COST {
        return Err(SealError::Params(format!(
            "m={m} t={t} p={p} exceed m<={MAX_M_COST_KIB} t<={MAX_T_COST} p<={MAX_P_COST}"
        )));
    }
    let params = Params::new(m, t, p, Some(32)).map_err(|e| SealError::Params(e.to_string()))?;
    let mut key = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(passphrase, salt, &mut *key)
        .map_err(|e| SealError::Params(e.to_string()))?;
    Ok(key)
}

/// Seals `plaintext` under `passphrase`.
pub fn seal(plaintext: &[u8], passphrase: &[u8], params: SealParams) -> Result<Sealed, SealError> {
    let mut salt = [0u8; 16];
    let mut nonce = [0u8; 24];
    OsRng.fill_bytes(&mut salt);
    OsRng.fill_bytes(&mut nonce);
    let (m, t, p) = (params.m_cost_kib, params.t_cost, params.p_cost);
    let key = derive(passphrase, &salt, m, t, p)?;
    let cipher = XChaCha20Poly1305::new(Key::from_slice(&*key));
    let ct = cipher
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad: &aad(m, t, p),
            },
        )
        .map_err(|_| SealError::Seal)?;
    Ok(Sealed {
        version: 1,
        kdf: "argon2id".to_owned(),
        m_cost_kib: m,
        t_cost: t,
        p_cost: p,
        salt: hex::encode(salt),
        nonce: hex::encode(nonce),
        ciphertext: hex::encode(ct),
    })
}

fn hex_field(s: &str, field: &'static str, len: Option<usize>) -> Result<Vec<u8>, SealError> {
    let v = hex::decode(s).map_err(|_| SealError::Field {
        field,
        why: "not hex",
    })?;
    if len.is_some_and(|l| l != v.len()) {
        return Err(SealError::Field {
            field,
            why: "wrong length",
        });
    }
    Ok(v)
}

/// Opens a sealed secret.
pub fn open(sealed: &Sealed, passphrase: &[u8]) -> Result<Zeroizing<Vec<u8>>, SealError> {
    if sealed.version != 1 {
        return Err(SealError::Field {
            field: "version",
            why: "unsupported (expected 1)",
        });
    }
    if sealed.kdf != "argon2id" {
        return Err(SealError::Field {
            field: "kdf",
            why: "unsupported (expected argon2id)",
        });
    }
    let salt = hex_field(&sealed.salt, "salt", Some(16))?;
    let nonce = hex_field(&sealed.nonce, "nonce", Some(24))?;
    let ct = hex_field(&sealed.ciphertext, "ciphertext", None)?;
    let (m, t, p) = (sealed.m_cost_kib, sealed.t_cost, sealed.p_cost);
    let key = derive(passphrase, &salt, m, t, p)?;
    let cipher = XChaCha20Poly1305::new(Key::from_slice(&*key));
    cipher
        .decrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: &ct,
                aad: &aad(m, t, p),
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| SealError::Open)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: SealParams = SealParams {
        m_cost_kib: 64,
        t_cost: 1,
        p_cost: 1,
    };

    #[test]
    fn round_trip_and_wrong_passphrase() {
        let s = seal(b"secret", b"pw", FAST).unwrap();
        assert_eq!(&*open(&s, b"pw").unwrap(), b"secret");
        assert!(matches!(open(&s, b"pW"), Err(SealError::Open)));
        assert!(!serde_json::to_string(&s).unwrap().contains("secret"));
    }

    #[test]
    fn tampered_fields_are_refused() {
        let s = seal(b"secret", b"pw", FAST).unwrap();
        let mut t = s.clone();
        t.t_cost = 2; // parameters are authenticated
        assert!(matches!(open(&t, b"pw"), Err(SealError::Open)));
        let mut t = s.clone();
        t.salt = "zz".into();
        assert!(matches!(
            open(&t, b"pw"),
            Err(SealError::Field { field: "salt", .. })
        ));
        let mut t = s.clone();
        t.nonce = "00".into();
        assert!(matches!(
            open(&t, b"pw"),
            Err(SealError::Field { field: "nonce", .. })
        ));
        let mut t = s.clone();
        t.m_cost_kib = u32::MAX;
        assert!(matches!(open(&t, b"pw"), Err(SealError::Params(_))));
        let mut t = s.clone();
        t.kdf = "scrypt".into();
        assert!(matches!(
            open(&t, b"pw"),
            Err(SealError::Field { field: "kdf", .. })
        ));
        let mut t = s;
        t.ciphertext.replace_range(0..2, "ff");
        t.ciphertext.replace_range(2..4, "00");
        assert!(open(&t, b"pw").is_err());
    }

    #[test]
    fn unknown_json_fields_are_refused() {
        let s = seal(b"x", b"pw", FAST).unwrap();
        let mut v = serde_json::to_value(&s).unwrap();
        v["extra"] = 1.into();
        assert!(serde_json::from_value::<Sealed>(v).is_err());
    }
}
