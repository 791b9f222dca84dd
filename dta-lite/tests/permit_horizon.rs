//! The permit horizon with real `dta-lite serve` processes on 127.0.0.1 whose clock is the
//! test-only `MILAGRO_TEST_NOW_FILE` hook: `--permit-horizon` is published in `/v1/info`,
//! permits beyond it or in the past are refused with a clear message, yesterday is issued
//! only in the grace hour; after `ra revoke` no further permit can be had, and logins end
//! when the cached permits run out: at most horizon days + the grace hour after revocation.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{login, login_with_permit, now, set_clock, LoginError, World};
use dta_lite::api::TimePermitsRequest;
use dta_lite::client::{self, ClientError};
use mpin_kex::policy::{day_of, DAY_SECS};
use mpin_kex::{AuthError, HashedId, Pin};

const ALICE: &str = "alice.horizon@example.com";
const GRACE: u64 = 3600;

fn pin(s: &str) -> Pin {
    s.parse()
        .unwrap_or_else(|_| unreachable!("test PINs are valid"))
}

fn midnight(day: u32) -> u64 {
    u64::from(day) * DAY_SECS
}

/// Asks one D-TA for permits; the status and message of a refusal.
async fn ask_one(
    ep: &client::DtaEndpoint,
    grant: &dta_lite::ra::Grant,
    from_day: u32,
    days: u32,
) -> Result<(), ClientError> {
    let body = serde_json::to_vec(&TimePermitsRequest {
        hashed_id: hex::encode(HashedId::of(ALICE.as_bytes()).as_bytes()),
        grant: grant.clone(),
        from_day,
        days,
    })
    .unwrap();
    client::send(ep, "POST", "/v1/time-permits", body, Vec::new())
        .await
        .map(|_| ())
}

