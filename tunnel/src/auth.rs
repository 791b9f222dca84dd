//! How a service authenticates its TLS side.
//!
//! [`AuthSpec`] is the validated configuration; [`build_client`] and
//! [`build_server`] turn it into an [`AuthClient`] / [`AuthServer`] (files are
//! read at that point, so a reload re-reads them).
//!
//! **M-Pin extension point.** The `Mpin*` variants of [`AuthSpec`] are parsed
//! and validated already; wiring them means implementing [`AuthClient`] over
//! `milagro_tls::mpin::MpinConnector` and [`AuthServer`] over
//! `milagro_tls::mpin::MpinAcceptor` (returning the peer's M-Pin identity in
//! [`PeerInfo::identity`] with [`PeerInfo::method`] = `"mpin"`), and replacing
//! the two `Err(AuthError::NotAvailable(..))` arms below.

use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use milagro_tls::psk_file::{load_psk_secrets, PskFileError};
use milagro_tls::{
    Acceptor, CipherSuite, ClientConfig, Connector, HashAlgorithm, NamedGroup, ServerConfig,
    StaticPskStore, TlsStream,
};

use crate::addr::BoxStream;
use crate::mpin_auth::{MpinClient, MpinServer};
use crate::ratelimit::SourceKey;

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Who is on the other side of an authenticated connection.
#[derive(Clone, Debug, Default)]
pub struct PeerInfo {
    /// The authenticated identity: PSK identity or M-Pin identity (printable).
    pub identity: Option<String>,
    /// Negotiated TLS cipher suite.
    pub suite: Option<CipherSuite>,
    /// Negotiated key-exchange group.
    pub group: Option<NamedGroup>,
    /// `"psk"` or `"mpin"`.
    pub method: &'static str,
}

/// Client side: authenticates an outgoing transport.
pub trait AuthClient: Send + Sync {
    /// Runs the handshake over `io` (the caller bounds it with the handshake
    /// timeout as well).
    fn connect(&self, io: BoxStream) -> BoxFuture<'_, io::Result<(BoxStream, PeerInfo)>>;
}

/// Server side: authenticates an incoming transport.
pub trait AuthServer: Send + Sync {
    /// Runs the handshake over `io`, from `source` (the peer's prefix: the M-Pin server
    /// locks an identity for that source alone after failed proofs with a time permit that
    /// are not attributable to the identity's token).
    fn accept(
        &self,
        io: BoxStream,
        source: SourceKey,
    ) -> BoxFuture<'_, io::Result<(BoxStream, PeerInfo)>>;
}

/// Validated authentication settings of a service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthSpec {
    /// Static external PSK from a stunnel `PSKsecrets` file. A client uses
    /// `identity` (default: the first line), a server accepts every line.
    StaticPsk {
        /// The PSKsecrets file.
        secrets: PathBuf,
        /// Client: the identity to offer.
        identity: Option<String>,
    },
    /// M-Pin client credential (not wired yet).
    MpinClient {
        /// Credential file.
        credential: PathBuf,
        /// File holding the PIN.
        pin_file: Option<PathBuf>,
        /// One-pass instead of multi-pass.
        one_pass: bool,
        /// Resume with session tickets.
        resume: bool,
    },
    /// M-Pin server (not wired yet); may also serve static-PSK peers on the
    /// same port when `psk_secrets` is set.
    MpinServer {
        /// Server secret file.
        server_secret: PathBuf,
        /// Demand time permits.
        require_permits: bool,
        /// Identity globs allowed in (empty: everyone with a valid credential).
        allow: Vec<String>,
        /// Optional static PSKs accepted on the same port.
        psk_secrets: Option<PathBuf>,
        /// Lockout after wrong PINs.
        lockout: crate::lockout::LockoutSpec,
    },
}

/// TLS parameters chosen for a service.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsParams {
    /// Restrict to one cipher suite.
    pub suite: Option<CipherSuite>,
    /// Restrict to one group.
    pub group: Option<NamedGroup>,
    /// Handshake timeout.
    pub handshake_timeout: Duration,
}

impl TlsParams {
    /// The hash static PSKs are bound to (SHA-384 only for the AES-256 suite).
    pub fn hash(&self) -> HashAlgorithm {
        self.suite.map_or(HashAlgorithm::Sha256, CipherSuite::hash)
    }
    /// Cipher suites to offer/accept.
    pub fn suites(&self) -> Vec<CipherSuite> {
        self.suite
            .map_or_else(|| CipherSuite::ALL.to_vec(), |s| vec![s])
    }
    /// Groups to offer/accept.
    pub fn groups(&self) -> Vec<NamedGroup> {
        self.group
            .map_or_else(|| NamedGroup::ALL.to_vec(), |g| vec![g])
    }
}

