//! Helpers shared by the interoperability tests (tests live in `tests/`): payloads, peer
//! tools, and an in-process milagro-tls client/server driven against real peers; process
//! guards, temp dirs and loopback ports are `test_support`'s (re-exported here).
//!
//! ```
//! assert!(interop_tests::LOOPBACK.starts_with("127."));
//! let p = interop_tests::text_payload(128);
//! assert_eq!(p.len(), 128);
//! assert_eq!(interop_tests::reverse_lines(&interop_tests::reverse_lines(&p)), p);
//! ```
#![forbid(unsafe_code)]

use std::io;
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use milagro_tls::{
    CipherSuite, ClientConfig, Connector, HashAlgorithm, NamedGroup, Negotiated, Psk,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub use test_support::{free_port, wait_for_port, ProcessGuard, TempDir, LOOPBACK};

/// The PSK identity used by the tests.
pub const IDENTITY: &str = "client1";

/// The PSK (hex) used by the tests.
pub const KEY_HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

/// A different key, for negative tests.
pub const WRONG_KEY_HEX: &str = "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

/// Payload size for the bulk tests.
pub const MIB: usize = 1 << 20;

/// True if `tool` is on PATH.
pub fn has_tool(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Panics with an installation hint when a peer tool is missing (CI installs
/// them; a silent skip would hide a broken setup).
pub fn require_tool(tool: &str) {
    assert!(
        has_tool(tool),
        "{tool} not found: install openssl, gnutls-bin, stunnel4 and socat (apt-get install -y gnutls-bin stunnel4 socat)"
    );
}

/// `len` bytes of text lines (63 printable characters + `\n`), free of the
/// characters and sequences peers treat as commands.
pub fn text_payload(len: usize) -> Vec<u8> {
    const ALPHA: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut x: u32 = 0x1234_5678;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        if out.len() % 64 == 63 {
            out.push(b'\n');
        } else {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            out.push(ALPHA[(x % ALPHA.len() as u32) as usize]);
        }
    }
    out
}

/// Reverses every `\n`-terminated line (what `openssl s_server -rev` sends).
pub fn reverse_lines(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    for line in data.split_inclusive(|b| *b == b'\n') {
        let body = line.strip_suffix(b"\n").unwrap_or(line);
        out.extend(body.iter().rev());
        if line.ends_with(b"\n") {
            out.push(b'\n');
        }
    }
    out
}

/// Decodes hex (test constants only).
pub fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .filter_map(|i| u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}

/// The PSK for `key_hex`, bound to SHA-256.
pub fn psk(identity: &str, key_hex: &str) -> Psk {
    match Psk::new(identity.as_bytes(), &unhex(key_hex), HashAlgorithm::Sha256) {
        Ok(p) => p,
        Err(e) => unreachable!("test PSK constants are valid: {e}"),
    }
}

/// Outcome of [`client_roundtrip`].
#[derive(Debug)]
pub struct Roundtrip {
    /// What the handshake agreed.
    pub negotiated: Negotiated,
    /// Bytes received from the peer.
    pub received: Vec<u8>,
    /// KeyUpdates received from the peer.
    pub peer_key_updates: usize,
    /// NewSessionTickets received from the peer.
    pub tickets: usize,
    /// Our connection's counters (KeyUpdates sent and received, AEAD-limit
    /// rekeys).
    pub local: milagro_tls::ConnectionStats,
}

/// Our client (in process): connects to `port`, sends `payload` (with a
/// KeyUpdate after the first 4 KiB), reads until `expect_len` bytes came
/// back, then sends close_notify. Bounded by `timeout`.
pub fn client_roundtrip(
    port: u16,
    psk: Psk,
    suites: &[CipherSuite],
    groups: &[NamedGroup],
    payload: &[u8],
    expect_len: usize,
    timeout: Duration,
) -> io::Result<Roundtrip> {
    let mut config = ClientConfig::new(psk);
    config.options.cipher_suites = suites.to_vec();
    config.options.groups = groups.to_vec();
    client_roundtrip_with(port, config, payload, expect_len, timeout)
}

/// [`client_roundtrip`] with a complete client configuration (for example
/// with lowered [`limits`](milagro_tls::ConnectionLimits)).
pub fn client_roundtrip_with(
    port: u16,
    config: ClientConfig,
    payload: &[u8],
    expect_len: usize,
    timeout: Duration,
) -> io::Result<Roundtrip> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let payload = payload.to_vec();
    let connector = Connector::new(Arc::new(config)).with_handshake_timeout(timeout);
    rt.block_on(async move {
        let fut = async {
            let sock = tokio::net::TcpStream::connect((LOOPBACK, port)).await?;
            let mut tls = connector.connect(sock).await?;
            // a small first part, then a KeyUpdate (the peer answers with its
            // own), then the rest: exercises KeyUpdate both ways with real peers
            let first = payload.len().min(4096);
            tls.write_all(&payload[..first]).await?;
            tls.refresh_traffic_keys().map_err(io::Error::from)?;
            let payload = payload[first..].to_vec();
            let negotiated = tls
                .negotiated()
                .cloned()
                .ok_or_else(|| io::Error::other("no negotiated parameters"))?;
            let (mut r, mut w) = tls.split();
            let writer = tokio::spawn(async move {
                w.write_all(&payload).await?;
                w.flush().await?;
                Ok::<_, io::Error>(w)
            });
            let mut received = Vec::with_capacity(expect_len);
            let mut buf = vec![0u8; 64 * 1024];
            while received.len() < expect_len {
                let n = r.read(&mut buf).await?;
                if n == 0 {
                    break;
                }
                received.extend_from_slice(&buf[..n]);
            }
            let w = writer.await.map_err(io::Error::other)??;
            let mut tls = r.unsplit(w);
            let _ = tls.shutdown().await;
            let local = tls.connection().stats();
            let (mut peer_key_updates, mut tickets) = (0, 0);
            while let Some(e) = tls.next_event() {
                match e {
                    milagro_tls::Event::PeerKeyUpdate => peer_key_updates += 1,
                    milagro_tls::Event::SessionTicket(_) => tickets += 1,
                    _ => {}
                }
            }
            Ok(Roundtrip {
                negotiated,
                received,
                peer_key_updates,
                tickets,
                local,
            })
        };
        tokio::time::timeout(timeout, fut)
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "interop round trip timed out"))?
    })
}

