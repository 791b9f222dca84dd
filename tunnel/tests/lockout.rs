//! Lockout through real tunnel processes: failures made without the identity's token never
//! lock it (only the pair of identity and the attacker's own source address), wrong PINs
//! with the token lock it for `--lockout-for` (then it logs in again), a user's own
//! concurrent logins are never refused, and a thief holding the token and a permit who
//! sends a random `U` is locked for its source address only, and, spreading its guesses over
//! many addresses, stopped by the identity's distributed budget, which does not lock the
//! genuine user out of an address it logged in from before.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use dta_client::files::CredentialFile;
use milagro_tls::mpin::frame::{self, FrameType};
use milagro_tls::mpin::{MpinClientConfig, MpinConnector};
use mpin_kex::*;
use rand_core::{OsRng, RngCore};

/// An M-Pin server tunnel; a generous per-source rate limit so that only the lockout is
/// under test (every client here comes from 127.0.0.1).
fn mpin_server(dir: &TempDir, secret: &Path, connect: &str, extra: &[&str]) -> Tunnel {
    let mut flags = vec!["--require-permits", "--rate-limit", "10000"];
    flags.extend_from_slice(extra);
    let auth = ("--server-secret", secret);
    tunnel(dir, "mpin-server", "server", connect, auth, &flags)
}

/// An M-Pin client tunnel that runs the full M-Pin exchange on every connection.
fn mpin_client(dir: &TempDir, tag: &str, cred: &Path, pin: &str, connect: &str) -> Tunnel {
    let pin_file = dir.private(&format!("{tag}.pin"), pin);
    let flags = [
        "--pin-file",
        s(&pin_file),
        "--no-resume",
        "--handshake-timeout",
        "60",
    ];
    tunnel(dir, tag, "client", connect, ("--credential", cred), &flags)
}

/// An echo service, an M-Pin server tunnel to it with `extra` flags and its address, and
/// alice's credential file (PIN 1234, today's permit), from one `FileWorld`.
fn alice_server(dir: &TempDir, extra: &[&str]) -> (Echo, Tunnel, String, PathBuf) {
    let w = FileWorld::new();
    let echo = Echo::start();
    let mut srv = mpin_server(dir, &w.server_secret(dir), &echo.addr, extra);
    let srv_addr = srv.addr("server");
    let path = w.credential_as(dir, "alice", "alice", 1234);
    (echo, srv, srv_addr, path)
}

#[test]
fn a_foreign_credential_failing_10_times_does_not_lock_out_the_real_user() {
    let dir = TempDir::new("lock-foreign");
    let (real, other) = (FileWorld::new(), FileWorld::new());
    let echo = Echo::start();
    let mut srv = mpin_server(&dir, &real.server_secret(&dir), &echo.addr, &[]);
    let srv_addr = srv.addr("server");
    // Same identity, same PIN, but a token and permit from a different set of D-TAs.
    let forged = other.credential_as(&dir, "forged", "alice", 1234);
    let mut attacker = mpin_client(&dir, "attacker", &forged, "1234", &srv_addr);
    let attacker_addr = attacker.addr("client");
    for i in 0..10 {
        assert!(
            !login(&attacker_addr, b"x"),
            "forged attempt {i} got through"
        );
    }
    // With a permit, such failures count against (alice, 127.0.0.1): three, then that
    // source alone is locked.
    srv.wait_log_count("not made with this identity's token", 3);
    srv.wait_log_count("identity locked out for this source", 7);
    let genuine = real.credential_as(&dir, "alice", "alice", 1234);
    let cred = load_credential(&genuine);
    assert!(
        login_from([127, 0, 0, 2], &srv_addr, Arc::new(cred), b"hello"),
        "alice was locked out by someone else's failures:\n{}",
        srv.log_text()
    );
    srv.wait_log("identity=alice method=mpin");
    assert!(
        !srv.log_text().contains("identity locked out after"),
        "the identity itself was locked"
    );
    assert_eq!(echo.accepted(), 1, "only alice reached the service");
}

