//! Focus criterion and the four outcome cells (FTPT, FFPT, FTPF, FFPF).

use crate::InterpError;
use crate::alpha::{AlphaRows, argmax_first, check_fg_index, check_len, percent};

/// When a sample's attention counts as focused on its foreground segment.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "kebab-case", tag = "kind", deny_unknown_fields)]
pub enum FocusCriterion {
    /// Focus true iff the first argmax of alpha is the foreground index (docs/paper-notes.md, Metrics).
    #[default]
    Argmax,
    /// Focus true iff alpha at the foreground index is strictly greater than `t`.
    Threshold {
        /// Threshold in `[0, 1)`.
        t: f32,
    },
}

impl FocusCriterion {
    /// Rejects thresholds for which the criterion would be constant or undefined.
    pub(crate) fn validate(self) -> Result<(), InterpError> {
        match self {
            Self::Argmax => Ok(()),
            // t < 0 makes every finite alpha_J focused, t >= 1 none on the simplex, NaN none.
            Self::Threshold { t } if (0.0..1.0).contains(&t) => Ok(()),
            Self::Threshold { t } => Err(InterpError::BadThreshold { t }),
        }
    }

    /// Whether one validated row focuses on in-range index `j`.
    fn holds(self, row: &[f32], j: usize) -> bool {
        self.holds_at(row, j, || argmax_first(row))
    }

    /// [`Self::holds`] with the row's first argmax computed once by the caller, on demand.
    pub(crate) fn holds_at(self, row: &[f32], j: usize, argmax: impl FnOnce() -> usize) -> bool {
        match self {
            Self::Argmax => argmax() == j,
            // NaN > t is false, so a NaN weight never counts as focus.
            Self::Threshold { t } => row[j] > t,
        }
    }
}

/// Per-sample "focus true" flags under `criterion`; `fg_index[i]` is the foreground J of row i.
pub fn focus_true(
    alpha: AlphaRows<'_>,
    fg_index: &[u32],
    criterion: FocusCriterion,
) -> Result<Vec<bool>, InterpError> {
    criterion.validate()?;
    check_fg_index(alpha, fg_index)?;
    Ok(alpha
        .rows()
        .zip(fg_index)
        .map(|(row, &j)| criterion.holds(row, j as usize))
        .collect())
}

/// Sample counts in the four focus × prediction cells.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OutcomeCounts {
    /// Focus true, prediction true.
    pub ftpt: usize,
    /// Focus false, prediction true.
    pub ffpt: usize,
    /// Focus true, prediction false.
    pub ftpf: usize,
    /// Focus false, prediction false.
    pub ffpf: usize,
}

impl OutcomeCounts {
    /// Number of samples over all four cells.
    pub fn total(&self) -> usize {
        self.ftpt + self.ffpt + self.ftpf + self.ffpf
    }

    /// The cells as percentages of `total()`; all zeros when there are no samples.
    pub fn rates(&self) -> FourRates {
        let n = self.total();
        FourRates {
            ftpt: percent(self.ftpt, n),
            ffpt: percent(self.ffpt, n),
            ftpf: percent(self.ftpf, n),
            ffpf: percent(self.ffpf, n),
        }
    }
}

/// The four outcome cells as percentages of the evaluated set (summing to 100).
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FourRates {
    /// Focus true, prediction true, in percent.
    pub ftpt: f64,
    /// Focus false, prediction true, in percent.
    pub ffpt: f64,
    /// Focus true, prediction false, in percent.
    pub ftpf: f64,
    /// Focus false, prediction false, in percent.
    pub ffpf: f64,
}

impl FourRates {
    /// Classification accuracy in percent: FTPT + FFPT.
    pub fn accuracy(&self) -> f64 {
        self.ftpt + self.ffpt
    }
}

/// Counts samples per focus × prediction cell; every slice needs one entry per row.
pub fn outcome_counts(
    alpha: AlphaRows<'_>,
    fg_index: &[u32],
    labels: &[u32],
    predictions: &[u32],
    criterion: FocusCriterion,
) -> Result<OutcomeCounts, InterpError> {
    let focus = focus_true(alpha, fg_index, criterion)?;
    check_len("labels", alpha.n_samples(), labels.len())?;
    check_len("predictions", alpha.n_samples(), predictions.len())?;
    let mut counts = OutcomeCounts::default();
    for ((&ft, &label), &pred) in focus.iter().zip(labels).zip(predictions) {
        let cell = match (ft, pred == label) {
            (true, true) => &mut counts.ftpt,
            (false, true) => &mut counts.ffpt,
            (true, false) => &mut counts.ftpf,
            (false, false) => &mut counts.ffpf,
        };
        *cell += 1;
    }
    Ok(counts)
}

