//! Slots for unauthenticated handshakes, separate from the established
//! connection limit.
//!
//! A connection holds a slot from `accept` until it is authenticated (or
//! closed). Per source (IPv4 address, IPv6 /64) the newest connection is
//! refused when the source already holds its share: that source is the one
//! hogging slots. When all slots are taken, the *oldest* handshake still in
//! progress is evicted to make room for the new one: idle or slow sockets
//! then cannot keep a valid client out, since to hold every slot an attacker
//! would have to open them faster than a genuine handshake completes, from
//! many sources (each bounded by its own share and the rate limit). Refusing
//! the newest instead would let 1,024 idle sockets shut everyone out for a
//! whole handshake timeout. Every operation is O(log n).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use prometheus_client::metrics::gauge::Gauge;
use tokio::sync::oneshot;

use crate::ratelimit::SourceKey;

struct Entry {
    source: SourceKey,
    evict: oneshot::Sender<()>,
}

#[derive(Default)]
struct Inner {
    by_source: HashMap<SourceKey, usize>,
    /// Handshakes in progress, oldest (lowest id) first.
    order: BTreeMap<u64, Entry>,
}

impl Inner {
    /// Forgets `id`; true if it was still held.
    fn remove(&mut self, id: u64) -> Option<Entry> {
        let e = self.order.remove(&id)?;
        if let Some(n) = self.by_source.get_mut(&e.source) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.by_source.remove(&e.source);
            }
        }
        Some(e)
    }
}

/// The handshake slots of one service.
pub struct HandshakeSlots {
    inner: Mutex<Inner>,
    gauge: Gauge,
}

impl std::fmt::Debug for HandshakeSlots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HandshakeSlots")
            .field("held", &self.held())
            .finish()
    }
}

/// Why no slot was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotRefusal {
    /// The source already holds `max_per_source` handshakes.
    PerSource,
}

/// A held slot; released on drop (or when evicted).
pub struct Slot {
    slots: Arc<HandshakeSlots>,
    id: u64,
    /// Resolves when the slot was evicted for a newer connection.
    pub evicted: oneshot::Receiver<()>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut g) = self.slots.inner.lock() {
            if g.remove(self.id).is_some() {
                self.slots.gauge.dec();
            }
        }
    }
}

impl HandshakeSlots {
    /// No slot held; `gauge` counts the slots held.
    pub fn new(gauge: Gauge) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            gauge,
        }
    }

    /// Slots held now.
    pub fn held(&self) -> usize {
        self.inner.lock().map_or(0, |g| g.order.len())
    }

    /// A slot for connection `id` (ids increase) from `source`, within
    /// `max_total` and `max_per_source`. Also returns how many older
    /// handshakes were evicted to make room.
    pub fn acquire(
        self: &Arc<Self>,
        id: u64,
        source: SourceKey,
        max_total: usize,
        max_per_source: usize,
    ) -> Result<(Slot, usize), SlotRefusal> {
        let (tx, rx) = oneshot::channel();
        let Ok(mut g) = self.inner.lock() else {
            // poisoned: admit, unaccounted, rather than refuse everyone
            drop(tx);
            let slot = Slot {
                slots: self.clone(),
                id,
                evicted: rx,
            };
            return Ok((slot, 0));
        };
        if g.by_source.get(&source).copied().unwrap_or(0) >= max_per_source {
            return Err(SlotRefusal::PerSource);
        }
        let mut evicted = 0;
        while g.order.len() >= max_total.max(1) {
            let Some(oldest) = g.order.keys().next().copied() else {
                break;
            };
            if let Some(e) = g.remove(oldest) {
                let _ = e.evict.send(());
                self.gauge.dec();
                evicted += 1;
            }
        }
        g.order.insert(id, Entry { source, evict: tx });
        *g.by_source.entry(source).or_insert(0) += 1;
        self.gauge.inc();
        drop(g);
        let slot = Slot {
            slots: self.clone(),
            id,
            evicted: rx,
        };
        Ok((slot, evicted))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_source_cap_refuses_the_newest_and_frees_on_drop() {
        let s = Arc::new(HandshakeSlots::new(Gauge::default()));
        let a = SourceKey::V4(1);
        let (s1, _) = s.acquire(1, a, 10, 2).unwrap();
        let (_s2, _) = s.acquire(2, a, 10, 2).unwrap();
        assert_eq!(s.acquire(3, a, 10, 2).err(), Some(SlotRefusal::PerSource));
        assert!(
            s.acquire(4, SourceKey::V4(2), 10, 2).is_ok(),
            "other source"
        );
        drop(s1);
        assert!(s.acquire(5, a, 10, 2).is_ok(), "slot released on drop");
    }

    #[test]
    fn a_full_table_evicts_the_oldest_handshake() {
        let gauge = Gauge::default();
        let s = Arc::new(HandshakeSlots::new(gauge.clone()));
        let mut held: Vec<Slot> = (0..3)
            .map(|i| s.acquire(i, SourceKey::V4(i as u32), 3, 3).unwrap().0)
            .collect();
        assert_eq!(gauge.get(), 3);
        let (mut newest, evicted) = s.acquire(10, SourceKey::V4(9), 3, 3).unwrap();
        assert_eq!(evicted, 1);
        assert_eq!((s.held(), gauge.get()), (3, 3));
        assert!(held[0].evicted.try_recv().is_ok(), "the oldest was told");
        assert!(held[1].evicted.try_recv().is_err());
        assert!(newest.evicted.try_recv().is_err());
        // the evicted slot's drop does not free someone else's share
        drop(held.remove(0));
        assert_eq!((s.held(), gauge.get()), (3, 3));
        drop(held);
        drop(newest);
        assert_eq!((s.held(), gauge.get()), (0, 0));
    }
}
