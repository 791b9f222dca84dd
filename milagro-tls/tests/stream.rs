//! Tests of the tokio adapter over in-memory pipes and loopback TCP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::sync::Arc;
use std::time::Duration;

use milagro_tls::stream::tls_error;
use milagro_tls::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const KEY: &[u8] = b"stream-test-key-0123456789abcdef";

fn configs(client_key: &[u8]) -> (Connector, Acceptor) {
    let p = Psk::new(b"client1", KEY, HashAlgorithm::Sha256).unwrap();
    let store: StaticPskStore = [p].into_iter().collect();
    let cp = Psk::new(b"client1", client_key, HashAlgorithm::Sha256).unwrap();
    (
        Connector::new(Arc::new(ClientConfig::new(cp)))
            .with_handshake_timeout(Duration::from_secs(5)),
        Acceptor::new(Arc::new(ServerConfig::new(Arc::new(store))))
            .with_handshake_timeout(Duration::from_secs(5)),
    )
}

#[tokio::test]
async fn one_mib_both_ways_with_split_and_close_notify() {
    let (connector, acceptor) = configs(KEY);
    let (a, b) = tokio::io::duplex(64 * 1024);
    let server = tokio::spawn(async move {
        let tls = acceptor.accept(b).await.unwrap();
        assert_eq!(tls.psk_identity(), Some(&b"client1"[..]));
        let (mut r, mut w) = tls.split();
        // echo until close_notify
        let n = tokio::io::copy(&mut r, &mut w).await.unwrap();
        w.shutdown().await.unwrap();
        n
    });
    let tls = connector.connect(a).await.unwrap();
    assert_eq!(tls.cipher_suite(), Some(CipherSuite::Aes128GcmSha256));
    assert_eq!(tls.group(), Some(NamedGroup::X25519Mlkem768));
    let data: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 253) as u8).collect();
    let (mut r, mut w) = tls.split();
    let sent = data.clone();
    let writer = tokio::spawn(async move {
        w.write_all(&sent).await.unwrap();
        w.shutdown().await.unwrap();
    });
    let mut got = Vec::new();
    r.read_to_end(&mut got).await.unwrap();
    writer.await.unwrap();
    assert_eq!(got, data);
    assert_eq!(server.await.unwrap(), 1 << 20);
}

#[tokio::test]
async fn tcp_loopback_exporter_matches() {
    let (connector, acceptor) = configs(KEY);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (sock, _) = listener.accept().await.unwrap();
        let mut tls = acceptor.accept(sock).await.unwrap();
        let mut ekm = [0u8; 32];
        tls.export_keying_material(&mut ekm, b"EXPORTER-test", b"")
            .unwrap();
        let mut buf = [0u8; 5];
        tls.read_exact(&mut buf).await.unwrap();
        tls.write_all(&buf).await.unwrap();
        tls.shutdown().await.unwrap();
        ekm
    });
    let sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut tls = connector.connect(sock).await.unwrap();
    tls.refresh_traffic_keys().unwrap();
    tls.write_all(b"hello").await.unwrap();
    let mut echoed = Vec::new();
    tls.read_to_end(&mut echoed).await.unwrap();
    assert_eq!(echoed, b"hello");
    let mut ekm = [0u8; 32];
    tls.export_keying_material(&mut ekm, b"EXPORTER-test", b"")
        .unwrap();
    assert_eq!(ekm, server.await.unwrap());
}

#[tokio::test]
async fn wrong_key_fails_on_both_sides() {
    let (connector, acceptor) = configs(b"another-key-0123456789abcdef");
    let (a, b) = tokio::io::duplex(64 * 1024);
    let server = tokio::spawn(async move { acceptor.accept(b).await.map(|_| ()) });
    let ce = connector.connect(a).await.unwrap_err();
    let se = server.await.unwrap().unwrap_err();
    assert_eq!(tls_error(&se), Some(&Error::BadPskBinder));
    assert_eq!(
        tls_error(&ce),
        Some(&Error::AlertReceived(AlertDescription::DecryptError))
    );
}

