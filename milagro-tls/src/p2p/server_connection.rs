//! The accepting side of one listener, sans-IO: the dispatch on the first bytes (P2P
//! preface, M-Pin preface, TLS record), the P2P responder (its computation as a [`Job`]) and
//! the TLS server connection that follows; M-Pin connections are handed to an
//! [`MpinServerConnection`].

use std::sync::Arc;
use std::time::Duration;

use mpin_kex::policy::{day_of, DAY_SECS};
use mpin_kex::wcc::{P2pHello, P2pReply, Responder, WccError, WccSession};
use rand_core::OsRng;

use super::{import_psk, peer_of, P2pServerConfig, PREFACE};
use crate::conn::ConnectionCommon;
use crate::mpin::frame::{self, FrameType};
use crate::mpin::phase;
use crate::mpin::{
    check_bound, Handshake, Job, JobOutput, MpinError, MpinServerConnection, Peer, Status,
};
use crate::psk::{PskStore, StaticPskStore};
use crate::server::ServerConnection;

/// What the responder job hands back.
type Responded = Result<(P2pReply, WccSession), WccError>;

enum State {
    /// Waiting for the first byte (and, for `M`, the next three), which pick the channel.
    Dispatch,
    /// `MP2P`: waiting for the version byte.
    Preface,
    /// Waiting for the P2P_HELLO frame.
    AwaitHello,
    /// The responder job with this id is running.
    Computing(u64),
    /// The TLS handshake after a WCC exchange (bound to its imported PSK), or straight away
    /// for a static-PSK peer (`bound: None`).
    Tls(ConnectionCommon, Option<(Vec<u8>, Peer)>),
    /// Done: the TLS connection and who is on the other end.
    Established(ConnectionCommon, Peer),
    /// An M-Pin connection (or, with an M-Pin configuration, a TLS one) on this listener.
    Mpin(Box<MpinServerConnection>),
    /// Failed (the error was returned), or the parts were taken.
    Done,
}

/// The accepting end of one connection of a listener serving P2P initiators, M-Pin clients
/// and plain TLS-PSK peers ([`P2pServerConfig`]), sans-IO: feed it the peer's bytes
/// ([`read_input`](Handshake::read_input)), send what [`take_output`](Handshake::take_output)
/// returns and act on the [`Status`] from [`process`](Handshake::process) until
/// [`Status::Established`]; then [`into_parts`](Self::into_parts) gives the TLS connection and
/// the [`Peer`].
///
/// On a P2P refusal (every check of P2P-SPEC §12 comes before the pairing) the connection
/// queues the one opaque FAILURE frame ([`refused`](Self::refused)); the caller sends it,
/// closes and drains. A wrong key, impostor or missing permit on the initiator's side shows as
/// a bad PSK binder: TLS `decrypt_error`. Nothing here blocks, sleeps, spawns or reads a
/// clock other than the configured `options.clock`.
pub struct P2pServerConnection {
    config: Arc<P2pServerConfig>,
    source: Option<Vec<u8>>,
    state: State,
    input: Vec<u8>,
    output: Vec<u8>,
    hello_frame: Vec<u8>,
    refused: bool,
}

impl P2pServerConnection {
    /// A connection for one peer. `source` names where it comes from (an opaque prefix key)
    /// for the M-Pin per-source lockout; `None`: the identity's lockout only.
    pub fn new(config: Arc<P2pServerConfig>, source: Option<&[u8]>) -> Self {
        Self {
            config,
            source: source.map(<[u8]>::to_vec),
            state: State::Dispatch,
            input: Vec::new(),
            output: Vec::new(),
            hello_frame: Vec::new(),
            refused: false,
        }
    }

    /// True once a failure frame is queued (P2P or M-Pin): send the output, then close the
    /// connection and drain what the peer already sent.
    pub fn refused(&self) -> bool {
        match &self.state {
            State::Mpin(c) => c.refused(),
            _ => self.refused,
        }
    }

    /// For an M-Pin refusal: the least time between the deciding message and the failure
    /// frame ([`MpinServerConnection::refusal_floor`]). P2P refusals have none: they all
    /// come before any pairing.
    pub fn refusal_floor(&self) -> Option<Duration> {
        match &self.state {
            State::Mpin(c) => c.refusal_floor(),
            _ => None,
        }
    }

    /// True while the handshake is not finished (and has not failed).
    pub fn is_handshaking(&self) -> bool {
        match &self.state {
            State::Mpin(c) => c.is_handshaking(),
            s => !matches!(s, State::Established(..) | State::Done),
        }
    }

