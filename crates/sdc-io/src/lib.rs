//! Files that never lie: the one place sdc writes, locks, checksums and sizes things.
//!
//! - [`write_atomic`]: every file sdc writes goes through a temporary file in the same directory,
//!   an `fsync`, a rename and an `fsync` of the directory, with one file mode ([`FILE_MODE`]).
//!   A crash leaves the old file or the new one, never half of one.
//! - [`sha256_hex`] / [`sha256_file`]: the checksums that run manifests record and verify.
//! - [`DirLock`]: an exclusive OS lock on a directory (a run directory or a sweep output), so a
//!   second writer is refused with a message naming the holder. The lock dies with the process,
//!   so a killed run never blocks the next one.
//! - [`Budget`]: sizes from configs and file headers are checked against the machine's memory
//!   before anything is allocated.
//! - [`cores`]: the process's cores, held by the runs and lent when idle to work that splits in
//!   two (an evaluation beside training, a kernel's two halves).
//!
//! This crate knows nothing of datasets, models or metrics; every sdc crate may use it.

mod budget;
pub mod cores;
mod lock;

use std::io::{Read, Write};

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

pub use budget::{Budget, TooLarge, human_bytes};
pub use lock::{DirLock, LockError};

/// The current UTC time, RFC 3339 (`2026-11-30T11:18:45.123Z`): provenance records and lock
/// holders.
pub fn now_utc() -> String {
    let now = time::OffsetDateTime::now_utc();
    now.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| format!("{} s after the Unix epoch", now.unix_timestamp()))
}

/// The mode of every file sdc writes: readable by all, writable by the owner (before umask).
pub const FILE_MODE: u32 = 0o644;

/// An I/O failure on a named file or directory.
#[derive(Debug, thiserror::Error)]
#[error("{}: cannot {action}: {source}", path.display())]
pub struct IoError {
    /// The file or directory.
    pub path: PathBuf,
    /// What was being done (`write`, `read`, `create the directory`, ...).
    pub action: &'static str,
    /// The operating system's error.
    #[source]
    pub source: std::io::Error,
}

impl IoError {
    /// An error of `action` on `path`.
    pub fn new(path: impl Into<PathBuf>, action: &'static str, source: std::io::Error) -> Self {
        Self {
            path: path.into(),
            action,
            source,
        }
    }
}

/// The directory holding `path` (`.` for a bare file name).
fn parent_of(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, flushed to
/// disk, given [`FILE_MODE`], renamed into place, then the directory entry flushed too. The
/// directory must exist (a missing one is an error naming it). Readers see the old content or
/// the new, never a mix; a failure removes the temporary file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), IoError> {
    write_atomic_with(path, |file| file.write_all(bytes))
}

/// [`write_atomic`] for content that `write` streams into the temporary file (a download, a
/// copy, an encoder).
pub fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> Result<(), IoError> {
    let dir = parent_of(path);
    let mut tmp = tempfile::Builder::new()
        .prefix(".sdc-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| IoError::new(dir, "create a temporary file in", e))?;
    let write_err = |e| IoError::new(path, "write", e);
    write(tmp.as_file_mut()).map_err(write_err)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(FILE_MODE))
            .map_err(write_err)?;
    }
    tmp.as_file().sync_all().map_err(write_err)?;
    tmp.persist(path).map_err(|e| write_err(e.error))?;
    sync_dir(dir)
}

/// Flushes a directory's entries (renames, new files) to disk. A no-op where directories cannot
/// be opened as files.
pub fn sync_dir(dir: &Path) -> Result<(), IoError> {
    #[cfg(unix)]
    {
        let handle =
            std::fs::File::open(dir).map_err(|e| IoError::new(dir, "open the directory", e))?;
        handle
            .sync_all()
            .map_err(|e| IoError::new(dir, "flush the directory", e))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Renames `from` to `to` (same file system) and flushes the directory holding `to`.
pub fn rename_durable(from: &Path, to: &Path) -> Result<(), IoError> {
    std::fs::rename(from, to).map_err(|e| IoError::new(from, "rename", e))?;
    sync_dir(parent_of(to))
}

/// The SHA-256 of `bytes`, as 64 lowercase hex digits.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// The SHA-256 of the file at `path`, read in chunks.
pub fn sha256_file(path: &Path) -> Result<String, IoError> {
    let read_err = |e| IoError::new(path, "read", e);
    let mut file = std::fs::File::open(path).map_err(read_err)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(read_err)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

fn hex(digest: &[u8]) -> String {
    use std::fmt::Write as _;
    digest.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Reads at most `limit` bytes of `path`; a longer file (or an endless one such as
/// `/dev/zero`) is an error naming the limit, not a read until memory runs out.
pub fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, IoError> {
    let read_err = |e| IoError::new(path, "read", e);
    let file = std::fs::File::open(path).map_err(read_err)?;
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(read_err)?;
    if bytes.len() as u64 > limit {
        return Err(IoError::new(
            path,
            "read",
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("longer than the {} expected", human_bytes(limit)),
            ),
        ));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_content_and_leaves_no_temporaries() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub").join("a.json");
        let missing = write_atomic(&path, b"one").expect_err("no such directory");
        assert!(missing.to_string().contains("sub"), "{missing}");
        std::fs::create_dir(dir.path().join("sub")).expect("mkdir");
        write_atomic(&path, b"one").expect("write");
        write_atomic(&path, b"two").expect("write");
        assert_eq!(std::fs::read(&path).expect("read"), b"two");
        let names: Vec<_> = std::fs::read_dir(dir.path().join("sub"))
            .expect("ls")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("a.json")]);
    }

    #[cfg(unix)]
    #[test]
    fn every_written_file_gets_the_one_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x");
        write_atomic(&path, b"x").expect("write");
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, FILE_MODE);
    }

    #[test]
    fn a_failed_write_names_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        // A directory where the file should go: the rename fails.
        let path = dir.path().join("taken");
        std::fs::create_dir(path.join("inner")).ok();
        std::fs::create_dir_all(path.join("inner")).expect("mkdir");
        let err = write_atomic(&path, b"x").expect_err("a directory is in the way");
        assert!(err.to_string().contains("taken"), "{err}");
        let leftovers = std::fs::read_dir(dir.path()).expect("ls").count();
        assert_eq!(leftovers, 1, "the temporary file is removed");
    }

    #[test]
    fn sha256_of_known_input() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("abc");
        std::fs::write(&path, b"abc").expect("write");
        assert_eq!(sha256_file(&path).expect("hash"), sha256_hex(b"abc"));
    }

    #[test]
    fn bounded_reads_stop_at_the_limit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        std::fs::write(&path, [7u8; 100]).expect("write");
        assert_eq!(read_bounded(&path, 100).expect("fits").len(), 100);
        let err = read_bounded(&path, 99).expect_err("too long").to_string();
        assert!(err.contains("longer than"), "{err}");
        #[cfg(target_os = "linux")]
        {
            let err = read_bounded(Path::new("/dev/zero"), 1 << 20).expect_err("endless");
            assert!(err.to_string().contains("/dev/zero"), "{err}");
        }
    }
}
