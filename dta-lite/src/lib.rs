//! `dta-lite`: a minimal Distributed Trust Authority (D-TA) for M-Pin (its client is the
//! `dta-client` crate, whose modules are re-exported here).
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
//! Modules: [`seal`] (master share at rest), [`db`] and [`audit`] (revocations, counters,
//! hash-chained audit log), [`service`] (request handling), [`server`] (HTTPS),
//! [`ratelimit`], [`tls`] (the D-TA's certificate), [`dtadir`] (a D-TA's folder). From
//! `dta-client`: [`clock`], [`ra`], [`grant`], [`api`], [`client`], [`files`], [`pin_input`],
//! [`fsutil`].
//! File formats: `FORMATS.md`.
#![forbid(unsafe_code)]

pub mod audit;
pub mod db;
pub mod dtadir;
pub mod ratelimit;
pub mod seal;
pub mod server;
pub mod service;
pub mod tls;

// What client and D-TA share, and the client itself, live in `dta-client`; re-exported so
// `dta_lite::ra::Grant` and `dta_client::ra::Grant` are the same item.
#[doc(no_inline)]
pub use dta_client::{api, client, clock, files, fsutil, grant, pin_input, ra, API_VERSION};
