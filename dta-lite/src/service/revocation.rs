//! Revocation: `POST /v1/revocations`, signed by a trusted RA, fresh and never replayed.

use super::{parse, refuse, ApiRequest, Dta, Refusal};
use crate::api::{RevocationRequest, RevocationResponse};
use crate::ra;

impl Dta {
    pub(super) fn revocation(
        &self,
        req: &ApiRequest<'_>,
        now: u64,
    ) -> Result<RevocationResponse, Refusal> {
        let header = |name: &str| {
            req.headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        let v = ra::verify_request(header, req.method, req.path, req.body, now, &self.trusted)
            .map_err(|e| refuse(401, e.to_string()))?;
        if !self.db.insert_nonce(
            &v.nonce,
            now,
            v.timestamp.saturating_add(ra::REQUEST_MAX_AGE_SECS),
        )? {
            return Err(refuse(409, "replayed request (nonce already seen)"));
        }
        let r: RevocationRequest = parse(req.body)?;
        let id = ra::parse_hashed_id(&r.hashed_id)
            .map_err(|why| refuse(400, format!("field `hashed_id`: {why}")))?;
        let by = hex::encode(&v.key.as_bytes()[..8]);
        let newly = self.db.revoke(&id, &format!("RA {by}"), now)?;
        tracing::info!(hashed_id = %id.short_hex(), newly, "identity revoked");
        Ok(RevocationResponse {
            hashed_id: hex::encode(id.as_bytes()),
            newly_revoked: newly,
        })
    }
}
