//! [`SdcDataset`]: mosaics held in flat, validated buffers.

#[cfg(feature = "burn")]
use burn::data::dataset::{Dataset, DatasetError};

use crate::DataError;

/// An in-memory SDC dataset: `n` mosaics of `n_segments` segments of dimension `dim`, with labels
/// and foreground indices (the paper's problem setting).
///
/// Invariants (checked by [`SdcDataset::new`]): every label `< n_classes`, every foreground index
/// `< n_segments`, every coordinate finite, `n_segments`, `dim` and `n_classes` at least 1.
#[derive(Clone, Debug, PartialEq)]
pub struct SdcDataset {
    n_segments: usize,
    dim: usize,
    /// Shape of one segment: `[dim]`, or `[c, h, w]` for image tiles (product = `dim`).
    segment_shape: Vec<usize>,
    n_classes: usize,
    /// Row-major `[n, n_segments, dim]`.
    segments: Vec<f32>,
    /// `[n]`.
    labels: Vec<u32>,
    /// `[n]`, the true position J of each mosaic.
    fg_index: Vec<u32>,
}

/// A borrowed view of one mosaic.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SdcSample<'a> {
    /// Row-major `[n_segments, dim]`.
    pub segments: &'a [f32],
    /// The class label Y.
    pub label: u32,
    /// The true position J of the foreground segment.
    pub fg_index: u32,
}

/// An owned mosaic, the item type of the Burn `Dataset` impl (feature `burn`).
#[derive(Clone, Debug, PartialEq)]
pub struct SdcItem {
    /// Row-major `[n_segments, dim]`.
    pub segments: Vec<f32>,
    /// The class label Y.
    pub label: u32,
    /// The true position J of the foreground segment.
    pub fg_index: u32,
    /// Segments in the mosaic (the batcher needs the shape).
    pub n_segments: usize,
    /// Dimension of one segment.
    pub dim: usize,
}

fn count(values: &[u32]) -> std::collections::BTreeMap<u32, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for &v in values {
        *counts.entry(v).or_insert(0) += 1;
    }
    counts
}