#[test]
fn three_wrong_pins_lock_the_user_until_lockout_for_has_passed() {
    let dir = TempDir::new("lock-pin");
    let (echo, srv, srv_addr, cred) =
        alice_server(&dir, &["--lockout-after", "3", "--lockout-for", "2s"]);
    let mut wrong = mpin_client(&dir, "wrong", &cred, "4321", &srv_addr);
    let wrong_addr = wrong.addr("client");
    for _ in 0..3 {
        assert!(!login(&wrong_addr, b"x"));
    }
    srv.wait_log_count("wrong PIN with the identity's token", 3);
    let mut right = mpin_client(&dir, "right", &cred, "1234", &srv_addr);
    let right_addr = right.addr("client");
    assert!(
        !login(&right_addr, b"x"),
        "a locked identity got in with the right PIN"
    );
    srv.wait_log("identity locked out after 3 wrong-PIN attempts");
    assert_eq!(echo.accepted(), 0);
    thread::sleep(Duration::from_millis(2200));
    assert!(
        login(&right_addr, b"back"),
        "not accepted after the lockout expired:\n{}",
        srv.log_text()
    );
    srv.wait_log("identity=alice method=mpin");
    assert_eq!(echo.accepted(), 1);
}

#[test]
fn fifty_concurrent_genuine_logins_of_one_identity_all_succeed() {
    let dir = TempDir::new("lock-par");
    let (_echo, srv, srv_addr, cred) = alice_server(&dir, &["--handshake-timeout", "60"]);
    let mut cli = mpin_client(&dir, "alice", &cred, "1234", &srv_addr);
    let addr = cli.addr("client");
    let started = Instant::now();
    let limit = Duration::from_secs(90);
    let threads: Vec<_> = (0..50u8)
        .map(|i| {
            let addr = addr.clone();
            thread::spawn(move || login_within(&addr, &[i; 32], limit))
        })
        .collect();
    let ok = threads
        .into_iter()
        .map(|t| t.join().unwrap())
        .filter(|&ok| ok)
        .count();
    assert_eq!(
        ok,
        50,
        "some of alice's own logins were refused ({:?}):\n{}",
        started.elapsed(),
        srv.log_text()
            .lines()
            .filter(|l| l.contains("WARN"))
            .take(5)
            .collect::<Vec<_>>()
            .join("\n")
    );
    srv.wait_log_count("identity=alice method=mpin ", 50);
    assert!(!srv.log_text().contains("locked out"));
}

/// Reads one M-Pin frame (type, body); `None` on timeout or close.
fn read_frame(s: &mut TcpStream) -> Option<(u8, Vec<u8>)> {
    let mut head = [0u8; 4];
    s.read_exact(&mut head).ok()?;
    let len = u32::from_be_bytes([0, head[1], head[2], head[3]]) as usize;
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).ok()?;
    Some((head[0], body))
}

/// A multi-pass M-Pin exchange by hand from 127.0.0.1 with the genuine token and permit,
/// `pin`, and a random `U` (a valid point unrelated to the client's `x`). Returns the type of
/// the frame answering the response; `None` when none came within 5 s (as when the proof
/// verified and the server waits for the TLS handshake).
fn thief(addr: &str, cred: &Credential, pin: u32) -> Option<u8> {
    thief_from([127, 0, 0, 1], addr, cred, pin)
}

/// A TCP connection to `addr` from the loopback address `source` (bound before connect).
fn connect_from(source: [u8; 4], addr: &str) -> TcpStream {
    let addr: std::net::SocketAddr = addr.parse().unwrap();
    let rt = runtime();
    let tcp = rt.block_on(async {
        let sock = tokio::net::TcpSocket::new_v4()?;
        sock.bind((source, 0).into())?;
        tokio::time::timeout(WAIT, sock.connect(addr)).await?
    });
    let tcp = tcp.unwrap().into_std().unwrap();
    tcp.set_nonblocking(false).unwrap();
    tcp
}

