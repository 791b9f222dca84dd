//! The server handshake.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use subtle::ConstantTimeEq;

use crate::conn::{AppKeys, ConnectionCommon, HsState, Negotiated, Side};
use crate::error::Error;
use crate::key_schedule::{self, Secret, Transcript};
use crate::kx::{self, NamedGroup};
use crate::limits::ConnectionLimits;
use crate::messages::{self, ClientHello, Extension, HandshakeMessage, ServerHello, HRR_RANDOM};
use crate::options::Options;
use crate::psk::{Psk, PskStore};
use crate::record::RecordCipher;
use crate::suites::CipherSuite;
use crate::ticket::Binding;

use messages::hello::ext;

/// Server settings: where PSKs come from and the shared [`Options`] (suites, groups,
/// handshake timeout, tickets).
#[derive(Clone)]
pub struct ServerConfig {
    /// PSK lookup by identity.
    pub psk_store: Arc<dyn PskStore>,
    /// Suites, groups, handshake timeout and session tickets
    /// ([`Options::tickets`]; [`Options::resume`] is ignored).
    pub options: Options,
    /// Post-handshake resource bounds (queued output, events, AEAD usage
    /// limit).
    pub limits: ConnectionLimits,
}

impl ServerConfig {
    /// Default [`Options`]: all three suites and X25519MLKEM768, X25519, secp256r1, no
    /// tickets.
    pub fn new(psk_store: Arc<dyn PskStore>) -> Self {
        Self::with_options(psk_store, Options::default())
    }

    /// Looks PSKs up in `psk_store`, with `options`.
    pub fn with_options(psk_store: Arc<dyn PskStore>, options: Options) -> Self {
        Self {
            psk_store,
            options,
            limits: ConnectionLimits::default(),
        }
    }
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

pub(crate) struct ServerState {
    config: Arc<ServerConfig>,
    stage: Stage,
}

impl ServerState {
    /// True until the first ClientHello has been processed.
    pub(crate) fn awaiting_first_hello(&self) -> bool {
        matches!(self.stage, Stage::WaitClientHello(None))
    }
}

enum Stage {
    WaitClientHello(Option<Retry>),
    WaitFinished {
        suite: CipherSuite,
        group: NamedGroup,
        identity: Vec<u8>,
        transcript: Transcript,
        client_hs: Secret,
        master: Secret,
        app: AppKeys,
        retried: bool,
        resumed: Option<Binding>,
    },
}

/// What a HelloRetryRequest fixed.
struct Retry {
    suite: CipherSuite,
    group: NamedGroup,
    transcript: Transcript,
    session_id: Vec<u8>,
    psk: Psk,
    resumed: Option<Binding>,
}

/// A server connection: sans-IO, see [`ConnectionCommon`] for the I/O API.
pub struct ServerConnection {
    inner: ConnectionCommon,
}

impl ServerConnection {
    /// A connection waiting for a ClientHello.
    pub fn new(config: Arc<ServerConfig>) -> Result<Self, Error> {
        if config.options.cipher_suites.is_empty() || config.options.groups.is_empty() {
            return Err(Error::Config(
                "server needs at least one cipher suite and one group".into(),
            ));
        }
        let config_limits = config.limits.clone();
        let state = ServerState {
            config,
            stage: Stage::WaitClientHello(None),
        };
        let mut inner = ConnectionCommon::new(Side::Server, HsState::Server(Box::new(state)));
        inner.set_limits(config_limits);
        Ok(Self { inner })
    }

