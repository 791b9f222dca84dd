//! The M-Pin channel over real sockets on 127.0.0.1: M-Pin Full, then TLS 1.3 with the
//! RFC 9258-imported PSK; plain TLS-PSK peers on the same acceptor; every refusal.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use milagro_tls::mpin::{
    mpin_error, MpinAcceptor, MpinClientConfig, MpinConnector, MpinError, MpinServerConfig, Peer,
};
use milagro_tls::{ClientConfig, Connector, HashAlgorithm, Psk, StaticPskStore};
use mpin_kex::*;
use rand_core::OsRng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const ID: &[u8] = b"alice@example.com";

struct World {
    dtas: Vec<MasterShare>,
    ss: ServerSecret,
}

impl World {
    fn new() -> Self {
        let dtas: Vec<_> = (0..2).map(|_| MasterShare::generate(&mut OsRng)).collect();
        let ss = ServerSecret::combine(
            &dtas
                .iter()
                .map(MasterShare::server_secret_share)
                .collect::<Vec<_>>(),
        )
        .unwrap();
        Self { dtas, ss }
    }

    fn credential(&self, pin: u32, permit: bool) -> Arc<Credential> {
        let h = HashedId::of(ID);
        let cs = ClientSecret::combine(
            &self
                .dtas
                .iter()
                .map(|d| d.client_secret_share(&h))
                .collect::<Vec<_>>(),
        )
        .unwrap();
        let token = Token::extract(&cs, ID, &Pin::new(pin).unwrap()).unwrap();
        let day = policy::day_of(milagro_tls::mpin::system_clock());
        let permit = permit.then(|| {
            TimePermit::combine(
                &self
                    .dtas
                    .iter()
                    .map(|d| d.time_permit_share(&h, day).unwrap())
                    .collect::<Vec<_>>(),
            )
            .unwrap()
        });
        Arc::new(Credential::new(ID, token, permit).unwrap())
    }

    fn server(&self, policy: ServerPolicy) -> MpinServerConfig {
        MpinServerConfig::new(ServerContext::new(
            ServerKey::new(self.ss.clone()).unwrap(),
            policy,
        ))
    }
}

/// Starts a one-connection server; returns its address and the accept result (after echoing).
async fn serve_once(
    cfg: MpinServerConfig,
) -> (
    std::net::SocketAddr,
    tokio::task::JoinHandle<Result<Peer, std::io::Error>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = MpinAcceptor::new(Arc::new(cfg)).with_handshake_timeout(Duration::from_secs(5));
    let task = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await?;
        let (mut tls, peer) = acceptor.accept(tcp).await?;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = tls.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            tls.write_all(&buf[..n]).await?;
        }
        tls.shutdown().await?;
        Ok(peer)
    });
    (addr, task)
}

async fn echo_through(stream: &mut (impl AsyncReadExt + AsyncWriteExt + Unpin), len: usize) {
    let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
    stream.write_all(&data).await.unwrap();
    let mut back = vec![0u8; len];
    stream.read_exact(&mut back).await.unwrap();
    assert_eq!(back, data);
}

async fn run_mode(mode: Mode, permit: bool) {
    let w = World::new();
    let policy = ServerPolicy {
        require_permits: permit,
        ..ServerPolicy::default()
    };
    let (addr, server) = serve_once(w.server(policy)).await;
    let mut cfg = MpinClientConfig::new(w.credential(1234, permit), Pin::new(1234).unwrap());
    cfg.mode = mode;
    let tcp = TcpStream::connect(addr).await.unwrap();
    let mut tls = MpinConnector::new(Arc::new(cfg))
        .connect(tcp)
        .await
        .unwrap();
    assert_eq!(
        tls.cipher_suite(),
        Some(milagro_tls::CipherSuite::Aes128GcmSha256)
    );
    echo_through(&mut tls, 256 * 1024).await;
    tls.shutdown().await.unwrap();
    let mut rest = Vec::new();
    tls.read_to_end(&mut rest).await.unwrap();
    let peer = tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let Peer::Mpin { identity, mode: m, day, .. } = peer else {
        unreachable!("expected an M-Pin peer, got {peer:?}");
    };
    assert_eq!(identity, ID);
    assert_eq!(m, mode);
    assert_eq!(day != 0, permit);
}

#[tokio::test]
async fn multi_pass_with_permit_carries_data_both_ways() {
    run_mode(Mode::MultiPass, true).await;
}

#[tokio::test]
async fn multi_pass_without_permit_carries_data_both_ways() {
    run_mode(Mode::MultiPass, false).await;
}

#[tokio::test]
async fn one_pass_with_permit_carries_data_both_ways() {
    run_mode(Mode::OnePass, true).await;
}

#[tokio::test]
async fn wrong_pin_gets_one_generic_failure_and_no_tls() {
    let w = World::new();
    let (addr, server) = serve_once(w.server(ServerPolicy::default())).await;
    let cfg = MpinClientConfig::new(w.credential(1234, true), Pin::new(4321).unwrap());
    let tcp = TcpStream::connect(addr).await.unwrap();
    let err = MpinConnector::new(Arc::new(cfg))
        .connect(tcp)
        .await
        .unwrap_err();
    assert!(
        matches!(mpin_error(&err), Some(MpinError::Refused)),
        "{err}"
    );
    let server_err = server.await.unwrap().unwrap_err();
    assert!(
        matches!(
            mpin_error(&server_err),
            Some(MpinError::Auth(AuthError::BadProof { .. }))
        ),
        "{server_err}"
    );
}

