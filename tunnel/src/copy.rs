//! Bidirectional copy with half-close: an EOF read on one side (TCP FIN or
//! TLS close_notify) becomes a shutdown of the other side's write half
//! (FIN or close_notify + FIN), while the opposite direction keeps flowing.
//! Every byte read is written and flushed before the shutdown, so nothing
//! is lost at close.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use prometheus_client::metrics::counter::Counter;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::addr::BoxStream;
use crate::metrics::{DirectionLabel, Metrics};

const BUF: usize = 64 * 1024;

/// How a relayed connection went.
#[derive(Debug, Default, Clone, Copy)]
pub struct RelayStats {
    /// Bytes read from the accepted side.
    pub bytes_in: u64,
    /// Bytes written to the accepted side.
    pub bytes_out: u64,
    /// `eof` (both sides closed), `idle` (idle timeout) or `error`.
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
            // a TLS peer that closed TCP without close_notify: what arrived
            // was authenticated, so pass the close on
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                tracing::debug!("peer closed without close_notify");
                break;
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

/// Copies between the accepted stream `down` and the forward stream `up`
/// until both directions are closed, an error occurs or nothing moved for
/// `idle`.
pub async fn relay(
    down: BoxStream,
    up: BoxStream,
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
    let (down_r, down_w) = tokio::io::split(down);
    let (up_r, up_w) = tokio::io::split(up);
    let both = async {
        tokio::try_join!(
            pipe(down_r, up_w, counter("in"), &in_total, &activity),
            pipe(up_r, down_w, counter("out"), &out_total, &activity),
        )
    };
    let end = tokio::select! {
        r = both => match r {
            Ok(_) => "eof",
            Err(e) => {
                tracing::debug!(error = %e, "connection ended with an error");
                "error"
            }
        },
        () = idle_watch(&activity, idle) => {
            tracing::info!("idle timeout; connection closed");
            "idle"
        }
    };
    RelayStats {
        bytes_in: in_total.load(Ordering::Relaxed),
        bytes_out: out_total.load(Ordering::Relaxed),
        end,
    }
}
