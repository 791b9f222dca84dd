//! The P2P channel: two devices authenticate each other by identity (Apache Milagro's WCC,
//! Wang / Chow–Choo, in [`mpin_kex::wcc`]), then TLS 1.3 `psk_dhe_ke` with the WCC key
//! imported per RFC 9258 (byte layout in `milagro-tls/PROTOCOL.md`, "P2P channel").
//!
//! ```text
//! initiator (TLS client, G1 key)                 responder (TLS server, G2 key)
//! "MP2P" 01, P2P_HELLO{IdI, IdR, day, PaG1} ───►
//!                                           ◄─── P2P_REPLY{session id, IdR, PbG2, PgG1}   (or FAILURE, close)
//! TLS ClientHello(PSK)                      ───► PSK = RFC 9258 import(K, session id,
//!                                           ◄─── TLS ServerHello … Finished   "P2PWCC1" ‖ TH ‖ IdI ‖ IdR ‖ day)
//! ```
//!
//! Every check comes before any pairing: identity lengths, the responder is the identity
//! asked for, neither side accepts its own identity as peer (Selfie), the initiator accepts a
//! REPLY only from the identity it dialled, the responder's allow-list and permit-day policy,
//! every point canonical, on the curve, in the subgroup and not the identity, no trailing
//! bytes. Every refusal on the responder is the one opaque FAILURE frame. The PSK binder is
//! the initiator's key confirmation, the server Finished the responder's; each imported PSK
//! serves exactly one handshake, and both sides report the other's identity as
//! [`Peer::P2p`] with both identities in role order.
//!
//! One listener ([`P2pServerConnection`], [`P2pAcceptor`]) serves P2P initiators, M-Pin
//! clients and plain TLS-PSK peers. No session resumption on P2P links (each link runs WCC).
//!
//! Both devices in memory (jobs run inline here; the tokio adapters run them on the pairing
//! pool):
//!
//! ```
//! use std::sync::Arc;
//! use milagro_tls::p2p::*;
//! use mpin_kex::wcc::{P2pMasterShare, ReceiverKey, Responder, SenderKey};
//! use mpin_kex::HashedId;
//! # use rand_core::OsRng;
//! let dta = P2pMasterShare::generate(&mut OsRng);
//! let (alice, bob) = (&b"device:alice"[..], &b"device:bob"[..]);
//! let a_key = SenderKey::combine(&[dta.sender_key_share(&HashedId::of(alice))])?;
//! let b_key = ReceiverKey::combine(&[dta.receiver_key_share(&HashedId::of(bob))])?;
//!
//! // alice dials bob (no permits in this example: day 0)
//! let client_cfg = P2pClientConfig::new(alice, a_key, None, bob);
//! let server_cfg = P2pServerConfig::new(Arc::new(Responder::new(bob, &b_key)?));
//! let mut client = P2pClientConnection::new(Arc::new(client_cfg))?;
//! let mut server = P2pServerConnection::new(Arc::new(server_cfg), None);
//!
//! fn run(conn: &mut impl Handshake) -> Result<bool, MpinError> {
//!     loop {
//!         match conn.process()? {
//!             Status::NeedInput => return Ok(false),
//!             Status::Established => return Ok(true),
//!             Status::Compute(job) => conn.complete(job.run())?,
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
//! let (_, seen_by_bob) = server.into_parts().expect("established");
//! let (_, seen_by_alice) = client.into_parts().expect("established");
//! let link = Peer::P2p { initiator: alice.to_vec(), responder: bob.to_vec(), day: 0 };
//! assert_eq!(seen_by_bob, link);
//! assert_eq!(seen_by_alice, link);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#[cfg(feature = "tokio")]
mod acceptor;
mod client_connection;
mod config;
#[cfg(feature = "tokio")]
mod connector;
mod server_connection;

#[cfg(feature = "tokio")]
pub use acceptor::P2pAcceptor;
pub use client_connection::P2pClientConnection;
pub use config::{P2pClientConfig, P2pServerConfig, DEFAULT_PERMIT_GRACE_SECS};
#[cfg(feature = "tokio")]
pub use connector::P2pConnector;
pub use server_connection::P2pServerConnection;

pub use crate::mpin::{Handshake, Job, JobOutput, MpinError, Peer, Status};

use mpin_kex::wcc::WccSession;

use crate::error::Error;
use crate::mpin::importer;
use crate::psk::Psk;

/// The initiator's first bytes: `MP2P` and the channel version.
pub const PREFACE: [u8; 5] = *b"MP2P\x01";

/// The PSK both sides import from a WCC session: `TH` over the preface and the exact HELLO
/// and REPLY frames, the context `"P2PWCC1" ‖ TH ‖ IdI ‖ IdR ‖ day`, the session id as
/// external identity.
pub(crate) fn import_psk(
    session: &WccSession,
    hello_frame: &[u8],
    reply_frame: &[u8],
) -> Result<Psk, Error> {
    let th = mpin_kex::wcc::transcript_hash(&PREFACE, hello_frame, reply_frame);
    let context = session.import_context(&th);
    let identity = importer::imported_identity_with_context(&session.session_id, &context);
    importer::import(session.key.as_bytes(), &identity)
}

/// The peer both sides report for a WCC session.
pub(crate) fn peer_of(session: &WccSession) -> Peer {
    Peer::P2p {
        initiator: session.initiator.clone(),
        responder: session.responder.clone(),
        day: session.day,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mpin_kex::wcc::WccError;

    #[test]
    fn p2p_errors_are_charged_to_the_source_only_when_the_peer_misbehaved() {
        for e in [
            MpinError::Wcc(WccError::NotForMe),
            MpinError::Wcc(WccError::SelfPeer),
            MpinError::Wcc(WccError::IdentityLength(0)),
            MpinError::PeerNotAllowed("device:x".into()),
        ] {
            assert!(e.is_source_failure(), "{e}");
            let io: std::io::Error = e.into();
            assert_eq!(io.kind(), std::io::ErrorKind::PermissionDenied);
        }
        for e in [
            MpinError::Wcc(WccError::PermitRequired),
            MpinError::Wcc(WccError::PermitDay(3)),
            MpinError::PeerRefused,
        ] {
            assert!(!e.is_source_failure(), "{e}");
        }
    }
}
