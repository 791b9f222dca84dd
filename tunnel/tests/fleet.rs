//! A fleet: two `milagro-tunnel server` processes sharing a real `redis-server` (started on a
//! free loopback port, stopped after). Failures spread over both replicas lock the identity at
//! the limit; a one-pass hello accepted by A is refused by B; a ticket resumes on another
//! replica once (keys shared through Redis) and its replay is refused on both; a restarted
//! replica resumes an earlier ticket (keys from `ticket_key_file`); Redis stopped → logins refused, one log line, `/healthz` 503; Redis back → logins
//! work again without a restart; `revoke` refuses the next login and resumption on both
//! replicas and `unlock` lets the identity in again.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use common::*;
use test_support::{wait_until, RedisServer};

/// A ticket key file shared by the replicas (current key only).
const TICKET_KEYS: &str =
    "0a0b0c0d 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n";

/// An M-Pin server replica on `state`; generous rate limit (all clients are 127.0.0.1).
fn replica(
    dir: &TempDir,
    tag: &str,
    secret: &Path,
    echo: &str,
    state: &str,
    extra: &[&str],
) -> Tunnel {
    let mut flags = vec![
        "--require-permits",
        "--rate-limit",
        "10000",
        "--state",
        state,
    ];
    flags.extend_from_slice(extra);
    tunnel(
        dir,
        tag,
        "server",
        echo,
        ("--server-secret", secret),
        &flags,
    )
}

/// An M-Pin client tunnel to `connect`; `resume` keeps session tickets.
fn client(
    dir: &TempDir,
    tag: &str,
    cred: &Path,
    pin: &str,
    connect: &str,
    flags: &[&str],
) -> Tunnel {
    let pin_file = dir.private(&format!("{tag}.pin"), pin);
    let mut all = vec!["--pin-file", s(&pin_file), "--handshake-timeout", "30"];
    all.extend_from_slice(flags);
    tunnel(dir, tag, "client", connect, ("--credential", cred), &all)
}

/// True when `msg` comes back through the tunnel at `addr`.
fn login(addr: &str, msg: &[u8]) -> bool {
    let Ok(mut s) = TcpStream::connect(addr) else {
        return false;
    };
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.set_write_timeout(Some(WAIT)).unwrap();
    if s.write_all(msg).is_err() {
        return false;
    }
    let _ = s.shutdown(Shutdown::Write);
    let mut back = Vec::new();
    s.read_to_end(&mut back).is_ok() && back == msg
}

