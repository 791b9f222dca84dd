//! Device-link fixtures: three `dta-lite serve` D-TAs on 127.0.0.1 with the test-only clock
//! (`MILAGRO_TEST_NOW_FILE`, handed to every process started here), `ra grant device` +
//! `milagro-tunnel enroll --device`, and device tunnels at that clock.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use dta_client::clock::TEST_NOW_FILE_ENV;
use mpin_kex::policy::{day_of, DAY_SECS};

use super::{connect, s, ProcessGuard, TempDir, Tunnel, BIN, WAIT};

pub fn dta_bin() -> PathBuf {
    test_support::target_bin("dta-lite")
}

/// Three D-TAs, an RA key and the clock file: everything a device needs.
pub struct Dtas {
    pub dir: TempDir,
    pub clock: PathBuf,
    pub ra_key: PathBuf,
    pub endpoints: Vec<String>,
    pub today: u32,
    _running: Vec<ProcessGuard>,
}

pub fn run(cmd: &mut Command, clock: &Path) -> Output {
    cmd.env(TEST_NOW_FILE_ENV, clock)
        .env_remove("MILAGRO_PIN")
        .env_remove("DTA_PASSPHRASE")
        .output()
        .unwrap()
}

pub fn ok(o: Output, what: &str) -> String {
    assert!(
        o.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn set_clock(file: &Path, t: u64) {
    dta_client::fsutil::write_atomic(file, t.to_string().as_bytes(), 0o600).unwrap();
}

impl Dtas {
    pub fn start(tag: &str) -> Self {
        let dir = TempDir::new(tag);
        let clock = dir.path("now");
        let today = day_of(dta_client::clock::system_now()) + 1;
        set_clock(&clock, u64::from(today) * DAY_SECS + DAY_SECS / 2);
        let ra_key = dir.path("ra.key");
        let ra_pub = ok(
            run(
                Command::new(dta_bin()).args(["ra", "keygen", "--out", s(&ra_key)]),
                &clock,
            ),
            "ra keygen",
        );
        let pass = dir.private("passphrase", "test passphrase\n");
        let mut running = Vec::new();
        let mut endpoints = Vec::new();
        for i in 1..=3 {
            let d = dir.path(&format!("dta{i}"));
            let name = format!("dta{i}");
            ok(
                run(
                    Command::new(dta_bin())
                        .args(["init", "--dir", s(&d), "--name", &name])
                        .args(["--ra-pubkey", ra_pub.trim(), "--passphrase-file", s(&pass)]),
                    &clock,
                ),
                "init",
            );
            let mut cmd = Command::new(dta_bin());
            cmd.args(["serve", "--dir", s(&d), "--listen", "127.0.0.1:0"])
                .args(["--passphrase-file", s(&pass)])
                .env(TEST_NOW_FILE_ENV, &clock)
                .env("RUST_LOG", "warn");
            let mut p = ProcessGuard::start(
                &mut cmd,
                "dta-lite serve",
                &dir.path(&format!("{name}.log")),
            )
            .unwrap();
            let first = p.wait_line("listening on ", WAIT);
            assert!(first.starts_with("listening on 127.0.0.1:"), "{first}");
            let desc = p.wait_line("dta ", WAIT);
            endpoints.push(desc.trim_start_matches("dta ").trim().to_owned());
            running.push(p);
        }
        Self {
            dir,
            clock,
            ra_key,
            endpoints,
            today,
            _running: running,
        }
    }

    pub fn set_day(&self, day: u32, secs: u64) {
        set_clock(&self.clock, u64::from(day) * DAY_SECS + secs);
    }

    /// `dta-lite ra grant device` then `milagro-tunnel enroll --device` at the first
    /// `n_dtas` D-TAs; the device credential's path.
    pub fn enroll_at(&self, identity: &str, flags: &[&str], n_dtas: usize) -> PathBuf {
        let tag = identity.replace(':', "_");
        let grant = self.dir.path(&format!("{tag}.grant"));
        ok(
            run(
                Command::new(dta_bin())
                    .args(["ra", "grant", "device", "--key", s(&self.ra_key)])
                    .args(["--identity", identity, "--out", s(&grant)])
                    .args(flags),
                &self.clock,
            ),
            "ra grant device",
        );
        let out = self.dir.path(&format!("{tag}-{n_dtas}.device"));
        let mut cmd = Command::new(BIN);
        cmd.args(["enroll", "--device", "--identity", identity])
            .args(["--grant", s(&grant), "--out", s(&out)]);
        for e in &self.endpoints[..n_dtas] {
            cmd.args(["--dta", e]);
        }
        ok(run(&mut cmd, &self.clock), "enroll --device");
        out
    }

    pub fn enroll(&self, identity: &str, flags: &[&str]) -> PathBuf {
        self.enroll_at(identity, flags, 3)
    }

    /// A tunnel process at the test clock.
    pub fn tunnel(&self, tag: &str, args: &[&str]) -> Tunnel {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .env(TEST_NOW_FILE_ENV, &self.clock)
            .env_remove("RUST_LOG");
        let log = self.dir.path(&format!("{tag}.log"));
        Tunnel::from(ProcessGuard::start(&mut cmd, "the tunnel", &log).unwrap())
    }

    /// A device server tunnel in front of `echo`; its address.
    pub fn server(&self, tag: &str, cred: &Path, echo: &str, extra: &[&str]) -> (Tunnel, String) {
        let mut args = vec!["server", "--name", tag, "--accept", "127.0.0.1:0"];
        args.extend(["--connect", echo, "--device-credential", s(cred)]);
        args.extend_from_slice(extra);
        let mut t = self.tunnel(tag, &args);
        let a = t.addr(tag);
        (t, a)
    }

    /// A device client tunnel dialling `peer` at `server`; its plaintext address.
    pub fn client(&self, tag: &str, cred: &Path, peer: &str, server: &str) -> (Tunnel, String) {
        let mut t = self.tunnel(
            tag,
            &[
                "client",
                "--name",
                tag,
                "--accept",
                "127.0.0.1:0",
                "--connect",
                server,
                "--device-credential",
                s(cred),
                "--peer",
                peer,
            ],
        );
        let a = t.addr(tag);
        (t, a)
    }
}

/// True when a connection to the plaintext side is closed without any byte coming back.
pub fn refused(addr: &str) -> bool {
    let mut c = connect(addr);
    let _ = c.write_all(b"hello?");
    let mut buf = [0u8; 16];
    c.set_read_timeout(Some(WAIT)).unwrap();
    matches!(c.read(&mut buf), Ok(0) | Err(_))
}
