//! The example programs, freshly built ([`program`]), and the `psk_server` example program
//! on loopback, under a `test_support::ProcessGuard`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Once;

pub use test_support::ProcessGuard;
use test_support::{example_bin, WAIT};

/// The example program `name`, built first: a filtered `cargo test --test NAME` does not build
/// the examples (only an unfiltered `cargo test` does), and a stale program would be tested.
/// Builds them once per test process with this test's cargo, profile and target folder.
pub fn program(name: &str) -> PathBuf {
    static BUILD: Once = Once::new();
    BUILD.call_once(|| {
        let exe = std::env::current_exe().unwrap();
        let profile_dir = exe.parent().and_then(Path::parent).unwrap();
        let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
        cmd.args([
            "build",
            "--quiet",
            "-p",
            "examples",
            "--examples",
            "--target-dir",
        ])
        .arg(profile_dir.parent().unwrap());
        match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") => {}
            Some("release") => {
                cmd.arg("--release");
            }
            Some(other) => {
                cmd.args(["--profile", other]);
            }
            None => panic!("{} is not a cargo profile folder", profile_dir.display()),
        }
        let status = cmd.status().unwrap();
        assert!(status.success(), "building the examples failed: {status}");
    });
    example_bin(name)
}

/// Starts `psk_server` on a free loopback port with `psk_file` (its stderr goes to a log
/// next to it); returns it and its address.
pub fn start_psk_server(psk_file: &Path, extra: &[&str]) -> (ProcessGuard, String) {
    let mut cmd = Command::new(program("psk_server"));
    cmd.args(["--listen", "127.0.0.1:0", "--psk-secrets"])
        .arg(psk_file)
        .args(extra);
    let log = psk_file.with_extension("log");
    let mut server = ProcessGuard::start(&mut cmd, "psk_server", &log).unwrap();
    let line = server.wait_line("listening on ", WAIT);
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_string();
    (server, addr)
}
