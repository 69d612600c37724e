//! Exclusive locks on directories: one writer per run directory or sweep output.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// The lock file inside a locked directory. Its content names the holder (for the message a
/// refused writer sees); the lock itself is the operating system's, held on the open file.
pub const LOCK_FILE: &str = ".sdc.lock";

/// Why a directory could not be locked.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process (or another writer in this one) holds the lock.
    #[error(
        "{}: in use by another sdc process ({holder}); wait for it to finish, or choose another directory",
        dir.display()
    )]
    Held {
        /// The directory.
        dir: PathBuf,
        /// Who holds it, as the holder recorded it.
        holder: String,
    },
    /// The lock file could not be created or locked.
    #[error(transparent)]
    Io(#[from] crate::IoError),
}

/// An exclusive lock on a directory, released when dropped (or when the process dies, however
/// it dies: the operating system drops the lock with the file descriptor).
#[derive(Debug)]
pub struct DirLock {
    file: File,
    dir: PathBuf,
}

impl DirLock {
    /// Locks `dir` (creating it if needed) for `purpose` (e.g. `sdc train`), or says who holds
    /// it. Never waits.
    pub fn acquire(dir: &Path, purpose: &str) -> Result<Self, LockError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| crate::IoError::new(dir, "create the directory", e))?;
        let path = dir.join(LOCK_FILE);
        let io = |action, e| crate::IoError::new(&path, action, e);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| io("open", e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(LockError::Held {
                    dir: dir.to_path_buf(),
                    holder: if holder.is_empty() {
                        "holder unknown".into()
                    } else {
                        holder.to_string()
                    },
                });
            }
            Err(TryLockError::Error(e)) => return Err(io("lock", e).into()),
        }
        let holder = format!(
            "pid {}, {purpose}, since {}",
            std::process::id(),
            crate::now_utc()
        );
        file.set_len(0).map_err(|e| io("write", e))?;
        file.rewind().map_err(|e| io("write", e))?;
        file.write_all(holder.as_bytes())
            .map_err(|e| io("write", e))?;
        Ok(Self {
            file,
            dir: dir.to_path_buf(),
        })
    }

    /// The locked directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        // Closing the file releases the lock too; unlocking first makes it immediate.
        let _ = self.file.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_writer_is_refused_with_the_holder_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = DirLock::acquire(dir.path(), "sdc train").expect("free");
        let err = DirLock::acquire(dir.path(), "sdc train").expect_err("held");
        let text = err.to_string();
        assert!(
            text.contains(&format!("pid {}", std::process::id()))
                && text.contains("sdc train")
                && text.contains(&format!("since {}", &crate::now_utc()[..4])),
            "{text}"
        );
        drop(first);
        DirLock::acquire(dir.path(), "sdc train").expect("released on drop");
    }
}
