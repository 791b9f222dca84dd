//! # mpin-kex
//!
//! M-Pin and M-Pin Full on BLS12-381, byte-for-byte compatible with Apache Milagro: identities
//! get their secrets as shares from several Distributed Trust Authorities (D-TAs), a client
//! proves its identity with a token and a PIN (zero-knowledge, two-factor), and both sides
//! end with a fresh 16-byte session key. Pure: no I/O, no clock (time is a parameter), the RNG
//! is passed in.
//!
//! ```
//! use mpin_kex::*;
//! use rand_core::OsRng;
//!
//! // Two independent D-TAs, each with its own master share.
//! let dtas = [MasterShare::generate(&mut OsRng), MasterShare::generate(&mut OsRng)];
//! let now = 1_800_000_000; // unix seconds, passed in
//! let today = policy::day_of(now);
//!
//! // Enrolment: the D-TAs see only the hashed identity.
//! let id = HashedId::of(b"alice@example.com");
//! let cs = ClientSecret::combine(&dtas.iter().map(|d| d.client_secret_share(&id)).collect::<Vec<_>>())?;
//! let pin: Pin = "1234".parse()?;
//! let token = Token::extract(&cs, b"alice@example.com", &pin)?;
//! let permit = TimePermit::combine(
//!     &dtas.iter().map(|d| d.time_permit_share(&id, today)).collect::<Result<Vec<_>, _>>()?,
//! )?;
//! let credential = Credential::new(b"alice@example.com", token, Some(permit))?;
//!
//! // The relying server combines its server-secret shares.
//! let ss = ServerSecret::combine(&dtas.iter().map(MasterShare::server_secret_share).collect::<Vec<_>>())?;
//! let ctx = ServerContext::new(ServerKey::new(ss)?, ServerPolicy::default());
//!
//! // Multi-pass M-Pin Full: hello → challenge → response. Messages are bytes on the wire.
//! let mut client = Client::new(&credential, pin);
//! let mut server = Server::new(ctx);
//! let hello = client.hello(&mut OsRng)?.encode();
//! let challenge = server.hello(&Hello::decode(&hello)?, now, &mut OsRng)?.encode();
//! let (response, client_session) = client.challenge(&Challenge::decode(&challenge)?)?;
//! let server_session = server.response(&Response::decode(&response.encode())?, now)?;
//!
//! assert_eq!(server_session.identity, b"alice@example.com");
//! assert_eq!(client_session.key, server_session.key);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Modules: [`secrets`] (shares, PIN extraction, permits), [`client`] and [`server`] (the
//! state machines), [`messages`] (wire layout), [`policy`] (permit window, lockout rules),
//! [`lockout`] and [`replay`] (the stores), [`wcc`] (peer-to-peer device links: Milagro's
//! Wang / Chow–Choo key agreement).
//!
//! The `conformance` cargo feature (off by default; for the vector checks, benches and fuzz
//! targets, not an API) also exposes, hidden from these docs, `raw` and `wcc::raw` (each
//! Milagro primitive with caller-chosen randomness) and `curve` (the strict point decoders).
#![forbid(unsafe_code)]

mod backend;
pub mod client;
mod codec;
#[cfg(feature = "conformance")]
#[doc(hidden)]
pub mod curve;
#[cfg(not(feature = "conformance"))]
mod curve;
pub mod error;
mod hash;
pub mod identity;
mod known;
pub mod lockout;
mod math;
pub mod messages;
pub mod pin;
pub mod policy;
#[cfg(feature = "conformance")]
#[doc(hidden)]
pub mod raw;
// Without the feature the primitives stay compiled (and with them the miracl_core reference
// pairing they check against), but are no API.
#[cfg(not(feature = "conformance"))]
#[allow(dead_code)]
mod raw;
pub mod replay;
pub mod secrets;
pub mod server;
pub mod session;
pub mod wcc;

pub use client::{Client, Credential};
pub use error::{AuthError, ClientError, DecodeError, PointError, SecretError};
pub use identity::{HashedId, IdentityProfile, MilagroLegacy};
pub use lockout::{
    distributed_key, known_source, source_pair, FailureStore, Gate, LockoutRules,
    MemoryFailureStore, Outcome, Standing,
};
pub use math::{client_keys_on_this_thread, pairings_on_this_thread, KEY_LEN};
pub use messages::{Challenge, Hello, OnePassHello, OnePassReply, Response};
pub use pin::{InvalidPin, Pin};
pub use policy::ServerPolicy;
pub use replay::{MemoryReplayCache, ReplayCache};
pub use secrets::{
    ClientSecret, ClientSecretShare, MasterShare, ServerSecret, ServerSecretShare, TimePermit,
    TimePermitShare, Token,
};
pub use server::{Server, ServerContext, ServerKey};
pub use session::{Mode, Session, SessionKey};
