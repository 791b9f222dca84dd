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
//!
//! Each direction takes a buffer from the [`BufPool`] only when its source
//! has data (the read is polled with a buffer that goes back to the pool if
//! the source is not ready) and returns it once those bytes are written: an
//! idle connection holds no relay buffer.

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::Poll;
use std::time::{Duration, Instant};

use prometheus_client::metrics::counter::Counter;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};

use crate::addr::{BoxStream, PlainStream};
use crate::bufpool::{BufPool, PooledBuf};
use crate::metrics::{DirectionLabel, Metrics};

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

/// Waits until `r` has data, then reads it into a buffer from `pool`; while
/// `r` is not ready no buffer is held.
async fn read_pooled<'p, R: AsyncRead + Unpin>(
    r: &mut R,
    pool: &'p BufPool,
) -> io::Result<(PooledBuf<'p>, usize)> {
    poll_fn(|cx| {
        let mut buf = pool.take();
        let mut rb = ReadBuf::new(&mut buf);
        match Pin::new(&mut *r).poll_read(cx, &mut rb) {
            Poll::Ready(Ok(())) => {
                let n = rb.filled().len();
                Poll::Ready(Ok((buf, n)))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            // the buffer goes back to the pool until the source is ready
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

async fn pipe<R, W>(
    mut r: R,
    mut w: W,
    counter: Counter,
    total: &AtomicU64,
    activity: &Activity,
    pool: &BufPool,
) -> io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    loop {
        let (buf, n) = match read_pooled(&mut r, pool).await {
            Ok((_, 0)) => break,
            Ok(x) => x,
            // a TLS peer that closed TCP without close_notify: a truncation
            // (only the TLS side reports UnexpectedEof; TCP reads give Ok(0))
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, Truncated))
            }
            Err(e) => return Err(e),
        };
        w.write_all(&buf[..n]).await?;
        w.flush().await?;
        drop(buf);
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
    relay_in(
        tls,
        plain,
        accepted_tls,
        idle,
        metrics,
        service,
        BufPool::global(),
    )
    .await
}

/// [`relay`] with buffers from `pool`.
pub async fn relay_in(
    tls: BoxStream,
    plain: PlainStream,
    accepted_tls: bool,
    idle: Option<Duration>,
    metrics: &Metrics,
    service: &str,
    pool: &BufPool,
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
                pipe(
                    &mut tls_r,
                    &mut plain_w,
                    from_tls.0,
                    from_tls.1,
                    &activity,
                    pool
                ),
                pipe(
                    &mut plain_r,
                    &mut tls_w,
                    from_plain.0,
                    from_plain.1,
                    &activity,
                    pool
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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;
    use tokio::net::{TcpListener, TcpStream};

    /// A connected pair of TCP sockets on 127.0.0.1.
    async fn pair(l: &TcpListener) -> (TcpStream, TcpStream) {
        let addr = l.local_addr().unwrap();
        let (a, b) = tokio::join!(TcpStream::connect(addr), l.accept());
        (a.unwrap(), b.unwrap().0)
    }

    /// Relays 20 connections, moves data both ways through each, then checks
    /// that the idle relays hold no buffer (with a buffer per direction, as
    /// before pooling, 40 would be out), and that they still work.
    #[tokio::test]
    async fn idle_relays_hold_no_buffer() {
        let pool: &'static BufPool = Box::leak(Box::new(BufPool::new(BUF_TEST, 4)));
        let metrics: &'static Metrics = Box::leak(Box::new(Metrics::new()));
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut ends = Vec::new();
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let (tls_peer, tls_side) = pair(&l).await;
            let (plain_peer, plain_side) = pair(&l).await;
            let tls: BoxStream = Box::pin(tls_side);
            let plain = PlainStream::Tcp(plain_side);
            tasks.push(tokio::spawn(async move {
                relay_in(tls, plain, true, None, metrics, "t", pool).await
            }));
            ends.push((tls_peer, plain_peer));
        }
        let payload = vec![7u8; 3 * BUF_TEST + 5];
        for round in 0..2 {
            for (a, b) in &mut ends {
                a.write_all(&payload).await.unwrap();
                let mut got = vec![0u8; payload.len()];
                b.read_exact(&mut got).await.unwrap();
                assert_eq!(got, payload, "round {round}: a to b");
                b.write_all(b"pong").await.unwrap();
                let mut pong = [0u8; 4];
                a.read_exact(&mut pong).await.unwrap();
                assert_eq!(&pong, b"pong");
            }
            // the last write completes before its buffer is returned: allow it to land
            for _ in 0..100 {
                if pool.in_use() == 0 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            assert_eq!(pool.in_use(), 0, "round {round}: idle relays hold buffers");
            assert!(pool.idle() <= 4, "the pool keeps at most max_idle buffers");
        }
        for (a, b) in ends {
            drop(a);
            drop(b);
        }
        for t in tasks {
            assert_eq!(t.await.unwrap().end, "eof");
        }
        assert_eq!(pool.in_use(), 0);
    }

    const BUF_TEST: usize = 4096;
}
