//! The tokio side of the M-Pin channel: runs a sans-IO [`Handshake`] over an async transport,
//! its jobs on the process-wide pairing pool, its busy retries as sleeps, the whole handshake
//! under a timeout.

use std::io;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::job::{Handshake, Job, JobOutput, Status};
use super::MpinError;
use crate::conn::ConnectionCommon;
use crate::stream::TlsStream;

/// Bytes read from the transport at a time during the handshake.
const READ_CHUNK: usize = 16 * 1024;
/// How long a refused client is drained after the failure frame, and how much of it.
const DRAIN_TIME: Duration = Duration::from_millis(500);
const DRAIN_BYTES: usize = 64 * 1024;

/// Runs a whole handshake under `limit`; the error comes back as an `io::Error` carrying the
/// [`MpinError`] (see [`super::mpin_error`]).
pub(crate) async fn bounded<T>(
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

/// Runs a job, at most one per core at a time process-wide (first come first served), so a
/// flood of handshakes cannot take more than the cores nor grow a thread pool. A job that
/// never waits runs inline, on this task's worker thread (as tokio-rustls runs a handshake's
/// signature): a job is about a millisecond of CPU, and a hand-off to another thread and
/// back cost about a quarter of a full M-Pin connection's CPU (measured, see
/// `scripts/bench_tunnel.sh --rate`). A job that may wait on the network (a Redis store)
/// runs on tokio's blocking pool, so no worker thread idles through the round trips. Waiting
/// for a core counts against the caller's handshake timeout; the permit is held until the
/// computation ends, even if the caller gave up.
async fn compute(job: Job) -> Result<JobOutput, MpinError> {
    if job.waits_on_network() {
        blocking(move || job.run()).await
    } else {
        let _permit = pairing_permit().await?;
        Ok(job.run())
    }
}

/// One of the process-wide pairing permits (one per core).
async fn pairing_permit() -> Result<OwnedSemaphorePermit, MpinError> {
    pairing_permits()
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| MpinError::Internal("pairing limiter closed"))
}

/// Runs `f` on tokio's blocking pool under a pairing permit (see [`compute`]).
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, MpinError> {
    let permit = pairing_permit().await?;
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        f()
    })
    .await
    .map_err(|_| MpinError::Internal("computation task failed"))
}

/// Writes what the connection queued.
async fn flush<IO: AsyncWrite + Unpin>(conn: &mut impl Handshake, io: &mut IO) -> io::Result<()> {
    let out = conn.take_output();
    if !out.is_empty() {
        io.write_all(&out).await?;
        io.flush().await?;
    }
    Ok(())
}

/// Drives `conn` over `io` until it is established. `last_read` is when input last arrived
/// (the deciding message's arrival, for the refusal floor).
async fn run<IO: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut impl Handshake,
    io: &mut IO,
    last_read: &mut Instant,
) -> Result<(), MpinError> {
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        let status = conn.process()?;
        flush(conn, io).await?;
        match status {
            Status::NeedInput => {
                let n = io.read(&mut buf).await?;
                if n == 0 {
                    return Err(conn.read_eof());
                }
                *last_read = Instant::now();
                conn.read_input(&buf[..n]);
            }
            Status::Compute(job) => conn.complete(compute(job).await?)?,
            Status::RetryAfter(pause) => tokio::time::sleep(pause).await,
            Status::Established => return Ok(()),
        }
    }
}

/// What to do with the transport after a failed handshake.
pub(crate) enum OnFailure {
    /// Send what is queued (a TLS alert), best effort.
    Send,
    /// A refusal (server): wait until `floor` after the last input, send the failure frame,
    /// close our side and drain what the client already sent (its TLS ClientHello travels with
    /// the response), so that closing does not reset the connection before the client has
    /// read the failure. Best effort, bounded in time and size.
    Refuse { floor: Option<Duration> },
}

/// A server connection's failure: a refusal (`refused`, its failure frame queued) is sent
/// after the refusal floor, if any; anything else (a TLS alert) is just sent.
pub(crate) fn server_failure(refused: bool, floor: Option<Duration>) -> OnFailure {
    if refused {
        OnFailure::Refuse { floor }
    } else {
        OnFailure::Send
    }
}

/// The stream over `io` from what an established connection hands over (`None`: the
/// handshake ended without one, an internal error), with what comes with it (the peer).
pub(crate) fn established<IO, T>(
    io: IO,
    parts: Option<(ConnectionCommon, T)>,
) -> Result<(TlsStream<IO>, T), MpinError> {
    let (conn, extra) = parts.ok_or(MpinError::Internal("handshake ended without a connection"))?;
    Ok((TlsStream::established(io, conn), extra))
}

/// Drives `conn` over `io`; on failure, handles the transport as `on_failure(conn)` says and
/// returns the error.
pub(crate) async fn handshake<C: Handshake, IO: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut C,
    io: &mut IO,
    on_failure: impl FnOnce(&C) -> OnFailure,
) -> Result<(), MpinError> {
    let mut last_read = Instant::now();
    let Err(e) = run(conn, io, &mut last_read).await else {
        return Ok(());
    };
    match on_failure(conn) {
        OnFailure::Send => {
            let _ = flush(conn, io).await;
        }
        OnFailure::Refuse { floor } => {
            if let Some(floor) = floor {
                tokio::time::sleep_until(last_read + floor).await;
            }
            let _ = flush(conn, io).await;
            let _ = io.shutdown().await;
            let drain = async {
                let mut sink = [0u8; 4096];
                let mut total = 0usize;
                while total < DRAIN_BYTES {
                    match io.read(&mut sink).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => total += n,
                    }
                }
            };
            let _ = tokio::time::timeout(DRAIN_TIME, drain).await;
        }
    }
    Err(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn pairing_work_runs_at_most_one_per_core_inline_or_on_the_blocking_pool() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(4)
            .max_blocking_threads(64)
            .enable_all()
            .build()
            .unwrap();
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        for on_network in [false, true] {
            let running = Arc::new(AtomicUsize::new(0));
            let most = Arc::new(AtomicUsize::new(0));
            rt.block_on(async {
                let tasks: Vec<_> = (0..4 * cores + 8)
                    .map(|_| {
                        let (running, most) = (running.clone(), most.clone());
                        let job = Job::new(move || {
                            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                            most.fetch_max(now, Ordering::SeqCst);
                            std::thread::sleep(Duration::from_millis(20));
                            running.fetch_sub(1, Ordering::SeqCst);
                        })
                        .on_network(on_network);
                        tokio::spawn(compute(job))
                    })
                    .collect();
                for t in tasks {
                    t.await.unwrap().unwrap();
                }
            });
            let most = most.load(Ordering::SeqCst);
            assert!(
                most >= 1 && most <= cores,
                "{most} ran at once on {cores} cores (on_network: {on_network})"
            );
        }
    }

    #[test]
    fn jobs_run_inline_unless_they_wait_on_the_network() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let here = std::thread::current().id();
        for (on_network, inline) in [(false, true), (true, false)] {
            let job = Job::new(|| std::thread::current().id()).on_network(on_network);
            let out = rt.block_on(compute(job)).unwrap();
            let id = out.id();
            let ran_on = out.take::<std::thread::ThreadId>(Some(id)).unwrap();
            assert_eq!(ran_on == here, inline, "on_network: {on_network}");
        }
    }
}
