//! M-Pin tunnels end to end through real processes and sockets: client tunnel → server
//! tunnel → echo service, in both modes, with and without time permits; and every refusal
//! (wrong PIN, revoked identity without permit, identity outside the allow-list, expired
//! permit) ends with a clear log line on the server and nothing forwarded to the service.
//! Credential and server-secret files are made with the libraries (no D-TA needed here; see
//! `provision.rs` for the D-TA path).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};

use common::*;
use dta_client::files::{CredentialFile, ServerSecretFile};
use dta_client::ra::RaKey;
use mpin_kex::*;
use rand_core::OsRng;

struct World {
    dtas: Vec<MasterShare>,
    ra: RaKey,
}

fn today() -> u32 {
    policy::day_of(milagro_tls::mpin::system_clock())
}

impl World {
    fn new() -> Self {
        Self {
            dtas: (0..3).map(|_| MasterShare::generate(&mut OsRng)).collect(),
            ra: RaKey::generate(),
        }
    }

    fn server_secret(&self, dir: &TempDir) -> PathBuf {
        let ss = ServerSecret::combine(
            &self
                .dtas
                .iter()
                .map(MasterShare::server_secret_share)
                .collect::<Vec<_>>(),
        )
        .unwrap();
        let p = dir.path("server.secret");
        ServerSecretFile::new(ss, "test-server".into(), Vec::new())
            .save(&p)
            .unwrap();
        p
    }

    /// A credential file for `id` with PIN `pin` and a permit for `permit_day` (if any).
    fn credential(&self, dir: &TempDir, id: &str, pin: u32, permit_day: Option<u32>) -> PathBuf {
        let h = HashedId::of(id.as_bytes());
        let cs = ClientSecret::combine(
            &self
                .dtas
                .iter()
                .map(|d| d.client_secret_share(&h))
                .collect::<Vec<_>>(),
        )
        .unwrap();
        let token = Token::extract(&cs, id.as_bytes(), &Pin::new(pin).unwrap()).unwrap();
        let grant = self
            .ra
            .grant_client(&h, milagro_tls::mpin::system_clock(), 600);
        // A D-TA that is not running: a missing permit cannot be fetched (port 9 is closed).
        let nowhere = dta_client::client::DtaEndpoint {
            url: "https://127.0.0.1:9".into(),
            fingerprint: "00".repeat(32),
            signing_key: "00".repeat(32),
        };
        let mut file = CredentialFile::new(id.into(), token, vec![nowhere], grant);
        if let Some(day) = permit_day {
            let tp = TimePermit::combine(
                &self
                    .dtas
                    .iter()
                    .map(|d| d.time_permit_share(&h, day).unwrap())
                    .collect::<Vec<_>>(),
            )
            .unwrap();
            file.add_permits(vec![tp], 0);
        }
        let p = dir.path(&format!("{id}-{pin}-{permit_day:?}.credential"));
        file.save(&p).unwrap();
        p
    }
}

fn mpin_server(dir: &TempDir, secret: &Path, connect: &str, extra: &[&str]) -> Tunnel {
    let mut args = vec![
        "server",
        "--accept",
        "127.0.0.1:0",
        "--connect",
        connect,
        "--server-secret",
        s(secret),
    ];
    args.extend_from_slice(extra);
    Tunnel::spawn(dir, "mpin-server", &args)
}

fn mpin_client(
    dir: &TempDir,
    tag: &str,
    cred: &Path,
    pin: &str,
    connect: &str,
    extra: &[&str],
) -> Tunnel {
    let pin_file = dir.private(&format!("{tag}.pin"), pin);
    let mut args = vec![
        "client",
        "--accept",
        "127.0.0.1:0",
        "--connect",
        connect,
        "--credential",
        s(cred),
        "--pin-file",
    ];
    let pin_s = s(&pin_file).to_string();
    args.push(&pin_s);
    args.extend_from_slice(extra);
    Tunnel::spawn(dir, tag, &args)
}

#[test]
fn mpin_tunnels_carry_data_in_both_modes_with_permits() {
    let dir = TempDir::new("mpin-rt");
    let w = World::new();
    let echo = Echo::start();
    let secret = w.server_secret(&dir);
    let mut srv = mpin_server(
        &dir,
        &secret,
        &echo.addr,
        &["--require-permits", "--allow", "alice*"],
    );
    let srv_addr = srv.addr("server");
    let cred = w.credential(&dir, "alice@example.com", 1234, Some(today()));
    let mut multi = mpin_client(&dir, "multi", &cred, "1234", &srv_addr, &[]);
    let mut one = mpin_client(&dir, "one", &cred, "1234\n", &srv_addr, &["--one-pass"]);
    let data = random_bytes(256 * 1024, 3);
    for cli in [&mut multi, &mut one] {
        let addr = cli.addr("client");
        let back = roundtrip(&addr, &data).expect("round trip failed");
        assert!(back == data, "echoed bytes differ");
    }
    srv.wait_log_count("identity=alice@example.com method=mpin", 2);
    assert_eq!(echo.accepted(), 2);
}

