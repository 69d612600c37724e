//! The IDX format of MNIST and Fashion-MNIST, raw or gzipped.
//!
//! An IDX file is a big-endian header (magic `0x0000_08NN`, where `NN` is the number of
//! dimensions, then one `u32` per dimension) followed by the `u8` items. Images have magic
//! `0x00000803` (`[n, rows, cols]`), labels `0x00000801` (`[n]`).
//!
//! A file is read as gzip when it starts with the gzip magic bytes, whatever its name. Lengths are
//! checked against the header before anything is allocated, so a corrupt header cannot make the
//! reader allocate more than the file holds.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;

use super::ImageSet;
use crate::DataError;

/// Magic number of an IDX image file (`u8` items, 3 dimensions).
pub const IDX_IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX label file (`u8` items, 1 dimension).
pub const IDX_LABELS_MAGIC: u32 = 0x0000_0801;

/// The two bytes every gzip stream starts with.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Reads an IDX image file (`.gz` or raw) into a one-channel [`ImageSet`] whose labels are empty.
pub fn read_idx_images(path: &Path) -> Result<ImageSet, DataError> {
    let idx = read_idx(path, Kind::Images)?;
    // read_idx returns exactly 3 dims for images.
    let (n, height, width) = (idx.dims[0], idx.dims[1], idx.dims[2]);
    Ok(ImageSet {
        n,
        channels: 1,
        height,
        width,
        pixels: idx.data,
        labels: Vec::new(),
    })
}

/// Reads an IDX label file (`.gz` or raw): one `u8` label per item.
pub fn read_idx_labels(path: &Path) -> Result<Vec<u8>, DataError> {
    Ok(read_idx(path, Kind::Labels)?.data)
}

/// Reads an IDX image file and its label file into one [`ImageSet`]; refuses different counts.
pub fn read_idx_pair(images_path: &Path, labels_path: &Path) -> Result<ImageSet, DataError> {
    let mut images = read_idx_images(images_path)?;
    let labels = read_idx_labels(labels_path)?;
    if labels.len() != images.n {
        return Err(DataError::ImageCountMismatch {
            images: images_path.to_path_buf(),
            labels: labels_path.to_path_buf(),
            n_images: images.n,
            n_labels: labels.len(),
        });
    }
    images.labels = labels;
    Ok(images)
}

/// Which kind of IDX file is expected.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Images,
    Labels,
}

impl Kind {
    fn magic(self) -> u32 {
        match self {
            Kind::Images => IDX_IMAGES_MAGIC,
            Kind::Labels => IDX_LABELS_MAGIC,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Images => "images",
            Kind::Labels => "labels",
        }
    }

    fn n_dims(self) -> usize {
        match self {
            Kind::Images => 3,
            Kind::Labels => 1,
        }
    }
}

/// A decoded IDX file: its dimensions and its items.
struct Idx {
    dims: Vec<usize>,
    data: Vec<u8>,
}

