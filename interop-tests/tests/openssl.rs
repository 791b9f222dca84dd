//! milagro-tls against OpenSSL 3 `s_server` / `s_client` with `-psk`.
//! OpenSSL binds `-psk` keys to SHA-256, so only the SHA-256 suites apply.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use interop_tests::*;
use milagro_tls::stream::tls_error;
use milagro_tls::{AlertDescription, CipherSuite, Error, NamedGroup, ServerConfig, StaticPskStore};

const SUITES: [CipherSuite; 2] = [
    CipherSuite::Aes128GcmSha256,
    CipherSuite::Chacha20Poly1305Sha256,
];
const T: Duration = Duration::from_secs(30);

/// `openssl s_server -rev` (reverses each line) on a free port.
fn s_server(key_hex: &str, identity: &str, extra: &[&str]) -> (ProcessGuard, u16) {
    require_tool("openssl");
    let port = free_port();
    let mut cmd = Command::new("openssl");
    cmd.args([
        "s_server",
        "-accept",
        &format!("{LOOPBACK}:{port}"),
        "-nocert",
        "-tls1_3",
        "-rev",
    ])
    .args(["-psk", key_hex, "-psk_identity", identity])
    .args(extra);
    let g = ProcessGuard::spawn_quiet(&mut cmd, "openssl s_server").unwrap();
    wait_for_port(port, Duration::from_secs(10)).unwrap();
    (g, port)
}

fn our_client_vs_s_server(
    suite: CipherSuite,
    client_groups: &[NamedGroup],
    server_extra: &[&str],
) -> Roundtrip {
    let (_server, port) = s_server(KEY_HEX, IDENTITY, server_extra);
    let payload = text_payload(MIB);
    let rt = client_roundtrip(
        port,
        psk(IDENTITY, KEY_HEX),
        &[suite],
        client_groups,
        &payload,
        MIB,
        T,
    )
    .unwrap();
    assert_eq!(rt.received.len(), MIB);
    assert!(
        rt.received == reverse_lines(&payload),
        "echoed content differs"
    );
    assert_eq!(rt.negotiated.suite, suite);
    // the peer answered our KeyUpdate and sent session tickets we ignore
    assert!(rt.peer_key_updates >= 1, "no KeyUpdate from the peer");
    assert!(rt.tickets >= 1, "no NewSessionTicket from the peer");
    rt
}

#[test]
fn our_client_against_s_server_every_suite_and_group() {
    for suite in SUITES {
        for group in [NamedGroup::X25519, NamedGroup::Secp256r1] {
            let rt = our_client_vs_s_server(suite, &[group], &[]);
            assert_eq!(rt.negotiated.group, group);
            assert!(!rt.negotiated.hello_retry);
        }
    }
}

#[test]
fn our_default_client_picks_x25519_without_retry() {
    let rt = our_client_vs_s_server(CipherSuite::Aes128GcmSha256, &NamedGroup::ALL, &[]);
    assert_eq!(rt.negotiated.group, NamedGroup::X25519);
    assert!(!rt.negotiated.hello_retry);
}

#[test]
fn our_client_reaches_secp256r1_through_hello_retry() {
    let rt = our_client_vs_s_server(
        CipherSuite::Aes128GcmSha256,
        &NamedGroup::ALL,
        &["-groups", "P-256"],
    );
    assert_eq!(rt.negotiated.group, NamedGroup::Secp256r1);
    assert!(rt.negotiated.hello_retry);
}

#[test]
fn our_hybrid_only_share_gets_hello_retry() {
    // OpenSSL 3.0 does not know X25519MLKEM768: a ClientHello whose only key
    // share is the hybrid one is answered with a HelloRetryRequest.
    let rt = our_client_vs_s_server(
        CipherSuite::Aes128GcmSha256,
        &[NamedGroup::X25519Mlkem768, NamedGroup::Secp256r1],
        &[],
    );
    assert_eq!(rt.negotiated.group, NamedGroup::Secp256r1);
    assert!(rt.negotiated.hello_retry);
}

fn client_failure(key_hex: &str, identity: &str) -> std::io::Error {
    let (_server, port) = s_server(KEY_HEX, IDENTITY, &[]);
    let r = client_roundtrip(
        port,
        psk(identity, key_hex),
        &[CipherSuite::Aes128GcmSha256],
        &[NamedGroup::X25519],
        b"must not be delivered\n",
        1,
        T,
    );
    r.unwrap_err()
}

