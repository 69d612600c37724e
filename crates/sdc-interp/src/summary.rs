//! One call that computes everything sdc reports about an evaluated set.

use crate::InterpError;
use crate::alpha::AlphaRows;
use crate::attention::{
    SPARSITY_EPS, entropy_bits, share_max_at_least, simplex_distance, sparsity_value,
};
use crate::rates::{FocusCriterion, FourRates, OutcomeCounts, outcome_counts};

/// Everything sdc reports about one evaluated set.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InterpSummary {
    /// Number of samples evaluated.
    pub n_samples: usize,
    /// Samples per focus × prediction cell.
    pub counts: OutcomeCounts,
    /// The cells as percentages.
    pub rates: FourRates,
    /// Classification accuracy in percent (FTPT + FFPT).
    pub accuracy: f64,
    /// Percentage of samples whose largest attention weight is >= 0.5.
    pub share_max_ge_half: f64,
    /// Mean number of weights above [`SPARSITY_EPS`] per sample.
    pub sparsity_value: f64,
    /// Mean Euclidean distance to the nearest simplex vertex.
    pub simplex_distance: f64,
    /// Mean attention entropy in bits.
    pub entropy_bits: f64,
    /// Mean attention weight on the foreground segment.
    pub mean_alpha_at_true: f64,
}

/// Computes every metric for one evaluated set; fails on an empty set or inconsistent inputs.
pub fn summarize(
    alpha: AlphaRows<'_>,
    fg_index: &[u32],
    labels: &[u32],
    predictions: &[u32],
    criterion: FocusCriterion,
) -> Result<InterpSummary, InterpError> {
    // Validate shapes first so a length mismatch is reported as such, not as "empty".
    let counts = outcome_counts(alpha, fg_index, labels, predictions, criterion)?;
    let n_samples = alpha.n_samples();
    if n_samples == 0 {
        return Err(InterpError::Empty);
    }
    let rates = counts.rates();
    // fg_index was range-checked by outcome_counts, so indexing the row cannot panic.
    let mean_alpha_at_true = alpha
        .rows()
        .zip(fg_index)
        .map(|(row, &j)| f64::from(row[j as usize]))
        .sum::<f64>()
        / n_samples as f64;
    Ok(InterpSummary {
        n_samples,
        counts,
        rates,
        accuracy: rates.accuracy(),
        share_max_ge_half: share_max_at_least(alpha, 0.5),
        sparsity_value: sparsity_value(alpha, SPARSITY_EPS),
        simplex_distance: simplex_distance(alpha),
        entropy_bits: entropy_bits(alpha),
        mean_alpha_at_true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Same six-sample set as the hand-computed table in `rates`.
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

    #[test]
    fn summary_by_hand() {
        let a = AlphaRows::new(&ALPHA, 3).unwrap();
        let s = summarize(a, &FG, &LABELS, &PREDS, FocusCriterion::Argmax).unwrap();
        assert_eq!(s.n_samples, 6);
        assert_eq!(
            s.counts,
            OutcomeCounts {
                ftpt: 2,
                ffpt: 3,
                ftpf: 1,
                ffpf: 0
            }
        );
        assert_eq!(s.rates, s.counts.rates());
        assert!((s.accuracy - 500.0 / 6.0).abs() < 1e-9);
        // Maxima 0.7 0.8 0.5 0.6 0.6 0.4: five are >= 0.5 (0.5 itself included).
        assert!((s.share_max_ge_half - 500.0 / 6.0).abs() < 1e-9);
        // Weights > 0.01 per row: 3 3 2 3 3 3.
        assert!((s.sparsity_value - 17.0 / 6.0).abs() < 1e-12);
        // alpha at J: 0.7 0.8 0.5 0.2 0.2 0.4.
        assert!((s.mean_alpha_at_true - 2.8 / 6.0).abs() < 1e-7);
        assert_eq!(s.simplex_distance, simplex_distance(a));
        assert_eq!(s.entropy_bits, entropy_bits(a));
        assert!(s.entropy_bits > 0.0 && s.entropy_bits < 3f64.log2());
    }

    #[test]
    fn criterion_changes_cells_not_attention_stats() {
        let a = AlphaRows::new(&ALPHA, 3).unwrap();
        let arg = summarize(a, &FG, &LABELS, &PREDS, FocusCriterion::Argmax).unwrap();
        let thr = summarize(
            a,
            &FG,
            &LABELS,
            &PREDS,
            FocusCriterion::Threshold { t: 0.45 },
        )
        .unwrap();
        assert_ne!(arg.counts, thr.counts);
        assert_eq!(arg.accuracy, thr.accuracy);
        assert_eq!(arg.entropy_bits, thr.entropy_bits);
        assert_eq!(arg.mean_alpha_at_true, thr.mean_alpha_at_true);
    }

    #[test]
    fn empty_set_is_an_error() {
        let a = AlphaRows::new(&[], 3).unwrap();
        assert_eq!(
            summarize(a, &[], &[], &[], FocusCriterion::Argmax).unwrap_err(),
            InterpError::Empty
        );
    }

    #[test]
    fn shape_errors_win_over_empty() {
        let a = AlphaRows::new(&[], 3).unwrap();
        assert_eq!(
            summarize(a, &[], &[0], &[], FocusCriterion::Argmax).unwrap_err(),
            InterpError::LengthMismatch {
                what: "labels",
                expected: 0,
                got: 1
            }
        );
    }
}
