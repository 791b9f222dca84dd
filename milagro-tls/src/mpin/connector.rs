//! The tokio client adapter of the M-Pin channel over [`MpinClientConnection`].

use std::io;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};

use super::drive::{bounded, established, handshake, OnFailure};
use super::{MpinClientConfig, MpinClientConnection, MpinError};
use crate::stream::TlsStream;
use crate::ticket::TicketCache;

/// Connects with M-Pin authentication, then TLS 1.3 with the imported PSK; or, holding a
/// fresh session ticket from an earlier connection (and with
/// [`Options::resume`](crate::Options::resume) on), resumes it with a plain TLS 1.3 handshake.
/// Clones share the ticket.
#[derive(Debug, Clone)]
pub struct MpinConnector {
    config: Arc<MpinClientConfig>,
    tickets: Arc<TicketCache>,
}

impl MpinConnector {
    /// A connector using `config` (its handshake timeout included).
    pub fn new(config: Arc<MpinClientConfig>) -> Self {
        Self {
            config,
            tickets: Arc::new(TicketCache::new()),
        }
    }

    /// True if a session ticket is held (the next connection tries to resume it if fresh).
    pub fn has_ticket(&self) -> bool {
        self.tickets.has_ticket()
    }

    /// Drops the held session ticket: the next connection runs M-Pin.
    pub fn forget_ticket(&self) {
        self.tickets.clear();
    }

    /// Keeps at most `capacity` session tickets (default
    /// [`DEFAULT_CLIENT_POOL`](crate::ticket::DEFAULT_CLIENT_POOL)): size it to the number of
    /// connections opened at once, so that each of them can resume. Drops the tickets held.
    pub fn with_ticket_pool(mut self, capacity: usize) -> Self {
        self.tickets = Arc::new(TicketCache::with_capacity(capacity));
        self
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

    /// Authenticates over `io` and returns the TLS stream (errors: [`super::mpin_error`]).
    /// With a fresh ticket this is a resumption; if it fails the error is returned and the
    /// ticket pool is emptied, so the next call runs M-Pin. The ticket for the next connection
    /// arrives after the handshake, once the stream has been read from.
    pub async fn connect<IO>(&self, io: IO) -> io::Result<TlsStream<IO>>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        bounded(self.handshake_timeout(), self.run(io)).await
    }

    async fn run<IO: AsyncRead + AsyncWrite + Unpin>(
        &self,
        mut io: IO,
    ) -> Result<TlsStream<IO>, MpinError> {
        let mut conn = MpinClientConnection::new(self.config.clone(), self.tickets.clone())?;
        if let Err(e) = handshake(&mut conn, &mut io, |_| OnFailure::Send).await {
            if conn.is_resumption() {
                // the pool's other tickets come from the same sessions: drop them too
                self.tickets.clear();
            }
            return Err(e);
        }
        let (stream, ()) = established(io, conn.into_connection().map(|c| (c, ())))?;
        Ok(stream)
    }
}
