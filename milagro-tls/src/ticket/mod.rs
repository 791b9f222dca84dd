//! Session resumption (RFC 8446 §4.6.1, §4.2.11): self-contained server tickets and the
//! client's ticket pool.
//!
//! A ticket is sealed with an AEAD under the server's [`TicketKeys`] ([`sealed`]): it carries
//! the resumption PSK
//! (`HKDF-Expand-Label(resumption_master_secret, "resumption", nonce, Hash.length)`), the
//! hash it is bound to, opaque application data (e.g. the M-Pin identity), an expiry, the
//! limit of its resumption chain and a random id. Any server with the key resumes it (a
//! fleet's replicas, a restarted server); tickets are single-use through [`UsedTickets`]
//! (memory by default, a shared store for a fleet), and a resumed handshake issues a fresh
//! ticket with the same binding. A full handshake issues a pool of
//! [`TicketSettings::pool`] tickets so a client can resume that many connections at once.
//! Only `psk_dhe_ke` resumption is supported; 0-RTT is never offered or accepted.

mod client;
pub mod sealed;
mod used;

use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::error::Error;
use crate::key_schedule::{self, BinderLabel, Secret};
use crate::messages::NewSessionTicket;
use crate::psk::Psk;
use crate::suites::HashAlgorithm;

pub(crate) use client::ClientResumption;
pub use client::{ClientTicket, TicketCache, DEFAULT_CLIENT_POOL};
use sealed::{Sealed, TICKET_ID_LEN};
pub use sealed::{TicketKey, TicketKeyError, TicketKeys};
pub use used::{MemoryUsedTickets, UsedTickets};

pub use crate::options::{system_clock, Clock};

/// Length of the sealed ticket (the identity a client offers) without its application data,
/// for a SHA-256 PSK: key id 4, nonce 12, id 16, hash 1, expiry 8, chain limit 8, PSK length
/// 1, PSK 32, tag 16.
pub const TICKET_LEN: usize = 98;

/// Longest ticket lifetime RFC 8446 allows (7 days), in seconds. Also the
/// longest a chain of resumptions can extend one full handshake.
pub const MAX_TICKET_LIFETIME: u64 = 604_800;

/// Default number of used-ticket ids a [`TicketStore`] remembers in memory.
pub const DEFAULT_TICKET_CAPACITY: usize = 1 << 18;

/// Default number of tickets issued after a full handshake ([`TicketSettings::pool`]).
pub const DEFAULT_TICKET_POOL: usize = 4;

/// Most tickets issued after one handshake (a client keeps at most 8 per connection).
pub const MAX_TICKET_POOL: usize = 8;

/// The server's ticket keys and single-use record. Share one store (behind an `Arc`) between
/// all connections of a server; give replicas the same keys and a shared [`UsedTickets`].
pub struct TicketStore {
    /// `None` only when no random key could be made: nothing is issued or resumed.
    keys: RwLock<Option<TicketKeys>>,
    used: Arc<dyn UsedTickets>,
}

