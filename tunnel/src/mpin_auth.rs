//! M-Pin authentication for tunnels: [`AuthClient`]/[`AuthServer`] over
//! `milagro_tls::mpin::{MpinConnector, MpinAcceptor}`.
//!
//! The client reads its credential file (dta-lite format, `dta-client`) and builds the day's
//! `mpin_kex::Credential` once per UTC day, at the day's first connection. When the file
//! lists its D-TAs and lacks today's permit, it first fetches permits for today up to the
//! D-TAs' permit horizon (`GET /v1/info`) and saves the file; when it lacks only tomorrow's,
//! it fetches in the background. A failed fetch is logged and retried at a connection at
//! most every [`PERMIT_RETRY`]. The server reads its
//! server-secret file once per (re)load; its lockout and replay stores are shared by every
//! M-Pin service of the process, so a reload does not reset them. Each connection is
//! accepted naming its source prefix (IPv4 address, IPv6 /48, or local:
//! `SourceKey::lockout_bytes`), for the lockout of the pair (identity, source).

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dta_client::files::{CredentialFile, ServerSecretFile};
use globset::{Glob, GlobSetBuilder};
use milagro_state::Revocations;
use milagro_tls::mpin::{
    self, MpinAcceptor, MpinClientConfig, MpinConnector, MpinServerConfig, Peer,
};
use milagro_tls::psk_file::load_psk_secrets;
use milagro_tls::{HashAlgorithm, Options, StaticPskStore};
use mpin_kex::{policy, Pin, ServerContext, ServerKey, ServerPolicy};

use crate::addr::BoxStream;
use crate::auth::{AuthClient, AuthError, AuthServer, BoxFuture, Identity, Method, PeerInfo};
use crate::fleet::Fleet;
use crate::lockout::{LockoutSpec, MAX_LOCKOUT};
use crate::ratelimit::SourceKey;

/// Shortest time between two permit fetches after one failed.
pub const PERMIT_RETRY: Duration = Duration::from_secs(30);

/// A resumption attempt failed: the connection should be retried once, on a new transport
/// (the ticket pool is empty now, so the retry runs M-Pin).
#[derive(Debug, thiserror::Error)]
#[error("session ticket refused: {0}")]
pub struct TicketRefused(String);

/// True when `e` is a [`TicketRefused`] failure.
pub fn is_ticket_refused(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<TicketRefused>())
}

fn other(e: impl std::fmt::Display) -> AuthError {
    AuthError::Mpin(e.to_string())
}

/// The client side: credential file + PIN.
pub struct MpinClient {
    credential: PathBuf,
    pin: Pin,
    options: Options,
    one_pass: bool,
    resume: bool,
    pool: usize,
    cached: Arc<tokio::sync::Mutex<Option<Cached>>>,
}

/// Most session tickets a client tunnel keeps (its pool is sized to its `max_connections`,
/// at least [`milagro_tls::ticket::DEFAULT_CLIENT_POOL`]).
pub const MAX_CLIENT_POOL: usize = 4096;

/// The day's connector; `retry_at`: permits are missing, fetch again after this.
struct Cached {
    day: u32,
    connector: MpinConnector,
    has_today: bool,
    retry_at: Option<Instant>,
    refreshing: bool,
}

impl Cached {
    fn retry_due(&self) -> bool {
        self.retry_at.is_some_and(|t| Instant::now() >= t)
    }
}

impl MpinClient {
    /// Reads the PIN (from `pin_file`, `MILAGRO_PIN` or a prompt) and checks the credential
    /// file. `concurrency` (the service's connection limit) sizes the ticket pool, so that
    /// that many connections opened at once can each resume.
    pub fn new(
        credential: &Path,
        pin_file: Option<&Path>,
        one_pass: bool,
        resume: bool,
        options: &Options,
        concurrency: usize,
    ) -> Result<Self, AuthError> {
        CredentialFile::load(credential).map_err(other)?;
        let pin = dta_client::pin_input::read_pin(pin_file).map_err(other)?;
        Ok(Self {
            credential: credential.to_path_buf(),
            pin,
            options: options.clone(),
            one_pass,
            resume,
            pool: concurrency.clamp(milagro_tls::ticket::DEFAULT_CLIENT_POOL, MAX_CLIENT_POOL),
            cached: Arc::new(tokio::sync::Mutex::new(None)),
        })
    }