    /// Unwraps the shared connection state.
    pub fn into_common(self) -> ConnectionCommon {
        self.inner
    }
}

impl Deref for ServerConnection {
    type Target = ConnectionCommon;
    fn deref(&self) -> &ConnectionCommon {
        &self.inner
    }
}

impl DerefMut for ServerConnection {
    fn deref_mut(&mut self) -> &mut ConnectionCommon {
        &mut self.inner
    }
}

pub(crate) fn handle(
    conn: &mut ConnectionCommon,
    st: ServerState,
    msg: HandshakeMessage,
    raw: &[u8],
) -> Result<HsState, Error> {
    let ServerState { config, stage } = st;
    match (stage, msg) {
        (Stage::WaitClientHello(retry), HandshakeMessage::ClientHello(ch)) => {
            let stage = client_hello(conn, &config, retry, &ch, raw)?;
            Ok(HsState::Server(Box::new(ServerState { config, stage })))
        }
        (
            Stage::WaitFinished {
                suite,
                group,
                identity,
                mut transcript,
                client_hs,
                master,
                app,
                retried,
                resumed,
            },
            HandshakeMessage::Finished(verify),
        ) => {
            let alg = suite.hash();
            if verify.len() != alg.output_len() {
                // its length is fixed by the hash (RFC 8446 §4.4.4)
                return Err(Error::Decode("Finished of the wrong length"));
            }
            let expected = key_schedule::finished_mac(alg, &client_hs, &transcript.current())?;
            if !bool::from(expected.ct_eq(&verify)) {
                return Err(Error::BadFinished);
            }
            transcript.update(raw);
            conn.complete(
                app,
                Negotiated {
                    suite,
                    group,
                    psk_identity: identity,
                    hello_retry: retried,
                },
            )?;
            conn.set_resumption(
                resumed.is_some(),
                resumed.as_ref().map(|b| b.app_data.clone()),
                None,
            );
            if let Some(settings) = &config.options.tickets {
                let rms = key_schedule::derive_secret(
                    alg,
                    &master,
                    b"res master",
                    &transcript.current(),
                )?;
                for nst in settings.issue(alg, &rms, resumed.as_ref())? {
                    conn.emit_handshake(&nst)?;
                }
            }
            Ok(HsState::Done)
        }
        _ => Err(Error::UnexpectedMessage("handshake message out of order")),
    }
}

/// The PSK chosen from the client's offer.
struct Chosen {
    index: usize,
    psk: Psk,
    suite: CipherSuite,
    /// Set when the PSK came from a redeemed ticket.
    resumed: Option<Binding>,
}

/// Picks the first offered PSK the server knows (a ticket from the ticket
/// store, which redeems it, if redeeming is on; else the PSK store) and can use with a
/// suite the client offered. After a HelloRetryRequest the same PSK must
/// be offered again.
fn choose_psk(
    config: &ServerConfig,
    ch: &ClientHello,
    offered: &messages::OfferedPsk,
    retry: Option<&Retry>,
) -> Result<Chosen, Error> {
    let mut known_but_unusable = false;
    // our suites the client offered, found once (not once per identity)
    let offered_suites: Vec<CipherSuite> = config
        .options
        .cipher_suites
        .iter()
        .copied()
        .filter(|s| ch.cipher_suites.contains(&s.code()))
        .collect();
    if offered_suites.is_empty() {
        // independent of the identities offered, so it tells a prober nothing about them
        return Err(Error::HandshakeFailure("no cipher suite in common"));
    }
    for (index, (identity, _age)) in offered.identities.iter().enumerate() {
        let (psk, resumed) = match retry {
            Some(r) if r.psk.identity() == identity.as_slice() => {
                (r.psk.clone(), r.resumed.clone())
            }
            Some(_) => continue,
            None => {
                let redeemed = config
                    .options
                    .tickets
                    .as_ref()
                    .filter(|t| t.redeem)
                    .and_then(|t| t.store.redeem(identity, (t.clock)()));
                match redeemed {
                    Some(r) => (r.psk, Some(r.binding)),
                    None => match config.psk_store.lookup(identity) {
                        Some(p) => (p, None),
                        None => continue,
                    },
                }
            }
        };
        let fixed_suite = retry.map(|r| r.suite);
        let suite = offered_suites
            .iter()
            .copied()
            .find(|s| s.hash() == psk.hash() && fixed_suite.is_none_or(|f| f == *s));
        match suite {
            Some(suite) => {
                return Ok(Chosen {
                    index,
                    psk,
                    suite,
                    resumed,
                })
            }
            None => known_but_unusable = true,
        }
    }
    if retry.is_some() && !known_but_unusable {
        return Err(Error::IllegalParameter(
            "PSK changed after HelloRetryRequest",
        ));
    }
    // A known identity whose hash no offered suite uses gets the same
    // alert as an unknown one, so identities cannot be enumerated.
    Err(Error::BadPskBinder)
}

fn verify_binder(
    chosen: &Chosen,
    offered: &messages::OfferedPsk,
    transcript: &Transcript,
    raw: &[u8],
) -> Result<Secret, Error> {
    let alg = chosen.psk.hash();
    let early = key_schedule::early_secret(alg, chosen.psk.key());
    let cut = raw
        .len()
        .checked_sub(offered.binders_len)
        .ok_or(Error::Decode("binders"))?;
    let th = transcript.current_with(&raw[..cut]);
    let expected = key_schedule::binder(alg, &early, chosen.psk.binder_label(), &th)?;
    let got = offered
        .binders
        .get(chosen.index)
        .ok_or(Error::Decode("binders"))?;
    if bool::from(expected.ct_eq(got)) {
        Ok(early)
    } else {
        Err(Error::BadPskBinder)
    }
}

/// Burns the time of a binder check for an unknown identity, so that
/// unknown identities and wrong keys take similar time.
fn dummy_binder(raw: &[u8]) {
    let alg = crate::suites::HashAlgorithm::Sha256;
    let early = key_schedule::early_secret(alg, &[0u8; 32]);
    let th = key_schedule::hash(alg, raw);
    let _ = key_schedule::binder(alg, &early, key_schedule::BinderLabel::External, &th);
}

fn client_hello(
    conn: &mut ConnectionCommon,
    config: &ServerConfig,
    retry: Option<Retry>,
    ch: &ClientHello,
    raw: &[u8],
) -> Result<Stage, Error> {
    if ch.legacy_version <= 0x0300 {
        // RFC 8446 Appendix D.5
        return Err(Error::ProtocolVersion);
    }
    match ch.supported_versions()? {
        Some(v) if v.contains(&0x0304) => {}
        _ => return Err(Error::ProtocolVersion),
    }
    let offers_early_data = ch.extension(ext::EARLY_DATA).is_some();
    if retry.is_some() && offers_early_data {
        // RFC 8446 §4.2.10: never in the ClientHello after a HelloRetryRequest
        return Err(Error::IllegalParameter(
            "early_data in the second ClientHello",
        ));
    }
    // 0-RTT is never accepted: its records are skipped, within a bound,
    // until the client's first record under our keys (RFC 8446 §4.2.10)
    conn.skip_early_data(offers_early_data);
    if ch.compression_methods != [0] {
        return Err(Error::IllegalParameter("compression methods"));
    }
    let Some(offered) = ch.pre_shared_key()? else {
        return Err(Error::HandshakeFailure(
            "client offered no PSK (certificates are not supported)",
        ));
    };
    match ch.psk_modes()? {
        Some(m) if m.contains(&1) => {}
        _ => {
            return Err(Error::HandshakeFailure(
                "client does not offer psk_dhe_ke (psk_ke alone is refused)",
            ))
        }
    }
    let Some(shares) = ch.key_shares()? else {
        return Err(Error::MissingExtension("key_share"));
    };
    let client_groups = ch.supported_groups()?;
    if client_groups.is_empty() {
        return Err(Error::MissingExtension("supported_groups"));
    }
    if let Some(r) = &retry {
        if ch.session_id != r.session_id {
            return Err(Error::IllegalParameter(
                "session id changed after HelloRetryRequest",
            ));
        }
    }
    let chosen = match choose_psk(config, ch, &offered, retry.as_ref()) {
        Ok(c) => c,
        Err(e) => {
            if e == Error::BadPskBinder {
                dummy_binder(raw);
            }
            return Err(e);
        }
    };
    let alg = chosen.suite.hash();
    let mut transcript = match &retry {
        Some(r) => r.transcript.clone(),
        None => Transcript::new(alg),
    };
    let early = verify_binder(&chosen, &offered, &transcript, raw)?;

    // group: a shared one in our preference order, else ask for one
    let share = config.options.groups.iter().find_map(|g| {
        shares
            .iter()
            .find(|(code, _)| *code == g.code())
            .map(|(_, k)| (*g, k))
    });
    let (group, client_share) = match (share, &retry) {
        (Some((g, k)), Some(r)) if g == r.group && shares.len() == 1 => (g, k),
        (_, Some(_)) => {
            return Err(Error::IllegalParameter(
                "second ClientHello lacks the requested key share",
            ))
        }
        (Some((g, k)), None) => (g, k),
        (None, None) => {
            let group = config
                .options
                .groups
                .iter()
                .copied()
                .find(|g| client_groups.contains(&g.code()))
                .ok_or(Error::HandshakeFailure("no common key-exchange group"))?;
            transcript.update(raw);
            transcript.rollup_for_hrr();
            let hrr = ServerHello {
                legacy_version: 0x0303,
                random: HRR_RANDOM,
                session_id: ch.session_id.clone(),
                cipher_suite: chosen.suite.code(),
                compression_method: 0,
                extensions: vec![
                    Extension {
                        typ: ext::SUPPORTED_VERSIONS,
                        data: vec![3, 4],
                    },
                    Extension {
                        typ: ext::KEY_SHARE,
                        data: group.code().to_be_bytes().to_vec(),
                    },
                ],
            }
            .encode();
            transcript.update(&hrr);
            conn.emit_handshake(&hrr)?;
            if !ch.session_id.is_empty() {
                conn.emit_ccs();
            }
            return Ok(Stage::WaitClientHello(Some(Retry {
                suite: chosen.suite,
                group,
                transcript,
                session_id: ch.session_id.clone(),
                psk: chosen.psk,
                resumed: chosen.resumed,
            })));
        }
    };

    let (our_share, dhe) = kx::respond(group, client_share)?;
    let mut random = [0u8; 32];
    aws_lc_rs::rand::fill(&mut random).map_err(|_| Error::Internal("random"))?;
    let mut key_share = group.code().to_be_bytes().to_vec();
    crate::codec::put_vec(&mut key_share, 2, |o| o.extend_from_slice(&our_share));
    let sh = ServerHello {
        legacy_version: 0x0303,
        random,
        session_id: ch.session_id.clone(),
        cipher_suite: chosen.suite.code(),
        compression_method: 0,
        extensions: vec![
            Extension {
                typ: ext::SUPPORTED_VERSIONS,
                data: vec![3, 4],
            },
            Extension {
                typ: ext::KEY_SHARE,
                data: key_share,
            },
            Extension {
                typ: ext::PRE_SHARED_KEY,
                data: (chosen.index as u16).to_be_bytes().to_vec(),
            },
        ],
    }
    .encode();
    transcript.update(raw);
    transcript.update(&sh);
    let hs = key_schedule::handshake_secrets(alg, &early, &dhe, &transcript.current())?;
    conn.emit_handshake(&sh)?;
    if !ch.session_id.is_empty() {
        conn.emit_ccs();
    }
    conn.set_write(RecordCipher::new(chosen.suite, &hs.server)?);
    let ee = messages::encrypted_extensions(&[]);
    transcript.update(&ee);
    conn.emit_handshake(&ee)?;
    let fin = key_schedule::finished_mac(alg, &hs.server, &transcript.current())?;
    let fin_msg = messages::frame(messages::typ::FINISHED, &fin);
    transcript.update(&fin_msg);
    conn.emit_handshake(&fin_msg)?;
    let app = key_schedule::app_secrets(alg, &hs.handshake_secret, &transcript.current())?;
    conn.set_write(RecordCipher::new(chosen.suite, &app.server)?);
    conn.set_read(RecordCipher::new(chosen.suite, &hs.client)?);
    Ok(Stage::WaitFinished {
        suite: chosen.suite,
        group,
        identity: chosen.psk.identity().to_vec(),
        transcript,
        client_hs: hs.client,
        master: app.master,
        app: AppKeys {
            suite: chosen.suite,
            client: app.client,
            server: app.server,
            exporter: app.exporter,
        },
        retried: retry.is_some(),
        resumed: chosen.resumed,
    })
}
