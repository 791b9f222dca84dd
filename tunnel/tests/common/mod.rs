//! Helpers for process-level tests: temp dirs, tunnel processes killed on
//! drop, a counting echo service, bounded waits everywhere.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_milagro-tunnel");
pub const WAIT: Duration = Duration::from_secs(15);

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let p =
            std::env::temp_dir().join(format!("milagro-tunnel-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
    /// Writes a file readable by its owner only (as PSKsecrets must be).
    pub fn private(&self, name: &str, contents: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let p = self.path(name);
        std::fs::write(&p, contents).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running `milagro-tunnel`; killed on drop.
pub struct Tunnel {
    pub child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    pub log: PathBuf,
}

impl Tunnel {
    pub fn spawn(dir: &TempDir, tag: &str, args: &[&str]) -> Self {
        Self::spawn_program(dir, tag, BIN, args)
    }

    /// As [`Tunnel::spawn`], through `program` (e.g. a shell that `exec`s the tunnel).
    pub fn spawn_program(dir: &TempDir, tag: &str, program: &str, args: &[&str]) -> Self {
        let log = dir.path(&format!("{tag}.log"));
        let err = std::fs::File::create(&log).unwrap();
        let mut child = Command::new(program)
            .args(args)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(err))
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            lines: rx,
            seen: Vec::new(),
            log,
        }
    }

    /// Next stdout line starting with `prefix` (bounded wait).
    pub fn wait_stdout(&mut self, prefix: &str) -> String {
        if let Some(l) = self.seen.iter().find(|l| l.starts_with(prefix)) {
            return l.clone();
        }
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    self.seen.push(l.clone());
                    if l.starts_with(prefix) {
                        return l;
                    }
                }
                Err(_) => panic!(
                    "no stdout line {prefix:?} from the tunnel; log:\n{}",
                    self.log_text()
                ),
            }
        }
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

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log contains `needle` `count` times.
    pub fn wait_log_count(&self, needle: &str, count: usize) {
        let deadline = Instant::now() + WAIT;
        while self.log_text().matches(needle).count() < count {
            assert!(
                Instant::now() < deadline,
                "log never contained {needle:?} x{count}:\n{}",
                self.log_text()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn wait_log(&self, needle: &str) {
        self.wait_log_count(needle, 1);
    }

    pub fn signal(&self, sig: &str) {
        let st = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(st.success());
    }

    /// Exit status if the process ends within `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return Some(st);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Tunnel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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

/// A server tunnel (TLS in, plaintext to `connect`) from flags.
pub fn server(dir: &TempDir, tag: &str, psk: &Path, connect: &str, extra: &[&str]) -> Tunnel {
    let mut args = vec![
        "server",
        "--accept",
        "127.0.0.1:0",
        "--connect",
        connect,
        "--psk-secrets",
        s(psk),
    ];
    args.extend_from_slice(extra);
    Tunnel::spawn(dir, tag, &args)
}

/// A client tunnel (plaintext in, TLS to `connect`) from flags.
pub fn client(dir: &TempDir, tag: &str, psk: &Path, connect: &str, extra: &[&str]) -> Tunnel {
    let mut args = vec![
        "client",
        "--accept",
        "127.0.0.1:0",
        "--connect",
        connect,
        "--psk-secrets",
        s(psk),
    ];
    args.extend_from_slice(extra);
    Tunnel::spawn(dir, tag, &args)
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
