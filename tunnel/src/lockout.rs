//! The M-Pin server's lockout settings (`--lockout-after`, `--lockout-for`,
//! `--distributed-lockout-after`, `--known-source-days`, TOML `lockout_after`, `lockout_for`,
//! `distributed_lockout_after`, `known_source_days`): wrong PINs made with an identity's
//! genuine token lock it for a while, doubling on each further lockout up to 24 h; failed
//! proofs with a permit not attributable to the token lock the pair (identity, source prefix)
//! under the same rules, and, counted across all sources, the identity's permit-mode logins
//! after the distributed budget, except from source prefixes it logged in from within
//! `known_source_days`.

use std::time::Duration;

/// Longest lockout (and the most `lockout_for` may be).
pub const MAX_LOCKOUT: Duration = Duration::from_secs(86_400);

/// Lockout settings of an M-Pin server service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockoutSpec {
    /// Wrong-PIN failures that lock an identity (default 3).
    pub after: u32,
    /// First lockout (default 5 minutes); doubles on each further one, up to 24 h.
    pub lasts: Duration,
    /// Unattributable permit-mode failures across all sources that lock the identity's
    /// permit-mode logins (default [`DEFAULT_DISTRIBUTED_AFTER`]; 0 = off).
    pub distributed_after: u32,
    /// Days a source prefix stays known for an identity after a verified login from it,
    /// exempt from the distributed lock (default [`DEFAULT_KNOWN_SOURCE_DAYS`]; 0 = off).
    pub known_days: u32,
}

/// Default for `known_source_days`: 30.
pub const DEFAULT_KNOWN_SOURCE_DAYS: u32 = 30;

/// Most `known_source_days` may be.
pub const MAX_KNOWN_SOURCE_DAYS: i64 = 365;

/// Default distributed budget per lockout period: 30 (a thief gets ≤ 39 guesses, 0.39 % of
/// the PIN space, before a revocation stops its permits; an attacker without the token must
/// fail from ⌈30 / lockout_after⌉ = 10 source prefixes to lock the victim out).
pub const DEFAULT_DISTRIBUTED_AFTER: u32 = 30;

impl Default for LockoutSpec {
    fn default() -> Self {
        Self {
            after: 3,
            lasts: Duration::from_secs(300),
            distributed_after: DEFAULT_DISTRIBUTED_AFTER,
            known_days: DEFAULT_KNOWN_SOURCE_DAYS,
        }
    }
}

impl LockoutSpec {
    /// Validates raw values (`None`: default); errors say what is accepted.
    pub fn from_raw(
        after: Option<i64>,
        lasts: Option<&str>,
        distributed_after: Option<i64>,
        known_days: Option<i64>,
    ) -> Result<Self, (&'static str, String)> {
        let d = Self::default();
        let after = match after {
            None => d.after,
            Some(n) if (1..=1000).contains(&n) => n as u32,
            Some(n) => {
                return Err((
                    "lockout_after",
                    format!("{n} is not a number of failures from 1 to 1000"),
                ))
            }
        };
        let lasts = match lasts {
            None => d.lasts,
            Some(s) => parse_duration(s).map_err(|e| ("lockout_for", e))?,
        };
        let distributed_after = match distributed_after {
            None => d.distributed_after,
            Some(n) if (0..=100_000).contains(&n) => n as u32,
            Some(n) => {
                return Err((
                    "distributed_lockout_after",
                    format!("{n} is not a number of failures from 0 (off) to 100000"),
                ))
            }
        };
        let known_days = match known_days {
            None => d.known_days,
            Some(n) if (0..=MAX_KNOWN_SOURCE_DAYS).contains(&n) => n as u32,
            Some(n) => {
                return Err((
                    "known_source_days",
                    format!("{n} is not a number of days from 0 (off) to {MAX_KNOWN_SOURCE_DAYS}"),
                ))
            }
        };
        Ok(Self {
            after,
            lasts,
            distributed_after,
            known_days,
        })
    }

    /// How long a source stays known ([`mpin_kex::ServerPolicy::known_source_ttl`]).
    pub fn known_ttl(&self) -> Duration {
        Duration::from_secs(u64::from(self.known_days) * 86_400)
    }
}

/// Parses `30s`, `5m`, `1h` (a whole number and one unit: s, m, h), from 1 s to 24 h.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("{s:?} is not a duration like 30s, 5m or 1h (1s to 24h)");
    let (num, unit) = s.split_at(s.len().saturating_sub(1));
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => return Err(bad()),
    };
    if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: u64 = num.parse().map_err(|_| bad())?;
    let secs = n.checked_mul(mult).ok_or_else(bad)?;
    let d = Duration::from_secs(secs);
    if secs == 0 || d > MAX_LOCKOUT {
        return Err(bad());
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("24h"), Ok(MAX_LOCKOUT));
        for bad in [
            "",
            "s",
            "0s",
            "25h",
            "5",
            "-1m",
            "1.5m",
            "5 m",
            "1d",
            "99999999999999999999h",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn raw_values() {
        assert_eq!(
            LockoutSpec::from_raw(None, None, None, None),
            Ok(LockoutSpec::default())
        );
        assert_eq!(LockoutSpec::default().distributed_after, 30);
        assert_eq!(
            LockoutSpec::from_raw(Some(5), Some("2s"), Some(0), Some(0)),
            Ok(LockoutSpec {
                after: 5,
                lasts: Duration::from_secs(2),
                distributed_after: 0,
                known_days: 0,
            })
        );
        assert_eq!(
            LockoutSpec::default().known_ttl(),
            Duration::from_secs(30 * 86_400)
        );
        for bad in [-1, 366] {
            assert_eq!(
                LockoutSpec::from_raw(None, None, None, Some(bad))
                    .unwrap_err()
                    .0,
                "known_source_days"
            );
        }
        assert_eq!(
            LockoutSpec::from_raw(Some(0), None, None, None)
                .unwrap_err()
                .0,
            "lockout_after"
        );
        assert_eq!(
            LockoutSpec::from_raw(None, Some("1w"), None, None)
                .unwrap_err()
                .0,
            "lockout_for"
        );
        assert_eq!(
            LockoutSpec::from_raw(None, None, Some(-1), None)
                .unwrap_err()
                .0,
            "distributed_lockout_after"
        );
    }
}
