//! The D-TA service core, free of sockets: [`Dta::handle`] turns one HTTP request (method,
//! path, headers, body, time) into a signed answer. `server` puts it behind HTTPS.

use std::sync::atomic::{AtomicU64, Ordering};

use ed25519_dalek::{SigningKey, VerifyingKey};
use mpin_kex::{HashedId, MasterShare};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::api::{
    self, ClientSecretRequest, ErrorBody, Info, PermitShare, RevocationRequest, RevocationResponse,
    ServerSecretRequest, ShareResponse, TimePermitsRequest, TimePermitsResponse,
};
use crate::audit::AuditEvent;
use crate::db::{counter, Db, DbError};
use crate::ra::{self, Grant, GrantKind, RaError, VerifiedGrant};

mod device;

/// One request as the service sees it.
#[derive(Debug, Clone, Copy)]
pub struct ApiRequest<'a> {
    /// `GET`, `POST`, …
    pub method: &'a str,
    /// The path, without query.
    pub path: &'a str,
    /// Headers (lower-case names).
    pub headers: &'a [(String, String)],
    /// The body.
    pub body: &'a [u8],
}

/// A signed answer.
#[derive(Debug, Clone)]
pub struct ApiResponse {
    /// HTTP status.
    pub status: u16,
    /// Content type.
    pub content_type: &'static str,
    /// Body.
    pub body: Vec<u8>,
    /// Value of the `x-dta-signature` header.
    pub signature: String,
}

/// A refused request: status and a message for the client.
#[derive(Debug)]
struct Refusal {
    status: u16,
    message: String,
}

fn refuse(status: u16, message: impl Into<String>) -> Refusal {
    Refusal {
        status,
        message: message.into(),
    }
}

impl From<DbError> for Refusal {
    fn from(e: DbError) -> Self {
        match e {
            DbError::GrantUsed => refuse(409, e.to_string()),
            e => {
                tracing::error!(error = %e, "database failure; nothing issued");
                refuse(
                    500,
                    "internal error: the D-TA cannot record this request; nothing was issued",
                )
            }
        }
    }
}

const JSON: &str = "application/json";

/// One running D-TA: master share, response-signing key, trusted RA keys, database.
pub struct Dta {
    name: String,
    master: MasterShare,
    p2p: Option<mpin_kex::wcc::P2pMasterShare>,
    signing: SigningKey,
    fingerprint: String,
    trusted: Vec<VerifyingKey>,
    db: Db,
    permit_horizon: u32,
    permit_grace_secs: u64,
    requests: AtomicU64,
    refused: AtomicU64,
}

