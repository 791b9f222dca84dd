//! A throw-away `redis-server` for tests of the Redis-backed fleet state.

use std::process::Command;

use crate::{free_port, wait_for_port, ProcessGuard, LOOPBACK, WAIT};

/// A `redis-server` on a free 127.0.0.1 port, without persistence (`--save ''
/// --appendonly no`); stopped on drop. A missing `redis-server` fails the test (no skip).
pub struct RedisServer {
    guard: ProcessGuard,
    port: u16,
}

impl RedisServer {
    /// Starts the server and waits (bounded) until it accepts connections.
    pub fn start() -> Self {
        Self::start_on(free_port())
    }

    /// Starts one on `port` (e.g. again after [`stop`](Self::stop), to test recovery).
    pub fn start_on(port: u16) -> Self {
        let mut cmd = Command::new("redis-server");
        cmd.args(["--bind", LOOPBACK, "--port", &port.to_string()])
            .args([
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
            ]);
        let mut guard = match ProcessGuard::spawn_quiet(&mut cmd, "redis-server") {
            Ok(g) => g,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
                "redis-server not found: install the redis-server package \
                 (apt-get install -y redis-server)"
            ),
            Err(e) => panic!("{e}"),
        };
        if let Err(e) = wait_for_port(port, WAIT) {
            let exited = guard.wait_exit(std::time::Duration::ZERO);
            panic!(
                "redis-server did not start ({e}; exit: {exited:?}); stderr:\n{}",
                guard.log_text()
            );
        }
        Self { guard, port }
    }

    /// Its port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its URL for the `redis` crate, `redis://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("redis://{LOOPBACK}:{}/", self.port)
    }

    /// Kills the server and waits for it (its port is free again).
    pub fn stop(&mut self) {
        self.guard.kill();
    }

    /// The process (for example to kill it in a failover test).
    pub fn process(&mut self) -> &mut ProcessGuard {
        &mut self.guard
    }
}
