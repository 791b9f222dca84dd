//! Operations features: status endpoints, limits, timeouts, rate limit,
//! SIGHUP reload, SIGTERM drain.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::*;

#[test]
fn healthz_and_metrics() {
    let dir = TempDir::new("metrics");
    let (_echo, psk, mut srv, srv_addr) = echo_server(&dir, &["--status", "127.0.0.1:0"]);
    let wrong = psk_file(&dir, "wrong.txt", "client1", KEY2);
    let status = srv.status_addr();
    let mut cli = client(&dir, "client", &psk, &srv_addr, &[]);
    let mut bad = client(&dir, "bad", &wrong, &srv_addr, &[]);

    let (line, body) = http_get(&status, "/healthz");
    assert!(line.contains("200"), "{line}");
    assert_eq!(body.trim(), "ok");

    assert_eq!(
        roundtrip(&cli.addr("client"), &[7u8; 1000]).unwrap(),
        vec![7u8; 1000]
    );
    let _ = roundtrip(&bad.addr("client"), b"nope");
    let m = wait_metrics(&status, |m| {
        m.contains("milagro_tunnel_handshakes_total{service=\"server\",result=\"failed\"} 1")
            && m.contains("milagro_tunnel_bytes_total{service=\"server\",direction=\"out\"} 1000")
            && m.contains("milagro_tunnel_connections_active{service=\"server\"} 0")
    });
    for want in [
        "milagro_tunnel_handshakes_total{service=\"server\",result=\"ok\"} 1",
        "milagro_tunnel_connections_total{service=\"server\"} 2",
        "milagro_tunnel_bytes_total{service=\"server\",direction=\"in\"} 1000",
        "milagro_tunnel_handshake_duration_seconds_count{service=\"server\"} 1",
        "# TYPE milagro_tunnel_handshake_duration_seconds histogram",
    ] {
        assert!(m.contains(want), "missing {want}:\n{m}");
    }
    let (line, _) = http_get(&status, "/nope");
    assert!(line.contains("404"), "{line}");
}

