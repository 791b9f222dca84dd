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
    /// A plain TLS-PSK peer with a static PSK.
    Psk {
        /// The PSK identity.
        identity: Vec<u8>,
    },
}

impl Peer {
    /// The authenticated identity (M-Pin identity or PSK identity).
    pub fn identity(&self) -> &[u8] {
        match self {
            Peer::Mpin { identity, .. } | Peer::Psk { identity } => identity,
        }
    }
}
