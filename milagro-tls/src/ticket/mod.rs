//! Session resumption (RFC 8446 §4.6.1, §4.2.11): the server's stateful
//! ticket store and the client's tickets.
//!
//! A ticket is 32 random bytes naming an entry in the server's
//! [`TicketStore`]; the entry holds the resumption PSK
//! (`HKDF-Expand-Label(resumption_master_secret, "resumption", nonce, Hash.length)`),
//! the hash it is bound to, opaque application data (e.g. the M-Pin
//! identity) and an expiry. Tickets are single-use: redeeming one removes it,
//! and a resumed handshake issues a fresh ticket with the same binding. Only
//! `psk_dhe_ke` resumption is supported; 0-RTT is never offered or accepted.

mod client;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::error::Error;
use crate::key_schedule::{self, BinderLabel, Secret};
use crate::messages::NewSessionTicket;
use crate::psk::Psk;
use crate::suites::HashAlgorithm;

pub(crate) use client::ClientResumption;
pub use client::{ClientTicket, TicketCache};

pub use crate::options::{system_clock, Clock};

/// Length of the ticket (the identity a client offers).
pub const TICKET_LEN: usize = 32;

/// Longest ticket lifetime RFC 8446 allows (7 days), in seconds. Also the
/// longest a chain of resumptions can extend one full handshake.
pub const MAX_TICKET_LIFETIME: u64 = 604_800;

/// Default number of tickets a [`TicketStore`] keeps.
pub const DEFAULT_TICKET_CAPACITY: usize = 10_000;

/// A server ticket entry.
struct Entry {
    psk: Secret,
    hash: HashAlgorithm,
    app_data: Vec<u8>,
    expires: u64,
    chain_not_after: u64,
    seq: u64,
}

#[derive(Default)]
struct Inner {
    map: HashMap<[u8; TICKET_LEN], Entry>,
    order: BTreeMap<u64, [u8; TICKET_LEN]>,
    seq: u64,
}

/// The server's stateful ticket store: ticket → resumption PSK, binding and
/// expiry. Bounded: when full, expired entries go first, then the oldest.
/// Share one store (behind an `Arc`) between all connections of a server.
pub struct TicketStore {
    inner: Mutex<Inner>,
    capacity: usize,
}

impl fmt::Debug for TicketStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TicketStore")
            .field("len", &self.len())
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl Default for TicketStore {
    fn default() -> Self {
        Self::new(DEFAULT_TICKET_CAPACITY)
    }
}

/// What redeeming a ticket yields to the handshake.
pub(crate) struct Redeemed {
    pub(crate) psk: Psk,
    pub(crate) binding: Binding,
}

/// What a ticket is bound to, carried over to the ticket issued after a
/// resumed handshake.
#[derive(Clone)]
pub(crate) struct Binding {
    pub(crate) app_data: Vec<u8>,
    pub(crate) chain_not_after: u64,
}

impl TicketStore {
    /// A store holding at most `capacity` tickets (at least 1).
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // a panic while holding the lock cannot leave the maps inconsistent
        // in a way that matters (worst case: a stale order entry)
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Number of stored tickets (expired ones included until evicted).
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    /// True when no ticket is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops every ticket (e.g. after a key or policy change).
    pub fn clear(&self) {
        let mut g = self.lock();
        g.map.clear();
        g.order.clear();
    }

    fn insert(&self, id: [u8; TICKET_LEN], mut entry: Entry, now: u64) {
        let mut g = self.lock();
        if g.map.len() >= self.capacity {
            let expired: Vec<_> = g
                .map
                .iter()
                .filter(|(_, e)| e.expires <= now)
                .map(|(k, e)| (*k, e.seq))
                .collect();
            for (k, seq) in expired {
                g.map.remove(&k);
                g.order.remove(&seq);
            }
        }
        while g.map.len() >= self.capacity {
            let Some((_, oldest)) = g.order.pop_first() else {
                break;
            };
            g.map.remove(&oldest);
        }
        g.seq += 1;
        entry.seq = g.seq;
        g.order.insert(entry.seq, id);
        g.map.insert(id, entry);
    }

    /// Removes the ticket and returns its PSK if it exists and has not
    /// expired (single use: a second redemption finds nothing).
    pub(crate) fn redeem(&self, ticket: &[u8], now: u64) -> Option<Redeemed> {
        let id: [u8; TICKET_LEN] = ticket.try_into().ok()?;
        let entry = {
            let mut g = self.lock();
            let e = g.map.remove(&id)?;
            g.order.remove(&e.seq);
            e
        };
        if entry.expires <= now {
            return None;
        }
        let psk = Psk::new(ticket, &entry.psk, entry.hash)
            .ok()?
            .with_binder_label(BinderLabel::Resumption);
        Some(Redeemed {
            psk,
            binding: Binding {
                app_data: entry.app_data,
                chain_not_after: entry.chain_not_after,
            },
        })
    }
}