impl SdcDataset {
    /// Builds a dataset from flat buffers; `segments` is row-major `[n, n_segments, dim]` with
    /// `n = labels.len()`.
    pub fn new(
        n_segments: usize,
        dim: usize,
        n_classes: usize,
        segments: Vec<f32>,
        labels: Vec<u32>,
        fg_index: Vec<u32>,
    ) -> Result<Self, DataError> {
        for (field, value) in [
            ("n_segments", n_segments),
            ("dim", dim),
            ("n_classes", n_classes),
        ] {
            if value == 0 {
                return Err(DataError::ZeroDimension { field });
            }
        }
        let n = labels.len();
        let shape = || format!("{n} samples x {n_segments} segments x {dim} dims");
        let expected = n
            .checked_mul(n_segments)
            .and_then(|v| v.checked_mul(dim))
            .ok_or(DataError::TooLarge {
                n_samples: n,
                n_segments,
                dim,
            })?;
        if segments.len() != expected {
            return Err(DataError::LengthMismatch {
                field: "segments",
                expected,
                actual: segments.len(),
                shape: shape(),
            });
        }
        if fg_index.len() != n {
            return Err(DataError::LengthMismatch {
                field: "fg_index",
                expected: n,
                actual: fg_index.len(),
                shape: format!("one per label, {n} labels"),
            });
        }
        if let Some((sample, &label)) = labels
            .iter()
            .enumerate()
            .find(|&(_, &l)| l as usize >= n_classes)
        {
            return Err(DataError::LabelOutOfRange {
                sample,
                label,
                n_classes,
            });
        }
        if let Some((sample, &j)) = fg_index
            .iter()
            .enumerate()
            .find(|&(_, &j)| j as usize >= n_segments)
        {
            return Err(DataError::FgIndexOutOfRange {
                sample,
                fg_index: j,
                n_segments,
            });
        }
        if let Some((flat, &value)) = segments.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            let per_sample = n_segments * dim;
            return Err(DataError::NonFinite {
                sample: flat / per_sample,
                segment: (flat % per_sample) / dim,
                coord: flat % dim,
                value,
            });
        }
        Ok(Self {
            n_segments,
            dim,
            segment_shape: vec![dim],
            n_classes,
            segments,
            labels,
            fg_index,
        })
    }

    /// Number of mosaics.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the dataset holds no mosaic.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Segments per mosaic (m).
    pub fn n_segments(&self) -> usize {
        self.n_segments
    }

    /// Dimension of one segment (d).
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Shape of one segment: `[dim]`, or `[channels, height, width]` for image tiles.
    pub fn segment_shape(&self) -> &[usize] {
        &self.segment_shape
    }

    /// The same dataset with segments read as `shape` (e.g. `[c, h, w]`); the product of
    /// `shape` must be `dim`.
    pub fn with_segment_shape(mut self, shape: Vec<usize>) -> Result<Self, DataError> {
        let product = shape.iter().try_fold(1usize, |acc, &s| acc.checked_mul(s));
        if shape.is_empty() || product != Some(self.dim) {
            return Err(DataError::InvalidValue {
                field: "segment_shape",
                value: format!("{shape:?}"),
                accepted: format!(
                    "a shape whose product is the segment dimension {}",
                    self.dim
                ),
            });
        }
        self.segment_shape = shape;
        Ok(self)
    }

    /// Number of label classes (K).
    pub fn n_classes(&self) -> usize {
        self.n_classes
    }

    /// All segments, row-major `[n, n_segments, dim]`.
    pub fn segments(&self) -> &[f32] {
        &self.segments
    }

    /// All labels, `[n]`.
    pub fn labels(&self) -> &[u32] {
        &self.labels
    }

    /// All foreground indices J, `[n]`.
    pub fn fg_index(&self) -> &[u32] {
        &self.fg_index
    }

    /// How many mosaics carry each label that occurs (sized by the data, never by the
    /// header's `n_classes`).
    pub fn label_counts(&self) -> std::collections::BTreeMap<u32, usize> {
        count(&self.labels)
    }

    /// How many mosaics have their foreground at each position that occurs.
    pub fn position_counts(&self) -> std::collections::BTreeMap<u32, usize> {
        count(&self.fg_index)
    }

    /// Values per mosaic, `n_segments * dim`.
    pub fn sample_len(&self) -> usize {
        self.n_segments * self.dim
    }

    /// The segments `[n_segments, dim]` of mosaic `i`.
    ///
    /// # Panics
    /// If `i >= len()`, like slice indexing.
    pub fn sample_segments(&self, i: usize) -> &[f32] {
        let row = self.sample_len();
        &self.segments[i * row..(i + 1) * row]
    }

    /// A view of mosaic `i`.
    ///
    /// # Panics
    /// If `i >= len()`, like slice indexing.
    pub fn sample(&self, i: usize) -> SdcSample<'_> {
        SdcSample {
            segments: self.sample_segments(i),
            label: self.labels[i],
            fg_index: self.fg_index[i],
        }
    }

    /// A new dataset of the mosaics at `indices`, in that order (repeats allowed).
    ///
    /// # Panics
    /// If an index is `>= len()`, like slice indexing.
    pub fn subset(&self, indices: &[usize]) -> SdcDataset {
        let mut segments = Vec::with_capacity(indices.len() * self.sample_len());
        for &i in indices {
            segments.extend_from_slice(self.sample_segments(i));
        }
        // Rows of a valid dataset stay valid, so no re-validation.
        SdcDataset {
            n_segments: self.n_segments,
            dim: self.dim,
            segment_shape: self.segment_shape.clone(),
            n_classes: self.n_classes,
            segments,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            fg_index: indices.iter().map(|&i| self.fg_index[i]).collect(),
        }
    }

    /// An owned copy of mosaic `i`.
    ///
    /// # Panics
    /// If `i >= len()`, like slice indexing.
    pub fn item(&self, i: usize) -> SdcItem {
        SdcItem {
            segments: self.sample_segments(i).to_vec(),
            label: self.labels[i],
            fg_index: self.fg_index[i],
            n_segments: self.n_segments,
            dim: self.dim,
        }
    }
}

#[cfg(feature = "burn")]
impl Dataset<SdcItem> for SdcDataset {
    /// # Panics
    /// If `index >= len()`, the convention of Burn's `Dataset`.
    fn get(&self, index: usize) -> Result<SdcItem, DatasetError> {
        assert!(
            index < self.len(),
            "Index out of bounds for SdcDataset: {index} >= {}",
            self.len()
        );
        Ok(self.item(index))
    }

