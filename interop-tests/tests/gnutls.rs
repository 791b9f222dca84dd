//! milagro-tls against GnuTLS `gnutls-serv` / `gnutls-cli` with PSK.
//! GnuTLS binds external PSKs to SHA-256 (a SHA-384 suite gets
//! illegal_parameter), so only the SHA-256 suites apply.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use interop_tests::*;
use milagro_tls::stream::tls_error;
use milagro_tls::{AlertDescription, CipherSuite, Error, NamedGroup, ServerConfig, StaticPskStore};

const T: Duration = Duration::from_secs(30);
const TLS13_PSK: &str = "NORMAL:-VERS-ALL:+VERS-TLS1.3:+ECDHE-PSK:+DHE-PSK:+PSK";
const PSK_KE_ONLY: &str = "NORMAL:-VERS-ALL:+VERS-TLS1.3:-KX-ALL:+PSK";

fn gnutls_cipher(s: CipherSuite) -> &'static str {
    match s {
        CipherSuite::Aes128GcmSha256 => "AES-128-GCM",
        CipherSuite::Aes256GcmSha384 => "AES-256-GCM",
        CipherSuite::Chacha20Poly1305Sha256 => "CHACHA20-POLY1305",
    }
}

fn gnutls_group(g: NamedGroup) -> &'static str {
    match g {
        NamedGroup::X25519 => "GROUP-X25519",
        NamedGroup::Secp256r1 => "GROUP-SECP256R1",
        NamedGroup::X25519Mlkem768 => "GROUP-X25519-MLKEM768",
    }
}

/// `gnutls-serv --echo` with a PSK password file, on a free port.
fn gnutls_serv(dir: &TempDir, priority: &str) -> (ProcessGuard, u16) {
    require_tool("gnutls-serv");
    let passwd = dir.private("psk.passwd", &format!("{IDENTITY}:{KEY_HEX}\n"));
    let port = free_port();
    let mut cmd = Command::new("gnutls-serv");
    cmd.args(["--echo", "-p", &port.to_string(), "--priority", priority])
        .arg("--pskpasswd")
        .arg(&passwd);
    let g = ProcessGuard::spawn_quiet(&mut cmd, "gnutls-serv").unwrap();
    wait_for_port(port, Duration::from_secs(10)).unwrap();
    (g, port)
}

