//! The `psk_server` example program on loopback, under a `test_support::ProcessGuard`.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::path::Path;
use std::process::Command;

pub use test_support::ProcessGuard;
use test_support::{example_bin, WAIT};

/// Starts `psk_server` on a free loopback port with `psk_file` (its stderr goes to a log
/// next to it); returns it and its address.
pub fn start_psk_server(psk_file: &Path, extra: &[&str]) -> (ProcessGuard, String) {
    let mut cmd = Command::new(example_bin("psk_server"));
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