/// Why authentication could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The PSKsecrets file is unusable (the message names file and line).
    #[error("{0}")]
    PskFile(#[from] PskFileError),
    /// `psk_identity` is not in the file.
    #[error("{file}: no line for PSK identity {identity:?}")]
    UnknownIdentity {
        /// The file.
        file: String,
        /// The identity asked for.
        identity: String,
    },
    /// M-Pin credential, PIN or server-secret problem (the message names the file).
    #[error("{0}")]
    Mpin(String),
    /// A feature that is not wired into this build yet.
    #[error("{0} authentication is not available yet in this build")]
    NotAvailable(&'static str),
}

/// Builds the client side of `spec`.
pub fn build_client(spec: &AuthSpec, tls: &TlsParams) -> Result<Arc<dyn AuthClient>, AuthError> {
    match spec {
        AuthSpec::StaticPsk { secrets, identity } => {
            let psks = load_psk_secrets(secrets, tls.hash())?;
            let psk = match identity {
                Some(id) => psks.into_iter().find(|p| p.identity() == id.as_bytes()),
                None => psks.into_iter().next(),
            }
            .ok_or_else(|| AuthError::UnknownIdentity {
                file: secrets.display().to_string(),
                identity: identity.clone().unwrap_or_default(),
            })?;
            let mut config = ClientConfig::new(psk);
            config.cipher_suites = tls.suites();
            config.groups = tls.groups();
            let connector =
                Connector::new(Arc::new(config)).with_handshake_timeout(tls.handshake_timeout);
            Ok(Arc::new(StaticPskClient { connector }))
        }
        AuthSpec::MpinClient {
            credential,
            pin_file,
            one_pass,
            resume,
        } => Ok(Arc::new(MpinClient::new(
            credential,
            pin_file.as_deref(),
            *one_pass,
            *resume,
            tls,
        )?)),
        AuthSpec::MpinServer { .. } => Err(AuthError::NotAvailable("M-Pin server")),
    }
}

/// Builds the server side of `spec`.
pub fn build_server(spec: &AuthSpec, tls: &TlsParams) -> Result<Arc<dyn AuthServer>, AuthError> {
    match spec {
        AuthSpec::StaticPsk { secrets, .. } => {
            let store: StaticPskStore =
                load_psk_secrets(secrets, tls.hash())?.into_iter().collect();
            let mut config = ServerConfig::new(Arc::new(store));
            config.cipher_suites = tls.suites();
            config.groups = tls.groups();
            let acceptor =
                Acceptor::new(Arc::new(config)).with_handshake_timeout(tls.handshake_timeout);
            Ok(Arc::new(StaticPskServer { acceptor }))
        }
        AuthSpec::MpinServer {
            server_secret,
            require_permits,
            allow,
            psk_secrets,
            lockout,
        } => Ok(Arc::new(MpinServer::new(
            server_secret,
            *require_permits,
            allow,
            psk_secrets.as_deref(),
            lockout,
            tls,
        )?)),
        AuthSpec::MpinClient { .. } => Err(AuthError::NotAvailable("M-Pin client")),
    }
}

/// The peer description of an established TLS-PSK stream.
pub fn tls_peer_info<IO>(s: &TlsStream<IO>) -> PeerInfo {
    PeerInfo {
        identity: s.psk_identity().map(printable),
        suite: s.cipher_suite(),
        group: s.group(),
        method: "psk",
    }
}

/// Identity bytes as a log-safe string (non-printable bytes escaped).
pub fn printable(id: &[u8]) -> String {
    id.escape_ascii().to_string()
}

struct StaticPskClient {
    connector: Connector,
}

impl AuthClient for StaticPskClient {
    fn connect(&self, io: BoxStream) -> BoxFuture<'_, io::Result<(BoxStream, PeerInfo)>> {
        Box::pin(async move {
            let s = self.connector.connect(io).await?;
            let info = tls_peer_info(&s);
            Ok((Box::pin(s) as BoxStream, info))
        })
    }
}

struct StaticPskServer {
    acceptor: Acceptor,
}

impl AuthServer for StaticPskServer {
    fn accept(
        &self,
        io: BoxStream,
        _source: SourceKey,
    ) -> BoxFuture<'_, io::Result<(BoxStream, PeerInfo)>> {
        Box::pin(async move {
            let s = self.acceptor.accept(io).await?;
            let info = tls_peer_info(&s);
            Ok((Box::pin(s) as BoxStream, info))
        })
    }
}
