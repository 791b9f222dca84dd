//! The client side of the M-Pin channel.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use mpin_kex::{Challenge, Client, Credential, Mode, OnePassReply, Pin, Session};
use rand_core::OsRng;
use tokio::io::{AsyncRead, AsyncWrite};

use super::frame::{self, FrameType, PREFACE};
use super::importer::{self, SESSION_ID_LEN};
use super::{blocking, bounded, tls_io, Clock, MpinError, Rewind, DEFAULT_HANDSHAKE_TIMEOUT};
use crate::client::ClientConfig;
use crate::kx::NamedGroup;
use crate::stream::{Connector, TlsStream};
use crate::suites::CipherSuite;
use crate::ticket::{ClientTicket, TicketCache};

/// Client settings for the M-Pin channel.
#[derive(Clone)]
pub struct MpinClientConfig {
    /// Identity, token, permit and precomputed pairings.
    pub credential: Arc<Credential>,
    /// The PIN the user entered.
    pub pin: Pin,
    /// Multi-pass (default) or one-pass.
    pub mode: Mode,
    /// A label naming the server, bound into the PSK (and, in one-pass mode, into the proof);
    /// both ends must use the same (default: empty).
    pub server_label: Vec<u8>,
    /// TLS cipher suites (SHA-256 suites only: the imported PSK is bound to SHA-256).
    pub cipher_suites: Vec<CipherSuite>,
    /// TLS key-exchange groups in preference order.
    pub groups: Vec<NamedGroup>,
    /// Clock for one-pass timestamps and ticket expiry.
    pub clock: Clock,
    /// Keep the session ticket the server issues and resume with it on the next connection
    /// (no M-Pin exchange, no pairing) while it is fresh (default true).
    pub resume: bool,
}

impl MpinClientConfig {
    /// Multi-pass, empty server label, default suites and groups, system clock.
    pub fn new(credential: Arc<Credential>, pin: Pin) -> Self {
        Self {
            credential,
            pin,
            mode: Mode::MultiPass,
            server_label: Vec::new(),
            cipher_suites: CipherSuite::ALL.to_vec(),
            groups: NamedGroup::ALL.to_vec(),
            clock: Arc::new(super::system_clock),
            resume: true,
        }
    }
}

impl std::fmt::Debug for MpinClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MpinClientConfig")
            .field("credential", &self.credential)
            .field("mode", &self.mode)
            .field("server_label", &String::from_utf8_lossy(&self.server_label))
            .field("resume", &self.resume)
            .finish_non_exhaustive()
    }
}

/// Connects with M-Pin authentication, then TLS 1.3 with the imported PSK; or, holding a
/// fresh session ticket from an earlier connection (and with
/// [`resume`](MpinClientConfig::resume) on), resumes it with a plain TLS 1.3 handshake.
/// Clones share the ticket.
#[derive(Debug, Clone)]
pub struct MpinConnector {
    config: Arc<MpinClientConfig>,
    handshake_timeout: Duration,
    tickets: Arc<TicketCache>,
}

