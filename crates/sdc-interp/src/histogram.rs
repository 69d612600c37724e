//! Histogram of the attention weight each sample puts on its foreground segment.

use crate::InterpError;
use crate::alpha::{AlphaRows, check_fg_index};

/// Equal-width histogram on [0, 1]: `edges` has `counts.len() + 1` entries.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Histogram {
    /// Bin edges `0, 1/n, ..., 1` (length `n_bins + 1`).
    pub edges: Vec<f64>,
    /// Samples per bin; bin `k` is `[edges[k], edges[k+1])`, the last bin also holds 1.0.
    pub counts: Vec<u64>,
}

/// Bin of `v` among `n_bins` equal bins on [0, 1].
///
/// The last bin is closed like `numpy.histogram` (docs/paper-notes.md, Metrics). Values outside [0, 1] clamp to
/// the end bins so every sample is counted; NaN goes to bin 0, consistent with NaN ordering
/// below every number in [`crate::argmax_first`].
fn bin_of(v: f32, n_bins: usize) -> usize {
    let scaled = f64::from(v) * n_bins as f64;
    if scaled.is_nan() || scaled <= 0.0 {
        0
    } else {
        // `as` saturates, and the `min` folds v >= 1.0 into the closed last bin.
        (scaled.floor() as usize).min(n_bins - 1)
    }
}

/// Histogram of `alpha[i, fg_index[i]]` over samples with `n_bins` equal bins on [0, 1].
pub fn alpha_at_true_histogram(
    alpha: AlphaRows<'_>,
    fg_index: &[u32],
    n_bins: usize,
) -> Result<Histogram, InterpError> {
    if n_bins == 0 {
        return Err(InterpError::BadBins);
    }
    check_fg_index(alpha, fg_index)?;
    let edges = (0..=n_bins).map(|k| k as f64 / n_bins as f64).collect();
    let mut counts = vec![0u64; n_bins];
    for (row, &j) in alpha.rows().zip(fg_index) {
        counts[bin_of(row[j as usize], n_bins)] += 1;
    }
    Ok(Histogram { edges, counts })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn edges_and_counts_by_hand() {
        // alpha at J: 0.0, 0.3, 0.5, 0.75, 1.0 (exactly), 0.25.
        let v = [
            0.0, 1.0, //
            0.7, 0.3, //
            0.5, 0.5, //
            0.25, 0.75, //
            1.0, 0.0, //
            0.25, 0.75,
        ];
        let a = AlphaRows::new(&v, 2).unwrap();
        let h = alpha_at_true_histogram(a, &[0, 1, 1, 1, 0, 0], 4).unwrap();
        assert_eq!(h.edges, vec![0.0, 0.25, 0.5, 0.75, 1.0]);
        // Bins [0,.25) [.25,.5) [.5,.75) [.75,1]: 0.0 | 0.3, 0.25 | 0.5 | 0.75, 1.0.
        assert_eq!(h.counts, vec![1, 2, 1, 2]);
    }

    #[test]
    fn single_bin_takes_everything() {
        let v = [0.0, 1.0, 0.4, 0.6];
        let a = AlphaRows::new(&v, 2).unwrap();
        let h = alpha_at_true_histogram(a, &[0, 1], 1).unwrap();
        assert_eq!(h.edges, vec![0.0, 1.0]);
        assert_eq!(h.counts, vec![2]);
    }

    #[test]
    fn out_of_range_values_clamp_to_end_bins() {
        let v = [-0.1, 1.5, f32::NAN, f32::INFINITY];
        let a = AlphaRows::new(&v, 1).unwrap();
        let h = alpha_at_true_histogram(a, &[0; 4], 10).unwrap();
        assert_eq!(h.counts[0], 2);
        assert_eq!(h.counts[9], 2);
        assert_eq!(h.counts.iter().sum::<u64>(), 4);
    }

    #[test]
    fn zero_bins_is_an_error() {
        let a = AlphaRows::new(&[1.0], 1).unwrap();
        assert_eq!(
            alpha_at_true_histogram(a, &[0], 0).unwrap_err(),
            InterpError::BadBins
        );
    }

    #[test]
    fn bad_fg_index_is_an_error() {
        let a = AlphaRows::new(&[0.5, 0.5], 2).unwrap();
        assert_eq!(
            alpha_at_true_histogram(a, &[2], 5).unwrap_err(),
            InterpError::IndexOutOfRange {
                sample: 0,
                index: 2,
                n_segments: 2
            }
        );
    }

    #[test]
    fn empty_set_gives_zero_counts() {
        let a = AlphaRows::new(&[], 3).unwrap();
        let h = alpha_at_true_histogram(a, &[], 3).unwrap();
        assert_eq!(h.counts, vec![0, 0, 0]);
        assert_eq!(h.edges.len(), 4);
    }

    proptest! {
        #[test]
        fn every_sample_lands_in_its_bin(
            vals in proptest::collection::vec(0.0f32..=1.0, 0..50),
            n_bins in 1usize..30,
        ) {
            let a = AlphaRows::new(&vals, 1).unwrap();
            let fg = vec![0; vals.len()];
            let h = alpha_at_true_histogram(a, &fg, n_bins).unwrap();
            prop_assert_eq!(h.edges.len(), n_bins + 1);
            prop_assert_eq!(h.counts.iter().sum::<u64>(), vals.len() as u64);
            for &v in &vals {
                let k = bin_of(v, n_bins);
                let v = f64::from(v);
                prop_assert!(v >= h.edges[k] - 1e-12);
                prop_assert!(v < h.edges[k + 1] + 1e-12 || k == n_bins - 1);
            }
        }
    }
}
