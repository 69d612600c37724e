//! Datasets as NumPy `.npz` archives, so that any framework can train on exactly sdc's data.
//!
//! | array | dtype | shape | content |
//! |---|---|---|---|
//! | `segments` | float32 | `[n, m, d]` or `[n, m, c, h, w]` | the mosaics |
//! | `labels` | int64 | `[n]` | the class label Y |
//! | `fg_index` | int64 | `[n]` | the foreground position J |
//! | `segment_shape` | int64 | `[1]` or `[3]` | `[d]` or `[c, h, w]` |
//! | `n_classes` | int64 | `[]` | number of classes K |
//! | `meta_json` | uint8 | `[bytes]` | UTF-8 JSON of the generating config |
//!
//! Labels and positions are int64 because that is what PyTorch's losses and indexing take.
//! [`load_npz`] reads any integer or float dtype NumPy writes (uncompressed `np.savez`), takes
//! the segment shape from `segments` and needs neither `n_classes` (default: largest label + 1)
//! nor `meta_json`.

use std::path::Path;

use ndarray::{ArrayView, IxDyn, arr0};
use ndarray_npy::NpzWriter;

use crate::arrays::{ArrayFile, NamedArray};
use crate::{DataError, SdcDataset};

fn write_error(path: &Path, field: &str, e: impl ToString) -> DataError {
    DataError::Array {
        path: path.to_path_buf(),
        field: field.to_string(),
        message: e.to_string(),
    }
}

/// Writes `dataset` and `meta` to `path` as an `.npz` archive, atomically (a temporary file in
/// the same directory, renamed into place).
pub fn save_npz(
    dataset: &SdcDataset,
    meta: &serde_json::Value,
    path: &Path,
) -> Result<(), DataError> {
    let mut shape = vec![dataset.len(), dataset.n_segments()];
    shape.extend_from_slice(dataset.segment_shape());
    let segments = ArrayView::from_shape(IxDyn(&shape), dataset.segments())
        .map_err(|e| write_error(path, "segments", e))?;
    let as_i64 = |v: &[u32]| ndarray::Array1::from_iter(v.iter().map(|&x| i64::from(x)));
    let (labels, fg_index) = (as_i64(dataset.labels()), as_i64(dataset.fg_index()));
    let segment_shape =
        ndarray::Array1::from_iter(dataset.segment_shape().iter().map(|&s| s as i64));
    let n_classes = arr0(dataset.n_classes() as i64);
    let meta = serde_json::to_vec(meta).map_err(|e| write_error(path, "meta_json", e))?;
    let meta = ndarray::Array1::from_vec(meta);
    // One atomic write (sdc_io): the archive is streamed into the temporary file.
    sdc_io::write_atomic_with(path, |file| {
        let entry = |name: &str, e: ndarray_npy::WriteNpzError| {
            std::io::Error::other(format!("{name}: {e}"))
        };
        let mut npz = NpzWriter::new(file);
        npz.add_array("segments", &segments)
            .map_err(|e| entry("segments", e))?;
        npz.add_array("labels", &labels)
            .map_err(|e| entry("labels", e))?;
        npz.add_array("fg_index", &fg_index)
            .map_err(|e| entry("fg_index", e))?;
        npz.add_array("segment_shape", &segment_shape)
            .map_err(|e| entry("segment_shape", e))?;
        npz.add_array("n_classes", &n_classes)
            .map_err(|e| entry("n_classes", e))?;
        npz.add_array("meta_json", &meta)
            .map_err(|e| entry("meta_json", e))?;
        npz.finish().map(drop).map_err(|e| entry("(archive)", e))
    })?;
    Ok(())
}

