//! Helpers shared by the interoperability tests (tests live in `tests/`).
//!
//! ```
//! assert!(interop_tests::LOOPBACK.starts_with("127."));
//! ```
#![forbid(unsafe_code)]

/// The only address interop tests bind or connect to.
pub const LOOPBACK: &str = "127.0.0.1";