fn refused(r: Result<impl std::fmt::Debug, ClientError>, needles: &[&str]) -> String {
    let e = r.expect_err("must be refused");
    assert_eq!(e.status(), Some(403), "{e}");
    let msg = e.to_string();
    for n in needles {
        assert!(msg.contains(n), "{n:?} missing from: {msg}");
    }
    msg
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permits_beyond_the_horizon_or_in_the_past_are_refused_and_info_publishes_it() {
    let w = World::new();
    let clock = w.path("now");
    let day = day_of(now());
    let noon = midnight(day) + DAY_SECS / 2;
    set_clock(&clock, noon);
    let (d1, d2) = (w.init("dta1"), w.init("dta2"));
    let r1 = w.serve_with(&d1, &["--permit-horizon", "3"], &clock);
    let r2 = w.serve_with(&d2, &[], &clock);
    let dtas = vec![r1.endpoint.clone(), r2.endpoint.clone()];

    // The horizon is published; clients take the smallest.
    assert_eq!(
        client::info(&r1.endpoint)
            .await
            .unwrap()
            .permit_horizon_days,
        3
    );
    assert_eq!(
        client::info(&r2.endpoint)
            .await
            .unwrap()
            .permit_horizon_days,
        2,
        "default horizon"
    );
    assert_eq!(client::permit_horizon(&dtas, None).await.unwrap(), 2);

    let grant = w
        .ra()
        .grant_client(&HashedId::of(ALICE.as_bytes()), noon, 600);
    let cred = client::enroll(&dtas, &grant, ALICE, &pin("1234"), None)
        .await
        .unwrap();

    // Today and tomorrow are issued; the day after is refused, naming the D-TA and its window.
    assert_eq!(client::permits(&cred, day, 2, None).await.unwrap().len(), 2);
    refused(
        client::permits(&cred, day, 3, None).await,
        &[
            &r2.endpoint.url,
            "HTTP 403",
            &format!("issues permits only for days {day}..={}", day + 1),
            &format!("today is day {day}"),
            "permit horizon 2",
        ],
    );
    assert!(ask_one(&r1.endpoint, &grant, day + 2, 1).await.is_ok());
    refused(
        ask_one(&r1.endpoint, &grant, day + 3, 1).await,
        &["permit horizon 3"],
    );
    refused(
        ask_one(&r2.endpoint, &grant, day + 2, 1).await,
        &["permit horizon 2"],
    );
    // The past: yesterday (outside the grace hour), a year ago, day 0.
    for from in [day - 1, day - 365, 0] {
        refused(
            ask_one(&r2.endpoint, &grant, from, 1).await,
            &[&format!("permit days {from}..={from} refused")],
        );
    }

    // The next day, first half hour: yesterday too (servers still accept it); not after.
    set_clock(&clock, midnight(day + 1) + 1800);
    assert_eq!(
        client::permits(&cred, day, 3, None).await.unwrap().len(),
        3,
        "days {day}..={} in the grace hour",
        day + 2
    );
    set_clock(&clock, midnight(day + 1) + GRACE);
    refused(
        client::permits(&cred, day, 1, None).await,
        &[&format!("only for days {}..=", day + 1)],
    );
    assert!(
        std::fs::read_to_string(&r2.log)
            .unwrap()
            .contains("TEST CLOCK ACTIVE"),
        "the hook announces itself"
    );
}

/// Revocation just after midnight of day R, when the client has just fetched everything it
/// can (days R and R+1 with the default horizon 2): permit R+2 could not be had before the
/// revocation, nothing after it; the cached permits log in until day R+2, 01:00 UTC (the
/// servers' grace hour for yesterday's permit) and no longer: horizon days + 1 h − 1 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_revocation_logins_end_within_horizon_days_plus_the_grace_hour() {
    let w = World::new();
    let clock = w.path("now");
    let r = day_of(now()) + 1;
    let fetched_at = midnight(r);
    set_clock(&clock, fetched_at);
    let dirs: Vec<_> = (1..=3).map(|i| w.init(&format!("dta{i}"))).collect();
    let running: Vec<_> = dirs.iter().map(|d| w.serve_with(d, &[], &clock)).collect();
    let dtas: Vec<_> = running.iter().map(|r| r.endpoint.clone()).collect();
    let horizon = client::permit_horizon(&dtas, None).await.unwrap();
    assert_eq!(horizon, 2);

    let ra = w.ra();
    let id = HashedId::of(ALICE.as_bytes());
    let grant = ra.grant_client(&id, fetched_at, 600);
    let mut cred = client::enroll(&dtas, &grant, ALICE, &pin("4321"), None)
        .await
        .unwrap();
    let ss = client::server_secret(&dtas, &ra.grant_server("web-1", fetched_at, 600), None)
        .await
        .unwrap();
    let n = client::refresh_permits(&mut cred, r, horizon, None)
        .await
        .unwrap();
    assert_eq!(n, 2);
    // The most a client can hold: a later day is refused before any revocation.
    refused(
        client::permits(&cred, r + horizon, 1, None).await,
        &["permit horizon 2"],
    );

    // `dta-lite ra revoke` one second later (RA-signed at the same clock).
    let revoked_at = fetched_at + 1;
    set_clock(&clock, revoked_at);
    let out = std::process::Command::new(common::BIN)
        .args(["ra", "revoke", "--key", w.ra_key.to_str().unwrap()])
        .args(
            dtas.iter()
                .flat_map(|d| ["--dta".to_owned(), d.to_string()]),
        )
        .args(["--identity", ALICE])
        .env(dta_lite::clock::TEST_NOW_FILE_ENV, &clock)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for day in [r, r + 1] {
        refused(
            client::permits(&cred, day, 1, None).await,
            &["identity revoked"],
        );
    }

    // The cached permits keep working to the end of their days, and yesterday's in the
    // first hour of the next day, then never again.
    let (pin, last_day) = ("4321", r + horizon - 1);
    login(&cred, &ss, pin, revoked_at).unwrap();
    login(&cred, &ss, pin, midnight(last_day) + DAY_SECS - 1).unwrap();
    let last_ok = midnight(last_day + 1) + GRACE - 1;
    login_with_permit(&cred, &ss, pin, last_day, last_ok).unwrap();
    let first_refused = last_ok + 1;
    let e = login_with_permit(&cred, &ss, pin, last_day, first_refused).unwrap_err();
    assert!(
        matches!(e, LoginError::Server(AuthError::PermitDay { .. })),
        "{e:?}"
    );
    assert!(matches!(
        login(&cred, &ss, pin, first_refused),
        Err(LoginError::Server(AuthError::PermitRequired))
    ));
    // The worst case stated in docs/SECURITY.md: horizon days + grace hour after revoking.
    assert_eq!(
        first_refused - revoked_at,
        u64::from(horizon) * DAY_SECS + GRACE - 1
    );
}
