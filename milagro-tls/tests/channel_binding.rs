//! Channel binding: a TLS session accepted after an M-Pin exchange is bound to that exchange.
//!
//! Each attack is performed against a real `MpinAcceptor` on 127.0.0.1: a man in the middle
//! relays Alice's M-Pin frames unchanged and then swaps Alice's TLS ClientHello for one of her
//! own (resuming her own ticket, or offering a static PSK she knows). The server must report no
//! peer and accept no application data; the genuine logins still work.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use milagro_tls::mpin::frame::{self, FrameType, PREFACE};
use milagro_tls::mpin::{
    mpin_error, MpinAcceptor, MpinClientConfig, MpinConnector, MpinError, MpinServerConfig, Peer,
};
use milagro_tls::{ClientConfig, Connector, HashAlgorithm, Psk, StaticPskStore};
use mpin_kex::*;
use test_support::MpinWorld;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

const ALICE: &[u8] = b"alice@example.com";
const MALLORY: &[u8] = b"mallory@example.com";
const STATIC_ID: &[u8] = b"legacy";
const STATIC_KEY: &[u8] = b"0123456789abcdef0123456789abcdef";
/// Bound on every wait in these tests.
const LIMIT: Duration = Duration::from_secs(15);

/// D-TAs (two) and what they issued.
struct World(MpinWorld);

impl World {
    fn new() -> Self {
        Self(MpinWorld::new(2))
    }

    /// A credential for `id` with today's time permit.
    fn credential(&self, id: &[u8], pin: u32) -> Arc<Credential> {
        self.0.credential_today(id, pin, true)
    }

    fn connector(&self, id: &[u8], pin: u32, mode: Mode) -> MpinConnector {
        let mut cfg = MpinClientConfig::new(self.credential(id, pin), Pin::new(pin).unwrap());
        cfg.mode = mode;
        MpinConnector::new(Arc::new(cfg)).with_handshake_timeout(LIMIT)
    }

    /// A server config with tickets (the default) and a static PSK for plain TLS peers, so
    /// every PSK source the server has is there for an attacker to try.
    fn server_config(&self) -> MpinServerConfig {
        let mut cfg = MpinServerConfig::new(self.0.context(ServerPolicy::default()));
        let statics: StaticPskStore = [static_psk()].into_iter().collect();
        cfg.static_psks = Some(Arc::new(statics));
        cfg
    }
}

fn static_psk() -> Psk {
    Psk::new(STATIC_ID, STATIC_KEY, HashAlgorithm::Sha256).unwrap()
}

/// What the server application got from one connection: the peer it was told about and the
/// application data it accepted (and echoed), or the error `accept` returned.
type Outcome = Result<(Peer, Vec<u8>), io::Error>;

/// A running acceptor on 127.0.0.1; its accept loop is aborted on drop.
struct Server {
    addr: SocketAddr,
    outcomes: mpsc::UnboundedReceiver<Outcome>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    async fn start(cfg: MpinServerConfig) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let acceptor = MpinAcceptor::new(Arc::new(cfg)).with_handshake_timeout(LIMIT);
        let (tx, outcomes) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    let _ = tx.send(serve_one(&acceptor, tcp).await);
                });
            }
        });
        Self {
            addr,
            outcomes,
            task,
        }
    }

    /// The outcome of the next connection to finish.
    async fn next(&mut self) -> Outcome {
        tokio::time::timeout(LIMIT, self.outcomes.recv())
            .await
            .expect("the server finished the connection in time")
            .expect("the accept loop is running")
    }
}

/// Accepts, then echoes application data until EOF.
async fn serve_one(acceptor: &MpinAcceptor, tcp: TcpStream) -> Outcome {
    let (mut tls, peer) = acceptor.accept(tcp).await?;
    let mut got = Vec::new();
    let mut buf = vec![0u8; 4096];
    loop {
        let n = tokio::time::timeout(LIMIT, tls.read(&mut buf)).await??;
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
        tls.write_all(&buf[..n]).await?;
    }
    tls.shutdown().await?;
    Ok((peer, got))
}

/// Sends `data` over an established stream, reads the echo, closes; returns the echo (and
/// reads on to EOF, which also receives the server's session ticket).
async fn talk<S: AsyncRead + AsyncWrite + Unpin>(mut s: S, data: &[u8]) -> io::Result<Vec<u8>> {
    s.write_all(data).await?;
    let mut back = vec![0u8; data.len()];
    s.read_exact(&mut back).await?;
    s.shutdown().await?;
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).await?;
    Ok(back)
}

/// A genuine login over TCP; returns the echo.
async fn login(connector: &MpinConnector, addr: SocketAddr, data: &[u8]) -> io::Result<Vec<u8>> {
    let tcp = TcpStream::connect(addr).await?;
    let tls = connector.connect(tcp).await?;
    talk(tls, data).await
}