#[tokio::test]
async fn handshake_times_out() {
    let (connector, _) = configs(KEY);
    let connector = connector.with_handshake_timeout(Duration::from_millis(200));
    let (a, _b) = tokio::io::duplex(64 * 1024);
    let e = connector.connect(a).await.unwrap_err();
    assert_eq!(tls_error(&e), Some(&Error::HandshakeTimeout));
    assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
}

#[tokio::test]
async fn eof_without_close_notify_is_an_error() {
    let (connector, acceptor) = configs(KEY);
    let (a, b) = tokio::io::duplex(64 * 1024);
    let server = tokio::spawn(async move {
        let tls = acceptor.accept(b).await.unwrap();
        drop(tls); // transport closed, no close_notify
    });
    let mut tls = connector.connect(a).await.unwrap();
    server.await.unwrap();
    let mut buf = Vec::new();
    let e = tls.read_to_end(&mut buf).await.unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof);
}

#[tokio::test]
async fn transport_closed_during_handshake() {
    let (_, acceptor) = configs(KEY);
    let (a, b) = tokio::io::duplex(1024);
    drop(a);
    let e = acceptor.accept(b).await.unwrap_err();
    assert_eq!(tls_error(&e), Some(&Error::UnexpectedEof));
}

/// An empty write returns 0 and seals no record (observed through the
/// lowered AEAD limit: with 2 records per key, any sealed record would make
/// the next one rekey).
#[tokio::test]
async fn empty_write_seals_nothing() {
    let (_, acceptor) = configs(KEY);
    let mut cc = ClientConfig::new(Psk::new(b"client1", KEY, HashAlgorithm::Sha256).unwrap());
    cc.limits.aead_record_limit = Some(2);
    let connector = Connector::new(Arc::new(cc));
    let (a, b) = tokio::io::duplex(64 * 1024);
    let server = tokio::spawn(async move { acceptor.accept(b).await.unwrap() });
    let mut tls = connector.connect(a).await.unwrap();
    let _server = server.await.unwrap();
    for _ in 0..3 {
        assert_eq!(tls.write(&[]).await.unwrap(), 0);
    }
    assert_eq!(tls.buffered_tls_out(), 0);
    assert_eq!(tls.connection().stats().key_updates_sent, 0);
    tls.write_all(b"x").await.unwrap();
    tls.write_all(b"y").await.unwrap();
    assert_eq!(tls.connection().stats().limit_rekeys, 1);
}

/// After 200 KiB both ways (full records, read back in small pieces), an idle
/// connection holds no record buffer on either side: the receive, plaintext
/// and output buffers are freed once empty (10,000 idle connections would
/// otherwise keep up to ~100 KiB each).
#[tokio::test]
async fn idle_connection_holds_no_record_buffers() {
    let (connector, acceptor) = configs(KEY);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let (sock, _) = listener.accept().await.unwrap();
        let mut tls = acceptor.accept(sock).await.unwrap();
        let mut buf = vec![0u8; 200 * 1024];
        for chunk in buf.chunks_mut(1000) {
            tls.read_exact(chunk).await.unwrap();
        }
        tls.write_all(&buf).await.unwrap();
        tls.flush().await.unwrap();
        done_rx.await.unwrap();
        tls.buffer_capacity()
    });
    let sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut tls = connector.connect(sock).await.unwrap();
    let data: Vec<u8> = (0..200 * 1024).map(|i: u32| (i % 251) as u8).collect();
    tls.write_all(&data).await.unwrap();
    tls.flush().await.unwrap();
    let mut got = vec![0u8; data.len()];
    for chunk in got.chunks_mut(777) {
        tls.read_exact(chunk).await.unwrap();
    }
    assert_eq!(got, data);
    assert_eq!(
        tls.buffer_capacity(),
        0,
        "client side holds buffers while idle"
    );
    done_tx.send(()).unwrap();
    assert_eq!(
        server.await.unwrap(),
        0,
        "server side holds buffers while idle"
    );
}
