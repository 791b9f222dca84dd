//! Static-PSK tunnels end to end: client tunnel → server tunnel → echo.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;

#[test]
fn static_psk_round_trip_1mib() {
    let dir = TempDir::new("rt");
    let echo = Echo::start();
    let psk = psk_file(&dir, "psk.txt", "client1", KEY1);
    let mut srv = server(&dir, "server", &psk, &echo.addr, &[]);
    let srv_addr = srv.addr("server");
    let mut cli = client(&dir, "client", &psk, &srv_addr, &[]);
    let cli_addr = cli.addr("client");

    let data = random_bytes(1 << 20, 7);
    let back = roundtrip(&cli_addr, &data).expect("round trip failed");
    assert_eq!(back.len(), data.len());
    assert!(back == data, "echoed bytes differ");
    assert_eq!(echo.accepted(), 1);

    // a few more short connections on the same tunnels
    for i in 0..3u8 {
        let msg = vec![i; 100];
        assert_eq!(roundtrip(&cli_addr, &msg).unwrap(), msg);
    }
    srv.wait_log("identity=client1");
    srv.wait_log_count("closed", 4);
    assert!(srv.log_text().contains("TLS_AES_128_GCM_SHA256"));
}

#[test]
fn suite_group_and_unix_sockets() {
    let dir = TempDir::new("unix");
    let echo = Echo::start();
    let psk = psk_file(&dir, "psk.txt", "client1", KEY1);
    let sock = format!("unix:{}", s(&dir.path("srv.sock")));
    let mut srv = Tunnel::spawn(
        &dir,
        "server",
        &[
            "server",
            "--accept",
            &sock,
            "--connect",
            &echo.addr,
            "--psk-secrets",
            s(&psk),
            "--suite",
            "TLS_AES_256_GCM_SHA384",
        ],
    );
    assert_eq!(srv.addr("server"), sock);
    let mut cli = client(
        &dir,
        "client",
        &psk,
        &sock,
        &["--suite", "TLS_AES_256_GCM_SHA384", "--group", "secp256r1"],
    );
    let cli_addr = cli.addr("client");
    let msg = random_bytes(50_000, 3);
    assert_eq!(roundtrip(&cli_addr, &msg).unwrap(), msg);
    srv.wait_log("suite=TLS_AES_256_GCM_SHA384");
    assert!(srv.log_text().contains("group=secp256r1"));
}

#[test]
fn wrong_key_is_refused_and_nothing_forwarded() {
    let dir = TempDir::new("wrong");
    let echo = Echo::start();
    let good = psk_file(&dir, "good.txt", "client1", KEY1);
    let bad = psk_file(&dir, "bad.txt", "client1", KEY2);
    let mut srv = server(&dir, "server", &good, &echo.addr, &[]);
    let srv_addr = srv.addr("server");
    let mut cli = client(&dir, "client", &bad, &srv_addr, &[]);
    let cli_addr = cli.addr("client");

    let back = roundtrip(&cli_addr, b"secret data that must not arrive");
    assert!(back.as_ref().is_none_or(|b| b.is_empty()), "{back:?}");
    srv.wait_log("handshake failed");
    cli.wait_log("handshake with the server failed");
    assert_eq!(echo.accepted(), 0, "nothing may reach the service");
    assert_eq!(echo.bytes.load(std::sync::atomic::Ordering::SeqCst), 0);

    // unknown identity: same outcome
    let other = psk_file(&dir, "other.txt", "mallory", KEY1);
    let mut cli2 = client(&dir, "client2", &other, &srv_addr, &[]);
    let back = roundtrip(&cli2.addr("client"), b"x");
    assert!(back.is_none_or(|b| b.is_empty()));
    srv.wait_log_count("handshake failed", 2);
    assert_eq!(echo.accepted(), 0);
}

