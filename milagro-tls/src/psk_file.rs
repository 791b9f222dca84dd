//! Parser for stunnel's `PSKsecrets` file: one `IDENTITY:KEY` per line.
//!
//! As in stunnel, a key that looks like hex (an even number of hex digits) is
//! hex-decoded, any other key is taken as raw text, and keys shorter than 16
//! bytes are refused. The identity is everything before the first `:` (at
//! most 128 bytes). Blank lines and lines starting with `#` are skipped; a
//! trailing `\r` is ignored. A file that others may read is refused, as
//! stunnel does.

use std::path::Path;

use zeroize::Zeroizing;

use crate::psk::{Psk, StaticPskStore, MIN_PSK_LEN};
use crate::suites::HashAlgorithm;

/// Longest identity accepted (OpenSSL's `PSK_MAX_IDENTITY_LEN`).
pub const MAX_IDENTITY_LEN: usize = 128;

/// Why a PSKsecrets file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PskFileError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Other users may access the file.
    #[error("{path}: insecure permissions {mode:o} (others may access the keys); run `chmod o-rwx {path}`")]
    InsecurePermissions {
        /// The file.
        path: String,
        /// Its mode bits.
        mode: u32,
    },
    /// A line is malformed.
    #[error("{path} line {line}: {reason}")]
    Line {
        /// The file.
        path: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// No PSK in the file.
    #[error("{path}: no IDENTITY:KEY line found")]
    Empty {
        /// The file.
        path: String,
    },
}

/// A malformed line: (1-based line number, reason).
pub type LineError = (usize, String);

fn decode_key(key: &str) -> Zeroizing<Vec<u8>> {
    let looks_hex =
        !key.is_empty() && key.len() & 1 == 0 && key.bytes().all(|b| b.is_ascii_hexdigit());
    if looks_hex {
        if let Ok(k) = hex::decode(key) {
            return Zeroizing::new(k);
        }
    }
    Zeroizing::new(key.as_bytes().to_vec())
}

/// Parses the text of a PSKsecrets file; every PSK is bound to `hash`.
pub fn parse_psk_secrets(text: &str, hash: HashAlgorithm) -> Result<Vec<Psk>, LineError> {
    let mut out: Vec<Psk> = Vec::new();
    for (i, raw) in text.split('\n').enumerate() {
        let line_no = i + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((identity, key)) = line.split_once(':') else {
            return Err((line_no, "not in IDENTITY:KEY format".into()));
        };
        if identity.is_empty() {
            return Err((line_no, "empty identity".into()));
        }
        if identity.len() > MAX_IDENTITY_LEN {
            return Err((
                line_no,
                format!("identity longer than {MAX_IDENTITY_LEN} bytes"),
            ));
        }
        let key = decode_key(key);
        if key.len() < MIN_PSK_LEN {
            return Err((
                line_no,
                format!(
                    "key too short ({} bytes; at least {MIN_PSK_LEN} required)",
                    key.len()
                ),
            ));
        }
        if out.iter().any(|p| p.identity() == identity.as_bytes()) {
            return Err((line_no, format!("duplicate identity {identity:?}")));
        }
        let psk =
            Psk::new(identity.as_bytes(), &key, hash).map_err(|e| (line_no, e.to_string()))?;
        out.push(psk);
    }
    Ok(out)
}

/// Reads, checks and parses a PSKsecrets file.
pub fn load_psk_secrets(path: &Path, hash: HashAlgorithm) -> Result<Vec<Psk>, PskFileError> {
    let shown = path.display().to_string();
    let io_err = |source| PskFileError::Io {
        path: shown.clone(),
        source,
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(io_err)?
            .permissions()
            .mode();
        if mode & 0o007 != 0 {
            return Err(PskFileError::InsecurePermissions {
                path: shown,
                mode: mode & 0o777,
            });
        }
    }
    let bytes = Zeroizing::new(std::fs::read(path).map_err(io_err)?);
    let text = std::str::from_utf8(&bytes).map_err(|_| PskFileError::Line {
        path: shown.clone(),
        line: 1 + bytes
            .iter()
            .take(
                std::str::from_utf8(&bytes)
                    .err()
                    .map_or(0, |e| e.valid_up_to()),
            )
            .filter(|b| **b == b'\n')
            .count(),
        reason: "not valid UTF-8".into(),
    })?;
    let psks = parse_psk_secrets(text, hash).map_err(|(line, reason)| PskFileError::Line {
        path: shown.clone(),
        line,
        reason,
    })?;
    if psks.is_empty() {
        return Err(PskFileError::Empty { path: shown });
    }
    Ok(psks)
}

