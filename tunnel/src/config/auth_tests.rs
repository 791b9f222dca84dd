//! The service's auth: each valid combination of fields is one [`AuthSpec`] variant (with
//! its role), every other one is refused with its message, the same through the file and
//! the flags; and the service's [`milagro_tls::Options`] reach the handshake.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;

use milagro_tls::{CipherSuite, NamedGroup};

use super::*;

const CLIENT: &str =
    "[[service]]\nname = \"s\"\nmode = \"client\"\naccept = \"127.0.0.1:1\"\nconnect = \"h:1\"\n";
const SERVER: &str =
    "[[service]]\nname = \"s\"\nmode = \"server\"\naccept = \"127.0.0.1:1\"\nconnect = \"h:1\"\n";

fn service(src: &str) -> ServiceConfig {
    let mut c = Config::from_toml_str(src, "t.toml").unwrap();
    c.services.remove(0)
}

/// The message after `t.toml line N: service "s": `.
fn refusal(src: &str) -> String {
    let e = Config::from_toml_str(src, "t.toml")
        .unwrap_err()
        .to_string();
    let (_, msg) = e.split_once("service \"s\": ").unwrap_or(("", &e));
    msg.to_string()
}

#[test]
fn each_valid_combination_is_one_variant_with_its_role() {
    let s = service(&format!(
        "{CLIENT}psk_secrets = \"p\"\npsk_identity = \"app\"\n"
    ));
    assert_eq!(s.role(), Role::Client);
    assert!(
        matches!(&s.auth, AuthSpec::Client(ClientAuth::Psk { identity: Some(i), .. }) if i == "app")
    );
    let s = service(&format!(
        "{CLIENT}credential = \"c\"\npin_file = \"pin\"\none_pass = true\nresume = false\n"
    ));
    assert_eq!(s.role(), Role::Client);
    assert_eq!(
        s.auth,
        AuthSpec::Client(ClientAuth::Mpin {
            credential: "c".into(),
            pin_file: Some("pin".into()),
            one_pass: true,
            resume: false,
        })
    );
    assert!(
        s.auth_origin.ends_with("service \"s\": credential"),
        "{}",
        s.auth_origin
    );
    let s = service(&format!("{SERVER}psk_secrets = \"p\"\n"));
    assert_eq!(s.role(), Role::Server);
    assert_eq!(
        s.auth,
        AuthSpec::Server(ServerAuth::Psk {
            secrets: "p".into()
        })
    );
    let s = service(&format!(
        "{SERVER}server_secret = \"ss\"\npsk_secrets = \"p\"\n"
    ));
    assert_eq!(s.role(), Role::Server);
    assert!(matches!(
        &s.auth,
        AuthSpec::Server(ServerAuth::Mpin { psk_secrets: Some(p), require_permits: false, .. }) if p.as_os_str() == "p"
    ));
    assert!(
        s.auth_origin.ends_with("service \"s\": server_secret"),
        "{}",
        s.auth_origin
    );
}

#[test]
fn impossible_combinations_are_refused_with_their_messages() {
    let cases = [
        (format!("{CLIENT}psk_secrets = \"p\"\ncredential = \"c\"\n"), "credential: give either psk_secrets or credential, not both"),
        (format!("{CLIENT}psk_secrets = \"p\"\nserver_secret = \"ss\"\n"), "server_secret: only applies to server mode"),
        (format!("{CLIENT}credential = \"c\"\nrequire_permits = true\n"), "require_permits: only applies to server mode"),
        (format!("{CLIENT}credential = \"c\"\nknown_source_days = 3\n"), "known_source_days: only applies to server mode"),
        (format!("{CLIENT}psk_secrets = \"p\"\npin_file = \"pin\"\n"), "pin_file: only applies with credential (M-Pin)"),
        (format!("{CLIENT}psk_secrets = \"p\"\nresume = true\n"), "resume: only applies with credential (M-Pin)"),
        (format!("{CLIENT}credential = \"c\"\npsk_identity = \"x\"\n"), "psk_identity: only applies with psk_secrets"),
        (format!("{SERVER}psk_secrets = \"p\"\none_pass = true\n"), "one_pass: only applies to client mode"),
        (format!("{SERVER}server_secret = \"ss\"\ncredential = \"c\"\n"), "credential: only applies to client mode"),
        (format!("{SERVER}psk_secrets = \"p\"\nallow = [\"*\"]\n"), "allow: only applies with server_secret (M-Pin)"),
        (format!("{SERVER}psk_secrets = \"p\"\nlockout_for = \"1m\"\n"), "lockout_for: only applies with server_secret (M-Pin)"),
        (format!("{SERVER}require_permits = true\n"), "require_permits: only applies with server_secret (M-Pin)"),
        (SERVER.to_string(), "psk_secrets: missing: server mode needs psk_secrets (static PSK) or server_secret (M-Pin)"),
        (CLIENT.to_string(), "psk_secrets: missing: client mode needs psk_secrets (static PSK) or credential (M-Pin)"),
    ];
    for (src, want) in cases {
        assert_eq!(refusal(&src), want, "{src}");
    }
}

