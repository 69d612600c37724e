//! Validated view over a row-major attention matrix, plus shared per-sample checks.

use crate::InterpError;

/// Row-major [n_samples, n_segments] attention weights, validated once.
#[derive(Clone, Copy, Debug)]
pub struct AlphaRows<'a> {
    values: &'a [f32],
    n_segments: usize,
}

impl<'a> AlphaRows<'a> {
    /// Wraps a flat buffer; fails if `n_segments == 0` or the buffer is not whole rows.
    pub fn new(values: &'a [f32], n_segments: usize) -> Result<Self, InterpError> {
        if n_segments == 0 {
            return Err(InterpError::ZeroSegments);
        }
        if !values.len().is_multiple_of(n_segments) {
            return Err(InterpError::RaggedAlpha {
                len: values.len(),
                n_segments,
            });
        }
        Ok(Self { values, n_segments })
    }

    /// Number of rows (samples).
    pub fn n_samples(&self) -> usize {
        self.values.len() / self.n_segments
    }

    /// Number of weights per row (segments).
    pub fn n_segments(&self) -> usize {
        self.n_segments
    }

    /// Row `i`; panics if `i >= n_samples()`, like slice indexing.
    pub fn row(&self, i: usize) -> &'a [f32] {
        let start = i * self.n_segments;
        &self.values[start..start + self.n_segments]
    }

    /// All rows in sample order.
    pub fn rows(&self) -> impl Iterator<Item = &'a [f32]> + use<'a> {
        self.values.chunks_exact(self.n_segments)
    }
}

/// First index of the maximum; NaN never wins; an empty (or all-NaN) row gives 0.
///
/// First-on-ties matches `numpy.argmax` (docs/paper-notes.md, Metrics), so `[0.5, 0.5, 0]` focuses on 0.
pub fn argmax_first(row: &[f32]) -> usize {
    let mut best: Option<(usize, f32)> = None;
    for (j, &v) in row.iter().enumerate() {
        if v.is_nan() {
            continue;
        }
        // Strict `>` keeps the earliest of equal maxima.
        if best.is_none_or(|(_, b)| v > b) {
            best = Some((j, v));
        }
    }
    best.map_or(0, |(j, _)| j)
}

/// Fails unless a per-sample slice has exactly one entry per attention row.
pub(crate) fn check_len(
    what: &'static str,
    expected: usize,
    got: usize,
) -> Result<(), InterpError> {
    if expected == got {
        Ok(())
    } else {
        Err(InterpError::LengthMismatch {
            what,
            expected,
            got,
        })
    }
}

/// Fails unless `fg_index` has one in-range foreground index per row.
pub(crate) fn check_fg_index(alpha: AlphaRows<'_>, fg_index: &[u32]) -> Result<(), InterpError> {
    check_len("fg_index", alpha.n_samples(), fg_index.len())?;
    let n_segments = alpha.n_segments();
    match fg_index
        .iter()
        .enumerate()
        .find(|&(_, &j)| usize::try_from(j).ok().is_none_or(|j| j >= n_segments))
    {
        Some((sample, &index)) => Err(InterpError::IndexOutOfRange {
            sample,
            index,
            n_segments,
        }),
        None => Ok(()),
    }
}

/// Mean of a per-row statistic; 0.0 over zero rows so empty sets never yield NaN.
pub(crate) fn mean_over_rows(alpha: AlphaRows<'_>, stat: impl Fn(&[f32]) -> f64) -> f64 {
    let n = alpha.n_samples();
    if n == 0 {
        return 0.0;
    }
    alpha.rows().map(stat).sum::<f64>() / n as f64
}

/// `100 * count / total`; 0.0 when `total == 0`.
pub(crate) fn percent(count: usize, total: usize) -> f64 {
    if total == 0 {
        0.0
    } else {
        100.0 * count as f64 / total as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_rejects_zero_segments() {
        assert_eq!(
            AlphaRows::new(&[], 0).unwrap_err(),
            InterpError::ZeroSegments
        );
    }

    #[test]
    fn new_rejects_ragged_buffer_naming_sizes() {
        let err = AlphaRows::new(&[0.1; 7], 3).unwrap_err();
        assert_eq!(
            err,
            InterpError::RaggedAlpha {
                len: 7,
                n_segments: 3
            }
        );
        assert!(err.to_string().contains('7') && err.to_string().contains('3'));
    }

    #[test]
    fn rows_split_row_major() {
        let v = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let a = AlphaRows::new(&v, 3).unwrap();
        assert_eq!(a.n_samples(), 2);
        assert_eq!(a.n_segments(), 3);
        assert_eq!(a.row(1), &[4.0, 5.0, 6.0]);
        let rows: Vec<&[f32]> = a.rows().collect();
        assert_eq!(rows, vec![&v[0..3], &v[3..6]]);
    }

    #[test]
    fn empty_buffer_is_zero_samples() {
        let a = AlphaRows::new(&[], 4).unwrap();
        assert_eq!(a.n_samples(), 0);
        assert_eq!(a.rows().count(), 0);
        assert_eq!(mean_over_rows(a, |_| 1.0), 0.0);
    }

    #[test]
    fn argmax_takes_first_on_ties() {
        assert_eq!(argmax_first(&[0.5, 0.5, 0.0]), 0);
        assert_eq!(argmax_first(&[0.1, 0.45, 0.45]), 1);
        assert_eq!(argmax_first(&[0.2, 0.3, 0.5]), 2);
    }

    #[test]
    fn argmax_never_picks_nan() {
        assert_eq!(argmax_first(&[f32::NAN, 0.1, 0.9]), 2);
        assert_eq!(argmax_first(&[0.1, f32::NAN, 0.05]), 0);
        assert_eq!(argmax_first(&[f32::NAN, f32::NAN]), 0);
        assert_eq!(argmax_first(&[]), 0);
        // A negative value beats NaN, which would be lost if NaN seeded the running max.
        assert_eq!(argmax_first(&[f32::NAN, -1.0]), 1);
    }

    #[test]
    fn fg_index_checks_name_sample_and_value() {
        let a = AlphaRows::new(&[0.5; 6], 3).unwrap();
        assert_eq!(
            check_fg_index(a, &[0]).unwrap_err(),
            InterpError::LengthMismatch {
                what: "fg_index",
                expected: 2,
                got: 1
            }
        );
        assert_eq!(
            check_fg_index(a, &[2, 3]).unwrap_err(),
            InterpError::IndexOutOfRange {
                sample: 1,
                index: 3,
                n_segments: 3
            }
        );
        assert!(check_fg_index(a, &[2, 0]).is_ok());
    }

    #[test]
    fn percent_of_zero_total_is_zero() {
        assert_eq!(percent(0, 0), 0.0);
        assert_eq!(percent(1, 4), 25.0);
    }
}