    /// The connector for today. Built when the day changes (or, while today's permit is
    /// missing, when a retry is due), fetching permits first when today's is missing; when
    /// only tomorrow's is missing it is fetched in the background, so no connection waits.
    async fn connector(&self) -> io::Result<MpinConnector> {
        let today = policy::day_of(dta_client::clock::now());
        let mut guard = self.cached.lock().await;
        if let Some(c) = guard.as_mut() {
            if c.day == today && (c.has_today || !c.retry_due()) {
                if c.has_today && c.retry_due() {
                    self.spawn_top_up(c);
                }
                return Ok(c.connector.clone());
            }
        }
        let mut file = CredentialFile::load(&self.credential).map_err(io::Error::other)?;
        let mut complete = true;
        if file.permit_for(today).is_none() {
            let held: Vec<u32> = file.permits().iter().map(|p| p.day()).collect();
            tracing::warn!(day = today, held = ?held, file = %self.credential.display(), "no time permit for today in the credential; asking the D-TAs");
            // Without it, try anyway (a server that does not require permits accepts it).
            complete = fetch_permits(&self.credential, &mut file, today).await;
        }
        let has_today = file.permit_for(today).is_some();
        let top_up = has_today
            && !file.dtas.is_empty()
            && file.permit_for(today.saturating_add(1)).is_none();
        let path = self.credential.clone();
        let cred = tokio::task::spawn_blocking(move || file.to_credential(today))
            .await
            .map_err(|_| io::Error::other("credential task failed"))?
            .map_err(|e| io::Error::other(format!("{}: {e}", path.display())))?;
        let mut cfg = MpinClientConfig::new(Arc::new(cred), self.pin.clone());
        cfg.options = self.options.clone();
        cfg.options.resume = self.resume;
        cfg.options.clock = Arc::new(dta_client::clock::now);
        if self.one_pass {
            cfg.mode = mpin::Mode::OnePass;
        }
        let connector = MpinConnector::new(Arc::new(cfg))
            .with_ticket_pool(self.pool)
            .with_handshake_timeout(self.options.handshake_timeout);
        let c = guard.insert(Cached {
            day: today,
            connector: connector.clone(),
            has_today,
            retry_at: (!complete).then(|| Instant::now() + PERMIT_RETRY),
            refreshing: false,
        });
        if top_up {
            self.spawn_top_up(c);
        }
        Ok(connector)
    }

    /// Fetches permits for today to the horizon in the background (today's is held, so this
    /// is for tomorrow's); on failure the next connection after [`PERMIT_RETRY`] tries again.
    fn spawn_top_up(&self, c: &mut Cached) {
        if c.refreshing {
            return;
        }
        c.refreshing = true;
        let (state, path, day) = (self.cached.clone(), self.credential.clone(), c.day);
        tokio::spawn(async move {
            let ok = match CredentialFile::load(&path) {
                Ok(mut file) => fetch_permits(&path, &mut file, day).await,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the credential to fetch permits");
                    false
                }
            };
            let mut guard = state.lock().await;
            if let Some(c) = guard.as_mut().filter(|c| c.day == day) {
                c.refreshing = false;
                c.retry_at = (!ok).then(|| Instant::now() + PERMIT_RETRY);
            }
        });
    }
}

/// Fetches permits for `today` up to the D-TAs' horizon into `file` and saves it at `path`.
/// True when nothing is left to fetch; false (logged) when a D-TA failed or saving failed.
async fn fetch_permits(path: &Path, file: &mut CredentialFile, today: u32) -> bool {
    if file.dtas.is_empty() {
        tracing::warn!(day = today, file = %path.display(), "the credential lists no D-TAs to fetch time permits from");
        return true;
    }
    let have_today = file.permit_for(today).is_some();
    let fetched = async {
        let horizon = dta_client::client::permit_horizon(&file.dtas, None).await?;
        if have_today && horizon < 2 {
            return Ok(0); // tomorrow's permit is not issued yet
        }
        dta_client::client::refresh_permits(file, today, horizon, None).await
    }
    .await;
    match fetched {
        Ok(0) => true,
        Ok(n) => match file.save(path) {
            Ok(()) => {
                tracing::info!(days = n, from_day = today, file = %path.display(), "fetched time permits from the D-TAs");
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "fetched time permits but cannot save the credential; retrying later");
                false
            }
        },
        Err(e) => {
            tracing::warn!(error = %e, retry_in_secs = PERMIT_RETRY.as_secs(), have_today, "could not fetch time permits");
            false
        }
    }
}