/// A TCP proxy forwarding to one of several targets (switchable), recording for each
/// connection what the client sent before the server's first byte (a one-pass hello, a
/// ClientHello offering a ticket).
struct Proxy {
    addr: String,
    targets: Arc<Mutex<Vec<String>>>,
    current: Arc<AtomicUsize>,
    records: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Proxy {
    fn start(targets: &[&str]) -> Self {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let list: Vec<String> = targets.iter().map(|t| t.to_string()).collect();
        let targets = Arc::new(Mutex::new(list));
        let current = Arc::new(AtomicUsize::new(0));
        let records = Arc::new(Mutex::new(Vec::new()));
        let (t, c, r) = (targets.clone(), current.clone(), records.clone());
        thread::spawn(move || {
            for conn in l.incoming().take(64) {
                let Ok(down) = conn else { return };
                let target = t.lock().unwrap()[c.load(Ordering::SeqCst)].clone();
                let Ok(up) = TcpStream::connect(&target) else {
                    continue;
                };
                let slot = {
                    let mut r = r.lock().unwrap();
                    r.push(Vec::new());
                    r.len() - 1
                };
                pump(down, up, r.clone(), slot);
            }
        });
        Self {
            addr,
            targets,
            current,
            records,
        }
    }

    fn switch(&self, to: usize) {
        self.current.store(to, Ordering::SeqCst);
    }

    fn set_target(&self, i: usize, addr: &str) {
        self.targets.lock().unwrap()[i] = addr.to_string();
    }

    fn record(&self, i: usize) -> Vec<u8> {
        self.records.lock().unwrap()[i].clone()
    }
}

fn pump(down: TcpStream, up: TcpStream, records: Arc<Mutex<Vec<Vec<u8>>>>, slot: usize) {
    let replied = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (mut d1, mut u1) = (down.try_clone().unwrap(), up.try_clone().unwrap());
    let (mut d2, mut u2) = (down, up);
    for s in [&d1, &u1] {
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    }
    let r = replied.clone();
    thread::spawn(move || {
        let mut buf = [0u8; 16384];
        while let Ok(n) = d1.read(&mut buf) {
            if n == 0 {
                break;
            }
            if !r.load(Ordering::SeqCst) {
                records.lock().unwrap()[slot].extend_from_slice(&buf[..n]);
            }
            if u1.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = u1.shutdown(Shutdown::Write);
    });
    thread::spawn(move || {
        let mut buf = [0u8; 16384];
        while let Ok(n) = u2.read(&mut buf) {
            if n == 0 {
                break;
            }
            replied.store(true, Ordering::SeqCst);
            if d2.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = d2.shutdown(Shutdown::Write);
    });
}

/// Sends `bytes` raw to `addr` and returns what comes back within 5 s (until close).
fn replay(addr: &str, bytes: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(bytes).unwrap();
    let mut back = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 {
            break;
        }
        back.extend_from_slice(&buf[..n]);
    }
    back
}

/// Redis, the D-TAs' files, an echo service and two replicas A and B sharing the Redis.
struct Fleet {
    dir: TempDir,
    world: FileWorld,
    echo: Echo,
    redis: RedisServer,
    secret: std::path::PathBuf,
    keys: std::path::PathBuf,
}

impl Fleet {
    fn new(tag: &str) -> Self {
        let dir = TempDir::new(tag);
        let world = FileWorld::new();
        let secret = world.server_secret(&dir);
        let keys = dir.private("ticket.keys", TICKET_KEYS);
        Self {
            world,
            echo: Echo::start(),
            redis: RedisServer::start(),
            secret,
            keys,
            dir,
        }
    }

    /// A replica sealing tickets under the fleet's keys in Redis.
    fn replica(&self, tag: &str, extra: &[&str]) -> Tunnel {
        let mut flags = vec!["--status", "127.0.0.1:0"];
        flags.extend_from_slice(extra);
        replica(
            &self.dir,
            tag,
            &self.secret,
            &self.echo.addr,
            &self.redis.url(),
            &flags,
        )
    }

    /// A replica sealing tickets under the keys of `ticket_key_file`.
    fn replica_with_key_file(&self, tag: &str, extra: &[&str]) -> Tunnel {
        let mut flags = vec![
            "--ticket-key-file",
            s(&self.keys),
            "--status",
            "127.0.0.1:0",
        ];
        flags.extend_from_slice(extra);
        replica(
            &self.dir,
            tag,
            &self.secret,
            &self.echo.addr,
            &self.redis.url(),
            &flags,
        )
    }

    fn credential(&self, tag: &str) -> std::path::PathBuf {
        self.world.credential_as(&self.dir, tag, "alice", 1234)
    }
}

/// A replica started by [`Fleet::replica`]: its service and status addresses.
fn addrs(t: &mut Tunnel) -> (String, String) {
    let status = t.status_addr();
    (t.addr("server"), status)
}

#[test]
fn wrong_pins_spread_over_two_replicas_lock_the_identity_at_the_limit() {
    let f = Fleet::new("fleet-lock");
    let mut a = f.replica("a", &["--lockout-after", "3"]);
    let mut b = f.replica("b", &["--lockout-after", "3"]);
    let ((a_addr, _), (b_addr, _)) = (addrs(&mut a), addrs(&mut b));
    let cred = f.credential("alice");
    let mut wa_tunnel = client(&f.dir, "wrong-a", &cred, "4321", &a_addr, &["--no-resume"]);
    let mut wb_tunnel = client(&f.dir, "wrong-b", &cred, "4321", &b_addr, &["--no-resume"]);
    let (wa, wb) = (wa_tunnel.addr("client"), wb_tunnel.addr("client"));
    // two wrong PINs on A, one on B: neither replica alone reached 3
    assert!(!login(&wa, b"x"));
    assert!(!login(&wa, b"x"));
    assert!(!login(&wb, b"x"));
    a.wait_log_count("wrong PIN with the identity's token", 2);
    b.wait_log_count("wrong PIN with the identity's token", 1);
    let mut right_tunnel = client(&f.dir, "right", &cred, "1234", &a_addr, &["--no-resume"]);
    let right = right_tunnel.addr("client");
    assert!(
        !login(&right, b"x"),
        "the right PIN got in on A after 3 wrong PINs over both replicas:\n{}",
        a.log_text()
    );
    a.wait_log("identity locked out after 3 wrong-PIN attempts");
    assert_eq!(f.echo.accepted(), 0);
}

#[test]
fn a_one_pass_hello_accepted_by_replica_a_is_refused_by_replica_b() {
    let f = Fleet::new("fleet-replay");
    let mut a = f.replica("a", &[]);
    let mut b = f.replica("b", &[]);
    let ((a_addr, _), (b_addr, _)) = (addrs(&mut a), addrs(&mut b));
    let proxy = Proxy::start(&[&a_addr]);
    let cred = f.credential("alice");
    let mut c_tunnel = client(
        &f.dir,
        "c",
        &cred,
        "1234",
        &proxy.addr,
        &["--one-pass", "--no-resume"],
    );
    let c = c_tunnel.addr("client");
    assert!(
        login(&c, b"hello"),
        "one-pass login on A:\n{}",
        a.log_text()
    );
    a.wait_log("identity=alice method=mpin");
    let hello = proxy.record(0);
    assert!(hello.len() > 100, "recorded {} bytes", hello.len());
    // the eavesdropper replays the hello to the other replica within its window
    let back = replay(&b_addr, &hello);
    b.wait_log("replayed one-pass hello");
    assert!(!b.log_text().contains("identity=alice method=mpin"));
    assert_eq!(
        f.echo.accepted(),
        1,
        "the replay reached the service ({} bytes back)",
        back.len()
    );
}

#[test]
fn a_ticket_from_replica_a_resumes_on_b_once_and_its_replay_is_refused_on_both() {
    let f = Fleet::new("fleet-ticket");
    let mut a = f.replica("a", &[]);
    let mut b = f.replica("b", &[]);
    let ((a_addr, _), (b_addr, _)) = (addrs(&mut a), addrs(&mut b));
    let proxy = Proxy::start(&[&a_addr, &b_addr]);
    let cred = f.credential("alice");
    let mut c = client(&f.dir, "c", &cred, "1234", &proxy.addr, &[]);
    let c_addr = c.addr("client");
    assert!(login(&c_addr, b"full"), "full login:\n{}", a.log_text());
    a.wait_log("identity=alice method=mpin ");
    proxy.switch(1);
    assert!(
        login(&c_addr, b"resumed"),
        "resumption on B:\n{}",
        b.log_text()
    );
    b.wait_log("identity=alice method=mpin-resumed");
    let hello = proxy.record(1);
    assert_eq!(
        hello.first(),
        Some(&0x16),
        "a TLS ClientHello offering the ticket"
    );
    // the same ClientHello (same ticket, valid binder) again, on B and on A: spent
    for (name, addr, t) in [("B", &b_addr, &b), ("A", &a_addr, &a)] {
        let back = replay(addr, &hello);
        assert_ne!(
            back.first(),
            Some(&0x16),
            "{name} answered the replayed ticket with a ServerHello"
        );
        t.wait_log("handshake failed");
    }
    assert_eq!(b.log_text().matches("method=mpin-resumed").count(), 1);
    assert!(!a.log_text().contains("method=mpin-resumed"));
    assert_eq!(f.echo.accepted(), 2);
}

#[test]
fn a_restarted_replica_resumes_a_ticket_it_issued_before() {
    let f = Fleet::new("fleet-restart");
    let mut a = f.replica_with_key_file("a", &[]);
    let (a_addr, _) = addrs(&mut a);
    let proxy = Proxy::start(&[&a_addr, &a_addr]);
    let cred = f.credential("alice");
    let mut c = client(&f.dir, "c", &cred, "1234", &proxy.addr, &[]);
    let c_addr = c.addr("client");
    assert!(login(&c_addr, b"full"), "full login:\n{}", a.log_text());
    a.wait_log("identity=alice method=mpin ");
    a.kill();
    let mut a2 = f.replica_with_key_file("a2", &[]);
    let (a2_addr, _) = addrs(&mut a2);
    proxy.set_target(1, &a2_addr);
    proxy.switch(1);
    assert!(
        login(&c_addr, b"after restart"),
        "after the restart:\n{}",
        a2.log_text()
    );
    a2.wait_log("identity=alice method=mpin-resumed");
    assert!(
        !a2.log_text().contains("method=mpin "),
        "ran M-Pin instead of resuming"
    );
}

#[test]
fn redis_stopped_refuses_logins_and_degrades_healthz_then_recovers_without_a_restart() {
    let mut f = Fleet::new("fleet-outage");
    let mut a = f.replica("a", &[]);
    let (a_addr, status) = addrs(&mut a);
    let cred = f.credential("alice");
    let mut c_tunnel = client(&f.dir, "c", &cred, "1234", &a_addr, &["--no-resume"]);
    let c = c_tunnel.addr("client");
    assert!(login(&c, b"before"));
    assert!(http_get(&status, "/healthz").0.contains("200"));
    let port = f.redis.port();
    f.redis.stop();
    for _ in 0..3 {
        assert!(!login(&c, b"during"), "a login was let in without Redis");
    }
    a.wait_log("shared state store unavailable");
    let (code, body) = http_get(&status, "/healthz");
    assert!(
        code.contains("503") && body.contains("degraded"),
        "{code} {body}"
    );
    wait_metrics(&status, |m| m.contains("milagro_tunnel_state_up 0"));
    wait_metrics(&status, |m| {
        !m.contains("milagro_tunnel_state_errors_total 0")
    });
    assert_eq!(
        a.log_text()
            .matches("shared state store unavailable")
            .count(),
        1,
        "one log line per outage"
    );
    // Redis back on the same port: the tunnel notices by itself
    let _redis2 = RedisServer::start_on(port);
    wait_until(WAIT, "healthz ok again", || {
        http_get(&status, "/healthz").0.contains("200")
    });
    a.wait_log("shared state store answers again");
    assert!(
        login(&c, b"after"),
        "no login after Redis returned:\n{}",
        a.log_text()
    );
    assert_eq!(f.echo.accepted(), 2);
}

fn admin(action: &str, url: &str) -> (bool, String) {
    let out = Command::new(BIN)
        .args([action, "--state", url, "--identity", "alice"])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn revoke_refuses_the_next_login_and_resumption_on_both_replicas_and_unlock_lets_in() {
    let f = Fleet::new("fleet-revoke");
    let mut a = f.replica("a", &[]);
    let mut b = f.replica("b", &[]);
    let ((a_addr, _), (b_addr, _)) = (addrs(&mut a), addrs(&mut b));
    let proxy = Proxy::start(&[&a_addr, &b_addr]);
    let cred = f.credential("alice");
    let mut r_tunnel = client(&f.dir, "resumer", &cred, "1234", &proxy.addr, &[]);
    let r = r_tunnel.addr("client");
    let mut full_tunnel = client(&f.dir, "full", &cred, "1234", &b_addr, &["--no-resume"]);
    let full = full_tunnel.addr("client");
    assert!(login(&r, b"full on A"));
    a.wait_log("identity=alice method=mpin ");
    assert!(login(&full, b"full on B"));
    let (ok, out) = admin("revoke", &f.redis.url());
    assert!(ok && out.contains("alice: revoked"), "{out}");
    // the resumer holds tickets from A: resuming on B is refused, and so is M-Pin on B
    proxy.switch(1);
    assert!(
        !login(&r, b"resume on B"),
        "a revoked identity resumed on B"
    );
    b.wait_log("resumption refused");
    assert!(
        !login(&full, b"full on B"),
        "a revoked identity logged in on B"
    );
    proxy.switch(0);
    assert!(!login(&r, b"again on A"), "a revoked identity got in on A");
    assert_eq!(f.echo.accepted(), 2);
    let (ok, out) = admin("unlock", &f.redis.url());
    assert!(ok && out.contains("alice: unlocked"), "{out}");
    assert!(
        login(&full, b"back"),
        "not let in after unlock:\n{}",
        b.log_text()
    );
    assert_eq!(f.echo.accepted(), 3);
}

#[test]
fn revoke_needs_a_shared_state_and_a_reachable_redis() {
    let (ok, out) = admin("revoke", "memory");
    assert!(!ok && out.contains("give --state redis://"), "{out}");
    let (ok, out) = admin("revoke", "redis://:hunter2@127.0.0.1:1/0");
    assert!(
        !ok && out.contains("holds a password") && !out.contains("hunter2"),
        "{out}"
    );
    let port = test_support::free_port();
    let (ok, out) = admin("revoke", &format!("redis://127.0.0.1:{port}/0"));
    assert!(
        !ok && out.contains("did not answer: nothing was changed"),
        "{out}"
    );
}

#[test]
fn a_refused_ticket_falls_back_to_m_pin_and_the_user_sees_no_failure() {
    // a replica restarted without a shared ticket key: the client's tickets no longer open
    let dir = TempDir::new("fleet-fallback");
    let world = FileWorld::new();
    let secret = world.server_secret(&dir);
    let echo = Echo::start();
    let mut a = replica(&dir, "a", &secret, &echo.addr, "memory", &[]);
    let a_addr = a.addr("server");
    let proxy = Proxy::start(&[&a_addr, &a_addr]);
    let cred = world.credential_as(&dir, "alice", "alice", 1234);
    let mut c_tunnel = client(&dir, "c", &cred, "1234", &proxy.addr, &[]);
    let c = c_tunnel.addr("client");
    assert!(login(&c, b"full"));
    a.wait_log("identity=alice method=mpin ");
    a.kill();
    let mut a2 = replica(&dir, "a2", &secret, &echo.addr, "memory", &[]);
    let a2_addr = a2.addr("server");
    proxy.set_target(1, &a2_addr);
    proxy.switch(1);
    assert!(
        login(&c, b"after restart"),
        "the refused ticket reached the user:\n{}",
        c_tunnel.log_text()
    );
    // the ticket was offered and refused, then M-Pin ran on a new connection
    a2.wait_log("handshake failed");
    a2.wait_log("identity=alice method=mpin ");
    assert_eq!(
        proxy.record(1).first(),
        Some(&0x16),
        "the client offered its ticket first"
    );
    assert_eq!(proxy.record(2).first(), Some(&b'M'), "then ran M-Pin");
    assert!(login(&c, b"resumes again"));
    a2.wait_log("identity=alice method=mpin-resumed");
}

/// `n` logins through `addr` at once; how many succeeded.
fn burst(addr: &str, n: usize) -> usize {
    let threads: Vec<_> = (0..n)
        .map(|i| {
            let addr = addr.to_string();
            thread::spawn(move || login(&addr, format!("burst {i}").as_bytes()))
        })
        .collect();
    threads
        .into_iter()
        .map(|t| t.join().unwrap())
        .filter(|ok| *ok)
        .count()
}

#[test]
fn a_client_tunnel_keeps_tickets_for_as_many_connections_as_it_opens_at_once() {
    // more than the library's default pool of 16: a second burst of 30 all resume
    const N: usize = 30;
    let dir = TempDir::new("fleet-pool");
    let world = FileWorld::new();
    let secret = world.server_secret(&dir);
    let echo = Echo::start();
    let mut a = replica(&dir, "a", &secret, &echo.addr, "memory", &[]);
    let a_addr = a.addr("server");
    let cred = world.credential_as(&dir, "alice", "alice", 1234);
    let mut c_tunnel = client(
        &dir,
        "c",
        &cred,
        "1234",
        &a_addr,
        &["--max-connections", "64"],
    );
    let c = c_tunnel.addr("client");
    // the first burst finds no ticket: M-Pin runs, each one bringing several tickets
    assert_eq!(burst(&c, N), N);
    let full = a.log_text().matches("method=mpin ").count();
    assert!(
        full * milagro_tls::DEFAULT_TICKET_POOL >= N,
        "only {full} of the first burst ran M-Pin: not enough tickets issued to test the pool"
    );
    let resumed_before = a.log_text().matches("method=mpin-resumed").count();
    assert_eq!(burst(&c, N), N);
    a.wait_log_count("method=mpin-resumed", resumed_before + N);
    assert_eq!(
        a.log_text().matches("method=mpin ").count(),
        full,
        "the second burst ran M-Pin instead of resuming"
    );
}

#[test]
fn a_reload_keeps_the_running_state_store_and_rotates_the_ticket_key_file() {
    let f = Fleet::new("fleet-reload");
    let config = |state: &str| {
        format!(
            "state = \"{state}\"\nticket_key_file = \"{}\"\n[[service]]\nname = \"s\"\nmode = \"server\"\naccept = \"127.0.0.1:0\"\nconnect = \"{}\"\nserver_secret = \"{}\"\nrate_limit = 0\n",
            s(&f.keys),
            f.echo.addr,
            s(&f.secret)
        )
    };
    let path = f.dir.private("t.toml", &config("memory"));
    let mut t = Tunnel::spawn(&f.dir, "t", &["run", "--config", s(&path)]);
    let addr = t.addr("s");
    let cred = f.credential("alice");
    let mut c_tunnel = client(&f.dir, "c", &cred, "1234", &addr, &[]);
    let c = c_tunnel.addr("client");
    assert!(login(&c, b"full"));
    // another store on SIGHUP: refused, the running one kept
    std::fs::write(&path, config(&f.redis.url())).unwrap();
    t.signal("HUP");
    t.wait_log("takes a restart");
    // a rotated key file (a new current key): earlier tickets no longer open, the client
    // falls back to M-Pin without a failure and resumes under the new key afterwards
    std::fs::write(&path, config("memory")).unwrap();
    std::fs::write(
        &f.keys,
        "0e0e0e0e 1111111111111111111111111111111111111111111111111111111111111111\n",
    )
    .unwrap();
    t.signal("HUP");
    t.wait_log("configuration reloaded");
    assert!(login(&c, b"after rotation"), "{}", t.log_text());
    t.wait_log_count("identity=alice method=mpin ", 2);
    assert!(login(&c, b"resumed"));
    t.wait_log("identity=alice method=mpin-resumed");
}
