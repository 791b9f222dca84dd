//! `milagro-tls`: a TLS 1.3 engine for external PSKs with (EC)DHE
//! (`psk_dhe_ke`), with no certificate path and no fallback.
//!
//! The protocol core is sans-IO ([`ClientConnection`], [`ServerConnection`]:
//! bytes in, bytes out, events); [`tokio`](crate::stream) adapts it to async
//! sockets ([`Connector`], [`Acceptor`]). Key exchange comes from rustls's
//! aws-lc-rs provider, the key schedule from `hkdf` + `sha2`, record
//! protection from `aws-lc-rs`.
//!
//! Scope (DESIGN §3): TLS 1.3 only; `psk_dhe_ke` only (a ClientHello without
//! an acceptable PSK or without `psk_dhe_ke` gets `handshake_failure`, a bad
//! binder or unknown identity `decrypt_error`); TLS_AES_128_GCM_SHA256,
//! TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256; X25519MLKEM768,
//! X25519, secp256r1 with HelloRetryRequest; handshake fragmentation and
//! coalescing, 2^14 record limits, padding and dummy ChangeCipherSpec
//! tolerated, KeyUpdate both ways (replies coalesced, own KeyUpdate before
//! the AEAD usage limit; see [`limits`]), close_notify, RFC 8446 exporter;
//! `psk_dhe_ke` resumption with single-use server-side tickets
//! ([`ticket`]: [`Options::tickets`], [`ClientConfig::resuming`]); what every layer
//! shares (suites, groups, clock, handshake timeout, tickets) is one [`Options`]. No
//! 0-RTT (never offered or accepted).
//!
//! Above the core: [`mpin`], the M-Pin channel (users with a token and PIN), and [`p2p`], the
//! P2P channel (device links by identity, WCC); each imports its key as an RFC 9258 PSK
//! (`milagro-tls/PROTOCOL.md`), and one [`p2p::P2pAcceptor`] listener serves both and plain
//! TLS-PSK peers.
//!
//! ```
//! use std::sync::Arc;
//! use milagro_tls::{
//!     ClientConfig, ClientConnection, HashAlgorithm, Psk, ServerConfig, ServerConnection,
//!     StaticPskStore,
//! };
//!
//! let psk = Psk::new(b"client1", b"0123456789abcdef0123", HashAlgorithm::Sha256)?;
//! let store: StaticPskStore = [psk.clone()].into_iter().collect();
//! let mut client = ClientConnection::new(Arc::new(ClientConfig::new(psk)))?;
//! let mut server = ServerConnection::new(Arc::new(ServerConfig::new(Arc::new(store))))?;
//!
//! client.write_plaintext(b"hello")?;
//! while client.is_handshaking() || server.is_handshaking() {
//!     server.read_tls(&client.take_tls());
//!     server.process_new_packets()?;
//!     client.read_tls(&server.take_tls());
//!     client.process_new_packets()?;
//! }
//! server.read_tls(&client.take_tls());
//! server.process_new_packets()?;
//! let mut buf = [0u8; 16];
//! let n = server.read_plaintext(&mut buf);
//! assert_eq!(&buf[..n], b"hello");
//! assert_eq!(server.psk_identity(), Some(&b"client1"[..]));
//! assert_eq!(server.cipher_suite(), Some(milagro_tls::CipherSuite::Aes128GcmSha256));
//! assert_eq!(server.group(), Some(milagro_tls::NamedGroup::X25519Mlkem768));
//! # Ok::<(), milagro_tls::Error>(())
//! ```
//!
//! The wire internals (`codec`, `record`, `messages`, `key_schedule`, `kx`, the M-Pin
//! `frame`s and PSK `importer`) are not API; the `fuzzing` cargo feature exposes `record`,
//! `messages`, `mpin::frame` and `mpin::importer`, hidden from these docs, to the fuzz targets
//! and the tests that forge frames.
#![forbid(unsafe_code)]

pub mod alert;
pub mod client;
mod codec;
pub mod conn;
pub mod error;
mod key_schedule;
mod kx;
pub mod limits;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod messages;
#[cfg(not(feature = "fuzzing"))]
mod messages;
pub mod mpin;
pub mod options;
pub mod p2p;
pub mod psk;
pub mod psk_file;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod record;
#[cfg(not(feature = "fuzzing"))]
mod record;
pub mod server;
#[cfg(feature = "tokio")]
pub mod stream;
pub mod suites;
pub mod ticket;

pub use alert::AlertDescription;
pub use client::{ClientConfig, ClientConnection};
pub use conn::{ConnectionCommon, Event, Negotiated, Side};
pub use error::Error;
pub use key_schedule::BinderLabel;
pub use kx::NamedGroup;
pub use limits::{ConnectionLimits, ConnectionStats};
pub use options::{system_clock, Clock, Options, DEFAULT_HANDSHAKE_TIMEOUT};
pub use psk::{Psk, PskStore, StaticPskStore};
pub use server::{ServerConfig, ServerConnection};
#[cfg(feature = "tokio")]
pub use stream::{Acceptor, Connector, TlsStream};

pub use suites::{CipherSuite, HashAlgorithm};
pub use ticket::{
    ClientTicket, MemoryUsedTickets, TicketCache, TicketKey, TicketKeyError, TicketKeys,
    TicketSettings, TicketStore, UsedTickets, DEFAULT_TICKET_POOL,
};

/// The TLS 1.3 protocol version number.
pub const TLS13: u16 = 0x0304;

#[cfg(test)]
mod conformance_tests;
#[cfg(test)]
mod tests;
