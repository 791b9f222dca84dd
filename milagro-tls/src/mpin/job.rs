//! The "computation needed" step of the sans-IO M-Pin connections: a [`Job`] the caller runs
//! (on any thread) and feeds back as a [`JobOutput`], and the [`Status`] a connection reports
//! after each step.

use std::any::Any;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::MpinError;

/// Source of job ids: a result is accepted only by the connection, and in the state, that
/// handed out the job with the same id.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// CPU-heavy work a connection needs done (pairings, G1 multiplications): `Send + 'static`,
/// so it can run on a worker thread, a blocking pool or inline. Run it with [`Job::run`] and
/// give the output back to the connection that produced it
/// (`complete`).
///
/// A job takes about a millisecond of CPU and, unless [`Job::waits_on_network`] says so,
/// never waits: like a TLS handshake's signature in tokio-rustls, it can run inline on the
/// task that drives the connection, which saves two thread hand-offs per job.
#[must_use = "the connection waits until the job's output is fed back"]
pub struct Job {
    id: u64,
    waits_on_network: bool,
    work: Box<dyn FnOnce() -> Box<dyn Any + Send> + Send + 'static>,
}

impl Job {
    /// Wraps `work`; its result comes back through [`JobOutput::take`].
    pub(crate) fn new<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Self {
        Self {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            waits_on_network: false,
            work: Box::new(move || Box::new(work()) as Box<dyn Any + Send>),
        }
    }

    /// Marks the job as one that calls a store over the network (see
    /// [`Job::waits_on_network`]).
    pub(crate) fn on_network(mut self, waits: bool) -> Self {
        self.waits_on_network = waits;
        self
    }

    /// Whether the job may wait on the network: it calls a shared state store (the failure
    /// counts, replay cache or revocations on Redis) that answers over a socket. Run such a
    /// job on a blocking pool (`tokio::task::spawn_blocking`), never on an async worker
    /// thread, which would sit idle for the store's round trips.
    pub fn waits_on_network(&self) -> bool {
        self.waits_on_network
    }

    /// The id the connection checks the output against.
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// Does the work (this blocks for the time of a few pairings, milliseconds).
    pub fn run(self) -> JobOutput {
        JobOutput {
            id: self.id,
            value: (self.work)(),
        }
    }
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// The result of a [`Job`], to be fed back to the connection that handed the job out.
pub struct JobOutput {
    id: u64,
    value: Box<dyn Any + Send>,
}

impl JobOutput {
    /// The id of the job this answers.
    #[cfg(test)]
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// The result, if this output answers the job `expected` (the one the connection is
    /// waiting for) and holds a `T`; otherwise the output is handed back unchanged with the
    /// error a caller can act on.
    pub(crate) fn take<T: 'static>(self, expected: Option<u64>) -> Result<T, (Self, MpinError)> {
        if expected != Some(self.id) {
            return Err((self, WRONG_STATE));
        }
        match self.value.downcast::<T>() {
            Ok(v) => Ok(*v),
            Err(value) => Err((Self { id: self.id, value }, WRONG_STATE)),
        }
    }
}

/// A job result fed to a connection (or state) that did not ask for it.
const WRONG_STATE: MpinError = MpinError::Internal(
    "a job output was fed to a connection that is not waiting for that job (feed each output \
     to the connection whose process() returned the job, once)",
);

impl std::fmt::Debug for JobOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobOutput")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// What a sans-IO M-Pin connection needs next, returned by its `process` (after the caller
/// has fed input with `read_input`). In every state, first send what `take_output` returns.
#[derive(Debug)]
#[must_use]
pub enum Status {
    /// More bytes from the peer are needed: feed them with `read_input`, then call
    /// `process` again.
    NeedInput,
    /// Run the job (on any thread), feed its output with `complete`, then call `process`
    /// again. No input is needed meanwhile (bytes that arrive may still be fed).
    Compute(Job),
    /// The lockout gate says other attempts of the same identity are being verified: wait
    /// this long (the caller's handshake timeout bounds the whole wait), then call `process`
    /// again, which hands out the same computation as a new job.
    RetryAfter(Duration),
    /// The M-Pin exchange and the TLS handshake are done: take the TLS connection (and, on
    /// the server, the [`Peer`](super::Peer)) with `into_parts` after sending the output.
    Established,
}

/// The sans-IO handshake interface of the channel connections
/// ([`MpinClientConnection`](super::MpinClientConnection),
/// [`MpinServerConnection`](super::MpinServerConnection)): one driver loop serves them all.
///
/// The loop: call [`process`](Self::process); send [`take_output`](Self::take_output); then
/// act on the [`Status`]. An error is final; send the output once more (a failure frame or
/// TLS alert may be queued) before closing.
pub trait Handshake {
    /// Bytes received from the peer.
    fn read_input(&mut self, bytes: &[u8]);
    /// Bytes to send to the peer (empty when there is nothing to send).
    fn take_output(&mut self) -> Vec<u8>;
    /// Processes what was fed; says what is needed next.
    fn process(&mut self) -> Result<Status, MpinError>;
    /// Feeds back the output of the [`Job`] the last [`Status::Compute`] handed out. An output
    /// of another job, or of another connection, or one this connection is not waiting for,
    /// is refused with [`MpinError::Internal`] and changes nothing.
    fn complete(&mut self, output: JobOutput) -> Result<(), MpinError>;
    /// The peer closed its side before the handshake finished: the error to report (the
    /// connection has failed; its output may still hold a failure frame).
    fn read_eof(&mut self) -> MpinError;
}