    /// After [`Status::Established`]: the TLS connection (application data from here on) and
    /// who the peer is. `None` before that, or if already taken.
    pub fn into_parts(self) -> Option<(ConnectionCommon, Peer)> {
        match self.state {
            State::Established(conn, peer) => Some((conn, peer)),
            State::Mpin(c) => c.into_parts(),
            _ => None,
        }
    }

    fn step(&mut self) -> Result<Option<Status>, MpinError> {
        match std::mem::replace(&mut self.state, State::Done) {
            State::Dispatch => {
                let Some(&first) = self.input.first() else {
                    self.state = State::Dispatch;
                    return Ok(Some(Status::NeedInput));
                };
                if first == b'M' && self.input.len() < 4 {
                    self.state = State::Dispatch;
                    return Ok(Some(Status::NeedInput));
                }
                self.dispatch(first)?;
                Ok(None)
            }
            State::Preface => {
                let Some(&version) = self.input.get(PREFACE.len() - 1) else {
                    self.state = State::Preface;
                    return Ok(Some(Status::NeedInput));
                };
                if version != PREFACE[4] {
                    return Err(MpinError::Version(version));
                }
                self.input.drain(..PREFACE.len());
                self.state = State::AwaitHello;
                Ok(None)
            }
            State::AwaitHello => self.p2p(Self::hello),
            State::Computing(id) => {
                self.state = State::Computing(id);
                Err(MpinError::Internal(
                    "process() called while a job is outstanding (feed its output with complete())",
                ))
            }
            State::Tls(mut conn, bound) => {
                let r = conn.process_new_packets();
                self.output.extend_from_slice(&conn.take_tls());
                r?;
                if conn.is_handshaking() {
                    self.state = State::Tls(conn, bound);
                    return Ok(Some(Status::NeedInput));
                }
                let peer = match bound {
                    Some((psk_identity, peer)) => {
                        check_bound(conn.psk_identity(), conn.resumed(), &psk_identity)?;
                        peer
                    }
                    None => Peer::Psk {
                        identity: conn.psk_identity().unwrap_or_default().to_vec(),
                    },
                };
                self.state = State::Established(conn, peer);
                Ok(None)
            }
            State::Established(conn, peer) => {
                self.state = State::Established(conn, peer);
                Ok(Some(Status::Established))
            }
            State::Mpin(mut c) => {
                let r = c.process();
                self.state = State::Mpin(c);
                r.map(Some)
            }
            State::Done => Err(MpinError::Internal("the connection has already failed")),
        }
    }

    /// The channel arms: `MP2P` → P2P; `M…` or a TLS record with an M-Pin configuration →
    /// the M-Pin connection; a TLS record with static PSKs → plain TLS.
    fn dispatch(&mut self, first: u8) -> Result<(), MpinError> {
        let cfg = self.config.clone();
        let p2p = self.input.get(..4) == Some(&PREFACE[..4]);
        match (&cfg.responder, &cfg.mpin, &cfg.static_psks) {
            (Some(_), _, _) if p2p => {
                self.state = State::Preface;
            }
            (_, Some(mpin), _) if !p2p && (first == b'M' || first == 0x16) => {
                let mut c = MpinServerConnection::new(mpin.clone(), self.source.as_deref());
                c.read_input(&std::mem::take(&mut self.input));
                self.state = State::Mpin(Box::new(c));
            }
            (_, None, Some(store)) if first == 0x16 => {
                let store: Arc<dyn PskStore> = store.clone();
                self.start_tls(store, None)?;
            }
            _ => return Err(MpinError::UnknownProtocol(first)),
        }
        Ok(())
    }

    fn start_tls(
        &mut self,
        store: Arc<dyn PskStore>,
        bound: Option<(Vec<u8>, Peer)>,
    ) -> Result<(), MpinError> {
        let mut conn = ServerConnection::new(self.config.tls(store))?.into_common();
        conn.read_tls(&std::mem::take(&mut self.input));
        self.state = State::Tls(conn, bound);
        Ok(())
    }

