//! Shape of the attention distribution itself: peakedness, sparsity, distance to a vertex, entropy.
//!
//! All means are over samples and return 0.0 for zero samples. Arithmetic is in f64 so that
//! averaging many f32 rows does not add rounding of its own.

use crate::alpha::{AlphaRows, argmax_first, mean_over_rows, percent};

/// Weights at or below this count as "off" in [`sparsity_value`] (docs/paper-notes.md, Metrics).
pub const SPARSITY_EPS: f32 = 0.01;

/// Largest non-NaN weight of a row (NaN if the row is all NaN or empty).
fn row_max(row: &[f32]) -> f32 {
    row_value(row, argmax_first(row))
}

/// `row[k]`, or NaN past the row's end (the first argmax of an empty or all-NaN row is 0).
pub(crate) fn row_value(row: &[f32], k: usize) -> f32 {
    row.get(k).copied().unwrap_or(f32::NAN)
}

/// Percentage of rows whose largest weight is `>= t`; 0.0 for zero rows.
///
/// Inclusive `>=` so that a row split exactly 0.5/0.5 counts as peaked at t = 0.5 (docs/paper-notes.md, Metrics).
pub fn share_max_at_least(alpha: AlphaRows<'_>, t: f32) -> f64 {
    let hits = alpha.rows().filter(|row| row_max(row) >= t).count();
    percent(hits, alpha.n_samples())
}

/// Mean number of weights per row strictly greater than `eps`; 0.0 for zero rows.
pub fn sparsity_value(alpha: AlphaRows<'_>, eps: f32) -> f64 {
    mean_over_rows(alpha, |row| row_above(row, eps))
}

/// Weights of one row strictly greater than `eps`, as an `f64`.
pub(crate) fn row_above(row: &[f32], eps: f32) -> f64 {
    row.iter().filter(|&&a| a > eps).count() as f64
}

/// Mean Euclidean distance from each row to the one-hot at its first argmax; 0.0 for zero rows.
///
/// On the simplex this is the distance to the nearest vertex: 0 for one-hot, up to sqrt(2).
pub fn simplex_distance(alpha: AlphaRows<'_>) -> f64 {
    mean_over_rows(alpha, |row| row_simplex_distance(row, argmax_first(row)))
}

/// Euclidean distance from one row to the one-hot at `k` (its first argmax).
pub(crate) fn row_simplex_distance(row: &[f32], k: usize) -> f64 {
    row.iter()
        .enumerate()
        .map(|(j, &a)| {
            let target = if j == k { 1.0 } else { 0.0 };
            let d = f64::from(a) - target;
            d * d
        })
        .sum::<f64>()
        .sqrt()
}

/// Mean Shannon entropy of the rows in bits; 0.0 for zero rows.
///
/// Weights `<= 0` (and NaN) contribute 0, extending `0 · log 0 = 0` to the tiny negative values
/// a softmax-free model can emit.
pub fn entropy_bits(alpha: AlphaRows<'_>) -> f64 {
    mean_over_rows(alpha, row_entropy_bits)
}

