//! The M-Pin channel: M-Pin Full authentication in front of the TLS 1.3 PSK engine
//! (DESIGN §4; byte layout and layers in `milagro-tls/PROTOCOL.md`).
//!
//! The protocol is sans-IO: [`MpinClientConnection`] and [`MpinServerConnection`] take bytes
//! in ([`Handshake::read_input`]), give bytes out ([`Handshake::take_output`]) and say what
//! they need next ([`Status`]); the pairing work comes out as a [`Job`] to run on any thread.
//! With the `tokio` feature (default), [`MpinConnector`] and [`MpinAcceptor`] drive them over
//! async sockets, running each job inline on the connection's worker thread (at most one per
//! core), or on tokio's blocking pool when [`Job::waits_on_network`] says it calls a store over
//! the network. Both ends in memory, each job on a thread of its own:
//!
//! ```
//! use std::sync::Arc;
//! use milagro_tls::mpin::{
//!     Handshake, MpinClientConfig, MpinClientConnection, MpinServerConfig,
//!     MpinServerConnection, Peer, Status,
//! };
//! use milagro_tls::TicketCache;
//! use mpin_kex::*;
//! # use rand_core::OsRng;
//! # let dta = MasterShare::generate(&mut OsRng);
//! # let server_secret = ServerSecret::combine(&[dta.server_secret_share()])?;
//! # let h = HashedId::of(b"alice");
//! # let secret = ClientSecret::combine(&[dta.client_secret_share(&h)])?;
//! # let token = Token::extract(&secret, b"alice", &Pin::new(1234)?)?;
//! # let credential = Arc::new(Credential::new(b"alice", token, None)?);
//! let key = ServerKey::new(server_secret)?;
//! // this example's credential has no time permit
//! let policy = ServerPolicy { require_permits: false, ..ServerPolicy::default() };
//! let server_cfg = MpinServerConfig::new(ServerContext::new(key, policy));
//! let client_cfg = MpinClientConfig::new(credential, Pin::new(1234)?);
//!
//! let mut client = MpinClientConnection::new(Arc::new(client_cfg), Arc::new(TicketCache::new()))?;
//! let mut server = MpinServerConnection::new(Arc::new(server_cfg), Some(b"192.0.2.7"));
//!
//! /// Runs a connection until it needs the peer's bytes; true once it is established.
//! fn run(conn: &mut impl Handshake) -> Result<bool, milagro_tls::mpin::MpinError> {
//!     loop {
//!         match conn.process()? {
//!             Status::NeedInput => return Ok(false),
//!             Status::Established => return Ok(true),
//!             Status::Compute(job) => {
//!                 let output = std::thread::spawn(move || job.run()).join().expect("job");
//!                 conn.complete(output)?;
//!             }
//!             Status::RetryAfter(pause) => std::thread::sleep(pause),
//!         }
//!     }
//! }
//! for _ in 0..8 {
//!     let client_done = run(&mut client)?;
//!     server.read_input(&client.take_output());
//!     let server_done = run(&mut server)?;
//!     client.read_input(&server.take_output());
//!     if client_done && server_done {
//!         break;
//!     }
//! }
//! let (mut tls_server, peer) = server.into_parts().expect("established");
//! let mut tls_client = client.into_connection().expect("established");
//! assert!(matches!(&peer, Peer::Mpin { identity, .. } if identity.as_slice() == b"alice"));
//!
//! tls_client.write_plaintext(b"hello")?;
//! tls_server.read_tls(&tls_client.take_tls());
//! tls_server.process_new_packets()?;
//! let mut buf = [0u8; 8];
//! let n = tls_server.read_plaintext(&mut buf);
//! assert_eq!(&buf[..n], b"hello");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ```text
//! client                                         server
//! "MPIN" 01, Hello{ID, day, U, UT, Z}    ───►
//!                                        ◄───    Challenge{session id, y, T}   (or Failure, close)
//! Response{V}, TLS ClientHello(PSK)      ───►    PSK = RFC 9258 import(M-Pin key, session id, HM…)
//!                                        ◄───    TLS ServerHello … Finished
//! ```
//!
//! The PSK binder is the client's key confirmation and the server's Finished the server's; each
//! imported PSK serves exactly one handshake. A server connection also serves plain TLS-PSK
//! peers (OpenSSL, GnuTLS, stunnel) on the same port when it has a static PSK store: a first
//! byte `0x16` is a TLS record, `M` the M-Pin preface.
//!
//! Resumption: after an M-Pin handshake the server issues a single-use session ticket bound to
//! the M-Pin identity, expiring with the time permit's day; the client keeps the latest one
//! (in the [`TicketCache`](crate::TicketCache) an [`MpinConnector`] owns) and its next
//! connection is a plain TLS 1.3 `psk_dhe_ke` resumption (no M-Pin messages, no pairing),
//! reported as `Peer::Mpin { resumed: true, .. }`.

#[cfg(feature = "tokio")]
mod acceptor;
mod client_connection;
mod config;
#[cfg(feature = "tokio")]
mod connector;
#[cfg(feature = "tokio")]
pub(crate) mod drive;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod frame;
#[cfg(not(feature = "fuzzing"))]
pub(crate) mod frame;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod importer;
#[cfg(not(feature = "fuzzing"))]
pub(crate) mod importer;
mod job;
mod peer;
pub(crate) mod phase;
mod resume;
mod server_connection;
mod server_step;
mod server_tls;

use std::io;

