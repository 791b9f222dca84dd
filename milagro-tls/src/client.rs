//! The client handshake.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use subtle::ConstantTimeEq;

use crate::conn::{AppKeys, ConnectionCommon, HsState, Negotiated, Side};
use crate::error::Error;
use crate::key_schedule::{self, Secret, Transcript};
use crate::kx::{KeyShare, NamedGroup};
use crate::limits::ConnectionLimits;
use crate::messages::{self, ClientHello, Extension, HandshakeMessage};
use crate::options::Options;
use crate::psk::Psk;
use crate::record::RecordCipher;
use crate::suites::CipherSuite;
use crate::ticket::{ClientResumption, ClientTicket, TicketCache};

use messages::hello::ext;

/// Client settings: the PSK to offer (external, or a resumption ticket), the shared
/// [`Options`] (suites, groups, clock, handshake timeout) and where received tickets go.
#[derive(Clone)]
pub struct ClientConfig {
    /// The PSK offered to the server ([`ClientConfig::resuming`] sets it to
    /// the ticket's PSK).
    pub psk: Psk,
    /// A ticket to resume with: when set, the ClientHello offers its PSK
    /// (binder label "res binder") with the obfuscated ticket age, and
    /// [`ConnectionCommon::resumed`] reports true after the handshake.
    pub resume: Option<ClientTicket>,
    /// Where tickets received after the handshake are deposited while
    /// [`Options::resume`] is on (they are also available from
    /// [`ConnectionCommon::take_tickets`]).
    pub ticket_cache: Option<Arc<TicketCache>>,
    /// Suites, groups, clock, handshake timeout ([`Options::tickets`] is ignored).
    pub options: Options,
    /// Post-handshake resource bounds (queued output, events, tickets,
    /// AEAD usage limit).
    pub limits: ConnectionLimits,
}

impl ClientConfig {
    /// Default [`Options`]: all three suites and X25519MLKEM768, X25519, secp256r1.
    pub fn new(psk: Psk) -> Self {
        Self::with_options(psk, Options::default())
    }

    /// Offers `psk` with `options`.
    pub fn with_options(psk: Psk, options: Options) -> Self {
        Self {
            psk,
            resume: None,
            ticket_cache: None,
            options,
            limits: ConnectionLimits::default(),
        }
    }

    /// Defaults, resuming with `ticket` (its PSK is the only one offered).
    pub fn resuming(ticket: ClientTicket) -> Self {
        let mut c = Self::new(ticket.psk().clone());
        c.resume = Some(ticket);
        c
    }
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("psk", &self.psk)
            .field("resume", &self.resume)
            .field("ticket_cache", &self.ticket_cache)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

pub(crate) struct ClientState {
    config: Arc<ClientConfig>,
    stage: Stage,
}

#[allow(clippy::enum_variant_names)] // every stage waits for a message
enum Stage {
    WaitServerHello {
        hello: ClientHello,
        shares: Vec<KeyShare>,
        transcript: Transcript,
        early: Secret,
        retried: Option<CipherSuite>,
    },
    WaitEncryptedExtensions(Keys),
    WaitFinished(Keys),
}

struct Keys {
    suite: CipherSuite,
    group: NamedGroup,
    transcript: Transcript,
    handshake_secret: Secret,
    client_hs: Secret,
    server_hs: Secret,
    retried: bool,
}

/// A client connection: sans-IO, see [`ConnectionCommon`] for the I/O API.
pub struct ClientConnection {
    inner: ConnectionCommon,
}

impl ClientConnection {
    /// Starts a handshake; the ClientHello is queued immediately.
    pub fn new(config: Arc<ClientConfig>) -> Result<Self, Error> {
        Self::build(config, Vec::new())
    }

    /// Test hook: a client whose first ClientHello also carries `extra`
    /// (before pre_shared_key), to play peers this client never is.
    #[cfg(test)]
    pub(crate) fn with_extra_extensions(
        config: Arc<ClientConfig>,
        extra: Vec<Extension>,
    ) -> Result<Self, Error> {
        Self::build(config, extra)
    }

