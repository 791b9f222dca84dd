//! Bidirectional copy with half-close: an EOF read on one side (TCP FIN or
//! TLS close_notify) becomes a shutdown of the other side's write half
//! (FIN or close_notify + FIN), while the opposite direction keeps flowing.
//! Every byte read is written and flushed before the shutdown, so nothing
//! is lost at close.
//!
//! A TLS peer that closes TCP *without* close_notify truncated the stream
//! (RFC 8446 §6.1): the plaintext side gets a TCP reset, not a FIN, so the
//! application cannot take a cut-off stream for a complete one; the end is
//! `truncated` and counted in `/metrics`. An error on either side also ends
//! with a reset of the plaintext side.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use prometheus_client::metrics::counter::Counter;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::addr::{BoxStream, PlainStream};
use crate::metrics::{DirectionLabel, Metrics};

const BUF: usize = 64 * 1024;

/// How a relayed connection went.
#[derive(Debug, Default, Clone, Copy)]
pub struct RelayStats {
    /// Bytes read from the accepted side.
    pub bytes_in: u64,
    /// Bytes written to the accepted side.
    pub bytes_out: u64,
    /// `eof` (both sides closed), `idle` (idle timeout), `truncated` (the
    /// TLS peer closed without close_notify) or `error`.
    pub end: &'static str,
}

struct Activity {
    start: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    fn touch(&self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }
    fn last(&self) -> Instant {
        self.start + Duration::from_millis(self.last_ms.load(Ordering::Relaxed))
    }
}

async fn pipe<R, W>(
    mut r: R,
    mut w: W,
    counter: Counter,
    total: &AtomicU64,
    activity: &Activity,
) -> io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; BUF];
    loop {
        let n = match r.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => n,
            // a TLS peer that closed TCP without close_notify: a truncation
            // (only the TLS side reports UnexpectedEof; TCP reads give Ok(0))
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, Truncated))
            }
            Err(e) => return Err(e),
        };
        w.write_all(&buf[..n]).await?;
        w.flush().await?;
        let n = n as u64;
        counter.inc_by(n);
        total.fetch_add(n, Ordering::Relaxed);
        activity.touch();
    }
    w.shutdown().await
}

/// Marks the error of a truncated TLS stream.
#[derive(Debug, thiserror::Error)]
#[error("the TLS peer closed the connection without close_notify (truncation)")]
struct Truncated;

fn is_truncation(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|i| i.is::<Truncated>())
}

async fn idle_watch(activity: &Activity, idle: Option<Duration>) {
    let Some(idle) = idle else {
        return std::future::pending().await;
    };
    loop {
        let deadline = activity.last() + idle;
        if Instant::now() >= deadline {
            return;
        }
        tokio::time::sleep_until(deadline.into()).await;
    }
}

/// Copies between the TLS stream `tls` and the plaintext stream `plain`
/// until both directions are closed, an error occurs or nothing moved for
/// `idle`. `accepted_tls` says which one was accepted (bytes read from it
/// count as `in`).
pub async fn relay(
    tls: BoxStream,
    plain: PlainStream,
    accepted_tls: bool,
    idle: Option<Duration>,
    metrics: &Metrics,
    service: &str,
) -> RelayStats {
    let counter = |direction: &str| {
        metrics
            .bytes
            .get_or_create(&DirectionLabel {
                service: service.into(),
                direction: direction.into(),
            })
            .clone()
    };
    let (in_total, out_total) = (AtomicU64::new(0), AtomicU64::new(0));
    let activity = Activity {
        start: Instant::now(),
        last_ms: AtomicU64::new(0),
    };
    // (counter, total) for bytes read from the TLS side and from the plaintext side
    let (from_tls, from_plain) = if accepted_tls {
        ((counter("in"), &in_total), (counter("out"), &out_total))
    } else {
        ((counter("out"), &out_total), (counter("in"), &in_total))
    };
    let (mut tls_r, mut tls_w) = tokio::io::split(tls);
    let (mut plain_r, mut plain_w) = tokio::io::split(plain);
    let end = {
        let both = async {
            tokio::try_join!(
                pipe(&mut tls_r, &mut plain_w, from_tls.0, from_tls.1, &activity),
                pipe(
                    &mut plain_r,
                    &mut tls_w,
                    from_plain.0,
                    from_plain.1,
                    &activity
                ),
            )
        };
        tokio::select! {
            r = both => match r {
                Ok(_) => "eof",
                Err(e) if is_truncation(&e) => {
                    tracing::debug!(error = %e, "truncated; resetting the plaintext side");
                    "truncated"
                }
                Err(e) => {
                    tracing::debug!(error = %e, "connection ended with an error");
                    "error"
                }
            },
            () = idle_watch(&activity, idle) => {
                tracing::info!("idle timeout; connection closed");
                "idle"
            }
        }
    };
    if end == "truncated" {
        metrics
            .truncations
            .get_or_create(&Metrics::svc(service))
            .inc();
    }
    if matches!(end, "truncated" | "error") {
        plain_r.unsplit(plain_w).reset();
    }
    RelayStats {
        bytes_in: in_total.load(Ordering::Relaxed),
        bytes_out: out_total.load(Ordering::Relaxed),
        end,
    }
}
