//! Helpers: real `dta-lite` processes on 127.0.0.1 port 0 (under `test_support::ProcessGuard`).
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::new_without_default
)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use dta_lite::client::DtaEndpoint;
use dta_lite::files::{CredentialFile, ServerSecretFile};
use mpin_kex::{
    AuthError, Challenge, Client, Hello, Pin, Response, Server, ServerContext, ServerKey,
    ServerPolicy,
};
use rand_core::OsRng;
pub use test_support::ProcessGuard;

pub const BIN: &str = env!("CARGO_BIN_EXE_dta-lite");
pub const START_TIMEOUT: Duration = Duration::from_secs(60);

pub fn now() -> u64 {
    dta_lite::server::unix_now()
}

/// Runs `dta-lite ARGS` to completion (bounded) and returns its output.
pub fn run(args: &[&str]) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .env("RUST_LOG", "warn")
        .env_remove("DTA_PASSPHRASE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn dta-lite");
    let (tx, rx) = mpsc::channel();
    let id = child.id();
    let waiter = std::thread::spawn(move || {
        let _ = rx.recv_timeout(START_TIMEOUT).map_err(|_| {
            let _ = Command::new("kill").arg("-9").arg(id.to_string()).status();
        });
    });
    let out = child_output(&mut child);
    let _ = tx.send(());
    let _ = waiter.join();
    out
}

fn child_output(child: &mut Child) -> Output {
    use std::io::Read;
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    if let Some(mut s) = child.stdout.take() {
        let _ = s.read_to_end(&mut stdout);
    }
    if let Some(mut s) = child.stderr.take() {
        let _ = s.read_to_end(&mut stderr);
    }
    let status = child.wait().expect("wait");
    Output {
        status,
        stdout,
        stderr,
    }
}

pub fn run_ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "dta-lite {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// A scratch area with an RA key and a passphrase file.
pub struct World {
    pub tmp: tempfile::TempDir,
    pub ra_key: PathBuf,
    pub ra_pub: String,
    pub passphrase: PathBuf,
}

impl World {
    pub fn new() -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let ra_key = tmp.path().join("ra.key");
        let ra_pub = run_ok(&["ra", "keygen", "--out", ra_key.to_str().unwrap()])
            .trim()
            .to_owned();
        let passphrase = tmp.path().join("passphrase");
        dta_lite::fsutil::write_atomic(&passphrase, b"test passphrase\n", 0o600).unwrap();
        Self {
            tmp,
            ra_key,
            ra_pub,
            passphrase,
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    /// `dta-lite init` for D-TA `name`.
    pub fn init(&self, name: &str) -> PathBuf {
        let dir = self.path(name);
        run_ok(&[
            "init",
            "--dir",
            dir.to_str().unwrap(),
            "--name",
            name,
            "--ra-pubkey",
            &self.ra_pub,
            "--passphrase-file",
            self.passphrase.to_str().unwrap(),
        ]);
        dir
    }

    /// `dta-lite ra grant client`.
    pub fn client_grant(&self, identity: &str) -> dta_lite::ra::Grant {
        let out = self.path(&format!(
            "grant-{identity}-{}.json",
            rand_core::RngCore::next_u32(&mut OsRng)
        ));
        run_ok(&[
            "ra",
            "grant",
            "client",
            "--key",
            self.ra_key.to_str().unwrap(),
            "--identity",
            identity,
            "--out",
            out.to_str().unwrap(),
        ]);
        dta_lite::ra::Grant::load(&out).expect("grant file")
    }

    /// `dta-lite ra grant server`.
    pub fn server_grant(&self, name: &str) -> dta_lite::ra::Grant {
        let out = self.path(&format!(
            "sgrant-{name}-{}.json",
            rand_core::RngCore::next_u32(&mut OsRng)
        ));
        run_ok(&[
            "ra",
            "grant",
            "server",
            "--key",
            self.ra_key.to_str().unwrap(),
            "--name",
            name,
            "--out",
            out.to_str().unwrap(),
        ]);
        dta_lite::ra::Grant::load(&out).expect("grant file")
    }

    pub fn ra(&self) -> dta_lite::ra::RaKey {
        dta_lite::ra::RaKey::load(&self.ra_key).expect("ra key")
    }

    /// Starts `dta-lite serve` for an initialised folder; its log goes to `DIR.log`.
    pub fn serve(&self, dir: &Path) -> Running {
        Running::start(dir, &self.passphrase)
    }

    /// `serve` with extra arguments and the test-only clock read from `clock` (see
    /// `dta_lite::clock`).
    pub fn serve_with(&self, dir: &Path, args: &[&str], clock: &Path) -> Running {
        Running::start_with(dir, &self.passphrase, args, Some(clock))
    }
}

/// A running `dta-lite serve` (a [`ProcessGuard`]: killed on drop, stderr in `DIR.log`).
pub struct Running {
    process: ProcessGuard,
    pub endpoint: DtaEndpoint,
    pub log: PathBuf,
}

impl std::ops::Deref for Running {
    type Target = ProcessGuard;
    fn deref(&self) -> &ProcessGuard {
        &self.process
    }
}

impl std::ops::DerefMut for Running {
    fn deref_mut(&mut self) -> &mut ProcessGuard {
        &mut self.process
    }
}

impl Running {
    pub fn start(dir: &Path, passphrase: &Path) -> Self {
        Self::start_with(dir, passphrase, &[], None)
    }

