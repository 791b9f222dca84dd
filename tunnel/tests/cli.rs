//! Command-line and config errors: exit status 2 and a one-line message
//! naming the file, line, service and field (or the flag).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::{Command, Output};

use common::*;

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs the tunnel with `args`, asserts exit status 2 (a usage error) and returns its stderr.
fn exit_2(args: &[&str]) -> String {
    let o = run(args);
    assert_eq!(o.status.code(), Some(2));
    stderr(&o)
}

/// As [`exit_2`] for `mode --accept 127.0.0.1:0 --connect CONNECT` followed by `extra`.
fn service_exit_2(mode: &str, connect: &str, extra: &[&str]) -> String {
    let mut args = vec![mode, "--accept", "127.0.0.1:0", "--connect", connect];
    args.extend_from_slice(extra);
    exit_2(&args)
}

#[test]
fn config_error_exits_2_naming_file_line_service_field() {
    let dir = TempDir::new("cfgerr");
    let conf = dir.path("tunnel.toml");
    std::fs::write(
        &conf,
        "# tunnel\n\n[[service]]\nname = \"db\"\nmode = \"server\"\naccept = \"127.0.0.1:0\"\nconect = \"127.0.0.1:1\"\n",
    )
    .unwrap();
    let e = exit_2(&["run", "--config", s(&conf)]);
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(
        e.contains("tunnel.toml line 7: service \"db\": unknown field `conect`"),
        "{e}"
    );

    // semantic: a PSK file others can read
    let psk = dir.path("psk.txt");
    std::fs::write(&psk, format!("a:{KEY1}\n")).unwrap();
    std::fs::write(
        &conf,
        format!("[[service]]\nname = \"db\"\nmode = \"server\"\naccept = \"127.0.0.1:0\"\nconnect = \"127.0.0.1:1\"\npsk_secrets = \"{}\"\n", s(&psk)),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&psk, std::fs::Permissions::from_mode(0o644)).unwrap();
    let e = exit_2(&["run", "--config", s(&conf)]);
    assert!(
        e.contains("tunnel.toml line 6: service \"db\": psk_secrets: "),
        "{e}"
    );
    assert!(e.contains("insecure permissions"), "{e}");

    std::fs::set_permissions(&psk, std::fs::Permissions::from_mode(0o600)).unwrap();
    let o = run(&["run", "--config", s(&conf), "--check"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    let e = exit_2(&["run", "--config", s(&dir.path("missing.toml"))]);
    assert!(e.contains("missing.toml: "));
}

#[test]
fn flag_errors_exit_2_naming_the_flag() {
    let dir = TempDir::new("flagerr");
    let psk = psk_file(&dir, "psk.txt", "client1", KEY1);
    let e = service_exit_2("client", "127.0.0.1:1", &[]);
    assert!(e.contains("command line: --psk-secrets: missing"), "{e}");

    let e = service_exit_2("client", "nope", &["--psk-secrets", s(&psk)]);
    assert!(
        e.contains("command line: --connect: invalid address \"nope\""),
        "{e}"
    );

    let flags = ["--psk-secrets", s(&psk), "--psk-identity", "bob"];
    let e = service_exit_2("client", "127.0.0.1:1", &flags);
    assert!(e.contains("no line for PSK identity \"bob\""), "{e}");

    // M-Pin flags are parsed but not wired yet
    let e = service_exit_2("client", "127.0.0.1:1", &["--credential", "c.bin"]);
    assert!(
        e.contains("command line: --credential: ") && e.contains("c.bin"),
        "a missing credential file is named: {e}"
    );
    let flags = [
        "--server-secret",
        "s.bin",
        "--require-permits",
        "--allow",
        "*@x",
    ];
    let e = service_exit_2("server", "127.0.0.1:1", &flags);
    assert!(
        e.contains("--server-secret") && e.contains("s.bin"),
        "a missing server secret is named: {e}"
    );

    let flags = ["--psk-secrets", s(&psk), "--log-level", "no=such=level"];
    let e = service_exit_2("server", "127.0.0.1:1", &flags);
    assert!(
        e.contains("command line: --log-level: invalid filter"),
        "{e}"
    );

    exit_2(&["client", "--bogus"]);
}

#[test]
fn bind_failure_exits_1_naming_the_address() {
    let dir = TempDir::new("bind");
    let psk = psk_file(&dir, "psk.txt", "client1", KEY1);
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let o = run(&[
        "server",
        "--accept",
        &addr,
        "--connect",
        "127.0.0.1:1",
        "--psk-secrets",
        s(&psk),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains(&format!("service \"server\": cannot listen on {addr}")),
        "{e}"
    );
}
