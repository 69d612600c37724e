//! Atomic file writes: a reader (or an interrupted render) never sees half a file.

use std::path::Path;

use super::ReportError;

/// Writes `bytes` to `path` atomically (see [`sdc_io::write_atomic`]: one helper and one file
/// mode for everything sdc writes).
pub(super) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    sdc_io::write_atomic(path, bytes).map_err(|e| ReportError::Write {
        path: e.path,
        source: e.source,
    })
}

/// Creates `dir` and its parents.
pub(super) fn create_dir(dir: &Path) -> Result<(), ReportError> {
    std::fs::create_dir_all(dir).map_err(|source| ReportError::CreateDir {
        path: dir.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_replaces_and_leaves_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.txt");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("a.txt")]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o644);
        }
    }

    #[test]
    fn missing_directory_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope").join("a.txt");
        let e = write_atomic(&path, b"x").unwrap_err();
        assert!(e.to_string().contains("nope"), "{e}");
    }
}
