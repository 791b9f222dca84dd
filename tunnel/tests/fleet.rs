//! A fleet: two `milagro-tunnel server` processes sharing a real `redis-server` (started on a
//! free loopback port, stopped after). Failures spread over both replicas lock the identity at
//! the limit; a one-pass hello accepted by A is refused by B; a ticket resumes on another
//! replica once (keys shared through Redis) and its replay is refused on both; a restarted
//! replica resumes an earlier ticket (keys from `ticket_key_file`); Redis stopped → logins
//! refused, one log line, `/healthz` 503; Redis back → logins work again without a restart;
//! `revoke` refuses the next login and resumption on both replicas and `unlock` lets the
//! identity in again; a reload keeps the running store and rotates `ticket_key_file`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;

use common::*;
use test_support::{wait_until, RedisServer};

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
    let mut wa_tunnel = mpin_client_on(&f.dir, "wrong-a", &cred, "4321", &a_addr, &["--no-resume"]);
    let mut wb_tunnel = mpin_client_on(&f.dir, "wrong-b", &cred, "4321", &b_addr, &["--no-resume"]);
    let (wa, wb) = (wa_tunnel.addr("client"), wb_tunnel.addr("client"));
    // two wrong PINs on A, one on B: neither replica alone reached 3
    assert!(!login(&wa, b"x"));
    assert!(!login(&wa, b"x"));
    assert!(!login(&wb, b"x"));
    a.wait_log_count("wrong PIN with the identity's token", 2);
    b.wait_log_count("wrong PIN with the identity's token", 1);
    let mut right_tunnel =
        mpin_client_on(&f.dir, "right", &cred, "1234", &a_addr, &["--no-resume"]);
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
    let mut c_tunnel = mpin_client_on(
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
    let mut c = mpin_client_on(&f.dir, "c", &cred, "1234", &proxy.addr, &[]);
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
    let mut c = mpin_client_on(&f.dir, "c", &cred, "1234", &proxy.addr, &[]);
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
    let mut c_tunnel = mpin_client_on(&f.dir, "c", &cred, "1234", &a_addr, &["--no-resume"]);
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
    let mut r_tunnel = mpin_client_on(&f.dir, "resumer", &cred, "1234", &proxy.addr, &[]);
    let r = r_tunnel.addr("client");
    let mut full_tunnel = mpin_client_on(&f.dir, "full", &cred, "1234", &b_addr, &["--no-resume"]);
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
    let mut c_tunnel = mpin_client_on(&f.dir, "c", &cred, "1234", &addr, &[]);
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