impl fmt::Debug for TicketStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TicketStore")
            .field(
                "key_id",
                &self.keys().map(|k| hex::encode(k.current().id())),
            )
            .finish_non_exhaustive()
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
    /// A store with a fresh random key of this process (tickets do not survive a restart)
    /// remembering at most `capacity` used tickets in memory.
    pub fn new(capacity: usize) -> Self {
        // without randomness no key: every seal and open fails (never a guessable key)
        Self {
            keys: RwLock::new(TicketKeys::generate().ok()),
            used: Arc::new(MemoryUsedTickets::new(capacity)),
        }
    }

    /// A store sealing with `keys` and recording single use in `used` (a fleet: the same
    /// keys on every replica and a shared `used`).
    pub fn with_keys(keys: TicketKeys, used: Arc<dyn UsedTickets>) -> Self {
        Self {
            keys: RwLock::new(Some(keys)),
            used,
        }
    }

    /// The keys in use (`None` when no random key could be made).
    pub fn keys(&self) -> Option<TicketKeys> {
        self.keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Replaces the keys (e.g. after [`TicketKeys::rotated`]); tickets under neither new key
    /// are refused from now on.
    pub fn set_keys(&self, keys: TicketKeys) {
        *self
            .keys
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(keys);
    }

    /// Invalidates every ticket issued so far (a new random key, no previous one).
    pub fn clear(&self) -> Result<(), Error> {
        self.set_keys(TicketKeys::generate()?);
        Ok(())
    }

    /// Opens the ticket and returns its PSK if it was sealed under a current or previous key,
    /// has not expired and was not used before (single use: a second redemption, here or on
    /// another server sharing `used`, finds it used).
    pub(crate) fn redeem(&self, ticket: &[u8], now: u64) -> Option<Redeemed> {
        let entry = self.keys()?.open(ticket)?;
        if entry.expires <= now || !self.used.use_once(&entry.id, now, entry.expires) {
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

    /// True when `ticket` opens under a current or previous key and has not expired at
    /// `now`; it is not spent (for operators and fuzzing).
    pub fn is_valid(&self, ticket: &[u8], now: u64) -> bool {
        self.keys()
            .and_then(|k| k.open(ticket))
            .is_some_and(|e| e.expires > now)
    }

    fn seal(&self, entry: &Sealed) -> Result<Vec<u8>, Error> {
        self.keys()
            .ok_or(Error::Internal("no ticket key"))?
            .seal(entry)
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
    /// Tickets issued after a full handshake (default [`DEFAULT_TICKET_POOL`], at most
    /// [`MAX_TICKET_POOL`]), so a client can resume that many connections at once; a resumed
    /// handshake issues one (it refills the ticket it spent).
    pub pool: usize,
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
            pool: DEFAULT_TICKET_POOL,
        }
    }

    /// Issues tickets after a handshake: [`pool`](Self::pool) after a full handshake, one
    /// after a resumed one; returns the encoded NewSessionTickets (none when nothing should
    /// be issued).
    pub(crate) fn issue(
        &self,
        hash: HashAlgorithm,
        rms: &[u8],
        resumed: Option<&Binding>,
    ) -> Result<Vec<Vec<u8>>, Error> {
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
            (None, None) => return Ok(Vec::new()),
        };
        let lifetime = self.lifetime.as_secs().min(MAX_TICKET_LIFETIME);
        let expires = now
            .saturating_add(lifetime)
            .min(binding.chain_not_after)
            .min(self.not_after.unwrap_or(u64::MAX));
        if expires <= now {
            return Ok(Vec::new());
        }
        let count = match resumed {
            Some(_) => 1,
            None => self.pool.clamp(1, MAX_TICKET_POOL),
        };
        (0..count)
            .map(|_| self.issue_one(hash, rms, &binding, now, expires))
            .collect()
    }

    fn issue_one(
        &self,
        hash: HashAlgorithm,
        rms: &[u8],
        binding: &Binding,
        now: u64,
        expires: u64,
    ) -> Result<Vec<u8>, Error> {
        let mut id = [0u8; TICKET_ID_LEN];
        let mut nonce = [0u8; 8];
        let mut age_add = [0u8; 4];
        for buf in [&mut id[..], &mut nonce[..], &mut age_add[..]] {
            aws_lc_rs::rand::fill(buf).map_err(|_| Error::Internal("random"))?;
        }
        let ticket = self.store.seal(&Sealed {
            id,
            hash,
            expires,
            chain_not_after: binding.chain_not_after,
            psk: ticket_psk(hash, rms, &nonce)?,
            app_data: binding.app_data.clone(),
        })?;
        let nst = NewSessionTicket {
            lifetime: u32::try_from(expires - now).unwrap_or(u32::MAX),
            age_add: u32::from_be_bytes(age_add),
            nonce: nonce.to_vec(),
            ticket,
            extensions: Vec::new(),
        };
        Ok(crate::messages::new_session_ticket(&nst))
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
            .field("pool", &self.pool)
            .finish_non_exhaustive()
    }
}

/// `HKDF-Expand-Label(resumption_master_secret, "resumption", nonce, Hash.length)`.
pub(crate) fn ticket_psk(hash: HashAlgorithm, rms: &[u8], nonce: &[u8]) -> Result<Secret, Error> {
    key_schedule::expand_label(hash, rms, b"resumption", nonce, hash.output_len())
}

#[cfg(test)]
mod tests;
