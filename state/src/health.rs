//! Whether a shared store answers: the health a server reports (`/healthz`) and logs once per
//! outage.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Whether the store answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthStatus {
    /// The last call succeeded.
    Ok,
    /// The last call failed: decisions that need the store are refused (fail closed).
    Degraded,
}

/// The store's health and since when (unix seconds, system clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Health {
    /// Ok or degraded.
    pub status: HealthStatus,
    /// When the status last changed (or the store was opened).
    pub since: u64,
}

impl Health {
    /// True when the store answers.
    pub fn is_ok(&self) -> bool {
        self.status == HealthStatus::Ok
    }
}

/// Tracks the health of a store from the outcome of its calls; logs one line when an outage
/// starts and one when it ends.
#[derive(Debug)]
pub(crate) struct HealthTracker {
    state: Mutex<Health>,
    failed: AtomicU64,
    name: String,
}

pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl HealthTracker {
    pub(crate) fn new(name: String) -> Self {
        Self {
            state: Mutex::new(Health {
                status: HealthStatus::Ok,
                since: unix_now(),
            }),
            failed: AtomicU64::new(0),
            name,
        }
    }

    pub(crate) fn get(&self) -> Health {
        self.state.lock().map(|h| *h).unwrap_or(Health {
            status: HealthStatus::Degraded,
            since: 0,
        })
    }

    pub(crate) fn failed_calls(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }

    pub(crate) fn success(&self) {
        let Ok(mut h) = self.state.lock() else {
            return;
        };
        if h.status == HealthStatus::Degraded {
            let down_for = unix_now().saturating_sub(h.since);
            *h = Health {
                status: HealthStatus::Ok,
                since: unix_now(),
            };
            tracing::info!(store = %self.name, down_for_secs = down_for, "shared state store answers again: logins and resumptions are decided again");
        }
    }

    pub(crate) fn failure(&self, op: &str, error: &str) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        let Ok(mut h) = self.state.lock() else {
            return;
        };
        if h.status == HealthStatus::Ok {
            *h = Health {
                status: HealthStatus::Degraded,
                since: unix_now(),
            };
            tracing::error!(store = %self.name, op, error, "shared state store unavailable: refusing M-Pin logins, one-pass hellos and resumptions it cannot decide (fail closed) until it answers again");
        }
    }
}
