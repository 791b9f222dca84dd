//! RFC 8446 conformance through the real `psk_server` program on loopback:
//! a sans-IO client over a TCP socket sends what tlsfuzzer found the server
//! accepted, and reads the alert the server answers with.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{start_psk_server, ProcessGuard};

use milagro_tls::messages::ClientHello;
use milagro_tls::record::{content, write_plain};
use milagro_tls::{AlertDescription, ClientConfig, ClientConnection, Error, HashAlgorithm, Psk};

const KEY_HEX: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

/// Starts `psk_server` on a free loopback port; returns it and its address.
fn start_server(tag: &str) -> (ProcessGuard, String) {
    let dir = std::env::temp_dir().join(format!("milagro-conf-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let secrets: PathBuf = dir.join("psk.txt");
    std::fs::write(&secrets, format!("test:{KEY_HEX}\n")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o600)).unwrap();
    start_psk_server(&secrets, &[])
}

fn client() -> ClientConnection {
    let key: Vec<u8> = (0..KEY_HEX.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&KEY_HEX[i..i + 2], 16).unwrap())
        .collect();
    let psk = Psk::new(b"test", &key, HashAlgorithm::Sha256).unwrap();
    ClientConnection::new(Arc::new(ClientConfig::new(psk))).unwrap()
}

fn connect(addr: &str) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    s
}

/// Everything the server sends until it closes (at most 10 s).
fn read_to_close(sock: &mut TcpStream) -> Vec<u8> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        match sock.read(&mut buf) {
            Ok(0) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => return out,
        }
    }
    panic!("server did not close within 10 s; got {out:?}");
}

/// Runs the client over the socket until it fails or has echoed `probe`
/// (at most 10 s); returns the client's result.
fn drive(sock: &mut TcpStream, c: &mut ClientConnection, probe: &[u8]) -> Result<(), Error> {
    c.write_plaintext(probe).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = [0u8; 4096];
    let mut echoed = Vec::new();
    while Instant::now() < deadline {
        let out = c.take_tls();
        if !out.is_empty() {
            sock.write_all(&out).unwrap();
        }
        match sock.read(&mut buf) {
            Ok(0) => return Err(Error::UnexpectedEof),
            Ok(n) => {
                c.read_tls(&buf[..n]);
                c.process_new_packets()?;
                let mut plain = vec![0u8; c.plaintext_len()];
                let n = c.read_plaintext(&mut plain);
                echoed.extend_from_slice(&plain[..n]);
                if echoed == probe {
                    return Ok(());
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return Err(Error::UnexpectedEof),
        }
    }
    panic!("no echo within 10 s");
}

fn ccs() -> Vec<u8> {
    let mut out = Vec::new();
    write_plain(&mut out, content::CHANGE_CIPHER_SPEC, &[1]);
    out
}

#[test]
fn psk_server_refuses_legacy_version_0x0300_with_protocol_version() {
    let (_server, addr) = start_server("legacy");
    for v in [0x0300u16, 0x0200, 0x0000] {
        let mut c = client();
        let first = c.take_tls();
        let mut ch = ClientHello::decode(&first[9..]).unwrap();
        ch.legacy_version = v;
        let mut rec = Vec::new();
        write_plain(&mut rec, content::HANDSHAKE, &ch.encode());
        let mut sock = connect(&addr);
        sock.write_all(&rec).unwrap();
        assert_eq!(
            read_to_close(&mut sock),
            [21, 3, 3, 0, 2, 2, 70],
            "{v:#06x}"
        );
    }
}

#[test]
fn psk_server_refuses_change_cipher_spec_before_the_client_hello() {
    let (_server, addr) = start_server("ccs-first");
    let mut c = client();
    let mut wire = ccs();
    wire.extend(c.take_tls());
    let mut sock = connect(&addr);
    sock.write_all(&wire).unwrap();
    assert_eq!(read_to_close(&mut sock), [21, 3, 3, 0, 2, 2, 10]);
}

#[test]
fn psk_server_accepts_one_change_cipher_spec_and_refuses_a_second() {
    let (_server, addr) = start_server("ccs-twice");
    // one, as middlebox-compatible clients send: the handshake completes
    let mut c = client();
    let mut wire = c.take_tls();
    wire.extend(ccs());
    let mut sock = connect(&addr);
    sock.write_all(&wire).unwrap();
    drive(&mut sock, &mut c, b"ping").unwrap();
    // two: unexpected_message, which the client reads under the server's keys
    let mut c = client();
    let mut wire = c.take_tls();
    wire.extend(ccs());
    wire.extend(ccs());
    let mut sock = connect(&addr);
    sock.write_all(&wire).unwrap();
    assert_eq!(
        drive(&mut sock, &mut c, b"ping"),
        Err(Error::AlertReceived(AlertDescription::UnexpectedMessage))
    );
}
