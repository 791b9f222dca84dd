//! Shared helpers of the milagro-rs tests (unpublished; a dev-dependency only).
//!
//! - [`ProcessGuard`]: a child process killed and reaped on drop, its stdout read line by
//!   line with bounded waits and its stderr kept for failure messages;
//! - [`TempDir`]: a private temporary directory removed on drop;
//! - [`free_port`], [`wait_for_port`], [`wait_until`]: loopback ports and bounded polling;
//! - [`MpinWorld`]: D-TAs (master shares) in process, and what they issue: credentials,
//!   PINs, the server secret, time permits; [`static_psk_store`] for plain TLS-PSK peers;
//! - [`P2pWorld`]: D-TAs with P2P master shares (fresh or from a seeded RNG) and the device
//!   keys, permits and responders they issue;
//! - [`target_bin`] / [`example_bin`]: paths of binaries built in this workspace's target
//!   folder (`env!("CARGO_BIN_EXE_…")` only works inside the binary's own crate);
//! - [`RedisServer`]: a `redis-server` on a free 127.0.0.1 port without persistence.
//!
//! Every helper fails the test with a message that says what went wrong (the log of the
//! process, the port, the package to install): panicking is how a test helper reports.
//!
//! ```
//! let dir = test_support::TempDir::new("doc");
//! let f = dir.private("secret", "k");
//! assert_eq!(std::fs::read_to_string(&f).unwrap(), "k");
//! let port = test_support::free_port();
//! assert!(port > 0);
//! ```
#![forbid(unsafe_code)]
// Test helpers report failure by panicking, with a message naming the cause.
#![allow(clippy::panic, clippy::expect_used)]

mod bins;
mod dirs;
mod net;
mod p2p;
mod process;
mod redis;
mod world;

pub use bins::{example_bin, target_bin};
pub use dirs::TempDir;
pub use net::{free_port, wait_for_port, wait_until, LOOPBACK};
pub use p2p::P2pWorld;
pub use process::ProcessGuard;
pub use redis::RedisServer;
pub use world::{static_psk_store, today, MpinWorld};

/// The default bound on every wait of a test (a process starting, a line, a port).
pub const WAIT: std::time::Duration = std::time::Duration::from_secs(15);
