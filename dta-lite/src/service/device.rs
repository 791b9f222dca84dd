//! The device endpoints (P2P links): key shares and daily permit shares from the D-TA's P2P
//! master share, never from the M-Pin one.
//!
//! * `POST /v1/device-keys`: a device grant for the hashed identity, not revoked, not
//!   expired, used once; the keys asked for must all be allowed by the grant (a send-only
//!   grant never gets a receiver key).
//! * `POST /v1/device-permits`: the same grant (its deadline does not apply), not revoked,
//!   days inside the permit horizon; shares for the grant's keys only.

use mpin_kex::wcc::P2pMasterShare;

use super::{parse, refuse, Dta, Refusal};
use crate::api::{
    DeviceKeysRequest, DeviceKeysResponse, DevicePermitShare, DevicePermitsRequest,
    DevicePermitsResponse,
};
use crate::audit::AuditEvent;
use crate::db::counter;
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

#[cfg(test)]
mod tests {
    use ed25519_dalek::SigningKey;
    use mpin_kex::wcc::{P2pMasterShare, SenderKeyShare};
    use mpin_kex::{HashedId, MasterShare};
    use rand_core::OsRng;

    use crate::api::{DeviceKeysResponse, DevicePermitsResponse};
    use crate::db::Db;
    use crate::ra::{DeviceKeys, RaKey};
    use crate::service::{ApiRequest, Dta};

    const NOW: u64 = 1_800_000_000;

    fn dta(
        tmp: &tempfile::TempDir,
        ra: &RaKey,
        p2p: Option<&P2pMasterShare>,
    ) -> (Dta, MasterShare) {
        let master = MasterShare::generate(&mut OsRng);
        let d = Dta::new(
            "t".into(),
            master.clone(),
            SigningKey::generate(&mut OsRng),
            "00".repeat(32),
            vec![ra.public()],
            Db::open(&tmp.path().join("db")).unwrap(),
        );
        (
            match p2p {
                Some(s) => d.with_p2p_master(s.clone()),
                None => d,
            },
            master,
        )
    }

    fn post(d: &Dta, path: &str, body: serde_json::Value) -> (u16, Vec<u8>) {
        let body = body.to_string();
        let r = d.handle(
            &ApiRequest {
                method: "POST",
                path,
                headers: &[],
                body: body.as_bytes(),
            },
            NOW,
        );
        (r.status, r.body)
    }

    #[test]
    fn device_endpoints_issue_from_the_p2p_share_only_for_device_grants() {
        let tmp = tempfile::tempdir().unwrap();
        let ra = RaKey::generate();
        let p2p = P2pMasterShare::generate(&mut OsRng);
        let (d, master) = dta(&tmp, &ra, Some(&p2p));
        let id = HashedId::of(b"device:a");
        let h = hex::encode(id.as_bytes());
        let g = ra.grant_device(&id, DeviceKeys::Send, NOW, 60);
        // A client grant gets no device keys; a device grant no client secret or M-Pin permit.
        let client = ra.grant_client(&id, NOW, 60);
        let body = serde_json::json!({"hashed_id": h, "grant": client, "keys": "send"});
        assert_eq!(post(&d, "/v1/device-keys", body).0, 403);
        let body = serde_json::json!({"hashed_id": h, "grant": g});
        assert_eq!(post(&d, "/v1/client-secret", body).0, 403);
        let body =
            serde_json::json!({"hashed_id": h, "grant": g, "from_day": NOW / 86_400, "days": 1});
        assert_eq!(post(&d, "/v1/time-permits", body).0, 403);
        // Another identity than the grant's.
        let other = hex::encode(HashedId::of(b"device:b").as_bytes());
        let body = serde_json::json!({"hashed_id": other, "grant": g, "keys": "send"});
        assert_eq!(post(&d, "/v1/device-keys", body).0, 403);
        // The answer is the P2P share's, not the M-Pin share's.
        let body = serde_json::json!({"hashed_id": h, "grant": g, "keys": "send"});
        let (status, answer) = post(&d, "/v1/device-keys", body.clone());
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
        let r: DeviceKeysResponse = serde_json::from_slice(&answer).unwrap();
        assert!(r.receiver_key.is_none());
        let share = r.sender_key.clone().unwrap();
        assert_eq!(share, hex::encode(&*p2p.sender_key_share(&id).to_bytes()));
        assert_ne!(
            share,
            hex::encode(&*master.client_secret_share(&id).to_bytes())
        );
        assert!(SenderKeyShare::from_bytes(&hex::decode(&share).unwrap()).is_ok());
        assert_eq!(post(&d, "/v1/device-keys", body).0, 409, "single use");
        // Permits: sender only, for a send-only grant; days outside the horizon refused.
        let day = mpin_kex::policy::day_of(NOW);
        let body = serde_json::json!({"hashed_id": h, "grant": g, "from_day": day, "days": 2});
        let (status, answer) = post(&d, "/v1/device-permits", body);
        assert_eq!(status, 200);
        let r: DevicePermitsResponse = serde_json::from_slice(&answer).unwrap();
        assert_eq!(r.permits.len(), 2);
        assert!(r
            .permits
            .iter()
            .all(|p| p.sender.is_some() && p.receiver.is_none()));
        let body = serde_json::json!({"hashed_id": h, "grant": g, "from_day": day + 5, "days": 1});
        assert_eq!(post(&d, "/v1/device-permits", body).0, 403);
        // Revoked: no device permit.
        assert!(d.db().revoke(&id, "test", NOW).unwrap());
        let body = serde_json::json!({"hashed_id": h, "grant": g, "from_day": day, "days": 1});
        let (status, answer) = post(&d, "/v1/device-permits", body);
        assert_eq!(status, 403);
        assert!(String::from_utf8_lossy(&answer).contains("revoked"));
    }

    #[test]
    fn without_a_p2p_share_device_endpoints_answer_503_and_name_the_command() {
        let tmp = tempfile::tempdir().unwrap();
        let ra = RaKey::generate();
        let (d, _) = dta(&tmp, &ra, None);
        let id = HashedId::of(b"device:a");
        let g = ra.grant_device(&id, DeviceKeys::Both, NOW, 60);
        let h = hex::encode(id.as_bytes());
        let body = serde_json::json!({"hashed_id": h, "grant": g, "keys": "both"});
        let (status, answer) = post(&d, "/v1/device-keys", body);
        assert_eq!(status, 503);
        assert!(String::from_utf8_lossy(&answer).contains("add-p2p-share"));
        let body = serde_json::json!({"hashed_id": h, "grant": g, "from_day": 1, "days": 1});
        assert_eq!(post(&d, "/v1/device-permits", body).0, 503);
    }
}
