//! Training objectives.

use burn::tensor::{Int, Tensor, activation};

/// Mean cross-entropy of `logits` `[batch, classes]` against integer `labels` `[batch]`,
/// computed from log-softmax for stability.
pub fn cross_entropy(logits: Tensor<2>, labels: Tensor<1, Int>) -> Tensor<1> {
    let log_p = activation::log_softmax(logits, 1);
    log_p.gather(1, labels.unsqueeze_dim::<2>(1)).mean().neg()
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