impl std::fmt::Debug for Dta {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dta")
            .field("name", &self.name)
            .field(
                "signing_key",
                &hex::encode(self.signing.verifying_key().as_bytes()),
            )
            .field("master", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl Dta {
    /// Assembles a D-TA.
    pub fn new(
        name: String,
        master: MasterShare,
        signing: SigningKey,
        fingerprint: String,
        trusted: Vec<VerifyingKey>,
        db: Db,
    ) -> Self {
        Self {
            name,
            master,
            p2p: None,
            signing,
            fingerprint,
            trusted,
            db,
            permit_horizon: api::DEFAULT_PERMIT_HORIZON_DAYS,
            permit_grace_secs: mpin_kex::ServerPolicy::default().permit_grace_secs,
            requests: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        }
    }

    /// Sets the permit horizon: permits are issued for today to today + `days` − 1 (and
    /// yesterday during the grace hour). `days` is clamped to 1 ..=
    /// [`api::MAX_PERMIT_HORIZON_DAYS`]; the default is [`api::DEFAULT_PERMIT_HORIZON_DAYS`].
    pub fn with_permit_horizon(mut self, days: u32) -> Self {
        self.permit_horizon = days.clamp(1, api::MAX_PERMIT_HORIZON_DAYS);
        self
    }

    /// Sets the P2P master share that device keys and permits come from (kept apart from the
    /// M-Pin master share). Without one, the device endpoints answer 503.
    pub fn with_p2p_master(mut self, share: mpin_kex::wcc::P2pMasterShare) -> Self {
        self.p2p = Some(share);
        self
    }

    /// The permit horizon in days.
    pub fn permit_horizon(&self) -> u32 {
        self.permit_horizon
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// What `GET /v1/info` answers.
    pub fn info(&self) -> Info {
        let pk = self.signing.verifying_key();
        Info {
            name: self.name.clone(),
            id: hex::encode(&Sha256::digest(pk.as_bytes())[..8]),
            signing_key: hex::encode(pk.as_bytes()),
            fingerprint: self.fingerprint.clone(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            api: crate::API_VERSION,
            permit_horizon_days: self.permit_horizon,
        }
    }

    /// Signs an answer with the response-signing key.
    pub fn sign(
        &self,
        method: &str,
        path: &str,
        request_body: &[u8],
        status: u16,
        body: &[u8],
    ) -> String {
        api::sign_response(&self.signing, method, path, request_body, status, body)
    }

    /// Handles one request at unix time `now`. Never panics on any input.
    pub fn handle(&self, req: &ApiRequest<'_>, now: u64) -> ApiResponse {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let (status, content_type, body) = match self.route(req, now) {
            Ok(ok) => ok,
            Err(r) => {
                self.refused.fetch_add(1, Ordering::Relaxed);
                // A 400 message may quote the request body: log only the status for those.
                let reason = if r.status == 400 {
                    "malformed request"
                } else {
                    r.message.as_str()
                };
                tracing::warn!(
                    method = req.method,
                    path = req.path,
                    status = r.status,
                    reason,
                    "request refused"
                );
                let body = serde_json::to_vec(&ErrorBody { error: r.message }).unwrap_or_default();
                (r.status, JSON, body)
            }
        };
        let signature =
            api::sign_response(&self.signing, req.method, req.path, req.body, status, &body);
        ApiResponse {
            status,
            content_type,
            body,
            signature,
        }
    }

    fn route(
        &self,
        req: &ApiRequest<'_>,
        now: u64,
    ) -> Result<(u16, &'static str, Vec<u8>), Refusal> {
        let json = |v: &dyn erased::Ser| v.to_json().map(|b| (200, JSON, b));
        match (req.method, req.path) {
            ("POST", "/v1/client-secret") => json(&self.client_secret(req.body, now)?),
            ("POST", "/v1/time-permits") => json(&self.time_permits(req.body, now)?),
            ("POST", "/v1/server-secret") => json(&self.server_secret(req.body, now)?),
            ("POST", "/v1/device-keys") => json(&self.device_keys(req.body, now)?),
            ("POST", "/v1/device-permits") => json(&self.device_permits(req.body, now)?),
            ("POST", "/v1/revocations") => json(&self.revocation(req, now)?),
            ("GET", "/v1/info") => json(&self.info()),
            ("GET", "/healthz") => Ok((200, "text/plain", b"ok\n".to_vec())),
            ("GET", "/metrics") => Ok((
                200,
                "text/plain; version=0.0.4",
                self.metrics()?.into_bytes(),
            )),
            (
                _,
                "/v1/client-secret" | "/v1/time-permits" | "/v1/server-secret" | "/v1/revocations"
                | "/v1/device-keys" | "/v1/device-permits" | "/v1/info" | "/healthz" | "/metrics",
            ) => Err(refuse(
                405,
                format!("method {} not allowed on {}", req.method, req.path),
            )),
            _ => Err(refuse(404, format!("no such endpoint: {}", req.path))),
        }
    }

    fn check_grant(&self, grant: &Grant, kind: GrantKind) -> Result<VerifiedGrant, Refusal> {
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

    fn client_grant(
        &self,
        grant: &Grant,
        hashed_id: &str,
    ) -> Result<(VerifiedGrant, HashedId), Refusal> {
        self.identity_grant(grant, hashed_id, GrantKind::Client)
    }

    /// A client or device grant for `hashed_id`, whose identity is not revoked.
    fn identity_grant(
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

    fn client_secret(&self, body: &[u8], now: u64) -> Result<ShareResponse, Refusal> {
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
    fn issue_once(
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
    fn record_once(
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

    fn time_permits(&self, body: &[u8], now: u64) -> Result<TimePermitsResponse, Refusal> {
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
    fn check_permit_days(&self, from_day: u32, days: u32, now: u64) -> Result<(), Refusal> {
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

    fn server_secret(&self, body: &[u8], now: u64) -> Result<ShareResponse, Refusal> {
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

    fn revocation(&self, req: &ApiRequest<'_>, now: u64) -> Result<RevocationResponse, Refusal> {
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

    fn metrics(&self) -> Result<String, Refusal> {
        use std::fmt::Write;
        let counters = self.db.counters()?;
        let get = |n: &str| {
            counters
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| *v)
                .unwrap_or(0)
        };
        let mut s = String::new();
        let mut line = |name: &str, kind: &str, help: &str, v: u64| {
            let _ = write!(
                s,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}\n"
            );
        };
        line(
            "dta_client_secrets_issued_total",
            "counter",
            "Client-secret shares issued.",
            get(counter::CLIENT_SECRETS),
        );
        line(
            "dta_time_permits_issued_total",
            "counter",
            "Time-permit shares issued (one per day).",
            get(counter::TIME_PERMITS),
        );
        line(
            "dta_server_secrets_issued_total",
            "counter",
            "Server-secret shares issued.",
            get(counter::SERVER_SECRETS),
        );
        line(
            "dta_device_keys_issued_total",
            "counter",
            "Device key-share issuances (one per device grant).",
            get(counter::DEVICE_KEYS),
        );
        line(
            "dta_device_permits_issued_total",
            "counter",
            "Device permit-share issuances (one per day).",
            get(counter::DEVICE_PERMITS),
        );
        line(
            "dta_revocations_total",
            "counter",
            "Identities revoked.",
            get(counter::REVOCATIONS),
        );
        line(
            "dta_revoked_identities",
            "gauge",
            "Identities currently revoked.",
            self.db.revoked_count()?,
        );
        line(
            "dta_requests_total",
            "counter",
            "Requests handled since start.",
            self.requests.load(Ordering::Relaxed),
        );
        line(
            "dta_requests_refused_total",
            "counter",
            "Requests refused since start.",
            self.refused.load(Ordering::Relaxed),
        );
        Ok(s)
    }
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, Refusal> {
    serde_json::from_slice(body).map_err(|e| refuse(400, format!("request body: {e}")))
}

/// Object-safe JSON serialisation for the router.
mod erased {
    use super::{refuse, Refusal};

    pub(super) trait Ser {
        fn to_json(&self) -> Result<Vec<u8>, Refusal>;
    }

    impl<T: serde::Serialize> Ser for T {
        fn to_json(&self) -> Result<Vec<u8>, Refusal> {
            serde_json::to_vec(self)
                .map_err(|_| refuse(500, "internal error: cannot encode the answer"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ra::RaKey;
    use rand_core::OsRng;

    struct Fixture {
        _tmp: tempfile::TempDir,
        dta: Dta,
        ra: RaKey,
        master: MasterShare,
    }

    fn fixture() -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let ra = RaKey::generate();
        let master = MasterShare::generate(&mut OsRng);
        let db = Db::open(&tmp.path().join("db")).unwrap();
        let dta = Dta::new(
            "t".into(),
            master.clone(),
            SigningKey::generate(&mut OsRng),
            "00".repeat(32),
            vec![ra.public()],
            db,
        );
        Fixture {
            _tmp: tmp,
            dta,
            ra,
            master,
        }
    }

    const NOW: u64 = 1_800_000_000;

    fn post(
        d: &Dta,
        path: &str,
        body: &serde_json::Value,
        headers: &[(String, String)],
    ) -> ApiResponse {
        let body = body.to_string();
        let r = d.handle(
            &ApiRequest {
                method: "POST",
                path,
                headers,
                body: body.as_bytes(),
            },
            NOW,
        );
        let vk = d.signing.verifying_key();
        assert!(api::verify_response(
            &vk,
            "POST",
            path,
            body.as_bytes(),
            r.status,
            &r.body,
            &r.signature
        ));
        r
    }

    fn cs_body(ra: &RaKey, who: &[u8]) -> serde_json::Value {
        let id = HashedId::of(who);
        serde_json::json!({"hashed_id": hex::encode(id.as_bytes()), "grant": ra.grant_client(&id, NOW, 60)})
    }

    #[test]
    fn issuance_fails_closed_when_the_audit_log_cannot_be_written() {
        let f = fixture();
        let body = cs_body(&f.ra, b"alice");
        f.dta.db().inject_audit_failure(true);
        let r = post(&f.dta, "/v1/client-secret", &body, &[]);
        assert_eq!(r.status, 500);
        assert!(!String::from_utf8_lossy(&r.body).contains("share"));
        f.dta.db().inject_audit_failure(false);
        let r = post(&f.dta, "/v1/client-secret", &body, &[]);
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let share: ShareResponse = serde_json::from_slice(&r.body).unwrap();
        let expected = f.master.client_secret_share(&HashedId::of(b"alice"));
        assert_eq!(share.share, hex::encode(&*expected.to_bytes()));
        assert_eq!(
            post(&f.dta, "/v1/client-secret", &body, &[]).status,
            409,
            "single use"
        );
    }

    #[test]
    fn grants_are_checked_for_kind_identity_expiry_and_revocation() {
        let f = fixture();
        let id = HashedId::of(b"bob");
        let other = HashedId::of(b"eve");
        let hid = hex::encode(id.as_bytes());
        let server = f.ra.grant_server("s", NOW, 60);
        let r = post(
            &f.dta,
            "/v1/client-secret",
            &serde_json::json!({"hashed_id": hid, "grant": server}),
            &[],
        );
        assert_eq!(r.status, 403);
        let g_other = f.ra.grant_client(&other, NOW, 60);
        let r = post(
            &f.dta,
            "/v1/client-secret",
            &serde_json::json!({"hashed_id": hid, "grant": g_other}),
            &[],
        );
        assert_eq!(r.status, 403);
        let expired = f.ra.grant_client(&id, NOW - 100, 10);
        let r = post(
            &f.dta,
            "/v1/client-secret",
            &serde_json::json!({"hashed_id": hid, "grant": expired}),
            &[],
        );
        assert_eq!(r.status, 403);
        let client = f.ra.grant_client(&id, NOW, 60);
        let r = post(
            &f.dta,
            "/v1/server-secret",
            &serde_json::json!({"grant": client}),
            &[],
        );
        assert_eq!(r.status, 403);
        // Permits: the enrolment deadline does not apply, the bounds do, revocation stops them.
        let today = mpin_kex::policy::day_of(NOW);
        let permits = |from: u32, days: u32, g: &Grant| {
            post(
                &f.dta,
                "/v1/time-permits",
                &serde_json::json!({"hashed_id": hid, "grant": g, "from_day": from, "days": days}),
                &[],
            )
            .status
        };
        assert_eq!(permits(today, 2, &expired), 200);
        assert_eq!(permits(today, 0, &client), 400);
        assert_eq!(permits(today, 32, &client), 400);
        // Default horizon 2: today and tomorrow only (NOW is not in the grace hour).
        assert_ne!(NOW % 86_400 / 3600, 0);
        assert_eq!(permits(today + 1, 1, &client), 200);
        assert_eq!(permits(today, 3, &client), 403);
        assert_eq!(permits(today + 2, 1, &client), 403);
        assert_eq!(permits(today - 1, 1, &client), 403);
        assert_eq!(permits(today - 2, 1, &client), 403);
        assert_eq!(permits(0, 1, &client), 403);
        assert_eq!(permits(u32::MAX, 1, &client), 403);
        f.dta.db().revoke(&id, "test", NOW).unwrap();
        assert_eq!(permits(today, 1, &client), 403);
        let r = post(
            &f.dta,
            "/v1/client-secret",
            &serde_json::json!({"hashed_id": hid, "grant": client}),
            &[],
        );
        assert_eq!(r.status, 403);
    }

    #[test]
    fn permits_only_from_today_to_the_horizon_and_yesterday_in_the_grace_hour() {
        let f = fixture();
        let dta = Dta::new(
            "h".into(),
            f.master.clone(),
            SigningKey::generate(&mut OsRng),
            "00".repeat(32),
            vec![f.ra.public()],
            Db::open(&f._tmp.path().join("db2")).unwrap(),
        )
        .with_permit_horizon(3);
        assert_eq!(dta.info().permit_horizon_days, 3);
        let id = HashedId::of(b"erin");
        let body = |from: u32, days: u32| {
            serde_json::json!({"hashed_id": hex::encode(id.as_bytes()),
                "grant": f.ra.grant_client(&id, NOW, 60), "from_day": from, "days": days})
            .to_string()
        };
        let ask = |from: u32, days: u32, now: u64| {
            let b = body(from, days);
            let r = dta.handle(
                &ApiRequest {
                    method: "POST",
                    path: "/v1/time-permits",
                    headers: &[],
                    body: b.as_bytes(),
                },
                now,
            );
            (r.status, String::from_utf8_lossy(&r.body).into_owned())
        };
        let day = mpin_kex::policy::day_of(NOW);
        let midnight = u64::from(day) * 86_400;
        assert_eq!(ask(day, 3, NOW).0, 200);
        let (status, msg) = ask(day, 4, NOW);
        assert_eq!(status, 403);
        assert!(
            msg.contains(&format!("issues permits only for days {day}..={}", day + 2))
                && msg.contains("permit horizon 3"),
            "{msg}"
        );
        assert_eq!(
            ask(day - 1, 1, NOW).0,
            403,
            "yesterday after the grace hour"
        );
        assert_eq!(ask(day - 1, 1, midnight + 3599).0, 200, "grace hour");
        assert_eq!(ask(day - 1, 1, midnight + 3600).0, 403);
        assert_eq!(ask(day - 2, 1, midnight).0, 403);
        assert_eq!(ask(day + 2, 1, midnight).0, 200);
        assert_eq!(ask(day + 3, 1, midnight + 86_399).0, 403);
        assert_eq!(
            Dta::new(
                "z".into(),
                f.master.clone(),
                SigningKey::generate(&mut OsRng),
                "00".repeat(32),
                vec![],
                Db::open(&f._tmp.path().join("db3")).unwrap(),
            )
            .with_permit_horizon(0)
            .permit_horizon(),
            1
        );
    }

    /// Documented in docs/SECURITY.md: `SS = s·Q` has no per-server part, so one stolen
    /// server secret stands for every relying server.
    #[test]
    fn every_relying_server_gets_the_same_server_secret_share() {
        let f = fixture();
        let share = |name: &str| {
            let g = f.ra.grant_server(name, NOW, 60);
            let r = post(
                &f.dta,
                "/v1/server-secret",
                &serde_json::json!({ "grant": g }),
                &[],
            );
            assert_eq!(r.status, 200);
            serde_json::from_slice::<ShareResponse>(&r.body)
                .unwrap()
                .share
                .clone()
        };
        assert_eq!(share("web-1"), share("mail.example.com"));
    }

    #[test]
    fn malformed_requests_routes_and_metrics() {
        let f = fixture();
        for body in ["", "{", "[]", r#"{"hashed_id":"zz","grant":{}}"#] {
            let r = f.dta.handle(
                &ApiRequest {
                    method: "POST",
                    path: "/v1/client-secret",
                    headers: &[],
                    body: body.as_bytes(),
                },
                NOW,
            );
            assert_eq!(r.status, 400, "{body}");
        }
        let get = |path: &str, method: &str| {
            f.dta.handle(
                &ApiRequest {
                    method,
                    path,
                    headers: &[],
                    body: b"",
                },
                NOW,
            )
        };
        assert_eq!(get("/nope", "GET").status, 404);
        assert_eq!(get("/v1/client-secret", "GET").status, 405);
        assert_eq!(get("/healthz", "GET").body, b"ok\n");
        let info: Info = serde_json::from_slice(&get("/v1/info", "GET").body).unwrap();
        assert_eq!(info.api, crate::API_VERSION);
        let body = cs_body(&f.ra, b"carol");
        assert_eq!(post(&f.dta, "/v1/client-secret", &body, &[]).status, 200);
        let m = String::from_utf8(get("/metrics", "GET").body).unwrap();
        assert!(m.contains("dta_client_secrets_issued_total 1"), "{m}");
        assert!(m.contains("dta_requests_refused_total 6"), "{m}");
        assert!(
            !m.contains(&HashedId::of(b"carol").short_hex()),
            "metrics are counts only"
        );
        assert!(!format!("{:?}", f.dta).contains(&hex::encode(&*f.master.to_bytes())));
    }

    #[test]
    fn revocations_need_a_fresh_unique_ra_signature() {
        let f = fixture();
        let id = HashedId::of(b"dave");
        let body = serde_json::json!({"hashed_id": hex::encode(id.as_bytes())});
        let bytes = body.to_string();
        let headers = |h: Vec<(&'static str, String)>| {
            h.into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect::<Vec<_>>()
        };
        let h = headers(f.ra.sign_request("POST", "/v1/revocations", bytes.as_bytes(), NOW));
        assert_eq!(post(&f.dta, "/v1/revocations", &body, &[]).status, 401);
        assert_eq!(post(&f.dta, "/v1/revocations", &body, &h).status, 200);
        assert_eq!(post(&f.dta, "/v1/revocations", &body, &h).status, 409);
        let old = headers(f.ra.sign_request("POST", "/v1/revocations", bytes.as_bytes(), NOW - 61));
        assert_eq!(post(&f.dta, "/v1/revocations", &body, &old).status, 401);
        let forged = headers(RaKey::generate().sign_request(
            "POST",
            "/v1/revocations",
            bytes.as_bytes(),
            NOW,
        ));
        assert_eq!(post(&f.dta, "/v1/revocations", &body, &forged).status, 401);
        assert!(f.dta.db().is_revoked(&id).unwrap());
        assert_eq!(f.dta.db().verify_audit().unwrap(), 1);
    }
}
