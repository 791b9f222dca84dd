//! Per-connection resource bounds after the handshake (RFC 8446 §4.6.3,
//! §5.5): queued output, unread events, session tickets and the AEAD usage
//! limit, plus counters that show what the bounds dropped.

use crate::suites::CipherSuite;

/// AES-GCM: RFC 8446 §5.5 allows 2^24.5 full-size records under one key.
/// 2^24.5 = 23,726,566.4; rounded down.
pub const AES_GCM_RECORD_LIMIT: u64 = 23_726_566;

/// ChaCha20-Poly1305 has no practical limit (RFC 8446 §5.5: the sequence
/// number would wrap first); we still rekey after 2^32 records so that no
/// key is used without bound.
pub const CHACHA20_POLY1305_RECORD_LIMIT: u64 = 1 << 32;

/// Default [`ConnectionLimits::max_tls_out`]: 256 KiB.
pub const DEFAULT_MAX_TLS_OUT: usize = 256 * 1024;

/// Default [`ConnectionLimits::max_events`].
pub const DEFAULT_MAX_EVENTS: usize = 64;

/// Default [`ConnectionLimits::max_session_tickets`].
pub const DEFAULT_MAX_SESSION_TICKETS: usize = 8;

/// Bounds a connection applies to what its peer can make it hold. Part of
/// [`ClientConfig`](crate::ClientConfig) and
/// [`ServerConfig`](crate::ServerConfig) (`limits`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Queued TLS output (bytes) at which
    /// [`ConnectionCommon::wants_read`](crate::ConnectionCommon::wants_read)
    /// turns false: the I/O adapter stops reading until the output is sent.
    /// The tokio adapter holds application writes at half of it (see
    /// [`TlsStream::buffered_tls_out`](crate::TlsStream::buffered_tls_out)).
    pub max_tls_out: usize,
    /// Unread [`Event`](crate::Event)s kept; further `PeerKeyUpdate` and
    /// `SessionTicket` events are dropped and counted
    /// ([`ConnectionStats::dropped_events`]). `HandshakeComplete` and
    /// `PeerClosed` (at most one each) are always kept.
    pub max_events: usize,
    /// Client side: NewSessionTicket messages turned into usable tickets per
    /// connection; later ones are parsed, ignored and counted
    /// ([`ConnectionStats::ignored_tickets`]).
    pub max_session_tickets: usize,
    /// Test hook: overrides the per-suite AEAD record limit (records sealed
    /// under one write key before this side sends its own KeyUpdate).
    #[doc(hidden)]
    pub aead_record_limit: Option<u64>,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            max_tls_out: DEFAULT_MAX_TLS_OUT,
            max_events: DEFAULT_MAX_EVENTS,
            max_session_tickets: DEFAULT_MAX_SESSION_TICKETS,
            aead_record_limit: None,
        }
    }
}

impl ConnectionLimits {
    /// Records one write key may seal for `suite` before a KeyUpdate.
    pub fn record_limit(&self, suite: CipherSuite) -> u64 {
        self.aead_record_limit
            .unwrap_or(match suite {
                CipherSuite::Chacha20Poly1305Sha256 => CHACHA20_POLY1305_RECORD_LIMIT,
                _ => AES_GCM_RECORD_LIMIT,
            })
            .max(2)
    }
}

/// What a connection's bounds did, for tests and metrics
/// ([`ConnectionCommon::stats`](crate::ConnectionCommon::stats)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnectionStats {
    /// KeyUpdates this side sent (requested, answers and AEAD-limit rekeys).
    pub key_updates_sent: u64,
    /// KeyUpdates sent because the AEAD usage limit was reached.
    pub limit_rekeys: u64,
    /// KeyUpdates received from the peer.
    pub key_updates_received: u64,
    /// Peer requests for a KeyUpdate answered by an already pending reply
    /// (RFC 8446 §4.6.3: one reply for several requests).
    pub coalesced_key_update_requests: u64,
    /// Events dropped because the application did not read them.
    pub dropped_events: u64,
    /// NewSessionTicket messages ignored past `max_session_tickets`.
    pub ignored_tickets: u64,
}

#[cfg(test)]
mod tests;
