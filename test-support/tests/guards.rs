//! The guards against real processes: a child is gone after its guard drops, stdout lines and
//! stderr logs are seen, and redis-server answers on its port and stops on drop.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use test_support::{free_port, wait_for_port, ProcessGuard, RedisServer, TempDir, WAIT};

fn alive(pid: u32) -> bool {
    Command::new("kill")
        .args(["-0", &pid.to_string()])
        .status()
        .unwrap()
        .success()
}

#[test]
fn a_process_is_killed_and_reaped_on_drop() {
    let dir = TempDir::new("guard");
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "echo ready; echo oops >&2; exec sleep 60"]);
    let mut g = ProcessGuard::start(&mut cmd, "sh", &dir.path("sh.log")).unwrap();
    assert_eq!(g.wait_line("rea", WAIT), "ready");
    g.wait_log_count("oops", 1, WAIT);
    let pid = g.child.id();
    assert!(alive(pid));
    drop(g);
    assert!(!alive(pid), "the child outlived its guard");
}

#[test]
fn a_missing_line_fails_with_the_log() {
    let dir = TempDir::new("guard-miss");
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "echo the-reason >&2; exit 3"]);
    let mut g = ProcessGuard::start(&mut cmd, "sh", &dir.path("sh.log")).unwrap();
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        g.wait_line("never", Duration::from_secs(5))
    }))
    .unwrap_err();
    let msg = err.downcast_ref::<String>().unwrap();
    assert!(msg.contains("the-reason"), "{msg}");
    assert_eq!(g.wait_exit(WAIT).unwrap().code(), Some(3));
}

#[test]
fn temp_dir_is_removed_and_private_files_are_0600() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("dirs");
    let f = dir.private("k", "secret");
    let mode = std::fs::metadata(&f).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let root = dir.root().to_path_buf();
    drop(dir);
    assert!(!root.exists());
}

#[test]
fn wait_for_port_times_out_on_a_closed_port() {
    let port = free_port();
    assert!(wait_for_port(port, Duration::from_millis(300)).is_err());
}

#[test]
fn redis_server_answers_and_stops_on_drop() {
    let mut r = RedisServer::start();
    let port = r.port();
    assert_eq!(r.url(), format!("redis://127.0.0.1:{port}/"));
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(b"PING\r\n").unwrap();
    let mut buf = [0u8; 7];
    s.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"+PONG\r\n");
    let pid = r.process().child.id();
    drop(r);
    assert!(!alive(pid), "redis-server outlived its guard");
}