impl AuthClient for MpinClient {
    fn connect(&self, io: BoxStream) -> BoxFuture<'_, io::Result<(BoxStream, PeerInfo)>> {
        Box::pin(async move {
            let connector = self.connector().await?;
            // holding a ticket, this attempt resumes; if the server refuses it (spent, another
            // fleet's key, a restart without shared keys) the caller retries once with M-Pin
            let resuming = self.resume && connector.has_ticket();
            let s = connector.connect(io).await.map_err(|e| {
                if resuming {
                    io::Error::new(e.kind(), TicketRefused(e.to_string()))
                } else {
                    e
                }
            })?;
            let info = PeerInfo {
                identity: None,
                suite: s.cipher_suite(),
                group: s.group(),
                method: Method::Mpin,
            };
            Ok((Box::pin(s) as BoxStream, info))
        })
    }
}

/// The server side: server secret, policy (allow-list, permits, lockout), optional static
/// PSKs on the same port; lockouts, replay cache, tickets and revocations from the process's
/// [`Fleet`].
pub struct MpinServer {
    acceptor: MpinAcceptor,
    revocations: Arc<dyn Revocations>,
    config: Arc<MpinServerConfig>,
}

impl MpinServer {
    /// Reads the server secret (and static PSKs) and builds the policy.
    pub fn new(
        server_secret: &Path,
        require_permits: bool,
        allow: &[String],
        psk_secrets: Option<&Path>,
        lockout: &LockoutSpec,
        options: &Options,
        fleet: &Fleet,
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
            distributed_lockout_after: lockout.distributed_after,
            known_source_ttl: lockout.known_ttl(),
            lockout_for: lockout.lasts,
            lockout_max: MAX_LOCKOUT,
            ..ServerPolicy::default()
        };
        let context = ServerContext {
            key: Arc::new(key),
            policy,
            replay: fleet.state.replay_cache(),
            failures: fleet.state.failure_store(),
        };
        let mut cfg = MpinServerConfig::new(context);
        cfg.options = options.clone();
        cfg.options.clock = Arc::new(dta_client::clock::now);
        cfg.tickets = Some(fleet.tickets.clone());
        if let Some(p) = psk_secrets {
            let store: StaticPskStore = load_psk_secrets(p, HashAlgorithm::Sha256)?
                .into_iter()
                .collect();
            cfg.static_psks = Some(Arc::new(store));
        }
        let config = Arc::new(cfg);
        let acceptor =
            MpinAcceptor::new(config.clone()).with_handshake_timeout(options.handshake_timeout);
        Ok(Self {
            acceptor,
            revocations: fleet.state.revocations(),
            config,
        })
    }

    /// The M-Pin settings (for a listener serving devices too, `crate::device_auth`).
    pub fn config(&self) -> Arc<MpinServerConfig> {
        self.config.clone()
    }

    /// The revocation marks its resumptions are checked against (the same for a listener
    /// serving devices too).
    pub fn revocations(&self) -> Arc<dyn Revocations> {
        self.revocations.clone()
    }
}

/// A full login's lockout gate refuses a revoked identity; a resumption runs no gate, so it is
/// checked here, before any byte is forwarded (fail closed: no answer, no entry). Every
/// listener that serves M-Pin (with or without devices) calls it.
pub(crate) fn refuse_revoked_resumption(
    revocations: &dyn Revocations,
    peer: &Peer,
) -> io::Result<()> {
    if let Peer::Mpin {
        resumed: true,
        hashed_id,
        ..
    } = peer
    {
        if revocations.is_revoked(hashed_id) {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "identity revoked (or the shared state does not answer): resumption refused",
            ));
        }
    }
    Ok(())
}

impl AuthServer for MpinServer {
    fn accept(
        &self,
        io: BoxStream,
        source: SourceKey,
    ) -> BoxFuture<'_, io::Result<(BoxStream, PeerInfo)>> {
        Box::pin(async move {
            let (s, peer) = self
                .acceptor
                .accept_from(io, &source.lockout_bytes())
                .await?;
            refuse_revoked_resumption(self.revocations.as_ref(), &peer)?;
            let method = Method::of(&peer);
            let info = PeerInfo {
                identity: Some(Identity::from(peer.identity())),
                suite: s.cipher_suite(),
                group: s.group(),
                method,
            };
            Ok((Box::pin(s) as BoxStream, info))
        })
    }
}
