//! The P2P channel over real sockets on 127.0.0.1: two devices link (WCC, then TLS 1.3 with
//! the imported PSK) and carry data both ways, each side learning both identities; wrong
//! peers refused on each side (one through a rewriting relay); an impostor fails; one
//! listener serves P2P initiators, M-Pin clients and static-PSK peers.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod channel_common;
mod p2p_common;

use std::sync::Arc;
use std::time::Duration;

use channel_common::{echo_until_closed, legacy_psk, legacy_store};
use milagro_tls::mpin::frame::{self, FrameType};
use milagro_tls::mpin::{
    mpin_error, MpinClientConfig, MpinConnector, MpinError, MpinServerConfig, Peer,
};
use milagro_tls::p2p::{P2pAcceptor, P2pConnector, P2pServerConfig, PREFACE};
use milagro_tls::{ClientConfig, Connector};
use mpin_kex::wcc::{P2pHello, WccError};
use p2p_common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

const TIMEOUT: Duration = Duration::from_secs(10);

/// A listener accepting `n` connections with `cfg`, echoing each; the peers (or errors).
async fn serve(
    cfg: P2pServerConfig,
    n: usize,
) -> (
    std::net::SocketAddr,
    JoinHandle<Vec<Result<Peer, std::io::Error>>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = P2pAcceptor::new(Arc::new(cfg)).with_handshake_timeout(Duration::from_secs(5));
    let task = tokio::spawn(async move {
        let mut out = Vec::new();
        for _ in 0..n {
            let (tcp, _) = listener.accept().await.unwrap();
            let r = async {
                let (mut tls, peer) = acceptor.accept(tcp).await?;
                echo_until_closed(&mut tls).await?;
                Ok(peer)
            }
            .await;
            out.push(r);
        }
        out
    });
    (addr, task)
}

async fn echo_through(stream: &mut (impl AsyncReadExt + AsyncWriteExt + Unpin), len: usize) {
    let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
    let (mut sent, mut back) = (0, vec![0u8; len]);
    // write and read in steps so neither direction's buffers fill up
    let mut got = 0;
    while got < len {
        if sent < len {
            let end = (sent + 16 * 1024).min(len);
            stream.write_all(&data[sent..end]).await.unwrap();
            sent = end;
        }
        let k = stream.read(&mut back[got..]).await.unwrap();
        assert!(k > 0, "closed early");
        got += k;
    }
    assert_eq!(back, data);
}

fn p2p_err(e: &std::io::Error) -> &MpinError {
    mpin_error(e).unwrap_or_else(|| panic!("not a channel error: {e}"))
}

#[tokio::test]
async fn link_over_tcp_carries_data_both_ways_and_reports_both_identities() {
    let d = Dtas::new();
    let (addr, server) = serve(d.server(BOB), 1).await;
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (mut tls, peer) = tokio::time::timeout(
        TIMEOUT,
        P2pConnector::new(Arc::new(d.client(ALICE, BOB))).connect(tcp),
    )
    .await
    .unwrap()
    .unwrap();
    let want = Peer::P2p {
        initiator: ALICE.to_vec(),
        responder: BOB.to_vec(),
        day: DAY,
    };
    assert_eq!(peer, want);
    echo_through(&mut tls, 256 * 1024).await;
    tls.shutdown().await.unwrap();
    let peers = server.await.unwrap();
    assert_eq!(peers[0].as_ref().unwrap(), &want);
}

#[tokio::test]
async fn wrong_peer_refused_by_the_responder_and_by_its_allow_list() {
    let d = Dtas::new();
    let mut only_carol = d.server(BOB);
    only_carol.allow = Some(Arc::new(|id: &[u8]| id == CAROL));
    for (server, dial, want) in [
        (d.server(BOB), CAROL, "NotForMe"),
        (only_carol, BOB, "PeerNotAllowed"),
    ] {
        let (addr, task) = serve(server, 1).await;
        let tcp = TcpStream::connect(addr).await.unwrap();
        let err = P2pConnector::new(Arc::new(d.client(ALICE, dial)))
            .connect(tcp)
            .await
            .unwrap_err();
        assert!(matches!(p2p_err(&err), MpinError::PeerRefused), "{err}");
        let peers = task.await.unwrap();
        let e = peers[0].as_ref().unwrap_err();
        let got = format!("{:?}", p2p_err(e));
        assert!(got.contains(want), "{want}: {got}");
    }
}

/// A relay that re-addresses the initiator's HELLO to `to`, then splices both ways.
async fn readdressing_relay(
    target: std::net::SocketAddr,
    to: &'static [u8],
) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut a, _) = listener.accept().await.unwrap();
        let mut b = TcpStream::connect(target).await.unwrap();
        let mut pre = [0u8; 5];
        a.read_exact(&mut pre).await.unwrap();
        let (kind, body) = frame::read(&mut a).await.unwrap();
        assert_eq!(kind, FrameType::P2pHello);
        let mut hello = P2pHello::decode(&body).unwrap();
        hello.responder = to.to_vec();
        b.write_all(&pre).await.unwrap();
        b.write_all(&frame::encode(FrameType::P2pHello, &hello.encode()))
            .await
            .unwrap();
        let _ = tokio::time::timeout(TIMEOUT, tokio::io::copy_bidirectional(&mut a, &mut b)).await;
    });
    addr
}

