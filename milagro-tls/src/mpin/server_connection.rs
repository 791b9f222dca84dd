//! The server side of the M-Pin channel, sans-IO: the first-byte dispatch, the M-Pin frames
//! and proof checks (as [`Job`]s), and the TLS server connection that follows; plain TLS-PSK
//! peers and ticket resumptions are served by the same connection.

use std::sync::Arc;
use std::time::Duration;

use mpin_kex::{Hello, OnePassHello, Response, Server, Session};
use rand_core::{OsRng, RngCore};

use super::frame::{self, FrameType, PREFACE};
use super::importer::SESSION_ID_LEN;
use super::job::{Handshake, Job, JobOutput, Status};
use super::peer::Peer;
use super::phase;
use super::server_step::{Outcome, Step, StepDone};
use super::server_tls::TlsKind;
use super::{Clock, MpinError, MpinServerConfig};
use crate::conn::ConnectionCommon;

/// First pause before asking again when the lockout gate says other attempts of the same
/// identity are being verified; it doubles up to [`BUSY_RETRY_MAX`] (the caller's handshake
/// timeout bounds the whole wait).
const BUSY_RETRY: Duration = Duration::from_millis(1);
/// Longest pause between two asks.
const BUSY_RETRY_MAX: Duration = Duration::from_millis(16);
/// Least time between the deciding M-Pin message and the failure frame (longer than a proof
/// check and its PIN-error classification, ≈4 ms, on an idle server).
pub const REFUSAL_FLOOR: Duration = Duration::from_millis(25);

pub(super) enum State {
    /// Waiting for the first byte, which picks the protocol.
    Dispatch,
    /// `M`: waiting for the rest of the M-Pin preface.
    Preface,
    /// Waiting for the hello frame.
    AwaitHello(Server),
    /// A step is ready to be handed out as a job (first time or after a busy answer).
    Ready(Server, Step),
    /// The job with this id is running.
    Computing(u64),
    /// The challenge went out; waiting for the response frame.
    AwaitResponse(Server),
    /// The TLS handshake, after an M-Pin exchange (bound to its imported PSK) or straight
    /// away (static PSK or ticket).
    Tls(ConnectionCommon, TlsKind),
    /// Done: the TLS connection and who is on the other end.
    Established(ConnectionCommon, Peer),
    /// Failed (the error was returned), or the parts were taken.
    Done,
}

/// The server end of one M-Pin channel connection, sans-IO: feed it the client's bytes
/// ([`read_input`](Handshake::read_input)), send what [`take_output`](Handshake::take_output)
/// returns, and act on the [`Status`] from [`process`](Handshake::process) until
/// [`Status::Established`]; then [`into_parts`](Self::into_parts) gives the TLS connection
/// and the [`Peer`].
///
/// The first byte picks the protocol: `M` starts the M-Pin preface; `0x16` (a TLS record) a
/// plain TLS handshake for static-PSK peers ([`MpinServerConfig::static_psks`]) and ticket
/// resumptions ([`MpinServerConfig::tickets`]); anything else fails with
/// [`MpinError::UnknownProtocol`]. Nothing here blocks, sleeps, spawns or reads a clock other
/// than the configured clock ([`Options::clock`](crate::Options::clock)) (inside jobs and for ticket checks).
///
/// On an M-Pin failure the connection queues the one generic failure frame
/// ([`refused`](Self::refused)); the caller sends it (no sooner than
/// [`refusal_floor`](Self::refusal_floor) after the deciding message arrived), closes and
/// drains. TLS failures queue the TLS alert.
pub struct MpinServerConnection {
    pub(super) config: Arc<MpinServerConfig>,
    source: Option<Vec<u8>>,
    pub(super) state: State,
    pub(super) input: Vec<u8>,
    output: Vec<u8>,
    pub(super) session_id: [u8; SESSION_ID_LEN],
    pause: Duration,
    retry: Option<Duration>,
    refused: bool,
    floor: bool,
}

impl State {
    /// The TLS connection of the TLS phases, where peer bytes go.
    fn tls(&mut self) -> Option<&mut ConnectionCommon> {
        match self {
            State::Tls(conn, _) | State::Established(conn, _) => Some(conn),
            _ => None,
        }
    }
}

