//! Two-sample comparisons of run outcomes: is one implementation's distribution over seeds
//! distinguishable from another's?
//!
//! - [`mann_whitney`]: the Mann-Whitney U statistic with a permutation p-value. Run outcomes are
//!   bounded and tied (many seeds at FTPT 100), so the p-value comes from permuting the group
//!   labels ([`PERMUTATIONS`] draws from a fixed generator, so a report is byte-stable) rather
//!   than from the normal approximation. `U / (n1 n2)` is also the *probability of improvement*
//!   of Agarwal et al. (NeurIPS 2021): P(X > Y) + P(X = Y) / 2 for one run of each.
//! - [`fisher_exact`]: Fisher's exact test on a 2x2 table of counts (e.g. runs that reach the
//!   accurate solution), two-sided, through statrs' hypergeometric distribution.
//! - [`holm`]: Holm's step-down adjustment of a family of p-values, so a table of many grid
//!   points does not flag differences by chance.

use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use statrs::distribution::{Discrete, Hypergeometric};

/// Label permutations per Mann-Whitney p-value.
pub const PERMUTATIONS: usize = 20_000;
/// Seed of the permutation generator (fixed: p-values are a function of the data only).
pub const PERMUTATION_SEED: u64 = 2022;

/// A Mann-Whitney comparison of two samples `x` and `y`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct MannWhitney {
    /// `U` of `x`: pairs with `x > y`, plus half the ties.
    pub u: f64,
    /// `U / (n_x n_y)`: the probability that a run of `x` beats a run of `y` (ties count half).
    pub prob_x_greater: f64,
    /// Two-sided permutation p-value, `(hits + 1) / (PERMUTATIONS + 1)`; 1 when every value
    /// is equal.
    pub p_value: f64,
}

/// `U` of the first `n_x` entries of `pooled` given the midranks of `pooled`.
fn u_of(ranks: &[f64], labels: &[bool], n_x: usize) -> f64 {
    let rank_sum: f64 = ranks
        .iter()
        .zip(labels)
        .filter(|(_, is_x)| **is_x)
        .map(|(r, _)| r)
        .sum();
    rank_sum - (n_x * (n_x + 1)) as f64 / 2.0
}

/// Midranks (1-based; tied values share the mean of their ranks).
fn midranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && values[order[j + 1]] == values[order[i]] {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            ranks[k] = rank;
        }
        i = j + 1;
    }
    ranks
}

/// The Mann-Whitney comparison of `x` and `y`; `None` when either is empty or holds a
/// non-finite value.
pub fn mann_whitney(x: &[f64], y: &[f64]) -> Option<MannWhitney> {
    if x.is_empty() || y.is_empty() || x.iter().chain(y).any(|v| !v.is_finite()) {
        return None;
    }
    let (n_x, n_y) = (x.len(), y.len());
    let pooled: Vec<f64> = x.iter().chain(y).copied().collect();
    let ranks = midranks(&pooled);
    let mut labels: Vec<bool> = (0..n_x + n_y).map(|i| i < n_x).collect();
    let u = u_of(&ranks, &labels, n_x);
    let centre = (n_x * n_y) as f64 / 2.0;
    let observed = (u - centre).abs();
    let p_value = if ranks.iter().all(|&r| r == ranks[0]) {
        1.0
    } else {
        let mut rng = ChaCha8Rng::seed_from_u64(PERMUTATION_SEED);
        // A relative tolerance, so a permutation with the same |U - centre| counts as a hit
        // whatever the rounding of the rank sums.
        let tolerance = 1e-9 * (n_x * n_y) as f64;
        let hits = (0..PERMUTATIONS)
            .filter(|_| {
                labels.shuffle(&mut rng);
                (u_of(&ranks, &labels, n_x) - centre).abs() >= observed - tolerance
            })
            .count();
        (hits + 1) as f64 / (PERMUTATIONS + 1) as f64
    };
    Some(MannWhitney {
        u,
        prob_x_greater: u / (n_x * n_y) as f64,
        p_value,
    })
}

/// Two-sided Fisher exact p-value of the table `[[a, b], [c, d]]` (rows: groups; columns:
/// success, failure): the probability, with the margins fixed, of a table at most as likely as
/// the observed one. `None` for an empty table.
pub fn fisher_exact(a: u64, b: u64, c: u64, d: u64) -> Option<f64> {
    let total = a + b + c + d;
    let (row1, successes) = (a + b, a + c);
    if total == 0 {
        return None;
    }
    let dist = Hypergeometric::new(total, successes, row1).ok()?;
    let observed = dist.pmf(a);
    let low = row1.saturating_sub(total - successes);
    let high = row1.min(successes);
    // The usual relative tolerance for tables as likely as the observed one.
    let p: f64 = (low..=high)
        .map(|k| dist.pmf(k))
        .filter(|&p| p <= observed * (1.0 + 1e-7))
        .sum();
    Some(p.min(1.0))
}

