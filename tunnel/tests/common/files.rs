//! The tunnel's M-Pin files without a running D-TA: a `test_support::MpinWorld` of three
//! D-TAs and an RA write server-secret and credential files.

use std::path::PathBuf;

use dta_client::files::{CredentialFile, ServerSecretFile};
use dta_client::ra::RaKey;
use mpin_kex::HashedId;
use test_support::{MpinWorld, TempDir};

pub use test_support::today;

/// D-TAs (master shares) and an RA.
pub struct FileWorld {
    pub mpin: MpinWorld,
    pub ra: RaKey,
}

impl FileWorld {
    pub fn new() -> Self {
        Self {
            mpin: MpinWorld::new(3),
            ra: RaKey::generate(),
        }
    }

    /// `server.secret` in `dir`, from this world's D-TAs.
    pub fn server_secret(&self, dir: &TempDir) -> PathBuf {
        let p = dir.path("server.secret");
        ServerSecretFile::new(self.mpin.ss.clone(), "test-server".into(), Vec::new())
            .save(&p)
            .unwrap();
        p
    }

    /// A credential file for `id` with PIN `pin` and a permit for `permit_day` (if any).
    pub fn credential(
        &self,
        dir: &TempDir,
        id: &str,
        pin: u32,
        permit_day: Option<u32>,
    ) -> PathBuf {
        let file = format!("{id}-{pin}-{permit_day:?}");
        self.credential_file(dir, &file, id, pin, permit_day)
    }

    /// A credential for `id` (PIN `pin`) with today's permit, saved as `TAG.credential`.
    pub fn credential_as(&self, dir: &TempDir, tag: &str, id: &str, pin: u32) -> PathBuf {
        self.credential_file(dir, tag, id, pin, Some(today()))
    }

    fn credential_file(
        &self,
        dir: &TempDir,
        tag: &str,
        id: &str,
        pin: u32,
        permit_day: Option<u32>,
    ) -> PathBuf {
        let h = HashedId::of(id.as_bytes());
        let token = self.mpin.token(id.as_bytes(), pin);
        let grant = self
            .ra
            .grant_client(&h, milagro_tls::mpin::system_clock(), 600);
        // A D-TA that is not running: a missing permit cannot be fetched (port 9 is closed).
        let nowhere = dta_client::client::DtaEndpoint {
            url: "https://127.0.0.1:9".into(),
            fingerprint: "00".repeat(32),
            signing_key: "00".repeat(32),
        };
        let mut file = CredentialFile::new(id.into(), token, vec![nowhere], grant);
        if let Some(day) = permit_day {
            file.add_permits(vec![self.mpin.permit(id.as_bytes(), day)], 0);
        }
        let p = dir.path(&format!("{tag}.credential"));
        file.save(&p).unwrap();
        p
    }
}
