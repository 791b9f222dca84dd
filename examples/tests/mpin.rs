//! Runs the M-Pin example programs against each other as processes on loopback:
//! `mpin_http_client` against `mpin_http_server` (hyper over the M-Pin channel) and
//! `mpin_client` against `mpin_echo_server`. The D-TAs run in process (`MpinWorld`); the
//! credential and the server secret are written in the D-TA client's file formats, so the
//! programs read exactly what enrolment would have left on disk.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

use common::program;
use dta_client::client::DtaEndpoint;
use dta_client::files::{CredentialFile, ServerSecretFile};
use dta_client::ra::RaKey;
use mpin_kex::HashedId;
use test_support::{today, MpinWorld, ProcessGuard, TempDir, WAIT};

/// The PIN alice enrolled with.
const PIN: u32 = 1234;

/// One D-TA world on disk: the server secret and credential files the programs read.
struct Files {
    dir: TempDir,
    world: MpinWorld,
    ra: RaKey,
    dta: DtaEndpoint,
}

impl Files {
    fn new(tag: &str) -> Self {
        let ra = RaKey::generate();
        let dta = DtaEndpoint {
            url: "https://127.0.0.1:7443".into(),
            fingerprint: "ab".repeat(32),
            signing_key: ra.public_hex(),
        };
        Self {
            dir: TempDir::new(tag),
            world: MpinWorld::new(2),
            ra,
            dta,
        }
    }

    /// The server-secret file (mode 0600).
    fn server_secret(&self) -> PathBuf {
        let p = self.dir.path("server-secret.json");
        ServerSecretFile::new(
            self.world.ss.clone(),
            "examples".into(),
            vec![self.dta.clone()],
        )
        .save(&p)
        .unwrap();
        p
    }

    /// `id`'s credential file for PIN [`PIN`], with today's time permit if `permit`.
    fn credential(&self, id: &str, permit: bool) -> PathBuf {
        let grant =
            self.ra
                .grant_client(&HashedId::of(id.as_bytes()), dta_client::clock::now(), 3600);
        let token = self.world.token(id.as_bytes(), PIN);
        let mut file = CredentialFile::new(id.into(), token, vec![self.dta.clone()], grant);
        if permit {
            file.add_permits(vec![self.world.permit(id.as_bytes(), today())], today());
        }
        let p = self.dir.path(&format!(
            "{id}{}.json",
            if permit { "" } else { "-nopermit" }
        ));
        file.save(&p).unwrap();
        p
    }

    /// A PIN file (mode 0600).
    fn pin(&self, pin: u32) -> PathBuf {
        self.dir.private(&format!("pin-{pin}"), &format!("{pin}\n"))
    }
}

/// Starts the server example `name` on a free loopback port; returns it and its address.
fn start_server(name: &str, files: &Files, extra: &[&str]) -> (ProcessGuard, String) {
    let mut cmd = Command::new(program(name));
    cmd.args(["--listen", "127.0.0.1:0", "--server-secret"])
        .arg(files.server_secret())
        .args(extra);
    let log = files.dir.path(&format!("{name}.log"));
    let mut server = ProcessGuard::start(&mut cmd, name, &log).unwrap();
    let line = server.wait_line("listening on ", WAIT);
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_owned();
    (server, addr)
}

/// Runs an example client to its end (at most [`WAIT`]); returns (status, stdout, stderr).
fn run_client(name: &str, args: &[&Path]) -> (ExitStatus, String, String) {
    let mut cmd = Command::new(program(name));
    cmd.args(args);
    let mut client = ProcessGuard::spawn_piped(&mut cmd, name).unwrap();
    drop(client.child.stdin.take());
    let Some(status) = client.wait_exit(WAIT) else {
        panic!("{name} did not finish within {WAIT:?}");
    };
    let (out, err) = client.kill_and_collect();
    (status, out, err)
}

fn http_get(addr: &str, credential: &Path, pin: &Path) -> (ExitStatus, String, String) {
    let addr = Path::new(addr);
    run_client(
        "mpin_http_client",
        &[
            Path::new("--connect"),
            addr,
            Path::new("--credential"),
            credential,
            Path::new("--pin-file"),
            pin,
        ],
    )
}

#[test]
fn http_client_gets_hello_with_its_identity() {
    let files = Files::new("examples-http-ok");
    let (server, addr) = start_server("mpin_http_server", &files, &["--require-permits"]);
    let (status, out, err) = http_get(&addr, &files.credential("alice", true), &files.pin(PIN));
    assert!(
        status.success(),
        "{err}\nserver log:\n{}",
        server.log_text()
    );
    assert_eq!(out, "hello, alice\n");
    server.wait_log_count("handled GET / for alice", 1, WAIT);
}

