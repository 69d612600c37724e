//! The `.sdc` file format: a compact, checksummed, self-describing binary file of one dataset.
//!
//! Layout, all integers little-endian:
//!
//! | bytes | content |
//! |---|---|
//! | 8 | magic `b"SDCDATA\0"` |
//! | 4 | u32 format version ([`FORMAT_VERSION`]) |
//! | 4 | u32 header length h (at most [`MAX_HEADER_LEN`]) |
//! | h | UTF-8 JSON: `n_samples`, `n_segments`, `dim`, `n_classes`, optional `segment_shape` (`[c, h, w]` of image tiles), `meta` (where the data came from) |
//! | 4·n·m·d | segments, f32, row-major `[n, m, d]` |
//! | 4·n | labels, u32 |
//! | 4·n | fg_index, u32 |
//! | 4 | u32 CRC32 of every byte before it |
//!
//! [`load`] checks every field and never panics, whatever the bytes.

use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{DataError, SdcDataset, Splits};

/// The first 8 bytes of every `.sdc` file.
pub const MAGIC: [u8; 8] = *b"SDCDATA\0";
/// The format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// Largest accepted JSON header, in bytes (a header holds a config, a few KiB at most).
pub const MAX_HEADER_LEN: u32 = 1 << 20;
/// File name of the train split in a directory written by [`save_splits`].
pub const TRAIN_FILE: &str = "train.sdc";
/// File name of the test split in a directory written by [`save_splits`].
pub const TEST_FILE: &str = "test.sdc";

/// Magic, version and header length.
const PREFIX_LEN: usize = 16;
/// The trailing CRC32.
const CRC_LEN: usize = 4;

/// The JSON header.
#[derive(Serialize, Deserialize)]
struct Header {
    n_samples: u64,
    n_segments: u64,
    dim: u64,
    n_classes: u64,
    /// `[c, h, w]` for image tiles; absent for flat segments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    segment_shape: Option<Vec<u64>>,
    meta: serde_json::Value,
}

