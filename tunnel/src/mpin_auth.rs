//! M-Pin authentication for tunnels: [`AuthClient`]/[`AuthServer`] over
//! `milagro_tls::mpin::{MpinConnector, MpinAcceptor}`.
//!
//! The client reads its credential file (dta-lite format) and builds the day's
//! `mpin_kex::Credential` once per UTC day; when the file holds no permit for today and lists
//! its D-TAs, it fetches a week of permits from them and saves the file. The server reads its
//! server-secret file once per (re)load; its lockout and replay stores are shared by every
//! M-Pin service of the process, so a reload does not reset them.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use dta_lite::files::{CredentialFile, ServerSecretFile};
use globset::{Glob, GlobSetBuilder};
use milagro_tls::mpin::{
    self, MpinAcceptor, MpinClientConfig, MpinConnector, MpinServerConfig, Peer,
};
use milagro_tls::psk_file::load_psk_secrets;
use milagro_tls::{HashAlgorithm, StaticPskStore};
use mpin_kex::{
    policy, FailureStore, MemoryFailureStore, MemoryReplayCache, Pin, ReplayCache, ServerContext,
    ServerKey, ServerPolicy,
};

use crate::addr::BoxStream;
use crate::auth::{printable, AuthClient, AuthError, AuthServer, BoxFuture, PeerInfo, TlsParams};
use crate::lockout::{LockoutSpec, MAX_LOCKOUT};

/// Days of permits fetched at once when the credential has none for today.
pub const PERMIT_DAYS: u32 = 7;

fn other(e: impl std::fmt::Display) -> AuthError {
    AuthError::Mpin(e.to_string())
}

/// The client side: credential file + PIN.
pub struct MpinClient {
    credential: PathBuf,
    pin: Pin,
    tls: TlsParams,
    one_pass: bool,
    resume: bool,
    cached: Mutex<Option<(u32, MpinConnector)>>,
}

impl MpinClient {
    /// Reads the PIN (from `pin_file`, `MILAGRO_PIN` or a prompt) and checks the credential file.
    pub fn new(
        credential: &Path,
        pin_file: Option<&Path>,
        one_pass: bool,
        resume: bool,
        tls: &TlsParams,
    ) -> Result<Self, AuthError> {
        CredentialFile::load(credential).map_err(other)?;
        let pin = dta_lite::pin_input::read_pin(pin_file).map_err(other)?;
        Ok(Self {
            credential: credential.to_path_buf(),
            pin,
            tls: tls.clone(),
            one_pass,
            resume,
            cached: Mutex::new(None),
        })
    }

    /// The connector for today, building it (and fetching permits) when the day changed.
    async fn connector(&self) -> io::Result<MpinConnector> {
        let today = policy::day_of(mpin::system_clock());
        if let Ok(guard) = self.cached.lock() {
            if let Some((day, c)) = guard.as_ref() {
                if *day == today {
                    return Ok(c.clone());
                }
            }
        }
        let mut file = CredentialFile::load(&self.credential).map_err(io::Error::other)?;
        if file.permit_for(today).is_none() {
            let held: Vec<u32> = file.permits().iter().map(|p| p.day()).collect();
            tracing::warn!(day = today, held = ?held, file = %self.credential.display(), "no time permit for today in the credential; asking the D-TAs");
        }
        if file.permit_for(today).is_none() && !file.dtas.is_empty() {
            match dta_lite::client::refresh_permits(&mut file, today, PERMIT_DAYS, None).await {
                Ok(n) => {
                    file.save(&self.credential).map_err(io::Error::other)?;
                    tracing::info!(days = n, file = %self.credential.display(), "fetched time permits from the D-TAs");
                }
                // No permit: try anyway (a server that does not require permits accepts it),
                // and say why it is missing.
                Err(e) => tracing::warn!(error = %e, "could not fetch today's time permit"),
            }
        }
        let path = self.credential.clone();
        let cred = tokio::task::spawn_blocking(move || file.to_credential(today))
            .await
            .map_err(|_| io::Error::other("credential task failed"))?
            .map_err(|e| io::Error::other(format!("{}: {e}", path.display())))?;
        let mut cfg = MpinClientConfig::new(Arc::new(cred), self.pin.clone());
        cfg.cipher_suites = self.tls.suites();
        cfg.groups = self.tls.groups();
        cfg.resume = self.resume;
        if self.one_pass {
            cfg.mode = mpin::Mode::OnePass;
        }
        let c =
            MpinConnector::new(Arc::new(cfg)).with_handshake_timeout(self.tls.handshake_timeout);
        if let Ok(mut guard) = self.cached.lock() {
            *guard = Some((today, c.clone()));
        }
        Ok(c)
    }
}

