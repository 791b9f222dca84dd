//! Child processes that are killed and reaped on drop.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A running child process: killed and waited for on drop. Its stdout (unless piped to the
/// test) is read line by line in the background; its stderr goes to a log file that failure
/// messages quote.
#[derive(Debug)]
pub struct ProcessGuard {
    /// The child (its id, `try_wait`, pipes taken by the test).
    pub child: Child,
    what: String,
    lines: Option<mpsc::Receiver<String>>,
    seen: Vec<String>,
    log: Option<PathBuf>,
    /// A log file this guard made itself (removed on drop).
    own_log: bool,
}

/// A fresh stderr file in the temporary folder, for a guard given no log path.
fn scratch_log(what: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    let tag: String = what
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    std::env::temp_dir().join(format!("milagro-{tag}-{}-{n}.stderr", std::process::id()))
}

impl ProcessGuard {
    /// Starts `cmd` (described as `what` in messages) with stdin closed, stdout read line by
    /// line and stderr written to `log` (a new file).
    pub fn start(cmd: &mut Command, what: &str, log: &Path) -> std::io::Result<Self> {
        Self::start_logging(cmd, what, log, File::create(log)?)
    }

    /// As [`ProcessGuard::start`], appending to `log` (a restarted server keeps one log).
    pub fn start_appending(cmd: &mut Command, what: &str, log: &Path) -> std::io::Result<Self> {
        let err = File::options().create(true).append(true).open(log)?;
        Self::start_logging(cmd, what, log, err)
    }

    fn start_logging(
        cmd: &mut Command,
        what: &str,
        log: &Path,
        err: File,
    ) -> std::io::Result<Self> {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(err))
            .spawn()
            .map_err(|e| std::io::Error::new(e.kind(), format!("cannot start {what}: {e}")))?;
        let (tx, rx) = mpsc::channel();
        if let Some(out) = child.stdout.take() {
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        Ok(Self {
            child,
            what: what.to_string(),
            lines: Some(rx),
            seen: Vec::new(),
            log: Some(log.to_path_buf()),
            own_log: false,
        })
    }

    /// Starts `cmd` with stdin, stdout and stderr piped to the test (see
    /// [`ProcessGuard::kill_and_collect`]).
    pub fn spawn_piped(cmd: &mut Command, what: &str) -> std::io::Result<Self> {
        let child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| std::io::Error::new(e.kind(), format!("cannot start {what}: {e}")))?;
        Ok(Self::adopt(child, what))
    }

    /// Starts a server whose stdout nobody reads (a full pipe would block it); its stderr
    /// goes to a scratch file for [`ProcessGuard::log_text`].
    pub fn spawn_quiet(cmd: &mut Command, what: &str) -> std::io::Result<Self> {
        let log = scratch_log(what);
        let err = File::create(&log)?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(err))
            .spawn()
            .map_err(|e| std::io::Error::new(e.kind(), format!("cannot start {what}: {e}")))?;
        let mut g = Self::with_log(child, what, Some(log));
        g.own_log = true;
        Ok(g)
    }

    /// Takes over a child spawned with stdio of the test's own choosing.
    pub fn adopt(child: Child, what: &str) -> Self {
        Self::with_log(child, what, None)
    }

    fn with_log(child: Child, what: &str, log: Option<PathBuf>) -> Self {
        Self {
            child,
            what: what.to_string(),
            lines: None,
            seen: Vec::new(),
            log,
            own_log: false,
        }
    }

    /// What was started, for messages.
    pub fn what(&self) -> &str {
        &self.what
    }

    /// The stderr log file, if stderr goes to one.
    pub fn log_path(&self) -> Option<&Path> {
        self.log.as_deref()
    }

    /// The stderr log so far (empty if there is none).
    pub fn log_text(&self) -> String {
        self.log
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default()
    }

    /// The next stdout line within `limit`, if any (`None` at EOF or timeout).
    pub fn next_line(&mut self, limit: Duration) -> Option<String> {
        let line = self.lines.as_ref()?.recv_timeout(limit).ok()?;
        self.seen.push(line.clone());
        Some(line)
    }

    /// The first stdout line starting with `prefix` (seen before, or arriving within
    /// `limit`); fails the test with the log otherwise.
    pub fn wait_line(&mut self, prefix: &str, limit: Duration) -> String {
        if let Some(l) = self.seen.iter().find(|l| l.starts_with(prefix)) {
            return l.clone();
        }
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_line(left) {
                Some(l) if l.starts_with(prefix) => return l,
                Some(_) => {}
                None => panic!(
                    "no stdout line {prefix:?} from {}; log:\n{}",
                    self.what,
                    self.log_text()
                ),
            }
        }
    }

    /// Waits until the stderr log contains `needle` `count` times (at most `limit`).
    pub fn wait_log_count(&self, needle: &str, count: usize, limit: Duration) {
        let deadline = Instant::now() + limit;
        while self.log_text().matches(needle).count() < count {
            assert!(
                Instant::now() < deadline,
                "log never contained {needle:?} x{count}:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends signal `sig` (a name such as `HUP` or `TERM`) to the child.
    pub fn signal(&self, sig: &str) {
        let st = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status();
        assert!(
            st.as_ref().is_ok_and(ExitStatus::success),
            "kill -{sig} {} failed: {st:?}",
            self.what
        );
    }

    /// The exit status if the process ends within `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                return Some(st);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the child and waits for it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Kills the child and returns what it wrote to its piped (stdout, stderr).
    pub fn kill_and_collect(mut self) -> (String, String) {
        let _ = self.child.kill();
        let mut out = String::new();
        let mut err = String::new();
        if let Some(mut o) = self.child.stdout.take() {
            let _ = o.read_to_string(&mut out);
        }
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        let _ = self.child.wait();
        (out, err)
    }
}

impl Drop for ProcessGuard {
    fn drop(&mut self) {
        self.kill();
        if self.own_log {
            if let Some(p) = &self.log {
                let _ = std::fs::remove_file(p);
            }
        }
    }
}
