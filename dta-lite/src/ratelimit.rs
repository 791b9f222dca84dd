//! A cheap per-source token bucket, checked before any request is parsed or any share is
//! computed.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

/// Most sources tracked; beyond that idle sources are forgotten, and if none is idle new
/// sources are refused (fail closed).
const MAX_SOURCES: usize = 10_000;

/// Per-source token buckets.
#[derive(Debug)]
pub struct RateLimiter {
    burst: f64,
    per_sec: f64,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl RateLimiter {
    /// `burst` requests at once, refilled at `per_sec` per second.
    pub fn new(burst: u32, per_sec: u32) -> Self {
        Self {
            burst: f64::from(burst),
            per_sec: f64::from(per_sec),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `source` at `now`; false when the source is over its rate.
    pub fn allow(&self, source: IpAddr, now: Instant) -> bool {
        let Ok(mut map) = self.buckets.lock() else {
            return false;
        };
        if map.len() >= MAX_SOURCES && !map.contains_key(&source) {
            let (burst, per_sec) = (self.burst, self.per_sec);
            map.retain(|_, (tokens, at)| {
                *tokens + now.saturating_duration_since(*at).as_secs_f64() * per_sec < burst
            });
            if map.len() >= MAX_SOURCES {
                return false;
            }
        }
        let (tokens, at) = map.entry(source).or_insert((self.burst, now));
        let refill = now.saturating_duration_since(*at).as_secs_f64() * self.per_sec;
        *tokens = (*tokens + refill).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
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
    fn bursts_then_refills_per_source() {
        let r = RateLimiter::new(3, 2);
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        let t = Instant::now();
        assert!((0..3).all(|_| r.allow(a, t)));
        assert!(!r.allow(a, t));
        assert!(r.allow(b, t), "sources are independent");
        assert!(
            r.allow(a, t + Duration::from_millis(500)),
            "one token after 0.5 s at 2/s"
        );
        assert!(!r.allow(a, t + Duration::from_millis(500)));
    }
}