/// As [`thief`], from the loopback address `source`.
fn thief_from(source: [u8; 4], addr: &str, cred: &Credential, pin: u32) -> Option<u8> {
    let mut s = connect_from(source, addr);
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut client = Client::new(cred, Pin::new(pin).unwrap());
    let mut hello = client.hello(&mut OsRng).unwrap();
    assert!(hello.ut.is_some(), "the thief holds a permit");
    let mut k = [0u8; 48];
    OsRng.fill_bytes(&mut k[16..]);
    hello.u = raw::g1_multiple(&k, &hello.u).unwrap();
    let mut out = frame::PREFACE.to_vec();
    out.extend_from_slice(&frame::encode(FrameType::Hello, &hello.encode()));
    s.write_all(&out).unwrap();
    let (kind, body) = read_frame(&mut s).expect("a challenge");
    assert_eq!(kind, FrameType::Challenge as u8);
    let ch = Challenge::decode(&body[milagro_tls::mpin::importer::SESSION_ID_LEN..]).unwrap();
    let (resp, _) = client.challenge(&ch).unwrap();
    s.write_all(&frame::encode(FrameType::Response, &resp.encode()))
        .unwrap();
    read_frame(&mut s).map(|(kind, _)| kind)
}

/// A credential file as today's credential.
fn load_credential(path: &std::path::Path) -> Credential {
    CredentialFile::load(path)
        .unwrap()
        .to_credential(today())
        .unwrap()
}

/// 127.0.0.2..4: one address each for three guesses, none reaching its pair lockout.
const THREE_ADDRESSES: [[u8; 4]; 3] = [[127, 0, 0, 2], [127, 0, 0, 3], [127, 0, 0, 4]];

/// Wrong PINs 1111, 2222, 3333 with the genuine token and a random `U`, one from each of
/// `sources`, each refused; then waits until the server `srv` (at `addr`) logged all three.
fn wrong_guesses_then_wait(srv: &Tunnel, addr: &str, sources: [[u8; 4]; 3], cred: &Credential) {
    for (source, pin) in sources.into_iter().zip([1111, 2222, 3333]) {
        assert_eq!(
            thief_from(source, addr, cred, pin),
            Some(FrameType::Failure as u8)
        );
    }
    srv.wait_log_count("not made with this identity's token", 3);
}

/// The genuine user logging in with `cred` from `source` (a loopback address: Linux routes
/// all of 127/8 to lo) through the server tunnel at `addr`; true when `msg` echoes back.
fn login_from(source: [u8; 4], addr: &str, cred: Arc<Credential>, msg: &[u8]) -> bool {
    let rt = runtime();
    let addr: std::net::SocketAddr = addr.parse().unwrap();
    rt.block_on(async {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let run = async {
            let sock = tokio::net::TcpSocket::new_v4()?;
            sock.bind((source, 0).into())?;
            let tcp = sock.connect(addr).await?;
            let mut cfg = MpinClientConfig::new(cred, Pin::new(1234).unwrap());
            cfg.options.resume = false;
            let mut tls = MpinConnector::new(Arc::new(cfg)).connect(tcp).await?;
            tls.write_all(msg).await?;
            let mut back = vec![0u8; msg.len()];
            tls.read_exact(&mut back).await?;
            Ok::<_, std::io::Error>(back == msg)
        };
        matches!(tokio::time::timeout(WAIT, run).await, Ok(Ok(true)))
    })
}

/// Alice's credential from `path`, after she logged in from her usual address 127.0.0.6
/// through the server tunnel at `addr`.
fn usual_login(addr: &str, path: &Path) -> Arc<Credential> {
    let cred = Arc::new(load_credential(path));
    assert!(login_from([127, 0, 0, 6], addr, cred.clone(), b"usual"));
    cred
}