/// Reads an `.npz` dataset (see the module doc): the dataset and its `meta` (null if absent).
pub fn load_npz(path: &Path) -> Result<(SdcDataset, serde_json::Value), DataError> {
    let mut file = ArrayFile::open(path)?;
    let segments = file.floats("segments")?;
    let labels = one_dimensional(path, "labels", file.indices("labels")?)?;
    let fg_index = one_dimensional(path, "fg_index", file.indices("fg_index")?)?;
    let bad = |field: &str, message: String| DataError::Array {
        path: path.to_path_buf(),
        field: field.into(),
        message,
    };
    if segments.shape.len() < 3 {
        return Err(bad(
            "segments",
            format!(
                "shape {:?}: expected [n, m, d] or [n, m, c, h, w]",
                segments.shape
            ),
        ));
    }
    let n_segments = segments.shape[1];
    let segment_shape = segments.shape[2..].to_vec();
    if file.has("segment_shape")? {
        let stored = file.indices("segment_shape")?.values;
        if stored
            .iter()
            .map(|&s| s as usize)
            .ne(segment_shape.iter().copied())
        {
            return Err(bad(
                "segment_shape",
                format!(
                    "{stored:?} disagrees with the segments' shape {:?}",
                    segments.shape
                ),
            ));
        }
    }
    let n_classes = if file.has("n_classes")? {
        let n = file.indices("n_classes")?;
        match n.values.as_slice() {
            [k] => *k as usize,
            _ => {
                return Err(bad(
                    "n_classes",
                    format!("shape {:?}: expected a scalar", n.shape),
                ));
            }
        }
    } else {
        labels.iter().max().map_or(1, |&l| l as usize + 1)
    };
    let meta = if file.has("meta_json")? {
        let bytes = file.indices("meta_json")?.values;
        let bytes: Vec<u8> = bytes.into_iter().map(|b| b as u8).collect();
        serde_json::from_slice(&bytes)
            .map_err(|e| bad("meta_json", format!("not UTF-8 JSON: {e}")))?
    } else {
        serde_json::Value::Null
    };
    let dim = segment_shape.iter().product();
    let content = |source| DataError::Content {
        path: path.to_path_buf(),
        source: Box::new(source),
    };
    let dataset = SdcDataset::new(
        n_segments,
        dim,
        n_classes,
        segments.values,
        labels,
        fg_index,
    )
    .and_then(|d| d.with_segment_shape(segment_shape))
    .map_err(content)?;
    Ok((dataset, meta))
}

fn one_dimensional(
    path: &Path,
    field: &str,
    array: NamedArray<u32>,
) -> Result<Vec<u32>, DataError> {
    if array.shape.len() == 1 {
        Ok(array.values)
    } else {
        Err(DataError::Array {
            path: path.to_path_buf(),
            field: field.into(),
            message: format!(
                "shape {:?}: expected one value per sample, [n]",
                array.shape
            ),
        })
    }
}

/// Reads a dataset from an `.npz` archive or, for any other extension, a `.sdc` file.
pub fn load_any(path: &Path) -> Result<(SdcDataset, serde_json::Value), DataError> {
    let is_npz = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npz"));
    if is_npz {
        load_npz(path)
    } else {
        crate::load(path)
    }
}

#[cfg(test)]
// Tests may unwrap: a panic there is the failure report we want.
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use ndarray::Array1;

    fn small() -> SdcDataset {
        let segments = (0..2 * 3 * 4).map(|v| v as f32 * 0.5).collect();
        SdcDataset::new(3, 4, 5, segments, vec![4, 0], vec![2, 1])
            .unwrap()
            .with_segment_shape(vec![1, 2, 2])
            .unwrap()
    }

    #[test]
    fn save_then_load_is_identity() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.npz");
        let meta = serde_json::json!({"distribution": "blobs5d", "seed": 7});
        save_npz(&small(), &meta, &path).unwrap();
        let (back, back_meta) = load_any(&path).unwrap();
        assert_eq!(back, small());
        assert_eq!(back.segment_shape(), &[1, 2, 2]);
        assert_eq!(back_meta, meta);
        let mut file = ArrayFile::open(&path).unwrap();
        assert_eq!(file.floats("segments").unwrap().shape, vec![2, 3, 1, 2, 2]);
    }

    #[test]
    fn minimal_archive_from_numpy_defaults() {
        // What `np.savez(f, segments=x, labels=y, fg_index=j)` writes: float64, int64.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.npz");
        let mut npz = NpzWriter::new(std::fs::File::create(&path).unwrap());
        let x = ndarray::Array3::from_shape_vec((2, 2, 1), vec![1.0f64, 2.0, 3.0, 4.0]).unwrap();
        npz.add_array("segments", &x).unwrap();
        npz.add_array("labels", &Array1::from_vec(vec![1i64, 2]))
            .unwrap();
        npz.add_array("fg_index", &Array1::from_vec(vec![0i64, 1]))
            .unwrap();
        npz.finish().unwrap();
        let (d, meta) = load_npz(&path).unwrap();
        assert_eq!(
            (d.len(), d.n_segments(), d.dim(), d.n_classes()),
            (2, 2, 1, 3)
        );
        assert_eq!(d.segments(), &[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(meta, serde_json::Value::Null);
    }

    #[test]
    fn bad_archives_name_the_array() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.npz");
        let mut npz = NpzWriter::new(std::fs::File::create(&path).unwrap());
        let x = ndarray::Array3::<f32>::zeros((2, 2, 1));
        npz.add_array("segments", &x).unwrap();
        npz.add_array("labels", &Array1::from_vec(vec![1i64, 2]))
            .unwrap();
        npz.add_array("fg_index", &Array1::from_vec(vec![0i64, 5]))
            .unwrap();
        npz.finish().unwrap();
        let err = load_npz(&path).unwrap_err().to_string();
        assert!(err.contains("bad.npz") && err.contains("fg_index"), "{err}");
        assert!(err.contains('5'), "{err}");
    }
}