#[test]
fn reconnects_resume_with_tickets_unless_disabled() {
    let dir = TempDir::new("mpin-res");
    let w = World::new();
    let echo = Echo::start();
    let secret = w.server_secret(&dir);
    let mut srv = mpin_server(&dir, &secret, &echo.addr, &["--require-permits"]);
    let srv_addr = srv.addr("server");
    let cred = w.credential(&dir, "frank", 4444, Some(today()));
    let mut cli = mpin_client(&dir, "resuming", &cred, "4444", &srv_addr, &[]);
    let addr = cli.addr("client");
    for i in 0..3u8 {
        assert_eq!(roundtrip(&addr, &[i; 10]).unwrap(), vec![i; 10]);
    }
    srv.wait_log_count("identity=frank method=mpin ", 1);
    srv.wait_log_count("identity=frank method=mpin-resumed", 2);
    let mut full = mpin_client(&dir, "full", &cred, "4444", &srv_addr, &["--no-resume"]);
    let addr = full.addr("client");
    for i in 0..2u8 {
        assert_eq!(roundtrip(&addr, &[i; 10]).unwrap(), vec![i; 10]);
    }
    srv.wait_log_count("identity=frank method=mpin ", 3);
    assert_eq!(
        srv.log_text().matches("method=mpin-resumed").count(),
        2,
        "--no-resume must never resume"
    );
}

#[test]
fn mpin_tunnels_without_permits() {
    let dir = TempDir::new("mpin-np");
    let w = World::new();
    let echo = Echo::start();
    let secret = w.server_secret(&dir);
    let mut srv = mpin_server(&dir, &secret, &echo.addr, &[]);
    let srv_addr = srv.addr("server");
    let cred = w.credential(&dir, "bob", 7, None);
    let mut cli = mpin_client(&dir, "bob", &cred, "0007", &srv_addr, &[]);
    let data = random_bytes(64 * 1024, 5);
    assert!(roundtrip(&cli.addr("client"), &data).expect("round trip failed") == data);
    srv.wait_log("identity=bob method=mpin");
}

#[test]
fn refusals_are_logged_and_nothing_is_forwarded() {
    let dir = TempDir::new("mpin-no");
    let w = World::new();
    let echo = Echo::start();
    let secret = w.server_secret(&dir);
    let mut srv = mpin_server(
        &dir,
        &secret,
        &echo.addr,
        &["--require-permits", "--allow", "*@corp.example"],
    );
    let srv_addr = srv.addr("server");
    let good = w.credential(&dir, "carol@corp.example", 2468, Some(today()));
    // (client, credential, PIN, server log line, client log line)
    let cases: Vec<(&str, PathBuf, &str, &str, &str)> = vec![
        (
            "wrong-pin",
            good.clone(),
            "1357",
            "proof rejected",
            "refused",
        ),
        (
            "revoked",
            w.credential(&dir, "dave@corp.example", 1, None),
            "1",
            "a time permit is required but the client sent none",
            "no time permit for today",
        ),
        (
            "outsider",
            w.credential(&dir, "mallory@evil.example", 1, Some(today())),
            "1",
            "identity not allowed",
            "refused",
        ),
        (
            "expired",
            w.credential(&dir, "erin@corp.example", 1, Some(today() - 2)),
            "1",
            "a time permit is required",
            "no time permit for today",
        ),
    ];
    for (tag, cred, pin, reason, client_reason) in cases {
        let mut cli = mpin_client(&dir, tag, &cred, pin, &srv_addr, &[]);
        let mut conn = connect(&cli.addr("client"));
        use std::io::Write;
        let _ = conn.write_all(b"must never reach the service");
        assert!(
            closed_within(&mut conn, WAIT),
            "{tag}: connection not closed"
        );
        srv.wait_log(reason);
        cli.wait_log("the server refused the M-Pin authentication");
        cli.wait_log(client_reason);
    }
    assert_eq!(echo.accepted(), 0, "nothing may reach the service");
    // The right PIN still works afterwards (three failures lock carol out only after a fourth try).
    let mut ok = mpin_client(&dir, "good", &good, "2468", &srv_addr, &[]);
    assert_eq!(roundtrip(&ok.addr("client"), b"hello").unwrap(), b"hello");
}
