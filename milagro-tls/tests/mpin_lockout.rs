//! The lockout through the M-Pin acceptor over real sockets on 127.0.0.1: how failures are
//! classified (`MpinError::is_source_failure`), a locked identity cannot resume a ticket, and
//! concurrent logins of one identity wait for each other instead of failing; with
//! `accept_from`, a token-and-permit thief sending a random `U` is locked for its source only.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod channel_common;

use std::sync::Arc;
use std::time::Duration;

use channel_common::echo_until_closed;
use milagro_tls::mpin::frame::{self, FrameType};
use milagro_tls::mpin::{
    mpin_error, MpinAcceptor, MpinClientConfig, MpinConnector, MpinError, MpinServerConfig,
};
use mpin_kex::*;
use rand_core::OsRng;
use test_support::MpinWorld;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

const ID: &[u8] = b"alice@example.com";

/// The D-TAs of these tests (two) and what they issue for [`ID`].
struct World(MpinWorld);

impl World {
    fn new() -> Self {
        Self(MpinWorld::new(2))
    }

    fn credential(&self, pin: u32) -> Arc<Credential> {
        self.0.credential_today(ID, pin, true)
    }

    fn server(&self) -> MpinServerConfig {
        MpinServerConfig::new(self.0.context(ServerPolicy::default()))
    }
}

/// Accepts `n` connections concurrently, echoing on each; returns every accept result.
async fn serve_n(
    cfg: MpinServerConfig,
    n: usize,
) -> (
    std::net::SocketAddr,
    tokio::task::JoinHandle<Vec<Result<(), std::io::Error>>>,
) {
    serve(cfg, n, false).await
}

/// As [`serve_n`]; with `by_source`, each connection is accepted naming its peer's IPv4
/// address as the source (`accept_from`).
async fn serve(
    cfg: MpinServerConfig,
    n: usize,
    by_source: bool,
) -> (
    std::net::SocketAddr,
    tokio::task::JoinHandle<Vec<Result<(), std::io::Error>>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = MpinAcceptor::new(Arc::new(cfg)).with_handshake_timeout(Duration::from_secs(30));
    let task = tokio::spawn(async move {
        let mut tasks = Vec::new();
        for _ in 0..n {
            let (tcp, peer) = listener.accept().await.unwrap();
            let acceptor = acceptor.clone();
            tasks.push(tokio::spawn(async move {
                let (mut tls, _) = match peer.ip() {
                    std::net::IpAddr::V4(ip) if by_source => {
                        acceptor.accept_from(tcp, &ip.octets()).await?
                    }
                    _ => acceptor.accept(tcp).await?,
                };
                echo_until_closed(&mut tls).await
            }));
        }
        let mut results = Vec::new();
        for t in tasks {
            results.push(t.await.unwrap());
        }
        results
    });
    (addr, task)
}

/// Connects, echoes a few bytes (which also receives a session ticket) and closes.
async fn login(connector: &MpinConnector, addr: std::net::SocketAddr) -> std::io::Result<()> {
    let mut tls = connector.connect(TcpStream::connect(addr).await?).await?;
    tls.write_all(b"ping").await?;
    let mut back = [0u8; 4];
    tls.read_exact(&mut back).await?;
    tls.shutdown().await?;
    let mut rest = Vec::new();
    tls.read_to_end(&mut rest).await?;
    Ok(())
}

fn connector(cred: Arc<Credential>, pin: u32, resume: bool) -> MpinConnector {
    let mut cfg = MpinClientConfig::new(cred, Pin::new(pin).unwrap());
    cfg.options.resume = resume;
    MpinConnector::new(Arc::new(cfg))
}

#[tokio::test]
async fn failures_are_classified_for_the_source_or_the_identity() {
    let (real, other) = (World::new(), World::new());
    let (addr, server) = serve_n(real.server(), 2).await;
    assert!(login(&connector(real.credential(1234), 4321, false), addr)
        .await
        .is_err());
    assert!(login(&connector(other.credential(1234), 1234, false), addr)
        .await
        .is_err());
    let results = server.await.unwrap();
    let wrong_pin = mpin_error(results[0].as_ref().unwrap_err()).unwrap();
    assert!(
        matches!(wrong_pin, MpinError::Auth(e) if e.is_token_failure()),
        "{wrong_pin}"
    );
    assert!(
        !wrong_pin.is_source_failure(),
        "counted against the identity"
    );
    let foreign = mpin_error(results[1].as_ref().unwrap_err()).unwrap();
    assert!(foreign.is_source_failure(), "{foreign}");
    assert!(!matches!(foreign, MpinError::Auth(e) if e.is_token_failure()));
}

