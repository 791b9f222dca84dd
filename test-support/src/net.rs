//! Loopback ports and bounded waits.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// The only address tests bind or connect to.
pub const LOOPBACK: &str = "127.0.0.1";

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    match TcpListener::bind((LOOPBACK, 0)).and_then(|l| l.local_addr()) {
        Ok(a) => a.port(),
        Err(e) => panic!("cannot bind a free port on {LOOPBACK}: {e}"),
    }
}

/// Waits until something accepts on `port` of 127.0.0.1 (at most `limit`).
pub fn wait_for_port(port: u16, limit: Duration) -> std::io::Result<()> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let start = Instant::now();
    while start.elapsed() < limit {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        format!("nothing listening on port {port} after {limit:?}"),
    ))
}

/// Polls `cond` every 20 ms until it holds; fails the test naming `what` after `limit`.
pub fn wait_until(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "{what} did not happen within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