/// Starts our server (in process, on a background thread with its own
/// runtime) on a free port: echoes every connection. Returns the port and a
/// receiver of one line per connection outcome (`ok ...` or `err ...`).
pub fn spawn_our_server(
    config: milagro_tls::ServerConfig,
) -> io::Result<(
    u16,
    std::sync::mpsc::Receiver<Result<Negotiated, milagro_tls::Error>>,
)> {
    let listener = TcpListener::bind((LOOPBACK, 0))?;
    listener.set_nonblocking(true)?;
    let port = listener.local_addr()?.port();
    let (tx, rx) = std::sync::mpsc::channel();
    let acceptor = milagro_tls::Acceptor::new(Arc::new(config))
        .with_handshake_timeout(Duration::from_secs(10));
    std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(async move {
            let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                return;
            };
            // bounded: the thread ends after 30 s or when the receiver is gone
            let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
            while let Ok(Ok((sock, _))) = tokio::time::timeout_at(deadline, listener.accept()).await
            {
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    match acceptor.accept(sock).await {
                        Ok(tls) => {
                            let n = tls.negotiated().cloned();
                            let (mut r, mut w) = tls.split();
                            let _ = tokio::io::copy(&mut r, &mut w).await;
                            let _ = w.shutdown().await;
                            if let Some(n) = n {
                                let _ = tx.send(Ok(n));
                            }
                        }
                        Err(e) => {
                            let err = milagro_tls::stream::tls_error(&e)
                                .cloned()
                                .unwrap_or(milagro_tls::Error::UnexpectedEof);
                            let _ = tx.send(Err(err));
                        }
                    }
                });
            }
        });
    });
    Ok((port, rx))
}

/// Feeds `input` to a child's stdin (keeping it open) and collects its
/// stdout until `want` bytes arrived or `timeout` passed.
pub fn pipe_through(
    guard: &mut ProcessGuard,
    input: Vec<u8>,
    want: usize,
    timeout: Duration,
) -> Vec<u8> {
    let child = &mut guard.child;
    let stdin = child.stdin.take();
    let stdout = child.stdout.take();
    let writer = std::thread::spawn(move || {
        if let Some(mut s) = stdin {
            let _ = io::Write::write_all(&mut s, &input);
            let _ = io::Write::flush(&mut s);
            // keep stdin open so the peer does not close early
            std::thread::sleep(Duration::from_secs(60));
        }
    });
    drop(writer);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let Some(mut out) = stdout else { return };
        let mut buf = vec![0u8; 64 * 1024];
        let mut got = Vec::new();
        while got.len() < want {
            match io::Read::read(&mut out, &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
        let _ = tx.send(got);
    });
    rx.recv_timeout(timeout).unwrap_or_default()
}
