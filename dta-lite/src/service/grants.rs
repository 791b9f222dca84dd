//! The grant checks: an RA grant is trusted, of the right kind, for the identity asked about,
//! and that identity is not revoked.

use mpin_kex::HashedId;

use super::{refuse, Dta, Refusal};
use crate::ra::{self, Grant, GrantKind, RaError, VerifiedGrant};

impl Dta {
    pub(super) fn check_grant(
        &self,
        grant: &Grant,
        kind: GrantKind,
    ) -> Result<VerifiedGrant, Refusal> {
        let v = grant.verify(&self.trusted).map_err(|e| match e {
            RaError::UntrustedGrant | RaError::BadGrantSignature => refuse(403, e.to_string()),
            e => refuse(400, e.to_string()),
        })?;
        if v.kind != kind {
            return Err(refuse(
                403,
                format!("this needs a {kind} grant, not a {} grant", v.kind),
            ));
        }
        Ok(v)
    }

    pub(super) fn client_grant(
        &self,
        grant: &Grant,
        hashed_id: &str,
    ) -> Result<(VerifiedGrant, HashedId), Refusal> {
        self.identity_grant(grant, hashed_id, GrantKind::Client)
    }

    /// A client or device grant for `hashed_id`, whose identity is not revoked.
    pub(super) fn identity_grant(
        &self,
        grant: &Grant,
        hashed_id: &str,
        kind: GrantKind,
    ) -> Result<(VerifiedGrant, HashedId), Refusal> {
        let id = ra::parse_hashed_id(hashed_id)
            .map_err(|why| refuse(400, format!("field `hashed_id`: {why}")))?;
        let v = self.check_grant(grant, kind)?;
        if v.hashed_id != Some(id) {
            return Err(refuse(403, "field `hashed_id` does not match the grant"));
        }
        if self.db.is_revoked(&id)? {
            tracing::info!(hashed_id = %id.short_hex(), "refused: identity revoked");
            return Err(refuse(403, "identity revoked"));
        }
        Ok((v, id))
    }
}
