//! A cheap per-source token bucket, checked before any cryptography.
//!
//! Sources are aggregated as an attacker can vary them cheaply: an IPv4
//! address, an IPv6 /64 (one subscriber usually holds a whole /64), or "local"
//! for Unix-socket peers. The table of buckets is bounded and never scanned:
//! it is kept in two generations. Every lookup touches one hash entry; when the
//! current generation is half the capacity, or a whole refill window has
//! passed, the previous generation is dropped and the current one becomes the
//! previous (amortised O(1) per accept). A bucket untouched for a refill
//! window is full again, so forgetting it on the time-based turn is exact; on
//! the size-based turn (a flood of distinct sources) the sources seen least
//! recently are the ones forgotten.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most sources tracked at once (both generations together).
pub const MAX_TRACKED: usize = 65_536;

/// What the limits count against: an IPv4 address, an IPv6 /64 or the local
/// (Unix-socket) side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SourceKey {
    /// Unix-socket peers (all share one key).
    Local,
    /// An IPv4 address (also for IPv4-mapped IPv6 addresses).
    V4(u32),
    /// The upper 64 bits of an IPv6 address.
    V6(u64),
}

impl SourceKey {
    /// The key of a peer address (`None`: a Unix-socket peer).
    pub fn of(ip: Option<IpAddr>) -> Self {
        match ip {
            None => Self::Local,
            Some(IpAddr::V4(v4)) => Self::V4(u32::from(v4)),
            Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                Some(v4) => Self::V4(u32::from(v4)),
                None => Self::V6((u128::from(v6) >> 64) as u64),
            },
        }
    }

    /// An opaque, unambiguous encoding of the key (a kind byte, then the address or
    /// /64 prefix).
    pub fn to_bytes(self) -> Vec<u8> {
        match self {
            Self::Local => vec![0],
            Self::V4(v4) => [&[4u8][..], &v4.to_be_bytes()].concat(),
            Self::V6(v6) => [&[6u8][..], &v6.to_be_bytes()].concat(),
        }
    }

    /// The source of the M-Pin pair lockout (`milagro_tls::mpin::MpinAcceptor::accept_from`):
    /// as [`SourceKey::to_bytes`] but coarser for IPv6, the /48 (kind byte 48, then 6 bytes),
    /// so that one allocation (a site usually gets a /48) is one source there; an IPv4
    /// address and the local side stay as they are. The rate limit keeps the /64.
    pub fn lockout_bytes(self) -> Vec<u8> {
        match self {
            Self::V6(v6) => [&[48u8][..], &v6.to_be_bytes()[..6]].concat(),
            other => other.to_bytes(),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

#[derive(Debug)]
struct Generations {
    current: HashMap<SourceKey, Bucket>,
    previous: HashMap<SourceKey, Bucket>,
    started: Instant,
}

/// Allows `rate` handshakes per second per source, with bursts of up to
/// `burst`; failures can be charged extra (see [`RateLimiter::charge`]).
#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    capacity: usize,
    window: Duration,
    table: Mutex<Generations>,
}

impl RateLimiter {
    /// A limiter for `rate` (> 0) events per second and bursts of `burst`
    /// (at least 1), tracking up to [`MAX_TRACKED`] sources.
    pub fn new(rate: f64, burst: f64) -> Self {
        Self::with_capacity(rate, burst, MAX_TRACKED)
    }

    /// As [`RateLimiter::new`], tracking up to `capacity` (≥ 2) sources.
    pub fn with_capacity(rate: f64, burst: f64, capacity: usize) -> Self {
        let burst = burst.max(1.0);
        let rate = if rate.is_finite() && rate > 0.0 {
            rate
        } else {
            f64::MIN_POSITIVE
        };
        // a bucket may go down to -burst (charged failures); after this long
        // untouched it is full again
        let window = Duration::try_from_secs_f64(2.0 * burst / rate)
            .unwrap_or(Duration::MAX)
            .min(Duration::from_secs(86_400));
        Self {
            rate,
            burst,
            capacity: capacity.max(2),
            window,
            table: Mutex::new(Generations {
                current: HashMap::new(),
                previous: HashMap::new(),
                started: Instant::now(),
            }),
        }
    }

    /// Runs `f` on the bucket of `source`, refilled to `now`.
    fn with_bucket<T>(
        &self,
        source: SourceKey,
        now: Instant,
        f: impl FnOnce(&mut Bucket) -> T,
    ) -> T {
        let mut fresh = Bucket {
            tokens: self.burst,
            last: now,
        };
        let Ok(mut g) = self.table.lock() else {
            // poisoned: fail open for this one call rather than refuse everyone
            return f(&mut fresh);
        };
        let since = now.saturating_duration_since(g.started);
        if since >= self.window {
            // everything in `previous` is untouched for a whole window: full
            let old = std::mem::take(&mut g.current);
            g.previous = if since >= 2 * self.window {
                HashMap::new()
            } else {
                old
            };
            g.started = now;
        }
        if !g.current.contains_key(&source) {
            let moved = g.previous.remove(&source);
            if g.current.len() >= self.capacity / 2 {
                g.previous = std::mem::take(&mut g.current);
                g.started = now;
            }
            g.current.insert(source, moved.unwrap_or(fresh));
        }
        let burst = self.burst;
        let rate = self.rate;
        let b = g.current.entry(source).or_insert(fresh);
        let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
        b.tokens = (b.tokens + elapsed * rate).min(burst);
        b.last = now;
        f(b)
    }

    /// Takes a token for `source` at time `now`; false when none is left.
    pub fn allow(&self, source: SourceKey, now: Instant) -> bool {
        self.with_bucket(source, now, |b| {
            if b.tokens >= 1.0 {
                b.tokens -= 1.0;
                true
            } else {
                false
            }
        })
    }

    /// Takes `tokens` more from `source` (a failure it caused); the bucket
    /// goes down to at most `-burst`, so the source waits longer.
    pub fn charge(&self, source: SourceKey, tokens: f64, now: Instant) {
        let floor = -self.burst;
        self.with_bucket(source, now, |b| b.tokens = (b.tokens - tokens).max(floor));
    }

    /// Sources tracked now (both generations).
    pub fn tracked(&self) -> usize {
        self.table
            .lock()
            .map_or(0, |g| g.current.len() + g.previous.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv6Addr;

    fn v4(last: u8) -> SourceKey {
        SourceKey::of(Some(IpAddr::from([127, 0, 0, last])))
    }

    #[test]
    fn source_bytes_follow_the_prefix_and_are_unambiguous() {
        assert_eq!(v4(1).to_bytes(), [4, 127, 0, 0, 1]);
        assert_ne!(v4(1).to_bytes(), v4(2).to_bytes());
        let a: Ipv6Addr = "2001:db8:1:2::1".parse().unwrap_or(Ipv6Addr::LOCALHOST);
        let b: Ipv6Addr = "2001:db8:1:2:ffff::9"
            .parse()
            .unwrap_or(Ipv6Addr::LOCALHOST);
        let (ka, kb) = (SourceKey::of(Some(a.into())), SourceKey::of(Some(b.into())));
        assert_eq!(ka.to_bytes(), kb.to_bytes(), "one /64, one source");
        assert_eq!(ka.to_bytes().len(), 9);
        assert_eq!(SourceKey::Local.to_bytes(), [0]);
    }

    #[test]
    fn lockout_sources_are_ipv6_48s_and_ipv4_addresses() {
        let ip = |s: &str| SourceKey::of(Some(s.parse().unwrap_or(IpAddr::from([0; 4]))));
        let a = ip("2001:db8:1:2::1").lockout_bytes();
        assert_eq!(a, [48, 0x20, 0x01, 0x0d, 0xb8, 0, 1]);
        for same in [
            "2001:db8:1:ffff::9",
            "2001:db8:1::",
            "2001:db8:1:ffff:ffff:ffff:ffff:ffff",
        ] {
            assert_eq!(ip(same).lockout_bytes(), a, "{same}: one /48, one source");
        }
        assert_ne!(ip("2001:db8:2::1").lockout_bytes(), a, "another /48");
        assert_ne!(
            ip("2001:db8:1:2::1").to_bytes(),
            ip("2001:db8:1:3::1").to_bytes(),
            "the rate limit keeps /64s"
        );
        assert_eq!(v4(1).lockout_bytes(), v4(1).to_bytes(), "IPv4: per address");
        assert_ne!(v4(1).lockout_bytes(), v4(2).lockout_bytes());
        assert_eq!(
            ip("::ffff:127.0.0.1").lockout_bytes(),
            v4(1).lockout_bytes()
        );
        assert_eq!(SourceKey::Local.lockout_bytes(), [0]);
    }

    #[test]
    fn bucket_refills_per_source() {
        let l = RateLimiter::new(2.0, 2.0);
        let t0 = Instant::now();
        let (a, b) = (v4(1), v4(2));
        assert!(l.allow(a, t0));
        assert!(l.allow(a, t0));
        assert!(!l.allow(a, t0));
        assert!(l.allow(b, t0), "other sources are not affected");
        assert!(l.allow(a, t0 + Duration::from_millis(500)));
        assert!(!l.allow(a, t0 + Duration::from_millis(500)));
        let slow = RateLimiter::new(0.5, 1.0);
        let local = SourceKey::of(None);
        assert!(slow.allow(local, t0));
        assert!(!slow.allow(local, t0 + Duration::from_secs(1)));
        assert!(slow.allow(local, t0 + Duration::from_secs(2)));
    }

    #[test]
    fn ipv6_sources_share_a_bucket_per_64() {
        let ip = |s: &str| Some(IpAddr::from(s.parse::<Ipv6Addr>().unwrap()));
        let same_a = SourceKey::of(ip("2001:db8:1:2::1"));
        let same_b = SourceKey::of(ip("2001:db8:1:2:ffff:ffff:ffff:ffff"));
        let other = SourceKey::of(ip("2001:db8:1:3::1"));
        assert_eq!(same_a, same_b);
        assert_ne!(same_a, other);
        // an IPv4-mapped address counts as its IPv4 address
        assert_eq!(SourceKey::of(ip("::ffff:127.0.0.1")), v4(1));
        let l = RateLimiter::new(1.0, 3.0);
        let t0 = Instant::now();
        for i in 0..3u16 {
            let addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 2, i, 7, 7, i);
            assert!(l.allow(SourceKey::of(Some(addr.into())), t0));
        }
        assert!(
            !l.allow(same_a, t0),
            "other addresses of the /64 used up its bucket"
        );
        assert!(l.allow(other, t0), "the next /64 has its own bucket");
    }

    #[test]
    fn table_stays_bounded_and_keeps_recent_sources() {
        let l = RateLimiter::with_capacity(1.0, 2.0, 1000);
        let t0 = Instant::now();
        let victim = SourceKey::V4(7);
        assert!(l.allow(victim, t0));
        assert!(l.allow(victim, t0));
        assert!(!l.allow(victim, t0));
        // a flood of distinct sources: the table never exceeds its bound
        for i in 0..200_000u64 {
            assert!(l.allow(SourceKey::V6(i), t0));
            assert!(l.tracked() <= 1000, "{} tracked", l.tracked());
            // a source seen recently keeps its (empty) bucket: flooding
            // cannot reset it, as long as it is seen once per 499 others
            if i % 400 == 0 {
                assert!(!l.allow(victim, t0), "bucket forgotten after {i}");
            }
        }
    }

    #[test]
    fn idle_sources_expire_and_come_back_full() {
        let l = RateLimiter::with_capacity(10.0, 5.0, 1000);
        let t0 = Instant::now();
        for i in 0..300u32 {
            assert!(l.allow(SourceKey::V4(i), t0));
        }
        assert_eq!(l.tracked(), 300);
        // window = 2 * burst / rate = 1 s; after two windows all are gone
        let later = t0 + Duration::from_millis(2100);
        assert!(l.allow(SourceKey::V4(1), later));
        assert_eq!(l.tracked(), 1);
        // one window: moved to the previous generation, still remembered
        let l = RateLimiter::with_capacity(10.0, 5.0, 1000);
        for _ in 0..5 {
            assert!(l.allow(SourceKey::V4(1), t0));
        }
        let t1 = t0 + Duration::from_millis(1050);
        assert!(l.allow(SourceKey::V4(2), t1));
        assert_eq!(l.tracked(), 2);
    }

    #[test]
    fn charged_failures_make_the_source_wait() {
        let l = RateLimiter::new(10.0, 5.0);
        let t0 = Instant::now();
        let s = v4(9);
        assert!(l.allow(s, t0));
        l.charge(s, 100.0, t0);
        // floor is -burst: 1 token needs (1 + 5) / 10 s
        assert!(!l.allow(s, t0 + Duration::from_millis(500)));
        assert!(l.allow(s, t0 + Duration::from_millis(700)));
    }
}