/// Holm's step-down adjustment of `p_values` (same order back; each adjusted value is at least
/// its raw value and at most 1).
pub fn holm(p_values: &[f64]) -> Vec<f64> {
    let m = p_values.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p_values[a].total_cmp(&p_values[b]));
    let mut adjusted = vec![0.0; m];
    let mut running: f64 = 0.0;
    for (rank, &i) in order.iter().enumerate() {
        running = running.max(((m - rank) as f64 * p_values[i]).min(1.0));
        adjusted[i] = running;
    }
    adjusted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn u_counts_pairs_with_ties_as_halves() {
        // x = [1, 2, 3], y = [2, 4]: pairs x > y: (3,2) = 1; ties: (2,2) = 0.5.
        let mw = mann_whitney(&[1.0, 2.0, 3.0], &[2.0, 4.0]).expect("non-empty");
        assert_eq!(mw.u, 1.5);
        assert_eq!(mw.prob_x_greater, 0.25);
    }

    #[test]
    fn separated_samples_are_significant_and_equal_ones_are_not() {
        let x: Vec<f64> = (0..10).map(|i| 90.0 + i as f64).collect();
        let y: Vec<f64> = (0..10).map(|i| 60.0 + i as f64).collect();
        let mw = mann_whitney(&x, &y).expect("non-empty");
        assert_eq!(mw.prob_x_greater, 1.0);
        // The exact two-sided p for complete separation of 10 vs 10 is 2 / C(20, 10) = 1.1e-5;
        // a permutation estimate sits at its floor 1 / 20001.
        assert!(mw.p_value < 1e-3, "{mw:?}");
        let same = mann_whitney(&[100.0; 8], &[100.0; 12]).expect("non-empty");
        assert_eq!((same.prob_x_greater, same.p_value), (0.5, 1.0));
    }

    #[test]
    fn permutation_p_matches_the_exact_distribution_for_small_samples() {
        // x = [1, 2, 4], y = [3, 5, 6]: U_x = 1. Of the C(6, 3) = 20 splits, |U - 4.5| >= 3.5
        // holds for U in {0, 1, 8, 9}: 1 + 1 + 1 + 1 = 4 splits, exact p = 0.2.
        let mw = mann_whitney(&[1.0, 2.0, 4.0], &[3.0, 5.0, 6.0]).expect("non-empty");
        assert_eq!(mw.u, 1.0);
        assert!((mw.p_value - 0.2).abs() < 0.01, "{mw:?}");
    }

    #[test]
    fn bimodal_samples_with_the_same_shares_are_not_distinguished() {
        let x = [
            100.0, 100.0, 100.0, 75.0, 100.0, 100.0, 80.0, 100.0, 100.0, 100.0,
        ];
        let y = [
            100.0, 78.0, 100.0, 100.0, 100.0, 100.0, 100.0, 70.0, 100.0, 100.0,
        ];
        let mw = mann_whitney(&x, &y).expect("non-empty");
        assert!(mw.p_value > 0.5, "{mw:?}");
    }

    #[test]
    fn empty_or_non_finite_samples_are_refused() {
        assert!(mann_whitney(&[], &[1.0]).is_none());
        assert!(mann_whitney(&[f64::NAN], &[1.0]).is_none());
    }

    #[test]
    fn fisher_matches_known_tables() {
        // The tea-tasting table [[3, 1], [1, 3]]: two-sided p = 34/70 = 0.4857.
        let p = fisher_exact(3, 1, 1, 3).expect("non-empty");
        assert!((p - 34.0 / 70.0).abs() < 1e-9, "{p}");
        // [[8, 32], [19, 21]] (8 of 40 vs 19 of 40): two-sided p = 0.017240 (summing the
        // hypergeometric terms at most as likely as the observed one, as R's fisher.test does).
        let p = fisher_exact(8, 32, 19, 21).expect("non-empty");
        assert!((p - 0.017_240_055).abs() < 1e-8, "{p}");
        let p = fisher_exact(8, 32, 14, 26).expect("non-empty");
        assert!((p - 0.210_129_306).abs() < 1e-8, "{p}");
        // Identical groups: p = 1.
        let p = fisher_exact(5, 5, 5, 5).expect("non-empty");
        assert!((p - 1.0).abs() < 1e-9, "{p}");
        assert!(fisher_exact(0, 0, 0, 0).is_none());
    }

    #[test]
    fn holm_scales_by_rank_and_stays_monotone() {
        let adjusted = holm(&[0.01, 0.04, 0.03, 0.5]);
        assert_eq!(adjusted, vec![0.04, 0.09, 0.09, 0.5]);
        assert_eq!(holm(&[0.6, 0.9]), vec![1.0, 1.0]);
    }
}
