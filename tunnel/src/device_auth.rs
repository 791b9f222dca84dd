//! Device links for tunnels (P2P, WCC identity keys): [`AuthClient`]/[`AuthServer`] over
//! `milagro_tls::p2p::{P2pConnector, P2pAcceptor}`.
//!
//! Both sides read their device credential (`dta_client::device_file`, keys held whole) and
//! build the day's connector / acceptor at the day's first connection. Device permits are
//! fetched like M-Pin time permits: when the file lacks today's permit and lists its D-TAs,
//! permits for today up to the D-TAs' horizon are fetched first and the file is saved; a
//! failed fetch is logged and retried at a connection at most every [`PERMIT_RETRY`]. The
//! accepting side always requires device permits (revocation stops devices the next day)
//! and accepts yesterday's during the first hour of a day.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use dta_client::device_file::DeviceCredentialFile;
use globset::{Glob, GlobSetBuilder};
use milagro_tls::mpin::Peer;
use milagro_tls::p2p::{
    P2pAcceptor, P2pClientConfig, P2pConnector, P2pServerConfig, DEFAULT_PERMIT_GRACE_SECS,
};
use milagro_tls::Options;
use mpin_kex::policy::{self, DAY_SECS};
use mpin_kex::wcc::Responder;

use crate::addr::BoxStream;
use crate::auth::{AuthClient, AuthError, AuthServer, BoxFuture, Identity, Method, PeerInfo};
use crate::mpin_auth::{refuse_revoked_resumption, PERMIT_RETRY};
use crate::ratelimit::SourceKey;

fn other(e: impl std::fmt::Display) -> AuthError {
    AuthError::Mpin(e.to_string())
}

/// A day's handshake driver (connector or acceptor); `retry_at`: today's permit is missing,
/// fetch again after this.
struct Daily<T> {
    day: u32,
    value: T,
    retry_at: Option<Instant>,
}

impl<T: Clone> Daily<T> {
    fn current(slot: &Option<Self>, today: u32) -> Option<T> {
        slot.as_ref()
            .filter(|d| d.day == today && d.retry_at.is_none_or(|t| Instant::now() < t))
            .map(|d| d.value.clone())
    }
}

/// Loads the device credential and, when today's permit (of the kind `has_today` checks) is
/// missing, fetches device permits for today up to the D-TAs' horizon and saves the file.
/// Returns the credential and whether today's permit is held.
async fn load_with_permits(
    path: &Path,
    today: u32,
    has_today: fn(&DeviceCredentialFile, u32) -> bool,
) -> io::Result<(DeviceCredentialFile, bool)> {
    let mut file = DeviceCredentialFile::load(path).map_err(io::Error::other)?;
    if has_today(&file, today) {
        return Ok((file, true));
    }
    if file.dtas.is_empty() {
        tracing::warn!(day = today, file = %path.display(), "no device permit for today and the device credential lists no D-TAs");
        return Ok((file, false));
    }
    tracing::warn!(day = today, file = %path.display(), "no device permit for today in the device credential; asking the D-TAs");
    let fetched = async {
        let horizon = dta_client::client::permit_horizon(&file.dtas, None).await?;
        dta_client::device::refresh_device_permits(&mut file, today, horizon.max(1), None).await
    }
    .await;
    match fetched {
        Ok(n) => match file.save(path) {
            Ok(()) => {
                tracing::info!(days = n, from_day = today, file = %path.display(), "fetched device permits from the D-TAs");
            }
            Err(e) => {
                tracing::warn!(error = %e, "fetched device permits but cannot save the device credential")
            }
        },
        Err(e) => {
            tracing::warn!(error = %e, retry_in_secs = PERMIT_RETRY.as_secs(), "could not fetch device permits");
        }
    }
    let ok = has_today(&file, today);
    Ok((file, ok))
}

