//! CIFAR-10 binary batches (`data_batch_1..5.bin`, `test_batch.bin`).
//!
//! A batch is a sequence of 3,073-byte records: one label byte (0..=9), then 3,072 pixel bytes,
//! the R, G and B planes of a 32x32 image, each row-major. That is already the `[c, h, w]` layout
//! of [`ImageSet`], so records are copied as they are.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use super::{ImageSet, Split, exact, require_files};
use crate::DataError;

/// Channels of a CIFAR-10 image.
pub const CIFAR_CHANNELS: usize = 3;
/// Side of a CIFAR-10 image, in pixels.
pub const CIFAR_SIDE: usize = 32;
/// Bytes of one record: a label byte and `3 x 32 x 32` pixel bytes.
pub const CIFAR_RECORD_LEN: usize = 1 + CIFAR_CHANNELS * CIFAR_SIDE * CIFAR_SIDE;
/// Records in each official batch file.
pub const CIFAR_RECORDS_PER_BATCH: usize = 10_000;
/// Number of CIFAR-10 classes.
pub const CIFAR_CLASSES: u8 = 10;

/// The training batch files, in the order their images are concatenated.
pub const CIFAR_TRAIN_FILES: [&str; 5] = [
    "data_batch_1.bin",
    "data_batch_2.bin",
    "data_batch_3.bin",
    "data_batch_4.bin",
    "data_batch_5.bin",
];
/// The test batch file.
pub const CIFAR_TEST_FILES: [&str; 1] = ["test_batch.bin"];

/// Where the official archive comes from, for messages.
pub(crate) const CIFAR_ARCHIVE_HINT: &str = "the official archive is cifar-10-binary.tar.gz \
    (MD5 c32a1d4ab5d03f1284b67883e8d87530) from https://www.cs.toronto.edu/~kriz/cifar.html; \
    it unpacks to cifar-10-batches-bin/ (CIFAR-10 is in no package registry)";

/// Reads one CIFAR-10 binary batch: any whole, non-zero number of records.
pub fn read_cifar10_batch(path: &Path) -> Result<ImageSet, DataError> {
    let io_err = |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(io_err)?;
    let len = file.metadata().map_err(io_err)?.len();
    let length_error = |message: String| DataError::CifarLength {
        path: path.to_path_buf(),
        message,
    };
    if len == 0 {
        return Err(length_error("empty file".into()));
    }
    let record = CIFAR_RECORD_LEN as u64;
    if len % record != 0 {
        return Err(length_error(format!(
            "partial record: {len} bytes = {} whole records + {} bytes",
            len / record,
            len % record
        )));
    }
    let len = usize::try_from(len)
        .ok()
        .filter(|&l| l <= isize::MAX as usize)
        .ok_or_else(|| length_error(format!("{len} bytes is too large to hold in memory")))?;
    // Allocation bounded by the file's length.
    let mut bytes = vec![0u8; len];
    file.read_exact(&mut bytes).map_err(io_err)?;
    let n = len / CIFAR_RECORD_LEN;
    let mut labels = Vec::with_capacity(n);
    let mut pixels = Vec::with_capacity(n * (CIFAR_RECORD_LEN - 1));
    for (i, rec) in bytes.chunks_exact(CIFAR_RECORD_LEN).enumerate() {
        if rec[0] >= CIFAR_CLASSES {
            return Err(DataError::CifarLabel {
                path: path.to_path_buf(),
                record: i,
                label: rec[0],
            });
        }
        labels.push(rec[0]);
        pixels.extend_from_slice(&rec[1..]);
    }
    Ok(ImageSet {
        n,
        channels: CIFAR_CHANNELS,
        height: CIFAR_SIDE,
        width: CIFAR_SIDE,
        pixels,
        labels,
    })
}

/// Reads a CIFAR-10 split from `dir` (the unpacked `cifar-10-batches-bin/`): train concatenates
/// `data_batch_1..5.bin`, test is `test_batch.bin`.
pub fn read_cifar10(dir: &Path, split: Split) -> Result<ImageSet, DataError> {
    let files: &[&str] = match split {
        Split::Train => &CIFAR_TRAIN_FILES,
        Split::Test => &CIFAR_TEST_FILES,
    };
    let paths = require_files(dir, files.iter().copied(), exact, || {
        format!(
            "put data_batch_1.bin .. data_batch_5.bin and test_batch.bin in {}; {CIFAR_ARCHIVE_HINT}",
            dir.display()
        )
    })?;
    let mut all = ImageSet {
        n: 0,
        channels: CIFAR_CHANNELS,
        height: CIFAR_SIDE,
        width: CIFAR_SIDE,
        pixels: Vec::new(),
        labels: Vec::new(),
    };
    for path in paths {
        let batch = read_cifar10_batch(&path)?;
        all.n += batch.n;
        all.pixels.extend_from_slice(&batch.pixels);
        all.labels.extend_from_slice(&batch.labels);
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_constants_match_the_format() {
        assert_eq!(CIFAR_RECORD_LEN, 3073);
        assert_eq!(CIFAR_RECORD_LEN * CIFAR_RECORDS_PER_BATCH, 30_730_000);
    }
}