#[cfg(feature = "tokio")]
pub use acceptor::MpinAcceptor;
pub use client_connection::MpinClientConnection;
pub use config::{MpinClientConfig, MpinServerConfig, DEFAULT_TICKET_LIFETIME};
#[cfg(feature = "tokio")]
pub use connector::MpinConnector;
pub use job::{Handshake, Job, JobOutput, Status};
pub use mpin_kex::Mode;
pub use peer::Peer;
pub use server_connection::{MpinServerConnection, REFUSAL_FLOOR};
pub(crate) use server_step::check_bound;

/// Why an M-Pin connection failed.
#[derive(Debug, thiserror::Error)]
pub enum MpinError {
    /// Transport error.
    #[error("transport: {0}")]
    Io(#[from] io::Error),
    /// The peer broke the framing protocol.
    #[error("M-Pin protocol violation: {0}")]
    Protocol(&'static str),
    /// The client spoke another M-Pin channel version.
    #[error("unsupported M-Pin channel version {0} (this side speaks 1)")]
    Version(u8),
    /// The first bytes are neither the M-Pin preface nor (with a static PSK store) TLS.
    #[error("peer speaks neither M-Pin nor TLS (first byte 0x{0:02x})")]
    UnknownProtocol(u8),
    /// The server refused the authentication (generic failure frame).
    #[error("the server refused the M-Pin authentication (wrong PIN, revoked or locked identity, missing permit, or not allowed)")]
    Refused,
    /// Server side: the client's authentication failed (the wire only says "failed").
    #[error("M-Pin authentication failed: {0}")]
    Auth(#[from] mpin_kex::AuthError),
    /// Client side: the server's messages were invalid.
    #[error("M-Pin client: {0}")]
    Client(#[from] mpin_kex::ClientError),
    /// A malformed M-Pin message.
    #[error("malformed M-Pin message: {0}")]
    Decode(#[from] mpin_kex::DecodeError),
    /// The TLS handshake after the M-Pin exchange failed.
    #[error("TLS: {0}")]
    Tls(#[from] crate::Error),
    /// Server side: the TLS handshake after the M-Pin exchange did not use the PSK imported
    /// from that exchange (e.g. a spliced-in ticket or static PSK); refused, no peer reported.
    #[error("the TLS session is not bound to the M-Pin exchange (it did not use the imported PSK); connection refused")]
    Unbound,
    /// P2P channel: the WCC exchange was refused or failed on this side (the peer only sees
    /// the one opaque FAILURE frame, or the connection close on the dialling side).
    #[error("P2P device link: {0}")]
    Wcc(#[from] mpin_kex::wcc::WccError),
    /// P2P channel, dialling side: the accepting device refused the link (FAILURE frame).
    #[error("the peer device refused the P2P link (it is not the identity dialled, this device is not allowed or is revoked, no device permit for the day, or a malformed message)")]
    PeerRefused,
    /// P2P channel, accepting side: the dialling device's identity is not in the allow-list.
    #[error("device {0:?} is not in this device's allow-list")]
    PeerNotAllowed(String),
    /// The whole handshake did not finish in time.
    #[error("M-Pin/TLS handshake timed out")]
    Timeout,
    /// A blocking computation task failed.
    #[error("internal error: {0}")]
    Internal(&'static str),
}

impl MpinError {
    /// True for server-side authentication failures that are *not* attributable to the
    /// identity's token, and so are charged to the connection's source (its rate limit)
    /// rather than to the identity: a proof that failed without a PIN-error distance in range
    /// (another credential, a forgery, a wrong permit), malformed messages or invalid points,
    /// degenerate values, replays, identities outside the allow-list, and protocol
    /// violations. False for a wrong PIN with the genuine token (counted against the
    /// identity), lockouts (of the identity, of the pair identity and source, or of the
    /// identity's distributed budget: refused before any pairing), permit-day and clock
    /// problems, timeouts and I/O errors.
    pub fn is_source_failure(&self) -> bool {
        use mpin_kex::AuthError as A;
        match self {
            MpinError::Protocol(_)
            | MpinError::Version(_)
            | MpinError::UnknownProtocol(_)
            | MpinError::Decode(_)
            | MpinError::Unbound
            | MpinError::PeerNotAllowed(_) => true,
            MpinError::Wcc(e) => {
                use mpin_kex::wcc::WccError as W;
                !matches!(e, W::PermitRequired | W::PermitDay(_) | W::Secret(_))
            }
            MpinError::Auth(e) => match e {
                A::BadProof { genuine_token, .. } => !genuine_token,
                A::Decode(_) | A::Degenerate(_) | A::State(_) | A::Replay | A::NotAllowed => true,
                A::PermitRequired
                | A::PermitDay { .. }
                | A::Stale { .. }
                | A::LockedOut { .. }
                | A::SourceLockedOut { .. }
                | A::DistributedLockedOut { .. }
                | A::Busy
                | A::Revoked
                | A::StateUnavailable
                | A::Expired(_) => false,
            },
            MpinError::Io(_)
            | MpinError::Refused
            | MpinError::PeerRefused
            | MpinError::Client(_)
            | MpinError::Tls(_)
            | MpinError::Timeout
            | MpinError::Internal(_) => false,
        }
    }
}

impl From<MpinError> for io::Error {
    fn from(e: MpinError) -> Self {
        let kind = match &e {
            MpinError::Io(inner) => inner.kind(),
            MpinError::Timeout => io::ErrorKind::TimedOut,
            MpinError::Refused
            | MpinError::Auth(_)
            | MpinError::Unbound
            | MpinError::Wcc(_)
            | MpinError::PeerRefused
            | MpinError::PeerNotAllowed(_) => io::ErrorKind::PermissionDenied,
            _ => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, e)
    }
}

/// The [`MpinError`] inside an `io::Error` returned by this module, if any.
pub fn mpin_error(e: &io::Error) -> Option<&MpinError> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<MpinError>())
}

use crate::options::Clock;
