//! The tokio adapter, shaped like tokio-rustls: [`Connector`] and
//! [`Acceptor`] run the handshake over any `AsyncRead + AsyncWrite` and
//! return a [`TlsStream`].

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::client::{ClientConfig, ClientConnection};
use crate::conn::{ConnectionCommon, Negotiated};
use crate::error::Error;
use crate::kx::NamedGroup;
use crate::record::MAX_PLAINTEXT;
use crate::server::{ServerConfig, ServerConnection};
use crate::suites::CipherSuite;

/// Bytes read from the transport at a time, into a buffer on the stack of
/// the polling thread: a connection waiting for input holds no read buffer.
const READ_CHUNK: usize = 32 * 1024;
/// Smallest output bound the adapter applies (its write half, 32 KiB, holds
/// two full records).
const MIN_TLS_OUT: usize = 64 * 1024;

/// The crate [`Error`] inside an `io::Error` returned by this module, if any.
pub fn tls_error(e: &io::Error) -> Option<&Error> {
    e.get_ref().and_then(|inner| inner.downcast_ref::<Error>())
}

/// Client side: wraps a transport with a TLS-PSK client handshake, bounded by the
/// config's [`Options::handshake_timeout`](crate::Options::handshake_timeout).
#[derive(Debug, Clone)]
pub struct Connector {
    config: Arc<ClientConfig>,
}

impl Connector {
    /// A connector using `config` (its handshake timeout included).
    pub fn new(config: Arc<ClientConfig>) -> Self {
        Self { config }
    }

    /// Sets the handshake timeout (`options.handshake_timeout` of this connector's copy of
    /// the config).
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        Arc::make_mut(&mut self.config).options.handshake_timeout = timeout;
        self
    }

    /// The handshake timeout in force.
    pub fn handshake_timeout(&self) -> Duration {
        self.config.options.handshake_timeout
    }

    /// Runs the handshake over `io`.
    pub async fn connect<IO>(&self, io: IO) -> io::Result<TlsStream<IO>>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        let conn = ClientConnection::new(self.config.clone())?.into_common();
        TlsStream::handshake(io, conn, self.handshake_timeout()).await
    }
}

/// Server side: wraps a transport with a TLS-PSK server handshake, bounded by the
/// config's [`Options::handshake_timeout`](crate::Options::handshake_timeout).
#[derive(Debug, Clone)]
pub struct Acceptor {
    config: Arc<ServerConfig>,
}

impl Acceptor {
    /// An acceptor using `config` (its handshake timeout included).
    pub fn new(config: Arc<ServerConfig>) -> Self {
        Self { config }
    }

    /// Sets the handshake timeout (`options.handshake_timeout` of this acceptor's copy of
    /// the config).
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        Arc::make_mut(&mut self.config).options.handshake_timeout = timeout;
        self
    }

    /// The handshake timeout in force.
    pub fn handshake_timeout(&self) -> Duration {
        self.config.options.handshake_timeout
    }

    /// Runs the handshake over `io`.
    pub async fn accept<IO>(&self, io: IO) -> io::Result<TlsStream<IO>>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        let conn = ServerConnection::new(self.config.clone())?.into_common();
        TlsStream::handshake(io, conn, self.handshake_timeout()).await
    }
}

/// An established TLS connection over `IO`: `AsyncRead + AsyncWrite`.
/// Shutting it down sends close_notify. Reading returns EOF only after the
/// peer's close_notify; a transport EOF without it is an
/// `UnexpectedEof` error (truncation attack).
pub struct TlsStream<IO> {
    io: IO,
    conn: ConnectionCommon,
    wbuf: Vec<u8>,
    wpos: usize,
    wakers: Wakers,
}

/// Tasks waiting for the queued output to drain. After [`TlsStream::split`]
/// the read and write halves may run in different tasks but share one
/// transport, whose write-readiness wakes only the task that polled it last;
/// whichever half drains the output wakes the other.
#[derive(Default)]
struct Wakers {
    reader: Option<Waker>,
    writer: Option<Waker>,
}

/// Wakes the task in `slot` unless it is the current one.
fn wake(slot: &mut Option<Waker>, cx: &Context<'_>) {
    if let Some(w) = slot.take() {
        if !w.will_wake(cx.waker()) {
            w.wake();
        }
    }
}

