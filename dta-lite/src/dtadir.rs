//! A D-TA's folder: `dta.json` (public configuration), `secrets.sealed` (master share,
//! response-signing key and TLS key, sealed with the passphrase), `p2p.sealed` (the P2P
//! master share for device keys, sealed the same way with the same passphrase; created by
//! [`init`], added to an older folder by [`add_p2p_share`]) and `dta.redb` (database).

use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use ed25519_dalek::{SigningKey, VerifyingKey};
use mpin_kex::wcc::P2pMasterShare;
use mpin_kex::MasterShare;
use rand_core::OsRng;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::db::{Db, DbError};
use crate::fsutil::{self, FsError};
use crate::ra::{self, RaError};
use crate::seal::{self, SealError, SealParams, Sealed};
use crate::service::Dta;
use crate::tls::{self, TlsError};

/// Public configuration file name.
pub const CONFIG_FILE: &str = "dta.json";
/// Sealed secrets file name.
pub const SEALED_FILE: &str = "secrets.sealed";
/// Sealed P2P master share file name.
pub const P2P_SEALED_FILE: &str = "p2p.sealed";
/// Database file name.
pub const DB_FILE: &str = "dta.redb";

/// Errors about a D-TA folder.
#[derive(Debug, thiserror::Error)]
pub enum DirError {
    /// A file could not be read or written.
    #[error(transparent)]
    Fs(#[from] FsError),
    /// A file does not parse or a field is invalid.
    #[error("{file}: {why}")]
    Invalid {
        /// The file.
        file: String,
        /// Why.
        why: String,
    },
    /// The sealed file cannot be opened.
    #[error("{file}: {source}")]
    Seal {
        /// The file.
        file: String,
        /// Why.
        #[source]
        source: SealError,
    },
    /// The folder already holds a P2P master share.
    #[error("{0}: already holds a P2P master share (refusing to overwrite it)")]
    P2pExists(String),
    /// The folder already holds a D-TA.
    #[error("{0}: already initialised (refusing to overwrite a master share)")]
    Exists(String),
    /// Database error.
    #[error(transparent)]
    Db(#[from] DbError),
    /// TLS error.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// An RA key is invalid.
    #[error(transparent)]
    Ra(#[from] RaError),
}

/// `dta.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Format version, 1.
    pub version: u32,
    /// The D-TA's name (shown in `/v1/info`).
    pub name: String,
    /// Response-signing public key (hex).
    pub signing_key: String,
    /// SHA-256 of the TLS certificate (hex): what clients pin.
    pub fingerprint: String,
    /// The TLS certificate (DER, hex).
    pub tls_cert: String,
    /// Trusted RA public keys (hex).
    pub trusted_ra_keys: Vec<String>,
}

/// The sealed plaintext.
#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
#[serde(deny_unknown_fields)]
struct SecretBundle {
    master_share: String,
    signing_key: String,
    tls_key: String,
}

/// The sealed plaintext of `p2p.sealed`.
#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
#[serde(deny_unknown_fields)]
struct P2pBundle {
    p2p_master_share: String,
}

/// What `init` reports.
#[derive(Debug, Clone)]
pub struct InitSummary {
    /// Certificate fingerprint to pin (hex).
    pub fingerprint: String,
    /// Response-signing public key (hex).
    pub signing_key: String,
}

fn invalid(file: &Path, why: impl Into<String>) -> DirError {
    DirError::Invalid {
        file: file.display().to_string(),
        why: why.into(),
    }
}

/// Creates a new D-TA in `dir` (created with mode 0700 if missing).
pub fn init(
    dir: &Path,
    name: &str,
    ra_keys: &[VerifyingKey],
    passphrase: &[u8],
    params: SealParams,
) -> Result<InitSummary, DirError> {
    if !dir.exists() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|source| FsError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
    }
    if [CONFIG_FILE, SEALED_FILE, P2P_SEALED_FILE]
        .iter()
        .any(|f| dir.join(f).exists())
    {
        return Err(DirError::Exists(dir.display().to_string()));
    }
    let master = MasterShare::generate(&mut OsRng);
    let signing = SigningKey::generate(&mut OsRng);
    let (cert, tls_key) = tls::self_signed()?;
    let bundle = SecretBundle {
        master_share: hex::encode(&*master.to_bytes()),
        signing_key: hex::encode(signing.to_bytes()),
        tls_key: hex::encode(&*tls_key),
    };
    let plain =
        Zeroizing::new(serde_json::to_vec(&bundle).map_err(|e| invalid(dir, e.to_string()))?);
    let sealed_path = dir.join(SEALED_FILE);
    let sealed = seal::seal(&plain, passphrase, params).map_err(|source| DirError::Seal {
        file: sealed_path.display().to_string(),
        source,
    })?;
    let sealed_json =
        serde_json::to_vec_pretty(&sealed).map_err(|e| invalid(&sealed_path, e.to_string()))?;
    fsutil::write_atomic(&sealed_path, &sealed_json, fsutil::SECRET_MODE)?;
    write_p2p_share(dir, passphrase, params)?;
    let config = Config {
        version: 1,
        name: name.to_owned(),
        signing_key: hex::encode(signing.verifying_key().as_bytes()),
        fingerprint: hex::encode(tls::fingerprint(&cert)),
        tls_cert: hex::encode(&cert),
        trusted_ra_keys: ra_keys.iter().map(|k| hex::encode(k.as_bytes())).collect(),
    };
    save_config(dir, &config)?;
    Db::open(&dir.join(DB_FILE))?;
    Ok(InitSummary {
        fingerprint: config.fingerprint,
        signing_key: config.signing_key,
    })
}

/// Seals a fresh P2P master share into `p2p.sealed` (refuses to overwrite one).
fn write_p2p_share(dir: &Path, passphrase: &[u8], params: SealParams) -> Result<(), DirError> {
    let path = dir.join(P2P_SEALED_FILE);
    if path.exists() {
        return Err(DirError::P2pExists(dir.display().to_string()));
    }
    let bundle = P2pBundle {
        p2p_master_share: hex::encode(&*P2pMasterShare::generate(&mut OsRng).to_bytes()),
    };
    let plain =
        Zeroizing::new(serde_json::to_vec(&bundle).map_err(|e| invalid(&path, e.to_string()))?);
    let sealed = seal::seal(&plain, passphrase, params).map_err(|source| DirError::Seal {
        file: path.display().to_string(),
        source,
    })?;
    let json = serde_json::to_vec_pretty(&sealed).map_err(|e| invalid(&path, e.to_string()))?;
    Ok(fsutil::write_atomic(&path, &json, fsutil::SECRET_MODE)?)
}

/// Adds a P2P master share to an existing D-TA folder (one made before device keys
/// existed), sealed with the same passphrase and Argon2id costs as `secrets.sealed`. The
/// passphrase must open `secrets.sealed` (so `serve` can open both); that file and its M-Pin
/// master share are not changed. Refuses a folder that already has a P2P share.
pub fn add_p2p_share(dir: &Path, passphrase: &[u8]) -> Result<(), DirError> {
    if dir.join(P2P_SEALED_FILE).exists() {
        return Err(DirError::P2pExists(dir.display().to_string()));
    }
    load_config(dir)?;
    let (sealed, _) = unseal(&dir.join(SEALED_FILE), passphrase)?;
    let params = SealParams {
        m_cost_kib: sealed.m_cost_kib,
        t_cost: sealed.t_cost,
        p_cost: sealed.p_cost,
    };
    write_p2p_share(dir, passphrase, params)
}

fn unseal(path: &Path, passphrase: &[u8]) -> Result<(Sealed, Zeroizing<Vec<u8>>), DirError> {
    let bytes = fsutil::read_secret(path)?;
    let sealed: Sealed =
        serde_json::from_slice(&bytes).map_err(|e| invalid(path, e.to_string()))?;
    let plain = seal::open(&sealed, passphrase).map_err(|source| DirError::Seal {
        file: path.display().to_string(),
        source,
    })?;
    Ok((sealed, plain))
}

/// Opens `p2p.sealed` if the folder has one.
fn open_p2p_share(dir: &Path, passphrase: &[u8]) -> Result<Option<P2pMasterShare>, DirError> {
    let path = dir.join(P2P_SEALED_FILE);
    if !path.exists() {
        return Ok(None);
    }
    let (_, plain) = unseal(&path, passphrase)?;
    let bundle: P2pBundle = serde_json::from_slice(&plain)
        .map_err(|_| invalid(&path, "sealed contents do not parse"))?;
    let b = Zeroizing::new(
        hex::decode(&bundle.p2p_master_share)
            .map_err(|_| invalid(&path, "field `p2p_master_share`: not hex"))?,
    );
    P2pMasterShare::from_bytes(&b)
        .map(Some)
        .map_err(|e| invalid(&path, format!("field `p2p_master_share`: {e}")))
}

fn save_config(dir: &Path, config: &Config) -> Result<(), DirError> {
    let path = dir.join(CONFIG_FILE);
    let text = serde_json::to_vec_pretty(config).map_err(|e| invalid(&path, e.to_string()))?;
    Ok(fsutil::write_atomic(&path, &text, fsutil::PUBLIC_MODE)?)
}

/// Reads and checks `dta.json`.
pub fn load_config(dir: &Path) -> Result<Config, DirError> {
    let path = dir.join(CONFIG_FILE);
    let bytes = fsutil::read_public(&path)?;
    let c: Config = serde_json::from_slice(&bytes).map_err(|e| invalid(&path, e.to_string()))?;
    if c.version != 1 {
        return Err(invalid(&path, "field `version`: unsupported (expected 1)"));
    }
    for k in &c.trusted_ra_keys {
        ra::parse_public_key(k, &format!("{}: field `trusted_ra_keys`", path.display()))?;
    }
    Ok(c)
}

/// Adds a trusted RA key to `dta.json` (takes effect at the next `serve`).
pub fn trust(dir: &Path, key: &VerifyingKey) -> Result<bool, DirError> {
    let mut c = load_config(dir)?;
    let hex_key = hex::encode(key.as_bytes());
    if c.trusted_ra_keys.contains(&hex_key) {
        return Ok(false);
    }
    c.trusted_ra_keys.push(hex_key);
    save_config(dir, &c)?;
    Ok(true)
}

/// A D-TA opened from its folder, with its TLS certificate and key.
pub struct Opened {
    /// The service.
    pub dta: Dta,
    /// The configuration.
    pub config: Config,
    /// Certificate DER.
    pub tls_cert: Vec<u8>,
    /// PKCS#8 key DER.
    pub tls_key: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened")
            .field("dta", &self.dta)
            .finish_non_exhaustive()
    }
}

