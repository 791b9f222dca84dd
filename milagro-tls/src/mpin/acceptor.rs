//! The tokio server adapter of the M-Pin channel over [`MpinServerConnection`].

use std::io;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};

use super::drive::{bounded, established, handshake, server_failure};
use super::{MpinError, MpinServerConfig, MpinServerConnection, Peer};
use crate::stream::TlsStream;

/// Accepts M-Pin clients (and, with a static store, plain TLS-PSK peers).
#[derive(Debug, Clone)]
pub struct MpinAcceptor {
    config: Arc<MpinServerConfig>,
}

impl MpinAcceptor {
    /// An acceptor using `config` (its handshake timeout included).
    pub fn new(config: Arc<MpinServerConfig>) -> Self {
        Self { config }
    }

    /// Sets the timeout for the whole M-Pin + TLS handshake (`options.handshake_timeout` of
    /// this adapter's copy of the config).
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        Arc::make_mut(&mut self.config).options.handshake_timeout = timeout;
        self
    }

    /// The handshake timeout in force.
    pub fn handshake_timeout(&self) -> Duration {
        self.config.options.handshake_timeout
    }

    /// Authenticates the peer over `io` (errors: [`super::mpin_error`]). On an M-Pin failure
    /// the peer gets one generic failure frame and the connection is closed; the returned
    /// error says why (for logs).
    pub async fn accept<IO>(&self, io: IO) -> io::Result<(TlsStream<IO>, Peer)>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        bounded(self.handshake_timeout(), self.run(io, None)).await
    }

    /// As [`accept`](Self::accept), naming the connection's source: an opaque prefix key such
    /// as the peer's IPv4 address or IPv6 /48. Failed M-Pin proofs with a time permit that are
    /// not attributable to the identity's token then lock the pair (identity, `source`)
    /// under the identity's lockout rules ([`mpin_kex::Server::with_source`]), so a thief
    /// holding a token and a permit gets `lockout_after` guesses per source and lockout, and
    /// count toward the identity's distributed budget across all sources
    /// ([`mpin_kex::ServerPolicy::distributed_lockout_after`]).
    pub async fn accept_from<IO>(&self, io: IO, source: &[u8]) -> io::Result<(TlsStream<IO>, Peer)>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        bounded(self.handshake_timeout(), self.run(io, Some(source))).await
    }

    async fn run<IO: AsyncRead + AsyncWrite + Unpin>(
        &self,
        mut io: IO,
        source: Option<&[u8]>,
    ) -> Result<(TlsStream<IO>, Peer), MpinError> {
        let mut conn = MpinServerConnection::new(self.config.clone(), source);
        handshake(&mut conn, &mut io, |c| {
            server_failure(c.refused(), c.refusal_floor())
        })
        .await?;
        established(io, conn.into_parts())
    }
}