#[test]
fn flags_and_file_go_through_the_same_rules() {
    let raw = RawService {
        mode: Some(Role::Server),
        accept: Some("127.0.0.1:1".into()),
        connect: Some("h:1".into()),
        psk_secrets: Some("p".into()),
        lockout_after: Some(4),
        ..RawService::default()
    };
    let e = Config::from_flags(raw.clone(), None, None)
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "command line: --lockout-after: only applies with server_secret (M-Pin)"
    );
    let e = refusal(&format!("{SERVER}psk_secrets = \"p\"\nlockout_after = 4\n"));
    assert_eq!(e, "lockout_after: only applies with server_secret (M-Pin)");
    let ok = RawService {
        lockout_after: None,
        ..raw
    };
    let e = Config::from_flags(ok.clone(), Some("nope"), None)
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("command line: --status: invalid address \"nope\""),
        "{e}"
    );
    let e = Config::from_flags(ok.clone(), None, Some(-1.0))
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "command line: --drain-timeout: -1 is not a valid number of seconds"
    );
    let c = Config::from_flags(ok, Some("127.0.0.1:9"), Some(0.0)).unwrap();
    assert_eq!(
        (c.drain_timeout, c.services[0].name.as_str()),
        (Duration::ZERO, "server")
    );
    assert_eq!(c.services[0].rate_limit, Some(DEFAULT_RATE_LIMIT));
}

#[test]
fn a_suite_and_group_set_once_reach_the_handshake() {
    let dir = tempfile::tempdir().unwrap();
    let psk = dir.path().join("psk.txt");
    let mut f = std::fs::File::create(&psk).unwrap();
    writeln!(f, "app:a-long-enough-static-key").unwrap();
    std::fs::set_permissions(&psk, std::fs::Permissions::from_mode(0o600)).unwrap();
    let psk = format!("{:?}", psk.display().to_string());
    // both name the AES-256 suite (static PSKs then bind to SHA-384); only the client
    // names a group, and the server (all groups) takes the one share it sent
    let c = service(&format!(
        "{CLIENT}psk_secrets = {psk}\nsuite = \"TLS_AES_256_GCM_SHA384\"\ngroup = \"secp256r1\"\nhandshake_timeout = 7\n"
    ));
    assert_eq!(c.options.handshake_timeout, Duration::from_secs(7));
    let s = service(&format!(
        "{SERVER}psk_secrets = {psk}\nsuite = \"TLS_AES_256_GCM_SHA384\"\n"
    ));
    let (AuthSpec::Client(ca), AuthSpec::Server(sa)) = (&c.auth, &s.auth) else {
        panic!("a client and a server service");
    };
    let client = crate::auth::build_client(ca, &c.options, 16).unwrap();
    let fleet = crate::fleet::Fleet::open(&Default::default()).unwrap();
    let server = crate::auth::build_server(sa, &s.options, &fleet).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (cp, sp) = rt.block_on(async {
        let (a, b) = tokio::io::duplex(64 * 1024);
        let source = crate::ratelimit::SourceKey::of(None);
        let (c, s) = tokio::join!(
            client.connect(Box::pin(a)),
            server.accept(Box::pin(b), source)
        );
        (c.unwrap().1, s.unwrap().1)
    });
    for peer in [&cp, &sp] {
        assert_eq!(peer.suite, Some(CipherSuite::Aes256GcmSha384));
        assert_eq!(peer.group, Some(NamedGroup::Secp256r1));
    }
    assert_eq!(sp.identity.map(|id| id.to_string()).as_deref(), Some("app"));
    assert_eq!(sp.method, crate::auth::Method::Psk);
}
