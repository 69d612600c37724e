//! 1.5-entmax (Peters, Niculae & Martins 2019): between softmax and sparsemax, still sparse.
//! Not in the paper (the paper's Sec. 7 lists it as absent); an extension.

use burn::tensor::Tensor;

use super::{shift_by_row_max, threshold_with_gradient};

/// In halved units `y = z / 2`, after the row maximum is shifted to 0, the threshold is
/// `tau >= -1`, so every `y <= -1` gets weight 0. Clamping `y` at this floor changes no weight,
/// bounds the cumulative sums of squares and turns masked `-inf` scores into finite ones.
const FLOOR: f64 = -2.0;

/// Keeps a division finite; the sums it guards are `>= 1/sqrt(m)` in exact arithmetic.
const TINY: f64 = 1e-30;

/// `1.5-entmax(z)` over the segments of `z` `[batch, m]` -> `[batch, m]`:
/// `p = [z/2 - tau]_+^2` with `tau` such that the row sums to 1.
///
/// Forward: the exact sort-based threshold (Peters et al. 2019, alg. 2). Backward, with
/// `r = sqrt(p)`: `grad_z = g*r - r * sum(g*r) / sum(r)`, obtained by giving `tau` the gradient
/// `r / sum(r)` w.r.t. `y = z/2` (the `1/2` of `y` and the `2` of the square cancel). A row entirely
/// `-inf` becomes all-`FLOOR`, hence uniform.
pub(super) fn entmax15(z: Tensor<2>) -> Tensor<2> {
    let [_, m] = z.dims();
    let y = shift_by_row_max(z).div_scalar(2.0).clamp_min(FLOOR);
    let y_fixed = y.clone().detach();

    // For each candidate support size k (the k largest y), the tau solving
    // sum_{i<=k} (y_(i) - tau)^2 = 1; the support is the k's whose tau lies below y_(k).
    let sorted = y_fixed.clone().sort_descending(1);
    let rank = sorted.ones_like().cumsum(1);
    let mean = sorted.clone().cumsum(1) / rank.clone();
    let mean_sq = sorted.clone().square().cumsum(1) / rank.clone();
    let spread = rank.clone() * (mean_sq - mean.clone().square());
    let delta = spread.neg().add_scalar(1.0) / rank;
    let candidates = mean - delta.clamp_min(0.0).sqrt();
    let support_size = candidates.clone().lower_equal(sorted).int().sum_dim(1);
    // k = 1 always qualifies (tau = y_(1) - 1), so the index is >= 0; the clamp only guards it.
    let index = support_size.sub_scalar(1).clamp(0, m as i64 - 1);
    let tau = candidates.gather(1, index);

    let root = (y_fixed - tau.clone()).clamp_min(0.0);
    let weights = root.clone() / root.sum_dim(1).clamp_min(TINY);
    let tau = threshold_with_gradient(tau, y.clone(), weights);
    (y - tau).clamp_min(0.0).square()
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{assert_close, scores, values};
    use super::*;

    #[test]
    fn two_segments_closed_form() {
        // y = [0, -0.5]: both in the support, tau = mean - sqrt((1 - spread) / 2).
        let tau = -0.25 - (0.4375f32).sqrt();
        let alpha = values(entmax15(scores(&[&[1.0, 0.0]])));
        assert_close(&alpha, &[tau * tau, (0.5 + tau) * (0.5 + tau)], 1e-6);
    }

    #[test]
    fn well_separated_scores_give_exact_zeros() {
        let alpha = values(entmax15(scores(&[&[3.0, 0.0, -1.0], &[0.0, 0.0, 0.0]])));
        assert_eq!(&alpha[..3], &[1.0, 0.0, 0.0]);
        let third = 1.0 / 3.0;
        assert_close(&alpha[3..], &[third; 3], 1e-6);
    }

    #[test]
    fn masked_and_huge_scores() {
        let inf = f32::NEG_INFINITY;
        let alpha = values(entmax15(scores(&[&[inf, 1.0, 0.0], &[1e6, -1e6, 1e6]])));
        let tau = -0.25 - (0.4375f32).sqrt();
        assert_close(
            &alpha,
            &[0.0, tau * tau, (0.5 + tau) * (0.5 + tau), 0.5, 0.0, 0.5],
            1e-6,
        );
        assert_eq!(alpha[0], 0.0);
    }
}
