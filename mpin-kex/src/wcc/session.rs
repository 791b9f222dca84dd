//! What a WCC exchange gives both sides, and the data the TLS channel binds (P2P-SPEC §12).

use sha2::{Digest, Sha256};

use super::messages::SESSION_ID_LEN;
use crate::session::SessionKey;

/// Label of the channel transcript hash.
pub const TRANSCRIPT_LABEL: &[u8] = b"milagro-p2p v1";
/// Label that starts the RFC 9258 importer context.
pub const CONTEXT_LABEL: &[u8] = b"P2PWCC1";

/// The outcome of an exchange. Both sides hold the same values when their keys are genuine;
/// a wrong key, a missing permit or an impostor shows only as different `key`s, which the TLS
/// binder (initiator) and server Finished (responder) then catch.
#[derive(Clone, Debug)]
pub struct WccSession {
    /// The initiator's (sender's) identity. For the responder: the peer, authenticated once
    /// the TLS binder checks.
    pub initiator: Vec<u8>,
    /// The responder's (receiver's) identity. For the initiator: the peer, authenticated once
    /// the server Finished checks.
    pub responder: Vec<u8>,
    /// The permit day used (0 = none).
    pub day: u32,
    /// The responder's random session id (the RFC 9258 imported identity).
    pub session_id: [u8; SESSION_ID_LEN],
    /// The 16-byte WCC key `K` (zeroized on drop).
    pub key: SessionKey,
}

impl WccSession {
    /// The RFC 9258 importer context:
    /// `"P2PWCC1" ‖ TH ‖ u16(len) ‖ IdI ‖ u16(len) ‖ IdR ‖ be32(day)`, both identities in role
    /// order (initiator first). `TH` comes from [`transcript_hash`].
    pub fn import_context(&self, transcript_hash: &[u8; 32]) -> Vec<u8> {
        let mut v = Vec::with_capacity(
            CONTEXT_LABEL.len() + 32 + 4 + self.initiator.len() + self.responder.len() + 4,
        );
        v.extend_from_slice(CONTEXT_LABEL);
        v.extend_from_slice(transcript_hash);
        crate::codec::put_vec16(&mut v, &self.initiator);
        crate::codec::put_vec16(&mut v, &self.responder);
        v.extend_from_slice(&self.day.to_be_bytes());
        v
    }
}

/// `TH = SHA-256("milagro-p2p v1" ‖ preface ‖ HELLO frame ‖ REPLY frame)` over the exact
/// bytes on the wire (frames with their type and length headers).
pub fn transcript_hash(preface: &[u8], hello_frame: &[u8], reply_frame: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(TRANSCRIPT_LABEL);
    h.update(preface);
    h.update(hello_frame);
    h.update(reply_frame);
    h.finalize().into()
}