/// The four cells as percentages; same arguments and checks as [`outcome_counts`].
pub fn four_rates(
    alpha: AlphaRows<'_>,
    fg_index: &[u32],
    labels: &[u32],
    predictions: &[u32],
    criterion: FocusCriterion,
) -> Result<FourRates, InterpError> {
    outcome_counts(alpha, fg_index, labels, predictions, criterion).map(|c| c.rates())
}

/// Percentage of predictions equal to their label; 0.0 for zero samples.
pub fn accuracy(labels: &[u32], predictions: &[u32]) -> Result<f64, InterpError> {
    check_len("predictions", labels.len(), predictions.len())?;
    let correct = labels
        .iter()
        .zip(predictions)
        .filter(|(l, p)| l == p)
        .count();
    Ok(percent(correct, labels.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Six samples, three segments, built so each cell count differs (2, 3, 1, 0) under argmax.
    ///
    /// | row | alpha           | J | label | pred | argmax focus     | cell |
    /// |-----|-----------------|---|-------|------|------------------|------|
    /// | 0   | 0.7 0.2 0.1     | 0 | 1     | 1    | 0 == 0 true      | FTPT |
    /// | 1   | 0.1 0.1 0.8     | 2 | 0     | 0    | 2 == 2 true      | FTPT |
    /// | 2   | 0.5 0.5 0.0     | 1 | 2     | 2    | tie -> 0, false  | FFPT |
    /// | 3   | 0.2 0.6 0.2     | 0 | 0     | 0    | 1 != 0 false     | FFPT |
    /// | 4   | 0.2 0.6 0.2     | 2 | 1     | 1    | 1 != 2 false     | FFPT |
    /// | 5   | 0.3 0.3 0.4     | 2 | 0     | 1    | 2 == 2 true      | FTPF |
    const ALPHA: [f32; 18] = [
        0.7, 0.2, 0.1, //
        0.1, 0.1, 0.8, //
        0.5, 0.5, 0.0, //
        0.2, 0.6, 0.2, //
        0.2, 0.6, 0.2, //
        0.3, 0.3, 0.4, //
    ];
    const FG: [u32; 6] = [0, 2, 1, 0, 2, 2];
    const LABELS: [u32; 6] = [1, 0, 2, 0, 1, 0];
    const PREDS: [u32; 6] = [1, 0, 2, 0, 1, 1];

    fn alpha() -> AlphaRows<'static> {
        AlphaRows::new(&ALPHA, 3).unwrap()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn hand_computed_cells_under_argmax() {
        let c = outcome_counts(alpha(), &FG, &LABELS, &PREDS, FocusCriterion::Argmax).unwrap();
        assert_eq!(
            c,
            OutcomeCounts {
                ftpt: 2,
                ffpt: 3,
                ftpf: 1,
                ffpf: 0
            }
        );
        let r = c.rates();
        assert!(close(r.ftpt, 100.0 / 3.0));
        assert!(close(r.ffpt, 50.0));
        assert!(close(r.ftpf, 100.0 / 6.0));
        assert_eq!(r.ffpf, 0.0);
        assert!(close(r.accuracy(), 500.0 / 6.0));
        assert_eq!(
            four_rates(alpha(), &FG, &LABELS, &PREDS, FocusCriterion::Argmax).unwrap(),
            r
        );
    }

    #[test]
    fn tie_goes_to_first_index() {
        let a = AlphaRows::new(&[0.5, 0.5, 0.0], 3).unwrap();
        assert_eq!(
            focus_true(a, &[1], FocusCriterion::Argmax).unwrap(),
            [false]
        );
        assert_eq!(focus_true(a, &[0], FocusCriterion::Argmax).unwrap(), [true]);
    }

    #[test]
    fn threshold_differs_from_argmax() {
        // Row 2 (tie, alpha_J = 0.5 > 0.45) flips to focus true; row 5 (argmax but
        // alpha_J = 0.4) flips to focus false.
        let crit = FocusCriterion::Threshold { t: 0.45 };
        assert_eq!(
            focus_true(alpha(), &FG, crit).unwrap(),
            [true, true, true, false, false, false]
        );
        assert_eq!(
            focus_true(alpha(), &FG, FocusCriterion::Argmax).unwrap(),
            [true, true, false, false, false, true]
        );
        let c = outcome_counts(alpha(), &FG, &LABELS, &PREDS, crit).unwrap();
        assert_eq!(
            c,
            OutcomeCounts {
                ftpt: 3,
                ffpt: 2,
                ftpf: 0,
                ffpf: 1
            }
        );
    }

    #[test]
    fn threshold_is_strict() {
        let a = AlphaRows::new(&[0.5, 0.5], 2).unwrap();
        let crit = FocusCriterion::Threshold { t: 0.5 };
        assert_eq!(focus_true(a, &[1], crit).unwrap(), [false]);
    }

    #[test]
    fn bad_thresholds_are_rejected() {
        let a = alpha();
        for t in [-0.1, 1.0, f32::NAN, f32::INFINITY] {
            let err = focus_true(a, &FG, FocusCriterion::Threshold { t }).unwrap_err();
            assert!(
                matches!(err, InterpError::BadThreshold { t: got } if got.to_bits() == t.to_bits())
            );
        }
        assert!(focus_true(a, &FG, FocusCriterion::Threshold { t: 0.0 }).is_ok());
    }

    #[test]
    fn mismatched_lengths_name_the_slice() {
        let a = alpha();
        let crit = FocusCriterion::Argmax;
        assert_eq!(
            outcome_counts(a, &FG[..5], &LABELS, &PREDS, crit).unwrap_err(),
            InterpError::LengthMismatch {
                what: "fg_index",
                expected: 6,
                got: 5
            }
        );
        assert_eq!(
            outcome_counts(a, &FG, &[0; 7], &PREDS, crit).unwrap_err(),
            InterpError::LengthMismatch {
                what: "labels",
                expected: 6,
                got: 7
            }
        );
        assert_eq!(
            outcome_counts(a, &FG, &LABELS, &PREDS[..1], crit).unwrap_err(),
            InterpError::LengthMismatch {
                what: "predictions",
                expected: 6,
                got: 1
            }
        );
        assert_eq!(
            accuracy(&[1, 2], &[1]).unwrap_err(),
            InterpError::LengthMismatch {
                what: "predictions",
                expected: 2,
                got: 1
            }
        );
    }

    #[test]
    fn out_of_range_fg_index_names_sample_and_value() {
        let fg = [0, 2, 1, 3, 2, 2];
        let err =
            outcome_counts(alpha(), &fg, &LABELS, &PREDS, FocusCriterion::Argmax).unwrap_err();
        assert_eq!(
            err,
            InterpError::IndexOutOfRange {
                sample: 3,
                index: 3,
                n_segments: 3
            }
        );
        let msg = err.to_string();
        assert!(msg.contains("sample 3") && msg.contains("index 3"), "{msg}");
    }

    #[test]
    fn accuracy_counts_matches() {
        assert!(close(accuracy(&LABELS, &PREDS).unwrap(), 500.0 / 6.0));
        assert_eq!(accuracy(&[], &[]).unwrap(), 0.0);
    }

    #[test]
    fn empty_counts_give_zero_rates() {
        assert_eq!(OutcomeCounts::default().rates(), FourRates::default());
        let a = AlphaRows::new(&[], 3).unwrap();
        let c = outcome_counts(a, &[], &[], &[], FocusCriterion::Argmax).unwrap();
        assert_eq!(c.total(), 0);
    }

    /// Valid (alpha, fg, labels, preds) with arbitrary (not necessarily simplex) weights.
    fn inputs() -> impl Strategy<Value = (usize, Vec<f32>, Vec<u32>, Vec<u32>, Vec<u32>)> {
        (1usize..8, 1usize..40).prop_flat_map(|(m, n)| {
            (
                Just(m),
                proptest::collection::vec(0.0f32..1.0, n * m),
                proptest::collection::vec(0..m as u32, n),
                proptest::collection::vec(0u32..3, n),
                proptest::collection::vec(0u32..3, n),
            )
        })
    }

    fn criterion() -> impl Strategy<Value = FocusCriterion> {
        prop_oneof![
            Just(FocusCriterion::Argmax),
            (0.0f32..1.0).prop_map(|t| FocusCriterion::Threshold { t }),
        ]
    }

    proptest! {
        #[test]
        fn rates_sum_to_100((m, a, fg, l, p) in inputs(), crit in criterion()) {
            let alpha = AlphaRows::new(&a, m).unwrap();
            let r = four_rates(alpha, &fg, &l, &p, crit).unwrap();
            prop_assert!((r.ftpt + r.ffpt + r.ftpf + r.ffpf - 100.0).abs() < 1e-9);
        }

        #[test]
        fn rate_accuracy_matches_accuracy((m, a, fg, l, p) in inputs(), crit in criterion()) {
            let alpha = AlphaRows::new(&a, m).unwrap();
            let r = four_rates(alpha, &fg, &l, &p, crit).unwrap();
            prop_assert!((r.accuracy() - accuracy(&l, &p).unwrap()).abs() < 1e-9);
        }

        #[test]
        fn counts_total_is_n_samples((m, a, fg, l, p) in inputs(), crit in criterion()) {
            let alpha = AlphaRows::new(&a, m).unwrap();
            let c = outcome_counts(alpha, &fg, &l, &p, crit).unwrap();
            prop_assert_eq!(c.total(), alpha.n_samples());
        }
    }
}
