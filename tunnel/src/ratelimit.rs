//! A cheap per-source token bucket, checked before any cryptography.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

/// Above this many tracked sources, full buckets are forgotten.
const MAX_TRACKED: usize = 65_536;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Allows `rate` handshakes per second per source IP, with bursts of up to
/// `max(rate, 1)`. Unix-socket peers share one bucket.
#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<Option<IpAddr>, Bucket>>,
}

impl RateLimiter {
    /// A limiter for `rate` (> 0) events per second.
    pub fn new(rate: f64) -> Self {
        Self {
            rate,
            burst: rate.max(1.0),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token for `source` at time `now`; false when none is left.
    pub fn allow(&self, source: Option<IpAddr>, now: Instant) -> bool {
        let Ok(mut map) = self.buckets.lock() else {
            return true;
        };
        if map.len() >= MAX_TRACKED {
            let (rate, burst) = (self.rate, self.burst);
            map.retain(|_, b| {
                b.tokens + now.saturating_duration_since(b.last).as_secs_f64() * rate < burst
            });
        }
        let b = map.entry(source).or_insert(Bucket {
            tokens: self.burst,
            last: now,
        });
        let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
        b.tokens = (b.tokens + elapsed * self.rate).min(self.burst);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bucket_refills_per_source() {
        let l = RateLimiter::new(2.0);
        let t0 = Instant::now();
        let a = Some(IpAddr::from([127, 0, 0, 1]));
        let b = Some(IpAddr::from([127, 0, 0, 2]));
        assert!(l.allow(a, t0));
        assert!(l.allow(a, t0));
        assert!(!l.allow(a, t0));
        assert!(l.allow(b, t0), "other sources are not affected");
        assert!(l.allow(a, t0 + Duration::from_millis(500)));
        assert!(!l.allow(a, t0 + Duration::from_millis(500)));
        let slow = RateLimiter::new(0.5);
        assert!(slow.allow(None, t0));
        assert!(!slow.allow(None, t0 + Duration::from_secs(1)));
        assert!(slow.allow(None, t0 + Duration::from_secs(2)));
    }
}
