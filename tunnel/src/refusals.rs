//! Rate-limited logging of refusals: under attack a service writes at most
//! one WARN line about refused connections per [`SUMMARY_EVERY`], with the
//! counts by reason, instead of one line per connection (exact counts are in
//! `/metrics`; per-connection detail is at DEBUG). Handshake failures keep a
//! WARN line each, up to [`FAILURE_LINES`] per period; beyond that they are
//! logged at DEBUG and counted in the next summary.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// Shortest time between two refusal lines of one service.
pub const SUMMARY_EVERY: Duration = Duration::from_secs(10);
/// Handshake failures logged at WARN per period and service.
pub const FAILURE_LINES: u32 = 10;

/// Why a connection was closed before its handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The source's handshake rate limit.
    RateLimited,
    /// The source already holds its share of handshake slots.
    HandshakeCap,
    /// A handshake evicted (the oldest) to make room for a new connection.
    Evicted,
    /// The established-connection limit (`max_connections`).
    Limit,
}

impl Refusal {
    const ALL: [Self; 4] = [
        Self::RateLimited,
        Self::HandshakeCap,
        Self::Evicted,
        Self::Limit,
    ];

    /// The `reason` label in metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RateLimited => "rate_limited",
            Self::HandshakeCap => "handshake_cap",
            Self::Evicted => "evicted",
            Self::Limit => "limit",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The refusal log of one service.
#[derive(Debug)]
pub struct RefusalLog {
    service: String,
    counts: [u64; 4],
    quiet_failures: u64,
    last_line: Option<Instant>,
    period_start: Instant,
    failure_lines: u32,
}

impl RefusalLog {
    /// An empty log for `service`.
    pub fn new(service: &str) -> Self {
        Self {
            service: service.into(),
            counts: [0; 4],
            quiet_failures: 0,
            last_line: None,
            period_start: Instant::now(),
            failure_lines: 0,
        }
    }

    fn pending(&self) -> u64 {
        self.counts.iter().sum::<u64>() + self.quiet_failures
    }

    fn may_log(&self, now: Instant) -> bool {
        self.last_line
            .is_none_or(|t| now.saturating_duration_since(t) >= SUMMARY_EVERY)
    }

    /// Counts a refusal; logs it at once if the service was quiet for a
    /// period, else it waits for the next summary.
    pub fn refuse(&mut self, reason: Refusal, now: Instant) {
        if self.may_log(now) && self.pending() == 0 {
            self.last_line = Some(now);
            tracing::warn!(service = %self.service, reason = reason.as_str(),
                "refused a connection ({}); further refusals are summarised at most every {}s",
                reason.as_str(), SUMMARY_EVERY.as_secs());
            return;
        }
        self.counts[reason.index()] += 1;
    }

    /// True if a handshake failure may be logged at WARN now; false: log it
    /// at DEBUG (it is counted in the next summary).
    pub fn failure(&mut self, now: Instant) -> bool {
        if now.saturating_duration_since(self.period_start) >= SUMMARY_EVERY {
            self.period_start = now;
            self.failure_lines = 0;
        }
        if self.failure_lines < FAILURE_LINES {
            self.failure_lines += 1;
            return true;
        }
        self.quiet_failures += 1;
        false
    }

    /// Writes the summary line if one is due (call it periodically).
    pub fn flush(&mut self, now: Instant) {
        if self.may_log(now) {
            self.flush_pending(now);
        }
    }

    /// Writes the summary line now if anything is pending (e.g. when the
    /// listener closes).
    pub fn flush_pending(&mut self, now: Instant) {
        if self.pending() == 0 {
            return;
        }
        let secs = self
            .last_line
            .map_or(SUMMARY_EVERY, |t| now.saturating_duration_since(t))
            .as_secs();
        let total: u64 = self.counts.iter().sum();
        let mut by_reason = String::new();
        for r in Refusal::ALL {
            let _ = write!(by_reason, " {}={}", r.as_str(), self.counts[r.index()]);
        }
        tracing::warn!(service = %self.service,
            "refused {total} connections in the last {secs}s:{by_reason}; {} more handshake failures logged at debug level",
            self.quiet_failures);
        self.counts = [0; 4];
        self.quiet_failures = 0;
        self.last_line = Some(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_between_lines_and_resets() {
        let mut l = RefusalLog::new("s");
        let t0 = Instant::now();
        l.refuse(Refusal::RateLimited, t0); // logged at once
        assert_eq!(l.pending(), 0);
        for _ in 0..5 {
            l.refuse(Refusal::RateLimited, t0);
        }
        l.refuse(Refusal::HandshakeCap, t0);
        l.flush(t0 + Duration::from_secs(1));
        assert_eq!(l.pending(), 6, "too early for a summary");
        l.flush(t0 + SUMMARY_EVERY);
        assert_eq!(l.pending(), 0);
        // the failure budget
        let n = (0..50).filter(|_| l.failure(t0)).count();
        assert_eq!(n, FAILURE_LINES as usize);
        assert_eq!(l.pending(), 40);
        assert!(l.failure(t0 + SUMMARY_EVERY));
    }
}
