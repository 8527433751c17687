//! Writing files safely: atomically, privately, and never through a symbolic link.
//!
//! A link committed to a repository (`mlinfra.state.json.lock -> ../../victim`) would
//! otherwise let a CI run overwrite any file it can write. Every file mlinfra writes is
//! opened with `O_NOFOLLOW` or replaced by `rename`, and a destination that is a link is
//! refused rather than followed or silently replaced.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// What went wrong writing or opening a file.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is larger than {limit} bytes, the most mlinfra reads from one file{hint}")]
    TooLarge {
        path: PathBuf,
        limit: u64,
        hint: &'static str,
    },
    #[error("{path} is a symbolic link{target}; mlinfra never reads or writes {what} through a link, because a link committed to a repository could make it overwrite any file. Remove the link (rm {path}){hint}")]
    Link {
        path: PathBuf,
        /// ` (to TARGET)`, or empty when the link cannot be read.
        target: String,
        what: &'static str,
        hint: &'static str,
    },
}

impl FileError {
    fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> FileError {
        let path = path.to_path_buf();
        move |source| FileError::Io {
            action,
            path,
            source,
        }
    }
}

/// Read a file of at most `limit` bytes, stopping one byte past it whatever its size.
pub fn read_bytes_capped(path: &Path, limit: u64) -> Result<Vec<u8>, FileError> {
    use std::io::Read;
    let f = File::open(path).map_err(FileError::io("read", path))?;
    let mut buf = Vec::new();
    f.take(limit.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(FileError::io("read", path))?;
    if buf.len() as u64 > limit {
        return Err(FileError::TooLarge {
            path: path.to_path_buf(),
            limit,
            hint: "",
        });
    }
    Ok(buf)
}

/// Read a text file of at most `limit` bytes. The limit holds for files whose size is not
/// known in advance too (`/dev/zero`, a FIFO): reading stops one byte past it.
pub fn read_capped(path: &Path, limit: u64, hint: &'static str) -> Result<String, FileError> {
    let buf = read_bytes_capped(path, limit).map_err(|e| match e {
        FileError::TooLarge { path, limit, .. } => FileError::TooLarge { path, limit, hint },
        other => other,
    })?;
    String::from_utf8(buf).map_err(|e| FileError::Io {
        action: "read",
        path: path.to_path_buf(),
        source: std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "it is not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
        ),
    })
}

/// Refuse `path` when it is a symbolic link (dangling or not); fine when it does not exist.
pub fn refuse_link(path: &Path, what: &'static str, hint: &'static str) -> Result<(), FileError> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => Err(FileError::Link {
            path: path.to_path_buf(),
            target: std::fs::read_link(path)
                .map(|t| format!(" (to {})", t.display()))
                .unwrap_or_default(),
            what,
            hint,
        }),
        _ => Ok(()),
    }
}

/// Open options that refuse to follow a symbolic link in the last path component.
pub fn no_follow() -> OpenOptions {
    let mut o = OpenOptions::new();
    o.custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC);
    o
}

/// Map an open error: `ELOOP` from `O_NOFOLLOW` means the path is a link.
pub fn open_error(
    path: &Path,
    action: &'static str,
    what: &'static str,
    hint: &'static str,
) -> impl FnOnce(std::io::Error) -> FileError {
    let path = path.to_path_buf();
    move |source| {
        if source.raw_os_error() == Some(libc::ELOOP) {
            FileError::Link {
                target: std::fs::read_link(&path)
                    .map(|t| format!(" (to {})", t.display()))
                    .unwrap_or_default(),
                path,
                what,
                hint,
            }
        } else {
            FileError::Io {
                action,
                path,
                source,
            }
        }
    }
}

/// Removes a temporary file unless it was renamed into place.
struct TempFile {
    path: PathBuf,
    keep: bool,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Write a file atomically with mode 0600: a new temporary file beside it (created
/// exclusively, never through a link), fsync, rename, directory fsync. Refuses a
/// destination that is a symbolic link; leaves no temporary file behind on any failure.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    atomic_write_mode(path, bytes, 0o600)
}

/// [`atomic_write`] with another file mode (for files meant to be shared, such as
/// generated YAML and JSON Schema).
pub fn atomic_write_mode(path: &Path, bytes: &[u8], mode: u32) -> Result<(), FileError> {
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    refuse_link(path, "files", "")?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(
        ".{name}.tmp-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let mut f = no_follow()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .map_err(open_error(&tmp, "create", "files", ""))?;
    let mut guard = TempFile {
        path: tmp.clone(),
        keep: false,
    };
    // The umask may have narrowed the mode; set it exactly.
    f.set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(FileError::io("set permissions of", &tmp))?;
    f.write_all(bytes).map_err(FileError::io("write", &tmp))?;
    f.sync_all().map_err(FileError::io("sync", &tmp))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(FileError::io("rename into", path))?;
    guard.keep = true;
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Make a file's creation or removal durable: fsync the directory it is in.
pub fn sync_parent(path: &Path) {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leftovers(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".tmp-"))
            .collect()
    }

    #[test]
    fn a_link_at_the_destination_is_refused_and_its_target_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        let link = dir.path().join("state.json");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        let e = atomic_write(&link, b"{}").unwrap_err();
        assert!(matches!(e, FileError::Link { .. }), "{e}");
        assert!(e.to_string().contains("is a symbolic link (to "), "{e}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        // A dangling link too.
        std::os::unix::fs::symlink(dir.path().join("nowhere"), dir.path().join("d")).unwrap();
        assert!(atomic_write(&dir.path().join("d"), b"{}").is_err());
        assert!(!dir.path().join("nowhere").exists());
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn a_failed_write_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        // Renaming a file over a directory fails after the temporary file was written.
        let target = dir.path().join("target");
        std::fs::create_dir(&target).unwrap();
        std::fs::write(target.join("x"), "x").unwrap();
        assert!(atomic_write(&target, b"data").is_err());
        assert!(
            leftovers(dir.path()).is_empty(),
            "{:?}",
            leftovers(dir.path())
        );
        let ok = dir.path().join("ok");
        atomic_write(&ok, b"data").unwrap();
        assert_eq!(std::fs::read(&ok).unwrap(), b"data");
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn modes_are_exact() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        atomic_write(&p, b"a").unwrap();
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        atomic_write_mode(&p, b"a", 0o644).unwrap();
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o644
        );
    }
}
