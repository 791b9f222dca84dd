//! [`Options`]: what every layer shares — cipher suites, groups, the clock, the handshake
//! timeout and session tickets. The TLS core's [`ClientConfig`](crate::ClientConfig) and
//! [`ServerConfig`](crate::ServerConfig) embed one (`config.options`), the tokio
//! [`Connector`](crate::Connector) / [`Acceptor`](crate::Acceptor) read the handshake timeout
//! from it, and the layers above (the M-Pin channel, the tunnel) hand theirs down unchanged.
//!
//! ```
//! use std::sync::Arc;
//! use milagro_tls::{ClientConfig, CipherSuite, HashAlgorithm, Options, Psk};
//!
//! let mut options = Options::default();
//! options.cipher_suites = vec![CipherSuite::Chacha20Poly1305Sha256];
//! let psk = Psk::new(b"client1", b"0123456789abcdef0123", HashAlgorithm::Sha256)?;
//! let config = ClientConfig::with_options(psk, options);
//! assert_eq!(config.options.cipher_suites, [CipherSuite::Chacha20Poly1305Sha256]);
//! assert_eq!(config.options.handshake_timeout, milagro_tls::DEFAULT_HANDSHAKE_TIMEOUT);
//! # Ok::<(), milagro_tls::Error>(())
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::kx::NamedGroup;
use crate::suites::CipherSuite;
use crate::ticket::TicketSettings;

/// A clock: unix seconds. Injectable so tests can move time.
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// Unix time in seconds from the system clock.
pub fn system_clock() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Default time allowed for a whole handshake (the M-Pin exchange included).
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Settings every layer shares, set once and embedded (not copied field by field) by each
/// configuration above the wire.
#[derive(Clone)]
pub struct Options {
    /// Cipher suites in preference order. A client offers only those matching its PSK's
    /// hash.
    pub cipher_suites: Vec<CipherSuite>,
    /// Groups in preference order. A client sends a key share for the first one (and also
    /// for X25519 when the first is X25519MLKEM768 and X25519 is listed); the others are
    /// reachable through HelloRetryRequest. A server picks a group the client sent a share
    /// for first, else asks (HelloRetryRequest) for its most preferred one the client
    /// supports.
    pub groups: Vec<NamedGroup>,
    /// Clock (unix seconds) for ticket ages and expiry.
    pub clock: Clock,
    /// Time allowed for the whole handshake by the async adapters.
    pub handshake_timeout: Duration,
    /// Server: session tickets (default `None`: no ticket is issued or accepted). With
    /// settings, a ClientHello offering a ticket from the store resumes (binder label
    /// "res binder") unless [`TicketSettings::redeem`] is off; other identities go to the
    /// PSK store. Ignored by clients.
    pub tickets: Option<TicketSettings>,
    /// Client: keep the tickets a server sends for resuming later (default true: they go
    /// to the config's ticket cache, if any). Ignored by servers.
    pub resume: bool,
}

impl Default for Options {
    /// All three suites; X25519MLKEM768, X25519, secp256r1; the system clock; the 10 s
    /// handshake timeout; no server tickets; clients keep tickets.
    fn default() -> Self {
        Self {
            cipher_suites: CipherSuite::ALL.to_vec(),
            groups: NamedGroup::ALL.to_vec(),
            clock: Arc::new(system_clock),
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            tickets: None,
            resume: true,
        }
    }
}

impl Options {
    /// Defaults, restricted to one suite and/or one group where given.
    pub fn only(suite: Option<CipherSuite>, group: Option<NamedGroup>) -> Self {
        let mut o = Self::default();
        if let Some(s) = suite {
            o.cipher_suites = vec![s];
        }
        if let Some(g) = group {
            o.groups = vec![g];
        }
        o
    }

    /// The suite this side is restricted to, if exactly one is configured.
    pub fn single_suite(&self) -> Option<CipherSuite> {
        match self.cipher_suites.as_slice() {
            [s] => Some(*s),
            _ => None,
        }
    }
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("cipher_suites", &self.cipher_suites)
            .field("groups", &self.groups)
            .field("handshake_timeout", &self.handshake_timeout)
            .field("tickets", &self.tickets)
            .field("resume", &self.resume)
            .finish_non_exhaustive()
    }
}

