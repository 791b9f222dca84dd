//! Post-handshake bounds through the tokio adapter over real 127.0.0.1
//! sockets: a peer that floods KeyUpdates or requests and never reads, and
//! a transfer past a lowered AEAD usage limit.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use milagro_tls::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::time::timeout;

const KEY: &[u8] = b"post-auth-stream-key-0123456789";
const STEP: Duration = Duration::from_secs(20);

fn psk() -> Psk {
    Psk::new(b"client1", KEY, HashAlgorithm::Sha256).unwrap()
}

fn server_config() -> ServerConfig {
    let store: StaticPskStore = [psk()].into_iter().collect();
    ServerConfig::new(Arc::new(store))
}

/// A listener on a free loopback port whose accepted sockets have small
/// kernel buffers, so a peer that does not read blocks us quickly.
fn small_listener() -> (TcpListener, SocketAddr) {
    let s = TcpSocket::new_v4().unwrap();
    s.set_send_buffer_size(4096).unwrap();
    s.set_recv_buffer_size(4096).unwrap();
    s.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let l = s.listen(8).unwrap();
    let addr = l.local_addr().unwrap();
    (l, addr)
}

async fn small_connect(addr: SocketAddr) -> TcpStream {
    let s = TcpSocket::new_v4().unwrap();
    s.set_send_buffer_size(4096).unwrap();
    s.set_recv_buffer_size(4096).unwrap();
    s.connect(addr).await.unwrap()
}

/// An attacker driving the sans-IO client by hand over `tcp`: runs the
/// handshake (bounded in rounds).
async fn raw_handshake(tcp: &mut TcpStream) -> ConnectionCommon {
    let mut c = ClientConnection::new(Arc::new(ClientConfig::new(psk())))
        .unwrap()
        .into_common();
    let mut buf = vec![0u8; 64 * 1024];
    for _ in 0..50 {
        let out = c.take_tls();
        tcp.write_all(&out).await.unwrap();
        if !c.is_handshaking() {
            return c;
        }
        let n = timeout(STEP, tcp.read(&mut buf)).await.unwrap().unwrap();
        assert!(n > 0, "server closed during the handshake");
        c.read_tls(&buf[..n]);
        c.process_new_packets().unwrap();
    }
    panic!("handshake did not finish");
}

/// Reads and processes until close_notify (bounded by `STEP` per read).
async fn raw_read_to_close(tcp: &mut TcpStream, c: &mut ConnectionCommon) -> Vec<u8> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut got = Vec::new();
    while !c.peer_has_closed() {
        let n = timeout(STEP, tcp.read(&mut buf)).await.unwrap().unwrap();
        assert!(n > 0, "EOF before close_notify");
        c.read_tls(&buf[..n]);
        c.process_new_packets().unwrap();
        let mut plain = vec![0u8; c.plaintext_len()];
        let k = c.read_plaintext(&mut plain);
        got.extend_from_slice(&plain[..k]);
    }
    got
}

const FLOOD: usize = 100_000;

/// The attack: 100,000 KeyUpdates with update_requested from a peer that
/// never reads. Each would need a reply; unbounded, the replies pile up in
/// the server's output (2.7 MB here). The server's queued output must stay
/// at a reply or so, and the replies actually sent stay few (coalesced).
#[tokio::test]
async fn key_update_flood_from_a_peer_that_never_reads_keeps_memory_bounded() {
    let (listener, addr) = small_listener();
    let acceptor = Acceptor::new(Arc::new(server_config()));
    let server = tokio::spawn(async move {
        let (sock, _) = listener.accept().await.unwrap();
        let mut tls = acceptor.accept(sock).await.unwrap();
        let (mut max_out, mut max_events) = (0, 0);
        let mut got = Vec::new();
        let mut buf = [0u8; 1024];
        while !got.ends_with(b"end") {
            let n = timeout(STEP, tls.read(&mut buf)).await.unwrap().unwrap();
            assert!(n > 0);
            got.extend_from_slice(&buf[..n]);
            max_out = max_out.max(tls.buffered_tls_out());
            max_events = max_events.max(tls.connection().pending_events());
        }
        tls.write_all(b"pong").await.unwrap();
        tls.shutdown().await.unwrap();
        let stats = tls.connection().stats();
        (max_out, max_events, stats, got.len())
    });
    let mut tcp = small_connect(addr).await;
    let mut c = raw_handshake(&mut tcp).await;
    // the flood, with a one-byte request after every 1,000 KeyUpdates so
    // the server's application observes its state a hundred times
    for _ in 0..FLOOD / 1000 {
        for _ in 0..1000 {
            c.refresh_traffic_keys().unwrap();
        }
        c.write_plaintext(b".").unwrap();
        timeout(STEP, tcp.write_all(&c.take_tls()))
            .await
            .unwrap()
            .unwrap();
    }
    c.write_plaintext(b"end").unwrap();
    timeout(STEP, tcp.write_all(&c.take_tls()))
        .await
        .unwrap()
        .unwrap();
    // only now does the attacker read
    let got = raw_read_to_close(&mut tcp, &mut c).await;
    let (max_out, max_events, stats, n) = timeout(STEP, server).await.unwrap().unwrap();
    assert_eq!(n, FLOOD / 1000 + 3);
    assert_eq!(
        got, b"pong",
        "the coalesced replies kept both sides in step"
    );
    println!("server: max queued output {max_out} B, {stats:?}");
    assert!(max_out <= 1024, "queued output grew to {max_out} bytes");
    assert!(max_events <= ConnectionLimits::default().max_events);
    assert_eq!(stats.key_updates_received, FLOOD as u64);
    assert!(
        stats.key_updates_sent < (FLOOD / 10) as u64,
        "{} replies for {FLOOD} requests",
        stats.key_updates_sent
    );
    assert_eq!(c.stats().key_updates_received, stats.key_updates_sent);
}

