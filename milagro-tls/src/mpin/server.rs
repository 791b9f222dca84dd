//! The server side of the M-Pin channel, with plain TLS-PSK peers served on the same port.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use mpin_kex::{HashedId, Hello, Mode, OnePassHello, Response, Server, ServerContext, Session};
use rand_core::{OsRng, RngCore};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};

use super::frame::{self, FrameType, PREFACE};
use super::importer::{self, SESSION_ID_LEN};
use super::resume::{permit_day_end, MpinBinding};
use super::{blocking, bounded, tls_io, Clock, MpinError, Rewind, DEFAULT_HANDSHAKE_TIMEOUT};
use crate::kx::NamedGroup;
use crate::psk::{PskStore, StaticPskStore};
use crate::server::ServerConfig;
use crate::stream::{Acceptor, TlsStream};
use crate::suites::CipherSuite;
use crate::ticket::{TicketSettings, TicketStore};

/// First pause before asking again when the lockout gate says other attempts of the same
/// identity are being verified; it doubles up to [`BUSY_RETRY_MAX`] (the whole wait is bounded
/// by the handshake timeout).
const BUSY_RETRY: Duration = Duration::from_millis(1);
/// Longest pause between two asks.
const BUSY_RETRY_MAX: Duration = Duration::from_millis(16);
/// Least time between the deciding M-Pin message and the failure frame (longer than a proof
/// check and its PIN-error classification, ≈4 ms, on an idle server).
const REFUSAL_FLOOR: Duration = Duration::from_millis(25);

/// Default lifetime of the session tickets an [`MpinAcceptor`] issues.
pub const DEFAULT_TICKET_LIFETIME: Duration = Duration::from_secs(3600);

/// Server settings for the M-Pin channel.
#[derive(Clone)]
pub struct MpinServerConfig {
    /// Server key, policy (permits, allow-list, lockout) and stores.
    pub context: ServerContext,
    /// PSKs for plain TLS-PSK peers on the same port (`None`: M-Pin only).
    pub static_psks: Option<Arc<dyn PskStore>>,
    /// Label naming this server, bound into the PSK (and one-pass proofs); default empty.
    pub server_label: Vec<u8>,
    /// TLS cipher suites.
    pub cipher_suites: Vec<CipherSuite>,
    /// TLS groups.
    pub groups: Vec<NamedGroup>,
    /// Clock (unix seconds) for permits, timestamps, challenge and ticket expiry.
    pub clock: Clock,
    /// Session tickets (default: an in-memory store shared by clones of this config).
    /// After an M-Pin handshake the client gets a single-use ticket bound to its identity
    /// that expires with the permit's day (or after `ticket_lifetime` without a permit); a
    /// client presenting it skips the M-Pin exchange. Tickets are redeemed only on a
    /// connection that starts with a TLS ClientHello (`0x16`); the TLS handshake after an
    /// M-Pin exchange accepts only the PSK imported from it. `None`: no tickets.
    pub tickets: Option<Arc<TicketStore>>,
    /// Lifetime of one ticket (default 1 hour; capped by the permit day and at 7 days).
    pub ticket_lifetime: Duration,
}

impl MpinServerConfig {
    /// M-Pin only, empty label, default suites and groups, system clock.
    pub fn new(context: ServerContext) -> Self {
        Self {
            context,
            static_psks: None,
            server_label: Vec::new(),
            cipher_suites: CipherSuite::ALL.to_vec(),
            groups: NamedGroup::ALL.to_vec(),
            clock: Arc::new(super::system_clock),
            tickets: Some(Arc::new(TicketStore::default())),
            ticket_lifetime: DEFAULT_TICKET_LIFETIME,
        }
    }

    /// The TLS settings; tickets issued after a full handshake are bound to `binding`
    /// (`None`: only resumed handshakes get a fresh ticket). With a binding (the handshake
    /// after an M-Pin exchange) tickets are issued but never redeemed, so `store` (the
    /// imported PSK) is the only key the handshake can use.
    fn tls(&self, store: Arc<dyn PskStore>, binding: Option<&MpinBinding>) -> Arc<ServerConfig> {
        let mut c = ServerConfig::new(store);
        c.options.cipher_suites = self.cipher_suites.clone();
        c.options.groups = self.groups.clone();
        c.options.tickets = self.tickets.as_ref().map(|store| {
            let mut t = TicketSettings::new(
                store.clone(),
                self.ticket_lifetime,
                binding.map(MpinBinding::encode),
            );
            t.not_after = binding.map(|b| match b.day {
                0 => (self.clock)().saturating_add(self.ticket_lifetime.as_secs()),
                day => permit_day_end(day),
            });
            t.clock = self.clock.clone();
            t.redeem = binding.is_none();
            t
        });
        Arc::new(c)
    }
}

