//! Device links with real processes (fixtures in `common/dtas.rs`, attacking relays in
//! `common/relays.rs`): three `dta-lite serve` D-TAs, devices enrolled with `milagro-tunnel
//! enroll --device`, `client --device-credential --peer` and `server --device-credential`
//! tunnels, and a counting echo behind the server tunnel: every refusal is checked to forward
//! nothing (the echo sees no connection, the plaintext side no byte). Needs `cargo build -p
//! dta-lite --bin dta-lite`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::thread;

use common::*;
use mpin_kex::policy::DAY_SECS;

#[test]
fn two_devices_link_through_tunnels_1_mib_both_ways_with_method_p2p_and_both_identities_psk_and_mpin_on_the_same_listener(
) {
    let w = Dtas::start("dev-link");
    let alice = w.enroll("device:alice", &["--send"]);
    let bob = w.enroll("device:bob", &[]);
    assert_eq!(
        std::fs::metadata(&alice).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let echo = Echo::start();
    let psk = psk_file(&w.dir, "psk.txt", "app", KEY1);
    let files = FileWorld::new();
    let secret = files.server_secret(&w.dir);
    let mpin_cred = files.credential(&w.dir, "carol@example.com", 2580, None);
    let pin = w.dir.private("pin", "2580");
    let (mut srv, srv_addr) = w.server(
        "bob",
        &bob,
        &echo.addr,
        &[
            "--allow",
            "device:a*",
            "--status",
            "127.0.0.1:0",
            "--allow",
            "*@example.com",
            "--psk-secrets",
            s(&psk),
            "--server-secret",
            s(&secret),
        ],
    );
    let status = srv.status_addr();
    let (cli, cli_addr) = w.client("alice", &alice, "device:bob", &srv_addr);
    let data = random_bytes(1 << 20, 7);
    let back = roundtrip(&cli_addr, &data).expect("the link carries data");
    assert_eq!(back.len(), data.len());
    assert!(back == data, "1 MiB each way, unchanged");
    for t in [&srv, &cli] {
        t.wait_log("method=p2p");
        t.wait_log("device:alice->device:bob");
    }
    // a static-PSK peer on the same listener
    let mut psk_client = client(&w.dir, "psk-client", &psk, &srv_addr, &[]);
    let psk_addr = psk_client.addr("client");
    assert_eq!(roundtrip(&psk_addr, b"psk").as_deref(), Some(&b"psk"[..]));
    srv.wait_log("method=psk");
    // and an M-Pin client (no permit: the server does not require them)
    let mut mpin_client = w.tunnel(
        "mpin-client",
        &[
            "client",
            "--name",
            "mpin",
            "--accept",
            "127.0.0.1:0",
            "--connect",
            &srv_addr,
            "--credential",
            s(&mpin_cred),
            "--pin-file",
            s(&pin),
        ],
    );
    let mpin_addr = mpin_client.addr("mpin");
    assert_eq!(
        roundtrip(&mpin_addr, b"mpin").as_deref(),
        Some(&b"mpin"[..])
    );
    srv.wait_log("identity=carol@example.com method=mpin");
    wait_metrics(&status, |m| {
        m.contains("milagro_tunnel_authenticated_total{service=\"bob\",method=\"p2p\"} 1")
    });
    // the same credential with nothing changed but the peer it names: refused on dialling
    let (_c2, wrong) = w.client("alice-to-carol", &alice, "device:carol", &srv_addr);
    let before = echo.accepted();
    assert!(refused(&wrong), "bob is not the peer asked for");
    assert_eq!(echo.accepted(), before, "nothing forwarded");
}

#[test]
fn wrong_peer_refused_on_each_side_n_minus_1_shares_fail_a_device_cannot_claim_another_identity() {
    let w = Dtas::start("dev-refusals");
    let alice = w.enroll("device:alice", &["--send"]);
    let bob = w.enroll("device:bob", &[]);
    let echo = Echo::start();
    // Responder side: bob lets in carol only.
    let (s1, only_carol) = w.server("bob-carol", &bob, &echo.addr, &["--allow", "device:carol"]);
    let (c1, a1) = w.client("alice1", &alice, "device:bob", &only_carol);
    assert!(refused(&a1), "alice is not on bob's allow-list");
    // Initiator side: alice dials carol, bob answers.
    let (s2, any) = w.server("bob-any", &bob, &echo.addr, &[]);
    let (c2, a2) = w.client("alice2", &alice, "device:carol", &any);
    assert!(refused(&a2), "the responder is not the peer dialled");
    // A device key combined from 2 of the 3 D-TAs' shares.
    let partial = w.enroll_at("device:dave", &["--send"], 2);
    let (c3, a3) = w.client("dave", &partial, "device:bob", &any);
    assert!(refused(&a3), "N-1 shares are another key");
    // Alice's keys under another identity (the file rewritten to claim it, grant hash too).
    let mut j: serde_json::Value = serde_json::from_slice(&std::fs::read(&alice).unwrap()).unwrap();
    j["identity"] = "device:erin".into();
    j["grant"]["hashed_id"] = hex::encode(mpin_kex::HashedId::of(b"device:erin").as_bytes()).into();
    let claim = w.dir.private("claim.device", &j.to_string());
    let (c4, a4) = w.client("erin", &claim, "device:bob", &any);
    assert!(refused(&a4), "alice's key does not prove erin");
    // Selfie: bob dialling its own identity is refused before anything is sent.
    let o = run(
        Command::new(BIN).args([
            "client",
            "--accept",
            "127.0.0.1:0",
            "--connect",
            &any,
            "--device-credential",
            s(&bob),
            "--peer",
            "device:bob",
        ]),
        &w.clock,
    );
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("own identity"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // each refused for its own reason
    s1.wait_log("\"device:alice\" is not in this device's allow-list");
    s2.wait_log("the initiator asked for another identity than this responder's");
    s2.wait_log_count("PSK binder did not verify", 2);
    for c in [&c1, &c2] {
        c.wait_log("the peer device refused the P2P link");
    }
    for c in [&c3, &c4] {
        c.wait_log("decrypt_error");
    }
    assert_eq!(echo.accepted(), 0, "nothing forwarded on any refusal");
    assert_eq!(echo.bytes.load(std::sync::atomic::Ordering::SeqCst), 0);
}

#[test]
fn the_dialling_device_refuses_a_responder_that_is_not_its_peer() {
    let w = Dtas::start("dev-readdress");
    let alice = w.enroll("device:alice", &["--send"]);
    let bob = w.enroll("device:bob", &[]);
    let echo = Echo::start();
    let (_s, srv) = w.server("bob", &bob, &echo.addr, &[]);
    // alice dials device:box; the relay re-addresses her HELLO to device:bob, who answers
    let relay = readdressing_relay(srv, b"device:box", b"device:bob");
    let (c, cli) = w.client("alice", &alice, "device:box", &relay);
    assert!(refused(&cli), "bob is not the device dialled");
    c.wait_log("the responder answered as another identity than the peer dialled");
    assert_eq!(echo.accepted(), 0, "nothing forwarded");
}

#[test]
fn a_relay_splicing_two_sessions_fails_and_forwards_nothing() {
    let w = Dtas::start("dev-splice");
    let alice = w.enroll("device:alice", &["--send"]);
    let bob = w.enroll("device:bob", &[]);
    let echo = Echo::start();
    let (srv_t, srv) = w.server("bob", &bob, &echo.addr, &[]);
    let relay = splicing_relay(srv);
    let (_c, cli) = w.client("alice", &alice, "device:bob", &relay);
    let one = thread::spawn({
        let cli = cli.clone();
        move || refused(&cli)
    });
    let two = refused(&cli);
    assert!(one.join().unwrap() && two, "both spliced sessions fail");
    srv_t.wait_log("PSK binder did not verify");
    assert_eq!(echo.accepted(), 0, "nothing forwarded");
}

#[test]
fn permits_are_refetched_as_days_pass_and_a_revoked_device_is_refused_after_its_last_permit() {
    let w = Dtas::start("dev-revoke");
    let alice = w.enroll("device:alice", &["--send"]);
    let bob = w.enroll("device:bob", &[]);
    let echo = Echo::start();
    let (s_t, srv) = w.server("bob", &bob, &echo.addr, &[]);
    let (c, cli) = w.client("alice", &alice, "device:bob", &srv);
    assert_eq!(roundtrip(&cli, b"day 0").as_deref(), Some(&b"day 0"[..]));
    // Two days on (beyond the permits fetched at enrolment, horizon 2): both tunnels fetch
    // device permits by themselves.
    w.set_day(w.today + 2, DAY_SECS / 2);
    assert_eq!(roundtrip(&cli, b"day 2").as_deref(), Some(&b"day 2"[..]));
    // Revoked at every D-TA: alice's cached permits last to day+3; on day+4 (after the grace
    // hour) she gets none and bob refuses her.
    let mut cmd = Command::new(dta_bin());
    cmd.args(["ra", "revoke", "--key", s(&w.ra_key)])
        .args(["--identity", "device:alice"]);
    for e in &w.endpoints {
        cmd.args(["--dta", e]);
    }
    ok(run(&mut cmd, &w.clock), "ra revoke");
    w.set_day(w.today + 4, 2 * 3600);
    let before = echo.accepted();
    assert!(
        refused(&cli),
        "a revoked device is refused the next permit day"
    );
    c.wait_log("refused with HTTP 403: identity revoked");
    s_t.wait_log("device permits are required but the initiator offered none");
    assert_eq!(echo.accepted(), before, "nothing forwarded");
}

/// A listener serving devices and M-Pin on `--state redis://`: a revoked identity's M-Pin
/// resumption is refused there too (a resumption runs no lockout gate; before the fix only the
/// M-Pin-only listener checked the revocation mark), and nothing is forwarded.
#[test]
fn a_revoked_identity_cannot_resume_on_a_listener_that_also_serves_devices() {
    let w = Dtas::start("dev-revoke");
    let bob = w.enroll("device:bob", &["--receive"]);
    let redis = test_support::RedisServer::start();
    let echo = Echo::start();
    let files = FileWorld::new();
    let secret = files.server_secret(&w.dir);
    let cred = files.credential(&w.dir, "carol@example.com", 2580, None);
    let (srv, srv_addr) = w.server(
        "bob",
        &bob,
        &echo.addr,
        &[
            "--server-secret",
            s(&secret),
            "--state",
            &redis.url(),
            "--rate-limit",
            "10000",
        ],
    );
    let mut client = mpin_client_on(&w.dir, "carol", &cred, "2580", &srv_addr, &[]);
    let addr = client.addr("client");
    assert!(login(&addr, b"full"), "the M-Pin login works");
    srv.wait_log("method=mpin ");
    assert!(login(&addr, b"resumed"), "the resumption works");
    srv.wait_log("method=mpin-resumed");
    assert_eq!(echo.accepted(), 2);
    let out = Command::new(BIN)
        .args([
            "revoke",
            "--state",
            &redis.url(),
            "--identity",
            "carol@example.com",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!login(&addr, b"after revoke"), "a revoked identity resumed");
    srv.wait_log("resumption refused");
    assert_eq!(
        echo.accepted(),
        2,
        "nothing forwarded for the revoked identity"
    );
}
