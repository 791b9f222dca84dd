//! The tokio adapter of the dialling device over [`P2pClientConnection`].

use std::io;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};

use super::{P2pClientConfig, P2pClientConnection};
use crate::mpin::drive::{bounded, established, handshake, OnFailure};
use crate::mpin::{MpinError, Peer};
use crate::stream::TlsStream;

/// Dials one device ([`P2pClientConfig::peer`]) with the P2P channel: WCC, then TLS 1.3 with
/// the imported PSK. Any other responder identity is refused.
#[derive(Debug, Clone)]
pub struct P2pConnector {
    config: Arc<P2pClientConfig>,
}

impl P2pConnector {
    /// A connector; the handshake timeout is the config's `options.handshake_timeout`
    /// (default 10 s).
    pub fn new(config: Arc<P2pClientConfig>) -> Self {
        Self { config }
    }

    /// Sets the timeout for the whole WCC + TLS handshake (`options.handshake_timeout` of this adapter's
    /// copy of the config).
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        Arc::make_mut(&mut self.config).options.handshake_timeout = timeout;
        self
    }

    /// Links over `io`; returns the TLS stream and the authenticated link
    /// ([`Peer::P2p`]: `responder` is the dialled peer). Errors: [`crate::mpin::mpin_error`]
    /// ([`MpinError::PeerRefused`] for the peer's FAILURE frame).
    pub async fn connect<IO>(&self, io: IO) -> io::Result<(TlsStream<IO>, Peer)>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        bounded(self.config.options.handshake_timeout, self.run(io)).await
    }

    async fn run<IO: AsyncRead + AsyncWrite + Unpin>(
        &self,
        mut io: IO,
    ) -> Result<(TlsStream<IO>, Peer), MpinError> {
        let mut conn = P2pClientConnection::new(self.config.clone())?;
        handshake(&mut conn, &mut io, |_| OnFailure::Send).await?;
        established(io, conn.into_parts())
    }
}
