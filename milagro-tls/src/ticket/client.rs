//! The client side of resumption: received tickets and where they go.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use zeroize::Zeroizing;

use super::{ticket_psk, Clock, MAX_TICKET_LIFETIME};
use crate::error::Error;
use crate::key_schedule::{BinderLabel, Secret};
use crate::messages::NewSessionTicket;
use crate::psk::Psk;
use crate::suites::HashAlgorithm;

/// Most received tickets a client connection keeps (older ones are dropped).
const MAX_CLIENT_TICKETS: usize = 4;

/// A ticket the client received, ready to offer in a later ClientHello
/// ([`ClientConfig::resuming`](crate::ClientConfig::resuming)). The PSK is
/// wiped on drop and never printed.
#[derive(Clone)]
pub struct ClientTicket {
    psk: Psk,
    age_add: u32,
    received_at: u64,
    lifetime: u32,
}

impl ClientTicket {
    /// Builds a ticket from a received NewSessionTicket and the connection's
    /// resumption master secret. `None` for a zero lifetime or a ticket that
    /// cannot be a PSK identity.
    pub(crate) fn from_nst(
        nst: &NewSessionTicket,
        hash: HashAlgorithm,
        rms: &[u8],
        now: u64,
    ) -> Result<Option<Self>, Error> {
        if nst.lifetime == 0 {
            return Ok(None);
        }
        let key = Zeroizing::new(ticket_psk(hash, rms, &nst.nonce)?.to_vec());
        let Ok(psk) = Psk::new(&nst.ticket, &key, hash) else {
            return Ok(None);
        };
        Ok(Some(Self {
            psk: psk.with_binder_label(BinderLabel::Resumption),
            age_add: nst.age_add,
            received_at: now,
            lifetime: nst
                .lifetime
                .min(u32::try_from(MAX_TICKET_LIFETIME).unwrap_or(u32::MAX)),
        }))
    }

    /// The resumption PSK (identity = the ticket, binder label "res binder").
    pub fn psk(&self) -> &Psk {
        &self.psk
    }

    /// The hash the ticket is bound to (only suites with it can resume).
    pub fn hash(&self) -> HashAlgorithm {
        self.psk.hash()
    }

    /// When the ticket arrived (unix seconds, client clock).
    pub fn received_at(&self) -> u64 {
        self.received_at
    }

    /// The lifetime the server announced (seconds, capped at 7 days).
    pub fn lifetime(&self) -> u32 {
        self.lifetime
    }

    /// True while `now` (unix seconds) is within the ticket's lifetime.
    pub fn is_fresh_at(&self, now: u64) -> bool {
        now >= self.received_at && now < self.received_at.saturating_add(u64::from(self.lifetime))
    }

    /// `obfuscated_ticket_age` for a ClientHello sent at `now`.
    pub(crate) fn obfuscated_age(&self, now: u64) -> u32 {
        let age_ms = now.saturating_sub(self.received_at).saturating_mul(1000);
        (age_ms as u32).wrapping_add(self.age_add)
    }
}

impl fmt::Debug for ClientTicket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientTicket")
            .field("hash", &self.psk.hash())
            .field("received_at", &self.received_at)
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

/// Default number of tickets a [`TicketCache`] keeps.
pub const DEFAULT_CLIENT_POOL: usize = 16;

/// A client-side pool where connections deposit the tickets they receive
/// (set [`ClientConfig::ticket_cache`](crate::ClientConfig::ticket_cache)) and take one each
/// when they connect (tickets are single-use), so that as many connections as it holds
/// tickets resume at once. Bounded: when full the oldest ticket is dropped.
pub struct TicketCache {
    pool: Mutex<VecDeque<ClientTicket>>,
    capacity: usize,
}

impl Default for TicketCache {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_CLIENT_POOL)
    }
}

impl fmt::Debug for TicketCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TicketCache")
            .field("tickets", &self.len())
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl TicketCache {
    /// An empty pool of [`DEFAULT_CLIENT_POOL`] tickets.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty pool holding at most `capacity` tickets (at least 1).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            pool: Mutex::new(VecDeque::new()),
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<ClientTicket>> {
        self.pool
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds a ticket (dropping the oldest when full).
    pub fn store(&self, ticket: ClientTicket) {
        let mut pool = self.lock();
        while pool.len() >= self.capacity {
            pool.pop_front();
        }
        pool.push_back(ticket);
    }

    /// Takes the newest ticket that is still fresh at `now`; stale ones are dropped.
    pub fn take_fresh(&self, now: u64) -> Option<ClientTicket> {
        let mut pool = self.lock();
        pool.retain(|t| t.is_fresh_at(now));
        pool.pop_back()
    }

    /// True if a ticket is cached (fresh or not).
    pub fn has_ticket(&self) -> bool {
        !self.lock().is_empty()
    }

    /// Tickets cached (fresh or not).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when no ticket is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops every cached ticket.
    pub fn clear(&self) {
        self.lock().clear();
    }
}

/// Client-side resumption state of an established connection.
pub(crate) struct ClientResumption {
    pub(crate) hash: HashAlgorithm,
    pub(crate) rms: Secret,
    pub(crate) clock: Clock,
    pub(crate) cache: Option<Arc<TicketCache>>,
    pub(crate) received: VecDeque<ClientTicket>,
}

impl ClientResumption {
    /// Turns a received NewSessionTicket into a usable ticket.
    pub(crate) fn receive(&mut self, nst: &NewSessionTicket) -> Result<(), Error> {
        let now = (self.clock)();
        let Some(t) = ClientTicket::from_nst(nst, self.hash, &self.rms, now)? else {
            return Ok(());
        };
        if let Some(cache) = &self.cache {
            cache.store(t.clone());
        }
        if self.received.len() >= MAX_CLIENT_TICKETS {
            self.received.pop_front();
        }
        self.received.push_back(t);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticket(received_at: u64, lifetime: u32, id: u8) -> ClientTicket {
        let nst = NewSessionTicket {
            lifetime,
            age_add: 0,
            nonce: vec![id],
            ticket: vec![id; 32],
            extensions: vec![],
        };
        ClientTicket::from_nst(&nst, HashAlgorithm::Sha256, &[0x5a; 32], received_at)
            .unwrap()
            .unwrap()
    }

    #[test]
    fn the_pool_is_bounded_hands_out_each_ticket_once_and_drops_stale_ones() {
        let c = TicketCache::with_capacity(3);
        for id in 1..=4 {
            c.store(ticket(100, 50, id));
        }
        assert_eq!(c.len(), 3, "oldest dropped");
        c.store(ticket(0, 10, 9)); // stale at 100
        let ids: Vec<u8> = std::iter::from_fn(|| c.take_fresh(100))
            .map(|t| t.psk().identity()[0])
            .collect();
        assert_eq!(
            ids,
            [4, 3],
            "newest first, each once, stale and evicted ones gone"
        );
        assert!(!c.has_ticket());
    }

    #[test]
    fn debug_hides_secrets_and_ages() {
        let rms = [0x5a; 32];
        let nst = NewSessionTicket {
            lifetime: 10,
            age_add: 3,
            nonce: vec![0],
            ticket: vec![1; 32],
            extensions: vec![],
        };
        let t = ClientTicket::from_nst(&nst, HashAlgorithm::Sha256, &rms, 5)
            .unwrap()
            .unwrap();
        let key_hex = hex::encode(t.psk().key());
        assert!(!format!("{t:?}").contains(&key_hex));
        assert!(t.is_fresh_at(14) && !t.is_fresh_at(15) && !t.is_fresh_at(4));
        assert_eq!(t.obfuscated_age(7), 2003);
    }
}
