//! The M-Pin channel over real sockets on 127.0.0.1: M-Pin Full, then TLS 1.3 with the
//! RFC 9258-imported PSK; plain TLS-PSK peers on the same acceptor; every refusal.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod channel_common;

use std::sync::Arc;
use std::time::Duration;

use channel_common::{echo_until_closed, legacy_psk, legacy_store};
use milagro_tls::mpin::{
    mpin_error, MpinAcceptor, MpinClientConfig, MpinConnector, MpinError, MpinServerConfig, Peer,
};
use milagro_tls::{ClientConfig, Connector};
use mpin_kex::*;
use test_support::MpinWorld;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const ID: &[u8] = b"alice@example.com";

/// The D-TAs of these tests (two) and what they issue for [`ID`].
struct World(MpinWorld);

impl World {
    fn new() -> Self {
        Self(MpinWorld::new(2))
    }

    fn credential(&self, pin: u32, permit: bool) -> Arc<Credential> {
        self.0.credential_today(ID, pin, permit)
    }

    /// A credential with a time permit for `day` (none for `None`).
    fn credential_on(&self, pin: u32, day: Option<u32>) -> Arc<Credential> {
        Arc::new(self.0.credential(ID, pin, day))
    }

    fn server(&self, policy: ServerPolicy) -> MpinServerConfig {
        MpinServerConfig::new(self.0.context(policy))
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
        echo_until_closed(&mut tls).await?;
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
    let Peer::Mpin {
        identity,
        mode: m,
        day,
        ..
    } = peer
    else {
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
    let mut scfg = w.server(ServerPolicy::default());
    scfg.static_psks = Some(legacy_store());
    let (addr, server) = serve_once(scfg).await;
    let tcp = TcpStream::connect(addr).await.unwrap();
    let mut tls = Connector::new(Arc::new(ClientConfig::new(legacy_psk())))
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

/// A plain TLS-PSK peer with [`legacy_psk`] tries `server` (2 s handshake timeout); the
/// server's error.
async fn plain_tls_to(
    (addr, server): (
        std::net::SocketAddr,
        tokio::task::JoinHandle<Result<Peer, std::io::Error>>,
    ),
) -> std::io::Error {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let _ = Connector::new(Arc::new(ClientConfig::new(legacy_psk())))
        .with_handshake_timeout(Duration::from_secs(2))
        .connect(tcp)
        .await;
    server.await.unwrap().unwrap_err()
}

#[tokio::test]
async fn without_a_static_store_plain_tls_is_refused() {
    let w = World::new();
    // with tickets on (the default) a ClientHello is accepted as a possible resumption, and an
    // unknown identity fails the TLS handshake with decrypt_error
    let err = plain_tls_to(serve_once(w.server(ServerPolicy::default())).await).await;
    assert!(
        matches!(
            mpin_error(&err),
            Some(MpinError::Tls(milagro_tls::Error::BadPskBinder))
        ),
        "{err}"
    );
    // with tickets off, TLS is not spoken at all
    let mut scfg = w.server(ServerPolicy::default());
    scfg.tickets = None;
    let err = plain_tls_to(serve_once(scfg).await).await;
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

// ----- resumption -----

/// What the server saw on one accepted connection.
struct Accepted {
    first_byte: u8,
    peer: Peer,
    peer_mpin_identity: Option<Vec<u8>>,
}

/// Serves `n` connections in turn (echoing each); every result, success or error.
async fn serve_n(
    cfg: MpinServerConfig,
    n: usize,
) -> (
    std::net::SocketAddr,
    tokio::task::JoinHandle<Vec<Result<Accepted, std::io::Error>>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = MpinAcceptor::new(Arc::new(cfg)).with_handshake_timeout(Duration::from_secs(5));
    let task = tokio::spawn(async move {
        let mut results = Vec::new();
        for _ in 0..n {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut first = [0u8; 1];
            tcp.peek(&mut first).await.unwrap();
            let one = async {
                let (mut tls, peer) = acceptor.accept(tcp).await?;
                // the authenticated M-Pin identity is the acceptor's `Peer` (the TLS stream is
                // generic and knows nothing of M-Pin)
                let peer_mpin_identity = match &peer {
                    Peer::Mpin { identity, .. } => Some(identity.clone()),
                    Peer::Psk { .. } | Peer::P2p { .. } => None,
                };
                echo_until_closed(&mut tls).await?;
                Ok(Accepted {
                    first_byte: first[0],
                    peer,
                    peer_mpin_identity,
                })
            };
            results.push(one.await);
        }
        results
    });
    (addr, task)
}

/// Connects, echoes a little (which also receives the session ticket) and closes; returns
/// whether the connection was a resumption.
async fn connect_echo(
    connector: &MpinConnector,
    addr: std::net::SocketAddr,
) -> Result<bool, std::io::Error> {
    let mut tls = connector.connect(TcpStream::connect(addr).await?).await?;
    echo_through(&mut tls, 100).await;
    let resumed = tls.resumed();
    tls.shutdown().await?;
    let mut rest = Vec::new();
    tls.read_to_end(&mut rest).await?;
    Ok(resumed)
}

fn resumed_mpin(a: &Accepted) -> bool {
    matches!(a.peer, Peer::Mpin { resumed: true, .. })
}

#[tokio::test]
async fn reconnect_resumes_without_m_pin() {
    let w = World::new();
    let (addr, server) = serve_n(w.server(ServerPolicy::default()), 3).await;
    let cfg = MpinClientConfig::new(w.credential(1234, true), Pin::new(1234).unwrap());
    let connector = MpinConnector::new(Arc::new(cfg));
    assert!(!connector.has_ticket());
    assert!(!connect_echo(&connector, addr).await.unwrap());
    assert!(
        connector.has_ticket(),
        "no ticket after the M-Pin handshake"
    );
    assert!(connect_echo(&connector, addr).await.unwrap());
    assert!(
        connect_echo(&connector, addr).await.unwrap(),
        "the fresh ticket resumes too"
    );
    let results = server.await.unwrap();
    let accepted: Vec<Accepted> = results.into_iter().map(Result::unwrap).collect();
    // the first connection ran M-Pin; the others sent a TLS ClientHello first, i.e. no M-Pin
    // preface, so the server never entered the M-Pin (pairing) code path
    assert_eq!(accepted[0].first_byte, b'M');
    assert!(!resumed_mpin(&accepted[0]));
    let Peer::Mpin { day, mode, .. } = &accepted[0].peer else {
        unreachable!("expected an M-Pin peer");
    };
    for a in &accepted[1..] {
        assert_eq!(a.first_byte, 0x16);
        assert!(resumed_mpin(a), "{:?}", a.peer);
        // the ticket is bound to the identity (and the original permit day and mode)
        let Peer::Mpin {
            identity,
            hashed_id,
            day: d,
            mode: m,
            ..
        } = &a.peer
        else {
            unreachable!("expected an M-Pin peer");
        };
        assert_eq!(identity, ID);
        assert_eq!(*hashed_id, HashedId::of(ID));
        assert_eq!((d, m), (day, mode));
    }
    for a in &accepted {
        assert_eq!(a.peer_mpin_identity.as_deref(), Some(ID));
    }
}

#[tokio::test]
async fn reused_ticket_is_refused() {
    let w = World::new();
    let (addr, server) = serve_n(w.server(ServerPolicy::default()), 3).await;
    let mut cfg = MpinClientConfig::new(w.credential(7, true), Pin::new(7).unwrap());
    cfg.options.resume = false;
    let mut tls = MpinConnector::new(Arc::new(cfg))
        .connect(TcpStream::connect(addr).await.unwrap())
        .await
        .unwrap();
    echo_through(&mut tls, 10).await;
    let ticket = tls.take_tickets().pop().expect("a ticket");
    tls.shutdown().await.unwrap();
    let resume = Connector::new(Arc::new(ClientConfig::resuming(ticket)));
    let mut again = resume
        .connect(TcpStream::connect(addr).await.unwrap())
        .await
        .unwrap();
    echo_through(&mut again, 10).await;
    again.shutdown().await.unwrap();
    let err = resume
        .connect(TcpStream::connect(addr).await.unwrap())
        .await
        .unwrap_err();
    assert_eq!(
        milagro_tls::stream::tls_error(&err),
        Some(&milagro_tls::Error::AlertReceived(
            milagro_tls::AlertDescription::DecryptError
        ))
    );
    let results = server.await.unwrap();
    assert!(resumed_mpin(results[1].as_ref().unwrap()));
    let err = results[2].as_ref().err().unwrap();
    assert!(
        matches!(
            mpin_error(err),
            Some(MpinError::Tls(milagro_tls::Error::BadPskBinder))
        ),
        "{err}"
    );
}

#[tokio::test]
async fn ticket_expires_with_the_permit_day() {
    let w = World::new();
    let day = policy::day_of(milagro_tls::system_clock());
    let day_end = (u64::from(day) + 1) * 86_400;
    let now = Arc::new(std::sync::atomic::AtomicU64::new(day_end - 600));
    let mut scfg = w.server(ServerPolicy::default());
    let server_now = now.clone();
    scfg.options.clock = Arc::new(move || server_now.load(std::sync::atomic::Ordering::SeqCst));
    let (addr, server) = serve_n(scfg, 2).await;
    let mut cfg = MpinClientConfig::new(w.credential_on(3, Some(day)), Pin::new(3).unwrap());
    cfg.options.clock = Arc::new(move || day_end - 600);
    let connector = MpinConnector::new(Arc::new(cfg));
    let mut tls = connector
        .connect(TcpStream::connect(addr).await.unwrap())
        .await
        .unwrap();
    echo_through(&mut tls, 10).await;
    // the 1-hour lifetime is cut to the end of the permit's day
    let tickets = tls.take_tickets();
    assert_eq!(tickets.len(), milagro_tls::ticket::DEFAULT_TICKET_POOL);
    assert!(tickets.iter().all(|t| t.lifetime() == 600));
    tls.shutdown().await.unwrap();
    assert!(connector.has_ticket());
    // the server's day ends; the client (whose clock lags) still offers the ticket
    now.store(day_end, std::sync::atomic::Ordering::SeqCst);
    let err = connector
        .connect(TcpStream::connect(addr).await.unwrap())
        .await
        .unwrap_err();
    assert!(matches!(mpin_error(&err), Some(MpinError::Tls(_))), "{err}");
    assert!(!connector.has_ticket(), "a refused ticket is dropped");
    let results = server.await.unwrap();
    assert!(results[0].is_ok());
    let err = results[1].as_ref().err().unwrap();
    assert!(
        matches!(
            mpin_error(err),
            Some(MpinError::Tls(milagro_tls::Error::BadPskBinder))
        ),
        "{err}"
    );
}

#[tokio::test]
async fn without_resume_every_connection_runs_m_pin() {
    let w = World::new();
    let (addr, server) = serve_n(w.server(ServerPolicy::default()), 2).await;
    let mut cfg = MpinClientConfig::new(w.credential(11, true), Pin::new(11).unwrap());
    cfg.options.resume = false;
    let connector = MpinConnector::new(Arc::new(cfg));
    assert!(!connect_echo(&connector, addr).await.unwrap());
    assert!(!connector.has_ticket());
    assert!(!connect_echo(&connector, addr).await.unwrap());
    for a in server.await.unwrap() {
        let a = a.unwrap();
        assert_eq!(a.first_byte, b'M');
        assert!(!resumed_mpin(&a));
    }
}

#[tokio::test]
async fn revoked_identity_cannot_resume() {
    let w = World::new();
    let revoked = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = revoked.clone();
    let policy = ServerPolicy {
        identity_filter: Some(Arc::new(move |_: &[u8]| {
            !flag.load(std::sync::atomic::Ordering::SeqCst)
        })),
        ..ServerPolicy::default()
    };
    let (addr, server) = serve_n(w.server(policy), 2).await;
    let cfg = MpinClientConfig::new(w.credential(5, true), Pin::new(5).unwrap());
    let connector = MpinConnector::new(Arc::new(cfg));
    assert!(!connect_echo(&connector, addr).await.unwrap());
    revoked.store(true, std::sync::atomic::Ordering::SeqCst);
    // the client's side of the TLS handshake completes; then the server closes without data
    let mut tls = connector
        .connect(TcpStream::connect(addr).await.unwrap())
        .await
        .unwrap();
    assert!(tls.resumed());
    let _ = tls.write_all(b"hello").await;
    let mut buf = [0u8; 8];
    assert!(!matches!(tls.read(&mut buf).await, Ok(n) if n > 0));
    let results = server.await.unwrap();
    let err = results[1].as_ref().err().unwrap();
    assert!(
        matches!(
            mpin_error(err),
            Some(MpinError::Auth(AuthError::NotAllowed))
        ),
        "{err}"
    );
}

#[tokio::test]
async fn server_without_tickets_never_issues_one() {
    let w = World::new();
    let mut scfg = w.server(ServerPolicy::default());
    scfg.tickets = None;
    let (addr, server) = serve_n(scfg, 2).await;
    let cfg = MpinClientConfig::new(w.credential(8, true), Pin::new(8).unwrap());
    let connector = MpinConnector::new(Arc::new(cfg));
    assert!(!connect_echo(&connector, addr).await.unwrap());
    assert!(!connector.has_ticket());
    assert!(!connect_echo(&connector, addr).await.unwrap());
    for a in server.await.unwrap() {
        assert_eq!(a.unwrap().first_byte, b'M');
    }
}