    fn len(&self) -> usize {
        self.labels.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 3 mosaics x 2 segments x 2 dims; value = 100*i + 10*segment + coord, easy to read back.
    fn small() -> SdcDataset {
        let segments = (0..3)
            .flat_map(|i| {
                (0..2).flat_map(move |s| (0..2).map(move |c| (100 * i + 10 * s + c) as f32))
            })
            .collect();
        SdcDataset::new(2, 2, 3, segments, vec![0, 2, 1], vec![1, 0, 1]).expect("valid")
    }

    #[test]
    fn accessors_and_sample() {
        let ds = small();
        assert_eq!(
            (ds.len(), ds.n_segments(), ds.dim(), ds.n_classes()),
            (3, 2, 2, 3)
        );
        assert!(!ds.is_empty());
        let s = ds.sample(1);
        assert_eq!(s.segments, &[100.0, 101.0, 110.0, 111.0]);
        assert_eq!((s.label, s.fg_index), (2, 0));
    }

    #[test]
    fn subset_reorders_and_repeats() {
        let ds = small();
        let sub = ds.subset(&[2, 0, 2]);
        assert_eq!(sub.labels(), &[1, 0, 1]);
        assert_eq!(sub.fg_index(), &[1, 1, 1]);
        assert_eq!(sub.sample(0).segments, ds.sample(2).segments);
        assert_eq!(sub.sample(1).segments, ds.sample(0).segments);
        assert!(ds.subset(&[]).is_empty());
    }

    #[cfg(feature = "burn")]
    #[test]
    fn burn_dataset_get() {
        let ds = small();
        let item = Dataset::get(&ds, 2).expect("in range");
        assert_eq!(item.segments, vec![200.0, 201.0, 210.0, 211.0]);
        assert_eq!(
            (item.label, item.fg_index, item.n_segments, item.dim),
            (1, 1, 2, 2)
        );
        assert_eq!(Dataset::len(&ds), 3);
    }

    #[test]
    fn new_rejects_bad_input() {
        let err = |r: Result<SdcDataset, DataError>| r.expect_err("must fail").to_string();
        assert_eq!(
            err(SdcDataset::new(0, 2, 3, vec![], vec![], vec![])),
            "n_segments: must be at least 1, got 0"
        );
        assert!(err(SdcDataset::new(2, 0, 3, vec![], vec![], vec![])).starts_with("dim:"));
        assert!(err(SdcDataset::new(2, 2, 0, vec![], vec![], vec![])).starts_with("n_classes:"));
        assert_eq!(
            err(SdcDataset::new(
                2,
                2,
                3,
                vec![0.0; 7],
                vec![0, 0],
                vec![0, 0]
            )),
            "segments: expected 8 values (2 samples x 2 segments x 2 dims), got 7"
        );
        assert!(
            err(SdcDataset::new(2, 2, 3, vec![0.0; 8], vec![0, 0], vec![0]))
                .starts_with("fg_index:")
        );
        assert_eq!(
            err(SdcDataset::new(
                2,
                2,
                3,
                vec![0.0; 8],
                vec![0, 3],
                vec![0, 0]
            )),
            "labels[1]: label 3 out of range (n_classes = 3, so 0..=2)"
        );
        assert_eq!(
            err(SdcDataset::new(
                2,
                2,
                3,
                vec![0.0; 8],
                vec![0, 0],
                vec![2, 0]
            )),
            "fg_index[0]: segment 2 out of range (n_segments = 2, so 0..=1)"
        );
        let mut values = vec![0.0; 8];
        values[7] = f32::NAN;
        assert_eq!(
            err(SdcDataset::new(2, 2, 3, values, vec![0, 0], vec![0, 0])),
            "segments: sample 1, segment 1, coordinate 1 is NaN (only finite values are accepted)"
        );
    }

    #[test]
    fn empty_dataset_is_valid() {
        let ds = SdcDataset::new(4, 3, 2, vec![], vec![], vec![]).expect("empty is valid");
        assert!(ds.is_empty());
        assert_eq!(ds.sample_len(), 12);
    }
}
