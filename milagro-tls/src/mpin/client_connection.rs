//! The client side of the M-Pin channel, sans-IO: the M-Pin frames and client computations
//! (as [`Job`]s), then the TLS client connection with the imported PSK; or, with a fresh
//! ticket, a plain TLS resumption.

use std::sync::Arc;

use mpin_kex::{Challenge, Client, ClientError, Credential, Hello, Mode, OnePassHello};
use mpin_kex::{OnePassReply, Response, Session};
use rand_core::OsRng;

use super::frame::{self, FrameType, PREFACE};
use super::importer::{self, SESSION_ID_LEN};
use super::job::{Handshake, Job, JobOutput, Status};
use super::phase;
use super::{MpinClientConfig, MpinError};
use crate::client::{ClientConfig, ClientConnection};
use crate::conn::ConnectionCommon;
use crate::ticket::TicketCache;

type MpinClient = Client<Arc<Credential>>;

/// What a client job hands back.
enum Done {
    Hello(MpinClient, Result<Hello, ClientError>),
    OnePassHello(MpinClient, Result<OnePassHello, ClientError>),
    Challenge(Result<(Response, Session), ClientError>),
    Reply(Result<Session, ClientError>),
}

enum State {
    /// The first job (the hello) is to be handed out.
    Start,
    /// The job with this id is running.
    Computing(u64),
    /// Multi-pass: waiting for the challenge frame.
    AwaitChallenge(MpinClient),
    /// One-pass: waiting for the reply frame.
    AwaitReply(MpinClient),
    /// The TLS handshake; `sniff`: the server's first byte may still be the failure frame.
    Tls { conn: ConnectionCommon, sniff: bool },
    /// Done.
    Established(ConnectionCommon),
    /// Failed, or the connection was taken.
    Done,
}

/// The client end of one M-Pin channel connection, sans-IO: send what
/// [`take_output`](Handshake::take_output) returns, feed the server's bytes
/// ([`read_input`](Handshake::read_input)) and act on the [`Status`] from
/// [`process`](Handshake::process) until [`Status::Established`]; then
/// [`into_connection`](Self::into_connection) gives the TLS connection.
///
/// Holding a fresh ticket in `tickets` (and with [`Options::resume`](crate::Options::resume) on), the
/// connection is a plain TLS 1.3 resumption: no M-Pin messages, no job. Tickets the server
/// issues go into `tickets`. Nothing here blocks, sleeps, spawns or reads a clock other than
/// the configured clock ([`Options::clock`](crate::Options::clock)).
pub struct MpinClientConnection {
    config: Arc<MpinClientConfig>,
    tickets: Arc<TicketCache>,
    state: State,
    input: Vec<u8>,
    output: Vec<u8>,
    session_id: [u8; SESSION_ID_LEN],
    resuming: bool,
}

impl MpinClientConnection {
    /// Starts a connection; `tickets` is where session tickets are kept between
    /// connections (share one cache across the connections of one client). A fresh ticket is
    /// taken out of it (single use) and resumed.
    pub fn new(
        config: Arc<MpinClientConfig>,
        tickets: Arc<TicketCache>,
    ) -> Result<Self, MpinError> {
        let mut this = Self {
            config,
            tickets,
            state: State::Start,
            input: Vec::new(),
            output: Vec::new(),
            session_id: [0; SESSION_ID_LEN],
            resuming: false,
        };
        if this.config.options.resume {
            if let Some(ticket) = this.tickets.take_fresh((this.config.options.clock)()) {
                let tls = this.tls_config(ClientConfig::resuming(ticket));
                let conn = ClientConnection::new(Arc::new(tls))?.into_common();
                this.state = State::Tls { conn, sniff: false };
                this.resuming = true;
            }
        }
        Ok(this)
    }

    /// True when this connection resumes a session ticket (no M-Pin exchange).
    pub fn is_resumption(&self) -> bool {
        self.resuming
    }

    /// True while the handshake is not finished (and has not failed).
    pub fn is_handshaking(&self) -> bool {
        !matches!(self.state, State::Established(_) | State::Done)
    }

    /// After [`Status::Established`]: the TLS connection (application data from here on).
    pub fn into_connection(self) -> Option<ConnectionCommon> {
        match self.state {
            State::Established(conn) => Some(conn),
            _ => None,
        }
    }

    fn tls_config(&self, mut tls: ClientConfig) -> ClientConfig {
        let cfg = &self.config;
        tls.options = cfg.options.clone();
        tls.ticket_cache = cfg.options.resume.then(|| self.tickets.clone());
        tls
    }

