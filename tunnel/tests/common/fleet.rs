//! Fleet helpers: M-Pin server replicas and client tunnels from flags, a switchable recording
//! TCP proxy (a load balancer, and an eavesdropper keeping what a client sent first), raw replay.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use super::{s, tunnel, TempDir, Tunnel, WAIT};

/// A ticket key file shared by the replicas (current key only).
pub const TICKET_KEYS: &str =
    "0a0b0c0d 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n";

/// An M-Pin server replica on `state`; generous rate limit (all clients are 127.0.0.1).
pub fn replica(
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
pub fn mpin_client_on(
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
pub fn login(addr: &str, msg: &[u8]) -> bool {
    login_within(addr, msg, WAIT)
}

/// As [`login`], each read and write bounded by `limit`; false when it is closed first.
pub fn login_within(addr: &str, msg: &[u8], limit: Duration) -> bool {
    let Ok(mut s) = TcpStream::connect(addr) else {
        return false;
    };
    s.set_read_timeout(Some(limit)).unwrap();
    s.set_write_timeout(Some(limit)).unwrap();
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
pub struct Proxy {
    pub addr: String,
    targets: Arc<Mutex<Vec<String>>>,
    current: Arc<AtomicUsize>,
    records: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Proxy {
    pub fn start(targets: &[&str]) -> Self {
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

    pub fn switch(&self, to: usize) {
        self.current.store(to, Ordering::SeqCst);
    }

    pub fn set_target(&self, i: usize, addr: &str) {
        self.targets.lock().unwrap()[i] = addr.to_string();
    }

    pub fn record(&self, i: usize) -> Vec<u8> {
        self.records.lock().unwrap()[i].clone()
    }
}

pub fn pump(down: TcpStream, up: TcpStream, records: Arc<Mutex<Vec<Vec<u8>>>>, slot: usize) {
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
pub fn replay(addr: &str, bytes: &[u8]) -> Vec<u8> {
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
