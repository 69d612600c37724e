//! The attention model: focus, attention map, weighted average, classification.

use std::path::Path;

use burn::module::Module;
use burn::tensor::{Device, Tensor};

use crate::attention::AttentionMap;
use crate::config::ModelConfig;
use crate::error::ModelError;
use crate::nets::{ClassifierNet, FocusNet};

/// What one forward pass returns.
#[derive(Clone, Debug)]
pub struct AttentionOutput {
    /// Class logits `[batch, classes]`.
    pub logits: Tensor<2>,
    /// Attention weights `[batch, m]`, each row on the simplex.
    pub alpha: Tensor<2>,
    /// Focus scores `[batch, m]` before the attention map.
    pub scores: Tensor<2>,
}

/// Focus network + attention map + averaging at layer `k` + classification network.
#[derive(Module, Debug)]
pub struct AttentionModel {
    /// The focus ("where") network `f`.
    pub focus: FocusNet,
    /// The classification ("what") network `g`.
    pub classifier: ClassifierNet,
    /// Averaging layer `k` (0: raw segments).
    #[module(skip)]
    pub averaging_layer: usize,
    /// The map from scores to weights.
    #[module(skip)]
    pub attention: AttentionMap,
}

impl AttentionModel {
    /// Builds the model; `config` must have been validated for these shapes.
    pub(crate) fn build(
        config: &ModelConfig,
        segment_shape: &[usize],
        averaged_shape: &[usize],
        n_classes: usize,
        seed: u64,
        device: &Device,
    ) -> Self {
        let focus = FocusNet::new(&config.focus, segment_shape, seed, device);
        let classifier =
            ClassifierNet::new(&config.classifier, averaged_shape, n_classes, seed, device);
        Self {
            focus,
            classifier,
            averaging_layer: config.averaging_layer,
            attention: config.attention.clone(),
        }
    }

    /// Scores `[batch, m]` and the per-segment vectors that are averaged, `[batch, m, width]`.
    /// Image segments come flattened (`d = c*h*w`); the networks reshape them.
    pub fn scores_and_features(&self, inputs: Tensor<3>) -> (Tensor<2>, Tensor<3>) {
        let [batch, m, d] = inputs.dims();
        // One pass of f over all batch x m segments instead of a loop over positions.
        let flat = inputs.clone().reshape([batch * m, d]);
        let (scores, features) = self.focus.forward_with_features(flat, self.averaging_layer);
        let scores = scores.reshape([batch, m]);
        let features = match features {
            None => inputs,
            Some(f) => {
                let [_, width] = f.dims();
                f.reshape([batch, m, width])
            }
        };
        (scores, features)
    }

    /// Forward pass on inputs `[batch, m, d]`.
    pub fn forward(&self, inputs: Tensor<3>) -> AttentionOutput {
        let (scores, features) = self.scores_and_features(inputs);
        let alpha = self.attention.apply(scores.clone());
        let averaged = weighted_average(alpha.clone(), features);
        let logits = self.classifier.forward(averaged);
        AttentionOutput {
            logits,
            alpha,
            scores,
        }
    }

    /// The parameters as the bytes of a burnpack file (what [`AttentionModel::save`] writes).
    pub fn to_bytes(&self) -> Result<Vec<u8>, ModelError> {
        let bytes =
            self.clone()
                .into_record()
                .into_bytes()
                .map_err(|e| ModelError::Checkpoint {
                    path: "(in memory)".into(),
                    message: e.to_string(),
                })?;
        Ok(bytes.to_vec())
    }

    /// Writes the parameters to `path` atomically (a temporary file renamed into place).
    pub fn save(&self, path: &Path) -> Result<(), ModelError> {
        let bytes = self.to_bytes()?;
        sdc_io::write_atomic(path, &bytes).map_err(|e| ModelError::Checkpoint {
            path: path.display().to_string(),
            message: e.to_string(),
        })
    }

    /// Loads parameters from the bytes of a burnpack file into this (freshly built) model;
    /// `source` names them in errors.
    pub fn load_bytes(self, bytes: Vec<u8>, source: &Path) -> Result<Self, ModelError> {
        let err = |message: String| ModelError::Checkpoint {
            path: source.display().to_string(),
            message,
        };
        let record =
            burn::store::ModuleRecord::from_bytes(burn::tensor::Bytes::from_bytes_vec(bytes))
                .map_err(|e| err(e.to_string()))?;
        self.try_load_record(record).map_err(|e| err(e.to_string()))
    }

    /// Loads parameters saved by [`AttentionModel::save`] into this (freshly built) model.
    pub fn load(self, path: &Path) -> Result<Self, ModelError> {
        let bytes = std::fs::read(path).map_err(|e| ModelError::Checkpoint {
            path: path.display().to_string(),
            message: if e.kind() == std::io::ErrorKind::NotFound {
                "no such file".into()
            } else {
                e.to_string()
            },
        })?;
        self.load_bytes(bytes, path)
    }
}