#[test]
fn our_client_with_wrong_key_fails_cleanly() {
    let e = client_failure(WRONG_KEY_HEX, IDENTITY);
    // OpenSSL answers a bad binder with illegal_parameter (47); RFC 8446 says decrypt_error (51)
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

#[test]
fn our_client_with_unknown_identity_fails_cleanly() {
    let e = client_failure(KEY_HEX, "stranger");
    assert!(
        matches!(tls_error(&e), Some(Error::AlertReceived(_))),
        "{e}"
    );
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

fn s_client(port: u16, args: &[&str]) -> ProcessGuard {
    require_tool("openssl");
    let mut cmd = Command::new("openssl");
    cmd.args([
        "s_client",
        "-connect",
        &format!("{LOOPBACK}:{port}"),
        "-tls1_3",
        "-quiet",
    ])
    .args(args);
    ProcessGuard::spawn_piped(&mut cmd, "openssl s_client").unwrap()
}

#[test]
fn s_client_against_our_server_every_suite_and_group() {
    let cases = [
        (CipherSuite::Aes128GcmSha256, "X25519", NamedGroup::X25519),
        (CipherSuite::Aes128GcmSha256, "P-256", NamedGroup::Secp256r1),
        (
            CipherSuite::Chacha20Poly1305Sha256,
            "X25519",
            NamedGroup::X25519,
        ),
        (
            CipherSuite::Chacha20Poly1305Sha256,
            "P-256",
            NamedGroup::Secp256r1,
        ),
    ];
    for (suite, ossl_group, group) in cases {
        let (port, outcomes) = our_server(NamedGroup::ALL.to_vec());
        let mut c = s_client(
            port,
            &[
                "-psk",
                KEY_HEX,
                "-psk_identity",
                IDENTITY,
                "-ciphersuites",
                suite.name(),
                "-groups",
                ossl_group,
            ],
        );
        let payload = text_payload(MIB);
        let got = pipe_through(&mut c, payload.clone(), MIB, T);
        assert!(
            got == payload,
            "echo through s_client differs ({} bytes)",
            got.len()
        );
        drop(c);
        let n = outcomes.recv_timeout(T).unwrap().unwrap();
        assert_eq!((n.suite, n.group, n.hello_retry), (suite, group, false));
    }
}

#[test]
fn s_client_reaches_our_secp256r1_only_server_through_hello_retry() {
    let (port, outcomes) = our_server(vec![NamedGroup::Secp256r1]);
    let mut c = s_client(
        port,
        &[
            "-psk",
            KEY_HEX,
            "-psk_identity",
            IDENTITY,
            "-groups",
            "X25519:P-256",
        ],
    );
    let payload = text_payload(64 * 1024);
    let got = pipe_through(&mut c, payload.clone(), payload.len(), T);
    assert!(got == payload);
    drop(c);
    let n = outcomes.recv_timeout(T).unwrap().unwrap();
    assert_eq!(n.group, NamedGroup::Secp256r1);
    assert!(n.hello_retry);
}

/// Runs s_client against our server, expects the handshake to fail on both
/// sides; returns (our server's error, s_client's stdout, stderr).
fn s_client_failure(args: &[&str]) -> (Error, String, String) {
    let (port, outcomes) = our_server(NamedGroup::ALL.to_vec());
    let mut c = s_client(port, args);
    if let Some(mut stdin) = c.child.stdin.take() {
        let _ = std::io::Write::write_all(&mut stdin, b"must not be delivered\n");
    }
    let server = outcomes.recv_timeout(T).unwrap().unwrap_err();
    let _ = c.child.wait();
    let (out, err) = c.kill_and_collect();
    assert!(!out.contains("must not be delivered"));
    (server, out, err)
}

#[test]
fn s_client_with_wrong_key_gets_decrypt_error() {
    let (e, _, err) = s_client_failure(&["-psk", WRONG_KEY_HEX, "-psk_identity", IDENTITY]);
    assert_eq!(e, Error::BadPskBinder);
    assert!(err.contains("decrypt error"), "{err}");
}

#[test]
fn s_client_with_unknown_identity_gets_decrypt_error() {
    let (e, _, err) = s_client_failure(&["-psk", KEY_HEX, "-psk_identity", "stranger"]);
    assert_eq!(e, Error::BadPskBinder);
    assert!(err.contains("decrypt error"), "{err}");
}

#[test]
fn s_client_without_psk_gets_handshake_failure() {
    let (e, _, err) = s_client_failure(&[]);
    assert!(matches!(e, Error::HandshakeFailure(_)), "{e}");
    assert!(err.contains("handshake failure"), "{err}");
}

/// Our client rekeys on its own before a lowered AEAD usage limit (32
/// records per key, RFC 8446 §5.5) and OpenSSL follows every KeyUpdate.
/// (`s_server -rev` stalls for about a second on each KeyUpdate it reads,
/// measured: 10 s per MiB at 8 records per key, so the limit is not lower.)
#[test]
fn our_client_rekeys_before_a_lowered_aead_limit_with_s_server() {
    const LIMIT: u64 = 32;
    for suite in SUITES {
        let (_server, port) = s_server(KEY_HEX, IDENTITY, &[]);
        let payload = text_payload(MIB);
        let mut config = milagro_tls::ClientConfig::new(psk(IDENTITY, KEY_HEX));
        config.options.cipher_suites = vec![suite];
        config.limits.aead_record_limit = Some(LIMIT);
        let rt = client_roundtrip_with(port, config, &payload, MIB, T).unwrap();
        assert!(
            rt.received == reverse_lines(&payload),
            "{suite:?}: echo differs"
        );
        let min = (MIB as u64 / 16_384).div_ceil(LIMIT - 1) - 1;
        assert!(rt.local.limit_rekeys >= min, "{suite:?}: {:?}", rt.local);
    }
}
