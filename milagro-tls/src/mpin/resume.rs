//! Resumption for the M-Pin channel: what an M-Pin ticket is bound to, and
//! the checks a resumed connection still passes.

use mpin_kex::{AuthError, HashedId, Mode, ServerPolicy};

use super::MpinError;

/// Prefix of the application data bound to M-Pin tickets, so tickets can
/// never be confused with other bindings.
const PREFIX: &[u8] = b"mpin:";

/// What a ticket issued after an M-Pin handshake is bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MpinBinding {
    pub(crate) identity: Vec<u8>,
    pub(crate) mode: Mode,
    pub(crate) day: u32,
}

impl MpinBinding {
    /// `"mpin:" ‖ mode:u8 (0 multi-pass, 1 one-pass) ‖ day:u32 ‖ identity`.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(PREFIX.len() + 5 + self.identity.len());
        out.extend_from_slice(PREFIX);
        out.push(match self.mode {
            Mode::MultiPass => 0,
            Mode::OnePass => 1,
        });
        out.extend_from_slice(&self.day.to_be_bytes());
        out.extend_from_slice(&self.identity);
        out
    }

    /// Parses application data written by [`encode`](Self::encode).
    pub(crate) fn decode(data: &[u8]) -> Result<Self, MpinError> {
        let bad = MpinError::Protocol("resumed a ticket not issued to an M-Pin client");
        let rest = data.strip_prefix(PREFIX).ok_or(bad)?;
        let [mode, d0, d1, d2, d3, identity @ ..] = rest else {
            return Err(MpinError::Protocol("truncated M-Pin ticket binding"));
        };
        let mode = match mode {
            0 => Mode::MultiPass,
            1 => Mode::OnePass,
            _ => return Err(MpinError::Protocol("M-Pin ticket binding: mode")),
        };
        if identity.is_empty() {
            return Err(MpinError::Protocol("M-Pin ticket binding: identity"));
        }
        Ok(Self {
            identity: identity.to_vec(),
            mode,
            day: u32::from_be_bytes([*d0, *d1, *d2, *d3]),
        })
    }

    /// The policy checks that still apply when resuming: the identity filter
    /// (allow-list, revocation) and the lockout. Permit days are enforced by
    /// the ticket's expiry. A resumption verifies no proof, so it takes no
    /// attempt slot and never waits: only a current lockout refuses it.
    pub(crate) fn admit(
        &self,
        policy: &ServerPolicy,
        failures: &dyn mpin_kex::FailureStore,
        now: u64,
    ) -> Result<HashedId, AuthError> {
        if let Some(filter) = &policy.identity_filter {
            if !filter(&self.identity) {
                return Err(AuthError::NotAllowed);
            }
        }
        let hashed_id = HashedId::of(&self.identity);
        let standing = failures.standing(&hashed_id, now);
        if let Some(until) = standing.locked_until {
            return Err(AuthError::LockedOut {
                failures: standing.failures,
                until,
            });
        }
        Ok(hashed_id)
    }
}

/// Unix second at which the time permit of `day` stops being valid (the
/// end of that UTC day).
pub(crate) fn permit_day_end(day: u32) -> u64 {
    (u64::from(day) + 1) * 86_400
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binding_roundtrip_and_negatives() {
        let b = MpinBinding {
            identity: b"alice".to_vec(),
            mode: Mode::OnePass,
            day: 20833,
        };
        let enc = b.encode();
        assert_eq!(MpinBinding::decode(&enc).ok(), Some(b));
        assert!(MpinBinding::decode(b"psk:alice").is_err());
        assert!(MpinBinding::decode(&enc[..9]).is_err());
        assert!(MpinBinding::decode(&enc[..10]).is_err());
        let mut bad = enc.clone();
        bad[5] = 2;
        assert!(MpinBinding::decode(&bad).is_err());
        assert_eq!(permit_day_end(0), 86_400);
    }
}