#[test]
fn connection_limit_closes_excess_connections() {
    let dir = TempDir::new("limit");
    let (_echo, psk, _srv, srv_addr) = echo_server(&dir, &[]);
    let mut cli = client(
        &dir,
        "client",
        &psk,
        &srv_addr,
        &["--max-connections", "1", "--status", "127.0.0.1:0"],
    );
    let status = cli.status_addr();
    let addr = cli.addr("client");
    let mut first = connect(&addr);
    assert_eq!(echo_once(&mut first, b"one"), b"one");
    let mut second = connect(&addr);
    assert!(
        closed_within(&mut second, Duration::from_secs(5)),
        "second connection not closed"
    );
    assert_eq!(echo_once(&mut first, b"still"), b"still");
    wait_metrics(&status, |m| {
        m.contains(
            "milagro_tunnel_connections_rejected_total{service=\"client\",reason=\"limit\"} 1",
        )
    });
    cli.wait_log("refused a connection (limit)");
    drop(first);
    // the slot frees up once the first connection is gone
    let deadline = Instant::now() + WAIT;
    loop {
        if roundtrip(&addr, b"again").is_some_and(|b| b == b"again") {
            break;
        }
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn handshake_timeout_drops_silent_clients() {
    let dir = TempDir::new("hstimeout");
    let flags = ["--handshake-timeout", "0.5", "--status", "127.0.0.1:0"];
    let (echo, _psk, mut srv, addr) = echo_server(&dir, &flags);
    let status = srv.status_addr();
    let start = Instant::now();
    let mut silent = connect(&addr);
    assert!(
        closed_within(&mut silent, Duration::from_secs(5)),
        "silent client not dropped"
    );
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(400),
        "dropped too early: {took:?}"
    );
    wait_metrics(&status, |m| {
        m.contains("milagro_tunnel_handshakes_total{service=\"server\",result=\"timeout\"} 1")
    });
    assert_eq!(echo.accepted(), 0);
}

#[test]
fn idle_timeout_closes_quiet_connections() {
    let dir = TempDir::new("idle");
    let (_echo, psk, srv, srv_addr) = echo_server(&dir, &["--idle-timeout", "0.6"]);
    let mut cli = client(&dir, "client", &psk, &srv_addr, &[]);
    let mut c = connect(&cli.addr("client"));
    // traffic keeps it open
    for _ in 0..4 {
        assert_eq!(echo_once(&mut c, b"ping"), b"ping");
        std::thread::sleep(Duration::from_millis(250));
    }
    let start = Instant::now();
    assert!(
        closed_within(&mut c, Duration::from_secs(5)),
        "idle connection not closed"
    );
    assert!(start.elapsed() >= Duration::from_millis(250));
    srv.wait_log("idle timeout");
}

#[test]
fn rate_limit_applies_per_source_before_the_handshake() {
    let dir = TempDir::new("rate");
    let flags = ["--rate-limit", "0.01", "--status", "127.0.0.1:0"];
    let (echo, psk, mut srv, srv_addr) = echo_server(&dir, &flags);
    let status = srv.status_addr();
    let mut cli = client(&dir, "client", &psk, &srv_addr, &[]);
    let addr = cli.addr("client");
    assert_eq!(roundtrip(&addr, b"first").unwrap(), b"first");
    // the burst (1) is used up: the next handshakes are refused at once
    for _ in 0..3 {
        let r = roundtrip(&addr, b"second");
        assert!(r.as_ref().is_none_or(|b| b.is_empty()), "{r:?}");
    }
    wait_metrics(&status, |m| {
        m.contains("milagro_tunnel_handshakes_total{service=\"server\",result=\"rate_limited\"} 3")
    });
    assert_eq!(echo.accepted(), 1);
    srv.wait_log("refused a connection (rate_limited)");
}

fn write_config(dir: &TempDir, psk: &std::path::Path, connect: &str) -> std::path::PathBuf {
    let text = format!(
        "drain_timeout = 5\n\n[[service]]\nname = \"svc\"\nmode = \"server\"\naccept = \"127.0.0.1:0\"\nconnect = \"{connect}\"\npsk_secrets = \"{}\"\n",
        s(psk)
    );
    let p = dir.path("tunnel.toml");
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn sighup_reload_keeps_live_connections() {
    let dir = TempDir::new("reload");
    let (echo1, echo2) = (Echo::start(), Echo::start());
    let psk1 = psk_file(&dir, "psk1.txt", "client1", KEY1);
    let psk2 = psk_file(&dir, "psk2.txt", "client1", KEY2);
    let conf = write_config(&dir, &psk1, &echo1.addr);
    let mut srv = Tunnel::spawn(&dir, "server", &["run", "--config", s(&conf)]);
    let srv_addr = srv.addr("svc");
    let mut cli1 = client(&dir, "client1", &psk1, &srv_addr, &[]);
    let cli1_addr = cli1.addr("client");
    let mut live = connect(&cli1_addr);
    assert_eq!(echo_once(&mut live, b"before"), b"before");

    // new key and new target, plus a second service
    let conf2 = write_config(&dir, &psk2, &echo2.addr);
    let mut text = std::fs::read_to_string(&conf2).unwrap();
    text.push_str(&format!(
        "\n[[service]]\nname = \"svc2\"\nmode = \"server\"\naccept = \"127.0.0.1:0\"\nconnect = \"{}\"\npsk_secrets = \"{}\"\n",
        echo2.addr,
        s(&psk1)
    ));
    std::fs::write(&conf2, text).unwrap();
    srv.signal("HUP");
    srv.wait_log("configuration reloaded");
    let svc2_addr = srv.addr("svc2");
    assert_ne!(svc2_addr, srv_addr);
    assert_eq!(srv.addr("svc"), srv_addr, "the unchanged listener is kept");

    assert_eq!(echo_once(&mut live, b"after reload"), b"after reload");
    assert_eq!((echo1.accepted(), echo2.accepted()), (1, 0));
    // old key: refused now
    let r = roundtrip(&cli1_addr, b"old key");
    assert!(r.is_none_or(|b| b.is_empty()));
    // new key: reaches the new target
    let mut cli2 = client(&dir, "client2", &psk2, &srv_addr, &[]);
    assert_eq!(roundtrip(&cli2.addr("client"), b"new").unwrap(), b"new");
    assert_eq!((echo1.accepted(), echo2.accepted()), (1, 1));
    let mut cli3 = client(&dir, "client3", &psk1, &svc2_addr, &[]);
    assert_eq!(roundtrip(&cli3.addr("client"), b"svc2").unwrap(), b"svc2");
    assert_eq!((echo1.accepted(), echo2.accepted()), (1, 2));

    // a broken config is logged and the running one kept
    std::fs::write(&conf, "[[service]]\nname = \"svc\"\nconect = \"x\"\n").unwrap();
    srv.signal("HUP");
    srv.wait_log("reload failed");
    assert!(
        srv.log_text()
            .contains("line 3: service \\\"svc\\\": unknown field `conect`")
            || srv
                .log_text()
                .contains("line 3: service \"svc\": unknown field `conect`")
    );
    assert_eq!(roundtrip(&cli2.addr("client"), b"still").unwrap(), b"still");
    assert_eq!(echo_once(&mut live, b"live"), b"live");
}

/// An echo behind a server tunnel with `--drain-timeout secs`, a client tunnel to it, and a
/// live connection through both that has echoed `hello` once.
fn live_connection(dir: &TempDir, secs: &str) -> (Echo, Tunnel, String, Tunnel, TcpStream) {
    let (echo, psk, srv, srv_addr) = echo_server(dir, &["--drain-timeout", secs]);
    let mut cli = client(dir, "client", &psk, &srv_addr, &[]);
    let mut live = connect(&cli.addr("client"));
    assert_eq!(echo_once(&mut live, b"hello"), b"hello");
    (echo, srv, srv_addr, cli, live)
}

#[test]
fn sigterm_drains_live_connections_then_exits_0() {
    let dir = TempDir::new("drain");
    let (_echo, mut srv, srv_addr, _cli, mut live) = live_connection(&dir, "20");

    srv.signal("TERM");
    srv.wait_log("draining");
    assert!(
        srv.wait_exit(Duration::from_millis(300)).is_none(),
        "exited with a live connection"
    );
    assert!(
        TcpStream::connect(&srv_addr).is_err(),
        "new connections must be refused while draining"
    );
    assert_eq!(echo_once(&mut live, b"during drain"), b"during drain");
    live.shutdown(std::net::Shutdown::Write).unwrap();
    assert!(closed_within(&mut live, Duration::from_secs(5)));
    let st = srv
        .wait_exit(WAIT)
        .expect("did not exit after the last connection");
    assert_eq!(st.code(), Some(0));
    assert!(srv.log_text().contains("drained"));
}

#[test]
fn sigterm_drain_deadline() {
    let dir = TempDir::new("deadline");
    let (_echo, mut srv, _srv_addr, _cli, mut live) = live_connection(&dir, "1");
    let start = Instant::now();
    srv.signal("TERM");
    let st = srv.wait_exit(WAIT).expect("did not exit at the deadline");
    let took = start.elapsed();
    assert_eq!(st.code(), Some(0));
    assert!(
        took >= Duration::from_millis(900),
        "exited before the deadline: {took:?}"
    );
    assert!(srv.log_text().contains("drain deadline passed"));
    assert!(closed_within(&mut live, Duration::from_secs(5)));
}

#[test]
fn unreachable_target_is_logged_and_counted() {
    let dir = TempDir::new("unreach");
    let psk = psk_file(&dir, "psk.txt", "client1", KEY1);
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let mut srv = server(&dir, "server", &psk, &closed, &["--status", "127.0.0.1:0"]);
    let status = srv.status_addr();
    let srv_addr = srv.addr("server");
    let mut cli = client(&dir, "client", &psk, &srv_addr, &[]);
    let r = roundtrip(&cli.addr("client"), b"hello");
    assert!(r.as_ref().is_none_or(|b| b.is_empty()), "{r:?}");
    wait_metrics(&status, |m| {
        m.contains("milagro_tunnel_connect_errors_total{service=\"server\"} 1")
    });
    srv.wait_log(&format!(
        "cannot connect to the forward target; connection closed target={closed}"
    ));
}

#[test]
fn sighup_rereads_the_psk_file_in_flag_mode() {
    let dir = TempDir::new("hupflags");
    let (_echo, _psk, srv, srv_addr) = echo_server(&dir, &[]);
    let old = psk_file(&dir, "old.txt", "client1", KEY1);
    let new = psk_file(&dir, "new.txt", "client1", KEY2);
    let mut old_cli = client(&dir, "old", &old, &srv_addr, &[]);
    let mut new_cli = client(&dir, "new", &new, &srv_addr, &[]);
    let (old_addr, new_addr) = (old_cli.addr("client"), new_cli.addr("client"));
    assert_eq!(roundtrip(&old_addr, b"a").unwrap(), b"a");
    psk_file(&dir, "psk.txt", "client1", KEY2);
    srv.signal("HUP");
    srv.wait_log("configuration reloaded");
    let r = roundtrip(&old_addr, b"b");
    assert!(r.as_ref().is_none_or(|b| b.is_empty()), "{r:?}");
    assert_eq!(roundtrip(&new_addr, b"c").unwrap(), b"c");
}