#[tokio::test]
async fn a_locked_identity_cannot_resume_its_ticket() {
    let w = World::new();
    let (addr, server) = serve_n(w.server(), 5).await;
    let alice = connector(w.credential(1234), 1234, true);
    login(&alice, addr).await.unwrap();
    assert!(alice.has_ticket());
    let thief = connector(w.credential(1234), 1111, false);
    for _ in 0..3 {
        assert!(login(&thief, addr).await.is_err());
    }
    assert!(login(&alice, addr).await.is_err(), "resumed while locked");
    let results = server.await.unwrap();
    let err = results[4].as_ref().unwrap_err();
    assert!(
        matches!(
            mpin_error(err),
            Some(MpinError::Auth(AuthError::LockedOut { failures: 3, .. }))
        ),
        "{err}"
    );
}

#[tokio::test]
async fn concurrent_logins_of_one_identity_wait_instead_of_failing() {
    let w = World::new();
    let n = 20;
    let (addr, server) = serve_n(w.server(), n).await;
    let cred = w.credential(1234);
    let clients: Vec<_> = (0..n)
        .map(|_| {
            let c = connector(cred.clone(), 1234, false);
            tokio::spawn(async move { login(&c, addr).await })
        })
        .collect();
    for c in clients {
        c.await.unwrap().unwrap();
    }
    for r in server.await.unwrap() {
        r.unwrap();
    }
}

/// Sends a multi-pass hello for `cred` on the wire and returns the frame type answered.
async fn answer_to_hello(addr: std::net::SocketAddr, cred: &Credential) -> FrameType {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let mut client = Client::new(cred, Pin::new(1234).unwrap());
    let hello = client.hello(&mut OsRng).unwrap().encode();
    let mut out = frame::PREFACE.to_vec();
    out.extend_from_slice(&frame::encode(FrameType::Hello, &hello));
    tcp.write_all(&out).await.unwrap();
    let (kind, _) = frame::read(&mut tcp).await.unwrap();
    kind
}

#[tokio::test]
async fn allow_list_and_lockout_are_not_visible_before_the_response() {
    let w = World::new();
    let mut cfg = w.server();
    cfg.context.policy.identity_filter = Some(Arc::new(|id: &[u8]| id != b"outsider"));
    let (addr, server) = serve_n(cfg, 5).await;
    // lock alice
    let thief = connector(w.credential(1234), 1111, false);
    for _ in 0..3 {
        assert!(login(&thief, addr).await.is_err());
    }
    let outsider = w.0.credential(b"outsider", 1234, None);
    // locked, not allowed and without a permit: each still gets a challenge
    assert_eq!(
        answer_to_hello(addr, &w.credential(1234)).await,
        FrameType::Challenge
    );
    assert_eq!(answer_to_hello(addr, &outsider).await, FrameType::Challenge);
    drop(server);
}

/// Runs a multi-pass exchange by hand on the wire; returns the frame type that answered the
/// response and the time from sending the response to reading that frame.
async fn time_response(
    addr: std::net::SocketAddr,
    cred: &Credential,
    pin: u32,
) -> (FrameType, Duration) {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let mut client = Client::new(cred, Pin::new(pin).unwrap());
    let mut out = frame::PREFACE.to_vec();
    out.extend_from_slice(&frame::encode(
        FrameType::Hello,
        &client.hello(&mut OsRng).unwrap().encode(),
    ));
    tcp.write_all(&out).await.unwrap();
    let (kind, body) = frame::read(&mut tcp).await.unwrap();
    assert_eq!(kind, FrameType::Challenge);
    let ch = Challenge::decode(&body[milagro_tls::mpin::importer::SESSION_ID_LEN..]).unwrap();
    let (resp, _) = client.challenge(&ch).unwrap();
    let started = std::time::Instant::now();
    tcp.write_all(&frame::encode(FrameType::Response, &resp.encode()))
        .await
        .unwrap();
    let (kind, _) = frame::read(&mut tcp).await.unwrap();
    (kind, started.elapsed())
}

