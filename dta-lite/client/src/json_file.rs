//! What the client's JSON secret files share (`files`, `device_file`): the error for a bad
//! field, the cached-permit entry, the version/identity checks, and load/save with mode 0600.

use std::path::Path;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use crate::endpoint::DtaEndpoint;
use crate::files::FileError;
use crate::fsutil;
use crate::ra::{Grant, GrantKind};

/// The error for field `field` of `file`.
pub(crate) fn field_err(
    file: &Path,
    field: impl Into<String>,
    why: impl Into<String>,
) -> FileError {
    FileError::Field {
        file: file.to_path_buf(),
        field: field.into(),
        why: why.into(),
    }
}

/// One cached permit: its day and its bytes in hex (secret, zeroized on drop).
#[derive(Serialize, Deserialize, Zeroize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PermitJson {
    pub(crate) day: u32,
    pub(crate) permit: String,
}

impl PermitJson {
    /// The entry for the permit of `day` encoded as `bytes`.
    pub(crate) fn new(day: u32, bytes: &[u8]) -> Self {
        Self {
            day,
            permit: hex::encode(bytes),
        }
    }
}

impl Drop for PermitJson {
    fn drop(&mut self) {
        self.permit.zeroize();
    }
}

/// Parses `text` as JSON of a `what` file; a bad shape is [`FileError::Json`] naming `file`.
pub(crate) fn parse<T: DeserializeOwned>(
    text: &[u8],
    file: &Path,
    what: &'static str,
) -> Result<T, FileError> {
    serde_json::from_slice(text).map_err(|e| FileError::Json {
        file: file.to_path_buf(),
        what,
        why: e.to_string(),
    })
}

/// Checks the fields every versioned file with an identity carries.
pub(crate) fn check_header(file: &Path, version: u32, identity: &str) -> Result<(), FileError> {
    check_version(file, version)?;
    if identity.is_empty() || identity.len() > 1024 {
        return Err(field_err(file, "identity", "must be 1 to 1024 bytes"));
    }
    Ok(())
}

/// Checks the file format version is 1.
pub(crate) fn check_version(file: &Path, version: u32) -> Result<(), FileError> {
    if version != 1 {
        return Err(field_err(file, "version", "unsupported (expected 1)"));
    }
    Ok(())
}

/// Reads the secret file at `path` (refused if group or others can read it) and parses it.
pub(crate) fn load<T>(
    path: &Path,
    from_json: impl FnOnce(&[u8], &Path) -> Result<T, FileError>,
) -> Result<T, FileError> {
    let bytes = fsutil::read_secret(path)?;
    from_json(&bytes, path)
}

/// Writes the secret JSON text to `path` atomically with mode 0600.
pub(crate) fn save(path: &Path, json: &Zeroizing<String>) -> Result<(), FileError> {
    Ok(fsutil::write_atomic(
        path,
        json.as_bytes(),
        fsutil::SECRET_MODE,
    )?)
}

/// Checks the D-TA list is non-empty and valid, and that `grant` is a `want` grant for
/// `identity` (`kind_why` is the error for another kind).
pub(crate) fn check_dtas_and_grant(
    file: &Path,
    identity: &str,
    dtas: &[DtaEndpoint],
    grant: &Grant,
    want: GrantKind,
    kind_why: &str,
) -> Result<(), FileError> {
    if dtas.is_empty() {
        return Err(field_err(file, "dtas", "empty"));
    }
    for (i, d) in dtas.iter().enumerate() {
        d.to_string()
            .parse::<DtaEndpoint>()
            .map_err(|e| field_err(file, format!("dtas[{i}]"), e.to_string()))?;
    }
    if grant.kind != want {
        return Err(field_err(file, "grant.kind", kind_why));
    }
    let expected = hex::encode(mpin_kex::HashedId::of(identity.as_bytes()).as_bytes());
    if grant.hashed_id.as_deref() != Some(expected.as_str()) {
        return Err(field_err(
            file,
            "grant.hashed_id",
            "is not the hash of `identity`",
        ));
    }
    Ok(())
}
