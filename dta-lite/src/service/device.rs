//! The device endpoints (P2P links): key shares and daily permit shares from the D-TA's P2P
//! master share, never from the M-Pin one.
//!
//! * `POST /v1/device-keys`: a device grant for the hashed identity, not revoked, not
//!   expired, used once; the keys asked for must all be allowed by the grant (a send-only
//!   grant never gets a receiver key).
//! * `POST /v1/device-permits`: the same grant (its deadline does not apply), not revoked,
//!   days inside the permit horizon; shares for the grant's keys only.

use mpin_kex::wcc::P2pMasterShare;

use super::{counter, parse, refuse, Dta, Refusal};
use crate::api::{
    DeviceKeysRequest, DeviceKeysResponse, DevicePermitShare, DevicePermitsRequest,
    DevicePermitsResponse,
};
use crate::audit::AuditEvent;
use crate::ra::GrantKind;

impl Dta {
    fn p2p(&self) -> Result<&P2pMasterShare, Refusal> {
        self.p2p.as_ref().ok_or_else(|| {
            refuse(
                503,
                "this D-TA has no P2P master share and issues no device keys \
                 (its operator runs `dta-lite add-p2p-share`)",
            )
        })
    }

    pub(super) fn device_keys(&self, body: &[u8], now: u64) -> Result<DeviceKeysResponse, Refusal> {
        let r: DeviceKeysRequest = parse(body)?;
        let p2p = self.p2p()?;
        let (v, id) = self.identity_grant(&r.grant, &r.hashed_id, GrantKind::Device)?;
        let granted = v
            .device_keys
            .ok_or_else(|| refuse(400, "device grant without `device_keys`"))?;
        if !granted.covers(r.keys) {
            return Err(refuse(
                403,
                format!(
                    "field `keys`: the grant allows the `{granted}` keys only, not `{}`",
                    r.keys
                ),
            ));
        }
        let answer = DeviceKeysResponse {
            sender_key: r
                .keys
                .send()
                .then(|| hex::encode(&*p2p.sender_key_share(&id).to_bytes())),
            receiver_key: r
                .keys
                .receive()
                .then(|| hex::encode(&*p2p.receiver_key_share(&id).to_bytes())),
        };
        self.record_once(
            &v,
            "device-keys",
            format!("{} {}", id.short_hex(), r.keys),
            counter::DEVICE_KEYS,
            now,
        )?;
        tracing::info!(hashed_id = %id.short_hex(), keys = %r.keys, "device key shares issued");
        Ok(answer)
    }

    pub(super) fn device_permits(
        &self,
        body: &[u8],
        now: u64,
    ) -> Result<DevicePermitsResponse, Refusal> {
        let r: DevicePermitsRequest = parse(body)?;
        let p2p = self.p2p()?;
        self.check_permit_days(r.from_day, r.days, now)?;
        let (v, id) = self.identity_grant(&r.grant, &r.hashed_id, GrantKind::Device)?;
        let keys = v
            .device_keys
            .ok_or_else(|| refuse(400, "device grant without `device_keys`"))?;
        let mut permits = Vec::with_capacity(r.days as usize);
        for day in r.from_day..r.from_day.saturating_add(r.days) {
            let sender = if keys.send() {
                let s = p2p
                    .sender_permit_share(&id, day)
                    .map_err(|e| refuse(400, e.to_string()))?;
                Some(hex::encode(&*s.to_bytes()))
            } else {
                None
            };
            let receiver = if keys.receive() {
                let s = p2p
                    .receiver_permit_share(&id, day)
                    .map_err(|e| refuse(400, e.to_string()))?;
                Some(hex::encode(&*s.to_bytes()))
            } else {
                None
            };
            permits.push(DevicePermitShare {
                day,
                sender,
                receiver,
            });
        }
        self.db.record_issuance(
            AuditEvent {
                event: "device-permits",
                subject: id.short_hex(),
                detail: format!("days {}..+{} {keys}", r.from_day, r.days),
            },
            None,
            counter::DEVICE_PERMITS,
            u64::from(r.days),
            now,
        )?;
        tracing::info!(hashed_id = %id.short_hex(), from_day = r.from_day, days = r.days, %keys, "device permit shares issued");
        Ok(DevicePermitsResponse { permits })
    }
}
