//! The two WCC messages and their byte layout (P2P-SPEC §12; all integers big-endian). They
//! are the bodies of the channel's P2P_HELLO and P2P_REPLY frames.
//!
//! | message | layout | length |
//! |---|---|---|
//! | [`P2pHello`] (I→R) | `id_len:u16 ‖ IdI ‖ peer_len:u16 ‖ IdR ‖ day:u32 ‖ PaG1:97` | 107 + ids, ≤ 2155 |
//! | [`P2pReply`] (R→I) | `session_id:16 ‖ id_len:u16 ‖ IdR ‖ PbG2:192 ‖ PgG1:97` | 307 + id, ≤ 1331 |
//!
//! Identities are `1..=`[`MAX_IDENTITY_LEN`] bytes; `day` is the permit day (0 = no permits).
//! Decoding checks lengths and trailing bytes only; the state machines validate every point
//! (canonical, on the curve, in the subgroup, not the identity) before any pairing.

use crate::codec::{put_vec16, Reader};
use crate::curve::{G1_LEN, G2_LEN};
use crate::error::DecodeError;
pub use crate::messages::MAX_IDENTITY_LEN;

/// Length of the responder's session id.
pub const SESSION_ID_LEN: usize = 16;
/// Longest encoded [`P2pHello`].
pub const MAX_HELLO_LEN: usize = 2 + MAX_IDENTITY_LEN + 2 + MAX_IDENTITY_LEN + 4 + G1_LEN;
/// Longest encoded [`P2pReply`].
pub const MAX_REPLY_LEN: usize = SESSION_ID_LEN + 2 + MAX_IDENTITY_LEN + G2_LEN + G1_LEN;

/// Initiator → responder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct P2pHello {
    /// The initiator's identity `IdI` (the sender, `IdA`).
    pub initiator: Vec<u8>,
    /// The identity the initiator wants to reach `IdR` (the receiver, `IdB`).
    pub responder: Vec<u8>,
    /// Permit day, 0 for none.
    pub day: u32,
    /// `PaG1 = x·A'`.
    pub pa: [u8; G1_LEN],
}

/// Responder → initiator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct P2pReply {
    /// 16 random bytes chosen by the responder (the RFC 9258 imported identity).
    pub session_id: [u8; SESSION_ID_LEN],
    /// The responder's identity `IdR`.
    pub responder: Vec<u8>,
    /// `PbG2 = y·B'`.
    pub pb: [u8; G2_LEN],
    /// `PgG1 = w·A'`.
    pub pg: [u8; G1_LEN],
}

fn identity<'a>(r: &mut Reader<'a>, field: &'static str) -> Result<&'a [u8], DecodeError> {
    let id = r.vec16(field, MAX_IDENTITY_LEN)?;
    if id.is_empty() {
        return Err(DecodeError::Invalid {
            field,
            why: "empty",
        });
    }
    Ok(id)
}

impl P2pHello {
    /// The wire bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + self.initiator.len() + self.responder.len() + G1_LEN);
        put_vec16(&mut out, &self.initiator);
        put_vec16(&mut out, &self.responder);
        out.extend_from_slice(&self.day.to_be_bytes());
        out.extend_from_slice(&self.pa);
        out
    }

    /// Strictly parses the wire bytes (lengths, bounds, no trailing bytes).
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let initiator = identity(&mut r, "initiator identity")?.to_vec();
        let responder = identity(&mut r, "responder identity")?.to_vec();
        let day = r.u32("day")?;
        let pa = r.g1("PaG1")?;
        r.finish()?;
        Ok(Self {
            initiator,
            responder,
            day,
            pa,
        })
    }
}

impl P2pReply {
    /// The wire bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out =
            Vec::with_capacity(SESSION_ID_LEN + 2 + self.responder.len() + G2_LEN + G1_LEN);
        out.extend_from_slice(&self.session_id);
        put_vec16(&mut out, &self.responder);
        out.extend_from_slice(&self.pb);
        out.extend_from_slice(&self.pg);
        out
    }

    /// Strictly parses the wire bytes (lengths, bounds, no trailing bytes).
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let mut session_id = [0u8; SESSION_ID_LEN];
        session_id.copy_from_slice(r.take(SESSION_ID_LEN, "session id")?);
        let responder = identity(&mut r, "responder identity")?.to_vec();
        let mut pb = [0u8; G2_LEN];
        pb.copy_from_slice(r.take(G2_LEN, "PbG2")?);
        let pg = r.g1("PgG1")?;
        r.finish()?;
        Ok(Self {
            session_id,
            responder,
            pb,
            pg,
        })
    }
}