/// Loads a PSKsecrets file into a [`StaticPskStore`].
pub fn load_store(path: &Path, hash: HashAlgorithm) -> Result<StaticPskStore, PskFileError> {
    Ok(load_psk_secrets(path, hash)?.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::psk::PskStore;

    const H: HashAlgorithm = HashAlgorithm::Sha256;

    #[test]
    fn hex_and_text_keys() {
        let text = "# comment\n\nalice:00112233445566778899aabbccddeeff\r\nbob:a text key of some length\ncarol:0011223344556677889\n";
        let psks = parse_psk_secrets(text, H).unwrap();
        assert_eq!(psks.len(), 3);
        assert_eq!(psks[0].identity(), b"alice");
        assert_eq!(
            psks[0].key(),
            hex::decode("00112233445566778899aabbccddeeff").unwrap()
        );
        assert_eq!(psks[1].key(), b"a text key of some length");
        // odd number of hex digits: taken as text
        assert_eq!(psks[2].key(), b"0011223344556677889");
    }

    #[test]
    fn key_may_contain_colons() {
        let psks = parse_psk_secrets("id:key:with:colons:0123", H).unwrap();
        assert_eq!(psks[0].key(), b"key:with:colons:0123");
    }

    #[test]
    fn bad_lines_report_line_numbers() {
        let cases = [
            (
                "ok:0123456789abcdef0123456789abcdef\nnocolon\n",
                2,
                "IDENTITY:KEY",
            ),
            ("\n\nshort:0011223344\n", 3, "too short"),
            ("short:15-bytes-of-txt\n", 1, "too short"),
            (":0123456789abcdef0123456789abcdef\n", 1, "empty identity"),
            (
                "a:0123456789abcdef0123456789abcdef\na:0123456789abcdef0123456789abcdef\n",
                2,
                "duplicate",
            ),
        ];
        for (text, line, what) in cases {
            let (l, reason) = parse_psk_secrets(text, H).unwrap_err();
            assert_eq!(l, line, "{text:?}");
            assert!(reason.contains(what), "{reason}");
        }
        let long = format!("{}:0123456789abcdef0123456789abcdef", "x".repeat(129));
        assert_eq!(parse_psk_secrets(&long, H).unwrap_err().0, 1);
    }

    fn temp_file(name: &str, contents: &str, mode: u32) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("milagro-tls-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("psk.txt");
        std::fs::write(&path, contents).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        path
    }

    #[test]
    fn loads_private_file() {
        let p = temp_file("ok", "client1:0123456789abcdef0123456789abcdef\n", 0o600);
        let store = load_store(&p, H).unwrap();
        assert!(store.lookup(b"client1").is_some());
        std::fs::remove_dir_all(p.parent().unwrap()).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn refuses_world_readable_file() {
        let p = temp_file("perm", "client1:0123456789abcdef0123456789abcdef\n", 0o644);
        let e = load_psk_secrets(&p, H).unwrap_err();
        assert!(
            matches!(e, PskFileError::InsecurePermissions { mode: 0o644, .. }),
            "{e}"
        );
        assert!(e.to_string().contains("chmod"));
        std::fs::remove_dir_all(p.parent().unwrap()).unwrap();
    }

    #[test]
    fn file_errors_name_the_file_and_line() {
        let p = temp_file(
            "bad",
            "a:0123456789abcdef0123456789abcdef\nbroken line\n",
            0o600,
        );
        let e = load_psk_secrets(&p, H).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("psk.txt line 2"), "{msg}");
        std::fs::remove_dir_all(p.parent().unwrap()).unwrap();

        let p = temp_file("empty", "# nothing\n", 0o600);
        assert!(matches!(
            load_psk_secrets(&p, H),
            Err(PskFileError::Empty { .. })
        ));
        std::fs::remove_dir_all(p.parent().unwrap()).unwrap();

        let missing = Path::new("/nonexistent/milagro/psk.txt");
        assert!(matches!(
            load_psk_secrets(missing, H),
            Err(PskFileError::Io { .. })
        ));
    }
}
