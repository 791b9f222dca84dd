//! The share and permit issuance: client-secret and server-secret shares (once per grant)
//! and time-permit shares (days inside the permit horizon).

use super::{parse, refuse, Dta, Refusal};
use crate::api::{
    self, ClientSecretRequest, PermitShare, ServerSecretRequest, ShareResponse, TimePermitsRequest,
    TimePermitsResponse,
};
use crate::audit::AuditEvent;
use crate::db::counter;
use crate::ra::{GrantKind, RaError, VerifiedGrant};

impl Dta {
    pub(super) fn client_secret(&self, body: &[u8], now: u64) -> Result<ShareResponse, Refusal> {
        let r: ClientSecretRequest = parse(body)?;
        let (v, id) = self.client_grant(&r.grant, &r.hashed_id)?;
        let share = self.master.client_secret_share(&id);
        let answer = self.issue_once(
            &v,
            "client-secret",
            id.short_hex(),
            counter::CLIENT_SECRETS,
            &share.to_bytes(),
            now,
        )?;
        tracing::info!(hashed_id = %id.short_hex(), "client-secret share issued");
        Ok(answer)
    }

    /// Issues a secret share against an enrolment grant: refuses an expired grant, records the
    /// issuance (grant id used once, counter, audit record) in one transaction, and only then
    /// returns the share.
    pub(super) fn issue_once(
        &self,
        v: &VerifiedGrant,
        event: &'static str,
        subject: String,
        counter_name: &str,
        share: &[u8],
        now: u64,
    ) -> Result<ShareResponse, Refusal> {
        self.record_once(v, event, subject, counter_name, now)?;
        Ok(ShareResponse {
            share: hex::encode(share),
        })
    }

    /// Refuses an expired grant and records an issuance against it (grant id used once,
    /// counter, audit record) in one transaction; call it before answering.
    pub(super) fn record_once(
        &self,
        v: &VerifiedGrant,
        event: &'static str,
        subject: String,
        counter_name: &str,
        now: u64,
    ) -> Result<(), Refusal> {
        if now > v.enrol_until {
            return Err(refuse(
                403,
                RaError::GrantExpired(v.enrol_until).to_string(),
            ));
        }
        self.db.record_issuance(
            AuditEvent {
                event,
                subject,
                detail: format!("grant {}", hex::encode(v.grant_id)),
            },
            Some(&v.grant_id),
            counter_name,
            1,
            now,
        )?;
        Ok(())
    }

    pub(super) fn time_permits(
        &self,
        body: &[u8],
        now: u64,
    ) -> Result<TimePermitsResponse, Refusal> {
        let r: TimePermitsRequest = parse(body)?;
        self.check_permit_days(r.from_day, r.days, now)?;
        let (_, id) = self.client_grant(&r.grant, &r.hashed_id)?;
        let mut permits = Vec::with_capacity(r.days as usize);
        for day in r.from_day..r.from_day.saturating_add(r.days) {
            let s = self
                .master
                .time_permit_share(&id, day)
                .map_err(|e| refuse(400, e.to_string()))?;
            permits.push(PermitShare {
                day,
                share: hex::encode(&*s.to_bytes()),
            });
        }
        self.db.record_issuance(
            AuditEvent {
                event: "time-permits",
                subject: id.short_hex(),
                detail: format!("days {}..+{}", r.from_day, r.days),
            },
            None,
            counter::TIME_PERMITS,
            u64::from(r.days),
            now,
        )?;
        tracing::info!(hashed_id = %id.short_hex(), from_day = r.from_day, days = r.days, "time-permit shares issued");
        Ok(TimePermitsResponse { permits })
    }

    /// Refuses permit days outside 1 ..= [`api::MAX_PERMIT_DAYS`] days or outside
    /// [`api::issuable_days`].
    pub(super) fn check_permit_days(
        &self,
        from_day: u32,
        days: u32,
        now: u64,
    ) -> Result<(), Refusal> {
        if days == 0 || days > api::MAX_PERMIT_DAYS {
            return Err(refuse(
                400,
                format!("field `days`: must be 1 to {}", api::MAX_PERMIT_DAYS),
            ));
        }
        let window = api::issuable_days(now, self.permit_horizon, self.permit_grace_secs);
        let last = from_day.saturating_add(days - 1);
        if !window.contains(&from_day) || !window.contains(&last) {
            return Err(refuse(
                403,
                format!(
                    "permit days {}..={last} refused: this D-TA issues permits only for days \
                     {}..={} (today is day {}; permit horizon {} day(s)); ask only for days in that range",
                    from_day,
                    window.start(),
                    window.end(),
                    mpin_kex::policy::day_of(now),
                    self.permit_horizon
                ),
            ));
        }
        Ok(())
    }

    pub(super) fn server_secret(&self, body: &[u8], now: u64) -> Result<ShareResponse, Refusal> {
        let r: ServerSecretRequest = parse(body)?;
        let v = self.check_grant(&r.grant, GrantKind::Server)?;
        let name = v.server_name.clone().unwrap_or_default();
        let share = self.master.server_secret_share();
        let answer = self.issue_once(
            &v,
            "server-secret",
            name.clone(),
            counter::SERVER_SECRETS,
            &share.to_bytes(),
            now,
        )?;
        tracing::info!(server = %name, "server-secret share issued");
        Ok(answer)
    }
}