/// The dialling device: its credential (sender key, G1) and the one peer it may reach.
pub struct DeviceClient {
    credential: PathBuf,
    peer: String,
    options: Options,
    cached: tokio::sync::Mutex<Option<Daily<P2pConnector>>>,
}

impl DeviceClient {
    /// Checks the credential file: it must hold a sender key and not be for `peer` itself.
    pub fn new(credential: &Path, peer: &str, options: &Options) -> Result<Self, AuthError> {
        let file = DeviceCredentialFile::load(credential).map_err(other)?;
        if file.sender_key().is_none() {
            return Err(other(format!(
                "{}: this device credential holds no sender key, so it cannot dial (enrol with a grant allowing --send)",
                credential.display()
            )));
        }
        if file.identity == peer {
            return Err(other(format!(
                "peer {peer:?} is this device's own identity: a device cannot link to itself"
            )));
        }
        Ok(Self {
            credential: credential.to_path_buf(),
            peer: peer.to_owned(),
            options: options.clone(),
            cached: tokio::sync::Mutex::new(None),
        })
    }

    async fn connector(&self) -> io::Result<P2pConnector> {
        let today = policy::day_of(dta_client::clock::now());
        let mut guard = self.cached.lock().await;
        if let Some(c) = Daily::current(&guard, today) {
            return Ok(c);
        }
        let (file, has_today) = load_with_permits(&self.credential, today, |f, d| {
            f.sender_permit_for(d).is_some()
        })
        .await?;
        let key = file
            .sender_key()
            .ok_or_else(|| io::Error::other("the device credential lost its sender key"))?;
        let mut cfg = P2pClientConfig::new(
            file.identity.as_bytes(),
            key.clone(),
            file.sender_permit_for(today).cloned(),
            self.peer.as_bytes(),
        );
        cfg.options = self.options.clone();
        cfg.options.clock = Arc::new(dta_client::clock::now);
        let connector =
            P2pConnector::new(Arc::new(cfg)).with_handshake_timeout(self.options.handshake_timeout);
        *guard = Some(Daily {
            day: today,
            value: connector.clone(),
            retry_at: (!has_today).then(|| Instant::now() + PERMIT_RETRY),
        });
        Ok(connector)
    }
}

/// Both identities of a link, `initiator->responder`.
fn link_info(peer: &Peer) -> Option<Identity> {
    match peer {
        Peer::P2p {
            initiator,
            responder,
            ..
        } => Some(Identity::link(initiator, responder)),
        _ => None,
    }
}

impl AuthClient for DeviceClient {
    fn connect(&self, io: BoxStream) -> BoxFuture<'_, io::Result<(BoxStream, PeerInfo)>> {
        Box::pin(async move {
            let connector = self.connector().await?;
            let (s, peer) = connector.connect(io).await?;
            let info = PeerInfo {
                identity: link_info(&peer),
                suite: s.cipher_suite(),
                group: s.group(),
                method: Method::P2p,
            };
            Ok((Box::pin(s) as BoxStream, info))
        })
    }
}

/// The accepting device: its credential (receiver key, G2), the allow-list, and what else
/// the listener serves (M-Pin clients, static-PSK peers).
pub struct DeviceServer {
    credential: PathBuf,
    base: P2pServerConfig,
    handshake_timeout: std::time::Duration,
    cached: tokio::sync::Mutex<Option<Daily<P2pAcceptor>>>,
    /// With M-Pin on the same listener: the revocation marks its resumptions are checked
    /// against, as on an M-Pin-only listener.
    revocations: Option<Arc<dyn milagro_state::Revocations>>,
}