/// Opens a D-TA folder with its passphrase (unseals the secrets, opens the database).
pub fn open(dir: &Path, passphrase: &[u8]) -> Result<Opened, DirError> {
    let config = load_config(dir)?;
    let cpath = dir.join(CONFIG_FILE);
    let tls_cert =
        hex::decode(&config.tls_cert).map_err(|_| invalid(&cpath, "field `tls_cert`: not hex"))?;
    if hex::encode(tls::fingerprint(&tls_cert)) != config.fingerprint {
        return Err(invalid(
            &cpath,
            "field `fingerprint` does not match `tls_cert`",
        ));
    }
    let spath = dir.join(SEALED_FILE);
    let (_, plain) = unseal(&spath, passphrase)?;
    let bundle: SecretBundle = serde_json::from_slice(&plain)
        .map_err(|_| invalid(&spath, "sealed contents do not parse"))?;
    let ms = Zeroizing::new(
        hex::decode(&bundle.master_share)
            .map_err(|_| invalid(&spath, "field `master_share`: not hex"))?,
    );
    let master = MasterShare::from_bytes(&ms)
        .map_err(|e| invalid(&spath, format!("field `master_share`: {e}")))?;
    let signing = ra::parse_signing_key(
        &bundle.signing_key,
        &format!("{}: field `signing_key`", spath.display()),
    )?;
    if hex::encode(signing.verifying_key().as_bytes()) != config.signing_key {
        return Err(invalid(
            &cpath,
            "field `signing_key` does not match the sealed signing key",
        ));
    }
    let tls_key = Zeroizing::new(
        hex::decode(&bundle.tls_key).map_err(|_| invalid(&spath, "field `tls_key`: not hex"))?,
    );
    let trusted = config
        .trusted_ra_keys
        .iter()
        .map(|k| ra::parse_public_key(k, "trusted_ra_keys"))
        .collect::<Result<Vec<_>, _>>()?;
    let p2p = open_p2p_share(dir, passphrase)?;
    let db = Db::open(&db_path(dir))?;
    let mut dta = Dta::new(
        config.name.clone(),
        master,
        signing,
        config.fingerprint.clone(),
        trusted,
        db,
    );
    if let Some(p2p) = p2p {
        dta = dta.with_p2p_master(p2p);
    }
    Ok(Opened {
        dta,
        config,
        tls_cert,
        tls_key,
    })
}