    fn step(&mut self) -> Result<Option<Status>, MpinError> {
        match std::mem::replace(&mut self.state, State::Done) {
            State::Start => {
                let cfg = self.config.clone();
                let (cred, pin) = (cfg.credential.clone(), cfg.pin.clone());
                let job = match cfg.mode {
                    Mode::MultiPass => Job::new(move || {
                        let mut c = Client::new(cred, pin);
                        let h = c.hello(&mut OsRng);
                        Done::Hello(c, h)
                    }),
                    Mode::OnePass => {
                        let (now, label) = ((cfg.options.clock)(), cfg.server_label.clone());
                        Job::new(move || {
                            let mut c = Client::new(cred, pin);
                            let h = c.one_pass_hello(now, &label, &mut OsRng);
                            Done::OnePassHello(c, h)
                        })
                    }
                };
                self.state = State::Computing(job.id());
                return Ok(Some(Status::Compute(job)));
            }
            State::Computing(id) => {
                self.state = State::Computing(id);
                return Err(MpinError::Internal(
                    "process() called while a job is outstanding (feed its output with complete())",
                ));
            }
            State::AwaitChallenge(mut client) => {
                let Some(body) = self.expect(FrameType::Challenge)? else {
                    self.state = State::AwaitChallenge(client);
                    return Ok(Some(Status::NeedInput));
                };
                let (sid, rest) = split_session_id(&body)?;
                self.session_id = sid;
                let challenge = Challenge::decode(rest)?;
                let job = Job::new(move || Done::Challenge(client.challenge(&challenge)));
                self.state = State::Computing(job.id());
                return Ok(Some(Status::Compute(job)));
            }
            State::AwaitReply(mut client) => {
                let Some(body) = self.expect(FrameType::OnePassReply)? else {
                    self.state = State::AwaitReply(client);
                    return Ok(Some(Status::NeedInput));
                };
                let (sid, rest) = split_session_id(&body)?;
                self.session_id = sid;
                let reply = OnePassReply::decode(rest)?;
                let job = Job::new(move || Done::Reply(client.one_pass_reply(&reply)));
                self.state = State::Computing(job.id());
                return Ok(Some(Status::Compute(job)));
            }
            State::Tls { mut conn, sniff } => {
                let sniff = match (sniff, self.input.first()) {
                    (true, None) => {
                        self.state = State::Tls { conn, sniff };
                        return Ok(Some(Status::NeedInput));
                    }
                    (true, Some(&b)) if b == FrameType::Failure as u8 => {
                        return Err(MpinError::Refused)
                    }
                    (true, Some(_)) => {
                        conn.read_tls(&std::mem::take(&mut self.input));
                        false
                    }
                    (false, _) => false,
                };
                let r = conn.process_new_packets();
                self.output.extend_from_slice(&conn.take_tls());
                r?;
                self.state = if conn.is_handshaking() {
                    State::Tls { conn, sniff }
                } else {
                    State::Established(conn)
                };
                if matches!(self.state, State::Tls { .. }) {
                    return Ok(Some(Status::NeedInput));
                }
            }
            State::Established(conn) => {
                self.state = State::Established(conn);
                return Ok(Some(Status::Established));
            }
            State::Done => return Err(MpinError::Internal("the connection has already failed")),
        }
        Ok(None)
    }

    /// The next frame if it is whole and of type `want` (a failure frame is
    /// [`MpinError::Refused`]).
    fn expect(&mut self, want: FrameType) -> Result<Option<Vec<u8>>, MpinError> {
        match frame::take(&mut self.input)? {
            None => Ok(None),
            Some((FrameType::Failure, _)) => Err(MpinError::Refused),
            Some((t, body)) if t == want => Ok(Some(body)),
            Some(_) => Err(MpinError::Protocol("unexpected frame type")),
        }
    }

    fn done(&mut self, done: Done) -> Result<(), MpinError> {
        let session = match done {
            Done::Hello(client, hello) => {
                let mut out = PREFACE.to_vec();
                out.extend_from_slice(&frame::encode(FrameType::Hello, &hello?.encode()));
                self.output.extend_from_slice(&out);
                self.state = State::AwaitChallenge(client);
                return Ok(());
            }
            Done::OnePassHello(client, hello) => {
                let mut out = PREFACE.to_vec();
                out.extend_from_slice(&frame::encode(FrameType::OnePassHello, &hello?.encode()));
                self.output.extend_from_slice(&out);
                self.state = State::AwaitReply(client);
                return Ok(());
            }
            Done::Challenge(r) => {
                let (response, session) = r?;
                // the response and the TLS ClientHello go out together
                self.output
                    .extend_from_slice(&frame::encode(FrameType::Response, &response.encode()));
                session
            }
            Done::Reply(r) => r?,
        };
        let psk = importer::session_psk(&self.session_id, &session, &self.config.server_label)?;
        let tls = self.tls_config(ClientConfig::new(psk));
        let mut conn = ClientConnection::new(Arc::new(tls))?.into_common();
        self.output.extend_from_slice(&conn.take_tls());
        self.state = State::Tls { conn, sniff: true };
        Ok(())
    }
}

impl Handshake for MpinClientConnection {
    fn read_input(&mut self, bytes: &[u8]) {
        let tls = match &mut self.state {
            State::Tls { conn, sniff: false } | State::Established(conn) => Some(conn),
            _ => None,
        };
        phase::feed(tls, &mut self.input, bytes);
    }

    fn take_output(&mut self) -> Vec<u8> {
        let tls = match &mut self.state {
            State::Tls { conn, .. } | State::Established(conn) => Some(conn),
            _ => None,
        };
        phase::drain(tls, &mut self.output)
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
        self.done(done)
    }

    fn read_eof(&mut self) -> MpinError {
        let in_tls = matches!(self.state, State::Tls { .. } | State::Established(_));
        self.state = State::Done;
        phase::eof_error(in_tls)
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