#[test]
fn a_permit_thief_with_random_u_is_locked_only_for_its_source_address() {
    let dir = TempDir::new("lock-source");
    let (echo, srv, srv_addr, path) = alice_server(&dir, &["--lockout-after", "3"]);
    let cred = load_credential(&path);
    wrong_guesses_then_wait(&srv, &srv_addr, [[127, 0, 0, 1]; 3], &cred);
    assert_eq!(
        thief(&srv_addr, &cred, 1234),
        Some(FrameType::Failure as u8),
        "the thief got in with the right PIN from its locked address:\n{}",
        srv.log_text()
    );
    srv.wait_log("identity locked out for this source after 3 failed proofs");
    assert_eq!(echo.accepted(), 0);
    assert!(
        login_from([127, 0, 0, 2], &srv_addr, Arc::new(cred), b"from .2"),
        "the genuine user from 127.0.0.2 was locked out:\n{}",
        srv.log_text()
    );
    srv.wait_log("identity=alice method=mpin");
    assert_eq!(
        echo.accepted(),
        1,
        "only the genuine user reached the service"
    );
}

#[test]
fn a_permit_thief_spreading_guesses_over_many_addresses_is_stopped_by_the_distributed_budget() {
    let dir = TempDir::new("lock-distributed");
    let (echo, srv, srv_addr, path) = alice_server(
        &dir,
        &[
            "--lockout-after",
            "3",
            "--lockout-for",
            "4s",
            "--distributed-lockout-after",
            "3",
        ],
    );
    // The genuine user's usual address: a verified login marks it known.
    let cred = usual_login(&srv_addr, &path);
    srv.wait_log("identity=alice method=mpin");
    assert_eq!(echo.accepted(), 1);
    // One wrong guess from each of 127.0.0.2..4: no address reaches its pair lockout (3).
    wrong_guesses_then_wait(&srv, &srv_addr, THREE_ADDRESSES, &cred);
    let locked_at = Instant::now();
    // The budget is spent: the right PIN from a fresh address is refused, unverified.
    assert_eq!(
        thief_from([127, 0, 0, 5], &srv_addr, &cred, 1234),
        Some(FrameType::Failure as u8),
        "the thief got in from a fresh address:\n{}",
        srv.log_text()
    );
    srv.wait_log("identity locked out for permit-mode logins after 3 failed proofs");
    assert_eq!(
        srv.log_text()
            .matches("not made with this identity's token")
            .count(),
        3,
        "verified guesses beyond the budget"
    );
    // The genuine user from its known address logs in at once, during the lockout.
    assert!(
        login_from([127, 0, 0, 6], &srv_addr, cred.clone(), b"known"),
        "the distributed lockout was aimed at the user's usual address:\n{}",
        srv.log_text()
    );
    assert_eq!(echo.accepted(), 2);
    // The documented price: from a new address it is refused (so the lock was still on
    // during the login above), for the lockout period only.
    assert!(!login_from([127, 0, 0, 7], &srv_addr, cred.clone(), b"x"));
    assert_eq!(echo.accepted(), 2);
    thread::sleep(Duration::from_millis(4200).saturating_sub(locked_at.elapsed()));
    assert!(
        login_from([127, 0, 0, 7], &srv_addr, cred, b"after"),
        "not accepted after the distributed lockout expired:\n{}",
        srv.log_text()
    );
    assert_eq!(echo.accepted(), 3);
}

#[test]
fn known_source_days_0_lets_the_distributed_lockout_refuse_the_users_usual_address() {
    let dir = TempDir::new("lock-known-off");
    let (echo, srv, srv_addr, path) = alice_server(
        &dir,
        &[
            "--lockout-for",
            "1h",
            "--distributed-lockout-after",
            "3",
            "--known-source-days",
            "0",
        ],
    );
    let cred = usual_login(&srv_addr, &path);
    wrong_guesses_then_wait(&srv, &srv_addr, THREE_ADDRESSES, &cred);
    // No source is known: the earlier login's address is refused like any other.
    assert!(!login_from([127, 0, 0, 6], &srv_addr, cred, b"x"));
    srv.wait_log("identity locked out for permit-mode logins after 3 failed proofs");
    assert_eq!(echo.accepted(), 1);
}
