//! One call that computes everything sdc reports about an evaluated set.

use crate::InterpError;
use crate::alpha::{AlphaRows, argmax_first, check_fg_index, check_len, percent};
use crate::attention::{
    SPARSITY_EPS, row_above, row_entropy_bits, row_simplex_distance, row_value,
};
use crate::rates::{FocusCriterion, FourRates, OutcomeCounts};
#[cfg(doc)]
use crate::{
    attention::{entropy_bits, share_max_at_least, simplex_distance, sparsity_value},
    rates::outcome_counts,
};

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
///
/// One pass over the rows (a training run evaluates two sets every epoch), each row's first
/// argmax found once. Every value is the one its own function computes ([`outcome_counts`],
/// [`share_max_at_least`], [`sparsity_value`], [`simplex_distance`], [`entropy_bits`]), bit for
/// bit: each mean sums the same per-row values in the same order.
pub fn summarize(
    alpha: AlphaRows<'_>,
    fg_index: &[u32],
    labels: &[u32],
    predictions: &[u32],
    criterion: FocusCriterion,
) -> Result<InterpSummary, InterpError> {
    // Validate shapes first so a length mismatch is reported as such, not as "empty"; in
    // `outcome_counts`'s order.
    criterion.validate()?;
    check_fg_index(alpha, fg_index)?;
    check_len("labels", alpha.n_samples(), labels.len())?;
    check_len("predictions", alpha.n_samples(), predictions.len())?;
    let n_samples = alpha.n_samples();
    if n_samples == 0 {
        return Err(InterpError::Empty);
    }
    let mut counts = OutcomeCounts::default();
    let mut peaked = 0usize;
    // Per row: weights above SPARSITY_EPS, distance to the vertex, entropy, alpha at J.
    let mut per_row: Vec<[f64; 4]> = Vec::with_capacity(n_samples);
    let cases = labels.iter().zip(predictions);
    for ((row, &j), (&label, &predicted)) in alpha.rows().zip(fg_index).zip(cases) {
        // fg_index was range-checked above, so indexing the row cannot panic.
        let j = j as usize;
        let k = argmax_first(row);
        let cell = match (criterion.holds_at(row, j, || k), predicted == label) {
            (true, true) => &mut counts.ftpt,
            (false, true) => &mut counts.ffpt,
            (true, false) => &mut counts.ftpf,
            (false, false) => &mut counts.ffpf,
        };
        *cell += 1;
        if row_value(row, k) >= 0.5 {
            peaked += 1;
        }
        per_row.push([
            row_above(row, SPARSITY_EPS),
            row_simplex_distance(row, k),
            row_entropy_bits(row),
            f64::from(row[j]),
        ]);
    }
    let mean = |i: usize| per_row.iter().map(|r| r[i]).sum::<f64>() / n_samples as f64;
    let rates = counts.rates();
    Ok(InterpSummary {
        n_samples,
        counts,
        rates,
        accuracy: rates.accuracy(),
        share_max_ge_half: percent(peaked, n_samples),
        sparsity_value: mean(0),
        simplex_distance: mean(1),
        entropy_bits: mean(2),
        mean_alpha_at_true: mean(3),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attention::{entropy_bits, simplex_distance};
    use proptest::prelude::*;

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

    /// The one-pass summary against each metric's own function, bit for bit (`to_bits`, so the
    /// sign of a zero and NaN count too), on rows with ties, zeros, negatives and NaN.
    fn assert_same_as_the_functions(
        values: &[f32],
        m: usize,
        fg: &[u32],
        labels: &[u32],
        preds: &[u32],
        criterion: FocusCriterion,
    ) {
        use crate::attention::{share_max_at_least, sparsity_value};
        use crate::rates::outcome_counts;
        let a = AlphaRows::new(values, m).unwrap();
        let s = summarize(a, fg, labels, preds, criterion).unwrap();
        assert_eq!(
            s.counts,
            outcome_counts(a, fg, labels, preds, criterion).unwrap()
        );
        let at_true = a
            .rows()
            .zip(fg)
            .map(|(row, &j)| f64::from(row[j as usize]))
            .sum::<f64>()
            / a.n_samples() as f64;
        let pairs = [
            (s.share_max_ge_half, share_max_at_least(a, 0.5)),
            (s.sparsity_value, sparsity_value(a, SPARSITY_EPS)),
            (s.simplex_distance, simplex_distance(a)),
            (s.entropy_bits, entropy_bits(a)),
            (s.mean_alpha_at_true, at_true),
        ];
        for (i, (fused, own)) in pairs.into_iter().enumerate() {
            assert_eq!(
                fused.to_bits(),
                own.to_bits(),
                "metric {i}: {fused} vs {own}"
            );
        }
    }

    proptest! {
        #[test]
        fn one_pass_equals_each_metric_bit_for_bit(
            (m, rows) in (1usize..6).prop_flat_map(|m| (
                proptest::strategy::Just(m),
                proptest::collection::vec(
                    (
                        proptest::collection::vec(
                            proptest::prop_oneof![
                                4 => 0.0f32..1.0,
                                1 => proptest::strategy::Just(0.0f32),
                                1 => proptest::strategy::Just(-0.0f32),
                                1 => proptest::strategy::Just(0.5f32),
                                1 => -1e-3f32..0.0,
                                1 => proptest::strategy::Just(f32::NAN),
                            ],
                            m,
                        ),
                        0..m as u32,
                        0u32..3,
                        0u32..3,
                    ),
                    1..40,
                ),
            )),
            t in 0.0f32..0.9,
        ) {
            let values: Vec<f32> = rows.iter().flat_map(|r| r.0.clone()).collect();
            let fg: Vec<u32> = rows.iter().map(|r| r.1).collect();
            let labels: Vec<u32> = rows.iter().map(|r| r.2).collect();
            let preds: Vec<u32> = rows.iter().map(|r| r.3).collect();
            for criterion in [FocusCriterion::Argmax, FocusCriterion::Threshold { t }] {
                assert_same_as_the_functions(&values, m, &fg, &labels, &preds, criterion);
            }
        }
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
