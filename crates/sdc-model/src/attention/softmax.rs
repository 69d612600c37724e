//! Softmax, the paper's map (docs/paper-notes.md, Model), made safe for fully masked rows.

use burn::tensor::{Tensor, activation};

/// `softmax(z)` over the segments of `z` `[batch, m]` -> `[batch, m]`.
///
/// Burn's softmax already subtracts the (detached) row maximum, so large scores are safe and
/// `-inf` entries get `exp(-inf) = 0`. A row that is entirely `-inf` would give `-inf - -inf =
/// NaN`; such rows are set to 0 first, which makes them uniform.
///
/// On the CPU backends this is one operation with its backward pass (`kernels/attend.rs`,
/// which gives its order of roundings).
pub(super) fn softmax(z: Tensor<2>) -> Tensor<2> {
    if let Some(alpha) = crate::kernels::softmax(z.clone()) {
        return alpha;
    }
    let [batch, m] = z.dims();
    let all_masked = z
        .clone()
        .detach()
        .max_dim(1)
        .equal_elem(f64::NEG_INFINITY)
        .expand([batch, m]);
    activation::softmax(z.mask_fill(all_masked, 0.0), 1)
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{assert_close, scores, values};
    use super::*;

    #[test]
    fn matches_exp_over_sum() {
        let alpha = values(softmax(scores(&[&[0.0, 1.0, 2.0]])));
        let e = [1.0f32, 1.0f32.exp(), 2.0f32.exp()];
        let total: f32 = e.iter().sum();
        assert_close(&alpha, &e.map(|x| x / total), 1e-6);
    }

    #[test]
    fn huge_scores_do_not_overflow() {
        let alpha = values(softmax(scores(&[&[1e6, 1e6, -1e6]])));
        assert_close(&alpha, &[0.5, 0.5, 0.0], 1e-6);
    }
}