#[tokio::test]
async fn policy_refusals_take_no_less_time_than_rejected_proofs() {
    let w = World::new();
    let (addr, server) = serve_n(w.server(), 5).await;
    let cred = w.credential(1234);
    // three wrong PINs (the proof is checked) lock alice; the fourth is refused unpaired
    for _ in 0..3 {
        let (kind, took) = time_response(addr, &cred, 1111).await;
        assert_eq!(kind, FrameType::Failure);
        assert!(took >= Duration::from_millis(25), "{took:?}");
    }
    let (kind, took) = time_response(addr, &cred, 1234).await;
    assert_eq!(kind, FrameType::Failure);
    assert!(
        took >= Duration::from_millis(25),
        "a lockout refusal came faster ({took:?}) than the refusal floor"
    );
    drop(server);
}

/// A multi-pass exchange by hand from 127.0.0.1 with the genuine token and permit, `pin`, and
/// a random `U` (a valid point unrelated to the client's `x`); returns the frame answering
/// the response (`None`: none within 5 s, as when the proof verified and the server waits
/// for the TLS handshake).
async fn thief(addr: std::net::SocketAddr, cred: &Credential, pin: u32) -> Option<FrameType> {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let mut client = Client::new(cred, Pin::new(pin).unwrap());
    let mut hello = client.hello(&mut OsRng).unwrap();
    assert!(hello.ut.is_some(), "the thief holds a permit");
    let mut k = [0u8; 48];
    rand_core::RngCore::fill_bytes(&mut OsRng, &mut k[16..]);
    hello.u = raw::g1_multiple(&k, &hello.u).unwrap();
    let mut out = frame::PREFACE.to_vec();
    out.extend_from_slice(&frame::encode(FrameType::Hello, &hello.encode()));
    tcp.write_all(&out).await.unwrap();
    let (kind, body) = frame::read(&mut tcp).await.unwrap();
    assert_eq!(kind, FrameType::Challenge);
    let ch = Challenge::decode(&body[milagro_tls::mpin::importer::SESSION_ID_LEN..]).unwrap();
    let (resp, _) = client.challenge(&ch).unwrap();
    tcp.write_all(&frame::encode(FrameType::Response, &resp.encode()))
        .await
        .unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(5), frame::read(&mut tcp)).await;
    answer.ok().and_then(Result::ok).map(|(kind, _)| kind)
}

#[tokio::test]
async fn a_permit_thief_with_random_u_is_locked_only_for_its_source_address() {
    let w = World::new();
    let (addr, server) = serve(w.server(), 5, true).await;
    let cred = w.credential(1234);
    for pin in [1111, 2222, 3333] {
        assert_eq!(thief(addr, &cred, pin).await, Some(FrameType::Failure));
    }
    assert_eq!(
        thief(addr, &cred, 1234).await,
        Some(FrameType::Failure),
        "the right PIN from the thief's address"
    );
    // the genuine user, from another address of the loopback network
    let sock = TcpSocket::new_v4().unwrap();
    sock.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    let tcp = sock.connect(addr).await.unwrap();
    let mut tls = connector(cred.clone(), 1234, false)
        .connect(tcp)
        .await
        .expect("the genuine user from 127.0.0.2 was locked out");
    tls.write_all(b"ping").await.unwrap();
    let mut back = [0u8; 4];
    tls.read_exact(&mut back).await.unwrap();
    tls.shutdown().await.unwrap();
    let mut rest = Vec::new();
    tls.read_to_end(&mut rest).await.unwrap();
    let results = server.await.unwrap();
    for r in &results[..3] {
        let e = mpin_error(r.as_ref().unwrap_err()).unwrap();
        assert!(
            matches!(
                e,
                MpinError::Auth(AuthError::BadProof {
                    genuine_token: false,
                    ..
                })
            ),
            "{e}"
        );
    }
    let e = mpin_error(results[3].as_ref().unwrap_err()).unwrap();
    assert!(
        matches!(
            e,
            MpinError::Auth(AuthError::SourceLockedOut { failures: 3, .. })
        ),
        "{e}"
    );
    assert!(!e.is_source_failure(), "refused before pairing");
    results[4].as_ref().unwrap();
}