/// `sum_j alpha_j * features_j`: `[batch, m]` x `[batch, m, width]` -> `[batch, width]`.
pub fn weighted_average(alpha: Tensor<2>, features: Tensor<3>) -> Tensor<2> {
    let [batch, _, width] = features.dims();
    (features * alpha.unsqueeze_dim::<3>(2))
        .sum_dim(1)
        .reshape([batch, width])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::init::FocusInit;
    use burn::tensor::TensorData;

    #[allow(deprecated)] // ndarray is this crate's reference CPU backend
    fn device() -> Device {
        Device::ndarray()
    }

    fn inputs(batch: usize, m: usize, d: usize, device: &Device) -> Tensor<3> {
        let values: Vec<f32> = (0..batch * m * d)
            .map(|i| ((i * 37 % 23) as f32 - 11.0) / 7.0)
            .collect();
        Tensor::from_data(TensorData::new(values, [batch, m, d]), device)
    }

    #[test]
    fn shapes_follow_the_averaging_layer() {
        let device = device();
        for k in 0..=2 {
            let config = ModelConfig {
                averaging_layer: k,
                ..ModelConfig::default()
            };
            let model = config.init(5, 3, 0, &device).expect("valid");
            let out = model.forward(inputs(4, 9, 5, &device));
            assert_eq!(out.logits.dims(), [4, 3]);
            assert_eq!(out.alpha.dims(), [4, 9]);
            assert_eq!(out.scores.dims(), [4, 9]);
            let (_, features) = model.scores_and_features(inputs(4, 9, 5, &device));
            assert_eq!(features.dims()[2], [5, 6, 12][k]);
        }
    }

    #[test]
    fn alpha_rows_sum_to_one() {
        let device = device();
        let model = ModelConfig::default()
            .init(5, 3, 1, &device)
            .expect("valid");
        let alpha = model.forward(inputs(3, 7, 5, &device)).alpha;
        let sums = alpha.sum_dim(1).try_into_vec_as::<f32>().expect("f32");
        for s in sums {
            assert!((s - 1.0).abs() < 1e-5, "row sum {s}");
        }
    }

    #[test]
    fn functionally_zero_focus_gives_uniform_attention() {
        let device = device();
        let mut config = ModelConfig::default();
        config.focus.init = FocusInit::FunctionallyZero;
        config.focus.bias = false;
        let model = config.init(5, 3, 4, &device).expect("valid");
        let out = model.forward(inputs(2, 9, 5, &device));
        let scores = out.scores.try_into_vec_as::<f32>().expect("f32");
        assert!(scores.iter().all(|s| s.abs() < 1e-6), "{scores:?}");
        let alpha = out.alpha.try_into_vec_as::<f32>().expect("f32");
        assert!(alpha.iter().all(|a| (a - 1.0 / 9.0).abs() < 1e-6));
    }

    #[test]
    fn weighted_average_matches_a_hand_computation() {
        let device = device();
        let alpha = Tensor::<2>::from_data(TensorData::new(vec![0.25f32, 0.75], [1, 2]), &device);
        let features = Tensor::<3>::from_data(
            TensorData::new(vec![1.0f32, 2.0, 3.0, 6.0], [1, 2, 2]),
            &device,
        );
        let z = weighted_average(alpha, features)
            .try_into_vec_as::<f32>()
            .expect("f32");
        assert_eq!(z, vec![0.25 + 2.25, 0.5 + 4.5]);
    }

    #[test]
    fn layer_k_features_are_tanh_of_the_pre_activation() {
        let device = device();
        let config = ModelConfig {
            averaging_layer: 1,
            ..ModelConfig::default()
        };
        let model = config.init(5, 3, 2, &device).expect("valid");
        let x = inputs(1, 3, 5, &device);
        let (_, features) = model.scores_and_features(x.clone());
        let pre = model.focus.hidden[0].forward(x.reshape([3, 5]));
        let expected = pre.tanh().try_into_vec_as::<f32>().expect("f32");
        let got = features.try_into_vec_as::<f32>().expect("f32");
        for (g, e) in got.iter().zip(&expected) {
            assert!((g - e).abs() < 1e-6, "{got:?} != tanh {expected:?}");
        }
        assert!(
            got.iter().any(|&v| v < 0.0),
            "tanh, not ReLU, keeps negative values"
        );
    }

    #[test]
    fn same_seed_same_model() {
        let device = device();
        let a = ModelConfig::default()
            .init(5, 3, 9, &device)
            .expect("valid");
        let b = ModelConfig::default()
            .init(5, 3, 9, &device)
            .expect("valid");
        let c = ModelConfig::default()
            .init(5, 3, 10, &device)
            .expect("valid");
        let x = inputs(2, 9, 5, &device);
        let la = a
            .forward(x.clone())
            .logits
            .try_into_vec_as::<f32>()
            .expect("f32");
        let lb = b
            .forward(x.clone())
            .logits
            .try_into_vec_as::<f32>()
            .expect("f32");
        let lc = c.forward(x).logits.try_into_vec_as::<f32>().expect("f32");
        assert_eq!(la, lb);
        assert_ne!(la, lc);
    }

    #[test]
    fn save_then_load_is_identity() {
        let device = device();
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("model.bpk");
        let a = ModelConfig::default()
            .init(5, 3, 5, &device)
            .expect("valid");
        a.save(&path).expect("save");
        let b = ModelConfig::default()
            .init(5, 3, 6, &device)
            .expect("valid")
            .load(&path)
            .expect("load");
        let x = inputs(2, 9, 5, &device);
        let la = a
            .forward(x.clone())
            .logits
            .try_into_vec_as::<f32>()
            .expect("f32");
        let lb = b.forward(x).logits.try_into_vec_as::<f32>().expect("f32");
        assert_eq!(la, lb);
    }

    #[test]
    fn loading_a_missing_or_corrupt_checkpoint_is_an_error() {
        let device = device();
        let dir = tempfile::tempdir().expect("tempdir");
        let model = ModelConfig::default()
            .init(5, 3, 5, &device)
            .expect("valid");
        let missing = dir.path().join("nope.bpk");
        let err = model.clone().load(&missing).expect_err("missing");
        assert!(err.to_string().contains("nope.bpk"), "{err}");
        let corrupt = dir.path().join("bad.bpk");
        std::fs::write(&corrupt, b"not a checkpoint").expect("write");
        let err = model.load(&corrupt).expect_err("corrupt");
        assert!(err.to_string().contains("bad.bpk"), "{err}");
    }
}
