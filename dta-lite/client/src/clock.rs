//! The clock behind every time decision of `dta-lite` and `milagro-tunnel` (unix seconds,
//! UTC): permit days, grant deadlines, signed-request freshness, M-Pin days and tickets.
//!
//! **Test-only hook.** In debug builds (`cfg(debug_assertions)`, what `cargo test` builds),
//! when the environment variable [`TEST_NOW_FILE_ENV`] names a file, [`now`] reads the time
//! from that file (decimal unix seconds) on every call, so tests can move the time of running
//! processes across midnight. Release builds ignore the variable. When the hook is active the
//! first call logs a warning; when the file cannot be read the system clock is used (and a
//! warning logged once).

/// Names the file holding the fake time (debug builds only; tests only).
pub const TEST_NOW_FILE_ENV: &str = "MILAGRO_TEST_NOW_FILE";

/// Current unix time in seconds (see the module docs for the test-only hook).
pub fn now() -> u64 {
    #[cfg(debug_assertions)]
    if let Some(t) = test_now() {
        return t;
    }
    system_now()
}

/// Unix time in seconds from the system clock (0 before 1970).
pub fn system_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(debug_assertions)]
fn test_now() -> Option<u64> {
    use std::sync::atomic::{AtomicBool, Ordering};
    static ANNOUNCED: AtomicBool = AtomicBool::new(false);
    static BROKEN: AtomicBool = AtomicBool::new(false);
    let path = std::env::var_os(TEST_NOW_FILE_ENV)?;
    let t = std::fs::read_to_string(&path)
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok());
    match t {
        Some(t) => {
            if !ANNOUNCED.swap(true, Ordering::Relaxed) {
                tracing::warn!(file = ?path, now = t, "TEST CLOCK ACTIVE ({TEST_NOW_FILE_ENV}); debug build only");
            }
            Some(t)
        }
        None => {
            if !BROKEN.swap(true, Ordering::Relaxed) {
                tracing::warn!(file = ?path, "{TEST_NOW_FILE_ENV}: cannot read decimal unix seconds; using the system clock");
            }
            None
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn system_time_is_after_2024() {
        assert!(super::now() > 1_700_000_000);
    }
}