impl DeviceServer {
    /// Checks the credential (it must hold a receiver key) and builds the allow-list; `base`
    /// carries the M-Pin / static-PSK settings of the same listener.
    pub fn new(
        credential: &Path,
        allow: &[String],
        mut base: P2pServerConfig,
        options: &Options,
    ) -> Result<Self, AuthError> {
        let file = DeviceCredentialFile::load(credential).map_err(other)?;
        if file.receiver_key().is_none() {
            return Err(other(format!(
                "{}: this device credential holds no receiver key, so it cannot accept links (enrol with a grant allowing --receive)",
                credential.display()
            )));
        }
        if !allow.is_empty() {
            let mut b = GlobSetBuilder::new();
            for g in allow {
                b.add(Glob::new(g).map_err(|e| other(format!("allow glob {g:?}: {e}")))?);
            }
            let set = b.build().map_err(other)?;
            base.allow = Some(Arc::new(move |id: &[u8]| {
                std::str::from_utf8(id).is_ok_and(|s| set.is_match(s))
            }));
        }
        base.options = options.clone();
        base.options.clock = Arc::new(dta_client::clock::now);
        base.permit_grace_secs = DEFAULT_PERMIT_GRACE_SECS;
        Ok(Self {
            credential: credential.to_path_buf(),
            base,
            handshake_timeout: options.handshake_timeout,
            cached: tokio::sync::Mutex::new(None),
            revocations: None,
        })
    }

    /// Checks the M-Pin resumptions this listener serves against `revocations` (see
    /// [`crate::mpin_auth`]); without it only devices and static-PSK peers may be served.
    pub fn with_revocations(mut self, revocations: Arc<dyn milagro_state::Revocations>) -> Self {
        self.revocations = Some(revocations);
        self
    }

    async fn acceptor(&self) -> io::Result<P2pAcceptor> {
        let now = dta_client::clock::now();
        let today = policy::day_of(now);
        let mut guard = self.cached.lock().await;
        if let Some(a) = Daily::current(&guard, today) {
            return Ok(a);
        }
        let (file, has_today) = load_with_permits(&self.credential, today, |f, d| {
            f.receiver_permit_for(d).is_some()
        })
        .await?;
        let key = file
            .receiver_key()
            .ok_or_else(|| io::Error::other("the device credential lost its receiver key"))?;
        // today's permit, and yesterday's while its grace lasts
        let in_grace = now % DAY_SECS < self.base.permit_grace_secs;
        let permits: Vec<_> = file
            .receiver_permits()
            .iter()
            .filter(|p| p.day() == today || (in_grace && p.day().saturating_add(1) == today))
            .cloned()
            .collect();
        let responder = Responder::new(file.identity.as_bytes(), key)
            .and_then(|r| r.with_permits(&permits, true))
            .map_err(|e| io::Error::other(format!("{}: {e}", self.credential.display())))?;
        let mut cfg = self.base.clone();
        cfg.responder = Some(Arc::new(responder));
        let acceptor =
            P2pAcceptor::new(Arc::new(cfg)).with_handshake_timeout(self.handshake_timeout);
        // rebuild when the grace hour ends, too
        let retry_at = (!has_today || in_grace).then(|| Instant::now() + PERMIT_RETRY);
        *guard = Some(Daily {
            day: today,
            value: acceptor.clone(),
            retry_at,
        });
        Ok(acceptor)
    }
}

impl AuthServer for DeviceServer {
    fn accept(
        &self,
        io: BoxStream,
        source: SourceKey,
    ) -> BoxFuture<'_, io::Result<(BoxStream, PeerInfo)>> {
        Box::pin(async move {
            let acceptor = self.acceptor().await?;
            let (s, peer) = acceptor.accept_from(io, &source.lockout_bytes()).await?;
            if let Some(revocations) = &self.revocations {
                refuse_revoked_resumption(revocations.as_ref(), &peer)?;
            }
            let method = Method::of(&peer);
            let info = PeerInfo {
                identity: link_info(&peer).or_else(|| Some(Identity::from(peer.identity()))),
                suite: s.cipher_suite(),
                group: s.group(),
                method,
            };
            Ok((Box::pin(s) as BoxStream, info))
        })
    }
}
