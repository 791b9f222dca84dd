//! `dta-lite`: a minimal Distributed Trust Authority (D-TA) for M-Pin, and its client.
//!
//! A D-TA holds one master-secret share and issues client-secret, time-permit and
//! server-secret shares (`mpin-kex`) over an HTTPS JSON API. It only ever sees hashed
//! identities. A Registration Authority (RA) authorises enrolments with signed grants and
//! signs administrative requests; every D-TA answer is signed with the D-TA's own key and
//! clients pin each D-TA's certificate.
//!
//! ```
//! use dta_lite::ra::{verify_request, RaKey};
//!
//! // The RA signs a revocation request; a D-TA that trusts the RA's public key verifies it.
//! let ra = RaKey::generate();
//! let body = br#"{"hashed_id":"00"}"#;
//! let now = 1_800_000_000;
//! let headers = ra.sign_request("POST", "/v1/revocations", body, now);
//! let lookup = |name: &str| headers.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str());
//! let ok = verify_request(lookup, "POST", "/v1/revocations", body, now + 5, &[ra.public()]);
//! assert!(ok.is_ok());
//! // 61 s later the same request has expired; with another body it never verified.
//! assert!(verify_request(lookup, "POST", "/v1/revocations", body, now + 61, &[ra.public()]).is_err());
//! assert!(verify_request(lookup, "POST", "/v1/revocations", b"{}", now, &[ra.public()]).is_err());
//! ```
//!
//! Modules: [`clock`] (the time, with a test-only hook), [`seal`] (master share at rest), [`ra`] (RA keys, grants, signed requests),
//! [`api`] (JSON bodies, response signatures), [`db`] and [`audit`] (revocations, counters,
//! hash-chained audit log), [`service`] (request handling), [`server`] (HTTPS), [`ratelimit`], [`tls`]
//! (certificates, pinning), [`dtadir`] (a D-TA's folder), [`client`] (enrolment, permits,
//! server secrets), [`files`] (credential and server-secret files), [`pin_input`].
//! File formats: `FORMATS.md`.
#![forbid(unsafe_code)]

pub mod api;
pub mod audit;
pub mod client;
pub mod clock;
pub mod db;
pub mod dtadir;
pub mod files;
pub mod fsutil;
pub mod pin_input;
pub mod ra;
pub mod ratelimit;
pub mod seal;
pub mod server;
pub mod service;
pub mod tls;

/// Version of the D-TA JSON API.
pub const API_VERSION: u32 = 1;