/// Mallory logs in as herself (a genuine M-Pin login); afterwards her connector holds a
/// session ticket issued by `server`.
async fn mallory_gets_a_ticket(w: &World, server: &mut Server) -> MpinConnector {
    let mallory = w.connector(MALLORY, 4242, Mode::MultiPass);
    assert_eq!(
        login(&mallory, server.addr, b"hi").await.unwrap(),
        b"hi".to_vec()
    );
    let (peer, _) = server.next().await.unwrap();
    assert_eq!(peer.identity(), MALLORY);
    assert!(mallory.has_ticket(), "the server issued mallory a ticket");
    mallory
}

/// Copies one M-Pin frame from `from` to `to`.
async fn copy_frame(from: &mut TcpStream, to: &mut TcpStream) -> FrameType {
    let (t, body) = frame::read(from).await.unwrap();
    to.write_all(&frame::encode(t, &body)).await.unwrap();
    t
}

/// The man in the middle: takes Alice's connection, opens one to the server and relays the
/// M-Pin exchange unchanged (preface, hello, challenge, response; or the one-pass hello and
/// reply). Alice's TLS ClientHello, which follows, is never forwarded. Returns the server
/// connection, ready for the attacker's own ClientHello.
async fn relay_m_pin(alice: &mut TcpStream, server: SocketAddr) -> TcpStream {
    let mut srv = TcpStream::connect(server).await.unwrap();
    let mut preface = [0u8; 5];
    alice.read_exact(&mut preface).await.unwrap();
    assert_eq!(preface, PREFACE);
    srv.write_all(&preface).await.unwrap();
    match copy_frame(alice, &mut srv).await {
        FrameType::Hello => {
            assert_eq!(copy_frame(&mut srv, alice).await, FrameType::Challenge);
            assert_eq!(copy_frame(alice, &mut srv).await, FrameType::Response);
        }
        FrameType::OnePassHello => {
            assert_eq!(copy_frame(&mut srv, alice).await, FrameType::OnePassReply);
        }
        other => panic!("unexpected first frame {other:?}"),
    }
    srv
}

/// Runs `attacker` (a TLS client) over `srv`, which has just finished an M-Pin exchange; the
/// attacker's bytes go to the server in place of the victim's ClientHello.
async fn splice<F, Fut>(srv: TcpStream, attacker: F) -> io::Result<Vec<u8>>
where
    F: FnOnce(DuplexStream) -> Fut,
    Fut: Future<Output = io::Result<Vec<u8>>>,
{
    let (near, mut far) = tokio::io::duplex(64 * 1024);
    let pump = tokio::spawn(async move {
        let mut srv = srv;
        let _ = tokio::io::copy_bidirectional(&mut far, &mut srv).await;
    });
    let out = tokio::time::timeout(LIMIT, attacker(near))
        .await
        .unwrap_or_else(|_| Err(io::ErrorKind::TimedOut.into()));
    pump.abort();
    out
}

/// Alice starts a login through the man in the middle; returns the task running her side and
/// the MITM's end of her connection.
async fn alice_via_mitm(
    w: &World,
    mode: Mode,
) -> (tokio::task::JoinHandle<io::Result<Vec<u8>>>, TcpStream) {
    let mitm = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mitm_addr = mitm.local_addr().unwrap();
    let alice = w.connector(ALICE, 1234, mode);
    let alice_task = tokio::spawn(async move { login(&alice, mitm_addr, b"alice").await });
    let (victim, _) = tokio::time::timeout(LIMIT, mitm.accept())
        .await
        .unwrap()
        .unwrap();
    (alice_task, victim)
}

/// The spliced connection must fail closed: `accept` reports no peer (so no application data
/// can reach the application) and the TLS handshake fails at the PSK binder, the attacker
/// gets nothing back.
fn assert_refused(outcome: Outcome, attacker: io::Result<Vec<u8>>) {
    let err = match outcome {
        Ok((peer, data)) => panic!(
            "splice accepted: server reported {peer:?} and accepted {:?}",
            String::from_utf8_lossy(&data)
        ),
        Err(e) => e,
    };
    assert!(
        matches!(
            mpin_error(&err),
            Some(MpinError::Tls(milagro_tls::Error::BadPskBinder))
        ),
        "{err}"
    );
    assert!(attacker.is_err(), "attacker got {attacker:?}");
}

const ATTACK: &[u8] = b"transfer 1000 to mallory";

/// Relays Alice's M-Pin frames (in `mode`) and swaps her ClientHello for one resuming
/// Mallory's own ticket (from Mallory's genuine login): the server must refuse.
async fn ticket_splice_is_refused(mode: Mode) {
    let w = World::new();
    let mut server = Server::start(w.server_config()).await;
    let mallory = mallory_gets_a_ticket(&w, &mut server).await;
    let (alice, mut victim) = alice_via_mitm(&w, mode).await;
    let srv = relay_m_pin(&mut victim, server.addr).await;
    drop(victim);
    // Mallory's connector holds a fresh ticket, so its ClientHello resumes it
    let attacker = splice(srv, |io| async move {
        let tls = mallory.connect(io).await?;
        talk(tls, ATTACK).await
    })
    .await;
    assert_refused(server.next().await, attacker);
    assert!(alice.await.unwrap().is_err());
}