/// Server ticket issuing (in [`Options::tickets`](crate::Options::tickets) of a [`ServerConfig`](crate::ServerConfig)).
/// With settings present the server also resumes tickets from
/// [`store`](Self::store), unless [`redeem`](Self::redeem) is off.
#[derive(Clone)]
pub struct TicketSettings {
    /// Where tickets are kept (share it between connections).
    pub store: Arc<TicketStore>,
    /// Whether a ClientHello may resume a ticket from [`store`](Self::store) (default
    /// true). Issuing is separate: with `false` the handshake accepts only the PSK store's
    /// keys and still issues a ticket afterwards (the M-Pin channel uses this, so that the
    /// TLS session after an M-Pin exchange can only use the PSK imported from it).
    pub redeem: bool,
    /// Lifetime of each ticket (capped at 7 days).
    pub lifetime: Duration,
    /// Opaque bytes bound to tickets issued after a full handshake (e.g. the
    /// authenticated identity). `None`: full handshakes get no ticket; a
    /// resumed handshake still gets a fresh ticket with the old binding.
    pub app_data: Option<Vec<u8>>,
    /// Unix seconds after which no ticket from this handshake (or from
    /// resumptions chained on it) is valid.
    pub not_after: Option<u64>,
    /// Clock for expiry.
    pub clock: Clock,
}

impl TicketSettings {
    /// Settings issuing tickets bound to `app_data`, valid for `lifetime`,
    /// on the system clock.
    pub fn new(store: Arc<TicketStore>, lifetime: Duration, app_data: Option<Vec<u8>>) -> Self {
        Self {
            store,
            redeem: true,
            lifetime,
            app_data,
            not_after: None,
            clock: Arc::new(system_clock),
        }
    }

    /// Issues a ticket after a handshake: stores the entry and returns the
    /// encoded NewSessionTicket, or `None` when nothing should be issued.
    pub(crate) fn issue(
        &self,
        hash: HashAlgorithm,
        rms: &[u8],
        resumed: Option<&Binding>,
    ) -> Result<Option<Vec<u8>>, Error> {
        let now = (self.clock)();
        let binding = match (resumed, &self.app_data) {
            (Some(b), _) => b.clone(),
            (None, Some(app_data)) => Binding {
                app_data: app_data.clone(),
                chain_not_after: self
                    .not_after
                    .unwrap_or(u64::MAX)
                    .min(now.saturating_add(MAX_TICKET_LIFETIME)),
            },
            (None, None) => return Ok(None),
        };
        let lifetime = self.lifetime.as_secs().min(MAX_TICKET_LIFETIME);
        let expires = now
            .saturating_add(lifetime)
            .min(binding.chain_not_after)
            .min(self.not_after.unwrap_or(u64::MAX));
        if expires <= now {
            return Ok(None);
        }
        let mut id = [0u8; TICKET_LEN];
        let mut nonce = [0u8; 8];
        let mut age_add = [0u8; 4];
        for buf in [&mut id[..], &mut nonce[..], &mut age_add[..]] {
            aws_lc_rs::rand::fill(buf).map_err(|_| Error::Internal("random"))?;
        }
        let psk = ticket_psk(hash, rms, &nonce)?;
        self.store.insert(
            id,
            Entry {
                psk,
                hash,
                app_data: binding.app_data,
                expires,
                chain_not_after: binding.chain_not_after,
                seq: 0,
            },
            now,
        );
        let nst = NewSessionTicket {
            lifetime: u32::try_from(expires - now).unwrap_or(u32::MAX),
            age_add: u32::from_be_bytes(age_add),
            nonce: nonce.to_vec(),
            ticket: id.to_vec(),
            extensions: Vec::new(),
        };
        Ok(Some(crate::messages::new_session_ticket(&nst)))
    }
}

impl fmt::Debug for TicketSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TicketSettings")
            .field("store", &self.store)
            .field("redeem", &self.redeem)
            .field("lifetime", &self.lifetime)
            .field("app_data_len", &self.app_data.as_ref().map(Vec::len))
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

/// `HKDF-Expand-Label(resumption_master_secret, "resumption", nonce, Hash.length)`.
pub(crate) fn ticket_psk(hash: HashAlgorithm, rms: &[u8], nonce: &[u8]) -> Result<Secret, Error> {
    key_schedule::expand_label(hash, rms, b"resumption", nonce, hash.output_len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(expires: u64) -> Entry {
        Entry {
            psk: zeroize::Zeroizing::new(vec![7; 32]),
            hash: HashAlgorithm::Sha256,
            app_data: b"x".to_vec(),
            expires,
            chain_not_after: expires,
            seq: 0,
        }
    }

    #[test]
    fn store_is_single_use_bounded_and_expires() {
        let s = TicketStore::new(2);
        s.insert([1; 32], entry(100), 10);
        assert!(s.redeem(&[1; 32], 10).is_some());
        assert!(s.redeem(&[1; 32], 10).is_none(), "single use");
        s.insert([2; 32], entry(100), 10);
        assert!(s.redeem(&[2; 32], 100).is_none(), "expired");
        assert!(s.is_empty());
        // full: expired first, then the oldest
        s.insert([3; 32], entry(50), 10);
        s.insert([4; 32], entry(100), 10);
        s.insert([5; 32], entry(100), 60);
        assert_eq!(s.len(), 2);
        assert!(s.redeem(&[3; 32], 60).is_none());
        s.insert([6; 32], entry(100), 60);
        assert!(s.redeem(&[4; 32], 60).is_none(), "oldest evicted");
        assert!(s.redeem(&[5; 32], 60).is_some());
        assert!(s.redeem(&[6; 32], 60).is_some());
        assert!(s.redeem(&[6; 31], 60).is_none());
    }

    #[test]
    fn store_debug_hides_secrets() {
        let s = TicketStore::default();
        s.insert([1; 32], entry(100), 0);
        assert!(!format!("{s:?}").contains("070707"));
    }
}