/// A peer floods requests to an echo server and never reads the answers:
/// the server's sealed-but-unsent output stays within its write bound (half
/// of 64 KiB here, plus one record), the echo loop stops reading, and so the
/// peer's writes block (TCP flow control) long before 64 MiB.
#[tokio::test]
async fn echo_flood_from_a_peer_that_never_reads_is_bounded() {
    const CAP: usize = 64 * 1024;
    let (listener, addr) = small_listener();
    let mut sc = server_config();
    sc.limits.max_tls_out = CAP;
    let acceptor = Acceptor::new(Arc::new(sc));
    let server = tokio::spawn(async move {
        let (sock, _) = listener.accept().await.unwrap();
        let mut tls = acceptor.accept(sock).await.unwrap();
        let mut max_out = 0;
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n) = tls.read(&mut buf).await {
            if n == 0 || tls.write_all(&buf[..n]).await.is_err() {
                break;
            }
            max_out = max_out.max(tls.buffered_tls_out());
        }
        max_out.max(tls.buffered_tls_out())
    });
    let connector = Connector::new(Arc::new(ClientConfig::new(psk())));
    let mut tls = connector.connect(small_connect(addr).await).await.unwrap();
    let chunk = vec![0x42u8; 16 * 1024];
    let (mut sent, mut blocked) = (0usize, false);
    while sent < 64 << 20 {
        match timeout(Duration::from_secs(1), tls.write_all(&chunk)).await {
            Ok(r) => r.unwrap(),
            Err(_) => {
                blocked = true;
                break;
            }
        }
        sent += chunk.len();
    }
    let client_out = tls.buffered_tls_out();
    drop(tls);
    let max_out = timeout(STEP, server).await.unwrap().unwrap();
    println!("peer pushed {sent} B before blocking; server max queued output {max_out} B");
    assert!(blocked, "the server kept reading: {sent} bytes accepted");
    assert!(
        max_out <= CAP / 2 + 16 * 1024 + 256,
        "server queued {max_out}"
    );
    // the attacker's own adapter did not take unbounded plaintext either
    let bound = ConnectionLimits::default().max_tls_out / 2 + 16 * 1024 + 256;
    assert!(client_out <= bound, "client queued {client_out}");
}

/// Both sides rekey on their own before a lowered AEAD usage limit (16
/// records per key) during a 4 MiB echo, and every byte comes back intact.
#[tokio::test]
async fn transfer_past_lowered_aead_limit_rekeys_and_stays_correct() {
    const LIMIT: u64 = 16;
    const LEN: usize = 4 << 20;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut sc = server_config();
    sc.limits.aead_record_limit = Some(LIMIT);
    let acceptor = Acceptor::new(Arc::new(sc));
    let server = tokio::spawn(async move {
        let (sock, _) = listener.accept().await.unwrap();
        let tls = acceptor.accept(sock).await.unwrap();
        let (mut r, mut w) = tls.split();
        let n = tokio::io::copy(&mut r, &mut w).await.unwrap();
        w.shutdown().await.unwrap();
        (n, r.unsplit(w).connection().stats())
    });
    let mut cc = ClientConfig::new(psk());
    cc.limits.aead_record_limit = Some(LIMIT);
    let connector = Connector::new(Arc::new(cc));
    let tls = connector
        .connect(TcpStream::connect(addr).await.unwrap())
        .await
        .unwrap();
    let data: Vec<u8> = (0..LEN as u32).map(|i| (i % 253) as u8).collect();
    let (mut r, mut w) = tls.split();
    let sent = data.clone();
    let writer = tokio::spawn(async move {
        w.write_all(&sent).await.unwrap();
        w.shutdown().await.unwrap();
        w
    });
    let mut got = Vec::new();
    timeout(STEP, r.read_to_end(&mut got))
        .await
        .unwrap()
        .unwrap();
    let w = timeout(STEP, writer).await.unwrap().unwrap();
    let client = r.unsplit(w).connection().stats();
    let (echoed, server) = timeout(STEP, server).await.unwrap().unwrap();
    assert_eq!(echoed, LEN as u64);
    assert!(got == data, "echo corrupted");
    // 4 MiB is at least 256 full records; one key seals at most LIMIT - 1
    // of them plus its KeyUpdate
    let min = 256u64.div_ceil(LIMIT - 1) - 1;
    println!("client {client:?}\nserver {server:?}");
    for (side, peer) in [(client, server), (server, client)] {
        assert!(side.limit_rekeys >= min, "{side:?}");
        assert_eq!(peer.key_updates_received, side.key_updates_sent);
    }
}