impl<IO> std::fmt::Debug for TlsStream<IO> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsStream")
            .field("negotiated", &self.conn.negotiated())
            .finish_non_exhaustive()
    }
}

impl<IO> TlsStream<IO> {
    /// A stream over `conn`, whose handshake has been (or is being) run by the caller; output
    /// still queued in `conn` goes out with the next write, flush or read.
    pub(crate) fn established(io: IO, conn: ConnectionCommon) -> Self {
        Self {
            io,
            conn,
            wbuf: Vec::new(),
            wpos: 0,
            wakers: Wakers::default(),
        }
    }

    /// The sans-IO connection.
    pub fn connection(&self) -> &ConnectionCommon {
        &self.conn
    }

    /// The transport.
    pub fn get_ref(&self) -> &IO {
        &self.io
    }

    /// The negotiated parameters.
    pub fn negotiated(&self) -> Option<&Negotiated> {
        self.conn.negotiated()
    }

    /// The negotiated cipher suite.
    pub fn cipher_suite(&self) -> Option<CipherSuite> {
        self.conn.cipher_suite()
    }

    /// The negotiated group.
    pub fn group(&self) -> Option<NamedGroup> {
        self.conn.group()
    }

    /// The PSK identity that authenticated the connection.
    pub fn psk_identity(&self) -> Option<&[u8]> {
        self.conn.psk_identity()
    }

    /// True if the handshake resumed a session ticket.
    pub fn resumed(&self) -> bool {
        self.conn.resumed()
    }

    /// Server side, after a resumed handshake: the application data bound to
    /// the redeemed ticket.
    pub fn resumption_app_data(&self) -> Option<&[u8]> {
        self.conn.resumption_app_data()
    }

    /// Client side: takes the usable tickets received so far. Tickets arrive
    /// after the handshake, so they show up once the stream has been read
    /// from (or use [`ClientConfig::ticket_cache`](crate::ClientConfig::ticket_cache)).
    pub fn take_tickets(&mut self) -> Vec<crate::ticket::ClientTicket> {
        self.conn.take_tickets()
    }

    /// RFC 8446 exporter.
    pub fn export_keying_material(
        &self,
        out: &mut [u8],
        label: &[u8],
        context: &[u8],
    ) -> Result<(), Error> {
        self.conn.export_keying_material(out, label, context)
    }

    /// The next connection event (handshake complete, tickets, peer
    /// KeyUpdates, close), if any.
    pub fn next_event(&mut self) -> Option<crate::conn::Event> {
        self.conn.next_event()
    }

    /// Sends a KeyUpdate (taking effect on the next write/flush).
    pub fn refresh_traffic_keys(&mut self) -> Result<(), Error> {
        self.conn.refresh_traffic_keys()
    }

    /// Sealed TLS bytes not yet written to the transport (the adapter's
    /// buffer plus the connection's queue).
    ///
    /// Bounds, with `max` =
    /// [`ConnectionLimits::max_tls_out`](crate::ConnectionLimits::max_tls_out)
    /// (at least 64 KiB): `poll_write` accepts application data only while
    /// this is below `max / 2` (so it stays below `max / 2` plus one
    /// record), and reading stops while it is at least `max`. The
    /// application's own data thus never stops reading, which would
    /// deadlock two full-duplex peers that both write before they read;
    /// only output that reading produced could, and that is one coalesced
    /// KeyUpdate reply at a time.
    pub fn buffered_tls_out(&self) -> usize {
        self.wbuf.len() - self.wpos + self.conn.buffered_tls()
    }

    /// Bytes of memory held by the record buffers of this stream and its
    /// connection ([`ConnectionCommon::buffer_capacity`] plus the adapter's
    /// output buffer): 0 while the connection is idle.
    pub fn buffer_capacity(&self) -> usize {
        self.wbuf.capacity() + self.conn.buffer_capacity()
    }

    fn out_bound(&self) -> usize {
        self.conn.limits().max_tls_out.max(MIN_TLS_OUT)
    }

    /// True while reading must wait for the output to drain.
    fn read_blocked(&self) -> bool {
        self.buffered_tls_out() >= self.out_bound()
    }

