//! Session tickets through real tunnel processes (one server, `--state memory`): a refused
//! ticket falls back to M-Pin on a new connection without the user seeing a failure, and a
//! client tunnel keeps as many tickets as it opens connections at once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::thread;

use common::*;

#[test]
fn a_refused_ticket_falls_back_to_m_pin_and_the_user_sees_no_failure() {
    // a replica restarted without a shared ticket key: the client's tickets no longer open
    let dir = TempDir::new("fleet-fallback");
    let world = FileWorld::new();
    let secret = world.server_secret(&dir);
    let echo = Echo::start();
    let mut a = replica(&dir, "a", &secret, &echo.addr, "memory", &[]);
    let a_addr = a.addr("server");
    let proxy = Proxy::start(&[&a_addr, &a_addr]);
    let cred = world.credential_as(&dir, "alice", "alice", 1234);
    let mut c_tunnel = mpin_client_on(&dir, "c", &cred, "1234", &proxy.addr, &[]);
    let c = c_tunnel.addr("client");
    assert!(login(&c, b"full"));
    a.wait_log("identity=alice method=mpin ");
    a.kill();
    let mut a2 = replica(&dir, "a2", &secret, &echo.addr, "memory", &[]);
    let a2_addr = a2.addr("server");
    proxy.set_target(1, &a2_addr);
    proxy.switch(1);
    assert!(
        login(&c, b"after restart"),
        "the refused ticket reached the user:\n{}",
        c_tunnel.log_text()
    );
    // the ticket was offered and refused, then M-Pin ran on a new connection
    a2.wait_log("handshake failed");
    a2.wait_log("identity=alice method=mpin ");
    assert_eq!(
        proxy.record(1).first(),
        Some(&0x16),
        "the client offered its ticket first"
    );
    assert_eq!(proxy.record(2).first(), Some(&b'M'), "then ran M-Pin");
    assert!(login(&c, b"resumes again"));
    a2.wait_log("identity=alice method=mpin-resumed");
}

/// `n` logins through `addr` at once; how many succeeded.
fn burst(addr: &str, n: usize) -> usize {
    let threads: Vec<_> = (0..n)
        .map(|i| {
            let addr = addr.to_string();
            thread::spawn(move || login(&addr, format!("burst {i}").as_bytes()))
        })
        .collect();
    threads
        .into_iter()
        .map(|t| t.join().unwrap())
        .filter(|ok| *ok)
        .count()
}

#[test]
fn a_client_tunnel_keeps_tickets_for_as_many_connections_as_it_opens_at_once() {
    // more than the library's default pool of 16: a second burst of 30 all resume
    const N: usize = 30;
    let dir = TempDir::new("fleet-pool");
    let world = FileWorld::new();
    let secret = world.server_secret(&dir);
    let echo = Echo::start();
    let mut a = replica(&dir, "a", &secret, &echo.addr, "memory", &[]);
    let a_addr = a.addr("server");
    let cred = world.credential_as(&dir, "alice", "alice", 1234);
    let mut c_tunnel = mpin_client_on(
        &dir,
        "c",
        &cred,
        "1234",
        &a_addr,
        &["--max-connections", "64"],
    );
    let c = c_tunnel.addr("client");
    // the first burst finds no ticket: M-Pin runs, each one bringing several tickets
    assert_eq!(burst(&c, N), N);
    let full = a.log_text().matches("method=mpin ").count();
    assert!(
        full * milagro_tls::DEFAULT_TICKET_POOL >= N,
        "only {full} of the first burst ran M-Pin: not enough tickets issued to test the pool"
    );
    let resumed_before = a.log_text().matches("method=mpin-resumed").count();
    assert_eq!(burst(&c, N), N);
    a.wait_log_count("method=mpin-resumed", resumed_before + N);
    assert_eq!(
        a.log_text().matches("method=mpin ").count(),
        full,
        "the second burst ran M-Pin instead of resuming"
    );
}
