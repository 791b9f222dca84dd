//! `dta-lite`: a minimal Distributed Trust Authority (placeholder crate; see issue 5).
//!
//! ```
//! assert_eq!(dta_lite::API_VERSION, 1);
//! ```
#![forbid(unsafe_code)]

/// Version of the D-TA JSON API this crate will speak.
pub const API_VERSION: u32 = 1;