    /// Runs a P2P phase step; a failure queues the one FAILURE frame.
    fn p2p<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, MpinError>,
    ) -> Result<T, MpinError> {
        f(self).inspect_err(|_| self.refuse())
    }

    fn refuse(&mut self) {
        phase::refuse(&mut self.refused, &mut self.output);
    }

    /// The HELLO: decoded and checked (allow-list, permit day); the responder job checks the
    /// rest (responder identity, Selfie, permit held, PaG1) before its pairing.
    fn hello(&mut self) -> Result<Option<Status>, MpinError> {
        let Some((kind, body)) = frame::take(&mut self.input)? else {
            self.state = State::AwaitHello;
            return Ok(Some(Status::NeedInput));
        };
        if kind != FrameType::P2pHello {
            return Err(MpinError::Protocol("expected a P2P hello frame"));
        }
        let hello = P2pHello::decode(&body).map_err(WccError::from)?;
        let cfg = &self.config;
        if let Some(allow) = &cfg.allow {
            if !allow(&hello.initiator) {
                let who = String::from_utf8_lossy(&hello.initiator).into_owned();
                return Err(MpinError::PeerNotAllowed(who));
            }
        }
        if hello.day != 0
            && !day_acceptable(hello.day, (cfg.options.clock)(), cfg.permit_grace_secs)
        {
            return Err(WccError::PermitDay(hello.day).into());
        }
        let responder: Arc<Responder> = cfg
            .responder
            .clone()
            .ok_or(MpinError::Internal("P2P hello without a responder"))?;
        self.hello_frame = frame::encode(FrameType::P2pHello, &body);
        let job = Job::new(move || -> Responded { responder.respond(&hello, &mut OsRng) });
        self.state = State::Computing(job.id());
        Ok(Some(Status::Compute(job)))
    }

    /// The responder job's result: the REPLY goes out and the TLS handshake may use only the
    /// PSK imported from this exchange.
    fn responded(&mut self, r: Responded) -> Result<(), MpinError> {
        let (reply, session) = r?;
        let reply_frame = frame::encode(FrameType::P2pReply, &reply.encode());
        let psk = import_psk(&session, &self.hello_frame, &reply_frame)?;
        self.output.extend_from_slice(&reply_frame);
        let bound = (psk.identity().to_vec(), peer_of(&session));
        let store: StaticPskStore = [psk].into_iter().collect();
        self.start_tls(Arc::new(store), Some(bound))
    }
}

/// The permit-day policy (as for M-Pin): the responder's UTC day, or yesterday during the
/// first `grace` seconds of the day.
fn day_acceptable(day: u32, now: u64, grace: u64) -> bool {
    let today = day_of(now);
    day == today || (day.checked_add(1) == Some(today) && now % DAY_SECS < grace)
}

impl Handshake for P2pServerConnection {
    fn read_input(&mut self, bytes: &[u8]) {
        match &mut self.state {
            State::Tls(conn, _) | State::Established(conn, _) => conn.read_tls(bytes),
            State::Mpin(c) => c.read_input(bytes),
            _ => self.input.extend_from_slice(bytes),
        }
    }

    fn take_output(&mut self) -> Vec<u8> {
        match &mut self.state {
            State::Tls(conn, _) | State::Established(conn, _) => {
                self.output.extend_from_slice(&conn.take_tls());
            }
            State::Mpin(c) => self.output.extend_from_slice(&c.take_output()),
            _ => {}
        }
        std::mem::take(&mut self.output)
    }

    fn process(&mut self) -> Result<Status, MpinError> {
        phase::run(self, Self::step, |this| {
            if !matches!(this.state, State::Mpin(_)) {
                this.state = State::Done;
            }
        })
    }

    fn complete(&mut self, output: JobOutput) -> Result<(), MpinError> {
        if let State::Mpin(c) = &mut self.state {
            return c.complete(output);
        }
        let expected = match self.state {
            State::Computing(id) => Some(id),
            _ => None,
        };
        let r: Responded = phase::take_job(output, expected)?;
        self.state = State::Done;
        let r = self.p2p(|this| this.responded(r));
        if r.is_err() {
            self.state = State::Done;
        }
        r
    }

    fn read_eof(&mut self) -> MpinError {
        if let State::Mpin(c) = &mut self.state {
            return c.read_eof();
        }
        let in_tls = matches!(self.state, State::Tls(..) | State::Established(..));
        if matches!(self.state, State::AwaitHello | State::Computing(_)) {
            self.refuse();
        }
        self.state = State::Done;
        phase::eof_error(in_tls)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permit_day_policy() {
        let day = 20_000u32;
        let midnight = u64::from(day) * DAY_SECS;
        assert!(day_acceptable(day, midnight + 5000, 3600));
        assert!(day_acceptable(day - 1, midnight + 3599, 3600));
        assert!(!day_acceptable(day - 1, midnight + 3600, 3600));
        assert!(!day_acceptable(day + 1, midnight + 5000, 3600));
        assert!(!day_acceptable(day - 2, midnight + 10, 3600));
        assert!(!day_acceptable(u32::MAX, midnight, 3600));
    }
}