/// Encodes `dataset` with `meta` (e.g. the generating config) into the bytes of a `.sdc` file.
pub fn to_bytes(dataset: &SdcDataset, meta: &serde_json::Value) -> Result<Vec<u8>, DataError> {
    let header = Header {
        n_samples: dataset.len() as u64,
        n_segments: dataset.n_segments() as u64,
        dim: dataset.dim() as u64,
        n_classes: dataset.n_classes() as u64,
        segment_shape: (dataset.segment_shape().len() > 1)
            .then(|| dataset.segment_shape().iter().map(|&s| s as u64).collect()),
        meta: meta.clone(),
    };
    let header =
        serde_json::to_vec(&header).expect("a JSON value with integer fields always serialises");
    let header_len = u32::try_from(header.len())
        .ok()
        .filter(|&h| h <= MAX_HEADER_LEN)
        .ok_or_else(|| DataError::InvalidValue {
            field: "meta",
            value: format!("{} bytes of JSON header", header.len()),
            accepted: format!("a header of at most {MAX_HEADER_LEN} bytes"),
        })?;
    let n = dataset.len();
    let mut bytes = Vec::with_capacity(
        PREFIX_LEN + header.len() + 4 * (dataset.segments().len() + 2 * n) + CRC_LEN,
    );
    bytes.extend_from_slice(&MAGIC);
    bytes.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    bytes.extend_from_slice(&header_len.to_le_bytes());
    bytes.extend_from_slice(&header);
    for v in dataset.segments() {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    for v in dataset.labels().iter().chain(dataset.fg_index()) {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    let crc = crc32fast::hash(&bytes);
    bytes.extend_from_slice(&crc.to_le_bytes());
    Ok(bytes)
}

/// Decodes the bytes of a `.sdc` file; `source` names them in error messages.
pub fn from_bytes(
    bytes: &[u8],
    source: &Path,
) -> Result<(SdcDataset, serde_json::Value), DataError> {
    let path = || source.to_path_buf();
    let bad = |message: String| DataError::BadHeader {
        path: path(),
        message,
    };
    let len = bytes.len();

    if !MAGIC.starts_with(&bytes[..len.min(MAGIC.len())]) {
        return Err(DataError::BadMagic { path: path() });
    }
    if len < PREFIX_LEN + CRC_LEN {
        return Err(bad(format!(
            "truncated: {len} bytes, fewer than the {} of an empty file",
            PREFIX_LEN + CRC_LEN
        )));
    }
    let version = read_u32(bytes, 8);
    if version != FORMAT_VERSION {
        return Err(DataError::UnsupportedVersion {
            path: path(),
            version,
            supported: FORMAT_VERSION,
        });
    }
    let header_len = read_u32(bytes, 12);
    if header_len > MAX_HEADER_LEN {
        return Err(bad(format!(
            "header length {header_len} exceeds the limit of {MAX_HEADER_LEN} bytes"
        )));
    }
    let header_end = PREFIX_LEN + header_len as usize;
    if header_end + CRC_LEN > len {
        return Err(bad(format!(
            "truncated: header length {header_len} runs past the end of the file ({len} bytes)"
        )));
    }
    let header: Header = serde_json::from_slice(&bytes[PREFIX_LEN..header_end]).map_err(|e| {
        bad(format!(
            "not valid JSON with n_samples, n_segments, dim, n_classes, meta: {e}"
        ))
    })?;

    let to_usize = |field: &str, v: u64| {
        usize::try_from(v).map_err(|_| bad(format!("{field} = {v} does not fit in memory")))
    };
    let n = to_usize("n_samples", header.n_samples)?;
    let m = to_usize("n_segments", header.n_segments)?;
    let d = to_usize("dim", header.dim)?;
    let k = to_usize("n_classes", header.n_classes)?;
    for (field, v) in [("n_segments", m), ("dim", d), ("n_classes", k)] {
        if v == 0 {
            return Err(bad(format!("{field} is 0 (at least 1)")));
        }
    }
    // Labels and foreground indices are stored as u32: more classes or segments than a u32
    // can name is a damaged header, not a dataset.
    for (field, v) in [("n_segments", m), ("n_classes", k)] {
        if v as u64 > u64::from(u32::MAX) + 1 {
            return Err(bad(format!(
                "{field} = {v} exceeds the {} a u32 label or index can name",
                u64::from(u32::MAX) + 1
            )));
        }
    }
    let Some((cells, payload, expected)) = sizes(n, m, d, header_end) else {
        return Err(bad(format!(
            "{n} samples x {m} segments x {d} dims overflows the addressable size"
        )));
    };
    if expected != len {
        return Err(DataError::FileLength {
            path: path(),
            what: if len < expected {
                "truncated"
            } else {
                "trailing bytes"
            },
            n_samples: n,
            n_segments: m,
            dim: d,
            payload,
            expected,
            actual: len,
        });
    }
    let stored = read_u32(bytes, len - CRC_LEN);
    let computed = crc32fast::hash(&bytes[..len - CRC_LEN]);
    if stored != computed {
        return Err(DataError::Checksum {
            path: path(),
            stored,
            computed,
        });
    }

    let segments_end = header_end + 4 * cells;
    let labels_end = segments_end + 4 * n;
    let segments = bytes[header_end..segments_end]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let u32s = |range: std::ops::Range<usize>| -> Vec<u32> {
        bytes[range]
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    };
    let labels = u32s(segments_end..labels_end);
    let fg_index = u32s(labels_end..labels_end + 4 * n);
    let content = |e| DataError::Content {
        path: path(),
        source: Box::new(e),
    };
    let mut dataset = SdcDataset::new(m, d, k, segments, labels, fg_index).map_err(content)?;
    if let Some(shape) = header.segment_shape {
        let shape = shape
            .into_iter()
            .map(|s| to_usize("segment_shape", s))
            .collect::<Result<Vec<_>, _>>()?;
        dataset = dataset.with_segment_shape(shape).map_err(content)?;
    }
    Ok((dataset, header.meta))
}

/// `(n·m·d, payload bytes, total file bytes)`, or `None` on overflow: a corrupt header must not
/// wrap around to a small, plausible size.
fn sizes(n: usize, m: usize, d: usize, header_end: usize) -> Option<(usize, usize, usize)> {
    let cells = n.checked_mul(m)?.checked_mul(d)?;
    let payload = cells.checked_add(n.checked_mul(2)?)?.checked_mul(4)?;
    let total = header_end.checked_add(payload)?.checked_add(CRC_LEN)?;
    Some((cells, payload, total))
}

/// The u32 at `offset`; the caller has checked that 4 bytes are there.
fn read_u32(bytes: &[u8], offset: usize) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[offset..offset + 4]);
    u32::from_le_bytes(word)
}