    fn build(config: Arc<ClientConfig>, extra: Vec<Extension>) -> Result<Self, Error> {
        if let Some(t) = &config.resume {
            if !t.is_fresh_at((config.options.clock)()) {
                return Err(Error::Config(
                    "the session ticket has expired (RFC 8446 §4.6.1)".into(),
                ));
            }
        }
        let hash = config.psk.hash();
        let suites: Vec<u16> = config
            .options
            .cipher_suites
            .iter()
            .filter(|s| s.hash() == hash)
            .map(|s| s.code())
            .collect();
        if suites.is_empty() {
            return Err(Error::Config(format!(
                "no configured cipher suite uses the PSK's hash {hash:?}"
            )));
        }
        let first = *config
            .options
            .groups
            .first()
            .ok_or_else(|| Error::Config("no key-exchange group configured".into()))?;
        let mut shares = vec![KeyShare::start(first)?];
        if first == NamedGroup::X25519Mlkem768
            && config.options.groups.contains(&NamedGroup::X25519)
        {
            shares.push(KeyShare::start(NamedGroup::X25519)?);
        }
        let mut random = [0u8; 32];
        let mut session_id = vec![0u8; 32];
        aws_lc_rs::rand::fill(&mut random).map_err(|_| Error::Internal("random"))?;
        aws_lc_rs::rand::fill(&mut session_id).map_err(|_| Error::Internal("random"))?;
        let groups: Vec<u16> = config.options.groups.iter().map(|g| g.code()).collect();
        let mut hello = ClientHello {
            legacy_version: 0x0303,
            random,
            session_id,
            cipher_suites: suites,
            compression_methods: vec![0],
            extensions: vec![
                Extension {
                    typ: ext::SUPPORTED_VERSIONS,
                    data: messages::hello::client_versions(),
                },
                Extension {
                    typ: ext::SUPPORTED_GROUPS,
                    data: messages::hello::u16_vec(&groups),
                },
                key_share_ext(&shares),
                Extension {
                    typ: ext::PSK_KEY_EXCHANGE_MODES,
                    data: vec![1, 1],
                },
            ],
        };
        hello.extensions.extend(extra);
        let early = key_schedule::early_secret(hash, config.psk.key());
        let mut inner = ConnectionCommon::new(Side::Client, HsState::Failed);
        inner.set_limits(config.limits.clone());
        let transcript = Transcript::new(hash);
        let (hello, transcript) = send_hello(&mut inner, &config, hello, transcript, &early)?;
        inner.state = HsState::Client(Box::new(ClientState {
            config,
            stage: Stage::WaitServerHello {
                hello,
                shares,
                transcript,
                early,
                retried: None,
            },
        }));
        Ok(Self { inner })
    }

