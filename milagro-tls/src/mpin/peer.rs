//! Who is on the other end of a server connection.

use mpin_kex::{HashedId, Mode};

/// Who is on the other end of an accepted connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    /// Authenticated with M-Pin.
    Mpin {
        /// The raw identity.
        identity: Vec<u8>,
        /// Its hash.
        hashed_id: HashedId,
        /// Multi-pass or one-pass.
        mode: Mode,
        /// The time-permit day (0 = none).
        day: u32,
        /// True when the client resumed a session ticket from an earlier M-Pin handshake
        /// (no M-Pin exchange, no pairing on this connection); the other fields come from
        /// that handshake.
        resumed: bool,
    },
    /// A device authenticated with the P2P channel (WCC identity keys, [`crate::p2p`]); both
    /// identities in role order, whichever side reports it.
    P2p {
        /// The initiator's (dialling device's, TLS client's) identity.
        initiator: Vec<u8>,
        /// The responder's (accepting device's, TLS server's) identity.
        responder: Vec<u8>,
        /// The device permit day (0 = none).
        day: u32,
    },
    /// A plain TLS-PSK peer with a static PSK.
    Psk {
        /// The PSK identity.
        identity: Vec<u8>,
    },
}

impl Peer {
    /// The authenticated identity (M-Pin identity or PSK identity; for a P2P link the
    /// initiator's, i.e. the peer's as the accepting side sees it: a dialling side reads
    /// `responder`).
    pub fn identity(&self) -> &[u8] {
        match self {
            Peer::Mpin { identity, .. } | Peer::Psk { identity } => identity,
            Peer::P2p { initiator, .. } => initiator,
        }
    }
}
