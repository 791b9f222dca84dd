//! Helpers for process-level tests: tunnel processes (over `test_support::ProcessGuard`),
//! a counting echo service, bounded waits everywhere.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

mod dtas;
mod files;
mod fleet;
mod relays;

#[allow(unused_imports)] // not every test uses the M-Pin files
pub use files::*;
#[allow(unused_imports)] // not every test uses the fleet helpers
pub use fleet::*;
pub use test_support::{ProcessGuard, TempDir, WAIT};
#[allow(unused_imports)] // only the device tests use these
pub use {dtas::*, relays::*};

pub const BIN: &str = env!("CARGO_BIN_EXE_milagro-tunnel");

/// A running `milagro-tunnel` (a [`ProcessGuard`]: killed on drop, stderr in `TAG.log`).
pub struct Tunnel(ProcessGuard);

impl std::ops::Deref for Tunnel {
    type Target = ProcessGuard;
    fn deref(&self) -> &ProcessGuard {
        &self.0
    }
}

impl std::ops::DerefMut for Tunnel {
    fn deref_mut(&mut self) -> &mut ProcessGuard {
        &mut self.0
    }
}

impl Tunnel {
    pub fn spawn(dir: &TempDir, tag: &str, args: &[&str]) -> Self {
        Self::spawn_program(dir, tag, BIN, args)
    }

    /// As [`Tunnel::spawn`], through `program` (e.g. a shell that `exec`s the tunnel).
    pub fn spawn_program(dir: &TempDir, tag: &str, program: &str, args: &[&str]) -> Self {
        let mut cmd = Command::new(program);
        cmd.args(args).env_remove("RUST_LOG");
        let log = dir.path(&format!("{tag}.log"));
        Self(ProcessGuard::start(&mut cmd, "the tunnel", &log).unwrap())
    }

    /// Next stdout line starting with `prefix` (bounded wait).
    pub fn wait_stdout(&mut self, prefix: &str) -> String {
        self.0.wait_line(prefix, WAIT)
    }

    /// The address a service announced.
    pub fn addr(&mut self, service: &str) -> String {
        let l = self.wait_stdout(&format!("listening service={service} addr="));
        l.rsplit_once("addr=").unwrap().1.to_string()
    }

    /// The status listener's address.
    pub fn status_addr(&mut self) -> String {
        let l = self.wait_stdout("status addr=");
        l.rsplit_once("addr=").unwrap().1.to_string()
    }

    /// Waits until the log contains `needle` `count` times.
    pub fn wait_log_count(&self, needle: &str, count: usize) {
        self.0.wait_log_count(needle, count, WAIT);
    }

    pub fn wait_log(&self, needle: &str) {
        self.wait_log_count(needle, 1);
    }
}

/// A TCP echo service counting connections and bytes.
pub struct Echo {
    pub addr: String,
    pub accepted: Arc<AtomicUsize>,
    pub bytes: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl Echo {
    pub fn start() -> Self {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let accepted = Arc::new(AtomicUsize::new(0));
        let bytes = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (a, b, s) = (accepted.clone(), bytes.clone(), stop.clone());
        thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                match l.accept() {
                    Ok((mut c, _)) => {
                        a.fetch_add(1, Ordering::SeqCst);
                        c.set_nonblocking(false).unwrap();
                        c.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
                        let b = b.clone();
                        thread::spawn(move || {
                            let mut buf = vec![0u8; 65536];
                            loop {
                                match c.read(&mut buf) {
                                    Ok(0) | Err(_) => break,
                                    Ok(n) => {
                                        b.fetch_add(n as u64, Ordering::SeqCst);
                                        if c.write_all(&buf[..n]).is_err() {
                                            return;
                                        }
                                    }
                                }
                            }
                            let _ = c.shutdown(Shutdown::Write);
                        });
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Self {
            addr,
            accepted,
            bytes,
            stop,
        }
    }

    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

pub fn connect(addr: &str) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.set_write_timeout(Some(WAIT)).unwrap();
    s
}

/// Sends `data`, half-closes, reads until EOF; returns what came back
/// (None if the connection failed).
pub fn roundtrip(addr: &str, data: &[u8]) -> Option<Vec<u8>> {
    let s = connect(addr);
    let mut w = s.try_clone().unwrap();
    let data = data.to_vec();
    let writer = thread::spawn(move || {
        let r = w.write_all(&data);
        let _ = w.shutdown(Shutdown::Write);
        r.is_ok()
    });
    let mut out = Vec::new();
    let mut r = s;
    let read_ok = r.read_to_end(&mut out).is_ok();
    let wrote = writer.join().unwrap();
    (read_ok && wrote).then_some(out)
}

/// Sends `msg` on an open connection and reads the same number of bytes back.
pub fn echo_once(s: &mut TcpStream, msg: &[u8]) -> Vec<u8> {
    s.write_all(msg).unwrap();
    let mut buf = vec![0u8; msg.len()];
    s.read_exact(&mut buf).unwrap();
    buf
}

/// True if the peer closes the connection (EOF or reset) within `limit`.
pub fn closed_within(s: &mut TcpStream, limit: Duration) -> bool {
    s.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 64];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                return false
            }
            Err(_) => return true,
        }
    }
}

