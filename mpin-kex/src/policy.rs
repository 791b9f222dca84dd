//! Server policy, and (re-exported) the stores it needs: the one-pass replay cache
//! ([`crate::replay`]) and the per-identity lockout ([`crate::lockout`]), as traits with
//! bounded in-memory implementations (a shared store such as Redis lives outside this crate).

use std::sync::Arc;
use std::time::Duration;

pub use crate::lockout::{
    distributed_key, known_source, source_pair, FailureStore, Gate, LockoutRules,
    MemoryFailureStore, Outcome, Standing,
};
pub use crate::replay::{MemoryReplayCache, ReplayCache};

/// Seconds in a day.
pub const DAY_SECS: u64 = 86_400;

/// The UTC day number (days since 1970-01-01) of a unix time.
pub fn day_of(unix_secs: u64) -> u32 {
    u32::try_from(unix_secs / DAY_SECS).unwrap_or(u32::MAX)
}

/// A predicate on raw identities (e.g. an allow-list of globs), checked before any pairing.
pub type IdentityFilter = Arc<dyn Fn(&[u8]) -> bool + Send + Sync>;

/// What the server accepts.
#[derive(Clone)]
pub struct ServerPolicy {
    /// Refuse clients without a time permit (default: true).
    pub require_permits: bool,
    /// Accept yesterday's permit during the first `permit_grace_secs` of the UTC day
    /// (default 3600, as Milagro's RPS).
    pub permit_grace_secs: u64,
    /// How long a multi-pass challenge stays valid (default 15 s).
    pub challenge_ttl_secs: u64,
    /// Accept one-pass hellos (default: true).
    pub allow_one_pass: bool,
    /// Largest `|now − t|` for one-pass timestamps (default 300 s).
    pub one_pass_window_secs: u64,
    /// Wrong-PIN failures (made with the identity's genuine token) that lock the identity
    /// out (default 3). Failures without the token never count against the identity; with
    /// a time permit and a source ([`crate::Server::with_source`]) they count, under the same
    /// rules, against the pair (identity, source).
    pub lockout_after: u32,
    /// Unattributable failed proofs with a time permit from named sources
    /// ([`crate::Server::with_source`]), across *all* sources, that lock the identity for
    /// permit-mode attempts from named sources (default 30; 0 = off): the pair lockout bounds
    /// each source prefix, this bounds a thief spreading guesses over many prefixes. Same
    /// `lockout_for` doubling up to `lockout_max`; a success resets it. An attacker without
    /// the token must fail from at least `⌈distributed_lockout_after / lockout_after⌉`
    /// source prefixes to trigger it (each pair locks after `lockout_after`).
    pub distributed_lockout_after: u32,
    /// How long a source prefix stays *known* for an identity after a verified success from
    /// it (default 30 days; zero = no source is known). Attempts from a known source are
    /// outside the distributed budget (neither refused by its lock nor counted), so an
    /// attacker spending it cannot lock the victim out of the networks it uses; they stay
    /// subject to the pair and identity lockouts.
    pub known_source_ttl: Duration,
    /// How long the first lockout lasts (default 5 minutes); each further one doubles, up to
    /// `lockout_max`. A success resets.
    pub lockout_for: Duration,
    /// Longest lockout (default 24 hours).
    pub lockout_max: Duration,
    /// Report the PIN-error distance in [`crate::AuthError::BadProof`] and logs (default:
    /// off; it tells the server how far the entered PIN is from the registered one). The
    /// server computes it on every failed proof anyway (~1 pairing + ~300 GT
    /// multiplications) to tell a wrong PIN from a proof made without the token.
    pub pin_error_detection: bool,
    /// Only identities this accepts may authenticate (default: all).
    pub identity_filter: Option<IdentityFilter>,
}

impl Default for ServerPolicy {
    fn default() -> Self {
        Self {
            require_permits: true,
            permit_grace_secs: 3600,
            challenge_ttl_secs: 15,
            allow_one_pass: true,
            one_pass_window_secs: 300,
            lockout_after: 3,
            distributed_lockout_after: 30,
            known_source_ttl: Duration::from_secs(30 * DAY_SECS),
            lockout_for: Duration::from_secs(300),
            lockout_max: Duration::from_secs(DAY_SECS),
            pin_error_detection: false,
            identity_filter: None,
        }
    }
}

impl ServerPolicy {
    /// The lockout rules for the [`FailureStore`].
    pub fn lockout(&self) -> LockoutRules {
        LockoutRules {
            after: self.lockout_after,
            first: self.lockout_for,
            max: self.lockout_max,
        }
    }

    /// The rules of the distributed budget ([`crate::lockout::distributed_key`]): the
    /// identity's rules with `after` = `distributed_lockout_after`; `None` when it is 0 (off).
    pub fn distributed_lockout(&self) -> Option<LockoutRules> {
        (self.distributed_lockout_after > 0).then(|| LockoutRules {
            after: self.distributed_lockout_after,
            ..self.lockout()
        })
    }
}

impl core::fmt::Debug for ServerPolicy {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ServerPolicy")
            .field("require_permits", &self.require_permits)
            .field("permit_grace_secs", &self.permit_grace_secs)
            .field("challenge_ttl_secs", &self.challenge_ttl_secs)
            .field("allow_one_pass", &self.allow_one_pass)
            .field("one_pass_window_secs", &self.one_pass_window_secs)
            .field("lockout_after", &self.lockout_after)
            .field("distributed_lockout_after", &self.distributed_lockout_after)
            .field("known_source_ttl", &self.known_source_ttl)
            .field("lockout_for", &self.lockout_for)
            .field("lockout_max", &self.lockout_max)
            .field("pin_error_detection", &self.pin_error_detection)
            .field("identity_filter", &self.identity_filter.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_numbers() {
        assert_eq!(day_of(16574 * DAY_SECS + 5), 16574);
        assert_eq!(day_of(0), 0);
    }
}
