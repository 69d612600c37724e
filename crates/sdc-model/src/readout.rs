//! Readouts of the classification network other than the soft average: per-segment logits
//! `g(phi(X_j))`, which hard attention and the latent-variable objective need (the follow-up paper, ECAI 2023).

use burn::tensor::Tensor;

use crate::model::{AttentionModel, weighted_average};

impl AttentionModel {
    /// Class logits of every segment on its own, `g(phi(X_j))`: features `[batch, m, width]`
    /// -> logits `[batch, m, classes]`, in one classifier pass over all `batch * m` segments.
    pub fn segment_logits(&self, features: Tensor<3>) -> Tensor<3> {
        let [batch, m, width] = features.dims();
        let logits = self
            .classifier
            .forward(features.reshape([batch * m, width]));
        let [_, n_classes] = logits.dims();
        logits.reshape([batch, m, n_classes])
    }

    /// Class logits of the soft average, `g(sum_j alpha_j phi(X_j))`: alpha `[batch, m]` and
    /// features `[batch, m, width]` -> logits `[batch, classes]` (what [`AttentionModel::forward`]
    /// computes, for callers that already hold the features).
    pub fn averaged_logits(&self, alpha: Tensor<2>, features: Tensor<3>) -> Tensor<2> {
        self.classifier.forward(weighted_average(alpha, features))
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, Tensor, TensorData};

    use crate::model::ModelConfig;

    #[allow(deprecated)] // ndarray is this crate's reference CPU backend
    fn device() -> Device {
        Device::ndarray()
    }

    fn inputs(batch: usize, m: usize, d: usize, device: &Device) -> Tensor<3> {
        let values: Vec<f32> = (0..batch * m * d)
            .map(|i| ((i * 29 % 17) as f32 - 8.0) / 5.0)
            .collect();
        Tensor::from_data(TensorData::new(values, [batch, m, d]), device)
    }

    #[test]
    fn segment_logits_are_the_classifier_on_each_segment() {
        let device = device();
        for k in 0..=2 {
            let config = ModelConfig {
                averaging_layer: k,
                ..ModelConfig::default()
            };
            let model = config.init(5, 3, 7, &device).expect("valid");
            let (_, features) = model.scores_and_features(inputs(2, 4, 5, &device));
            let width = features.dims()[2];
            let batched = model.segment_logits(features.clone());
            assert_eq!(batched.dims(), [2, 4, 3]);
            let batched = batched.try_into_vec_as::<f32>().expect("f32");
            // Segment by segment, the classifier alone.
            for b in 0..2 {
                for j in 0..4 {
                    let one = features
                        .clone()
                        .slice([b..b + 1, j..j + 1, 0..width])
                        .reshape([1, width]);
                    let expected = model
                        .classifier
                        .forward(one)
                        .try_into_vec_as::<f32>()
                        .expect("f32");
                    let at = (b * 4 + j) * 3;
                    for (got, want) in batched[at..at + 3].iter().zip(&expected) {
                        assert!((got - want).abs() < 1e-5, "k={k} b={b} j={j}");
                    }
                }
            }
        }
    }

    #[test]
    fn averaged_logits_match_the_forward_pass() {
        let device = device();
        let model = ModelConfig {
            averaging_layer: 1,
            ..ModelConfig::default()
        }
        .init(5, 3, 3, &device)
        .expect("valid");
        let x = inputs(3, 9, 5, &device);
        let out = model.forward(x.clone());
        let (_, features) = model.scores_and_features(x);
        let got = model
            .averaged_logits(out.alpha, features)
            .try_into_vec_as::<f32>()
            .expect("f32");
        let want = out.logits.try_into_vec_as::<f32>().expect("f32");
        assert_eq!(got, want);
    }
}
