//! Provisioning from real D-TAs (HTTPS on loopback, run in this test process through the
//! dta-lite library) with the `milagro-tunnel enroll | server-secret | permit` commands, then
//! M-Pin tunnels end to end; a credential from 2 of 3 D-TAs fails; a D-TA that is down is
//! named and nothing half-written is left; revocation stops the permits and so the login; and
//! `milagro-tunnel demo` runs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::*;
use dta_client::client::DtaEndpoint;
use dta_client::ra::RaKey;
use milagro_tunnel::demo::{start_dta, LocalDta};
use mpin_kex::HashedId;

fn run_cli(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("MILAGRO_PIN")
        .output()
        .unwrap()
}

fn dta_args(dtas: &[&LocalDta]) -> Vec<String> {
    dtas.iter()
        .flat_map(|d| {
            let e: &DtaEndpoint = &d.endpoint;
            [
                "--dta".to_string(),
                format!("{},{},{}", e.url, e.fingerprint, e.signing_key),
            ]
        })
        .collect()
}

fn grant(dir: &TempDir, ra: &RaKey, id: &str) -> String {
    let p = dir.path(&format!("{id}.grant"));
    ra.grant_client(&HashedId::of(id.as_bytes()), dta_client::clock::now(), 600)
        .save(&p)
        .unwrap();
    s(&p).to_string()
}

fn enroll(
    dir: &TempDir,
    ra: &RaKey,
    id: &str,
    dtas: &[&LocalDta],
    days: &str,
) -> (Output, std::path::PathBuf) {
    let g = grant(dir, ra, id);
    let out = dir.path(&format!("{id}.credential"));
    let pin = dir.private(&format!("{id}.pin"), "2580");
    let mut args = vec![
        "enroll",
        "--identity",
        id,
        "--grant",
        &g,
        "--out",
        s(&out),
        "--pin-file",
        s(&pin),
        "--days",
        days,
    ]
    .into_iter()
    .map(String::from)
    .collect::<Vec<_>>();
    args.extend(dta_args(dtas));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    (run_cli(&refs), out)
}

fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrol_provision_tunnel_and_refusals_with_three_dtas() {
    let dir = TempDir::new("prov");
    let ra = RaKey::generate();
    let mut dtas = Vec::new();
    for i in 1..=3 {
        dtas.push(
            start_dta(&dir.path(&format!("dta{i}")), &format!("dta{i}"), &ra)
                .await
                .unwrap(),
        );
    }
    let all: Vec<&LocalDta> = dtas.iter().collect();

    // alice: enrolled at all three, with a permit for today.
    let (o, alice) = tokio::task::block_in_place(|| enroll(&dir, &ra, "alice", &all, "1"));
    assert!(o.status.success(), "enroll failed: {}", stderr(&o));
    assert_eq!(mode(&alice), 0o600);
    assert!(
        !std::fs::read_to_string(&alice).unwrap().contains("2580"),
        "the PIN must not be stored"
    );
    for d in &dtas {
        assert!(
            stderr(&o).contains(&format!("{}: ok", d.endpoint.url)),
            "progress per D-TA: {}",
            stderr(&o)
        );
    }

    // The server secret.
    let sg = dir.path("server.grant");
    ra.grant_server("web", dta_client::clock::now(), 600)
        .save(&sg)
        .unwrap();
    let ss = dir.path("server.secret");
    let mut args = vec![
        "server-secret".to_string(),
        "--grant".into(),
        s(&sg).into(),
        "--out".into(),
        s(&ss).into(),
    ];
    args.extend(dta_args(&all));
    let o = tokio::task::block_in_place(|| {
        run_cli(&args.iter().map(String::as_str).collect::<Vec<_>>())
    });
    assert!(o.status.success(), "server-secret failed: {}", stderr(&o));
    assert_eq!(mode(&ss), 0o600);

    // `permit` refreshes permits.
    let o = tokio::task::block_in_place(|| {
        run_cli(&["permit", "--credential", s(&alice), "--days", "2"])
    });
    assert!(o.status.success(), "permit failed: {}", stderr(&o));

    // Tunnels end to end.
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
    let pin = dir.path("alice.pin");
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
            s(&alice),
            "--pin-file",
            s(&pin),
        ],
    );
    let cli_addr = cli.addr("client");
    let data = random_bytes(512 * 1024, 11);
    let back =
        tokio::task::block_in_place(|| roundtrip(&cli_addr, &data)).expect("round trip failed");
    assert!(back == data);
    srv.wait_log("identity=alice method=mpin");

    // bob: a credential from 2 of the 3 D-TAs does not authenticate.
    let (o, bob) = tokio::task::block_in_place(|| enroll(&dir, &ra, "bob", &all[..2], "1"));
    assert!(
        o.status.success(),
        "enroll (2 D-TAs) failed: {}",
        stderr(&o)
    );
    let bob_pin = dir.path("bob.pin");
    let mut bob_cli = Tunnel::spawn(
        &dir,
        "bob",
        &[
            "client",
            "--accept",
            "127.0.0.1:0",
            "--connect",
            &srv_addr,
            "--credential",
            s(&bob),
            "--pin-file",
            s(&bob_pin),
        ],
    );
    let bob_addr = bob_cli.addr("client");
    assert!(
        tokio::task::block_in_place(|| roundtrip(&bob_addr, b"hi")).is_none_or(|b| b.is_empty())
    );
    srv.wait_log("proof rejected");

    // carol: enrolled without permits, then revoked: the client tunnel's own permit fetch is
    // refused (403) and the server, which requires permits, refuses the login.
    let (o, carol) = tokio::task::block_in_place(|| enroll(&dir, &ra, "carol", &all, "0"));
    assert!(o.status.success(), "enroll carol failed: {}", stderr(&o));
    dta_client::client::revoke(
        &dtas.iter().map(|d| d.endpoint.clone()).collect::<Vec<_>>(),
        &ra,
        &HashedId::of(b"carol"),
        None,
    )
    .await
    .unwrap();
    let o = tokio::task::block_in_place(|| {
        run_cli(&["permit", "--credential", s(&carol), "--days", "1"])
    });
    assert!(!o.status.success(), "a revoked identity must get no permit");
    assert!(
        stderr(&o).contains("403") || stderr(&o).to_lowercase().contains("revoked"),
        "{}",
        stderr(&o)
    );
    let carol_pin = dir.path("carol.pin");
    let mut carol_cli = Tunnel::spawn(
        &dir,
        "carol",
        &[
            "client",
            "--accept",
            "127.0.0.1:0",
            "--connect",
            &srv_addr,
            "--credential",
            s(&carol),
            "--pin-file",
            s(&carol_pin),
        ],
    );
    let carol_addr = carol_cli.addr("client");
    assert!(
        tokio::task::block_in_place(|| roundtrip(&carol_addr, b"hi")).is_none_or(|b| b.is_empty())
    );
    srv.wait_log("a time permit is required");

    // dave: one D-TA is down: the error names it and no credential file is left.
    dtas[2].task.abort();
    let down = dtas[2].endpoint.url.clone();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let (o, dave) = tokio::task::block_in_place(|| enroll(&dir, &ra, "dave", &all, "1"));
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains(&down),
        "the failing D-TA must be named: {}",
        stderr(&o)
    );
    assert!(!dave.exists(), "nothing half-written");
    assert_eq!(echo.accepted(), 1, "only alice reached the service");
}

#[test]
fn demo_runs_and_reports() {
    let o = Command::new(BIN).arg("demo").output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "demo failed: {out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    for needle in [
        "D-TA 3",
        "hashed",
        "TLS_AES_128_GCM_SHA256",
        "bytes checked 2097152",
        "wrong PIN     refused",
        "device:sensor->device:gateway method=p2p; 1048576 bytes echoed identical",
        "wrong peer    device:sensor dialling device:other refused",
    ] {
        assert!(out.contains(needle), "report lacks {needle:?}:\n{out}");
    }
}
