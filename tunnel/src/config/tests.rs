//! Parsing and validation, through the file and the flags.

use std::time::Duration;

use milagro_tls::{CipherSuite, NamedGroup};

use super::*;
use crate::lockout::LockoutSpec;

const GOOD: &str = r#"
log_format = "json"
status = "127.0.0.1:9100"
drain_timeout = 5

[[service]]
name = "db"
mode = "server"
accept = "127.0.0.1:5433"
connect = "127.0.0.1:5432"
psk_secrets = "/etc/psk.txt"
max_connections = 3
handshake_timeout = 2.5
idle_timeout = 60
rate_limit = 10

[[service]]
mode = "client"
accept = "unix:/tmp/app.sock"
connect = "db.example:5433"
psk_secrets = "/etc/psk.txt"
psk_identity = "app"
suite = "TLS_AES_256_GCM_SHA384"
group = "X25519"
"#;

#[test]
fn parses_a_full_config() {
    let c = Config::from_toml_str(GOOD, "t.toml").unwrap();
    assert_eq!(c.log_format, Some(LogFormat::Json));
    assert_eq!(c.drain_timeout, Duration::from_secs(5));
    assert_eq!(c.services.len(), 2);
    let db = &c.services[0];
    assert_eq!(db.name, "db");
    assert_eq!(db.role(), Role::Server);
    assert_eq!(db.max_connections, 3);
    assert_eq!(db.options.handshake_timeout, Duration::from_millis(2500));
    assert_eq!(db.idle_timeout, Some(Duration::from_secs(60)));
    assert_eq!(db.rate_limit, Some(10.0));
    assert_eq!(
        db.auth_origin,
        "t.toml line 11: service \"db\": psk_secrets"
    );
    let app = &c.services[1];
    assert_eq!(app.name, "unix:/tmp/app.sock");
    assert_eq!(app.accept, Addr::Unix("/tmp/app.sock".into()));
    assert_eq!(app.options.cipher_suites, [CipherSuite::Aes256GcmSha384]);
    assert_eq!(app.options.groups, [NamedGroup::X25519]);
    assert_eq!(
        app.auth,
        AuthSpec::Client(ClientAuth::Psk {
            secrets: "/etc/psk.txt".into(),
            identity: Some("app".into())
        })
    );
}

#[test]
fn example_config_is_valid() {
    let src = include_str!("../../tunnel.example.toml");
    let c = Config::from_toml_str(src, "tunnel.example.toml").unwrap();
    assert_eq!(c.services.len(), 2);
    // uncomment the M-Pin and device services at the end
    let (head, tail) = src.split_once("# M-Pin (").unwrap();
    let tail: String = tail
        .lines()
        .skip(1)
        .map(|l| format!("{}\n", l.strip_prefix('#').unwrap_or(l)))
        .collect();
    let mpin = format!("{head}{tail}");
    let c = Config::from_toml_str(&mpin, "uncommented").unwrap();
    assert_eq!(c.services.len(), 6);
}

fn err(src: &str) -> String {
    Config::from_toml_str(src, "tunnel.toml")
        .unwrap_err()
        .to_string()
}

const HEAD: &str = "[[service]]\nname = \"db\"\nmode = \"server\"\naccept = \"127.0.0.1:1\"\n";

#[test]
fn unknown_field_names_file_line_service_and_field() {
    let src = format!("{HEAD}psk_secrets = \"p\"\n\nconect = \"127.0.0.1:2\"\n");
    let e = err(&src);
    assert!(
        e.starts_with("tunnel.toml line 7: service \"db\": unknown field `conect`"),
        "{e}"
    );
    let e = err("drain_timeout = 1\nlog_fromat = \"json\"\n");
    assert!(
        e.starts_with("tunnel.toml line 2: unknown field `log_fromat`"),
        "{e}"
    );
}

#[test]
fn syntax_and_type_errors_name_the_line() {
    let e = err(&format!("{HEAD}max_connections = \"many\"\n"));
    assert!(e.starts_with("tunnel.toml line 5: service \"db\": "), "{e}");
    let e = err("[[service]]\nmode = \"sever\"\n");
    assert!(e.starts_with("tunnel.toml line 2: "), "{e}");
    assert!(e.contains("sever"), "{e}");
    let e = err("status = \n");
    assert!(e.starts_with("tunnel.toml line 1: "), "{e}");
}

