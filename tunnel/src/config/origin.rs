//! Where a setting was written and the errors that name it: file, line, service and field
//! (or the command-line flag).

use std::ops::Range;

/// A configuration problem; the message is one line naming where.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Syntax or semantic problem.
    #[error("{0}")]
    Invalid(String),
}

/// Where settings come from: a file (with its text, for line numbers) or
/// command-line flags.
#[derive(Clone, Copy, Debug)]
pub enum Origin<'a> {
    /// A TOML file.
    File {
        /// Shown name.
        path: &'a str,
        /// Its text.
        src: &'a str,
    },
    /// Command-line flags.
    Flags,
}

fn line_of(src: &str, offset: usize) -> usize {
    1 + src
        .as_bytes()
        .iter()
        .take(offset.min(src.len()))
        .filter(|b| **b == b'\n')
        .count()
}

/// The line where `field = …` is written inside `span`, else the span's first line.
fn field_line(src: &str, span: &Range<usize>, field: &str) -> usize {
    let start = span.start.min(src.len());
    let end = span.end.clamp(start, src.len());
    let mut offset = start;
    for line in src.get(start..end).unwrap_or("").split_inclusive('\n') {
        let t = line.trim_start();
        if let Some(rest) = t.strip_prefix(field) {
            if rest.trim_start().starts_with('=') {
                return line_of(src, offset);
            }
        }
        offset += line.len();
    }
    line_of(src, start)
}

/// Error builder for one place: a service table (or the globals) of a file, or the flags.
pub(super) struct Ctx<'a> {
    pub(super) origin: Origin<'a>,
    /// The text of the table the settings are in (file origin).
    pub(super) span: Range<usize>,
    /// The service's name, once known.
    pub(super) service: Option<String>,
}

impl Ctx<'_> {
    /// Settings given as command-line flags.
    pub(super) fn flags() -> Ctx<'static> {
        Ctx {
            origin: Origin::Flags,
            span: 0..0,
            service: None,
        }
    }

    /// Where `field` is written, e.g. `t.toml line 9: service "db": psk_secrets`.
    pub(super) fn at(&self, field: &str) -> String {
        match self.origin {
            Origin::Flags => format!("command line: --{}", field.replace('_', "-")),
            Origin::File { path, src } => {
                let line = field_line(src, &self.span, field);
                match &self.service {
                    Some(name) => format!("{path} line {line}: service {name:?}: {field}"),
                    None => format!("{path} line {line}: {field}"),
                }
            }
        }
    }
    /// An error about `field`.
    pub(super) fn err(&self, field: &str, msg: impl std::fmt::Display) -> ConfigError {
        ConfigError::Invalid(format!("{}: {msg}", self.at(field)))
    }

    /// Refuses the first of `fields` (name, written?) that is written, saying `why`.
    pub(super) fn refuse(&self, fields: &[(&str, bool)], why: &str) -> Result<(), ConfigError> {
        match fields.iter().find(|(_, written)| *written) {
            Some((field, _)) => Err(self.err(field, why)),
            None => Ok(()),
        }
    }
}

/// The `name = "…"` of the `[[service]]` table containing `offset`, found
/// textually (used for errors raised before the table could be parsed).
fn enclosing_service_name(src: &str, offset: usize) -> Option<String> {
    let before = src.get(..offset.min(src.len()))?;
    let header = before.rfind("[[service]]")?;
    let rest = src.get(header + "[[service]]".len()..)?;
    for line in rest.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            break;
        }
        if let Some(v) = t.strip_prefix("name") {
            if let Some(v) = v.trim_start().strip_prefix('=') {
                let v = v.trim().trim_matches('"').trim_matches('\'');
                return Some(v.to_string());
            }
        }
    }
    None
}

/// A TOML syntax or type error, with its line and service.
pub(super) fn toml_error(path: &str, src: &str, e: &toml::de::Error) -> ConfigError {
    let msg = e.message().trim().replace('\n', " ");
    match e.span() {
        Some(span) => {
            let line = line_of(src, span.start);
            match enclosing_service_name(src, span.start) {
                Some(name) => {
                    ConfigError::Invalid(format!("{path} line {line}: service {name:?}: {msg}"))
                }
                None => ConfigError::Invalid(format!("{path} line {line}: {msg}")),
            }
        }
        None => ConfigError::Invalid(format!("{path}: {msg}")),
    }
}