    /// Room for application data under the write bound (`max / 2`).
    fn write_room(&self) -> usize {
        (self.out_bound() / 2).saturating_sub(self.buffered_tls_out())
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> TlsStream<IO> {
    async fn handshake(io: IO, conn: ConnectionCommon, timeout: Duration) -> io::Result<Self> {
        let mut s = Self::established(io, conn);
        match tokio::time::timeout(timeout, poll_fn(|cx| s.poll_handshake(cx))).await {
            Ok(Ok(())) => Ok(s),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(Error::HandshakeTimeout.into()),
        }
    }

    fn poll_handshake(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            std::task::ready!(self.poll_write_tls(cx))?;
            if !self.conn.is_handshaking() {
                return Poll::Ready(Ok(()));
            }
            match std::task::ready!(self.poll_fill(cx)) {
                Ok(0) => return Poll::Ready(Err(Error::UnexpectedEof.into())),
                Ok(_) => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    /// Writes buffered TLS bytes to the transport.
    fn poll_write_tls(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            if self.wpos == self.wbuf.len() {
                // freed, not kept: an idle connection holds no output buffer
                self.wbuf = Vec::new();
                self.wpos = 0;
                if !self.conn.wants_write() {
                    return Poll::Ready(Ok(()));
                }
                self.conn.write_tls_into(&mut self.wbuf);
            }
            let n =
                std::task::ready!(Pin::new(&mut self.io).poll_write(cx, &self.wbuf[self.wpos..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.wpos += n;
        }
    }

    /// Write side: writes all queued output, waking a reader that waits for
    /// it to drain; while pending, this task waits for the transport.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.poll_write_tls(cx) {
            Poll::Ready(r) => {
                wake(&mut self.wakers.reader, cx);
                Poll::Ready(r)
            }
            Poll::Pending => {
                self.wakers.writer = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }

    /// Reads once from the transport and processes what arrived. On a TLS
    /// error, tries (without waiting) to send the queued alert.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let mut chunk = [0u8; READ_CHUNK];
        let mut rb = ReadBuf::new(&mut chunk);
        std::task::ready!(Pin::new(&mut self.io).poll_read(cx, &mut rb))?;
        let n = rb.filled().len();
        if n == 0 {
            return Poll::Ready(Ok(0));
        }
        self.conn.read_tls(&chunk[..n]);
        if let Err(e) = self.conn.process_new_packets() {
            let _ = self.poll_write_tls(cx);
            let _ = Pin::new(&mut self.io).poll_flush(cx);
            return Poll::Ready(Err(e.into()));
        }
        Poll::Ready(Ok(n))
    }

    /// Splits into independently usable read and write halves.
    pub fn split(self) -> (tokio::io::ReadHalf<Self>, tokio::io::WriteHalf<Self>) {
        tokio::io::split(self)
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncRead for TlsStream<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.conn.plaintext_len() > 0 {
                let n = this.conn.read_plaintext(buf.initialize_unfilled());
                buf.advance(n);
                return Poll::Ready(Ok(()));
            }
            if this.conn.peer_has_closed() {
                return Poll::Ready(Ok(()));
            }
            if let Some(e) = this.conn.error() {
                return Poll::Ready(Err(e.clone().into()));
            }
            // answers such as a KeyUpdate reply go out opportunistically;
            // while the output is full, nothing more is read (backpressure)
            match this.poll_write_tls(cx) {
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(())) => wake(&mut this.wakers.writer, cx),
                Poll::Pending if this.read_blocked() => {
                    this.wakers.reader = Some(cx.waker().clone());
                    return Poll::Pending;
                }
                // we go on to wait for input, not for the transport's
                // write-readiness we may have taken from a waiting writer
                Poll::Pending => wake(&mut this.wakers.writer, cx),
            }
            match std::task::ready!(this.poll_fill(cx)) {
                Ok(0) => return Poll::Ready(Err(Error::UnexpectedEof.into())),
                Ok(_) => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncWrite for TlsStream<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        // sealed bytes not yet written count against the bound
        if this.write_room() == 0 {
            std::task::ready!(this.poll_drain(cx))?;
        }
        let n = buf.len().min(this.write_room().max(MAX_PLAINTEXT));
        this.conn.write_plaintext(&buf[..n])?;
        match this.poll_write_tls(cx) {
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Ready(Ok(())) | Poll::Pending => wake(&mut this.wakers.reader, cx),
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        std::task::ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.conn.send_close_notify();
        std::task::ready!(this.poll_drain(cx))?;
        std::task::ready!(Pin::new(&mut this.io).poll_flush(cx))?;
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}