/// Equal when suites, groups, timeout and resume agree and both have no server tickets
/// (the clock and ticket stores are not comparable; settings holding tickets are never
/// equal).
impl PartialEq for Options {
    fn eq(&self, other: &Self) -> bool {
        self.cipher_suites == other.cipher_suites
            && self.groups == other.groups
            && self.handshake_timeout == other.handshake_timeout
            && self.resume == other.resume
            && self.tickets.is_none()
            && other.tickets.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::ClientHello;
    use crate::{
        ClientConfig, ClientConnection, HashAlgorithm, Psk, ServerConfig, ServerConnection,
        StaticPskStore,
    };

    fn psk() -> Psk {
        Psk::new(b"client1", b"0123456789abcdef0123", HashAlgorithm::Sha256).unwrap()
    }

    #[test]
    fn suites_and_groups_set_once_reach_the_client_hello() {
        let options = Options {
            cipher_suites: vec![CipherSuite::Chacha20Poly1305Sha256],
            groups: vec![NamedGroup::Secp256r1],
            ..Options::default()
        };
        let config = ClientConfig::with_options(psk(), options);
        let first = ClientConnection::new(Arc::new(config)).unwrap().take_tls();
        let ch = ClientHello::decode(&first[9..]).unwrap();
        assert_eq!(
            ch.cipher_suites,
            [CipherSuite::Chacha20Poly1305Sha256.code()]
        );
        assert_eq!(
            ch.supported_groups().unwrap(),
            [NamedGroup::Secp256r1.code()]
        );
        let shares = ch.key_shares().unwrap().unwrap();
        assert_eq!(shares.len(), 1);
        assert_eq!(shares[0].0, NamedGroup::Secp256r1.code());
    }

    #[test]
    fn server_options_decide_the_negotiated_suite_and_group() {
        let store: StaticPskStore = [psk()].into_iter().collect();
        let only = Options::only(
            Some(CipherSuite::Aes128GcmSha256),
            Some(NamedGroup::Secp256r1),
        );
        let server = ServerConfig::with_options(Arc::new(store), only);
        let mut s = ServerConnection::new(Arc::new(server)).unwrap();
        let mut c = ClientConnection::new(Arc::new(ClientConfig::new(psk()))).unwrap();
        for _ in 0..8 {
            s.read_tls(&c.take_tls());
            s.process_new_packets().unwrap();
            c.read_tls(&s.take_tls());
            c.process_new_packets().unwrap();
        }
        assert!(!c.is_handshaking() && !s.is_handshaking());
        assert_eq!(s.cipher_suite(), Some(CipherSuite::Aes128GcmSha256));
        assert_eq!(s.group(), Some(NamedGroup::Secp256r1));
    }

    /// Handshake, then the server's ticket reaches the client; returns its ticket cache.
    fn ticket_cache_after_handshake(resume: bool) -> Arc<crate::TicketCache> {
        let store: StaticPskStore = [psk()].into_iter().collect();
        let tickets = TicketSettings::new(
            Arc::new(crate::TicketStore::new(4)),
            Duration::from_secs(600),
            Some(b"app".to_vec()),
        );
        let server = Options {
            tickets: Some(tickets),
            ..Options::default()
        };
        let mut s = ServerConnection::new(Arc::new(ServerConfig::with_options(
            Arc::new(store),
            server,
        )))
        .unwrap();
        let cache = Arc::new(crate::TicketCache::new());
        let mut cc = ClientConfig::with_options(
            psk(),
            Options {
                resume,
                ..Options::default()
            },
        );
        cc.ticket_cache = Some(cache.clone());
        let mut c = ClientConnection::new(Arc::new(cc)).unwrap();
        for _ in 0..8 {
            s.read_tls(&c.take_tls());
            s.process_new_packets().unwrap();
            c.read_tls(&s.take_tls());
            c.process_new_packets().unwrap();
        }
        assert!(!c.is_handshaking() && !s.is_handshaking());
        cache
    }

    #[test]
    fn client_keeps_tickets_only_with_resume_on() {
        assert!(ticket_cache_after_handshake(true).has_ticket());
        assert!(!ticket_cache_after_handshake(false).has_ticket());
    }

    #[test]
    #[cfg(feature = "tokio")] // the adapters
    fn connector_and_acceptor_read_the_timeout_from_the_options() {
        use crate::{Acceptor, Connector};
        let options = Options {
            handshake_timeout: Duration::from_millis(50),
            ..Options::default()
        };
        let connector =
            Connector::new(Arc::new(ClientConfig::with_options(psk(), options.clone())));
        assert_eq!(connector.handshake_timeout(), Duration::from_millis(50));
        let store: StaticPskStore = [psk()].into_iter().collect();
        let acceptor = Acceptor::new(Arc::new(ServerConfig::with_options(
            Arc::new(store),
            options,
        )));
        assert_eq!(acceptor.handshake_timeout(), Duration::from_millis(50));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            // a peer that never speaks: the acceptor gives up after the options' timeout
            let (_silent, io) = tokio::io::duplex(1024);
            // (the default 10 s would run into this 5 s bound instead)
            let e = tokio::time::timeout(Duration::from_secs(5), acceptor.accept(io))
                .await
                .expect("the options' 50 ms handshake timeout applies")
                .err()
                .unwrap();
            assert!(
                matches!(
                    crate::stream::tls_error(&e),
                    Some(crate::Error::HandshakeTimeout)
                ),
                "{e}"
            );
        });
    }

    #[test]
    fn only_restricts_suites_and_groups() {
        let o = Options::only(Some(CipherSuite::Aes256GcmSha384), None);
        assert_eq!(o.cipher_suites, [CipherSuite::Aes256GcmSha384]);
        assert_eq!(o.groups, NamedGroup::ALL);
        assert_eq!(o.single_suite(), Some(CipherSuite::Aes256GcmSha384));
        let o = Options::only(None, Some(NamedGroup::X25519));
        assert_eq!(o.groups, [NamedGroup::X25519]);
        assert_eq!(o.single_suite(), None);
        assert_eq!(Options::only(None, None), Options::default());
    }
}
