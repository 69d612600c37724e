//! Sparsemax (Martins & Astudillo 2016; the paper's Sec. 7): the Euclidean projection of the scores
//! onto the probability simplex.

use burn::tensor::Tensor;

use super::{shift_by_row_max, threshold_with_gradient};

/// After the row maximum is shifted to 0 the threshold is `tau >= -1`, so every score `<= -1`
/// gets weight 0. Clamping at this floor therefore changes no weight, while it bounds the
/// magnitudes in the cumulative sums and turns masked `-inf` scores into finite ones.
const FLOOR: f64 = -2.0;

/// `sparsemax(z)` over the segments of `z` `[batch, m]` -> `[batch, m]`:
/// `alpha = [z - tau]_+` with `tau` such that the row sums to 1.
///
/// Forward: the exact sort-based threshold `tau = max_k (sum_{i<=k} z_(i) - 1) / k` (the maximum
/// is reached at the support size). Backward: `grad_z = mask * (g - mean_{support} g)`, the
/// closed-form Jacobian-vector product, obtained by giving `tau` the gradient `1/|support|` on
/// the support. A row entirely `-inf` becomes all-`FLOOR`, hence uniform.
pub(super) fn sparsemax(z: Tensor<2>) -> Tensor<2> {
    let z = shift_by_row_max(z).clamp_min(FLOOR);
    let z_fixed = z.clone().detach();

    let sorted = z_fixed.clone().sort_descending(1);
    let rank = sorted.ones_like().cumsum(1);
    let tau = (sorted.cumsum(1).sub_scalar(1.0) / rank).max_dim(1);

    let support = (z_fixed - tau.clone()).greater_elem(0.0).float();
    let weights = support.clone() / support.sum_dim(1);
    let tau = threshold_with_gradient(tau, z.clone(), weights);
    (z - tau).clamp_min(0.0)
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{assert_close, scores, values};
    use super::*;

    #[test]
    fn hand_computed_projections() {
        let alpha = values(sparsemax(scores(&[
            &[1.0, 0.0, -1.0],
            &[1.5, 1.4, 0.0],
            // Here 0 stays in the support: tau = (0.9 - 1) / 3 < 0.
            &[0.5, 0.4, 0.0],
        ])));
        let third = 1.0 / 30.0;
        assert_close(
            &alpha,
            &[
                1.0,
                0.0,
                0.0,
                0.55,
                0.45,
                0.0,
                0.5 + third,
                0.4 + third,
                third,
            ],
            1e-6,
        );
        // Outside the support the weight is exactly 0, not merely small.
        assert_eq!(alpha[1], 0.0);
        assert_eq!(alpha[5], 0.0);
    }

    #[test]
    fn ties_split_evenly() {
        let alpha = values(sparsemax(scores(&[&[2.0, 2.0, 0.0, 2.0]])));
        let third = 1.0 / 3.0;
        assert_close(&alpha, &[third, third, 0.0, third], 1e-6);
    }

    #[test]
    fn masked_and_huge_scores() {
        let inf = f32::NEG_INFINITY;
        let alpha = values(sparsemax(scores(&[&[inf, 0.3, 0.1], &[1e6, -1e6, 1e6]])));
        assert_close(&alpha, &[0.0, 0.6, 0.4, 0.5, 0.0, 0.5], 1e-6);
        assert_eq!(alpha[0], 0.0);
    }
}
