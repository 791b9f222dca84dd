//! How a service authenticates its TLS side.
//!
//! The validated settings are [`ClientAuth`] / [`ServerAuth`] (in
//! [`crate::config::AuthSpec`]); [`build_client`] and [`build_server`] turn them, with the
//! service's [`Options`], into an [`AuthClient`] / [`AuthServer`] (files are read at that
//! point, so a reload re-reads them). The M-Pin variants are implemented in
//! `mpin_auth.rs`.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;

use milagro_tls::psk_file::{load_psk_secrets, PskFileError};
use milagro_tls::{
    Acceptor, CipherSuite, ClientConfig, Connector, HashAlgorithm, NamedGroup, Options,
    ServerConfig, StaticPskStore, TlsStream,
};

use crate::addr::BoxStream;
use crate::config::{ClientAuth, ServerAuth};
use crate::device_auth::{DeviceClient, DeviceServer};
use crate::fleet::Fleet;
use crate::mpin_auth::{MpinClient, MpinServer};
use crate::ratelimit::SourceKey;

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Who is on the other side of an authenticated connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerInfo {
    /// The authenticated identity: PSK identity or M-Pin identity (`None` on the client side
    /// of M-Pin, which proves its own identity and learns none).
    pub identity: Option<Identity>,
    /// Negotiated TLS cipher suite.
    pub suite: Option<CipherSuite>,
    /// Negotiated key-exchange group.
    pub group: Option<NamedGroup>,
    /// How the peer was authenticated.
    pub method: Method,
}

/// How a connection was authenticated; logged as `method=…` with [`Method::name`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// TLS 1.3 with a static external PSK (`psk`).
    Psk,
    /// An M-Pin Full run, then TLS with the imported PSK (`mpin`).
    Mpin,
    /// A TLS resumption with a ticket from an earlier M-Pin handshake (`mpin-resumed`).
    MpinResumed,
    /// A device link (WCC, `p2p`); the identity is then both, `initiator->responder`.
    P2p,
}

impl Method {
    /// The name in logs: `psk`, `mpin`, `mpin-resumed` or `p2p`.
    pub fn name(self) -> &'static str {
        match self {
            Method::Psk => "psk",
            Method::Mpin => "mpin",
            Method::MpinResumed => "mpin-resumed",
            Method::P2p => "p2p",
        }
    }
}

impl Method {
    /// How the M-Pin channel authenticated `peer` (M-Pin, its resumption, static PSK or a
    /// device link).
    pub fn of(peer: &milagro_tls::mpin::Peer) -> Self {
        use milagro_tls::mpin::Peer;
        match peer {
            Peer::Mpin { resumed: true, .. } => Method::MpinResumed,
            Peer::Mpin { .. } => Method::Mpin,
            Peer::Psk { .. } => Method::Psk,
            Peer::P2p { .. } => Method::P2p,
        }
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// An authenticated identity (PSK identity or M-Pin identity) as the peer sent it: any bytes.
/// [`Display`](std::fmt::Display) escapes non-printable bytes (`\n`, `\xff`, …), so an
/// identity can never forge a log line or a terminal escape.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Identity(Vec<u8>);

impl Identity {
    /// The identity's bytes, unescaped.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl Identity {
    /// Both ends of a device link, `initiator->responder`.
    pub fn link(initiator: &[u8], responder: &[u8]) -> Self {
        Identity([initiator, b"->", responder].concat())
    }
}

impl From<&[u8]> for Identity {
    fn from(bytes: &[u8]) -> Self {
        Identity(bytes.to_vec())
    }
}

impl std::fmt::Display for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0.escape_ascii())
    }
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

/// The hash static PSKs are bound to: SHA-384 only when the service is restricted to the
/// AES-256 suite.
fn psk_hash(options: &Options) -> HashAlgorithm {
    options
        .single_suite()
        .map_or(HashAlgorithm::Sha256, CipherSuite::hash)
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
}

