//! Whether a shared store answers: the health a server reports (`/healthz`) and logs once per
//! outage.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// While the store is degraded, how long after a failed call the next call may probe it
/// again; calls in between fail closed at once instead of each waiting for the call timeout
/// (a blackholed Redis must not hold every runtime thread for the timeout on every login).
pub const PROBE_INTERVAL: Duration = Duration::from_millis(250);

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
    /// When the last call failed (for the probe interval).
    last_failure: Mutex<Option<Instant>>,
    /// A probe call is in flight: others fail at once.
    probing: AtomicBool,
}

/// What [`HealthTracker::admit`] decided for one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admit {
    /// Healthy: send it.
    Send,
    /// Degraded and the probe interval passed: send it as the one probe in flight.
    Probe,
    /// Degraded: fail closed without sending.
    Refuse,
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
            last_failure: Mutex::new(None),
            probing: AtomicBool::new(false),
        }
    }

    pub(crate) fn get(&self) -> Health {
        self.state.lock().map(|h| *h).unwrap_or(Health {
            status: HealthStatus::Degraded,
            since: 0,
        })
    }

    /// Whether a call may go to the store now (see [`PROBE_INTERVAL`]). A call admitted as
    /// [`Admit::Probe`] must be followed by [`success`](Self::success) or
    /// [`failure`](Self::failure), which end the probe.
    pub(crate) fn admit(&self) -> Admit {
        if self.get().is_ok() {
            return Admit::Send;
        }
        let due = match self.last_failure.lock() {
            Ok(t) => t.is_none_or(|t| t.elapsed() >= PROBE_INTERVAL),
            Err(_) => true,
        };
        if due && !self.probing.swap(true, Ordering::AcqRel) {
            Admit::Probe
        } else {
            self.failed.fetch_add(1, Ordering::Relaxed);
            Admit::Refuse
        }
    }

    pub(crate) fn failed_calls(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }

    pub(crate) fn success(&self) {
        self.probing.store(false, Ordering::Release);
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
        if let Ok(mut t) = self.last_failure.lock() {
            *t = Some(Instant::now());
        }
        self.probing.store(false, Ordering::Release);
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
