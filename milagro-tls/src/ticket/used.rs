//! Single use of self-contained tickets: the [`UsedTickets`] trait and its bounded in-memory
//! implementation. A shared implementation (e.g. Redis `SET NX` with the ticket's remaining
//! lifetime, in `milagro-state`) makes a ticket resume exactly once across a fleet.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use super::sealed::TICKET_ID_LEN;

/// Remembers the ids of redeemed tickets until they expire.
pub trait UsedTickets: Send + Sync {
    /// Atomically marks ticket `id` used until `expires` (unix seconds). True the first time;
    /// false when it was used before or cannot be recorded (the resumption is refused: fail
    /// closed, the client runs a full handshake).
    fn use_once(&self, id: &[u8; TICKET_ID_LEN], now: u64, expires: u64) -> bool;
}

#[derive(Debug, Default)]
struct Inner {
    used: HashMap<[u8; TICKET_ID_LEN], u64>,
    by_expiry: BTreeSet<(u64, [u8; TICKET_ID_LEN])>,
}

/// In-memory [`UsedTickets`] of one process, holding at most `capacity` live ids (expired ones
/// are dropped from an expiry queue). Full of live ids it refuses (fail closed).
#[derive(Debug)]
pub struct MemoryUsedTickets {
    inner: Mutex<Inner>,
    capacity: usize,
}

impl MemoryUsedTickets {
    /// Room for `capacity` live ids (at least 1).
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            capacity: capacity.max(1),
        }
    }

    /// Ids remembered.
    pub fn len(&self) -> usize {
        self.inner.lock().map(|i| i.used.len()).unwrap_or(0)
    }

    /// True when no id is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl UsedTickets for MemoryUsedTickets {
    fn use_once(&self, id: &[u8; TICKET_ID_LEN], now: u64, expires: u64) -> bool {
        let Ok(mut g) = self.inner.lock() else {
            return false;
        };
        while let Some(&(exp, old)) = g.by_expiry.first() {
            if exp > now {
                break;
            }
            g.by_expiry.pop_first();
            g.used.remove(&old);
        }
        if g.used.contains_key(id) || g.used.len() >= self.capacity {
            return false;
        }
        g.used.insert(*id, expires);
        g.by_expiry.insert((expires, *id));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_used_once_until_they_expire_and_a_full_set_refuses() {
        let u = MemoryUsedTickets::new(2);
        assert!(u.use_once(&[1; 16], 10, 100));
        assert!(!u.use_once(&[1; 16], 11, 100), "single use");
        assert!(u.use_once(&[2; 16], 11, 100));
        assert!(
            !u.use_once(&[3; 16], 11, 100),
            "full of live ids: fail closed"
        );
        assert!(u.use_once(&[3; 16], 100, 200), "expired ids are dropped");
        assert_eq!(u.len(), 1);
    }
}
