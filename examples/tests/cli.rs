//! Runs the `psk_server` / `psk_client` example programs end to end on
//! loopback (cargo builds examples before running integration tests).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{program, start_psk_server, ProcessGuard};

const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

fn secrets(tag: &str, contents: &str, mode: u32) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("milagro-examples-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("psk.txt");
    std::fs::write(&p, contents).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    p
}

fn start_server(psk_file: &std::path::Path, extra: &[&str]) -> (ProcessGuard, String) {
    start_psk_server(psk_file, extra)
}

/// Runs the client with `input`, waiting at most 20 s; returns (status ok, stdout, stderr).
fn run_client(
    addr: &str,
    psk_file: &PathBuf,
    extra: &[&str],
    input: &[u8],
) -> (bool, Vec<u8>, String) {
    let mut child = Command::new(program("psk_client"))
        .args(["--connect", addr, "--psk-secrets"])
        .arg(psk_file)
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let w = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let mut out = child.stdout.take().unwrap();
    let r = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("psk_client did not finish");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let _ = w.join();
    let stdout = r.join().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    (status.success(), stdout, stderr)
}

#[test]
fn echo_through_example_programs() {
    let f = secrets(
        "ok",
        &format!("client1:{KEY}\nother:some-text-key-of-length\n"),
        0o600,
    );
    let (_server, addr) = start_server(&f, &["--group", "secp256r1"]);
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let (ok, out, err) = run_client(
        &addr,
        &f,
        &[
            "--psk-identity",
            "other",
            "--suite",
            "TLS_CHACHA20_POLY1305_SHA256",
        ],
        &data,
    );
    assert!(ok, "{err}");
    assert!(out == data, "echo differs");
    assert!(
        err.contains("suite=TLS_CHACHA20_POLY1305_SHA256 group=secp256r1 hrr=true"),
        "{err}"
    );
    std::fs::remove_dir_all(f.parent().unwrap()).unwrap();
}

#[test]
fn client_failures_exit_non_zero_with_one_line() {
    let good = secrets("srv", &format!("client1:{KEY}\n"), 0o600);
    let (_server, addr) = start_server(&good, &[]);
    let wrong = secrets("wrong", "client1:ffffffffffffffffffffffffffffffff\n", 0o600);
    let (ok, out, err) = run_client(&addr, &wrong, &[], b"secret data");
    assert!(!ok);
    assert!(out.is_empty());
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("decrypt_error"), "{err}");

    let public = secrets("public", &format!("client1:{KEY}\n"), 0o644);
    let (ok, _, err) = run_client(&addr, &public, &[], b"");
    assert!(!ok);
    assert!(err.contains("insecure permissions"), "{err}");

    let (ok, _, err) = run_client(&addr, &good, &["--suite", "TLS_NOPE"], b"");
    assert!(!ok);
    assert!(err.contains("unknown cipher suite"), "{err}");
    for f in [good, wrong, public] {
        std::fs::remove_dir_all(f.parent().unwrap()).unwrap();
    }
}
