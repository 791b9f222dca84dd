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

#[test]
fn config_error_exits_2_naming_file_line_service_field() {
    let dir = TempDir::new("cfgerr");
    let conf = dir.path("tunnel.toml");
    std::fs::write(
        &conf,
        "# tunnel\n\n[[service]]\nname = \"db\"\nmode = \"server\"\naccept = \"127.0.0.1:0\"\nconect = \"127.0.0.1:1\"\n",
    )
    .unwrap();
    let o = run(&["run", "--config", s(&conf)]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
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
    let o = run(&["run", "--config", s(&conf)]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("tunnel.toml line 6: service \"db\": psk_secrets: "),
        "{e}"
    );
    assert!(e.contains("insecure permissions"), "{e}");

    std::fs::set_permissions(&psk, std::fs::Permissions::from_mode(0o600)).unwrap();
    let o = run(&["run", "--config", s(&conf), "--check"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    let o = run(&["run", "--config", s(&dir.path("missing.toml"))]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("missing.toml: "));
}

#[test]
fn flag_errors_exit_2_naming_the_flag() {
    let dir = TempDir::new("flagerr");
    let psk = psk_file(&dir, "psk.txt", "client1", KEY1);
    let o = run(&[
        "client",
        "--accept",
        "127.0.0.1:0",
        "--connect",
        "127.0.0.1:1",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("command line: --psk-secrets: missing"),
        "{}",
        stderr(&o)
    );

    let o = run(&[
        "client",
        "--accept",
        "127.0.0.1:0",
        "--connect",
        "nope",
        "--psk-secrets",
        s(&psk),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("command line: --connect: invalid address \"nope\""),
        "{}",
        stderr(&o)
    );

    let o = run(&[
        "client",
        "--accept",
        "127.0.0.1:0",
        "--connect",
        "127.0.0.1:1",
        "--psk-secrets",
        s(&psk),
        "--psk-identity",
        "bob",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("no line for PSK identity \"bob\""),
        "{}",
        stderr(&o)
    );

    // M-Pin flags are parsed but not wired yet
    let o = run(&[
        "client",
        "--accept",
        "127.0.0.1:0",
        "--connect",
        "127.0.0.1:1",
        "--credential",
        "c.bin",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("command line: --credential: ") && stderr(&o).contains("c.bin"),
        "a missing credential file is named: {}",
        stderr(&o)
    );
    let o = run(&[
        "server",
        "--accept",
        "127.0.0.1:0",
        "--connect",
        "127.0.0.1:1",
        "--server-secret",
        "s.bin",
        "--require-permits",
        "--allow",
        "*@x",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--server-secret") && stderr(&o).contains("s.bin"),
        "a missing server secret is named: {}",
        stderr(&o)
    );

    let o = run(&[
        "server",
        "--accept",
        "127.0.0.1:0",
        "--connect",
        "127.0.0.1:1",
        "--psk-secrets",
        s(&psk),
        "--log-level",
        "no=such=level",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("command line: --log-level: invalid filter"),
        "{}",
        stderr(&o)
    );

    let o = run(&["client", "--bogus"]);
    assert_eq!(o.status.code(), Some(2));
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