impl std::fmt::Debug for MpinServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MpinServerConfig")
            .field("policy", &self.context.policy)
            .field("static_psks", &self.static_psks.is_some())
            .field("server_label", &String::from_utf8_lossy(&self.server_label))
            .field("tickets", &self.tickets)
            .field("ticket_lifetime", &self.ticket_lifetime)
            .finish_non_exhaustive()
    }
}

/// Who is on the other end of an accepted connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    /// Authenticated with M-Pin.
    Mpin {
        /// The raw identity.
        identity: Vec<u8>,
        /// Its hash.
        hashed_id: HashedId,
        /// Multi-pass or one-pass.
        mode: Mode,
        /// The time-permit day (0 = none).
        day: u32,
        /// True when the client resumed a session ticket from an earlier M-Pin handshake
        /// (no M-Pin exchange, no pairing on this connection); the other fields come from
        /// that handshake.
        resumed: bool,
    },
    /// A plain TLS-PSK peer with a static PSK.
    Psk {
        /// The PSK identity.
        identity: Vec<u8>,
    },
}

impl Peer {
    /// The authenticated identity (M-Pin identity or PSK identity).
    pub fn identity(&self) -> &[u8] {
        match self {
            Peer::Mpin { identity, .. } | Peer::Psk { identity } => identity,
        }
    }
}

