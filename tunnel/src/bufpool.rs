//! Relay buffers, pooled and bounded: a connection holds one only while data
//! is in flight in that direction (from the read that returned it until the
//! write of those bytes completed), never while it waits for input. Idle
//! connections therefore cost no buffer, and after a burst at most
//! [`MAX_IDLE`] buffers stay allocated for the next one; the rest are freed.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

/// Size of one relay buffer: two TLS records of plaintext.
pub const BUF_LEN: usize = 32 * 1024;

/// Most free buffers the process keeps for reuse (2 MiB).
pub const MAX_IDLE: usize = 64;

/// A bounded pool of equal-sized byte buffers.
#[derive(Debug)]
pub struct BufPool {
    free: Mutex<Vec<Box<[u8]>>>,
    len: usize,
    max_idle: usize,
    in_use: AtomicUsize,
}

impl BufPool {
    /// A pool of `len`-byte buffers keeping at most `max_idle` free ones.
    pub fn new(len: usize, max_idle: usize) -> Self {
        Self {
            free: Mutex::new(Vec::new()),
            len,
            max_idle,
            in_use: AtomicUsize::new(0),
        }
    }

    /// The process-wide pool the relay uses.
    pub fn global() -> &'static BufPool {
        static POOL: OnceLock<BufPool> = OnceLock::new();
        POOL.get_or_init(|| BufPool::new(BUF_LEN, MAX_IDLE))
    }

    /// A buffer, reused if one is free; it goes back to the pool on drop.
    /// Its contents are unspecified (callers write before they read).
    pub fn take(&self) -> PooledBuf<'_> {
        let reused = self.free.lock().ok().and_then(|mut f| f.pop());
        let buf = reused.unwrap_or_else(|| vec![0u8; self.len].into_boxed_slice());
        self.in_use.fetch_add(1, Ordering::Relaxed);
        PooledBuf {
            buf: Some(buf),
            pool: self,
        }
    }

    /// Buffers handed out and not yet returned.
    #[cfg(test)]
    pub fn in_use(&self) -> usize {
        self.in_use.load(Ordering::Relaxed)
    }

    /// Free buffers kept for reuse.
    #[cfg(test)]
    pub fn idle(&self) -> usize {
        self.free.lock().map_or(0, |f| f.len())
    }

    fn put(&self, buf: Box<[u8]>) {
        self.in_use.fetch_sub(1, Ordering::Relaxed);
        if let Ok(mut free) = self.free.lock() {
            if free.len() < self.max_idle {
                free.push(buf);
            }
        }
    }
}

/// A buffer on loan from a [`BufPool`].
#[derive(Debug)]
pub struct PooledBuf<'a> {
    buf: Option<Box<[u8]>>,
    pool: &'a BufPool,
}

impl std::ops::Deref for PooledBuf<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.buf.as_deref().unwrap_or(&[])
    }
}

impl std::ops::DerefMut for PooledBuf<'_> {
    fn deref_mut(&mut self) -> &mut [u8] {
        self.buf.as_deref_mut().unwrap_or(&mut [])
    }
}

impl Drop for PooledBuf<'_> {
    fn drop(&mut self) {
        if let Some(buf) = self.buf.take() {
            self.pool.put(buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_reused_and_the_surplus_freed() {
        let pool = BufPool::new(1024, 2);
        let bufs: Vec<_> = (0..5).map(|_| pool.take()).collect();
        assert_eq!(pool.in_use(), 5);
        assert!(bufs.iter().all(|b| b.len() == 1024));
        drop(bufs);
        assert_eq!(pool.in_use(), 0);
        assert_eq!(pool.idle(), 2, "only max_idle buffers are kept");
        let again = pool.take();
        assert_eq!(pool.idle(), 1, "a free buffer is reused");
        drop(again);
        assert_eq!(pool.idle(), 2);
    }
}