#[tokio::test]
async fn relayed_m_pin_with_the_attackers_own_ticket_is_refused() {
    ticket_splice_is_refused(Mode::MultiPass).await;
}

#[tokio::test]
async fn relayed_m_pin_with_a_static_psk_is_refused() {
    let w = World::new();
    let mut server = Server::start(w.server_config()).await;
    let (alice, mut victim) = alice_via_mitm(&w, Mode::MultiPass).await;
    let srv = relay_m_pin(&mut victim, server.addr).await;
    drop(victim);
    // the attacker knows a static PSK the server accepts from plain TLS peers
    let attacker = splice(srv, |io| async move {
        let tls = Connector::new(Arc::new(ClientConfig::new(static_psk())))
            .connect(io)
            .await?;
        talk(tls, ATTACK).await
    })
    .await;
    assert_refused(server.next().await, attacker);
    assert!(alice.await.unwrap().is_err());
}

#[tokio::test]
async fn relayed_one_pass_with_the_attackers_own_ticket_is_refused() {
    ticket_splice_is_refused(Mode::OnePass).await;
}

/// Alice logs in (one-pass) to server 1 through a proxy that records her preface and hello;
/// returns those bytes.
async fn record_one_pass_hello(w: &World, server: &mut Server) -> Vec<u8> {
    let (alice, mut victim) = alice_via_mitm(w, Mode::OnePass).await;
    let mut srv = TcpStream::connect(server.addr).await.unwrap();
    let mut recorded = vec![0u8; 5];
    victim.read_exact(&mut recorded).await.unwrap();
    let (t, body) = frame::read(&mut victim).await.unwrap();
    assert_eq!(t, FrameType::OnePassHello);
    recorded.extend_from_slice(&frame::encode(t, &body));
    srv.write_all(&recorded).await.unwrap();
    let proxy = tokio::spawn(async move {
        let _ = tokio::io::copy_bidirectional(&mut victim, &mut srv).await;
    });
    assert_eq!(alice.await.unwrap().unwrap(), b"alice".to_vec());
    let (peer, _) = server.next().await.unwrap();
    assert_eq!(peer.identity(), ALICE);
    proxy.abort();
    recorded
}

#[tokio::test]
async fn one_pass_hello_replayed_to_a_second_server_with_a_ticket_is_refused() {
    let w = World::new();
    // two acceptors sharing the server secret, each with its own replay cache and tickets
    let mut first = Server::start(w.server_config()).await;
    let mut second = Server::start(w.server_config()).await;
    let mallory = mallory_gets_a_ticket(&w, &mut second).await;
    let recorded = record_one_pass_hello(&w, &mut first).await;
    // replay Alice's hello to the second server, then send Mallory's resumption
    let mut srv = TcpStream::connect(second.addr).await.unwrap();
    srv.write_all(&recorded).await.unwrap();
    let (t, _) = frame::read(&mut srv).await.unwrap();
    assert_eq!(
        t,
        FrameType::OnePassReply,
        "the second server took the replay"
    );
    let attacker = splice(srv, |io| async move {
        let tls = mallory.connect(io).await?;
        talk(tls, ATTACK).await
    })
    .await;
    assert_refused(second.next().await, attacker);
}

/// The genuine login through the same server config: reported as Alice, not resumed; the
/// ticket it gets resumes on the next connection (plain-TLS path).
async fn genuine_login_is_bound(mode: Mode) {
    let w = World::new();
    let mut server = Server::start(w.server_config()).await;
    let alice = w.connector(ALICE, 1234, mode);
    assert_eq!(
        login(&alice, server.addr, b"hello").await.unwrap(),
        b"hello".to_vec()
    );
    let (peer, data) = server.next().await.unwrap();
    assert_eq!(data, b"hello");
    let Peer::Mpin {
        identity,
        mode: m,
        resumed,
        ..
    } = peer
    else {
        panic!("expected an M-Pin peer, got {peer:?}");
    };
    assert_eq!((identity.as_slice(), m, resumed), (ALICE, mode, false));
    assert!(alice.has_ticket(), "a ticket is still issued after M-Pin");
    assert_eq!(
        login(&alice, server.addr, b"again").await.unwrap(),
        b"again".to_vec()
    );
    let (peer, _) = server.next().await.unwrap();
    assert!(
        matches!(&peer, Peer::Mpin { identity, resumed: true, .. } if identity == ALICE),
        "{peer:?}"
    );
    // and a static-PSK peer on the same port is still served
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let tls = Connector::new(Arc::new(ClientConfig::new(static_psk())))
        .connect(tcp)
        .await
        .unwrap();
    assert_eq!(talk(tls, b"plain").await.unwrap(), b"plain".to_vec());
    let (peer, _) = server.next().await.unwrap();
    assert_eq!(
        peer,
        Peer::Psk {
            identity: STATIC_ID.to_vec()
        }
    );
}

#[tokio::test]
async fn genuine_multi_pass_login_reports_alice_not_resumed() {
    genuine_login_is_bound(Mode::MultiPass).await;
}

#[tokio::test]
async fn genuine_one_pass_login_reports_alice_not_resumed() {
    genuine_login_is_bound(Mode::OnePass).await;
}
