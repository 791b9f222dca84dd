//! Pre-authentication limits with default settings, against real tunnel
//! processes: idle sockets and junk cannot keep a valid client out, refusals
//! are logged as summaries with exact counts in /metrics; handshake slots
//! per source and globally; truncation resets the plaintext side.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;

/// Open files the test process needs (idle sockets on both ends of loopback
/// are in different processes, but junk and the status polls add up).
const NOFILE_NEEDED: u64 = 6000;

fn nofile_soft_limit() -> u64 {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse().ok())
        .unwrap_or(u64::MAX)
}

/// A server tunnel with only the given flags (defaults otherwise), run under
/// a shell that raises its open-files limit first.
fn server_with_nofile(dir: &TempDir, psk: &std::path::Path, connect: &str) -> Tunnel {
    let script = "ulimit -n 8192 2>/dev/null || ulimit -n \"$(ulimit -Hn)\"; exec \"$0\" \"$@\"";
    let args = [
        "-c",
        script,
        BIN,
        "server",
        "--accept",
        "127.0.0.1:0",
        "--connect",
        connect,
        "--psk-secrets",
        s(psk),
        "--status",
        "127.0.0.1:0",
    ];
    Tunnel::spawn_program(dir, "server", "sh", &args)
}

/// Connects to `addr` from the loopback address `from` (e.g. `127.0.1.5`).
fn connect_from(rt: &tokio::runtime::Runtime, from: &str, addr: &str) -> TcpStream {
    let addr: std::net::SocketAddr = addr.parse().unwrap();
    let s = rt
        .block_on(async {
            let sock = tokio::net::TcpSocket::new_v4()?;
            sock.bind(format!("{from}:0").parse().unwrap())?;
            sock.connect(addr).await
        })
        .unwrap();
    let s = s.into_std().unwrap();
    s.set_nonblocking(true).unwrap();
    s
}

/// True while the server has not closed `s` (no EOF, no reset, no data).
fn still_open(s: &TcpStream) -> bool {
    let mut b = [0u8; 1];
    matches!(s.peek(&mut b), Err(e) if e.kind() == ErrorKind::WouldBlock)
}

/// The value of the metric line starting with `name{labels}`, 0 if absent.
fn metric(m: &str, series: &str) -> u64 {
    m.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0)
}

fn rejected(m: &str, reason: &str) -> u64 {
    metric(
        m,
        &format!(
            "milagro_tunnel_connections_rejected_total{{service=\"server\",reason=\"{reason}\"}}"
        ),
    )
}

/// Refusals the log reports: first lines count 1, summaries their total.
fn logged_refusals(log: &str) -> u64 {
    log.lines()
        .filter(|l| l.contains(" WARN "))
        .map(|l| {
            if l.contains("refused a connection (") {
                1
            } else if let Some(rest) = l.split_once("refused ").map(|(_, r)| r) {
                rest.split_whitespace()
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0)
            } else {
                0
            }
        })
        .sum()
}

