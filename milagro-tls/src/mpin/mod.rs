//! The M-Pin channel: M-Pin Full authentication in front of the TLS 1.3 PSK engine
//! (DESIGN §4; byte layout in `milagro-tls/PROTOCOL.md`).
//!
//! ```text
//! client                                         server
//! "MPIN" 01, Hello{ID, day, U, UT, Z}    ───►
//!                                        ◄───    Challenge{session id, y, T}   (or Failure, close)
//! Response{V}, TLS ClientHello(PSK)      ───►    PSK = RFC 9258 import(M-Pin key, session id, HM…)
//!                                        ◄───    TLS ServerHello … Finished
//! ```
//!
//! The PSK binder is the client's key confirmation and the server's Finished the server's; each
//! imported PSK serves exactly one handshake. An [`MpinAcceptor`] also serves plain TLS-PSK
//! peers (OpenSSL, GnuTLS, stunnel) on the same port when it has a static PSK store: a first
//! byte `0x16` is a TLS record, `M` the M-Pin preface.
//!
//! Resumption: after an M-Pin handshake the server issues a single-use session ticket bound to
//! the M-Pin identity, expiring with the time permit's day; the [`MpinConnector`] keeps the
//! latest one and its next connection is a plain TLS 1.3 `psk_dhe_ke` resumption (no M-Pin
//! messages, no pairing), reported as `Peer::Mpin { resumed: true, .. }`.

mod client;
pub mod frame;
pub mod importer;
mod resume;
mod rewind;
mod server;

use std::io;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::Semaphore;

pub use client::{MpinClientConfig, MpinConnector};
pub use mpin_kex::Mode;
pub use rewind::Rewind;
pub use server::{MpinAcceptor, MpinServerConfig, Peer, DEFAULT_TICKET_LIFETIME};