/// Reads and checks one IDX file of `kind`.
fn read_idx(path: &Path, kind: Kind) -> Result<Idx, DataError> {
    let io_err = |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(io_err)?;
    let raw_len = file.metadata().map_err(io_err)?.len();
    let mut buffered = BufReader::new(file);
    // Peek without consuming: a fresh BufReader's first fill holds the file's first bytes.
    let gzipped = buffered
        .fill_buf()
        .map_err(io_err)?
        .starts_with(&GZIP_MAGIC);
    let mut reader: Box<dyn Read> = if gzipped {
        Box::new(MultiGzDecoder::new(buffered))
    } else {
        Box::new(buffered)
    };
    let read_err = |source: io::Error| {
        if gzipped {
            DataError::Gzip {
                path: path.to_path_buf(),
                source,
            }
        } else {
            DataError::Io {
                path: path.to_path_buf(),
                source,
            }
        }
    };

    let header_len = 4 * (1 + kind.n_dims());
    let mut header = vec![0u8; header_len];
    let got = read_up_to(&mut reader, &mut header).map_err(read_err)?;
    let bad_header = |message: String| DataError::ImageHeader {
        path: path.to_path_buf(),
        message,
    };
    if got < 4 {
        return Err(bad_header(format!(
            "file has {got} bytes{}, too short for the 4-byte IDX magic",
            if gzipped { " after gunzip" } else { "" }
        )));
    }
    let word =
        |i: usize| u32::from_be_bytes([header[i], header[i + 1], header[i + 2], header[i + 3]]);
    let magic = word(0);
    if magic != kind.magic() {
        let hint = match (kind, magic) {
            (Kind::Images, IDX_LABELS_MAGIC) => " (this is an IDX label file)",
            (Kind::Labels, IDX_IMAGES_MAGIC) => " (this is an IDX image file)",
            _ => "",
        };
        return Err(DataError::IdxMagic {
            path: path.to_path_buf(),
            kind: kind.name(),
            found: magic,
            expected: kind.magic(),
            hint,
        });
    }
    if got < header_len {
        return Err(bad_header(format!(
            "truncated: the {} header is {header_len} bytes, file has {got}{}",
            kind.name(),
            if gzipped { " after gunzip" } else { "" }
        )));
    }
    let dims: Vec<usize> = (0..kind.n_dims())
        .map(|i| word(4 * (i + 1)) as usize)
        .collect();
    if kind == Kind::Images && (dims[1] == 0 || dims[2] == 0) {
        return Err(bad_header(format!(
            "images of {}x{} pixels (rows and columns must be at least 1)",
            dims[1], dims[2]
        )));
    }
    let contents = match kind {
        Kind::Images => format!("{} images of {}x{}", dims[0], dims[1], dims[2]),
        Kind::Labels => format!("{} labels", dims[0]),
    };
    // u32 dims multiply to at most 2^96, so check in u64 and then against usize.
    let payload = dims
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64))
        .filter(|&p| usize::try_from(p).is_ok_and(|p| p <= isize::MAX as usize))
        .ok_or_else(|| bad_header(format!("{contents} is too large to hold in memory")))?;
    let length_error = |what, actual| DataError::IdxLength {
        path: path.to_path_buf(),
        what,
        contents: contents.clone(),
        payload,
        header_len,
        actual,
        gzipped,
    };
    let expected_total = payload + header_len as u64;

    let data = if gzipped {
        // The decompressed length is unknown up front: read at most one byte past the payload,
        // so the buffer never grows beyond what the stream actually holds.
        let mut data = Vec::new();
        (&mut reader)
            .take(payload + 1)
            .read_to_end(&mut data)
            .map_err(read_err)?;
        let read = data.len() as u64;
        if read < payload {
            return Err(length_error("truncated", header_len as u64 + read));
        }
        if read > payload {
            let rest = io::copy(&mut reader, &mut io::sink()).map_err(read_err)?;
            return Err(length_error("trailing bytes", expected_total + 1 + rest));
        }
        data
    } else {
        if raw_len < expected_total {
            return Err(length_error("truncated", raw_len));
        }
        if raw_len > expected_total {
            return Err(length_error("trailing bytes", raw_len));
        }
        // The file has exactly this many bytes left, so this allocation is backed by the file.
        let mut data = vec![0u8; payload as usize];
        reader.read_exact(&mut data).map_err(read_err)?;
        data
    };
    Ok(Idx { dims, data })
}

/// Reads until `buf` is full or the stream ends; returns the bytes read.
fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(k) => filled += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An IDX image file of `n` images of `rows x cols`, pixel `k` of the file = `k % 251`.
    fn images_bytes(n: u32, rows: u32, cols: u32) -> Vec<u8> {
        let mut bytes = Vec::new();
        for word in [IDX_IMAGES_MAGIC, n, rows, cols] {
            bytes.extend_from_slice(&word.to_be_bytes());
        }
        bytes.extend((0..n * rows * cols).map(|k| (k % 251) as u8));
        bytes
    }

    #[test]
    fn reads_a_raw_image_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x-idx3-ubyte");
        std::fs::write(&path, images_bytes(2, 2, 3)).expect("write");
        let set = read_idx_images(&path).expect("valid");
        assert_eq!((set.n, set.channels, set.height, set.width), (2, 1, 2, 3));
        assert_eq!(set.pixels, (0..12).collect::<Vec<u8>>());
        assert!(set.labels.is_empty());
    }

    #[test]
    fn header_dims_overflowing_memory_are_refused_without_allocating() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("huge");
        let mut bytes = Vec::new();
        for word in [IDX_IMAGES_MAGIC, u32::MAX, u32::MAX, u32::MAX] {
            bytes.extend_from_slice(&word.to_be_bytes());
        }
        std::fs::write(&path, bytes).expect("write");
        let err = read_idx_images(&path).expect_err("must fail").to_string();
        assert!(err.ends_with("bad header: 4294967295 images of 4294967295x4294967295 is too large to hold in memory"), "{err}");
    }
}
