//! A transport with a few bytes pushed back in front of it (for the first-byte dispatch
//! between M-Pin and plain TLS on one listener), which can also watch for the server's
//! failure frame where a TLS record is expected.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// `IO` whose reads first return `prefix`.
#[derive(Debug)]
pub struct Rewind<IO> {
    prefix: Vec<u8>,
    pos: usize,
    io: IO,
    sniff_failure: bool,
}

impl<IO> Rewind<IO> {
    /// Wraps `io`; reads return `prefix` first.
    pub fn new(prefix: Vec<u8>, io: IO) -> Self {
        Self {
            prefix,
            pos: 0,
            io,
            sniff_failure: false,
        }
    }

    /// Wraps `io` on the client after the M-Pin response: if the first byte the server sends
    /// is the failure frame type (never the first byte of a TLS record), reads fail with
    /// [`MpinError::Refused`](super::MpinError::Refused) instead of a TLS decode error.
    pub(crate) fn sniffing_failure(io: IO) -> Self {
        Self {
            prefix: Vec::new(),
            pos: 0,
            io,
            sniff_failure: true,
        }
    }

    /// The underlying transport.
    pub fn get_ref(&self) -> &IO {
        &self.io
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Rewind<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.pos < self.prefix.len() {
            let n = (self.prefix.len() - self.pos).min(buf.remaining());
            let start = self.pos;
            buf.put_slice(&self.prefix[start..start + n]);
            self.pos += n;
            if self.pos == self.prefix.len() {
                self.prefix = Vec::new();
                self.pos = 0;
            }
            return Poll::Ready(Ok(()));
        }
        if !self.sniff_failure {
            return Pin::new(&mut self.io).poll_read(cx, buf);
        }
        let before = buf.filled().len();
        let r = Pin::new(&mut self.io).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = r {
            if let Some(&first) = buf.filled().get(before) {
                self.sniff_failure = false;
                if first == super::frame::FrameType::Failure as u8 {
                    return Poll::Ready(Err(super::MpinError::Refused.into()));
                }
            }
        }
        r
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Rewind<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