#[test]
fn wrong_pin_is_refused_and_the_handler_never_runs() {
    let files = Files::new("examples-http-pin");
    let (server, addr) = start_server("mpin_http_server", &files, &[]);
    let alice = files.credential("alice", true);
    let (status, out, err) = http_get(&addr, &alice, &files.pin(PIN + 1));
    assert!(!status.success(), "a wrong PIN got in: {out}");
    assert!(out.is_empty(), "{out}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("refused the M-Pin authentication"), "{err}");
    server.wait_log_count(": refused: ", 1, WAIT);
    assert!(
        !server.log_text().contains("handled"),
        "{}",
        server.log_text()
    );

    // The same server and credential with the right PIN: the handler runs, once.
    let (status, out, err) = http_get(&addr, &alice, &files.pin(PIN));
    assert!(status.success(), "{err}");
    assert_eq!(out, "hello, alice\n");
    server.wait_log_count("handled GET / for alice", 1, WAIT);
    assert_eq!(server.log_text().matches("handled").count(), 1);
}

#[test]
fn missing_permit_is_refused_only_where_permits_are_required() {
    let files = Files::new("examples-http-permit");
    let bob = files.credential("bob", false);
    let pin = files.pin(PIN);
    let (strict, addr) = start_server("mpin_http_server", &files, &["--require-permits"]);
    let (status, _, err) = http_get(&addr, &bob, &pin);
    assert!(!status.success(), "bob got in without a permit");
    assert!(err.contains("refused"), "{err}");
    strict.wait_log_count(": refused: ", 1, WAIT);
    assert!(
        !strict.log_text().contains("handled"),
        "{}",
        strict.log_text()
    );

    let (lax, addr) = start_server("mpin_http_server", &files, &[]);
    let (status, out, err) = http_get(&addr, &bob, &pin);
    assert!(status.success(), "{err}\nserver log:\n{}", lax.log_text());
    assert_eq!(out, "hello, bob\n");
}

#[test]
fn minimal_client_talks_to_the_echo_server() {
    let files = Files::new("examples-minimal");
    let (server, addr) = start_server("mpin_echo_server", &files, &["--require-permits"]);
    let alice = files.credential("alice", true);
    let line = Path::new("ping over M-Pin");
    let (status, out, err) = run_client(
        "mpin_client",
        &[Path::new(&addr), &alice, &files.pin(PIN), line],
    );
    assert!(
        status.success(),
        "{err}\nserver log:\n{}",
        server.log_text()
    );
    let mut lines = out.lines();
    assert!(
        lines
            .next()
            .is_some_and(|l| l.starts_with("negotiated suite=TLS_")),
        "{out}"
    );
    let expected = format!(
        "alice (M-Pin MultiPass, permit day {}, resumed false) said: ping over M-Pin",
        today()
    );
    assert_eq!(lines.next(), Some(expected.as_str()), "{out}");

    let (status, out, err) = run_client(
        "mpin_client",
        &[Path::new(&addr), &alice, &files.pin(PIN + 1), line],
    );
    assert!(!status.success(), "a wrong PIN got an answer: {out}");
    assert!(err.contains("refused"), "{err}");
}

#[test]
fn minimal_client_is_under_40_lines() {
    let src = include_str!("../examples/mpin_client.rs");
    let n = src.lines().count();
    assert!(n < 40, "mpin_client.rs has {n} lines");
    assert!(
        src.contains(&format!("in {n} lines")),
        "its doc comment must state its length ({n})"
    );
}

#[test]
fn plain_http_without_mpin_never_reaches_the_handler() {
    use std::io::{Read, Write};
    let files = Files::new("examples-http-plain");
    let (server, addr) = start_server("mpin_http_server", &files, &[]);
    let mut sock = std::net::TcpStream::connect(&addr).unwrap();
    sock.set_read_timeout(Some(WAIT)).unwrap();
    sock.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    let _ = sock.read_to_end(&mut answer); // the server closes (or resets) the connection
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        !answer.contains("hello") && !answer.contains("HTTP/1.1"),
        "{answer}"
    );
    server.wait_log_count(": refused: ", 1, WAIT);
    assert!(
        !server.log_text().contains("handled"),
        "{}",
        server.log_text()
    );
}

#[test]
fn client_refuses_a_credential_others_can_read_before_connecting() {
    use std::os::unix::fs::PermissionsExt;
    let files = Files::new("examples-http-mode");
    let alice = files.credential("alice", true);
    std::fs::set_permissions(&alice, std::fs::Permissions::from_mode(0o644)).unwrap();
    // Nothing listens there: the client must stop at the file, before any connection.
    let (status, out, err) = http_get("127.0.0.1:1", &alice, &files.pin(PIN));
    assert!(!status.success(), "{out}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains(&alice.display().to_string()), "{err}");
    assert!(err.contains("readable by group or others"), "{err}");
    assert!(!err.contains("connect"), "{err}");
}
