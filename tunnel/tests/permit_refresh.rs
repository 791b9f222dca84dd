//! Time permits as days pass, with the test-only clock (`MILAGRO_TEST_NOW_FILE`, read by
//! this process's D-TAs and by every `milagro-tunnel` process it starts): `enroll` and
//! `permit` ask for no more than the D-TAs' permit horizon; a long-running client tunnel
//! refetches permits by itself when the day changes; after revocation the cached permits
//! log in until the last one's day ends (+ the servers' grace hour) and then never again.
//!
//! One test only: the clock variable is set for the whole test process.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use common::*;
use dta_client::clock::TEST_NOW_FILE_ENV;
use dta_client::files::CredentialFile;
use dta_client::ra::RaKey;
use milagro_tls::mpin::{MpinClientConfig, MpinConnector};
use milagro_tunnel::demo::{start_dta, LocalDta};
use mpin_kex::policy::{day_of, DAY_SECS};
use mpin_kex::HashedId;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const GRACE: u64 = 3600;

fn midnight(day: u32) -> u64 {
    u64::from(day) * DAY_SECS
}

fn set_clock(file: &Path, t: u64) {
    dta_client::fsutil::write_atomic(file, t.to_string().as_bytes(), 0o600).unwrap();
}

fn run_cli(args: &[String]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("MILAGRO_PIN")
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn days_held(cred: &Path) -> Vec<u32> {
    CredentialFile::load(cred)
        .unwrap()
        .permits()
        .iter()
        .map(|p| p.day())
        .collect()
}

/// One M-Pin login through the server tunnel by a client that offers its cached permit of
/// `permit_day` (as a modified client would keep yesterday's); true when the echo answers.
async fn login_with_permit(server: &str, cred: &Path, permit_day: u32) -> bool {
    let file = CredentialFile::load(cred).unwrap();
    let credential = file.to_credential(permit_day).unwrap();
    assert!(credential.permit().is_some());
    let mut cfg = MpinClientConfig::new(Arc::new(credential), "2580".parse().unwrap());
    cfg.options.clock = Arc::new(dta_client::clock::now);
    cfg.options.resume = false;
    let connector = MpinConnector::new(Arc::new(cfg));
    let tcp = tokio::net::TcpStream::connect(server).await.unwrap();
    let Ok(mut s) = connector.connect(tcp).await else {
        return false;
    };
    if s.write_all(b"ping").await.is_err() {
        return false;
    }
    let mut buf = [0u8; 4];
    let read = tokio::time::timeout(WAIT, s.read_exact(&mut buf)).await;
    matches!(read, Ok(Ok(_))) && &buf == b"ping"
}

#[test]
fn client_tunnel_refetches_permits_as_days_pass_and_revocation_ends_logins_in_the_horizon() {
    let dir = TempDir::new("permit-refresh");
    let clock = dir.path("now");
    let d = day_of(dta_client::clock::system_now());
    set_clock(&clock, midnight(d) + DAY_SECS / 2);
    // Before any other thread exists; inherited by every process started below.
    std::env::set_var(TEST_NOW_FILE_ENV, &clock);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let ra = RaKey::generate();
    let dtas: Vec<LocalDta> = rt.block_on(async {
        let mut v = Vec::new();
        for i in 1..=2 {
            let name = format!("dta{i}");
            v.push(start_dta(&dir.path(&name), &name, &ra).await.unwrap());
        }
        v
    });
    let endpoints: Vec<_> = dtas.iter().map(|d| d.endpoint.clone()).collect();
    let dta_args: Vec<String> = endpoints
        .iter()
        .flat_map(|e| ["--dta".to_owned(), e.to_string()])
        .collect();
    let now = dta_client::clock::now();

    // `enroll --days 7`: cut to the horizon (2: today and tomorrow) with a warning.
    let g = dir.path("alice.grant");
    ra.grant_client(&HashedId::of(b"alice"), now, 600)
        .save(&g)
        .unwrap();
    let cred = dir.path("alice.credential");
    let pin = dir.private("alice.pin", "2580");
    let mut args: Vec<String> = [
        "enroll",
        "--identity",
        "alice",
        "--grant",
        s(&g),
        "--out",
        s(&cred),
        "--pin-file",
        s(&pin),
        "--days",
        "7",
    ]
    .map(String::from)
    .to_vec();
    args.extend(dta_args.clone());
    let o = run_cli(&args);
    assert!(o.status.success(), "enroll: {}", stderr(&o));
    assert!(
        stderr(&o).contains("--days 7 is beyond the D-TAs' permit horizon of 2 day(s)"),
        "{}",
        stderr(&o)
    );
    assert_eq!(days_held(&cred), [d, d + 1]);
    // `permit --days 5` likewise; without --days it takes the horizon, silently.
    let permit = |extra: &[&str]| {
        let mut a = vec!["permit".to_owned(), "--credential".into(), s(&cred).into()];
        a.extend(extra.iter().map(|x| x.to_string()));
        run_cli(&a)
    };
    let o = permit(&["--days", "5"]);
    assert!(o.status.success() && stderr(&o).contains("beyond the D-TAs' permit horizon"));
    let o = permit(&[]);
    assert!(
        o.status.success() && !stderr(&o).contains("warning"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("fetching 2 day(s)"), "{}", stderr(&o));
    assert_eq!(days_held(&cred), [d, d + 1]);

    // The relying server (permits required) and a long-running client tunnel.
    let ss = dir.path("server.secret");
    rt.block_on(dta_client::client::server_secret(
        &endpoints,
        &ra.grant_server("web", now, 600),
        None,
    ))
    .unwrap()
    .save(&ss)
    .unwrap();
    let echo = Echo::start();
    let mut srv = Tunnel::spawn(
        &dir,
        "server",
        &[
            "server",
            "--accept",
            "127.0.0.1:0",
            "--connect",
            &echo.addr,
            "--server-secret",
            s(&ss),
            "--require-permits",
        ],
    );
    let srv_addr = srv.addr("server");
    let mut cli = Tunnel::spawn(
        &dir,
        "client",
        &[
            "client",
            "--accept",
            "127.0.0.1:0",
            "--connect",
            &srv_addr,
            "--credential",
            s(&cred),
            "--pin-file",
            s(&pin),
        ],
    );
    let cli_addr = cli.addr("client");
    let works = || roundtrip(&cli_addr, b"hello").is_some_and(|b| b == b"hello");
    assert!(works(), "day {d}: {}", cli.log_text());

    // The days pass: before each day's first connection the client tops its permits up.
    for (n, day) in [(1, d + 1), (2, d + 2)] {
        set_clock(&clock, midnight(day) + DAY_SECS / 2);
        assert!(works(), "day {day}: {}", cli.log_text());
        cli.wait_log_count("fetched time permits from the D-TAs", n);
        assert_eq!(days_held(&cred), [day - 1, day, day + 1]);
    }
    srv.wait_log_count("identity=alice method=mpin", 3);
    assert!(!cli.log_text().contains("could not fetch"));

    // Revocation on day R = d + 2 at noon. The client holds R and R+1; R+2 is beyond the
    // horizon and was never issuable.
    let r = d + 2;
    let cred_file = CredentialFile::load(&cred).unwrap();
    let e = rt
        .block_on(dta_client::client::permits(&cred_file, r + 2, 1, None))
        .unwrap_err();
    assert!(e.to_string().contains("permit horizon 2"), "{e}");
    let revoked_at = dta_client::clock::now();
    rt.block_on(dta_client::client::revoke(
        &endpoints,
        &ra,
        &HashedId::of(b"alice"),
        None,
    ))
    .unwrap();
    let o = permit(&[]);
    assert!(!o.status.success() && stderr(&o).contains("identity revoked"));

    // Day R+1, 23:59: the cached permit still logs in; the refetch is refused and logged.
    set_clock(&clock, midnight(r + 1) + DAY_SECS - 60);
    assert!(works(), "the cached permit of day {}", r + 1);
    cli.wait_log("could not fetch time permits");
    assert!(cli.log_text().contains("identity revoked"));

    // Day R+2, 00:30: the tunnel client has no permit for today and is refused ...
    set_clock(&clock, midnight(r + 2) + 1800);
    assert!(!works(), "no permit for day {}", r + 2);
    srv.wait_log("a time permit is required");
    // ... while a client keeping yesterday's permit logs in until 01:00 UTC, then never.
    set_clock(&clock, midnight(r + 2) + GRACE - 1);
    assert!(rt.block_on(login_with_permit(&srv_addr, &cred, r + 1)));
    let first_refused = midnight(r + 2) + GRACE;
    set_clock(&clock, first_refused);
    assert!(!rt.block_on(login_with_permit(&srv_addr, &cred, r + 1)));
    assert!(
        first_refused - revoked_at <= 2 * DAY_SECS + GRACE,
        "the bound in docs/SECURITY.md"
    );
    assert_eq!(
        echo.accepted(),
        5,
        "days d, d+1, R, R+1 and the grace-hour login"
    );
    for d in dtas {
        d.task.abort();
    }
}
