//! `dta-client`: the client of `dta-lite` D-TAs, and what client and D-TA share.
//!
//! A client talks to N D-TAs over HTTPS with pinned certificates, checks every answer's
//! signature and every share, and combines the shares (`mpin-kex`): [`client::enroll`] writes
//! a [`files::CredentialFile`] (the PIN is extracted, never stored), [`client::refresh_permits`]
//! fetches time permits, [`client::server_secret`] a [`files::ServerSecretFile`]. This crate
//! needs nothing of the D-TA server (no database, no passphrase sealing, no HTTP server, no
//! certificate generation); `dta-lite` depends on it for the shared types.
//!
//! ```
//! use dta_client::client::DtaEndpoint;
//! use dta_client::ra::RaKey;
//!
//! // The RA signs a grant for a hashed identity; the grant never holds the identity itself.
//! let ra = RaKey::generate();
//! let id = mpin_kex::HashedId::of(b"alice@example.com");
//! let grant = ra.grant_client(&id, dta_client::clock::now(), 3600);
//! assert!(grant.verify(&[ra.public()]).is_ok());
//! assert!(!serde_json::to_string(&grant).unwrap().contains("alice"));
//! // A D-TA as clients configure it: URL, certificate fingerprint, response-signing key.
//! let dta: DtaEndpoint = format!("https://127.0.0.1:7443,{},{}", "ab".repeat(32), ra.public_hex())
//!     .parse()
//!     .unwrap();
//! assert_eq!(dta.url, "https://127.0.0.1:7443");
//! assert!("http://127.0.0.1:7443,ab,cd".parse::<DtaEndpoint>().is_err());
//! ```
//!
//! Modules: [`client`] (enrolment, permits, server secrets, revocation), [`files`]
//! (credential and server-secret files), [`device`] and [`device_file`] (P2P device
//! enrolment, device permits, the device credential), [`pin_input`] (PIN and passphrase), [`api`] (JSON
//! bodies, response signatures), [`ra`] (RA keys, signed requests) and [`grant`] (grants),
//! [`tls`] (certificate pinning), [`clock`] (the time, with a debug-only test hook),
//! [`fsutil`] (atomic writes, secret files). File formats: `dta-lite/FORMATS.md`.
#![forbid(unsafe_code)]

pub mod api;
pub mod client;
pub mod clock;
pub mod device;
pub mod device_file;
mod endpoint;
mod error;
pub mod files;
pub mod fsutil;
pub mod grant;
mod json_file;
pub mod pin_input;
pub mod ra;
pub mod tls;
mod transport;

/// Version of the D-TA JSON API.
pub const API_VERSION: u32 = 1;