impl MpinServerConnection {
    /// A connection for one client. `source` names where it comes from (an opaque prefix key
    /// such as the peer's IPv4 address or IPv6 /48) for the per-source lockout
    /// ([`mpin_kex::Server::with_source`]); `None`: the identity's lockout only.
    pub fn new(config: Arc<MpinServerConfig>, source: Option<&[u8]>) -> Self {
        Self {
            config,
            source: source.map(<[u8]>::to_vec),
            state: State::Dispatch,
            input: Vec::new(),
            output: Vec::new(),
            session_id: [0; SESSION_ID_LEN],
            pause: BUSY_RETRY,
            retry: None,
            refused: false,
            floor: false,
        }
    }

    /// True once the generic failure frame is queued: send the output, then close the
    /// connection and drain what the client already sent (its TLS ClientHello travels with
    /// the response), so that closing does not reset the connection before it read the frame.
    pub fn refused(&self) -> bool {
        self.refused
    }

    /// When [`refused`](Self::refused) by a deciding step (a proof check or a policy refusal
    /// at the deciding message): the least time between that message's arrival and the
    /// failure frame, so that a policy refusal (no pairing) and a rejected proof take the same
    /// time.
    pub fn refusal_floor(&self) -> Option<Duration> {
        (self.refused && self.floor).then_some(REFUSAL_FLOOR)
    }

    /// True while the handshake is not finished (and has not failed).
    pub fn is_handshaking(&self) -> bool {
        !matches!(self.state, State::Established(..) | State::Done)
    }

    /// After [`Status::Established`]: the TLS connection (application data from here on) and
    /// who the peer is. `None` before that, or if already taken.
    pub fn into_parts(self) -> Option<(ConnectionCommon, Peer)> {
        match self.state {
            State::Established(conn, peer) => Some((conn, peer)),
            _ => None,
        }
    }

    fn new_server(&self) -> Server {
        let s = Server::new(self.config.context.clone());
        match &self.source {
            Some(src) => s.with_source(src),
            None => s,
        }
    }

    /// One step of the state machine; `Ok(None)`: go on with the next state.
    fn step(&mut self) -> Result<Option<Status>, MpinError> {
        match std::mem::replace(&mut self.state, State::Done) {
            State::Dispatch => {
                let Some(&first) = self.input.first() else {
                    self.state = State::Dispatch;
                    return Ok(Some(Status::NeedInput));
                };
                self.dispatch(first)?;
            }
            State::Preface => {
                let Some(p) = self.input.get(..PREFACE.len()) else {
                    self.state = State::Preface;
                    return Ok(Some(Status::NeedInput));
                };
                if p[..4] != PREFACE[..4] {
                    return Err(MpinError::UnknownProtocol(p[0]));
                }
                if p[4] != PREFACE[4] {
                    return Err(MpinError::Version(p[4]));
                }
                self.input.drain(..PREFACE.len());
                self.state = State::AwaitHello(self.new_server());
            }
            State::AwaitHello(server) => {
                if !self.auth(|this| this.hello(server))? {
                    return Ok(Some(Status::NeedInput));
                }
            }
            State::AwaitResponse(server) => {
                if !self.auth(|this| this.response(server))? {
                    return Ok(Some(Status::NeedInput));
                }
            }
            State::Ready(server, step) => {
                if let Some(pause) = self.retry.take() {
                    self.state = State::Ready(server, step);
                    return Ok(Some(Status::RetryAfter(pause)));
                }
                let decides = step.decides();
                let clock: Clock = self.config.options.clock.clone();
                let remote = self.config.context.waits_on_network();
                let job = Job::new(move || -> StepDone {
                    let mut server = server;
                    let result = step.run(&mut server, clock());
                    (server, step, result)
                })
                .on_network(remote);
                self.floor = decides;
                self.state = State::Computing(job.id());
                return Ok(Some(Status::Compute(job)));
            }
            State::Computing(id) => {
                self.state = State::Computing(id);
                return Err(MpinError::Internal(
                    "process() called while a job is outstanding (feed its output with complete())",
                ));
            }
            State::Tls(mut conn, kind) => {
                let r = conn.process_new_packets();
                self.output.extend_from_slice(&conn.take_tls());
                r?;
                if conn.is_handshaking() {
                    self.state = State::Tls(conn, kind);
                    return Ok(Some(Status::NeedInput));
                }
                let peer = self.finish_tls(&conn, kind)?;
                self.state = State::Established(conn, peer);
            }
            State::Established(conn, peer) => {
                self.state = State::Established(conn, peer);
                return Ok(Some(Status::Established));
            }
            State::Done => return Err(MpinError::Internal("the connection has already failed")),
        }
        Ok(None)
    }