/// Sends the one generic failure frame, closes our side and drains what the client already
/// sent (its TLS ClientHello travels with the response), so that closing does not reset the
/// connection before the client has read the failure. Best effort, bounded in time and size.
async fn refuse<IO: AsyncRead + AsyncWrite + Unpin>(io: &mut IO) {
    use tokio::io::AsyncWriteExt;
    let _ = frame::send(io, &frame::encode(FrameType::Failure, &[])).await;
    let _ = io.shutdown().await;
    let drain = async {
        let mut sink = [0u8; 4096];
        let mut total = 0usize;
        while total < 64 * 1024 {
            match io.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_millis(500), drain).await;
}

/// Runs the deciding step (`response` or `one_pass`) off the reactor. While the lockout gate
/// answers [`mpin_kex::AuthError::Busy`] it asks again after a pause (1 ms doubling to 16 ms;
/// the handshake timeout bounds the whole wait). A refusal is returned no sooner than
/// [`REFUSAL_FLOOR`] after the message `arrived`, so a policy refusal (no pairing) and a
/// rejected proof take the same time.
async fn decide<M, T>(
    mut server: Server,
    mut msg: M,
    arrived: tokio::time::Instant,
    clock: Clock,
    step: fn(&mut Server, &M, u64) -> Result<T, mpin_kex::AuthError>,
) -> Result<T, MpinError>
where
    M: Send + 'static,
    T: Send + 'static,
{
    let mut pause = BUSY_RETRY;
    loop {
        let clock = clock.clone();
        let (s, m, result) = blocking(move || {
            let result = step(&mut server, &msg, clock());
            (server, msg, result)
        })
        .await?;
        match result {
            Err(e) if e.is_busy() => {
                (server, msg) = (s, m);
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(BUSY_RETRY_MAX);
            }
            Err(e) => {
                tokio::time::sleep_until(arrived + REFUSAL_FLOOR).await;
                return Err(e.into());
            }
            Ok(v) => return Ok(v),
        }
    }
}

/// Channel binding, checked after the TLS handshake that follows an M-Pin exchange: the
/// session must have used the PSK imported from that exchange (`imported`, its identity) in a
/// full handshake. Fails closed with [`MpinError::Unbound`] otherwise.
fn check_bound(
    psk_identity: Option<&[u8]>,
    resumed: bool,
    imported: &[u8],
) -> Result<(), MpinError> {
    match psk_identity {
        Some(id) if id == imported && !resumed => Ok(()),
        _ => Err(MpinError::Unbound),
    }
}

/// Accepts M-Pin clients (and, with a static store, plain TLS-PSK peers).
#[derive(Debug, Clone)]
pub struct MpinAcceptor {
    config: Arc<MpinServerConfig>,
    handshake_timeout: Duration,
}

impl MpinAcceptor {
    /// An acceptor with the default 10 s handshake timeout.
    pub fn new(config: Arc<MpinServerConfig>) -> Self {
        Self {
            config,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        }
    }

    /// Sets the timeout for the whole M-Pin + TLS handshake.
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Authenticates the peer over `io` (errors: [`super::mpin_error`]). On an M-Pin failure
    /// the peer gets one generic failure frame and the connection is closed; the returned
    /// error says why (for logs).
    pub async fn accept<IO>(&self, io: IO) -> io::Result<(TlsStream<Rewind<IO>>, Peer)>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        bounded(self.handshake_timeout, self.run(io, None)).await
    }

    /// As [`accept`](Self::accept), naming the connection's source: an opaque prefix key such
    /// as the peer's IPv4 address or IPv6 /48. Failed M-Pin proofs with a time permit that are
    /// not attributable to the identity's token then lock the pair (identity, `source`)
    /// under the identity's lockout rules ([`mpin_kex::Server::with_source`]), so a thief
    /// holding a token and a permit gets `lockout_after` guesses per source and lockout, and
    /// count toward the identity's distributed budget across all sources
    /// ([`mpin_kex::ServerPolicy::distributed_lockout_after`]).
    pub async fn accept_from<IO>(
        &self,
        io: IO,
        source: &[u8],
    ) -> io::Result<(TlsStream<Rewind<IO>>, Peer)>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        bounded(self.handshake_timeout, self.run(io, Some(source))).await
    }

    async fn run<IO: AsyncRead + AsyncWrite + Unpin>(
        &self,
        mut io: IO,
        source: Option<&[u8]>,
    ) -> Result<(TlsStream<Rewind<IO>>, Peer), MpinError> {
        let mut first = [0u8; 1];
        io.read_exact(&mut first).await?;
        let cfg = &self.config;
        match first[0] {
            0x16 if cfg.static_psks.is_some() || cfg.tickets.is_some() => {
                self.plain_tls(first[0], io).await
            }
            b'M' => self.mpin(first[0], io, source).await,
            other => Err(MpinError::UnknownProtocol(other)),
        }
    }

    /// A TLS ClientHello straight away: a static-PSK peer, or an M-Pin client resuming a
    /// ticket.
    async fn plain_tls<IO: AsyncRead + AsyncWrite + Unpin>(
        &self,
        first: u8,
        io: IO,
    ) -> Result<(TlsStream<Rewind<IO>>, Peer), MpinError> {
        let cfg = &self.config;
        let store: Arc<dyn PskStore> = match &cfg.static_psks {
            Some(s) => s.clone(),
            None => Arc::new(StaticPskStore::new()),
        };
        let mut stream = Acceptor::new(cfg.tls(store, None))
            .with_handshake_timeout(self.handshake_timeout)
            .accept(Rewind::new(vec![first], io))
            .await
            .map_err(tls_io)?;
        let Some(app_data) = stream.resumption_app_data() else {
            let identity = stream.psk_identity().unwrap_or_default().to_vec();
            return Ok((stream, Peer::Psk { identity }));
        };
        let binding = MpinBinding::decode(app_data)?;
        // the ticket is spent; a refused peer just sees the connection close
        let hashed_id = binding.admit(
            &cfg.context.policy,
            cfg.context.failures.as_ref(),
            (cfg.clock)(),
        )?;
        stream.set_peer_mpin_identity(binding.identity.clone());
        let peer = Peer::Mpin {
            identity: binding.identity,
            hashed_id,
            mode: binding.mode,
            day: binding.day,
            resumed: true,
        };
        Ok((stream, peer))
    }

    async fn mpin<IO: AsyncRead + AsyncWrite + Unpin>(
        &self,
        first: u8,
        mut io: IO,
        source: Option<&[u8]>,
    ) -> Result<(TlsStream<Rewind<IO>>, Peer), MpinError> {
        let mut rest = [0u8; 4];
        io.read_exact(&mut rest).await?;
        if first != PREFACE[0] || rest[..3] != PREFACE[1..4] {
            return Err(MpinError::UnknownProtocol(first));
        }
        if rest[3] != PREFACE[4] {
            return Err(MpinError::Version(rest[3]));
        }
        let result = self.authenticate(&mut io, source).await;
        let (sid, session) = match result {
            Ok(v) => v,
            Err(e) => {
                refuse(&mut io).await;
                return Err(e);
            }
        };
        let imported = importer::imported_identity(
            &sid,
            &session.transcript_hash,
            &session.identity,
            &self.config.server_label,
        );
        let psk = importer::import(session.key.as_bytes(), &imported)?;
        let psk_identity = psk.identity().to_vec();
        // the only key this handshake may use: no ticket, no static PSK
        let store: StaticPskStore = [psk].into_iter().collect();
        let binding = MpinBinding {
            identity: session.identity.clone(),
            mode: session.mode,
            day: session.day,
        };
        let mut stream = Acceptor::new(self.config.tls(Arc::new(store), Some(&binding)))
            .with_handshake_timeout(self.handshake_timeout)
            .accept(Rewind::new(Vec::new(), io))
            .await
            .map_err(tls_io)?;
        check_bound(stream.psk_identity(), stream.resumed(), &psk_identity)?;
        stream.set_peer_mpin_identity(session.identity.clone());
        let peer = Peer::Mpin {
            identity: session.identity.clone(),
            hashed_id: session.hashed_id,
            mode: session.mode,
            day: session.day,
            resumed: false,
        };
        Ok((stream, peer))
    }

    /// Runs the M-Pin exchange (from `source`, when named); returns the session id and the
    /// M-Pin session.
    async fn authenticate<IO: AsyncRead + AsyncWrite + Unpin>(
        &self,
        io: &mut IO,
        source: Option<&[u8]>,
    ) -> Result<([u8; SESSION_ID_LEN], Session), MpinError> {
        let cfg = &self.config;
        let new_server = |ctx: ServerContext| match source {
            Some(src) => Server::new(ctx).with_source(src),
            None => Server::new(ctx),
        };
        let mut sid = [0u8; SESSION_ID_LEN];
        OsRng.fill_bytes(&mut sid);
        let (kind, body) = frame::read(io).await?;
        match kind {
            FrameType::Hello => {
                let hello = Hello::decode(&body)?;
                let (mut s, now) = (new_server(cfg.context.clone()), (cfg.clock)());
                let (server, challenge) = blocking(move || {
                    let c = s.hello(&hello, now, &mut OsRng);
                    (s, c)
                })
                .await?;
                let mut out = sid.to_vec();
                out.extend_from_slice(&challenge?.encode());
                frame::send(io, &frame::encode(FrameType::Challenge, &out)).await?;
                let body = frame::expect(io, FrameType::Response).await?;
                let arrived = tokio::time::Instant::now();
                let response = Response::decode(&body)?;
                let session = decide(server, response, arrived, cfg.clock.clone(), |s, r, now| {
                    s.response(r, now)
                })
                .await?;
                Ok((sid, session))
            }
            FrameType::OnePassHello => {
                let arrived = tokio::time::Instant::now();
                let hello = OnePassHello::decode(&body)?;
                if hello.message != cfg.server_label {
                    return Err(MpinError::Protocol(
                        "one-pass proof is bound to another server label",
                    ));
                }
                let server = new_server(cfg.context.clone());
                let (reply, session) =
                    decide(server, hello, arrived, cfg.clock.clone(), |s, h, now| {
                        s.one_pass(h, now, &mut OsRng)
                    })
                    .await?;
                let mut out = sid.to_vec();
                out.extend_from_slice(&reply.encode());
                frame::send(io, &frame::encode(FrameType::OnePassReply, &out)).await?;
                Ok((sid, session))
            }
            _ => Err(MpinError::Protocol("expected a hello frame")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_imported_psk_in_a_full_handshake_is_bound() {
        let imported = b"imported-identity";
        assert!(check_bound(Some(imported), false, imported).is_ok());
        for (id, resumed) in [
            (Some(&imported[..]), true),
            (Some(&b"a-ticket"[..]), true),
            (Some(&b"legacy"[..]), false),
            (Some(&b"imported-identit"[..]), false),
            (None, false),
        ] {
            assert!(
                matches!(check_bound(id, resumed, imported), Err(MpinError::Unbound)),
                "{id:?} resumed={resumed}"
            );
        }
    }
}