    pub fn start_with(dir: &Path, passphrase: &Path, args: &[&str], clock: Option<&Path>) -> Self {
        let log = dir.with_extension("log");
        let mut cmd = Command::new(BIN);
        cmd.args([
            "serve",
            "--dir",
            dir.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ])
        .args(["--passphrase-file", passphrase.to_str().unwrap()])
        .args(args)
        .envs(clock.map(|c| (dta_lite::clock::TEST_NOW_FILE_ENV, c)))
        .env("RUST_LOG", "debug");
        let mut process =
            ProcessGuard::start_appending(&mut cmd, "serve", &log).expect("spawn serve");
        let first = process
            .next_line(START_TIMEOUT)
            .unwrap_or_else(|| panic!("serve did not start; log: {}", process.log_text()));
        assert!(first.starts_with("listening on 127.0.0.1:"), "{first}");
        let second = process.next_line(START_TIMEOUT).expect("descriptor line");
        let desc = second.strip_prefix("dta ").expect("dta line");
        let endpoint: DtaEndpoint = desc.parse().expect("descriptor");
        assert!(endpoint
            .url
            .ends_with(first.trim_start_matches("listening on ")));
        Self {
            process,
            endpoint,
            log,
        }
    }
}

/// Sets the test clock file to `t` (atomically: readers never see a partial number).
pub fn set_clock(file: &Path, t: u64) {
    dta_lite::fsutil::write_atomic(file, t.to_string().as_bytes(), 0o600).unwrap();
}

/// Errors of an in-process M-Pin Full run.
#[derive(Debug)]
pub enum LoginError {
    Client(mpin_kex::ClientError),
    Server(AuthError),
    Decode(mpin_kex::DecodeError),
}

/// A full multi-pass M-Pin Full authentication at time `now`, as the tunnel will run it.
pub fn login(
    cred: &CredentialFile,
    ss: &ServerSecretFile,
    pin: &str,
    now: u64,
) -> Result<(), LoginError> {
    login_with_permit(cred, ss, pin, mpin_kex::policy::day_of(now), now)
}

/// [`login`] offering the cached permit of `day` (a client may keep yesterday's).
pub fn login_with_permit(
    cred: &CredentialFile,
    ss: &ServerSecretFile,
    pin: &str,
    day: u32,
    now: u64,
) -> Result<(), LoginError> {
    let credential = cred.to_credential(day).map_err(LoginError::Decode)?;
    let key = ServerKey::new(ss.secret().clone()).map_err(LoginError::Decode)?;
    let mut server = Server::new(ServerContext::new(key, ServerPolicy::default()));
    let pin: Pin = pin.parse().expect("pin");
    let mut client = Client::new(&credential, pin);
    let hello = client
        .hello(&mut OsRng)
        .map_err(LoginError::Client)?
        .encode();
    let challenge = server
        .hello(
            &Hello::decode(&hello).map_err(LoginError::Decode)?,
            now,
            &mut OsRng,
        )
        .map_err(LoginError::Server)?
        .encode();
    let (response, client_session) = client
        .challenge(&Challenge::decode(&challenge).map_err(LoginError::Decode)?)
        .map_err(LoginError::Client)?;
    let server_session = server
        .response(
            &Response::decode(&response.encode()).map_err(LoginError::Decode)?,
            now,
        )
        .map_err(LoginError::Server)?;
    assert_eq!(server_session.identity, cred.identity.as_bytes());
    assert_eq!(
        client_session.key, server_session.key,
        "both sides derive the same key"
    );
    Ok(())
}

/// Every file under `root`, recursively.
pub fn all_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            for e in std::fs::read_dir(&p).unwrap() {
                stack.push(e.unwrap().path());
            }
        } else {
            out.push(p);
        }
    }
    out
}
