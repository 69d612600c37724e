//! Training objectives.

use burn::tensor::{Int, Tensor, activation};
use sdc_model::AttentionMap;

/// Mean cross-entropy of `logits` `[batch, classes]` against integer `labels` `[batch]`,
/// computed from log-softmax for stability.
pub fn cross_entropy(logits: Tensor<2>, labels: Tensor<1, Int>) -> Tensor<1> {
    let log_p = activation::log_softmax(logits, 1);
    log_p.gather(1, labels.unsqueeze_dim::<2>(1)).mean().neg()
}

/// Mean attention entropy (natural log) over the batch, the paper's regulariser (paper-spec 7).
///
/// For softmax it is computed from `log_softmax` of the scores, which is stable; for the other
/// maps from `alpha` with `0 log 0 = 0` (entries outside the support contribute nothing).
pub fn attention_entropy(map: &AttentionMap, scores: Tensor<2>, alpha: Tensor<2>) -> Tensor<1> {
    let log_alpha = match map {
        AttentionMap::Softmax { temperature } => {
            activation::log_softmax(scores.div_scalar(*temperature), 1)
        }
        // Clamping only the logarithm keeps alpha * log alpha at exactly 0 where alpha is 0.
        _ => alpha.clone().clamp_min(f32::MIN_POSITIVE as f64).log(),
    };
    (alpha * log_alpha).sum_dim(1).mean().neg()
}

/// The training objective: `(1 - k) CE + k mean H(alpha)` for entropy weight `k` (0: plain CE).
pub fn objective(
    map: &AttentionMap,
    entropy_weight: f64,
    logits: Tensor<2>,
    labels: Tensor<1, Int>,
    scores: Tensor<2>,
    alpha: Tensor<2>,
) -> Tensor<1> {
    let ce = cross_entropy(logits, labels);
    if entropy_weight == 0.0 {
        return ce;
    }
    ce.mul_scalar(1.0 - entropy_weight)
        + attention_entropy(map, scores, alpha).mul_scalar(entropy_weight)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    #[test]
    #[allow(deprecated)] // ndarray is the reference CPU backend
    fn matches_a_hand_computation() {
        let device = Device::ndarray();
        let logits = Tensor::<2>::from_data(
            TensorData::new(vec![0.0f32, 0.0, 2.0, 0.0], [2, 2]),
            &device,
        );
        let labels = Tensor::<1, Int>::from_data(TensorData::new(vec![0i64, 1], [2]), &device);
        let loss = cross_entropy(logits, labels).into_scalar::<f32>();
        // ln 2 for the uniform row, ln(1 + e^2) for the confident wrong row.
        let expected = (2f32.ln() + (1.0 + 2f32.exp()).ln()) / 2.0;
        assert!((loss - expected).abs() < 1e-6, "{loss} vs {expected}");
    }
}

#[cfg(test)]
mod entropy_tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    #[allow(deprecated)] // ndarray is the reference CPU backend
    fn device() -> Device {
        Device::ndarray()
    }

    #[test]
    fn uniform_softmax_has_entropy_ln_m() {
        let device = device();
        let scores = Tensor::<2>::zeros([2, 4], &device);
        let alpha = activation::softmax(scores.clone(), 1);
        let h = attention_entropy(&AttentionMap::default(), scores, alpha).into_scalar::<f32>();
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
        let h = attention_entropy(&map, alpha.clone(), alpha).into_scalar::<f32>();
        // Row 1: ln 2; row 2: 0.
        assert!((h - 2f32.ln() / 2.0).abs() < 1e-6, "{h}");
    }
}
