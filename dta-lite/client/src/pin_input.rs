//! Reading a PIN or a passphrase: from a file (`--pin-file`, `--passphrase-file`; refused if
//! group or others can read it), else from an environment variable ([`PIN_ENV`],
//! [`PASSPHRASE_ENV`]), else from an interactive prompt without echo.

use std::path::Path;

use mpin_kex::Pin;
use zeroize::Zeroizing;

use crate::fsutil::{self, FsError};

/// Environment variable holding the PIN.
pub const PIN_ENV: &str = "MILAGRO_PIN";
/// Environment variable holding a D-TA's passphrase.
pub const PASSPHRASE_ENV: &str = "DTA_PASSPHRASE";

/// A PIN or passphrase could not be obtained.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// Reading the file failed.
    #[error(transparent)]
    File(#[from] FsError),
    /// The value is unusable.
    #[error("{source_name}: {why}")]
    Invalid {
        /// Where it came from (file name, variable name or "prompt").
        source_name: String,
        /// Why.
        why: String,
    },
    /// No source available.
    #[error("no {what} given and no terminal to ask on: use {hint}")]
    NoSource {
        /// PIN or passphrase.
        what: &'static str,
        /// How to give it.
        hint: &'static str,
    },
}

/// Where a value comes from, in order of preference.
fn read_text(
    file: Option<&Path>,
    env_value: Option<String>,
    env_name: &str,
    prompt: &str,
    what: &'static str,
    hint: &'static str,
) -> Result<(Zeroizing<String>, String), InputError> {
    if let Some(path) = file {
        let bytes = fsutil::read_secret(path)?;
        let text = std::str::from_utf8(&bytes).map_err(|_| InputError::Invalid {
            source_name: path.display().to_string(),
            why: "not UTF-8 text".to_owned(),
        })?;
        let line = text.strip_suffix('\n').unwrap_or(text);
        let line = line.strip_suffix('\r').unwrap_or(line);
        return Ok((Zeroizing::new(line.to_owned()), path.display().to_string()));
    }
    if let Some(v) = env_value {
        return Ok((Zeroizing::new(v), env_name.to_owned()));
    }
    match rpassword::prompt_password(prompt) {
        Ok(v) => Ok((Zeroizing::new(v), "prompt".to_owned())),
        Err(_) => Err(InputError::NoSource { what, hint }),
    }
}

fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn pin_from(text: &str, source_name: String) -> Result<Pin, InputError> {
    text.parse::<Pin>().map_err(|e| InputError::Invalid {
        source_name,
        why: e.to_string(),
    })
}

/// Reads the PIN from `pin_file`, else `MILAGRO_PIN`, else a prompt.
pub fn read_pin(pin_file: Option<&Path>) -> Result<Pin, InputError> {
    let (t, src) = read_text(
        pin_file,
        env_var(PIN_ENV),
        PIN_ENV,
        "PIN: ",
        "PIN",
        "--pin-file FILE or MILAGRO_PIN",
    )?;
    pin_from(&t, src)
}

/// Reads a passphrase from `file`, else `DTA_PASSPHRASE`, else a prompt (asked twice when
/// `confirm`). Empty passphrases are refused.
pub fn read_passphrase(
    file: Option<&Path>,
    confirm: bool,
) -> Result<Zeroizing<String>, InputError> {
    passphrase_from(file, env_var(PASSPHRASE_ENV), confirm)
}

fn passphrase_from(
    file: Option<&Path>,
    env_value: Option<String>,
    confirm: bool,
) -> Result<Zeroizing<String>, InputError> {
    let hint = "--passphrase-file FILE or DTA_PASSPHRASE";
    let interactive = file.is_none() && env_value.is_none();
    let (p, src) = read_text(
        file,
        env_value,
        PASSPHRASE_ENV,
        "D-TA passphrase: ",
        "passphrase",
        hint,
    )?;
    if p.is_empty() {
        return Err(InputError::Invalid {
            source_name: src,
            why: "empty passphrase".to_owned(),
        });
    }
    if confirm && interactive {
        let again = Zeroizing::new(
            rpassword::prompt_password("Repeat the passphrase: ").map_err(|_| {
                InputError::NoSource {
                    what: "passphrase",
                    hint,
                }
            })?,
        );
        if *again != *p {
            return Err(InputError::Invalid {
                source_name: src,
                why: "the passphrases differ".to_owned(),
            });
        }
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pin_sources_and_errors() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("pin");
        fsutil::write_atomic(&f, b"1234\n", 0o600).unwrap();
        let (t, src) = read_text(Some(&f), Some("9".into()), PIN_ENV, "", "PIN", "").unwrap();
        assert_eq!(
            (t.as_str(), src.contains("pin")),
            ("1234", true),
            "the file wins"
        );
        assert!(pin_from(&t, src).is_ok());
        let (t, src) = read_text(None, Some("0042".into()), PIN_ENV, "", "PIN", "").unwrap();
        assert_eq!(src, PIN_ENV);
        assert!(pin_from(&t, src).is_ok());
        for bad in ["", "12345", "12a4", "-1"] {
            let e = pin_from(bad, PIN_ENV.into()).unwrap_err();
            assert!(e.to_string().contains(PIN_ENV), "{e}");
        }
        fsutil::write_atomic(&f, b"1234\n", 0o644).unwrap();
        assert!(matches!(
            read_pin(Some(&f)),
            Err(InputError::File(FsError::Permissive { .. }))
        ));
        assert!(!format!("{:?}", pin_from("1234", "x".into()).unwrap()).contains("1234"));
    }

    #[test]
    fn passphrase_sources() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("pw");
        fsutil::write_atomic(&f, b"correct horse\r\n", 0o600).unwrap();
        assert_eq!(
            passphrase_from(Some(&f), None, true).unwrap().as_str(),
            "correct horse"
        );
        assert_eq!(
            passphrase_from(None, Some("x y".into()), true)
                .unwrap()
                .as_str(),
            "x y"
        );
        assert!(passphrase_from(None, Some(String::new()), false).is_err());
        fsutil::write_atomic(&f, b"\n", 0o600).unwrap();
        assert!(passphrase_from(Some(&f), None, false).is_err());
    }
}
