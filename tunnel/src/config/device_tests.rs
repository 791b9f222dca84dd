//! Device-link settings (`device_credential`, `peer`): the valid combinations are one
//! [`AuthSpec`] variant each, the others are refused naming the field, through the file and
//! the flags alike.

use super::*;

const CLIENT: &str =
    "[[service]]\nname = \"s\"\nmode = \"client\"\naccept = \"127.0.0.1:1\"\nconnect = \"h:1\"\n";
const SERVER: &str =
    "[[service]]\nname = \"s\"\nmode = \"server\"\naccept = \"127.0.0.1:1\"\nconnect = \"h:1\"\n";

fn auth(src: &str) -> AuthSpec {
    let mut c = Config::from_toml_str(src, "t.toml").unwrap();
    c.services.remove(0).auth
}

fn refusal(src: &str) -> String {
    Config::from_toml_str(src, "t.toml")
        .unwrap_err()
        .to_string()
}

#[test]
fn a_device_client_names_its_credential_and_one_peer() {
    assert_eq!(
        auth(&format!(
            "{CLIENT}device_credential = \"a.device\"\npeer = \"device:bob\"\n"
        )),
        AuthSpec::Client(ClientAuth::Device {
            credential: "a.device".into(),
            peer: "device:bob".into(),
        })
    );
    let e = refusal(&format!("{CLIENT}device_credential = \"a.device\"\n"));
    assert!(e.contains("peer: missing"), "{e}");
    let e = refusal(&format!(
        "{CLIENT}psk_secrets = \"p\"\npeer = \"device:bob\"\n"
    ));
    assert!(
        e.contains("peer: only applies with device_credential"),
        "{e}"
    );
    for extra in [
        "credential = \"c\"",
        "psk_secrets = \"p\"",
        "pin_file = \"x\"",
    ] {
        let e = refusal(&format!(
            "{CLIENT}device_credential = \"a\"\npeer = \"b\"\n{extra}\n"
        ));
        assert!(e.contains("does not apply with device_credential"), "{e}");
    }
}

#[test]
fn a_device_server_may_serve_mpin_or_psk_on_the_same_listener() {
    let allow = vec!["device:*".to_owned()];
    assert_eq!(
        auth(&format!(
            "{SERVER}device_credential = \"b.device\"\nallow = [\"device:*\"]\n"
        )),
        AuthSpec::Server(ServerAuth::Device {
            credential: "b.device".into(),
            allow: allow.clone(),
            also: None,
        })
    );
    let AuthSpec::Server(ServerAuth::Device { also: Some(m), .. }) = auth(&format!(
        "{SERVER}device_credential = \"b\"\nserver_secret = \"ss\"\nrequire_permits = true\n"
    )) else {
        panic!("device + M-Pin")
    };
    assert!(matches!(
        *m,
        ServerAuth::Mpin {
            require_permits: true,
            ..
        }
    ));
    let AuthSpec::Server(ServerAuth::Device { also: Some(p), .. }) = auth(&format!(
        "{SERVER}device_credential = \"b\"\npsk_secrets = \"p\"\n"
    )) else {
        panic!("device + PSK")
    };
    assert!(matches!(*p, ServerAuth::Psk { .. }));
    let e = refusal(&format!(
        "{SERVER}device_credential = \"b\"\npeer = \"x\"\n"
    ));
    assert!(e.contains("peer: only applies to client mode"), "{e}");
    let e = refusal(&format!(
        "{SERVER}device_credential = \"b\"\nrequire_permits = false\n"
    ));
    assert!(e.contains("device permits are always required"), "{e}");
    let e = refusal(&format!(
        "{SERVER}device_credential = \"b\"\nlockout_after = 3\n"
    ));
    assert!(e.contains("only applies with server_secret"), "{e}");
    let e = refusal(&format!(
        "{SERVER}device_credential = \"b\"\nallow = [\"a[\"]\n"
    ));
    assert!(e.contains("allow: bad pattern"), "{e}");
}