#[test]
fn idle_sockets_and_junk_do_not_keep_a_valid_client_out_with_default_limits() {
    // a fresh machine's soft limit is often 1,024: raise it as far as the hard limit allows
    let _ = rlimit::increase_nofile_limit(NOFILE_NEEDED);
    let have = nofile_soft_limit();
    assert!(
        have >= NOFILE_NEEDED,
        "this test holds ~4,500 sockets: raise the open-files limit (ulimit -n {NOFILE_NEEDED}); it is {have}"
    );
    let rt = runtime();
    let dir = TempDir::new("preauth");
    let echo = Echo::start();
    let psk = psk_file(&dir, "psk.txt", "client1", KEY1);
    let mut srv = server_with_nofile(&dir, &psk, &echo.addr);
    let status = srv.status_addr();
    let srv_addr = srv.addr("server");
    let mut cli = client(&dir, "client", &psk, &srv_addr, &[]);
    let cli_addr = cli.addr("client");
    let started = Instant::now();

    // 2,000 idle sockets from one host: its burst (100) gets handshake
    // slots, the rest is refused by the rate limit
    let one_host: Vec<TcpStream> = (0..2000)
        .map(|_| connect_from(&rt, "127.0.0.2", &srv_addr))
        .collect();
    // 2,000 more from 100 hosts, 20 each: more than the 1,024 slots
    let many_hosts: Vec<TcpStream> = (0..2000)
        .map(|i| connect_from(&rt, &format!("127.0.1.{}", 1 + i % 100), &srv_addr))
        .collect();
    let m = wait_metrics(&status, |m| {
        metric(m, "milagro_tunnel_connections_total{service=\"server\"}") == 4000
            && metric(
                m,
                "milagro_tunnel_handshakes_in_progress{service=\"server\"}",
            ) == 1024
            && rejected(m, "rate_limited") >= 1800
            && rejected(m, "evicted") >= 1000
    });
    let refused_one_host = rejected(&m, "rate_limited");
    // evicted handshakes close as their tasks run
    let deadline = Instant::now() + WAIT;
    let open_before = loop {
        let open = many_hosts.iter().filter(|s| still_open(s)).count();
        if open <= 1024 || Instant::now() >= deadline {
            break open;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        (1000..=1024).contains(&open_before),
        "{open_before} of the many-host idle sockets hold a slot"
    );
    let open_one_host = one_host.iter().filter(|s| still_open(s)).count();
    assert!(
        open_one_host <= 200,
        "{open_one_host} sockets of one host survived the rate limit"
    );

    // a stream of random-byte clients from another host, while a valid
    // client (from 127.0.0.1, through the client tunnel) connects
    let junk_sent = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let junk = {
        let (addr, sent) = (srv_addr.clone(), junk_sent.clone());
        std::thread::spawn(move || {
            let rt = runtime();
            let deadline = Instant::now() + Duration::from_secs(4);
            for i in 0..400u64 {
                if Instant::now() >= deadline {
                    break;
                }
                let mut s = connect_from(&rt, "127.0.0.3", &addr);
                s.set_nonblocking(false).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                let _ = s.write_all(&random_bytes(700, i + 1));
                let mut buf = [0u8; 256];
                while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
                sent.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        })
    };
    let t = Instant::now();
    let mut c = connect(&cli_addr);
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    assert_eq!(
        echo_once(&mut c, b"valid client"),
        b"valid client",
        "the valid client did not get through"
    );
    let took = t.elapsed();
    // the idle sockets are still there: the valid client got in while they held the slots
    let open_after = many_hosts.iter().filter(|s| still_open(s)).count();
    assert!(
        open_after >= 900,
        "only {open_after} idle sockets still open (taken {:?} since the first)",
        started.elapsed()
    );
    junk.join().unwrap();
    let junk_sent = junk_sent.load(std::sync::atomic::Ordering::SeqCst);
    assert!(junk_sent >= 20, "{junk_sent} junk clients");
    drop(c);

    // the log has summaries only, and they add up to /metrics exactly
    let total = |m: &str| -> u64 {
        ["rate_limited", "handshake_cap", "evicted", "limit"]
            .iter()
            .map(|r| rejected(m, r))
            .sum()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let (m, log) = loop {
        let (_, m) = http_get(&status, "/metrics");
        let log = srv.log_text();
        if logged_refusals(&log) == total(&m) {
            break (m, log);
        }
        assert!(
            Instant::now() < deadline,
            "log reports {} refusals, /metrics {}:\n{m}",
            logged_refusals(&log),
            total(&m)
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let warn: Vec<&str> = log.lines().filter(|l| l.contains(" WARN ")).collect();
    let refusal_lines = warn.iter().filter(|l| l.contains("refused ")).count();
    let periods = 1 + started.elapsed().as_secs() / 10;
    assert!(
        refusal_lines as u64 <= periods + 1,
        "{refusal_lines} refusal lines in {periods} periods:\n{}",
        warn.join("\n")
    );
    // besides the summaries, at most 10 handshake-failure lines per period
    assert!(
        warn.len() as u64 <= refusal_lines as u64 + 10 * (periods + 1),
        "{} WARN lines",
        warn.len()
    );
    assert!(!log.contains("rate limit exceeded"), "per-connection WARN");
    println!(
        "valid client took {took:?}; refused by rate limit from one host: {refused_one_host}; \
         /metrics total refusals {} (evicted {}), {} WARN lines ({refusal_lines} refusal summaries), \
         {junk_sent} junk clients",
        total(&m),
        rejected(&m, "evicted"),
        warn.len()
    );
    for l in warn.iter().filter(|l| l.contains("refused ")) {
        println!("{l}");
    }
    drop(one_host);
    drop(many_hosts);
}

#[test]
fn per_source_handshake_cap_refuses_the_newest_connection() {
    let dir = TempDir::new("percap");
    let flags = [
        "--max-handshakes-per-source",
        "3",
        "--status",
        "127.0.0.1:0",
    ];
    let (_echo, psk, mut srv, addr) = echo_server(&dir, &flags);
    let status = srv.status_addr();
    let rt = runtime();
    let idle: Vec<TcpStream> = (0..3)
        .map(|_| connect_from(&rt, "127.0.0.2", &addr))
        .collect();
    wait_metrics(&status, |m| {
        metric(
            m,
            "milagro_tunnel_handshakes_in_progress{service=\"server\"}",
        ) == 3
    });
    let mut extra = connect_from(&rt, "127.0.0.2", &addr);
    extra.set_nonblocking(false).unwrap();
    assert!(closed_within(&mut extra, Duration::from_secs(5)));
    wait_metrics(&status, |m| rejected(m, "handshake_cap") == 1);
    assert!(
        idle.iter().all(still_open),
        "the older handshakes keep their slots"
    );
    // another source (the client tunnel, from 127.0.0.1) is not affected
    let mut cli = client(&dir, "client", &psk, &addr, &[]);
    assert_eq!(roundtrip(&cli.addr("client"), b"ok").unwrap(), b"ok");
    srv.wait_log("refused a connection (handshake_cap)");
}

#[test]
fn a_full_handshake_table_evicts_the_oldest_handshake() {
    let dir = TempDir::new("evict");
    let flags = ["--max-handshakes", "3", "--status", "127.0.0.1:0"];
    let (_echo, psk, mut srv, addr) = echo_server(&dir, &flags);
    let status = srv.status_addr();
    let rt = runtime();
    let mut idle = Vec::new();
    for i in 1..=3 {
        idle.push(connect_from(&rt, "127.0.0.2", &addr));
        wait_metrics(&status, |m| {
            metric(
                m,
                "milagro_tunnel_handshakes_in_progress{service=\"server\"}",
            ) == i
        });
    }
    let mut cli = client(&dir, "client", &psk, &addr, &[]);
    assert_eq!(roundtrip(&cli.addr("client"), b"in").unwrap(), b"in");
    let m = wait_metrics(&status, |m| rejected(m, "evicted") == 1);
    assert!(m.contains("milagro_tunnel_handshakes_total{service=\"server\",result=\"evicted\"} 1"));
    idle[0].set_nonblocking(false).unwrap();
    assert!(
        closed_within(&mut idle[0], Duration::from_secs(5)),
        "the oldest idle handshake was not closed"
    );
    assert!(still_open(&idle[1]) && still_open(&idle[2]));
}

/// A raw TLS-PSK client (milagro-tls) over TCP to `addr`.
async fn tls_client(
    addr: &str,
    psk: &std::path::Path,
) -> milagro_tls::TlsStream<tokio::net::TcpStream> {
    let psks =
        milagro_tls::psk_file::load_psk_secrets(psk, milagro_tls::HashAlgorithm::Sha256).unwrap();
    let config = milagro_tls::ClientConfig::new(psks.into_iter().next().unwrap());
    let connector = milagro_tls::Connector::new(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    connector.connect(tcp).await.unwrap()
}

/// Accepts one plaintext connection, reads `hello`, answers `ack`, then
/// returns how the stream ended: Ok(0) for a FIN, the error otherwise.
fn target_once(l: TcpListener) -> std::thread::JoinHandle<std::io::Result<usize>> {
    std::thread::spawn(move || {
        let (mut s, _) = l.accept()?;
        s.set_read_timeout(Some(WAIT))?;
        let mut buf = [0u8; 5];
        s.read_exact(&mut buf)?;
        assert_eq!(&buf, b"hello");
        s.write_all(b"ack")?;
        let mut rest = [0u8; 64];
        s.read(&mut rest)
    })
}

#[test]
fn tls_eof_without_close_notify_resets_the_plaintext_side() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = TempDir::new("trunc");
    let psk = psk_file(&dir, "psk.txt", "client1", KEY1);
    let target = TcpListener::bind("127.0.0.1:0").unwrap();
    let target_addr = target.local_addr().unwrap().to_string();
    let mut srv = server(
        &dir,
        "server",
        &psk,
        &target_addr,
        &["--status", "127.0.0.1:0"],
    );
    let status = srv.status_addr();
    let addr = srv.addr("server");
    let rt = runtime();

    // truncation: the TLS peer drops TCP without close_notify
    let seen = target_once(target.try_clone().unwrap());
    rt.block_on(async {
        let mut tls = tls_client(&addr, &psk).await;
        tls.write_all(b"hello").await.unwrap();
        tls.flush().await.unwrap();
        let mut ack = [0u8; 3];
        tls.read_exact(&mut ack).await.unwrap();
        assert_eq!(&ack, b"ack");
        drop(tls); // TCP FIN, no close_notify
    });
    let end = seen.join().unwrap();
    assert!(
        matches!(&end, Err(e) if e.kind() == ErrorKind::ConnectionReset),
        "the plaintext side saw {end:?}, not a reset"
    );
    wait_metrics(&status, |m| {
        m.contains("milagro_tunnel_truncations_total{service=\"server\"} 1")
    });
    srv.wait_log("end=truncated");

    // control: close_notify still gives a clean FIN
    let seen = target_once(target);
    rt.block_on(async {
        let mut tls = tls_client(&addr, &psk).await;
        tls.write_all(b"hello").await.unwrap();
        tls.flush().await.unwrap();
        let mut ack = [0u8; 3];
        tls.read_exact(&mut ack).await.unwrap();
        tls.shutdown().await.unwrap(); // close_notify + FIN
        let mut rest = Vec::new();
        let _ = tls.read_to_end(&mut rest).await;
    });
    assert_eq!(seen.join().unwrap().unwrap(), 0, "a clean close is a FIN");
    srv.wait_log("end=eof");
    let m = wait_metrics(&status, |m| m.contains("truncations_total"));
    assert!(m.contains("milagro_tunnel_truncations_total{service=\"server\"} 1"));
}

#[test]
fn failed_handshakes_cost_their_source_more_of_its_rate_limit() {
    let dir = TempDir::new("charge");
    let flags = [
        "--rate-limit",
        "0.1",
        "--rate-burst",
        "10",
        "--status",
        "127.0.0.1:0",
    ];
    let (_echo, psk, mut srv, addr) = echo_server(&dir, &flags);
    let status = srv.status_addr();
    let rt = runtime();
    // 10 tokens: without the extra cost 10 junk handshakes would run;
    // each failure costs 5, so only 2 do
    let mut m = String::new();
    for i in 1..=10 {
        let mut s = connect_from(&rt, "127.0.0.2", &addr);
        s.set_nonblocking(false).unwrap();
        let _ = s.write_all(b"GET / HTTP/1.0\r\n\r\n");
        assert!(closed_within(&mut s, Duration::from_secs(5)));
        // one at a time: the failure is charged before the next connection
        m = wait_metrics(&status, |m| {
            rejected(m, "rate_limited")
                + metric(
                    m,
                    "milagro_tunnel_handshakes_total{service=\"server\",result=\"failed\"}",
                )
                == i
        });
    }
    let failed = metric(
        &m,
        "milagro_tunnel_handshakes_total{service=\"server\",result=\"failed\"}",
    );
    assert_eq!(failed, 2, "{m}");
    // another source still gets in
    let mut cli = client(&dir, "client", &psk, &addr, &[]);
    assert_eq!(roundtrip(&cli.addr("client"), b"ok").unwrap(), b"ok");
}

#[test]
fn accept_failures_under_fd_exhaustion_are_logged_once_per_period() {
    let dir = TempDir::new("emfile");
    let echo = Echo::start();
    let psk = psk_file(&dir, "psk.txt", "client1", KEY1);
    // a tiny open-files limit: idle sockets exhaust it and accept fails (EMFILE)
    let script = "ulimit -n 40 && exec \"$0\" \"$@\"";
    let mut srv = Tunnel::spawn_program(
        &dir,
        "server",
        "sh",
        &[
            "-c",
            script,
            BIN,
            "server",
            "--accept",
            "127.0.0.1:0",
            "--connect",
            &echo.addr,
            "--psk-secrets",
            s(&psk),
        ],
    );
    let addr = srv.addr("server");
    let idle: Vec<TcpStream> = (0..60).map(|_| connect(&addr)).collect();
    srv.wait_log("accept failed");
    // the listener keeps failing every 50 ms; one WARN line per 10 s
    std::thread::sleep(Duration::from_millis(1500));
    let log = srv.log_text();
    let lines = log
        .lines()
        .filter(|l| l.contains(" WARN ") && l.contains("accept failed"))
        .count();
    assert_eq!(lines, 1, "{log}");
    drop(idle);
}

#[test]
fn a_reload_does_not_refill_the_rate_limit() {
    let dir = TempDir::new("hupbucket");
    let echo = Echo::start();
    let psk = psk_file(&dir, "psk.txt", "client1", KEY1);
    let conf = dir.path("tunnel.toml");
    std::fs::write(
        &conf,
        format!(
            "[[service]]\nname = \"svc\"\nmode = \"server\"\naccept = \"127.0.0.1:0\"\nconnect = \"{}\"\npsk_secrets = \"{}\"\nrate_limit = 0.01\n",
            echo.addr,
            s(&psk)
        ),
    )
    .unwrap();
    let mut srv = Tunnel::spawn(&dir, "server", &["run", "--config", s(&conf)]);
    let addr = srv.addr("svc");
    let mut cli = client(&dir, "client", &psk, &addr, &[]);
    let cli_addr = cli.addr("client");
    assert_eq!(roundtrip(&cli_addr, b"one").unwrap(), b"one");
    let r = roundtrip(&cli_addr, b"two");
    assert!(r.as_ref().is_none_or(|b| b.is_empty()), "{r:?}");
    srv.signal("HUP");
    srv.wait_log("configuration reloaded");
    let r = roundtrip(&cli_addr, b"three");
    assert!(
        r.as_ref().is_none_or(|b| b.is_empty()),
        "the reload refilled the bucket: {r:?}"
    );
    assert_eq!(echo.accepted(), 1);
}