impl MpinConnector {
    /// A connector with the default 10 s handshake timeout.
    pub fn new(config: Arc<MpinClientConfig>) -> Self {
        Self {
            config,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
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

    /// Sets the timeout for the whole M-Pin + TLS handshake.
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Authenticates over `io` and returns the TLS stream (errors: [`super::mpin_error`]).
    /// With a fresh ticket this is a resumption; if it fails the error is returned and the
    /// ticket pool is emptied, so the next call runs M-Pin. The ticket for the next connection
    /// arrives after the handshake, once the stream has been read from.
    pub async fn connect<IO>(&self, io: IO) -> io::Result<TlsStream<Rewind<IO>>>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        bounded(self.handshake_timeout, self.run(io)).await
    }

    async fn run<IO: AsyncRead + AsyncWrite + Unpin>(
        &self,
        mut io: IO,
    ) -> Result<TlsStream<Rewind<IO>>, MpinError> {
        let cfg = self.config.clone();
        if cfg.resume {
            if let Some(ticket) = self.tickets.take_fresh((cfg.clock)()) {
                return self.resume(io, ticket).await;
            }
        }
        let (session_id, session) = match cfg.mode {
            Mode::MultiPass => multi_pass(&mut io, &cfg).await?,
            Mode::OnePass => one_pass(&mut io, &cfg).await?,
        };
        let imported = importer::imported_identity(
            &session_id,
            &session.transcript_hash,
            &session.identity,
            &cfg.server_label,
        );
        let psk = importer::import(session.key.as_bytes(), &imported)?;
        let tls = self.tls_config(ClientConfig::new(psk));
        let stream = Connector::new(Arc::new(tls))
            .with_handshake_timeout(self.handshake_timeout)
            .connect(Rewind::sniffing_failure(io))
            .await
            .map_err(tls_io)?;
        Ok(stream)
    }

    /// A plain TLS 1.3 handshake offering only the ticket.
    async fn resume<IO: AsyncRead + AsyncWrite + Unpin>(
        &self,
        io: IO,
        ticket: ClientTicket,
    ) -> Result<TlsStream<Rewind<IO>>, MpinError> {
        let tls = self.tls_config(ClientConfig::resuming(ticket));
        Connector::new(Arc::new(tls))
            .with_handshake_timeout(self.handshake_timeout)
            .connect(Rewind::new(Vec::new(), io))
            .await
            .map_err(|e| {
                // the pool's other tickets come from the same sessions: drop them too
                self.tickets.clear();
                tls_io(e)
            })
    }

    fn tls_config(&self, mut tls: ClientConfig) -> ClientConfig {
        let cfg = &self.config;
        tls.options.cipher_suites = cfg.cipher_suites.clone();
        tls.options.groups = cfg.groups.clone();
        tls.options.clock = cfg.clock.clone();
        tls.ticket_cache = cfg.resume.then(|| self.tickets.clone());
        tls
    }
}

fn split_session_id(body: &[u8]) -> Result<([u8; SESSION_ID_LEN], &[u8]), MpinError> {
    if body.len() < SESSION_ID_LEN {
        return Err(MpinError::Protocol("frame shorter than a session id"));
    }
    let (id, rest) = body.split_at(SESSION_ID_LEN);
    let mut sid = [0u8; SESSION_ID_LEN];
    sid.copy_from_slice(id);
    Ok((sid, rest))
}

async fn multi_pass<IO: AsyncRead + AsyncWrite + Unpin>(
    io: &mut IO,
    cfg: &Arc<MpinClientConfig>,
) -> Result<([u8; SESSION_ID_LEN], Session), MpinError> {
    let (cred, pin) = (cfg.credential.clone(), cfg.pin.clone());
    let (mut client, hello) = blocking(move || {
        let mut c = Client::new(cred, pin);
        let h = c.hello(&mut OsRng);
        (c, h)
    })
    .await?;
    let mut out = PREFACE.to_vec();
    out.extend_from_slice(&frame::encode(FrameType::Hello, &hello?.encode()));
    frame::send(io, &out).await?;
    let body = frame::expect(io, FrameType::Challenge).await?;
    let (sid, rest) = split_session_id(&body)?;
    let challenge = Challenge::decode(rest)?;
    let (response, session) = blocking(move || client.challenge(&challenge)).await??;
    // The response and the TLS ClientHello go out together (the connector writes next).
    frame::send(io, &frame::encode(FrameType::Response, &response.encode())).await?;
    Ok((sid, session))
}

async fn one_pass<IO: AsyncRead + AsyncWrite + Unpin>(
    io: &mut IO,
    cfg: &Arc<MpinClientConfig>,
) -> Result<([u8; SESSION_ID_LEN], Session), MpinError> {
    let (cred, pin) = (cfg.credential.clone(), cfg.pin.clone());
    let (now, label) = ((cfg.clock)(), cfg.server_label.clone());
    let (mut client, hello) = blocking(move || {
        let mut c = Client::new(cred, pin);
        let h = c.one_pass_hello(now, &label, &mut OsRng);
        (c, h)
    })
    .await?;
    let mut out = PREFACE.to_vec();
    out.extend_from_slice(&frame::encode(FrameType::OnePassHello, &hello?.encode()));
    frame::send(io, &out).await?;
    let body = frame::expect(io, FrameType::OnePassReply).await?;
    let (sid, rest) = split_session_id(&body)?;
    let reply = OnePassReply::decode(rest)?;
    let session = blocking(move || client.one_pass_reply(&reply)).await??;
    Ok((sid, session))
}