/// A plain HTTP/1.1 GET; returns (status line, body).
pub fn http_get(addr: &str, path: &str) -> (String, String) {
    let mut s = connect(addr);
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text.lines().next().unwrap_or("").to_string();
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// Polls /metrics until `pred` holds (bounded).
pub fn wait_metrics(status: &str, pred: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let (_, body) = http_get(status, "/metrics");
        if pred(&body) {
            return body;
        }
        assert!(Instant::now() < deadline, "metrics never matched:\n{body}");
        thread::sleep(Duration::from_millis(50));
    }
}

pub const KEY1: &str = "00112233445566778899aabbccddeeff0011223344556677";
pub const KEY2: &str = "ffeeddccbbaa99887766554433221100ffeeddccbbaa9988";

/// A PSKsecrets file with one identity.
pub fn psk_file(dir: &TempDir, name: &str, identity: &str, key: &str) -> PathBuf {
    dir.private(name, &format!("{identity}:{key}\n"))
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A tunnel in `mode` (`server` or `client`) accepting on a free port and connecting to
/// `connect`, its keys given by `auth` (a flag and its file, e.g. `--psk-secrets` and a
/// path), then `extra` flags.
pub fn tunnel(
    dir: &TempDir,
    tag: &str,
    mode: &str,
    connect: &str,
    auth: (&str, &Path),
    extra: &[&str],
) -> Tunnel {
    let mut args = vec![mode, "--accept", "127.0.0.1:0", "--connect", connect];
    args.extend([auth.0, s(auth.1)]);
    args.extend_from_slice(extra);
    Tunnel::spawn(dir, tag, &args)
}

/// A server tunnel (TLS in, plaintext to `connect`) from flags.
pub fn server(dir: &TempDir, tag: &str, psk: &Path, connect: &str, extra: &[&str]) -> Tunnel {
    tunnel(dir, tag, "server", connect, ("--psk-secrets", psk), extra)
}

/// A client tunnel (plaintext in, TLS to `connect`) from flags.
pub fn client(dir: &TempDir, tag: &str, psk: &Path, connect: &str, extra: &[&str]) -> Tunnel {
    tunnel(dir, tag, "client", connect, ("--psk-secrets", psk), extra)
}

/// A fresh echo service, the PSK file `psk.txt` (client1 with KEY1) and the server tunnel
/// `server` to the echo with `extra` flags, with its address; bind the echo (`_echo`, not `_`).
pub fn echo_server(dir: &TempDir, extra: &[&str]) -> (Echo, PathBuf, Tunnel, String) {
    let echo = Echo::start();
    let psk = psk_file(dir, "psk.txt", "client1", KEY1);
    let mut srv = server(dir, "server", &psk, &echo.addr, extra);
    let addr = srv.addr("server");
    (echo, psk, srv, addr)
}

/// A current-thread tokio runtime with I/O and timers, for blocking on sockets in a test.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Pseudo-random bytes (xorshift; no extra dependency needed).
pub fn random_bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

impl From<ProcessGuard> for Tunnel {
    /// A tunnel process started by the caller (e.g. with extra environment).
    fn from(p: ProcessGuard) -> Self {
        Self(p)
    }
}
