//! The client side of the M-Pin channel.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use mpin_kex::{Challenge, Client, Credential, Mode, OnePassReply, Pin, Session};
use rand_core::OsRng;
use tokio::io::{AsyncRead, AsyncWrite};

use super::frame::{self, FrameType, PREFACE};
use super::importer::{self, SESSION_ID_LEN};
use super::{blocking, tls_io, Clock, MpinError, Rewind, DEFAULT_HANDSHAKE_TIMEOUT};
use crate::client::ClientConfig;
use crate::kx::NamedGroup;
use crate::stream::{Connector, TlsStream};
use crate::suites::CipherSuite;

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
    /// Clock for one-pass timestamps.
    pub clock: Clock,
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
        }
    }
}

impl std::fmt::Debug for MpinClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MpinClientConfig")
            .field("credential", &self.credential)
            .field("mode", &self.mode)
            .field("server_label", &String::from_utf8_lossy(&self.server_label))
            .finish_non_exhaustive()
    }
}

/// Connects with M-Pin authentication, then TLS 1.3 with the imported PSK.
#[derive(Debug, Clone)]
pub struct MpinConnector {
    config: Arc<MpinClientConfig>,
    handshake_timeout: Duration,
}

impl MpinConnector {
    /// A connector with the default 10 s handshake timeout.
    pub fn new(config: Arc<MpinClientConfig>) -> Self {
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

    /// Authenticates over `io` and returns the TLS stream (errors: [`super::mpin_error`]).
    pub async fn connect<IO>(&self, io: IO) -> io::Result<TlsStream<Rewind<IO>>>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        match tokio::time::timeout(self.handshake_timeout, self.run(io)).await {
            Ok(r) => r.map_err(io::Error::from),
            Err(_) => Err(MpinError::Timeout.into()),
        }
    }

    async fn run<IO: AsyncRead + AsyncWrite + Unpin>(
        &self,
        mut io: IO,
    ) -> Result<TlsStream<Rewind<IO>>, MpinError> {
        let cfg = self.config.clone();
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
        let mut tls = ClientConfig::new(psk);
        tls.cipher_suites = cfg.cipher_suites.clone();
        tls.groups = cfg.groups.clone();
        let stream = Connector::new(Arc::new(tls))
            .with_handshake_timeout(self.handshake_timeout)
            .connect(Rewind::sniffing_failure(io))
            .await
            .map_err(tls_io)?;
        Ok(stream)
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