    /// Runs an M-Pin phase step; a failure queues the generic failure frame.
    fn auth<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, MpinError>,
    ) -> Result<T, MpinError> {
        f(self).inspect_err(|_| self.refuse())
    }

    fn refuse(&mut self) {
        phase::refuse(&mut self.refused, &mut self.output);
    }

    /// Takes the hello frame; `false` while it is incomplete.
    fn hello(&mut self, server: Server) -> Result<bool, MpinError> {
        let Some((kind, body)) = frame::take(&mut self.input)? else {
            self.state = State::AwaitHello(server);
            return Ok(false);
        };
        OsRng.fill_bytes(&mut self.session_id);
        let step = match kind {
            FrameType::Hello => Step::Hello(Hello::decode(&body)?),
            FrameType::OnePassHello => {
                let hello = OnePassHello::decode(&body)?;
                if hello.message != self.config.server_label {
                    return Err(MpinError::Protocol(
                        "one-pass proof is bound to another server label",
                    ));
                }
                Step::OnePass(hello)
            }
            _ => return Err(MpinError::Protocol("expected a hello frame")),
        };
        self.state = State::Ready(server, step);
        Ok(true)
    }

    /// Takes the response frame; `false` while it is incomplete.
    fn response(&mut self, server: Server) -> Result<bool, MpinError> {
        let Some((kind, body)) = frame::take(&mut self.input)? else {
            self.state = State::AwaitResponse(server);
            return Ok(false);
        };
        if kind != FrameType::Response {
            return Err(MpinError::Protocol("unexpected frame type"));
        }
        self.state = State::Ready(server, Step::Response(Response::decode(&body)?));
        Ok(true)
    }

    /// A finished step: asks again later while busy, else queues the next frame; returns the
    /// session once the client is authenticated.
    fn stepped(&mut self, done: StepDone) -> Result<Option<Session>, MpinError> {
        let (server, step, result) = done;
        let outcome = match result {
            Err(e) if e.is_busy() && step.decides() => {
                let pause = self.pause;
                self.pause = (pause * 2).min(BUSY_RETRY_MAX);
                self.retry = Some(pause);
                self.state = State::Ready(server, step);
                return Ok(None);
            }
            r => r?,
        };
        let mut body = self.session_id.to_vec();
        let session = match outcome {
            Outcome::Challenge(c) => {
                body.extend_from_slice(&c.encode());
                self.output
                    .extend_from_slice(&frame::encode(FrameType::Challenge, &body));
                self.state = State::AwaitResponse(server);
                return Ok(None);
            }
            Outcome::Session(s) => s,
            Outcome::OnePass(reply, s) => {
                body.extend_from_slice(&reply.encode());
                self.output
                    .extend_from_slice(&frame::encode(FrameType::OnePassReply, &body));
                s
            }
        };
        Ok(Some(session))
    }
}

impl Handshake for MpinServerConnection {
    fn read_input(&mut self, bytes: &[u8]) {
        phase::feed(self.state.tls(), &mut self.input, bytes);
    }

    fn take_output(&mut self) -> Vec<u8> {
        phase::drain(self.state.tls(), &mut self.output)
    }

    fn process(&mut self) -> Result<Status, MpinError> {
        phase::run(self, Self::step, |this| this.state = State::Done)
    }

    fn complete(&mut self, output: JobOutput) -> Result<(), MpinError> {
        let computing = match self.state {
            State::Computing(id) => Some(id),
            _ => None,
        };
        let done: StepDone = phase::take_job(output, computing)?;
        self.state = State::Done;
        let r = match self.auth(|this| this.stepped(done)) {
            Ok(Some(session)) => self.start_bound_tls(session),
            Ok(None) => Ok(()),
            Err(e) => Err(e),
        };
        if r.is_err() {
            self.state = State::Done;
        }
        r
    }

    fn read_eof(&mut self) -> MpinError {
        let in_tls = matches!(self.state, State::Tls(..) | State::Established(..));
        if !in_tls && !matches!(self.state, State::Dispatch | State::Preface | State::Done) {
            self.refuse();
        }
        self.state = State::Done;
        phase::eof_error(in_tls)
    }
}
