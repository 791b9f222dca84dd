//! The client's files (JSON, mode 0600, written atomically; see `FORMATS.md`):
//! [`CredentialFile`] (identity, PIN-less token, D-TAs, grant, cached permits) and
//! [`ServerSecretFile`]. Errors name the file and the field.

use std::fmt;
use std::path::{Path, PathBuf};

use mpin_kex::{Credential, ServerSecret, TimePermit, Token};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use crate::endpoint::DtaEndpoint;
use crate::fsutil::FsError;
use crate::json_file::{self, field_err, PermitJson};
use crate::ra::{Grant, GrantKind};

/// A client file could not be read, parsed or written.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// I/O or permissions.
    #[error(transparent)]
    Fs(#[from] FsError),
    /// Not valid JSON of the expected shape.
    #[error("{}: not a valid {what} file: {why}", file.display())]
    Json {
        /// The file.
        file: PathBuf,
        /// Which kind of file.
        what: &'static str,
        /// Why.
        why: String,
    },
    /// A field is invalid.
    #[error("{}: field `{field}`: {why}", file.display())]
    Field {
        /// The file.
        file: PathBuf,
        /// The field.
        field: String,
        /// Why.
        why: String,
    },
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CredentialJson {
    version: u32,
    identity: String,
    token: String,
    dtas: Vec<DtaEndpoint>,
    grant: Grant,
    #[serde(default)]
    permits: Vec<PermitJson>,
}

impl Drop for CredentialJson {
    fn drop(&mut self) {
        self.token.zeroize();
    }
}

/// A client's credential: identity, PIN-less token, its D-TAs, the grant needed to fetch
/// permits, and cached time permits. Never holds the PIN.
#[derive(Clone)]
pub struct CredentialFile {
    /// The identity (e.g. an e-mail address).
    pub identity: String,
    token: Token,
    /// The D-TAs that issued the secret (all are needed for permits).
    pub dtas: Vec<DtaEndpoint>,
    /// The RA's client grant (authorises permits while not revoked).
    pub grant: Grant,
    permits: Vec<TimePermit>,
}

impl fmt::Debug for CredentialFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialFile")
            .field("identity", &self.identity)
            .field("token", &"<redacted>")
            .field("dtas", &self.dtas.len())
            .field(
                "permit_days",
                &self.permits.iter().map(TimePermit::day).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl CredentialFile {
    /// A credential without permits.
    pub fn new(identity: String, token: Token, dtas: Vec<DtaEndpoint>, grant: Grant) -> Self {
        Self {
            identity,
            token,
            dtas,
            grant,
            permits: Vec::new(),
        }
    }

    /// The token.
    pub fn token(&self) -> &Token {
        &self.token
    }

    /// Cached permits, by day.
    pub fn permits(&self) -> &[TimePermit] {
        &self.permits
    }

    /// The cached permit for `day`.
    pub fn permit_for(&self, day: u32) -> Option<&TimePermit> {
        self.permits.iter().find(|p| p.day() == day)
    }

    /// Adds permits (replacing those for the same days) and drops permits before `keep_from`.
    pub fn add_permits(&mut self, new: Vec<TimePermit>, keep_from: u32) {
        self.permits
            .retain(|p| p.day() >= keep_from && !new.iter().any(|n| n.day() == p.day()));
        self.permits.extend(new);
        self.permits.sort_by_key(TimePermit::day);
    }

    /// The mpin-kex credential for `day` (with that day's permit if cached). Costs two pairings.
    pub fn to_credential(&self, day: u32) -> Result<Credential, mpin_kex::DecodeError> {
        Credential::new(
            self.identity.as_bytes(),
            self.token.clone(),
            self.permit_for(day).cloned(),
        )
    }

    /// The JSON text (secret: it holds the token).
    pub fn to_json(&self) -> Zeroizing<String> {
        let j = CredentialJson {
            version: 1,
            identity: self.identity.clone(),
            token: hex::encode(&*self.token.to_bytes()),
            dtas: self.dtas.clone(),
            grant: self.grant.clone(),
            permits: self
                .permits
                .iter()
                .map(|p| PermitJson::new(p.day(), &p.to_bytes()))
                .collect(),
        };
        Zeroizing::new(serde_json::to_string_pretty(&j).unwrap_or_default())
    }

    /// Parses the JSON text; `file` names the source in errors.
    pub fn from_json(text: &[u8], file: &Path) -> Result<Self, FileError> {
        let j: CredentialJson = json_file::parse(text, file, "credential")?;
        json_file::check_header(file, j.version, &j.identity)?;
        let tb =
            Zeroizing::new(hex::decode(&j.token).map_err(|_| field_err(file, "token", "not hex"))?);
        let token = Token::from_bytes(&tb).map_err(|e| field_err(file, "token", e.to_string()))?;
        json_file::check_dtas_and_grant(
            file,
            &j.identity,
            &j.dtas,
            &j.grant,
            GrantKind::Client,
            "must be a client grant",
        )?;
        let mut permits = Vec::with_capacity(j.permits.len());
        for (i, p) in j.permits.iter().enumerate() {
            let b = Zeroizing::new(
                hex::decode(&p.permit)
                    .map_err(|_| field_err(file, format!("permits[{i}].permit"), "not hex"))?,
            );
            let tp = TimePermit::from_bytes(&b)
                .map_err(|e| field_err(file, format!("permits[{i}].permit"), e.to_string()))?;
            if tp.day() != p.day {
                return Err(field_err(
                    file,
                    format!("permits[{i}].day"),
                    "does not match the permit",
                ));
            }
            permits.push(tp);
        }
        Ok(Self {
            identity: j.identity.clone(),
            token,
            dtas: j.dtas.clone(),
            grant: j.grant.clone(),
            permits,
        })
    }

    /// Reads a credential file (refused if group or others can read it).
    pub fn load(path: &Path) -> Result<Self, FileError> {
        json_file::load(path, Self::from_json)
    }

    /// Writes the credential file atomically with mode 0600.
    pub fn save(&self, path: &Path) -> Result<(), FileError> {
        json_file::save(path, &self.to_json())
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerSecretJson {
    version: u32,
    server_name: String,
    server_secret: String,
    dtas: Vec<DtaEndpoint>,
}

impl Drop for ServerSecretJson {
    fn drop(&mut self) {
        self.server_secret.zeroize();
    }
}

/// A relying server's combined server secret, with the D-TAs that issued it.
#[derive(Clone)]
pub struct ServerSecretFile {
    secret: ServerSecret,
    /// The server name from the grant.
    pub server_name: String,
    /// The D-TAs that issued it.
    pub dtas: Vec<DtaEndpoint>,
}

impl fmt::Debug for ServerSecretFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerSecretFile")
            .field("server_name", &self.server_name)
            .field("secret", &"<redacted>")
            .field("dtas", &self.dtas.len())
            .finish()
    }
}

impl ServerSecretFile {
    /// Wraps a server secret.
    pub fn new(secret: ServerSecret, server_name: String, dtas: Vec<DtaEndpoint>) -> Self {
        Self {
            secret,
            server_name,
            dtas,
        }
    }

    /// The server secret.
    pub fn secret(&self) -> &ServerSecret {
        &self.secret
    }

    /// The JSON text (secret).
    pub fn to_json(&self) -> Zeroizing<String> {
        let j = ServerSecretJson {
            version: 1,
            server_name: self.server_name.clone(),
            server_secret: hex::encode(&*self.secret.to_bytes()),
            dtas: self.dtas.clone(),
        };
        Zeroizing::new(serde_json::to_string_pretty(&j).unwrap_or_default())
    }

    /// Parses the JSON text; `file` names the source in errors.
    pub fn from_json(text: &[u8], file: &Path) -> Result<Self, FileError> {
        let j: ServerSecretJson = json_file::parse(text, file, "server-secret")?;
        json_file::check_version(file, j.version)?;
        let b = Zeroizing::new(
            hex::decode(&j.server_secret)
                .map_err(|_| field_err(file, "server_secret", "not hex"))?,
        );
        let secret = ServerSecret::from_bytes(&b)
            .map_err(|e| field_err(file, "server_secret", e.to_string()))?;
        Ok(Self {
            secret,
            server_name: j.server_name.clone(),
            dtas: j.dtas.clone(),
        })
    }

    /// Reads the file (refused if group or others can read it).
    pub fn load(path: &Path) -> Result<Self, FileError> {
        json_file::load(path, Self::from_json)
    }

    /// Writes the file atomically with mode 0600.
    pub fn save(&self, path: &Path) -> Result<(), FileError> {
        json_file::save(path, &self.to_json())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mpin_kex::{ClientSecret, HashedId, MasterShare, Pin};
    use rand_core::OsRng;
    use std::os::unix::fs::PermissionsExt;

    fn sample() -> (CredentialFile, MasterShare) {
        let m = MasterShare::generate(&mut OsRng);
        let id = HashedId::of(b"alice@example.com");
        let cs = ClientSecret::combine(&[m.client_secret_share(&id)]).unwrap();
        let token =
            Token::extract(&cs, b"alice@example.com", &"1234".parse::<Pin>().unwrap()).unwrap();
        let ra = crate::ra::RaKey::generate();
        let dta = DtaEndpoint {
            url: "https://127.0.0.1:7443".into(),
            fingerprint: "ab".repeat(32),
            signing_key: ra.public_hex(),
        };
        let mut c = CredentialFile::new(
            "alice@example.com".into(),
            token,
            vec![dta],
            ra.grant_client(&id, 1, 2),
        );
        let p = TimePermit::combine(&[m.time_permit_share(&id, 20000).unwrap()]).unwrap();
        c.add_permits(vec![p], 19999);
        (c, m)
    }

    #[test]
    fn credential_round_trip_mode_and_redaction() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("cred.json");
        let (c, _) = sample();
        c.save(&p).unwrap();
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let back = CredentialFile::load(&p).unwrap();
        assert_eq!(back.to_json(), c.to_json());
        assert!(back.permit_for(20000).is_some());
        let token_hex = hex::encode(&*c.token().to_bytes());
        assert!(!format!("{c:?}").contains(&token_hex));
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            CredentialFile::load(&p),
            Err(FileError::Fs(FsError::Permissive { .. }))
        ));
    }

    #[test]
    fn credential_parser_names_bad_fields() {
        let (c, _) = sample();
        let good: serde_json::Value = serde_json::from_str(&c.to_json()).unwrap();
        type Edit = Box<dyn Fn(&mut serde_json::Value)>;
        let cases: Vec<(&str, Edit)> = vec![
            ("token", Box::new(|v| v["token"] = "zz".into())),
            ("token", Box::new(|v| v["token"] = "04".into())),
            ("version", Box::new(|v| v["version"] = 9.into())),
            ("identity", Box::new(|v| v["identity"] = "".into())),
            (
                "grant.hashed_id",
                Box::new(|v| v["identity"] = "bob".into()),
            ),
            ("dtas", Box::new(|v| v["dtas"] = serde_json::json!([]))),
            (
                "dtas[0]",
                Box::new(|v| v["dtas"][0]["fingerprint"] = "00".into()),
            ),
            (
                "permits[0].permit",
                Box::new(|v| v["permits"][0]["permit"] = "00ff".into()),
            ),
            (
                "permits[0].day",
                Box::new(|v| v["permits"][0]["day"] = 3.into()),
            ),
            (
                "not a valid credential",
                Box::new(|v| v["pin"] = "1234".into()),
            ),
            (
                "not a valid credential",
                Box::new(|v| v["token"] = 5.into()),
            ),
        ];
        for (needle, f) in cases {
            let mut v = good.clone();
            f(&mut v);
            let e = CredentialFile::from_json(v.to_string().as_bytes(), Path::new("c.json"))
                .unwrap_err();
            let msg = e.to_string();
            assert!(
                msg.contains("c.json") && msg.contains(needle),
                "{needle}: {msg}"
            );
        }
        assert!(CredentialFile::from_json(b"{", Path::new("c.json")).is_err());
    }

    #[test]
    fn server_secret_file_round_trip_and_errors() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("ss.json");
        let m = MasterShare::generate(&mut OsRng);
        let ss = ServerSecret::combine(&[m.server_secret_share()]).unwrap();
        let f = ServerSecretFile::new(ss, "srv".into(), vec![]);
        f.save(&p).unwrap();
        let back = ServerSecretFile::load(&p).unwrap();
        assert_eq!(back.to_json(), f.to_json());
        assert!(!format!("{f:?}").contains(&hex::encode(&*f.secret().to_bytes())));
        let mut v: serde_json::Value = serde_json::from_str(&f.to_json()).unwrap();
        v["server_secret"] = "00".into();
        let e = ServerSecretFile::from_json(v.to_string().as_bytes(), &p).unwrap_err();
        assert!(e.to_string().contains("server_secret"), "{e}");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o604)).unwrap();
        assert!(ServerSecretFile::load(&p).is_err());
    }
}