#[tokio::test]
async fn the_initiator_refuses_a_reply_from_another_device() {
    let d = Dtas::new();
    // carol's genuine listener answers as carol a hello a relay re-addressed to her
    let (carol, task) = serve(d.server(CAROL), 1).await;
    let relay = readdressing_relay(carol, CAROL).await;
    let tcp = TcpStream::connect(relay).await.unwrap();
    let err = P2pConnector::new(Arc::new(d.client(ALICE, BOB)))
        .connect(tcp)
        .await
        .unwrap_err();
    assert!(
        matches!(p2p_err(&err), MpinError::Wcc(WccError::WrongPeer)),
        "{err}"
    );
    // carol never got a ClientHello: her side ends without a link
    assert!(task.await.unwrap()[0].is_err());
}

#[tokio::test]
async fn an_impostor_and_an_n_minus_1_share_key_fail_on_both_sides() {
    let d = Dtas::new();
    // carol's keys claiming to be alice; alice's key from 2 of the 3 D-TAs
    let mut impostor = d.client(ALICE, BOB);
    impostor.key = d.sender_key(CAROL, 3);
    impostor.permit = Some(d.sender_permit(CAROL, DAY));
    let mut partial = d.client(ALICE, BOB);
    partial.key = d.sender_key(ALICE, 2);
    for cfg in [impostor, partial] {
        let (addr, task) = serve(d.server(BOB), 1).await;
        let tcp = TcpStream::connect(addr).await.unwrap();
        let err = P2pConnector::new(Arc::new(cfg))
            .connect(tcp)
            .await
            .unwrap_err();
        assert!(matches!(p2p_err(&err), MpinError::Tls(_)), "{err}");
        let peers = task.await.unwrap();
        let e = peers[0].as_ref().unwrap_err();
        assert!(
            matches!(p2p_err(e), MpinError::Tls(milagro_tls::Error::BadPskBinder)),
            "{e}"
        );
    }
}

/// An M-Pin server configuration with one enrolled client (PIN 1234, no permits) and the
/// static [`legacy_psk`]; the client's config.
fn mpin_world() -> (MpinServerConfig, MpinClientConfig) {
    use mpin_kex::*;
    const ID: &[u8] = b"user@example.com";
    let w = test_support::MpinWorld::new(2);
    let cred = Arc::new(w.credential(ID, 1234, None));
    let policy = ServerPolicy {
        require_permits: false,
        ..ServerPolicy::default()
    };
    let mut server = MpinServerConfig::new(w.context(policy));
    server.static_psks = Some(legacy_store());
    (server, MpinClientConfig::new(cred, Pin::new(1234).unwrap()))
}

/// Alice links to Bob at `addr`, echoes `len` bytes and shuts the link down.
async fn link_and_echo(d: &Dtas, addr: std::net::SocketAddr, len: usize) {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (mut tls, _) = P2pConnector::new(Arc::new(d.client(ALICE, BOB)))
        .connect(tcp)
        .await
        .unwrap();
    echo_through(&mut tls, len).await;
    tls.shutdown().await.unwrap();
}

/// A plain TLS-PSK peer with [`legacy_psk`] connects to `addr`, echoes `len` bytes and closes.
async fn psk_echo(addr: std::net::SocketAddr, len: usize) {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let mut tls = Connector::new(Arc::new(ClientConfig::new(legacy_psk())))
        .connect(tcp)
        .await
        .unwrap();
    echo_through(&mut tls, len).await;
    tls.shutdown().await.unwrap();
}

#[tokio::test]
async fn one_listener_serves_p2p_mpin_and_static_psk_peers() {
    let d = Dtas::new();
    let (mpin_server, mpin_client) = mpin_world();
    let mut cfg = d.server(BOB);
    cfg.mpin = Some(Arc::new(mpin_server));
    let (addr, task) = serve(cfg, 3).await;

    link_and_echo(&d, addr, 4096).await;

    let tcp = TcpStream::connect(addr).await.unwrap();
    let mut tls = MpinConnector::new(Arc::new(mpin_client))
        .connect(tcp)
        .await
        .unwrap();
    echo_through(&mut tls, 4096).await;
    tls.shutdown().await.unwrap();

    psk_echo(addr, 4096).await;

    let peers: Vec<Peer> = task
        .await
        .unwrap()
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert!(
        matches!(&peers[0], Peer::P2p { initiator, responder, .. } if initiator == ALICE && responder == BOB)
    );
    assert!(
        matches!(&peers[1], Peer::Mpin { identity, resumed: false, .. } if identity == b"user@example.com")
    );
    assert_eq!(
        peers[2],
        Peer::Psk {
            identity: b"legacy".to_vec()
        }
    );
}

#[tokio::test]
async fn a_listener_without_mpin_serves_p2p_and_static_psk_and_refuses_mpin() {
    let d = Dtas::new();
    let (_, mpin_client) = mpin_world();
    let mut cfg = d.server(BOB);
    cfg.static_psks = Some(legacy_store());
    let (addr, task) = serve(cfg, 3).await;

    link_and_echo(&d, addr, 1000).await;

    psk_echo(addr, 1000).await;

    let tcp = TcpStream::connect(addr).await.unwrap();
    assert!(MpinConnector::new(Arc::new(mpin_client))
        .connect(tcp)
        .await
        .is_err());

    let r = task.await.unwrap();
    assert!(matches!(r[0].as_ref().unwrap(), Peer::P2p { .. }));
    assert!(matches!(r[1].as_ref().unwrap(), Peer::Psk { .. }));
    let e = r[2].as_ref().unwrap_err();
    assert!(
        matches!(p2p_err(e), MpinError::UnknownProtocol(b'M')),
        "{e}"
    );
}

#[test]
fn preface_differs_from_mpin_in_the_third_byte() {
    assert_eq!(&PREFACE, b"MP2P\x01");
    assert_eq!(PREFACE[..2], milagro_tls::mpin::frame::PREFACE[..2]);
    assert_ne!(PREFACE[2], milagro_tls::mpin::frame::PREFACE[2]);
}
