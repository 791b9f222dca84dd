//! Interop with stunnel4 in PSK mode, both directions. stunnel runs in
//! inetd mode (no `accept`): its stdin/stdout are the connection, so no
//! fixed port is needed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener};
use std::os::fd::OwnedFd;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::*;

fn stunnel_bin() -> &'static str {
    for b in ["stunnel4", "stunnel"] {
        if Command::new(b)
            .arg("-version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
        {
            return b;
        }
    }
    panic!("stunnel4 is not installed (apt-get install -y stunnel4; scripts/test.sh does it)");
}

fn stunnel_conf(dir: &TempDir, name: &str, body: &str) -> std::path::PathBuf {
    let log = dir.path(&format!("{name}.log"));
    let text = format!(
        "output = {}\ndebug = 6\nsslVersionMin = TLSv1.3\n{body}",
        s(&log)
    );
    let p = dir.path(&format!("{name}.conf"));
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn stunnel_client_to_our_server_tunnel() {
    let dir = TempDir::new("stc");
    let echo = Echo::start();
    let psk = psk_file(&dir, "psk.txt", "client1", KEY1);
    let mut srv = server(&dir, "server", &psk, &echo.addr, &[]);
    let srv_addr = srv.addr("server");
    let conf = stunnel_conf(
        &dir,
        "stunnel-client",
        &format!(
            "client = yes\nconnect = {srv_addr}\nPSKsecrets = {}\nPSKidentity = client1\n",
            s(&psk)
        ),
    );
    let mut child = ProcessGuard::adopt(
        Command::new(stunnel_bin())
            .arg(&conf)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
        "stunnel",
    );
    let data = random_bytes(200_000, 11);
    let mut stdin = child.child.stdin.take().unwrap();
    let to_send = data.clone();
    let writer = thread::spawn(move || {
        stdin.write_all(&to_send).unwrap();
        // closing stdin half-closes: close_notify to our server tunnel
    });
    let mut stdout = child.child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        let mut out = Vec::new();
        let r = stdout.read_to_end(&mut out);
        let _ = tx.send((r.is_ok(), out));
    });
    writer.join().unwrap();
    let (ok, out) = rx
        .recv_timeout(WAIT)
        .expect("stunnel client never finished");
    assert!(ok);
    assert_eq!(out.len(), data.len(), "server log:\n{}", srv.log_text());
    assert!(out == data);
    srv.wait_log("identity=client1");
    assert_eq!(echo.accepted(), 1);
}

#[test]
fn our_client_tunnel_to_stunnel_server() {
    let dir = TempDir::new("sts");
    let echo = Echo::start();
    let psk = psk_file(&dir, "psk.txt", "client1", KEY1);
    // the "server address" our client connects to: each accepted socket is
    // handed to a stunnel server in inetd mode
    let front = TcpListener::bind("127.0.0.1:0").unwrap();
    let front_addr = front.local_addr().unwrap().to_string();
    let conf = stunnel_conf(
        &dir,
        "stunnel-server",
        &format!(
            "connect = {}\nPSKsecrets = {}\nciphers = PSK\n",
            echo.addr,
            s(&psk)
        ),
    );
    let bin = stunnel_bin();
    let (tx, rx) = std::sync::mpsc::channel::<ProcessGuard>();
    front.set_nonblocking(true).unwrap();
    thread::spawn(move || {
        let deadline = Instant::now() + WAIT;
        let mut served = 0;
        while served < 2 && Instant::now() < deadline {
            match front.accept() {
                Ok((sock, _)) => {
                    sock.set_nonblocking(false).unwrap();
                    let fd: OwnedFd = sock.into();
                    let fd2 = fd.try_clone().unwrap();
                    let child = Command::new(bin)
                        .arg(&conf)
                        .stdin(Stdio::from(fd))
                        .stdout(Stdio::from(fd2))
                        .stderr(Stdio::null())
                        .spawn()
                        .unwrap();
                    served += 1;
                    if tx.send(ProcessGuard::adopt(child, "stunnel")).is_err() {
                        return;
                    }
                }
                Err(_) => thread::sleep(Duration::from_millis(5)),
            }
        }
    });
    let mut cli = client(&dir, "client", &psk, &front_addr, &[]);
    let addr = cli.addr("client");
    let data = random_bytes(300_000, 5);
    let back = roundtrip(&addr, &data).expect("round trip through stunnel failed");
    let _first = rx.recv_timeout(WAIT).unwrap();
    assert_eq!(back.len(), data.len(), "client log:\n{}", cli.log_text());
    assert!(back == data);
    cli.wait_log(
        "authenticated identity=client1 method=psk suite=TLS_AES_128_GCM_SHA256 group=X25519",
    );
    // a second, interactive connection: request/response then half-close
    let mut c = connect(&addr);
    assert_eq!(echo_once(&mut c, b"ping"), b"ping");
    c.shutdown(Shutdown::Write).unwrap();
    assert!(closed_within(&mut c, Duration::from_secs(5)));
    let _second = rx.recv_timeout(WAIT).unwrap();
    assert_eq!(echo.accepted(), 2);
}
