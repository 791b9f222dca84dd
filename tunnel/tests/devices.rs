//! Device links with real processes: three `dta-lite serve` D-TAs on 127.0.0.1 (test-only
//! clock, `MILAGRO_TEST_NOW_FILE`, handed to every process started here), devices enrolled
//! with `milagro-tunnel enroll --device`, `milagro-tunnel client --device-credential --peer`
//! and `server --device-credential` tunnels, and a counting echo behind the server tunnel:
//! every refusal is checked to forward nothing (the echo sees no connection, the plaintext
//! side no byte). Needs `cargo build -p dta-lite --bin dta-lite`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::thread;

use common::*;
use dta_client::clock::TEST_NOW_FILE_ENV;
use mpin_kex::policy::{day_of, DAY_SECS};

fn dta_bin() -> PathBuf {
    test_support::target_bin("dta-lite")
}

/// Three D-TAs, an RA key and the clock file: everything a device needs.
struct Dtas {
    dir: TempDir,
    clock: PathBuf,
    ra_key: PathBuf,
    endpoints: Vec<String>,
    today: u32,
    _running: Vec<ProcessGuard>,
}

fn run(cmd: &mut Command, clock: &Path) -> Output {
    cmd.env(TEST_NOW_FILE_ENV, clock)
        .env_remove("MILAGRO_PIN")
        .env_remove("DTA_PASSPHRASE")
        .output()
        .unwrap()
}