#[test]
fn semantic_errors_name_service_and_field() {
    let e = err(&format!("{HEAD}connect = \"127.0.0.1:2\"\n"));
    assert_eq!(e, "tunnel.toml line 1: service \"db\": psk_secrets: missing: server mode needs psk_secrets (static PSK) or server_secret (M-Pin)");
    let e = err(&format!("{HEAD}connect = \"nope\"\npsk_secrets = \"p\"\n"));
    assert!(
        e.starts_with("tunnel.toml line 5: service \"db\": connect: invalid address \"nope\""),
        "{e}"
    );
    let e = err(&format!(
        "{HEAD}connect = \"h:2\"\npsk_secrets = \"p\"\nsuite = \"RC4\"\n"
    ));
    assert!(
        e.starts_with("tunnel.toml line 7: service \"db\": suite: unknown cipher suite"),
        "{e}"
    );
    let e = err(&format!(
        "{HEAD}connect = \"h:2\"\npsk_secrets = \"p\"\nmax_connections = 0\n"
    ));
    assert!(
        e.starts_with("tunnel.toml line 7: service \"db\": max_connections: "),
        "{e}"
    );
    let e = err(&format!(
        "{HEAD}connect = \"h:2\"\npsk_secrets = \"p\"\npsk_identity = \"x\"\n"
    ));
    assert!(
        e.contains("psk_identity: only applies to client mode"),
        "{e}"
    );
    let e = err(&format!("{HEAD}connect = \"h:2\"\npsk_secrets = \"p\"\n{HEAD}connect = \"h:2\"\npsk_secrets = \"p\"\n"));
    assert!(
        e.contains("service \"db\": name: duplicate service name"),
        "{e}"
    );
    let e = err("[[service]]\nmode = \"client\"\naccept = \"127.0.0.1:1\"\nconnect = \"h:1\"\n");
    assert!(
        e.contains("service \"127.0.0.1:1\": psk_secrets: missing"),
        "{e}"
    );
    assert!(err("drain_timeout = 3\n").contains("no [[service]] table"));
}

#[test]
fn mpin_settings_are_parsed() {
    let src = "[[service]]\nmode = \"server\"\naccept = \"127.0.0.1:1\"\nconnect = \"h:1\"\nserver_secret = \"ss\"\nrequire_permits = true\nallow = [\"*@example.com\"]\n";
    let c = Config::from_toml_str(src, "t").unwrap();
    assert!(
        matches!(&c.services[0].auth, AuthSpec::Server(ServerAuth::Mpin { require_permits: true, allow, .. }) if allow.len() == 1)
    );
    let bad = src.replace("*@example.com", "[");
    assert!(err(&bad).contains("allow: bad pattern"));
    let lock = src.replace(
        "allow =",
        "lockout_after = 5\nlockout_for = \"2s\"\ndistributed_lockout_after = 12\nknown_source_days = 7\nallow =",
    );
    let c = Config::from_toml_str(&lock, "t.toml").unwrap();
    assert!(matches!(
        &c.services[0].auth,
        AuthSpec::Server(ServerAuth::Mpin { lockout, .. })
            if *lockout == LockoutSpec { after: 5, lasts: Duration::from_secs(2), distributed_after: 12, known_days: 7 }
    ));
    assert!(
        err(&src.replace("allow =", "lockout_for = \"2d\"\nallow ="))
            .contains("lockout_for: \"2d\" is not a duration")
    );
    assert!(err(&src.replace("allow =", "lockout_after = 0\nallow =")).contains("lockout_after"));
    assert!(
        err(&src.replace("allow =", "distributed_lockout_after = -1\nallow ="))
            .contains("distributed_lockout_after: -1 is not a number")
    );
    assert!(
        err(&src.replace("allow =", "known_source_days = 400\nallow ="))
            .contains("known_source_days: 400 is not a number of days")
    );
}

#[test]
fn pre_auth_limits_default_on_and_can_be_set_or_turned_off() {
    let base = format!("{HEAD}connect = \"h:2\"\npsk_secrets = \"p\"\n");
    let c = Config::from_toml_str(&base, "t").unwrap();
    let s = &c.services[0];
    assert_eq!(s.rate_limit, Some(DEFAULT_RATE_LIMIT));
    assert_eq!(s.rate_burst, 100.0);
    assert_eq!(s.max_handshakes, DEFAULT_MAX_HANDSHAKES);
    assert_eq!(
        s.max_handshakes_per_source,
        DEFAULT_MAX_HANDSHAKES_PER_SOURCE
    );
    let set = format!(
        "{base}rate_limit = 2\nrate_burst = 7\nmax_handshakes = 9\nmax_handshakes_per_source = 3\n"
    );
    let s = &Config::from_toml_str(&set, "t").unwrap().services[0];
    assert_eq!((s.rate_limit, s.rate_burst), (Some(2.0), 7.0));
    assert_eq!((s.max_handshakes, s.max_handshakes_per_source), (9, 3));
    let client = "[[service]]\nmode = \"client\"\naccept = \"127.0.0.1:1\"\nconnect = \"h:1\"\npsk_secrets = \"p\"\n";
    let s = &Config::from_toml_str(client, "t").unwrap().services[0];
    assert_eq!(s.rate_limit, None, "client mode: no default rate limit");
    assert_eq!(s.max_handshakes, DEFAULT_MAX_HANDSHAKES);
    let off = format!("{base}rate_limit = 0\n");
    assert_eq!(
        Config::from_toml_str(&off, "t").unwrap().services[0].rate_limit,
        None
    );
    assert!(err(&format!("{base}rate_limit = -1\n")).contains("rate_limit: -1 is not a positive"));
    assert!(
        err(&format!("{base}max_handshakes = 0\n")).contains("max_handshakes: 0 is not a positive")
    );
    assert!(err(&format!("{base}rate_burst = 0.5\n")).contains("rate_burst: 0.5"));
}

#[test]
fn flags_origin_names_the_flag() {
    let raw = RawService {
        mode: Some(Role::Client),
        accept: Some("127.0.0.1:1".into()),
        connect: Some("127.0.0.1:2".into()),
        ..RawService::default()
    };
    let e = validate_service(raw, Origin::Flags, 0..0)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("command line: --psk-secrets: missing"), "{e}");
}
