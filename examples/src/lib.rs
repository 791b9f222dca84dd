//! Runnable examples for milagro-rs; see the `examples/` folder of this crate.
//!
//! ```
//! assert!(!examples::ABOUT.is_empty());
//! ```
#![forbid(unsafe_code)]

/// What this crate holds.
pub const ABOUT: &str = "runnable examples for milagro-rs";