/// Writes `dataset` and `meta` to `path` atomically (see [`sdc_io::write_atomic`]).
pub fn save(dataset: &SdcDataset, meta: &serde_json::Value, path: &Path) -> Result<(), DataError> {
    let bytes = to_bytes(dataset, meta)?;
    sdc_io::write_atomic(path, &bytes)?;
    Ok(())
}

/// Reads a `.sdc` file: the dataset and the `meta` it was saved with.
///
/// Never reads more than the file's header promises (plus one byte, to detect trailing
/// bytes), and checks that size against the machine's memory first: a device such as
/// `/dev/zero` or a header claiming petabytes is an error, not an endless read.
pub fn load(path: &Path) -> Result<(SdcDataset, serde_json::Value), DataError> {
    let io = |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut reader = std::io::BufReader::new(file);
    let mut bytes = Vec::new();
    let mut read_up_to = |bytes: &mut Vec<u8>, n: u64| {
        (&mut reader)
            .take(n)
            .read_to_end(bytes)
            .map(drop)
            .map_err(io)
    };
    read_up_to(&mut bytes, PREFIX_LEN as u64)?;
    if bytes.len() == PREFIX_LEN && bytes.starts_with(&MAGIC) {
        let header_len = read_u32(&bytes, 12).min(MAX_HEADER_LEN);
        read_up_to(&mut bytes, u64::from(header_len))?;
        let header_end = bytes.len();
        let header = serde_json::from_slice::<Header>(&bytes[PREFIX_LEN..]).ok();
        let promised = header.as_ref().and_then(|h| promised_len(h, header_end));
        match (header, promised) {
            (Some(h), Some(total)) => {
                sdc_io::Budget::machine().check(
                    &format!("{}: header n_samples", path.display()),
                    h.n_samples,
                    &format!(
                        "the dataset ({} segments x {} values, 4 bytes each)",
                        h.n_segments, h.dim
                    ),
                    Some(total),
                    1,
                )?;
                read_up_to(&mut bytes, total + 1 - header_end as u64)?;
            }
            // An unreadable header: enough bytes for `from_bytes` to name the problem.
            _ => read_up_to(&mut bytes, CRC_LEN as u64)?,
        }
    }
    from_bytes(&bytes, path)
}

/// The file length `header` promises, when its sizes are representable.
fn promised_len(header: &Header, header_end: usize) -> Option<u64> {
    let n = usize::try_from(header.n_samples).ok()?;
    let m = usize::try_from(header.n_segments).ok()?;
    let d = usize::try_from(header.dim).ok()?;
    sizes(n, m, d, header_end).map(|(_, _, total)| total as u64)
}

/// Writes `dir/train.sdc` and `dir/test.sdc` (creating `dir`), both with `meta`.
pub fn save_splits(splits: &Splits, meta: &serde_json::Value, dir: &Path) -> Result<(), DataError> {
    std::fs::create_dir_all(dir).map_err(|source| DataError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    save(&splits.train, meta, &dir.join(TRAIN_FILE))?;
    save(&splits.test, meta, &dir.join(TEST_FILE))
}

/// Reads `dir/train.sdc` and `dir/test.sdc`; the `meta` returned is the train file's.
pub fn load_splits(dir: &Path) -> Result<(Splits, serde_json::Value), DataError> {
    let (train, meta) = load(&dir.join(TRAIN_FILE))?;
    let (test, _) = load(&dir.join(TEST_FILE))?;
    Ok((Splits { train, test }, meta))
}

#[cfg(test)]
mod tests;
