//! The initiator side of the P2P channel, sans-IO: the WCC hello and reply (computations as
//! [`Job`]s), then the TLS client connection with the imported PSK.

use std::sync::Arc;

use mpin_kex::wcc::{Initiator, P2pHello, P2pReply, WccError, WccSession};
use rand_core::OsRng;

use super::{import_psk, peer_of, P2pClientConfig, PREFACE};
use crate::client::{ClientConfig, ClientConnection};
use crate::conn::ConnectionCommon;
use crate::mpin::frame::{self, FrameType};
use crate::mpin::phase;
use crate::mpin::{Handshake, Job, JobOutput, MpinError, Peer, Status};

/// What an initiator job hands back.
enum Done {
    Hello(Result<Box<(Initiator, P2pHello)>, WccError>),
    Reply(Result<WccSession, WccError>),
}

enum State {
    /// The first job (key set-up and hello) is to be handed out.
    Start,
    /// The job with this id is running.
    Computing(u64),
    /// Waiting for the REPLY frame.
    AwaitReply(Initiator),
    /// The TLS handshake with the imported PSK.
    Tls(ConnectionCommon, Peer),
    /// Done.
    Established(ConnectionCommon, Peer),
    /// Failed, or the connection was taken.
    Done,
}

/// The initiator end of one P2P link, sans-IO: send what
/// [`take_output`](Handshake::take_output) returns, feed the responder's bytes
/// ([`read_input`](Handshake::read_input)) and act on the [`Status`] from
/// [`process`](Handshake::process) until [`Status::Established`]; then
/// [`into_parts`](Self::into_parts) gives the TLS connection and the [`Peer::P2p`] (the
/// responder is [`P2pClientConfig::peer`], authenticated by the server Finished).
///
/// A FAILURE frame is [`MpinError::PeerRefused`]; a REPLY from another identity than the one
/// dialled, or with an invalid point, is refused before any pairing. The initiator sends no
/// failure frame: it just closes. Nothing here blocks, sleeps, spawns or reads a clock other
/// than the configured `options.clock` (in the TLS layer).
pub struct P2pClientConnection {
    config: Arc<P2pClientConfig>,
    state: State,
    input: Vec<u8>,
    output: Vec<u8>,
    hello_frame: Vec<u8>,
    reply_frame: Vec<u8>,
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

impl P2pClientConnection {
    /// Starts a link to [`P2pClientConfig::peer`]. Refuses at once a peer equal to our own
    /// identity (Selfie) or an identity outside 1..=1024 bytes.
    pub fn new(config: Arc<P2pClientConfig>) -> Result<Self, MpinError> {
        for id in [&config.identity, &config.peer] {
            if id.is_empty() || id.len() > mpin_kex::wcc::messages::MAX_IDENTITY_LEN {
                return Err(WccError::IdentityLength(id.len()).into());
            }
        }
        if config.identity == config.peer {
            return Err(WccError::SelfPeer.into());
        }
        Ok(Self {
            config,
            state: State::Start,
            input: Vec::new(),
            output: Vec::new(),
            hello_frame: Vec::new(),
            reply_frame: Vec::new(),
        })
    }

    /// True while the handshake is not finished (and has not failed).
    pub fn is_handshaking(&self) -> bool {
        !matches!(self.state, State::Established(..) | State::Done)
    }

    /// After [`Status::Established`]: the TLS connection (application data from here on) and
    /// the authenticated link ([`Peer::P2p`]). `None` before that, or if already taken.
    pub fn into_parts(self) -> Option<(ConnectionCommon, Peer)> {
        match self.state {
            State::Established(conn, peer) => Some((conn, peer)),
            _ => None,
        }
    }

    fn step(&mut self) -> Result<Option<Status>, MpinError> {
        match std::mem::replace(&mut self.state, State::Done) {
            State::Start => {
                let cfg = self.config.clone();
                let job = Job::new(move || {
                    Done::Hello(
                        Initiator::new(&cfg.identity, &cfg.key, cfg.permit.as_ref(), &cfg.peer)
                            .and_then(|mut i| {
                                let hello = i.hello(&mut OsRng)?;
                                Ok(Box::new((i, hello)))
                            }),
                    )
                });
                self.state = State::Computing(job.id());
                Ok(Some(Status::Compute(job)))
            }
            State::Computing(id) => {
                self.state = State::Computing(id);
                Err(MpinError::Internal(
                    "process() called while a job is outstanding (feed its output with complete())",
                ))
            }
            State::AwaitReply(mut initiator) => {
                let Some((kind, body)) = frame::take(&mut self.input)? else {
                    self.state = State::AwaitReply(initiator);
                    return Ok(Some(Status::NeedInput));
                };
                let reply = match kind {
                    FrameType::Failure => return Err(MpinError::PeerRefused),
                    FrameType::P2pReply => P2pReply::decode(&body).map_err(WccError::from)?,
                    _ => return Err(MpinError::Protocol("expected a P2P reply frame")),
                };
                // the identity checks again here, before handing out the pairing job
                if reply.responder == self.config.identity {
                    return Err(WccError::SelfPeer.into());
                }
                if reply.responder != self.config.peer {
                    return Err(WccError::WrongPeer.into());
                }
                self.reply_frame = frame::encode(FrameType::P2pReply, &body);
                let job = Job::new(move || Done::Reply(initiator.reply(&reply)));
                self.state = State::Computing(job.id());
                Ok(Some(Status::Compute(job)))
            }
            State::Tls(mut conn, peer) => {
                let r = conn.process_new_packets();
                self.output.extend_from_slice(&conn.take_tls());
                r?;
                if conn.is_handshaking() {
                    self.state = State::Tls(conn, peer);
                    return Ok(Some(Status::NeedInput));
                }
                self.state = State::Established(conn, peer);
                Ok(None)
            }
            State::Established(conn, peer) => {
                self.state = State::Established(conn, peer);
                Ok(Some(Status::Established))
            }
            State::Done => Err(MpinError::Internal("the connection has already failed")),
        }
    }

    fn done(&mut self, done: Done) -> Result<(), MpinError> {
        match done {
            Done::Hello(r) => {
                let (initiator, hello) = *r?;
                self.hello_frame = frame::encode(FrameType::P2pHello, &hello.encode());
                self.output.extend_from_slice(&PREFACE);
                self.output.extend_from_slice(&self.hello_frame);
                self.state = State::AwaitReply(initiator);
            }
            Done::Reply(r) => {
                let session = r?;
                let psk = import_psk(&session, &self.hello_frame, &self.reply_frame)?;
                let mut tls = ClientConfig::with_options(psk, self.config.options.clone());
                tls.ticket_cache = None;
                let mut conn = ClientConnection::new(Arc::new(tls))?.into_common();
                conn.read_tls(&std::mem::take(&mut self.input));
                self.output.extend_from_slice(&conn.take_tls());
                self.state = State::Tls(conn, peer_of(&session));
            }
        }
        Ok(())
    }
}

impl Handshake for P2pClientConnection {
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
        let done: Done = phase::take_job(output, computing)?;
        self.state = State::Done;
        let r = self.done(done);
        if r.is_err() {
            self.state = State::Done;
        }
        r
    }

    fn read_eof(&mut self) -> MpinError {
        let in_tls = matches!(self.state, State::Tls(..) | State::Established(..));
        self.state = State::Done;
        phase::eof_error(in_tls)
    }
}
