//! Spherical softmax, `alpha_j = s_j^2 / sum_i s_i^2` (the paper's Sec. 7, "taken from
//! anirbanl/sparsegen", with no epsilon).

use burn::tensor::Tensor;

/// `alpha_j = s_j^2 / sum_i s_i^2` over the segments of `s` `[batch, m]` -> `[batch, m]`.
///
/// The paper's version divides by zero on an all-zero row; here such a row gets uniform weights
/// over its unmasked segments and gradient 0 (the map has no limit at 0, so no gradient is right;
/// 0 is the safe one). Scores are first divided by the row's largest `|s|` (detached): the ratio
/// is scale-invariant, so values and gradients are unchanged, but `s^2` can no longer overflow
/// and the denominator is `>= 1`. Masked `-inf` scores count as 0, hence weight 0; an all-`-inf`
/// row is uniform over all `m` segments.
pub(super) fn spherical(s: Tensor<2>) -> Tensor<2> {
    let [batch, m] = s.dims();
    let masked = s.clone().equal_elem(f64::NEG_INFINITY);
    let s = s.mask_fill(masked.clone(), 0.0);

    let scale = s.clone().detach().abs().max_dim(1);
    let zero_row = scale.clone().equal_elem(0.0);
    let scale = scale.mask_fill(zero_row.clone(), 1.0);
    let squares = (s / scale).square();
    let total = squares.clone().sum_dim(1).mask_fill(zero_row.clone(), 1.0);
    let ratio = squares / total;

    // The fallback for all-zero rows: uniform over the unmasked segments, or over all of them.
    let open = masked.bool_not().float();
    let n_open = open.clone().sum_dim(1);
    let all_masked = n_open.clone().equal_elem(0.0).expand([batch, m]);
    let uniform = (open / n_open.clamp_min(1.0)).mask_fill(all_masked, 1.0 / m as f64);
    ratio.mask_where(zero_row.expand([batch, m]), uniform)
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{assert_close, scores, values};
    use super::*;

    #[test]
    fn hand_computed_rows() {
        let third = 1.0 / 3.0;
        let alpha = values(spherical(scores(&[
            &[1.0, 2.0, 0.0],
            &[0.0, 0.0, 0.0],
            &[-3.0, 4.0, 0.0],
        ])));
        assert_close(
            &alpha,
            &[0.2, 0.8, 0.0, third, third, third, 0.36, 0.64, 0.0],
            1e-6,
        );
    }

    #[test]
    fn zero_row_is_uniform_over_unmasked_segments() {
        let inf = f32::NEG_INFINITY;
        let alpha = values(spherical(scores(&[&[0.0, inf, 0.0], &[inf, inf, inf]])));
        let third = 1.0 / 3.0;
        assert_close(&alpha, &[0.5, 0.0, 0.5, third, third, third], 1e-6);
        assert_eq!(alpha[1], 0.0);
    }

    #[test]
    fn huge_and_tiny_scores_stay_finite() {
        let alpha = values(spherical(scores(&[&[1e30, 2e30], &[1e-30, 2e-30]])));
        assert_close(&alpha, &[0.2, 0.8, 0.2, 0.8], 1e-6);
    }
}