/// The database path of a D-TA folder.
pub fn db_path(dir: &Path) -> PathBuf {
    dir.join(DB_FILE)
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
    fn init_open_trust_and_refusals() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("dta");
        let ra = crate::ra::RaKey::generate();
        let s = init(&dir, "one", &[ra.public()], b"pw", FAST).unwrap();
        assert!(matches!(
            init(&dir, "one", &[], b"pw", FAST),
            Err(DirError::Exists(_))
        ));
        assert!(matches!(open(&dir, b"wrong"), Err(DirError::Seal { .. })));
        let o = open(&dir, b"pw").unwrap();
        assert_eq!(o.config.fingerprint, s.fingerprint);
        assert_eq!(o.dta.info().signing_key, s.signing_key);
        assert!(!format!("{o:?}").contains(&o.config.tls_cert));
        drop(o);
        let other = crate::ra::RaKey::generate();
        assert!(trust(&dir, &other.public()).unwrap());
        assert!(!trust(&dir, &other.public()).unwrap());
        assert_eq!(load_config(&dir).unwrap().trusted_ra_keys.len(), 2);
        // The sealed file must not be readable by others.
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir.join(SEALED_FILE), fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            open(&dir, b"pw"),
            Err(DirError::Fs(FsError::Permissive { .. }))
        ));
        fs::set_permissions(dir.join(SEALED_FILE), fs::Permissions::from_mode(0o600)).unwrap();
        // A damaged configuration names the file and field.
        let cfg = fs::read_to_string(dir.join(CONFIG_FILE)).unwrap();
        fs::write(
            dir.join(CONFIG_FILE),
            cfg.replace("\"version\": 1", "\"version\": 2"),
        )
        .unwrap();
        let e = open(&dir, b"pw").unwrap_err().to_string();
        assert!(e.contains("dta.json") && e.contains("version"), "{e}");
        fs::write(dir.join(CONFIG_FILE), "{").unwrap();
        assert!(matches!(load_config(&dir), Err(DirError::Invalid { .. })));
    }

    #[test]
    fn p2p_share_is_created_by_init_and_added_with_the_right_passphrase_only() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("dta");
        let ra = crate::ra::RaKey::generate();
        init(&dir, "t", &[ra.public()], b"pw", FAST).unwrap();
        assert!(dir.join(P2P_SEALED_FILE).exists());
        assert!(matches!(
            add_p2p_share(&dir, b"pw"),
            Err(DirError::P2pExists(_))
        ));
        // An older folder: no P2P share; adding needs the passphrase of `secrets.sealed`.
        fs::remove_file(dir.join(P2P_SEALED_FILE)).unwrap();
        assert!(open(&dir, b"pw").is_ok());
        let sealed = fs::read(dir.join(SEALED_FILE)).unwrap();
        assert!(matches!(
            add_p2p_share(&dir, b"wrong"),
            Err(DirError::Seal { .. })
        ));
        assert!(!dir.join(P2P_SEALED_FILE).exists());
        add_p2p_share(&dir, b"pw").unwrap();
        assert_eq!(fs::read(dir.join(SEALED_FILE)).unwrap(), sealed);
        let p2p: Sealed =
            serde_json::from_slice(&fs::read(dir.join(P2P_SEALED_FILE)).unwrap()).unwrap();
        assert_eq!((p2p.m_cost_kib, p2p.t_cost), (FAST.m_cost_kib, FAST.t_cost));
        assert!(open(&dir, b"pw").is_ok());
        // A damaged P2P share is named, not ignored.
        fs::write(dir.join(P2P_SEALED_FILE), "{").unwrap();
        let e = open(&dir, b"pw").unwrap_err().to_string();
        assert!(e.contains(P2P_SEALED_FILE), "{e}");
    }
}
