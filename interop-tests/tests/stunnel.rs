//! milagro-tls against stunnel4 in PSK mode, sharing one PSKsecrets file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use interop_tests::*;
use milagro_tls::{CipherSuite, NamedGroup, ServerConfig, StaticPskStore};

const T: Duration = Duration::from_secs(30);

fn psk_secrets(dir: &TempDir) -> std::path::PathBuf {
    dir.private("psk.txt", &format!("{IDENTITY}:{KEY_HEX}\n"))
}

fn stunnel(dir: &TempDir, service: &str) -> ProcessGuard {
    require_tool("stunnel4");
    let conf = dir.private("stunnel.conf", service);
    let mut cmd = Command::new("stunnel4");
    cmd.arg(conf);
    ProcessGuard::spawn_quiet(&mut cmd, "stunnel4").unwrap()
}

/// A plain TCP echo (at most four connections), on a background thread.
fn echo_once() -> u16 {
    let l = TcpListener::bind((LOOPBACK, 0)).unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        // bounded: a probe connection may come first
        for _ in 0..4 {
            let Ok((mut s, _)) = l.accept() else { return };
            std::thread::spawn(move || {
                let _ = s.set_read_timeout(Some(T));
                let mut r = s.try_clone().unwrap();
                let _ = std::io::copy(&mut r, &mut s);
            });
        }
    });
    port
}

#[test]
fn our_client_against_stunnel_server() {
    let dir = TempDir::new("stunnel-srv");
    let secrets = psk_secrets(&dir);
    let echo = echo_once();
    let port = free_port();
    let _st = stunnel(
        &dir,
        &format!(
            "foreground = yes\npid =\n[svc]\naccept = {LOOPBACK}:{port}\nconnect = {LOOPBACK}:{echo}\nPSKsecrets = {}\nsslVersionMin = TLSv1.3\n",
            secrets.display()
        ),
    );
    wait_for_port(port, Duration::from_secs(10)).unwrap();
    let payload = text_payload(MIB);
    let rt = client_roundtrip(
        port,
        psk(IDENTITY, KEY_HEX),
        &[CipherSuite::Aes128GcmSha256],
        &NamedGroup::ALL,
        &payload,
        MIB,
        T,
    )
    .unwrap();
    assert!(
        rt.received == payload,
        "echo differs ({} bytes)",
        rt.received.len()
    );
    assert_eq!(rt.negotiated.group, NamedGroup::X25519);
    // the peer answered our KeyUpdate and sent session tickets we ignore
    assert!(rt.peer_key_updates >= 1, "no KeyUpdate from the peer");
    assert!(rt.tickets >= 1, "no NewSessionTicket from the peer");
}

#[test]
fn stunnel_client_against_our_server() {
    let dir = TempDir::new("stunnel-cli");
    let secrets = psk_secrets(&dir);
    // our server reads the very same PSKsecrets file
    let store: StaticPskStore =
        milagro_tls::psk_file::load_store(&secrets, milagro_tls::HashAlgorithm::Sha256).unwrap();
    let (server_port, outcomes) = spawn_our_server(ServerConfig::new(Arc::new(store))).unwrap();
    let port = free_port();
    let _st = stunnel(
        &dir,
        &format!(
            "foreground = yes\npid =\n[cli]\nclient = yes\naccept = {LOOPBACK}:{port}\nconnect = {LOOPBACK}:{server_port}\nPSKsecrets = {}\nPSKidentity = {IDENTITY}\nsslVersionMin = TLSv1.3\n",
            secrets.display()
        ),
    );
    wait_for_port(port, Duration::from_secs(10)).unwrap();
    let mut sock = TcpStream::connect((LOOPBACK, port)).unwrap();
    sock.set_read_timeout(Some(T)).unwrap();
    let payload = text_payload(MIB);
    let mut w = sock.try_clone().unwrap();
    let sent = payload.clone();
    let writer = std::thread::spawn(move || w.write_all(&sent));
    let mut got = vec![0u8; MIB];
    sock.read_exact(&mut got).unwrap();
    writer.join().unwrap().unwrap();
    assert!(got == payload);
    drop(sock);
    // the wait_for_port probe made stunnel open one short connection first
    let mut identities = Vec::new();
    while let Ok(r) = outcomes.recv_timeout(Duration::from_secs(5)) {
        if let Ok(n) = r {
            identities.push(n.psk_identity);
            break;
        }
    }
    assert_eq!(identities, vec![IDENTITY.as_bytes().to_vec()]);
}
