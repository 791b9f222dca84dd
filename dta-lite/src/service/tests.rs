//! The service tests: issuance, grant checks, permit days, routes, metrics, revocations.

use mpin_kex::HashedId;
use rand_core::OsRng;

use super::*;
use crate::api::ShareResponse;
use crate::ra::{Grant, RaKey};

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
    let forged =
        headers(RaKey::generate().sign_request("POST", "/v1/revocations", bytes.as_bytes(), NOW));
    assert_eq!(post(&f.dta, "/v1/revocations", &body, &forged).status, 401);
    assert!(f.dta.db().is_revoked(&id).unwrap());
    assert_eq!(f.dta.db().verify_audit().unwrap(), 1);
}