impl AuthClient for MpinClient {
    fn connect(&self, io: BoxStream) -> BoxFuture<'_, io::Result<(BoxStream, PeerInfo)>> {
        Box::pin(async move {
            let connector = self.connector().await?;
            let s = connector.connect(io).await?;
            let info = PeerInfo {
                identity: None,
                suite: s.cipher_suite(),
                group: s.group(),
                method: "mpin",
            };
            Ok((Box::pin(s) as BoxStream, info))
        })
    }
}

fn shared_stores() -> (Arc<dyn ReplayCache>, Arc<dyn FailureStore>) {
    static STORES: OnceLock<(Arc<MemoryReplayCache>, Arc<MemoryFailureStore>)> = OnceLock::new();
    let (r, f) = STORES.get_or_init(|| {
        (
            Arc::new(MemoryReplayCache::default()),
            Arc::new(MemoryFailureStore::default()),
        )
    });
    (r.clone(), f.clone())
}

/// The server side: server secret, policy (allow-list, permits, lockout), optional static
/// PSKs on the same port.
pub struct MpinServer {
    acceptor: MpinAcceptor,
}

impl MpinServer {
    /// Reads the server secret (and static PSKs) and builds the policy.
    pub fn new(
        server_secret: &Path,
        require_permits: bool,
        allow: &[String],
        psk_secrets: Option<&Path>,
        lockout: &LockoutSpec,
        tls: &TlsParams,
    ) -> Result<Self, AuthError> {
        let file = ServerSecretFile::load(server_secret).map_err(other)?;
        let key = ServerKey::new(file.secret().clone())
            .map_err(|e| other(format!("{}: {e}", server_secret.display())))?;
        let identity_filter = if allow.is_empty() {
            None
        } else {
            let mut b = GlobSetBuilder::new();
            for g in allow {
                b.add(Glob::new(g).map_err(|e| other(format!("allow glob {g:?}: {e}")))?);
            }
            let set = b.build().map_err(other)?;
            let f: policy::IdentityFilter =
                Arc::new(move |id: &[u8]| std::str::from_utf8(id).is_ok_and(|s| set.is_match(s)));
            Some(f)
        };
        let policy = ServerPolicy {
            require_permits,
            identity_filter,
            lockout_after: lockout.after,
            lockout_for: lockout.lasts,
            lockout_max: MAX_LOCKOUT,
            ..ServerPolicy::default()
        };
        let (replay, failures) = shared_stores();
        let context = ServerContext {
            key: Arc::new(key),
            policy,
            replay,
            failures,
        };
        let mut cfg = MpinServerConfig::new(context);
        cfg.cipher_suites = tls.suites();
        cfg.groups = tls.groups();
        if let Some(p) = psk_secrets {
            let store: StaticPskStore = load_psk_secrets(p, HashAlgorithm::Sha256)?
                .into_iter()
                .collect();
            cfg.static_psks = Some(Arc::new(store));
        }
        let acceptor =
            MpinAcceptor::new(Arc::new(cfg)).with_handshake_timeout(tls.handshake_timeout);
        Ok(Self { acceptor })
    }
}

impl AuthServer for MpinServer {
    fn accept(&self, io: BoxStream) -> BoxFuture<'_, io::Result<(BoxStream, PeerInfo)>> {
        Box::pin(async move {
            let (s, peer) = self.acceptor.accept(io).await?;
            let method = match peer {
                Peer::Mpin { resumed: true, .. } => "mpin-resumed",
                Peer::Mpin { .. } => "mpin",
                Peer::Psk { .. } => "psk",
            };
            let info = PeerInfo {
                identity: Some(printable(peer.identity())),
                suite: s.cipher_suite(),
                group: s.group(),
                method,
            };
            Ok((Box::pin(s) as BoxStream, info))
        })
    }
}