fn ok(o: Output, what: &str) -> String {
    assert!(
        o.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn set_clock(file: &Path, t: u64) {
    dta_client::fsutil::write_atomic(file, t.to_string().as_bytes(), 0o600).unwrap();
}

impl Dtas {
    fn start(tag: &str) -> Self {
        let dir = TempDir::new(tag);
        let clock = dir.path("now");
        let today = day_of(dta_client::clock::system_now()) + 1;
        set_clock(&clock, u64::from(today) * DAY_SECS + DAY_SECS / 2);
        let ra_key = dir.path("ra.key");
        let ra_pub = ok(
            run(
                Command::new(dta_bin()).args(["ra", "keygen", "--out", s(&ra_key)]),
                &clock,
            ),
            "ra keygen",
        );
        let pass = dir.private("passphrase", "test passphrase\n");
        let mut running = Vec::new();
        let mut endpoints = Vec::new();
        for i in 1..=3 {
            let d = dir.path(&format!("dta{i}"));
            let name = format!("dta{i}");
            ok(
                run(
                    Command::new(dta_bin())
                        .args(["init", "--dir", s(&d), "--name", &name])
                        .args(["--ra-pubkey", ra_pub.trim(), "--passphrase-file", s(&pass)]),
                    &clock,
                ),
                "init",
            );
            let mut cmd = Command::new(dta_bin());
            cmd.args(["serve", "--dir", s(&d), "--listen", "127.0.0.1:0"])
                .args(["--passphrase-file", s(&pass)])
                .env(TEST_NOW_FILE_ENV, &clock)
                .env("RUST_LOG", "warn");
            let mut p = ProcessGuard::start(
                &mut cmd,
                "dta-lite serve",
                &dir.path(&format!("{name}.log")),
            )
            .unwrap();
            let first = p.wait_line("listening on ", WAIT);
            assert!(first.starts_with("listening on 127.0.0.1:"), "{first}");
            let desc = p.wait_line("dta ", WAIT);
            endpoints.push(desc.trim_start_matches("dta ").trim().to_owned());
            running.push(p);
        }
        Self {
            dir,
            clock,
            ra_key,
            endpoints,
            today,
            _running: running,
        }
    }

    fn set_day(&self, day: u32, secs: u64) {
        set_clock(&self.clock, u64::from(day) * DAY_SECS + secs);
    }

    /// `dta-lite ra grant device` then `milagro-tunnel enroll --device` at the first
    /// `n_dtas` D-TAs; the device credential's path.
    fn enroll_at(&self, identity: &str, flags: &[&str], n_dtas: usize) -> PathBuf {
        let tag = identity.replace(':', "_");
        let grant = self.dir.path(&format!("{tag}.grant"));
        ok(
            run(
                Command::new(dta_bin())
                    .args(["ra", "grant", "device", "--key", s(&self.ra_key)])
                    .args(["--identity", identity, "--out", s(&grant)])
                    .args(flags),
                &self.clock,
            ),
            "ra grant device",
        );
        let out = self.dir.path(&format!("{tag}-{n_dtas}.device"));
        let mut cmd = Command::new(BIN);
        cmd.args(["enroll", "--device", "--identity", identity])
            .args(["--grant", s(&grant), "--out", s(&out)]);
        for e in &self.endpoints[..n_dtas] {
            cmd.args(["--dta", e]);
        }
        ok(run(&mut cmd, &self.clock), "enroll --device");
        out
    }

    fn enroll(&self, identity: &str, flags: &[&str]) -> PathBuf {
        self.enroll_at(identity, flags, 3)
    }

    /// A tunnel process at the test clock.
    fn tunnel(&self, tag: &str, args: &[&str]) -> Tunnel {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .env(TEST_NOW_FILE_ENV, &self.clock)
            .env_remove("RUST_LOG");
        let log = self.dir.path(&format!("{tag}.log"));
        Tunnel::from(ProcessGuard::start(&mut cmd, "the tunnel", &log).unwrap())
    }

    /// A device server tunnel in front of `echo`; its address.
    fn server(&self, tag: &str, cred: &Path, echo: &str, extra: &[&str]) -> (Tunnel, String) {
        let mut args = vec!["server", "--name", tag, "--accept", "127.0.0.1:0"];
        args.extend(["--connect", echo, "--device-credential", s(cred)]);
        args.extend_from_slice(extra);
        let mut t = self.tunnel(tag, &args);
        let a = t.addr(tag);
        (t, a)
    }

    /// A device client tunnel dialling `peer` at `server`; its plaintext address.
    fn client(&self, tag: &str, cred: &Path, peer: &str, server: &str) -> (Tunnel, String) {
        let mut t = self.tunnel(
            tag,
            &[
                "client",
                "--name",
                tag,
                "--accept",
                "127.0.0.1:0",
                "--connect",
                server,
                "--device-credential",
                s(cred),
                "--peer",
                peer,
            ],
        );
        let a = t.addr(tag);
        (t, a)
    }
}

/// True when a connection to the plaintext side is closed without any byte coming back.
fn refused(addr: &str) -> bool {
    let mut c = connect(addr);
    let _ = c.write_all(b"hello?");
    let mut buf = [0u8; 16];
    c.set_read_timeout(Some(WAIT)).unwrap();
    matches!(c.read(&mut buf), Ok(0) | Err(_))
}

#[test]
fn two_devices_link_through_tunnels_1_mib_both_ways_with_method_p2p_and_both_identities_psk_on_the_same_listener(
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

/// Forwards one connection to `to`, rewriting `from` into `into` (same length) in what the
/// initiator sends: the HELLO then asks the responder for another identity than dialled.
fn readdressing_relay(to: String, from: &'static [u8], into: &'static [u8]) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    thread::spawn(move || {
        let Ok((mut a, _)) = l.accept() else { return };
        a.set_read_timeout(Some(WAIT)).unwrap();
        let Ok(mut b) = TcpStream::connect(&to) else {
            return;
        };
        b.set_read_timeout(Some(WAIT)).unwrap();
        let (mut a2, mut b2) = (a.try_clone().unwrap(), b.try_clone().unwrap());
        let back = thread::spawn(move || {
            let mut buf = [0u8; 16384];
            while let Ok(n) = b2.read(&mut buf) {
                if n == 0 || a2.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            let _ = a2.shutdown(Shutdown::Both);
        });
        let mut buf = [0u8; 16384];
        while let Ok(n) = a.read(&mut buf) {
            if n == 0 {
                break;
            }
            let mut chunk = buf[..n].to_vec();
            if let Some(i) = chunk.windows(from.len()).position(|w| w == from) {
                chunk[i..i + into.len()].copy_from_slice(into);
            }
            if b.write_all(&chunk).is_err() {
                break;
            }
        }
        let _ = b.shutdown(Shutdown::Both);
        let _ = back.join();
    });
    addr
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

/// Accepts two connections from the initiator side and opens two to the responder; forwards
/// each initiator's bytes to its own responder connection but each responder's answer to the
/// other initiator (two sessions spliced).
fn splicing_relay(to: String) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    thread::spawn(move || {
        let mut a: Vec<TcpStream> = Vec::new();
        for _ in 0..2 {
            let Ok((c, _)) = l.accept() else { return };
            c.set_read_timeout(Some(WAIT)).unwrap();
            a.push(c);
        }
        let b: Vec<TcpStream> = (0..2)
            .map(|_| {
                let c = TcpStream::connect(&to).unwrap();
                c.set_read_timeout(Some(WAIT)).unwrap();
                c
            })
            .collect();
        let pipe = |mut from: TcpStream, mut into: TcpStream| {
            thread::spawn(move || {
                let mut buf = [0u8; 16384];
                while let Ok(n) = from.read(&mut buf) {
                    if n == 0 || into.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                let _ = into.shutdown(Shutdown::Both);
            })
        };
        let h = [
            pipe(a[0].try_clone().unwrap(), b[0].try_clone().unwrap()),
            pipe(a[1].try_clone().unwrap(), b[1].try_clone().unwrap()),
            pipe(b[0].try_clone().unwrap(), a[1].try_clone().unwrap()),
            pipe(b[1].try_clone().unwrap(), a[0].try_clone().unwrap()),
        ];
        for t in h {
            let _ = t.join();
        }
    });
    addr
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