/// Shannon entropy of one row in bits (weights `<= 0` and NaN contribute 0).
pub(crate) fn row_entropy_bits(row: &[f32]) -> f64 {
    row.iter()
        .map(|&a| f64::from(a))
        .filter(|&a| a > 0.0)
        .map(|a| -a * a.log2())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rows(values: &[f32], m: usize) -> AlphaRows<'_> {
        AlphaRows::new(values, m).unwrap()
    }

    #[test]
    fn share_max_is_inclusive() {
        // Maxima 0.5, 0.49, 0.9, 0.5 (tie): three of four are >= 0.5.
        let v = [
            0.5, 0.3, 0.2, //
            0.49, 0.3, 0.21, //
            0.05, 0.05, 0.9, //
            0.5, 0.5, 0.0,
        ];
        assert_eq!(share_max_at_least(rows(&v, 3), 0.5), 75.0);
        assert_eq!(share_max_at_least(rows(&v, 3), 0.95), 0.0);
    }

    #[test]
    fn share_max_ignores_nan() {
        let v = [f32::NAN, 0.6, 0.4, f32::NAN];
        assert_eq!(share_max_at_least(rows(&v, 2), 0.5), 50.0);
    }

    #[test]
    fn sparsity_counts_strictly_above_eps() {
        // Row 0: 0.98 only (0.01 is not > 0.01); row 1: all three.
        let v = [0.98, 0.01, 0.01, 0.2, 0.3, 0.5];
        assert_eq!(sparsity_value(rows(&v, 3), SPARSITY_EPS), 2.0);
        assert_eq!(sparsity_value(rows(&v, 3), 0.25), 1.5);
        assert_eq!(sparsity_value(rows(&v, 3), 0.0), 3.0);
    }

    #[test]
    fn simplex_distance_hand_values() {
        assert!((simplex_distance(rows(&[0.5, 0.5], 2)) - 0.5f64.sqrt()).abs() < 1e-12);
        assert_eq!(simplex_distance(rows(&[0.0, 1.0, 0.0], 3)), 0.0);
        // Mean of sqrt(0.5) and 0 over two rows.
        let v = [0.5, 0.5, 1.0, 0.0];
        assert!((simplex_distance(rows(&v, 2)) - 0.5f64.sqrt() / 2.0).abs() < 1e-12);
        // [0.2, 0.3, 0.5]: vertex 2, distance sqrt(0.04 + 0.09 + 0.25).
        let d = simplex_distance(rows(&[0.2, 0.3, 0.5], 3));
        assert!((d - 0.38f64.sqrt()).abs() < 1e-7);
    }

    #[test]
    fn entropy_hand_values() {
        let uniform9 = [1.0 / 9.0; 9];
        let h = entropy_bits(rows(&uniform9, 9));
        assert!((h - 9f64.log2()).abs() < 1e-6, "{h}");
        assert!((h - 3.169_925).abs() < 1e-6);
        assert_eq!(entropy_bits(rows(&[0.0, 1.0, 0.0], 3)), 0.0);
        // Mean of 1 bit and 0 bits.
        assert_eq!(entropy_bits(rows(&[0.5, 0.5, 1.0, 0.0], 2)), 0.5);
    }

    #[test]
    fn entropy_ignores_nonpositive_and_nan() {
        let v = [1.0, -1e-9, f32::NAN];
        assert_eq!(entropy_bits(rows(&v, 3)), 0.0);
    }

    #[test]
    fn empty_means_are_zero() {
        let a = rows(&[], 5);
        assert_eq!(share_max_at_least(a, 0.5), 0.0);
        assert_eq!(sparsity_value(a, SPARSITY_EPS), 0.0);
        assert_eq!(simplex_distance(a), 0.0);
        assert_eq!(entropy_bits(a), 0.0);
    }

    /// Rows on the simplex (some entries exactly zero), flattened, with their width.
    fn simplex_rows() -> impl Strategy<Value = (usize, Vec<f32>)> {
        (1usize..12, 1usize..20).prop_flat_map(|(m, n)| {
            let weight = prop_oneof![1 => Just(0.0f32), 3 => 0.0f32..1.0];
            (
                Just(m),
                proptest::collection::vec(proptest::collection::vec(weight, m), n).prop_map(
                    move |raw| {
                        raw.into_iter()
                            .flat_map(|mut row| {
                                let s: f32 = row.iter().sum();
                                if s > 0.0 {
                                    row.iter_mut().for_each(|a| *a /= s);
                                } else {
                                    row[0] = 1.0;
                                }
                                row
                            })
                            .collect::<Vec<f32>>()
                    },
                ),
            )
        })
    }

    proptest! {
        #[test]
        fn entropy_within_bounds((m, v) in simplex_rows()) {
            let h = entropy_bits(rows(&v, m));
            prop_assert!(h >= 0.0);
            prop_assert!(h <= (m as f64).log2() + 1e-5, "h = {h}, m = {m}");
        }

        #[test]
        fn simplex_distance_within_bounds((m, v) in simplex_rows()) {
            let d = simplex_distance(rows(&v, m));
            prop_assert!(d >= 0.0);
            prop_assert!(d <= 2f64.sqrt() + 1e-6, "d = {d}");
        }

        #[test]
        fn sparsity_within_bounds((m, v) in simplex_rows()) {
            let s = sparsity_value(rows(&v, m), SPARSITY_EPS);
            prop_assert!((1.0..=m as f64).contains(&s), "s = {s}");
        }

        #[test]
        fn share_max_half_within_bounds((m, v) in simplex_rows()) {
            let s = share_max_at_least(rows(&v, m), 0.5);
            prop_assert!((0.0..=100.0).contains(&s));
        }
    }
}