/// Builds the client side of `spec` with `options`; `concurrency` (the connection limit)
/// sizes an M-Pin client's ticket pool.
pub fn build_client(
    spec: &ClientAuth,
    options: &Options,
    concurrency: usize,
) -> Result<Arc<dyn AuthClient>, AuthError> {
    match spec {
        ClientAuth::Psk { secrets, identity } => {
            let psks = load_psk_secrets(secrets, psk_hash(options))?;
            let psk = match identity {
                Some(id) => psks.into_iter().find(|p| p.identity() == id.as_bytes()),
                None => psks.into_iter().next(),
            }
            .ok_or_else(|| AuthError::UnknownIdentity {
                file: secrets.display().to_string(),
                identity: identity.clone().unwrap_or_default(),
            })?;
            let config = ClientConfig::with_options(psk, options.clone());
            let connector = Connector::new(Arc::new(config));
            Ok(Arc::new(StaticPskClient { connector }))
        }
        ClientAuth::Mpin {
            credential,
            pin_file,
            one_pass,
            resume,
        } => Ok(Arc::new(MpinClient::new(
            credential,
            pin_file.as_deref(),
            *one_pass,
            *resume,
            options,
            concurrency,
        )?)),
        ClientAuth::Device { credential, peer } => {
            Ok(Arc::new(DeviceClient::new(credential, peer, options)?))
        }
    }
}

/// Builds the server side of `spec` with `options`; an M-Pin server decides with `fleet`.
pub fn build_server(
    spec: &ServerAuth,
    options: &Options,
    fleet: &Fleet,
) -> Result<Arc<dyn AuthServer>, AuthError> {
    match spec {
        ServerAuth::Psk { secrets } => {
            let store: StaticPskStore = load_psk_secrets(secrets, psk_hash(options))?
                .into_iter()
                .collect();
            let config = ServerConfig::with_options(Arc::new(store), options.clone());
            let acceptor = Acceptor::new(Arc::new(config));
            Ok(Arc::new(StaticPskServer { acceptor }))
        }
        ServerAuth::Mpin {
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
            options,
            fleet,
        )?)),
        ServerAuth::Device {
            credential,
            allow,
            also,
        } => {
            let mut base = milagro_tls::p2p::P2pServerConfig::empty();
            let mut revocations = None;
            match also.as_deref() {
                Some(ServerAuth::Psk { secrets }) => {
                    let store: StaticPskStore = load_psk_secrets(secrets, psk_hash(options))?
                        .into_iter()
                        .collect();
                    base.static_psks = Some(Arc::new(store));
                }
                Some(ServerAuth::Mpin {
                    server_secret,
                    require_permits,
                    allow,
                    psk_secrets,
                    lockout,
                }) => {
                    let server = MpinServer::new(
                        server_secret,
                        *require_permits,
                        allow,
                        psk_secrets.as_deref(),
                        lockout,
                        options,
                        fleet,
                    )?;
                    base.mpin = Some(server.config());
                    revocations = Some(server.revocations());
                }
                Some(ServerAuth::Device { .. }) | None => {}
            }
            let server = DeviceServer::new(credential, allow, base, options)?;
            Ok(Arc::new(match revocations {
                Some(r) => server.with_revocations(r),
                None => server,
            }))
        }
    }
}

/// The peer description of an established TLS-PSK stream.
pub fn tls_peer_info<IO>(s: &TlsStream<IO>) -> PeerInfo {
    PeerInfo {
        identity: s.psk_identity().map(Identity::from),
        suite: s.cipher_suite(),
        group: s.group(),
        method: Method::Psk,
    }
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

#[cfg(test)]
mod tests {
    use super::{Identity, Method};

    #[test]
    fn an_identity_displays_with_non_printable_bytes_escaped() {
        let id = Identity::from(&b"eve\n2026-12-01 INFO forged\x1b[2J\xff"[..]);
        assert_eq!(id.to_string(), r"eve\n2026-12-01 INFO forged\x1b[2J\xff");
        assert_eq!(id.as_bytes(), b"eve\n2026-12-01 INFO forged\x1b[2J\xff");
        assert_eq!(
            Identity::from(&b"alice@example.com"[..]).to_string(),
            "alice@example.com"
        );
    }

    #[test]
    fn methods_keep_their_log_names() {
        let names = [Method::Psk, Method::Mpin, Method::MpinResumed].map(|m| m.to_string());
        assert_eq!(names, ["psk", "mpin", "mpin-resumed"]);
    }
}