#[tokio::test]
async fn missing_permit_is_refused() {
    let w = World::new();
    let (addr, server) = serve_once(w.server(ServerPolicy::default())).await;
    let cfg = MpinClientConfig::new(w.credential(1, false), Pin::new(1).unwrap());
    let err = MpinConnector::new(Arc::new(cfg))
        .connect(TcpStream::connect(addr).await.unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(mpin_error(&err), Some(MpinError::Refused)),
        "{err}"
    );
    let server_err = server.await.unwrap().unwrap_err();
    assert!(
        matches!(
            mpin_error(&server_err),
            Some(MpinError::Auth(AuthError::PermitRequired))
        ),
        "{server_err}"
    );
}

#[tokio::test]
async fn different_server_labels_fail_at_the_psk_binder() {
    let w = World::new();
    let mut scfg = w.server(ServerPolicy::default());
    scfg.server_label = b"db.internal".to_vec();
    let (addr, server) = serve_once(scfg).await;
    let mut cfg = MpinClientConfig::new(w.credential(5, true), Pin::new(5).unwrap());
    cfg.server_label = b"web.internal".to_vec();
    let err = MpinConnector::new(Arc::new(cfg))
        .connect(TcpStream::connect(addr).await.unwrap())
        .await
        .unwrap_err();
    assert!(matches!(mpin_error(&err), Some(MpinError::Tls(_))), "{err}");
    let server_err = server.await.unwrap().unwrap_err();
    assert!(
        matches!(
            mpin_error(&server_err),
            Some(MpinError::Tls(milagro_tls::Error::BadPskBinder))
        ),
        "{server_err}"
    );
}

#[tokio::test]
async fn plain_tls_psk_peers_share_the_port() {
    let w = World::new();
    let psk = Psk::new(
        b"legacy",
        b"0123456789abcdef0123456789abcdef",
        HashAlgorithm::Sha256,
    )
    .unwrap();
    let mut scfg = w.server(ServerPolicy::default());
    scfg.static_psks = Some(Arc::new(
        [psk.clone()].into_iter().collect::<StaticPskStore>(),
    ));
    let (addr, server) = serve_once(scfg).await;
    let tcp = TcpStream::connect(addr).await.unwrap();
    let mut tls = Connector::new(Arc::new(ClientConfig::new(psk)))
        .connect(tcp)
        .await
        .unwrap();
    echo_through(&mut tls, 1000).await;
    tls.shutdown().await.unwrap();
    let peer = server.await.unwrap().unwrap();
    assert_eq!(
        peer,
        Peer::Psk {
            identity: b"legacy".to_vec()
        }
    );
}

#[tokio::test]
async fn without_a_static_store_plain_tls_is_refused() {
    let w = World::new();
    let (addr, server) = serve_once(w.server(ServerPolicy::default())).await;
    let psk = Psk::new(
        b"legacy",
        b"0123456789abcdef0123456789abcdef",
        HashAlgorithm::Sha256,
    )
    .unwrap();
    let tcp = TcpStream::connect(addr).await.unwrap();
    let _ = Connector::new(Arc::new(ClientConfig::new(psk)))
        .with_handshake_timeout(Duration::from_secs(2))
        .connect(tcp)
        .await;
    let err = server.await.unwrap().unwrap_err();
    assert!(
        matches!(mpin_error(&err), Some(MpinError::UnknownProtocol(0x16))),
        "{err}"
    );
}

#[tokio::test]
async fn unknown_versions_and_garbage_are_refused() {
    let w = World::new();
    for (bytes, want) in [
        (&b"MPIN\x02"[..], "version"),
        (&b"MPIX\x01"[..], "unknown"),
        (&b"GET / HTTP/1.1\r\n"[..], "unknown"),
    ] {
        let (addr, server) = serve_once(w.server(ServerPolicy::default())).await;
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(bytes).await.unwrap();
        let err = server.await.unwrap().unwrap_err();
        let got = mpin_error(&err).unwrap();
        match want {
            "version" => assert!(matches!(got, MpinError::Version(2)), "{got}"),
            _ => assert!(matches!(got, MpinError::UnknownProtocol(_)), "{got}"),
        }
    }
}

#[tokio::test]
async fn a_silent_client_times_out() {
    let w = World::new();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = MpinAcceptor::new(Arc::new(w.server(ServerPolicy::default())))
        .with_handshake_timeout(Duration::from_millis(300));
    let _client = TcpStream::connect(addr).await.unwrap();
    let (tcp, _) = listener.accept().await.unwrap();
    let err = acceptor.accept(tcp).await.unwrap_err();
    assert!(
        matches!(mpin_error(&err), Some(MpinError::Timeout)),
        "{err}"
    );
}