/// Why an M-Pin connection failed.
#[derive(Debug, thiserror::Error)]
pub enum MpinError {
    /// Transport error.
    #[error("transport: {0}")]
    Io(#[from] io::Error),
    /// The peer broke the framing protocol.
    #[error("M-Pin protocol violation: {0}")]
    Protocol(&'static str),
    /// The client spoke another M-Pin channel version.
    #[error("unsupported M-Pin channel version {0} (this side speaks 1)")]
    Version(u8),
    /// The first bytes are neither the M-Pin preface nor (with a static PSK store) TLS.
    #[error("peer speaks neither M-Pin nor TLS (first byte 0x{0:02x})")]
    UnknownProtocol(u8),
    /// The server refused the authentication (generic failure frame).
    #[error("the server refused the M-Pin authentication (wrong PIN, revoked or locked identity, missing permit, or not allowed)")]
    Refused,
    /// Server side: the client's authentication failed (the wire only says "failed").
    #[error("M-Pin authentication failed: {0}")]
    Auth(#[from] mpin_kex::AuthError),
    /// Client side: the server's messages were invalid.
    #[error("M-Pin client: {0}")]
    Client(#[from] mpin_kex::ClientError),
    /// A malformed M-Pin message.
    #[error("malformed M-Pin message: {0}")]
    Decode(#[from] mpin_kex::DecodeError),
    /// The TLS handshake after the M-Pin exchange failed.
    #[error("TLS: {0}")]
    Tls(#[from] crate::Error),
    /// Server side: the TLS handshake after the M-Pin exchange did not use the PSK imported
    /// from that exchange (e.g. a spliced-in ticket or static PSK); refused, no peer reported.
    #[error("the TLS session is not bound to the M-Pin exchange (it did not use the imported PSK); connection refused")]
    Unbound,
    /// The whole handshake did not finish in time.
    #[error("M-Pin/TLS handshake timed out")]
    Timeout,
    /// A blocking computation task failed.
    #[error("internal error: {0}")]
    Internal(&'static str),
}

impl MpinError {
    /// True for server-side authentication failures that are *not* attributable to the
    /// identity's token, and so are charged to the connection's source (its rate limit)
    /// rather than to the identity: a proof that failed without a PIN-error distance in range
    /// (another credential, a forgery, a wrong permit), malformed messages or invalid points,
    /// degenerate values, replays, identities outside the allow-list, and protocol
    /// violations. False for a wrong PIN with the genuine token (counted against the
    /// identity), lockouts (of the identity, of the pair identity and source, or of the
    /// identity's distributed budget: refused before any pairing), permit-day and clock
    /// problems, timeouts and I/O errors.
    pub fn is_source_failure(&self) -> bool {
        use mpin_kex::AuthError as A;
        match self {
            MpinError::Protocol(_)
            | MpinError::Version(_)
            | MpinError::UnknownProtocol(_)
            | MpinError::Decode(_)
            | MpinError::Unbound => true,
            MpinError::Auth(e) => match e {
                A::BadProof { genuine_token, .. } => !genuine_token,
                A::Decode(_) | A::Degenerate(_) | A::State(_) | A::Replay | A::NotAllowed => true,
                A::PermitRequired
                | A::PermitDay { .. }
                | A::Stale { .. }
                | A::LockedOut { .. }
                | A::SourceLockedOut { .. }
                | A::DistributedLockedOut { .. }
                | A::Busy
                | A::Revoked
                | A::StateUnavailable
                | A::Expired(_) => false,
            },
            MpinError::Io(_)
            | MpinError::Refused
            | MpinError::Client(_)
            | MpinError::Tls(_)
            | MpinError::Timeout
            | MpinError::Internal(_) => false,
        }
    }
}

impl From<MpinError> for io::Error {
    fn from(e: MpinError) -> Self {
        let kind = match &e {
            MpinError::Io(inner) => inner.kind(),
            MpinError::Timeout => io::ErrorKind::TimedOut,
            MpinError::Refused | MpinError::Auth(_) | MpinError::Unbound => {
                io::ErrorKind::PermissionDenied
            }
            _ => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, e)
    }
}

/// The [`MpinError`] inside an `io::Error` returned by this module, if any.
pub fn mpin_error(e: &io::Error) -> Option<&MpinError> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<MpinError>())
}

pub use crate::options::{system_clock, Clock, DEFAULT_HANDSHAKE_TIMEOUT};

/// Runs a whole handshake under `limit`; the error comes back as an `io::Error` carrying the
/// [`MpinError`] (see [`mpin_error`]).
async fn bounded<T>(
    limit: Duration,
    fut: impl std::future::Future<Output = Result<T, MpinError>>,
) -> io::Result<T> {
    match tokio::time::timeout(limit, fut).await {
        Ok(r) => r.map_err(io::Error::from),
        Err(_) => Err(MpinError::Timeout.into()),
    }
}

/// The process-wide bound on pairing computations running at once: one per core.
fn pairing_permits() -> &'static Arc<Semaphore> {
    static PERMITS: OnceLock<Arc<Semaphore>> = OnceLock::new();
    PERMITS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        Arc::new(Semaphore::new(cores))
    })
}

/// Runs a CPU-heavy closure (pairings) off the async reactor, at most one per core at a time
/// (process-wide, first come first served), so a flood of handshakes cannot grow the blocking
/// pool or starve the reactor. Waiting for a core counts against the caller's handshake
/// timeout; the permit is held until the computation ends, even if the caller gave up.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, MpinError> {
    let permit = pairing_permits()
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| MpinError::Internal("pairing limiter closed"))?;
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        f()
    })
    .await
    .map_err(|_| MpinError::Internal("computation task failed"))
}

/// Turns an `io::Error` from the TLS layer back into a typed error where possible.
fn tls_io(e: io::Error) -> MpinError {
    if let Some(inner) = crate::stream::tls_error(&e) {
        return MpinError::Tls(inner.clone());
    }
    if matches!(mpin_error(&e), Some(MpinError::Refused)) {
        return MpinError::Refused;
    }
    MpinError::Io(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn pairing_work_runs_at_most_one_per_core() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .max_blocking_threads(64)
            .enable_all()
            .build()
            .unwrap();
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        rt.block_on(async {
            let tasks: Vec<_> = (0..4 * cores + 8)
                .map(|_| {
                    let (running, most) = (running.clone(), most.clone());
                    tokio::spawn(blocking(move || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(20));
                        running.fetch_sub(1, Ordering::SeqCst);
                    }))
                })
                .collect();
            for t in tasks {
                t.await.unwrap().unwrap();
            }
        });
        let most = most.load(Ordering::SeqCst);
        assert!(
            most >= 1 && most <= cores,
            "{most} ran at once on {cores} cores"
        );
    }
}
