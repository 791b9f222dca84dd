//! M-Pin tunnels end to end through real processes and sockets: client tunnel → server
//! tunnel → echo service, in both modes, with and without time permits; and every refusal
//! (wrong PIN, revoked identity without permit, identity outside the allow-list, expired
//! permit) ends with a clear log line on the server and nothing forwarded to the service.
//! Credential and server-secret files are made with the libraries (no D-TA needed here; see
//! `provision.rs` for the D-TA path).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};

use common::*;

fn mpin_server(dir: &TempDir, secret: &Path, connect: &str, extra: &[&str]) -> Tunnel {
    let auth = ("--server-secret", secret);
    tunnel(dir, "mpin-server", "server", connect, auth, extra)
}

fn mpin_client(
    dir: &TempDir,
    tag: &str,
    cred: &Path,
    pin: &str,
    connect: &str,
    extra: &[&str],
) -> Tunnel {
    let pin_file = dir.private(&format!("{tag}.pin"), pin);
    let mut flags = vec!["--pin-file", s(&pin_file)];
    flags.extend_from_slice(extra);
    tunnel(dir, tag, "client", connect, ("--credential", cred), &flags)
}

#[test]
fn mpin_tunnels_carry_data_in_both_modes_with_permits() {
    let dir = TempDir::new("mpin-rt");
    let w = FileWorld::new();
    let echo = Echo::start();
    let secret = w.server_secret(&dir);
    let mut srv = mpin_server(
        &dir,
        &secret,
        &echo.addr,
        &["--require-permits", "--allow", "alice*"],
    );
    let srv_addr = srv.addr("server");
    let cred = w.credential(&dir, "alice@example.com", 1234, Some(today()));
    let mut multi = mpin_client(&dir, "multi", &cred, "1234", &srv_addr, &[]);
    let mut one = mpin_client(&dir, "one", &cred, "1234\n", &srv_addr, &["--one-pass"]);
    let data = random_bytes(256 * 1024, 3);
    for cli in [&mut multi, &mut one] {
        let addr = cli.addr("client");
        let back = roundtrip(&addr, &data).expect("round trip failed");
        assert!(back == data, "echoed bytes differ");
    }
    srv.wait_log_count("identity=alice@example.com method=mpin", 2);
    assert_eq!(echo.accepted(), 2);
}

#[test]
fn reconnects_resume_with_tickets_unless_disabled() {
    let dir = TempDir::new("mpin-res");
    let w = FileWorld::new();
    let echo = Echo::start();
    let secret = w.server_secret(&dir);
    let mut srv = mpin_server(&dir, &secret, &echo.addr, &["--require-permits"]);
    let srv_addr = srv.addr("server");
    let cred = w.credential(&dir, "frank", 4444, Some(today()));
    let mut cli = mpin_client(&dir, "resuming", &cred, "4444", &srv_addr, &[]);
    let addr = cli.addr("client");
    for i in 0..3u8 {
        assert_eq!(roundtrip(&addr, &[i; 10]).unwrap(), vec![i; 10]);
    }
    srv.wait_log_count("identity=frank method=mpin ", 1);
    srv.wait_log_count("identity=frank method=mpin-resumed", 2);
    let mut full = mpin_client(&dir, "full", &cred, "4444", &srv_addr, &["--no-resume"]);
    let addr = full.addr("client");
    for i in 0..2u8 {
        assert_eq!(roundtrip(&addr, &[i; 10]).unwrap(), vec![i; 10]);
    }
    srv.wait_log_count("identity=frank method=mpin ", 3);
    assert_eq!(
        srv.log_text().matches("method=mpin-resumed").count(),
        2,
        "--no-resume must never resume"
    );
}

#[test]
fn mpin_tunnels_without_permits() {
    let dir = TempDir::new("mpin-np");
    let w = FileWorld::new();
    let echo = Echo::start();
    let secret = w.server_secret(&dir);
    let mut srv = mpin_server(&dir, &secret, &echo.addr, &[]);
    let srv_addr = srv.addr("server");
    let cred = w.credential(&dir, "bob", 7, None);
    let mut cli = mpin_client(&dir, "bob", &cred, "0007", &srv_addr, &[]);
    let data = random_bytes(64 * 1024, 5);
    assert!(roundtrip(&cli.addr("client"), &data).expect("round trip failed") == data);
    srv.wait_log("identity=bob method=mpin");
}

#[test]
fn refusals_are_logged_and_nothing_is_forwarded() {
    let dir = TempDir::new("mpin-no");
    let w = FileWorld::new();
    let echo = Echo::start();
    let secret = w.server_secret(&dir);
    let mut srv = mpin_server(
        &dir,
        &secret,
        &echo.addr,
        &["--require-permits", "--allow", "*@corp.example"],
    );
    let srv_addr = srv.addr("server");
    let good = w.credential(&dir, "carol@corp.example", 2468, Some(today()));
    // (client, credential, PIN, server log line, client log line)
    let cases: Vec<(&str, PathBuf, &str, &str, &str)> = vec![
        (
            "wrong-pin",
            good.clone(),
            "1357",
            "proof rejected",
            "refused",
        ),
        (
            "revoked",
            w.credential(&dir, "dave@corp.example", 1, None),
            "1",
            "a time permit is required but the client sent none",
            "no time permit for today",
        ),
        (
            "outsider",
            w.credential(&dir, "mallory@evil.example", 1, Some(today())),
            "1",
            "identity not allowed",
            "refused",
        ),
        (
            "expired",
            w.credential(&dir, "erin@corp.example", 1, Some(today() - 2)),
            "1",
            "a time permit is required",
            "no time permit for today",
        ),
    ];
    for (tag, cred, pin, reason, client_reason) in cases {
        let mut cli = mpin_client(&dir, tag, &cred, pin, &srv_addr, &[]);
        let mut conn = connect(&cli.addr("client"));
        use std::io::Write;
        let _ = conn.write_all(b"must never reach the service");
        assert!(
            closed_within(&mut conn, WAIT),
            "{tag}: connection not closed"
        );
        srv.wait_log(reason);
        cli.wait_log("the server refused the M-Pin authentication");
        cli.wait_log(client_reason);
    }
    assert_eq!(echo.accepted(), 0, "nothing may reach the service");
    // The right PIN still works afterwards (three failures lock carol out only after a fourth try).
    let mut ok = mpin_client(&dir, "good", &good, "2468", &srv_addr, &[]);
    assert_eq!(roundtrip(&ok.addr("client"), b"hello").unwrap(), b"hello");
}
