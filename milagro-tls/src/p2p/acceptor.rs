//! The tokio adapter of one listener (P2P initiators, M-Pin clients, TLS-PSK peers) over
//! [`P2pServerConnection`].

use std::io;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};

use super::{P2pServerConfig, P2pServerConnection};
use crate::mpin::drive::{bounded, established, handshake, server_failure};
use crate::mpin::{MpinError, Peer};
use crate::stream::TlsStream;

/// Accepts P2P initiators (with a responder), M-Pin clients (with an M-Pin configuration)
/// and plain TLS-PSK peers on one listener, as [`P2pServerConfig`] says.
#[derive(Debug, Clone)]
pub struct P2pAcceptor {
    config: Arc<P2pServerConfig>,
}

impl P2pAcceptor {
    /// An acceptor; the handshake timeout is the config's `options.handshake_timeout`
    /// (default 10 s).
    pub fn new(config: Arc<P2pServerConfig>) -> Self {
        Self { config }
    }

    /// Sets the timeout for the whole handshake (`options.handshake_timeout` of this adapter's
    /// copy of the config).
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        Arc::make_mut(&mut self.config).options.handshake_timeout = timeout;
        self
    }

    /// Authenticates the peer over `io` (errors: [`crate::mpin::mpin_error`]). On a P2P or
    /// M-Pin refusal the peer gets the one generic failure frame and the connection is
    /// closed; the returned error says why (for logs).
    pub async fn accept<IO>(&self, io: IO) -> io::Result<(TlsStream<IO>, Peer)>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        bounded(self.config.options.handshake_timeout, self.run(io, None)).await
    }

    /// As [`accept`](Self::accept), naming the connection's source (an opaque prefix key) for
    /// the M-Pin per-source lockout ([`crate::mpin::MpinAcceptor::accept_from`]).
    pub async fn accept_from<IO>(&self, io: IO, source: &[u8]) -> io::Result<(TlsStream<IO>, Peer)>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        bounded(
            self.config.options.handshake_timeout,
            self.run(io, Some(source)),
        )
        .await
    }

    async fn run<IO: AsyncRead + AsyncWrite + Unpin>(
        &self,
        mut io: IO,
        source: Option<&[u8]>,
    ) -> Result<(TlsStream<IO>, Peer), MpinError> {
        let mut conn = P2pServerConnection::new(self.config.clone(), source);
        handshake(&mut conn, &mut io, |c| {
            server_failure(c.refused(), c.refusal_floor())
        })
        .await?;
        established(io, conn.into_parts())
    }
}
