//! Logging setup: `tracing` to stderr, as text or JSON lines.
//!
//! The level comes from `RUST_LOG` when set (e.g. `RUST_LOG=debug`), else
//! from `--log-level` (default `info`). Secrets are never logged: keys are
//! only held in `milagro_tls::Psk`, whose `Debug` redacts them.

use std::io::IsTerminal;

use serde::Deserialize;
use tracing_subscriber::EnvFilter;

/// Log line format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Installs the global subscriber. Calling it twice is harmless (the second
/// call does nothing). Fails (naming the flag) for an invalid `level`.
pub fn init(format: LogFormat, level: &str) -> Result<(), String> {
    let filter = match EnvFilter::try_from_default_env() {
        Ok(f) => f,
        Err(_) => EnvFilter::try_new(level)
            .map_err(|e| format!("command line: --log-level: invalid filter {level:?}: {e}"))?,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
    Ok(())
}
