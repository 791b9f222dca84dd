//! # WCC: identity-based peer-to-peer key agreement (Apache Milagro `wcc`)
//!
//! Two devices authenticate each other by identity, with no server secret anywhere: the
//! Wang / Chow–Choo AKE as Apache Milagro's C library computes it on BLS12-381
//! (P2P-SPEC §5), byte-compatible with its vectors, with strict validation added.
//!
//! * The **initiator** (sender, TLS client) holds a G1 [`SenderKey`] `s'·H1(HID)`; the
//!   **responder** (receiver, TLS server) holds a G2 [`ReceiverKey`] `s'·H2(HID)`. A device may
//!   be issued one or both.
//! * Keys come from a [`P2pMasterShare`] per D-TA, **separate** from the M-Pin
//!   [`crate::MasterShare`] (different type and byte format): a device sender key is never an
//!   M-Pin client secret of the same identity.
//! * Daily permits in both groups ([`SenderPermit`], [`ReceiverPermit`]) are **our extension**
//!   (from milagro-crypto-c 4.x; Apache dropped them): with day `d ≠ 0` every identity point
//!   becomes `A + H1(Hn(d, HID))` / `B + H2(Hn(d, HID))` and every key `key + permit`. A device
//!   without the day's permit derives another key. They are tested for self-consistency
//!   only (no Milagro vectors exist for them).
//! * `H2` ([`raw::h2`]) is Milagro's legacy hash to G2 with its square-root choice.
//! * Sans-IO: two messages ([`P2pHello`], [`P2pReply`]) as bytes, strictly decoded; every
//!   point is checked (canonical, on the curve, in the subgroup, not the identity) before any
//!   pairing; each side refuses its own identity as peer (Selfie). The key `K` is only 16
//!   bytes with no transcript binding, so the channel imports it as an RFC 9258 PSK with
//!   [`WccSession::import_context`] over [`transcript_hash`] (P2P-SPEC §12).
//!
//! ```
//! use mpin_kex::wcc::*;
//! use mpin_kex::HashedId;
//! use rand_core::OsRng;
//!
//! // Three D-TAs, each with its own P2P master share.
//! let dtas: Vec<P2pMasterShare> = (0..3).map(|_| P2pMasterShare::generate(&mut OsRng)).collect();
//! let day = 20_000;
//! let (alice, bob) = (&b"device:alice"[..], &b"device:bob"[..]);
//! let (ha, hb) = (HashedId::of(alice), HashedId::of(bob));
//!
//! // Alice may dial (G1 key and permit); Bob may accept (G2 key and permit).
//! let a_key = SenderKey::combine(&dtas.iter().map(|d| d.sender_key_share(&ha)).collect::<Vec<_>>())?;
//! let a_permit = SenderPermit::combine(
//!     &dtas.iter().map(|d| d.sender_permit_share(&ha, day)).collect::<Result<Vec<_>, _>>()?,
//! )?;
//! let b_key = ReceiverKey::combine(&dtas.iter().map(|d| d.receiver_key_share(&hb)).collect::<Vec<_>>())?;
//! let b_permit = ReceiverPermit::combine(
//!     &dtas.iter().map(|d| d.receiver_permit_share(&hb, day)).collect::<Result<Vec<_>, _>>()?,
//! )?;
//!
//! let mut initiator = Initiator::new(alice, &a_key, Some(&a_permit), bob)?;
//! let responder = Responder::new(bob, &b_key)?.with_permits(&[b_permit], true)?;
//!
//! let hello = initiator.hello(&mut OsRng)?.encode();                   // Alice → Bob
//! let (reply, bob_session) = responder.respond(&P2pHello::decode(&hello)?, &mut OsRng)?;
//! let alice_session = initiator.reply(&P2pReply::decode(&reply.encode())?)?; // Bob → Alice
//!
//! assert_eq!(alice_session.key, bob_session.key);
//! assert_eq!(bob_session.initiator, alice);
//! assert_eq!(alice_session.responder, bob);
//! // The channel binds the transcript, both identities in role order and the day.
//! let th = transcript_hash(b"MP2P\x01", &hello, &reply.encode());
//! assert_eq!(alice_session.import_context(&th), bob_session.import_context(&th));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! An M-Pin master share has no device-key methods, and its 48-byte encoding is refused by
//! [`P2pMasterShare::from_bytes`] (which wants `"P2P1" ‖ scalar`):
//!
//! ```compile_fail
//! use mpin_kex::{HashedId, MasterShare};
//! let m = MasterShare::generate(&mut rand_core::OsRng);
//! let _ = m.sender_key_share(&HashedId::of(b"device"));
//! ```

mod error;
mod fast;
mod h2;
mod initiator;
mod keys;
mod master;
mod math;
pub mod messages;
mod points;
pub mod raw;
mod responder;
mod session;

pub use error::WccError;
pub use initiator::Initiator;
pub use keys::{
    ReceiverKey, ReceiverKeyShare, ReceiverPermit, ReceiverPermitShare, SenderKey, SenderKeyShare,
    SenderPermit, SenderPermitShare,
};
pub use master::P2pMasterShare;
pub use messages::{P2pHello, P2pReply};
pub use responder::Responder;
pub use session::{transcript_hash, WccSession, CONTEXT_LABEL, TRANSCRIPT_LABEL};
