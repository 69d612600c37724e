//! `log alpha` and the attention entropy, computed the stable way for each map: the LVML
//! objective and the entropy regulariser (the paper's Sec. 7, 10) need them.

use burn::tensor::{Tensor, activation};

use super::{AttentionMap, scaled};

impl AttentionMap {
    /// `log alpha` `[batch, m]` from scores `[batch, m]` and the weights `alpha = self.apply(scores)`
    /// `[batch, m]`: `log_softmax` of the scaled scores for softmax (stable); otherwise the
    /// logarithm of alpha clamped at the smallest positive float, since sparse maps put exactly
    /// 0 on some segments (their terms then vanish from sums weighted by alpha).
    pub fn log_weights(&self, scores: Tensor<2>, alpha: Tensor<2>) -> Tensor<2> {
        match self {
            Self::Softmax { temperature } => {
                activation::log_softmax(scaled(scores, *temperature), 1)
            }
            _ => alpha.clamp_min(f32::MIN_POSITIVE as f64).log(),
        }
    }

    /// Mean attention entropy (natural log) over the batch `[1]`, the paper's regulariser
    /// (the paper's Sec. 7), from scores and weights `[batch, m]` as for [`Self::log_weights`].
    ///
    /// For softmax it is computed from `log_softmax` of the scores, which is stable; for the
    /// other maps from `alpha` with `0 log 0 = 0` (entries outside the support contribute
    /// nothing).
    pub fn mean_entropy(&self, scores: Tensor<2>, alpha: Tensor<2>) -> Tensor<1> {
        // Clamping only the logarithm keeps alpha * log alpha at exactly 0 where alpha is 0.
        let log_alpha = self.log_weights(scores, alpha.clone());
        (alpha * log_alpha).sum_dim(1).mean().neg()
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::TensorData;

    use super::super::test_util::device;
    use super::*;

    #[test]
    fn uniform_softmax_has_entropy_ln_m() {
        let device = device();
        let scores = Tensor::<2>::zeros([2, 4], &device);
        let alpha = activation::softmax(scores.clone(), 1);
        let h = AttentionMap::default()
            .mean_entropy(scores, alpha)
            .into_scalar::<f32>();
        assert!((h - 4f32.ln()).abs() < 1e-6, "{h}");
    }

    #[test]
    fn sparse_rows_count_zero_entries_as_nothing() {
        let device = device();
        let alpha = Tensor::<2>::from_data(
            TensorData::new(vec![0.5f32, 0.5, 0.0, 1.0, 0.0, 0.0], [2, 3]),
            &device,
        );
        let map = AttentionMap::Sparsemax { temperature: 1.0 };
        let h = map.mean_entropy(alpha.clone(), alpha).into_scalar::<f32>();
        // Row 1: ln 2; row 2: 0.
        assert!((h - 2f32.ln() / 2.0).abs() < 1e-6, "{h}");
    }
}
