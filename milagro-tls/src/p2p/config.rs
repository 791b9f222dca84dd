//! Settings of the P2P channel, shared by the sans-IO connections and the tokio adapters.

use std::sync::Arc;

use mpin_kex::policy::IdentityFilter;
use mpin_kex::wcc::{Responder, SenderKey, SenderPermit};

use crate::mpin::MpinServerConfig;
use crate::options::Options;
use crate::psk::PskStore;
use crate::server::ServerConfig;

/// The dialling device: the initiator, TLS client and WCC sender (G1 key).
#[derive(Clone)]
pub struct P2pClientConfig {
    /// This device's identity `IdI`.
    pub identity: Vec<u8>,
    /// Its G1 sender key `s'·H1(IdI)` (zeroized on drop).
    pub key: SenderKey,
    /// Its G1 device permit for the day it dials with (`None`: day 0, no permits; a
    /// responder requiring permits refuses that).
    pub permit: Option<SenderPermit>,
    /// The one device identity `IdR` this connection may reach; a REPLY from any other
    /// identity is refused before any pairing. Must differ from `identity` (Selfie).
    pub peer: Vec<u8>,
    /// What every layer shares, handed to the TLS connection as is: suites (SHA-256 suites
    /// only: the imported PSK is bound to SHA-256), groups, the clock and the handshake
    /// timeout of the whole WCC + TLS handshake ([`P2pConnector`](super::P2pConnector)).
    /// `tickets` and `resume` are ignored: P2P links are not resumed.
    pub options: Options,
}

impl P2pClientConfig {
    /// Dials `peer` as `identity` with `key` (and `permit`); default [`Options`].
    pub fn new(identity: &[u8], key: SenderKey, permit: Option<SenderPermit>, peer: &[u8]) -> Self {
        Self {
            identity: identity.to_vec(),
            key,
            permit,
            peer: peer.to_vec(),
            options: Options::default(),
        }
    }
}

impl std::fmt::Debug for P2pClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("P2pClientConfig")
            .field("identity", &String::from_utf8_lossy(&self.identity))
            .field("peer", &String::from_utf8_lossy(&self.peer))
            .field("permit_day", &self.permit.as_ref().map(SenderPermit::day))
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// Default grace after UTC midnight during which yesterday's device permit is still accepted
/// (as the M-Pin server's `permit_grace_secs`).
pub const DEFAULT_PERMIT_GRACE_SECS: u64 = 3600;

/// One listener's settings: P2P initiators (with a device [`Responder`]), M-Pin clients (with
/// an [`MpinServerConfig`]) and plain TLS-PSK peers, any combination. The first bytes of a
/// connection pick the channel: `MP2P` the P2P channel, `MPIN` the M-Pin channel, `0x16` (a TLS
/// record) a plain TLS handshake; a channel not configured is refused like an unknown protocol.
#[derive(Clone)]
pub struct P2pServerConfig {
    /// This device's receiver side: identity, G2 key and the device permits it accepts
    /// (today's; yesterday's too during the first hour). `None`: no P2P on this listener.
    /// Build a new config (and acceptor) when the permits change.
    pub responder: Option<Arc<Responder>>,
    /// Only initiator identities this accepts may link (default: any device holding a key
    /// for its identity); the glob allow-list of the tunnel goes here, as for M-Pin.
    pub allow: Option<IdentityFilter>,
    /// Accept yesterday's device permit during this many seconds after UTC midnight.
    pub permit_grace_secs: u64,
    /// M-Pin clients on the same listener (`None`: none). With it, connections that start
    /// with a TLS record go to the M-Pin channel as well, which serves its own
    /// [`MpinServerConfig::static_psks`] and session tickets.
    pub mpin: Option<Arc<MpinServerConfig>>,
    /// Plain TLS-PSK peers when there is no `mpin` configuration (with one, set its
    /// `static_psks` instead: one PSK store per listener).
    pub static_psks: Option<Arc<dyn PskStore>>,
    /// What every layer shares, for the P2P and plain PSK handshakes (M-Pin connections use
    /// the M-Pin configuration's): suites, groups, the clock (unix seconds, also for the
    /// permit-day policy) and the handshake timeout of the whole handshake
    /// ([`P2pAcceptor`](super::P2pAcceptor)). `tickets` is ignored: no P2P or plain-PSK
    /// ticket is issued or redeemed here.
    pub options: Options,
}

impl P2pServerConfig {
    /// Accepts P2P initiators with `responder`: any initiator identity, default [`Options`]
    /// and permit grace; no M-Pin, no static PSKs.
    pub fn new(responder: Arc<Responder>) -> Self {
        Self {
            responder: Some(responder),
            ..Self::empty()
        }
    }

    /// Accepts nothing yet (fill in `responder`, `mpin` and/or `static_psks`).
    pub fn empty() -> Self {
        Self {
            responder: None,
            allow: None,
            permit_grace_secs: DEFAULT_PERMIT_GRACE_SECS,
            mpin: None,
            static_psks: None,
            options: Options::default(),
        }
    }

    /// The TLS settings of a P2P or plain PSK handshake: `store` holds the only keys it may
    /// use; no session tickets.
    pub(crate) fn tls(&self, store: Arc<dyn PskStore>) -> Arc<ServerConfig> {
        let mut c = ServerConfig::with_options(store, self.options.clone());
        c.options.tickets = None;
        Arc::new(c)
    }
}

impl std::fmt::Debug for P2pServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("P2pServerConfig")
            .field("responder", &self.responder)
            .field("allow", &self.allow.is_some())
            .field("permit_grace_secs", &self.permit_grace_secs)
            .field("mpin", &self.mpin)
            .field("static_psks", &self.static_psks.is_some())
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}