#[test]
fn secrets_never_appear_in_debug_logs() {
    let dir = TempDir::new("secret");
    let echo = Echo::start();
    let psk = psk_file(&dir, "psk.txt", "client1", KEY1);
    let wrong = psk_file(&dir, "wrong.txt", "client1", KEY2);
    let dbg = ["--log-level", "trace"];
    let mut srv = server(&dir, "server", &psk, &echo.addr, &dbg);
    let srv_addr = srv.addr("server");
    let mut cli = client(&dir, "client", &psk, &srv_addr, &dbg);
    let mut bad = client(&dir, "bad", &wrong, &srv_addr, &dbg);
    assert_eq!(roundtrip(&cli.addr("client"), b"hello").unwrap(), b"hello");
    let _ = roundtrip(&bad.addr("client"), b"hello");
    srv.wait_log("handshake failed");
    let mut json = server(
        &dir,
        "json",
        &psk,
        &echo.addr,
        &["--log-format", "json", "--log-level", "debug"],
    );
    let json_addr = json.addr("server");
    let mut cli2 = client(&dir, "client2", &psk, &json_addr, &[]);
    assert_eq!(roundtrip(&cli2.addr("client"), b"hi").unwrap(), b"hi");
    json.wait_log("\"identity\":\"client1\"");
    drop((cli, bad, cli2));
    for t in [&srv, &json] {
        let log = t.log_text();
        for key in [KEY1, KEY2] {
            assert!(
                !log.to_lowercase().contains(&key[..16]),
                "key material in log:\n{log}"
            );
        }
    }
    assert!(srv.log_text().contains("DEBUG"), "debug logging was on");
}

#[test]
fn half_close_from_the_service_side() {
    // the service sends a banner and half-closes first; the application
    // still sends afterwards, and every byte arrives
    let dir = TempDir::new("halfclose");
    let backend = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let backend_addr = backend.local_addr().unwrap().to_string();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        let (mut c, _) = backend.accept().unwrap();
        c.set_read_timeout(Some(WAIT)).unwrap();
        c.write_all(b"banner").unwrap();
        c.shutdown(std::net::Shutdown::Write).unwrap();
        let mut got = Vec::new();
        let _ = c.read_to_end(&mut got);
        let _ = tx.send(got);
    });
    let psk = psk_file(&dir, "psk.txt", "client1", KEY1);
    let mut srv = server(&dir, "server", &psk, &backend_addr, &[]);
    let srv_addr = srv.addr("server");
    let mut cli = client(&dir, "client", &psk, &srv_addr, &[]);
    let mut c = connect(&cli.addr("client"));
    let mut banner = Vec::new();
    std::io::Read::read_to_end(&mut c, &mut banner).unwrap();
    assert_eq!(banner, b"banner");
    let late = random_bytes(100_000, 9);
    std::io::Write::write_all(&mut c, &late).unwrap();
    c.shutdown(std::net::Shutdown::Write).unwrap();
    let got = rx.recv_timeout(WAIT).expect("backend never saw EOF");
    assert_eq!(got.len(), late.len());
    assert!(got == late);
    srv.wait_log("end=eof");
}

#[test]
fn concurrent_connections() {
    let dir = TempDir::new("concurrent");
    let echo = Echo::start();
    let psk = psk_file(&dir, "psk.txt", "client1", KEY1);
    let mut srv = server(&dir, "server", &psk, &echo.addr, &[]);
    let srv_addr = srv.addr("server");
    let mut cli = client(&dir, "client", &psk, &srv_addr, &[]);
    let addr = cli.addr("client");
    let workers: Vec<_> = (0..16u64)
        .map(|i| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                let data = random_bytes(64 * 1024 + i as usize * 977, i + 100);
                let back = roundtrip(&addr, &data).expect("round trip failed");
                back == data
            })
        })
        .collect();
    for w in workers {
        assert!(w.join().unwrap(), "a connection lost or corrupted data");
    }
    assert_eq!(echo.accepted(), 16);
    srv.wait_log_count("end=eof", 16);
    // the identity is on every line of the connection's span
    assert!(srv
        .log_text()
        .lines()
        .any(|l| l.contains("identity=client1") && l.contains("closed")));
}
