//! Memory after a burst: a server tunnel that relayed a burst of connections gives that memory
//! back to the system once they close, with nothing set in its environment (the binary's
//! allocator, jemalloc, purges freed pages from a background thread; glibc keeps them).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::*;

/// Connections in the burst: enough that the memory they take dwarfs the allocator's slack.
const BURST: usize = 2000;
/// Open files needed: two descriptors per connection in each tunnel, one in the test's echo.
const NOFILE_NEEDED: u64 = 8192;
/// Bytes echoed on each connection before it goes idle.
const PAYLOAD: usize = 16 * 1024;

/// Resident set size of `pid` in KiB, from `/proc`.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .expect("VmRSS in /proc status");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Opens a connection through `addr` and echoes `data` on it; the connection stays open.
fn open_echoed(addr: &str, data: &[u8]) -> TcpStream {
    let mut s = connect(addr);
    s.write_all(data).unwrap();
    let mut back = vec![0u8; data.len()];
    s.read_exact(&mut back).unwrap();
    assert_eq!(back, data, "echo mismatch");
    s
}

#[test]
fn memory_of_a_burst_goes_back_to_the_system() {
    // a fresh machine's soft limit is often 1,024: raise it (the tunnels inherit it)
    let _ = rlimit::increase_nofile_limit(NOFILE_NEEDED);
    let have = rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(0, |(soft, _)| soft);
    assert!(
        have >= NOFILE_NEEDED,
        "this test holds ~{BURST} relayed connections: raise the open-files limit (ulimit -n \
         {NOFILE_NEEDED}); it is {have}"
    );
    let dir = TempDir::new("burst");
    let echo = Echo::start();
    let psk = psk_file(&dir, "psk.txt", "client1", KEY1);
    let mut srv = server(
        &dir,
        "server",
        &psk,
        &echo.addr,
        &["--rate-limit", "0", "--max-connections", "4000"],
    );
    let srv_addr = srv.addr("server");
    let mut cli = client(
        &dir,
        "client",
        &psk,
        &srv_addr,
        &["--max-connections", "4000"],
    );
    let addr = cli.addr("client");
    let pid = srv.child.id();
    let data = random_bytes(PAYLOAD, 7);
    drop(open_echoed(&addr, &data)); // warm-up: runtime, pools, first TLS state
    std::thread::sleep(Duration::from_millis(500));
    let idle = rss_kib(pid);

    let burst: Vec<TcpStream> = (0..BURST).map(|_| open_echoed(&addr, &data)).collect();
    let peak = rss_kib(pid);
    // the burst must be visible, or the check below would prove nothing
    assert!(
        peak > idle + 1024,
        "burst too small to measure: idle {idle} KiB, with {BURST} connections {peak} KiB"
    );
    drop(burst);

    // at most half of the burst's memory may stay mapped once the allocator has purged
    // (jemalloc: dirty_decay_ms 10 s, settled within 20 s); bounded wait, polled
    let limit = idle + (peak - idle) / 2;
    let deadline = Instant::now() + Duration::from_secs(40);
    let mut now = rss_kib(pid);
    while now > limit && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
        now = rss_kib(pid);
    }
    assert!(
        now <= limit,
        "memory kept after the burst: idle {idle} KiB, with {BURST} connections {peak} KiB, \
         40 s after closing them {now} KiB (limit {limit} KiB)"
    );
    eprintln!(
        "server tunnel RSS: idle {idle} KiB, {BURST} connections {peak} KiB, after {now} KiB"
    );
    assert!(
        srv.child.try_wait().unwrap().is_none(),
        "server tunnel exited"
    );
}
