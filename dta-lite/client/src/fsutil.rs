//! File helpers: atomic writes (temporary file + rename, nothing half-written on error) and
//! reading secret files that only their owner may read.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rand_core::{OsRng, RngCore};
use zeroize::Zeroizing;

/// Mode of files holding secrets.
pub const SECRET_MODE: u32 = 0o600;
/// Mode of public files (certificates, configuration).
pub const PUBLIC_MODE: u32 = 0o644;

/// Largest file these helpers read (1 MiB): every file of this crate is far smaller.
pub const MAX_FILE_LEN: u64 = 1 << 20;

/// A file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum FsError {
    /// An I/O error on the named file.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },
    /// A secret file that group or others may read.
    #[error("{}: holds a secret but is readable by group or others (mode {mode:o}); run `chmod 600 {}`", path.display(), path.display())]
    Permissive {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A file larger than [`MAX_FILE_LEN`].
    #[error("{}: larger than {MAX_FILE_LEN} bytes; not a dta-lite file", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> FsError + '_ {
    move |source| FsError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `bytes` to `path` atomically with permission bits `mode`: a temporary file in the
/// same folder is written, synced and renamed over `path`. On error the temporary file is
/// removed and `path` is untouched.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), FsError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".to_owned());
    let tmp = dir.join(format!(".{name}.tmp-{:016x}", OsRng.next_u64()));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        // The umask may have cleared bits; set exactly what was asked.
        f.set_permissions(fs::Permissions::from_mode(mode))?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        if let Ok(d) = File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(io_err(path))
}

fn read_bounded(path: &Path, f: &mut File) -> Result<Zeroizing<Vec<u8>>, FsError> {
    let len = f.metadata().map_err(io_err(path))?.len();
    if len > MAX_FILE_LEN {
        return Err(FsError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    let mut buf = Zeroizing::new(Vec::with_capacity(usize::try_from(len).unwrap_or(0)));
    f.take(MAX_FILE_LEN + 1)
        .read_to_end(&mut buf)
        .map_err(io_err(path))?;
    if buf.len() as u64 > MAX_FILE_LEN {
        return Err(FsError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    Ok(buf)
}

/// Reads a secret file, refusing it when group or others have any permission on it.
pub fn read_secret(path: &Path) -> Result<Zeroizing<Vec<u8>>, FsError> {
    let mut f = File::open(path).map_err(io_err(path))?;
    let mode = f.metadata().map_err(io_err(path))?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(FsError::Permissive {
            path: path.to_path_buf(),
            mode,
        });
    }
    read_bounded(path, &mut f)
}

/// Reads a public file (bounded in size).
pub fn read_public(path: &Path) -> Result<Vec<u8>, FsError> {
    let mut f = File::open(path).map_err(io_err(path))?;
    Ok(read_bounded(path, &mut f)?.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_sets_mode_and_replaces() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("s");
        write_atomic(&p, b"one", SECRET_MODE).unwrap();
        write_atomic(&p, b"two", SECRET_MODE).unwrap();
        assert_eq!(&*read_secret(&p).unwrap(), b"two");
        let mode = fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(
            fs::read_dir(d.path()).unwrap().count(),
            1,
            "no temp files left"
        );
    }

    #[test]
    fn atomic_write_into_missing_folder_fails_and_leaves_nothing() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("missing").join("s");
        let e = write_atomic(&p, b"x", SECRET_MODE).unwrap_err();
        assert!(e.to_string().contains("missing"), "{e}");
        assert!(!p.exists());
    }

    #[test]
    fn secret_files_readable_by_others_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("s");
        write_atomic(&p, b"x", 0o644).unwrap();
        let e = read_secret(&p).unwrap_err();
        assert!(matches!(e, FsError::Permissive { mode: 0o644, .. }), "{e}");
        assert!(e.to_string().contains("chmod 600"));
        fs::set_permissions(&p, fs::Permissions::from_mode(0o640)).unwrap();
        assert!(read_secret(&p).is_err());
        fs::set_permissions(&p, fs::Permissions::from_mode(0o400)).unwrap();
        assert!(read_secret(&p).is_ok());
    }
}