    /// Unwraps the shared connection state.
    pub fn into_common(self) -> ConnectionCommon {
        self.inner
    }
}

impl Deref for ClientConnection {
    type Target = ConnectionCommon;
    fn deref(&self) -> &ConnectionCommon {
        &self.inner
    }
}

impl DerefMut for ClientConnection {
    fn deref_mut(&mut self) -> &mut ConnectionCommon {
        &mut self.inner
    }
}

fn key_share_ext(shares: &[KeyShare]) -> Extension {
    let list: Vec<(u16, &[u8])> = shares
        .iter()
        .map(|s| (s.group.code(), s.public()))
        .collect();
    Extension {
        typ: ext::KEY_SHARE,
        data: messages::hello::client_key_shares(&list),
    }
}

/// Adds the pre_shared_key extension with the binder, queues the
/// ClientHello and returns it (without the PSK extension) and the transcript.
fn send_hello(
    conn: &mut ConnectionCommon,
    config: &ClientConfig,
    mut hello: ClientHello,
    mut transcript: Transcript,
    early: &[u8],
) -> Result<(ClientHello, Transcript), Error> {
    let psk = &config.psk;
    let alg = psk.hash();
    let hlen = alg.output_len();
    let age = config
        .resume
        .as_ref()
        .map_or(0, |t| t.obfuscated_age((config.options.clock)()));
    hello.extensions.push(Extension {
        typ: ext::PRE_SHARED_KEY,
        data: messages::hello::client_psk(psk.identity(), age, hlen),
    });
    let mut msg = hello.encode();
    let binders_len = 2 + 1 + hlen;
    let cut = msg.len() - binders_len;
    let th = transcript.current_with(&msg[..cut]);
    let binder = key_schedule::binder(alg, early, psk.binder_label(), &th)?;
    let end = msg.len();
    msg[end - hlen..].copy_from_slice(&binder);
    transcript.update(&msg);
    conn.emit_handshake(&msg)?;
    hello.extensions.pop();
    Ok((hello, transcript))
}

pub(crate) fn handle(
    conn: &mut ConnectionCommon,
    st: ClientState,
    msg: HandshakeMessage,
    raw: &[u8],
) -> Result<HsState, Error> {
    let ClientState { config, stage } = st;
    let stage = match (stage, msg) {
        (
            Stage::WaitServerHello {
                hello,
                shares,
                transcript,
                early,
                retried,
            },
            HandshakeMessage::ServerHello(sh),
        ) => {
            if sh.legacy_version != 0x0303 {
                return Err(Error::ProtocolVersion);
            }
            match sh.selected_version()? {
                None => return Err(Error::ProtocolVersion),
                Some(0x0304) => {}
                Some(_) => return Err(Error::IllegalParameter("selected version")),
            }
            if sh.session_id != hello.session_id {
                return Err(Error::IllegalParameter("session id echo"));
            }
            if sh.compression_method != 0 {
                return Err(Error::IllegalParameter("compression method"));
            }
            let suite = CipherSuite::from_code(sh.cipher_suite)
                .filter(|s| hello.cipher_suites.contains(&s.code()))
                .ok_or(Error::IllegalParameter("cipher suite not offered"))?;
            if retried.is_some_and(|r| r != suite) {
                return Err(Error::IllegalParameter(
                    "cipher suite changed after HelloRetryRequest",
                ));
            }
            if sh.is_hrr() {
                if retried.is_some() {
                    return Err(Error::UnexpectedMessage("second HelloRetryRequest"));
                }
                retry(
                    conn, &config, hello, shares, transcript, early, suite, &sh, raw,
                )?
            } else {
                server_hello(
                    conn,
                    &config,
                    shares,
                    transcript,
                    &early,
                    suite,
                    retried.is_some(),
                    &sh,
                    raw,
                )?
            }
        }
        (Stage::WaitEncryptedExtensions(mut keys), HandshakeMessage::EncryptedExtensions(exts)) => {
            for e in &exts {
                if matches!(
                    e.typ,
                    ext::PRE_SHARED_KEY
                        | ext::KEY_SHARE
                        | ext::SUPPORTED_VERSIONS
                        | ext::EARLY_DATA
                        | ext::COOKIE
                        | ext::PSK_KEY_EXCHANGE_MODES
                ) {
                    return Err(Error::UnsupportedExtension("in EncryptedExtensions"));
                }
            }
            keys.transcript.update(raw);
            Stage::WaitFinished(keys)
        }
        (Stage::WaitFinished(mut keys), HandshakeMessage::Finished(verify)) => {
            let alg = keys.suite.hash();
            if verify.len() != alg.output_len() {
                // its length is fixed by the hash (RFC 8446 §4.4.4)
                return Err(Error::Decode("Finished of the wrong length"));
            }
            let expected =
                key_schedule::finished_mac(alg, &keys.server_hs, &keys.transcript.current())?;
            if !bool::from(expected.ct_eq(&verify)) {
                return Err(Error::BadFinished);
            }
            keys.transcript.update(raw);
            let th = keys.transcript.current();
            let app = key_schedule::app_secrets(alg, &keys.handshake_secret, &th)?;
            let fin = key_schedule::finished_mac(alg, &keys.client_hs, &th)?;
            let fin_msg = messages::frame(messages::typ::FINISHED, &fin);
            keys.transcript.update(&fin_msg);
            let rms = key_schedule::derive_secret(
                alg,
                &app.master,
                b"res master",
                &keys.transcript.current(),
            )?;
            conn.emit_handshake(&fin_msg)?;
            conn.set_resumption(
                config.resume.is_some(),
                None,
                Some(ClientResumption {
                    hash: alg,
                    rms,
                    clock: config.options.clock.clone(),
                    cache: config
                        .options
                        .resume
                        .then(|| config.ticket_cache.clone())
                        .flatten(),
                    received: Default::default(),
                }),
            );
            conn.complete(
                AppKeys {
                    suite: keys.suite,
                    client: app.client,
                    server: app.server,
                    exporter: app.exporter,
                },
                Negotiated {
                    suite: keys.suite,
                    group: keys.group,
                    psk_identity: config.psk.identity().to_vec(),
                    hello_retry: keys.retried,
                },
            )?;
            return Ok(HsState::Done);
        }
        (
            _,
            HandshakeMessage::Unsupported(
                messages::typ::CERTIFICATE
                | messages::typ::CERTIFICATE_REQUEST
                | messages::typ::CERTIFICATE_VERIFY,
            ),
        ) => {
            return Err(Error::UnexpectedMessage(
                "certificate message: this client accepts only PSK authentication",
            ))
        }
        _ => return Err(Error::UnexpectedMessage("handshake message out of order")),
    };
    Ok(HsState::Client(Box::new(ClientState { config, stage })))
}

#[allow(clippy::too_many_arguments)]
fn retry(
    conn: &mut ConnectionCommon,
    config: &ClientConfig,
    mut hello: ClientHello,
    shares: Vec<KeyShare>,
    mut transcript: Transcript,
    early: Secret,
    suite: CipherSuite,
    hrr: &messages::ServerHello,
    raw: &[u8],
) -> Result<Stage, Error> {
    if hrr.selected_psk()?.is_some() {
        return Err(Error::IllegalParameter(
            "pre_shared_key in HelloRetryRequest",
        ));
    }
    let cookie = hrr.cookie()?;
    let group_code = hrr.hrr_group()?;
    let share = match group_code {
        Some(code) => {
            let group = NamedGroup::from_code(code)
                .filter(|g| config.options.groups.contains(g))
                .ok_or(Error::IllegalParameter(
                    "HelloRetryRequest group not offered",
                ))?;
            if shares.iter().any(|s| s.group == group) {
                return Err(Error::IllegalParameter(
                    "HelloRetryRequest for a group already shared",
                ));
            }
            Some(KeyShare::start(group)?)
        }
        None => None,
    };
    if share.is_none() && cookie.is_none() {
        return Err(Error::IllegalParameter("HelloRetryRequest changes nothing"));
    }
    for e in &hrr.extensions {
        if !matches!(
            e.typ,
            ext::KEY_SHARE | ext::COOKIE | ext::SUPPORTED_VERSIONS
        ) {
            return Err(Error::UnsupportedExtension("in HelloRetryRequest"));
        }
    }
    if suite.hash() != transcript.alg() {
        return Err(Error::IllegalParameter(
            "cipher suite hash differs from the PSK's",
        ));
    }
    transcript.rollup_for_hrr();
    transcript.update(raw);
    // RFC 8446 §4.2.10: no early_data in the second ClientHello
    hello.extensions.retain(|e| e.typ != ext::EARLY_DATA);
    let shares = match share {
        Some(s) => vec![s],
        None => shares,
    };
    for e in hello.extensions.iter_mut() {
        if e.typ == ext::KEY_SHARE {
            *e = key_share_ext(&shares);
        }
    }
    if let Some(c) = cookie {
        let mut data = Vec::new();
        crate::codec::put_vec(&mut data, 2, |o| o.extend_from_slice(&c));
        hello.extensions.push(Extension {
            typ: ext::COOKIE,
            data,
        });
    }
    let (hello, transcript) = send_hello(conn, config, hello, transcript, &early)?;
    Ok(Stage::WaitServerHello {
        hello,
        shares,
        transcript,
        early,
        retried: Some(suite),
    })
}

#[allow(clippy::too_many_arguments)]
fn server_hello(
    conn: &mut ConnectionCommon,
    config: &ClientConfig,
    shares: Vec<KeyShare>,
    mut transcript: Transcript,
    early: &[u8],
    suite: CipherSuite,
    retried: bool,
    sh: &messages::ServerHello,
    raw: &[u8],
) -> Result<Stage, Error> {
    match sh.selected_psk()? {
        None => {
            return Err(Error::HandshakeFailure(
                "server did not accept the PSK (it would need certificates)",
            ))
        }
        Some(0) => {}
        Some(_) => return Err(Error::IllegalParameter("selected PSK index")),
    }
    if suite.hash() != config.psk.hash() {
        return Err(Error::IllegalParameter(
            "cipher suite hash differs from the PSK's",
        ));
    }
    let (code, peer) = sh.key_share()?.ok_or(Error::HandshakeFailure(
        "server chose psk_ke (no key share); only psk_dhe_ke is allowed",
    ))?;
    let share = shares
        .into_iter()
        .find(|s| s.group.code() == code)
        .ok_or(Error::IllegalParameter("key share for a group not offered"))?;
    let group = share.group;
    for e in &sh.extensions {
        if !matches!(
            e.typ,
            ext::KEY_SHARE | ext::PRE_SHARED_KEY | ext::SUPPORTED_VERSIONS
        ) {
            return Err(Error::UnsupportedExtension("in ServerHello"));
        }
    }
    let dhe = share.complete(&peer)?;
    transcript.update(raw);
    let alg = suite.hash();
    let hs = key_schedule::handshake_secrets(alg, early, &dhe, &transcript.current())?;
    conn.set_read(RecordCipher::new(suite, &hs.server)?);
    // from here on our alerts (and Finished) are protected (RFC 8446 §5)
    conn.set_write(RecordCipher::new(suite, &hs.client)?);
    Ok(Stage::WaitEncryptedExtensions(Keys {
        suite,
        group,
        transcript,
        handshake_secret: hs.handshake_secret,
        client_hs: hs.client,
        server_hs: hs.server,
        retried,
    }))
}