#[test]
fn our_client_against_gnutls_serv() {
    let dir = TempDir::new("gnutls-serv");
    for suite in [
        CipherSuite::Aes128GcmSha256,
        CipherSuite::Chacha20Poly1305Sha256,
    ] {
        // (client groups, server priority groups, expected group, expected HRR)
        let cases: [(&[NamedGroup], &str, NamedGroup, bool); 4] = [
            (&[NamedGroup::X25519], "", NamedGroup::X25519, false),
            (&[NamedGroup::Secp256r1], "", NamedGroup::Secp256r1, false),
            (&NamedGroup::ALL, "", NamedGroup::X25519, false),
            (
                &NamedGroup::ALL,
                ":-GROUP-ALL:+GROUP-SECP256R1",
                NamedGroup::Secp256r1,
                true,
            ),
        ];
        for (groups, extra, want_group, want_hrr) in cases {
            let (_server, port) = gnutls_serv(&dir, &format!("{TLS13_PSK}{extra}"));
            let payload = text_payload(MIB);
            let rt = client_roundtrip(
                port,
                psk(IDENTITY, KEY_HEX),
                &[suite],
                groups,
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
            assert_eq!(rt.negotiated.suite, suite);
            assert_eq!(rt.negotiated.group, want_group);
            assert_eq!(rt.negotiated.hello_retry, want_hrr);
            // the peer answered our KeyUpdate and sent session tickets we ignore
            assert!(rt.peer_key_updates >= 1, "no KeyUpdate from the peer");
            assert!(rt.tickets >= 1, "no NewSessionTicket from the peer");
        }
    }
}

fn our_client_failure(priority: &str, key_hex: &str, identity: &str) -> std::io::Error {
    let dir = TempDir::new("gnutls-neg");
    let (_server, port) = gnutls_serv(&dir, priority);
    client_roundtrip(
        port,
        psk(identity, key_hex),
        &[CipherSuite::Aes128GcmSha256],
        &[NamedGroup::X25519],
        b"must not be delivered\n",
        1,
        T,
    )
    .unwrap_err()
}

#[test]
fn our_client_with_wrong_key_or_identity_fails_cleanly() {
    for (key, id) in [(WRONG_KEY_HEX, IDENTITY), (KEY_HEX, "stranger")] {
        let e = our_client_failure(TLS13_PSK, key, id);
        assert!(
            matches!(
                tls_error(&e),
                Some(Error::AlertReceived(
                    AlertDescription::IllegalParameter | AlertDescription::DecryptError
                ))
            ),
            "{e}"
        );
    }
}

#[test]
fn our_client_refuses_psk_ke_only_server() {
    let e = our_client_failure(PSK_KE_ONLY, KEY_HEX, IDENTITY);
    assert!(tls_error(&e).is_some(), "{e}");
}

fn our_server(
    groups: Vec<NamedGroup>,
) -> (
    u16,
    std::sync::mpsc::Receiver<Result<milagro_tls::Negotiated, Error>>,
) {
    let store: StaticPskStore = [psk(IDENTITY, KEY_HEX)].into_iter().collect();
    let mut config = ServerConfig::new(Arc::new(store));
    config.options.groups = groups;
    spawn_our_server(config).unwrap()
}

fn gnutls_cli(port: u16, priority: &str, key_hex: &str, identity: &str) -> ProcessGuard {
    require_tool("gnutls-cli");
    let mut cmd = Command::new("gnutls-cli");
    cmd.args(["-p", &port.to_string(), LOOPBACK, "--logfile", "/dev/null"])
        .args([
            "--pskusername",
            identity,
            "--pskkey",
            key_hex,
            "--priority",
            priority,
        ]);
    ProcessGuard::spawn_piped(&mut cmd, "gnutls-cli").unwrap()
}

#[test]
fn gnutls_cli_against_our_server() {
    for suite in [
        CipherSuite::Aes128GcmSha256,
        CipherSuite::Chacha20Poly1305Sha256,
    ] {
        for group in [NamedGroup::X25519, NamedGroup::Secp256r1] {
            let (port, outcomes) = our_server(NamedGroup::ALL.to_vec());
            let prio = format!(
                "{TLS13_PSK}:-CIPHER-ALL:+{}:-GROUP-ALL:+{}",
                gnutls_cipher(suite),
                gnutls_group(group)
            );
            let mut c = gnutls_cli(port, &prio, KEY_HEX, IDENTITY);
            let payload = text_payload(MIB);
            let got = pipe_through(&mut c, payload.clone(), MIB, T);
            assert!(
                got == payload,
                "echo through gnutls-cli differs ({} bytes)",
                got.len()
            );
            drop(c);
            let n = outcomes.recv_timeout(T).unwrap().unwrap();
            assert_eq!((n.suite, n.group), (suite, group));
        }
    }
}

fn gnutls_cli_failure(priority: &str, key_hex: &str, identity: &str) -> (Error, String) {
    let (port, outcomes) = our_server(NamedGroup::ALL.to_vec());
    let mut c = gnutls_cli(port, priority, key_hex, identity);
    if let Some(mut stdin) = c.child.stdin.take() {
        let _ = std::io::Write::write_all(&mut stdin, b"must not be delivered\n");
    }
    let server = outcomes.recv_timeout(T).unwrap().unwrap_err();
    let _ = c.child.wait();
    let (out, err) = c.kill_and_collect();
    assert!(!out.contains("must not be delivered"));
    (server, err)
}

#[test]
fn gnutls_cli_with_wrong_key_or_identity_gets_decrypt_error() {
    for (key, id) in [(WRONG_KEY_HEX, IDENTITY), (KEY_HEX, "stranger")] {
        let (e, err) = gnutls_cli_failure(TLS13_PSK, key, id);
        assert_eq!(e, Error::BadPskBinder);
        assert!(
            err.contains("Decryption has failed") || err.contains("fatal alert"),
            "{err}"
        );
    }
}

#[test]
fn gnutls_cli_offering_only_psk_ke_gets_handshake_failure() {
    let (e, err) = gnutls_cli_failure(PSK_KE_ONLY, KEY_HEX, IDENTITY);
    assert!(matches!(e, Error::HandshakeFailure(_)), "{e}");
    assert!(
        err.contains("fatal alert") || err.contains("Handshake failed"),
        "{err}"
    );
}

/// Our client rekeys on its own before a lowered AEAD usage limit (32
/// records per key, RFC 8446 §5.5) and GnuTLS follows every KeyUpdate.
/// (GnuTLS ends a connection that sends more than 8 KeyUpdates a second, so
/// the limit here is higher than in the OpenSSL test.)
#[test]
fn our_client_rekeys_before_a_lowered_aead_limit_with_gnutls_serv() {
    const LIMIT: u64 = 32;
    let dir = TempDir::new("gnutls-limit");
    for suite in [
        CipherSuite::Aes128GcmSha256,
        CipherSuite::Chacha20Poly1305Sha256,
    ] {
        let (_server, port) = gnutls_serv(&dir, TLS13_PSK);
        let payload = text_payload(MIB);
        let mut config = milagro_tls::ClientConfig::new(psk(IDENTITY, KEY_HEX));
        config.options.cipher_suites = vec![suite];
        config.limits.aead_record_limit = Some(LIMIT);
        let rt = client_roundtrip_with(port, config, &payload, MIB, T).unwrap();
        assert!(rt.received == payload, "{suite:?}: echo differs");
        let min = (MIB as u64 / 16_384).div_ceil(LIMIT - 1) - 1;
        assert!(rt.local.limit_rekeys >= min, "{suite:?}: {:?}", rt.local);
    }
}
