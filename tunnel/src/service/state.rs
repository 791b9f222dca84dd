//! The counters a connection holds while it lives: the live-connection guard, the
//! per-service state kept across reloads, the established-connection count.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::Shared;
use crate::config::ServiceConfig;
use crate::metrics::Metrics;
use crate::ratelimit::RateLimiter;
use crate::refusals::{Refusal, RefusalLog};
use crate::slots::HandshakeSlots;

/// Counts a live connection (handshaking or established) until dropped.
pub(super) struct ConnGuard {
    shared: Arc<Shared>,
    service: String,
}

impl ConnGuard {
    pub(super) fn new(shared: Arc<Shared>, service: &str) -> Self {
        shared.live.fetch_add(1, Ordering::SeqCst);
        shared
            .metrics
            .active
            .get_or_create(&Metrics::svc(service))
            .inc();
        Self {
            shared,
            service: service.into(),
        }
    }
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.shared.live.fetch_sub(1, Ordering::SeqCst);
        self.shared
            .metrics
            .active
            .get_or_create(&Metrics::svc(&self.service))
            .dec();
        self.shared.changed.notify_waiters();
    }
}

/// Per-service state kept across reloads: established connections,
/// handshake slots, the refusal log.
pub(super) struct ServiceState {
    pub(super) name: String,
    pub(super) established: AtomicUsize,
    pub(super) slots: Arc<HandshakeSlots>,
    pub(super) refusals: Mutex<RefusalLog>,
    /// The rate limiter and the (rate, burst) it was made for: kept across
    /// reloads that do not change them, so a SIGHUP does not refill buckets.
    pub(super) limiter: Mutex<Option<(f64, f64, Arc<RateLimiter>)>>,
}

impl ServiceState {
    /// The rate limiter for `config` (None: no rate limit).
    pub(super) fn limiter(&self, config: &ServiceConfig) -> Option<Arc<RateLimiter>> {
        let Ok(mut held) = self.limiter.lock() else {
            return None;
        };
        let Some(rate) = config.rate_limit else {
            *held = None;
            return None;
        };
        let burst = config.rate_burst;
        if let Some((r, b, l)) = held.as_ref() {
            if *r == rate && *b == burst {
                return Some(l.clone());
            }
        }
        let l = Arc::new(RateLimiter::new(rate, burst));
        *held = Some((rate, burst, l.clone()));
        Some(l)
    }

    /// Counts a refusal in metrics and the (rate-limited) log.
    pub(super) fn refuse(&self, metrics: &Metrics, reason: Refusal, now: Instant) {
        metrics.reject(&self.name, reason.as_str());
        if let Ok(mut log) = self.refusals.lock() {
            log.refuse(reason, now);
        }
    }
}

/// Counts an established connection until dropped.
pub(super) struct Established<'a>(&'a AtomicUsize);

impl<'a> Established<'a> {
    /// None when `max` connections are established already.
    pub(super) fn try_new(count: &'a AtomicUsize, max: usize) -> Option<Self> {
        if count.fetch_add(1, Ordering::SeqCst) >= max {
            count.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        Some(Self(count))
    }
}

impl Drop for Established<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}
