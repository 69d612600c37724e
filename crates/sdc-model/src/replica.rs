//! Replica-batched models: `R` attention models of one configuration (one per seed) held as one
//! model whose every weight has a leading replica axis, so a sweep trains `R` seeds in one pass.
//!
//! The networks are [`crate::nets`]'s feature-major MLPs (`focus_mlp`, `classifier_mlp`) on `R`
//! models at once, which a single model runs as a stack of one; their dense layers give each
//! model the same bits whatever stands beside it (`kernels/dense.rs`), so every replica's
//! arithmetic is the single model's. Nothing here mixes replicas: the attention map and the
//! weighted average run on `[R * batch, m]` rows, each row on its own.
//!
//! Only MLP focus and classification networks are batched (no convolutions); any averaging
//! layer and any attention map works, since maps are row-wise.

use burn::nn::Linear;
use burn::tensor::Tensor;

use crate::attention::AttentionMap;
use crate::error::ModelError;
use crate::kernels::{swap_last, weighted_average_features};
use crate::model::{AttentionModel, ModelConfig};
use crate::nets::{StackedDense, classifier_mlp, focus_mlp};

/// One dense layer of `R` replicas: weight `[R, in, out]`, bias `[R, 1, out]`.
#[derive(Clone, Debug)]
pub struct ReplicaDense {
    /// Weights `[R, in, out]`.
    pub weight: Tensor<3>,
    /// Biases `[R, 1, out]`.
    pub bias: Option<Tensor<3>>,
}

impl ReplicaDense {
    fn stack(layers: &[&Linear]) -> Self {
        let weight = Tensor::stack::<3>(layers.iter().map(|l| l.weight.val()).collect(), 0);
        let bias = layers
            .iter()
            .map(|l| l.bias.as_ref().map(|b| b.val().unsqueeze_dim::<2>(0)))
            .collect::<Option<Vec<_>>>()
            .map(|biases| Tensor::stack::<3>(biases, 0));
        Self { weight, bias }
    }

    /// The weights and bias as [`crate::nets`]'s feature-major layers take them.
    fn stacked(&self) -> StackedDense {
        (self.weight.clone(), self.bias.clone())
    }

    fn write_into(&self, r: usize, layer: &mut Linear) {
        let [_, d_in, d_out] = self.weight.dims();
        let weight = self.weight.clone().narrow(0, r, 1).reshape([d_in, d_out]);
        layer.weight = layer.weight.clone().map(|_| weight);
        if let (Some(bias), Some(param)) = (&self.bias, layer.bias.take()) {
            let b = bias.clone().narrow(0, r, 1).reshape([d_out]);
            layer.bias = Some(param.map(|_| b));
        }
    }

    fn tensors(&self) -> impl Iterator<Item = Tensor<3>> + '_ {
        std::iter::once(self.weight.clone()).chain(self.bias.clone())
    }

    fn replace(&mut self, next: &mut impl Iterator<Item = Tensor<3>>) {
        self.weight = next.next().expect("one tensor per weight");
        if self.bias.is_some() {
            self.bias = Some(next.next().expect("one tensor per bias"));
        }
    }
}

/// What one forward pass of `R` replicas returns.
#[derive(Clone, Debug)]
pub struct ReplicaOutput {
    /// Focus scores `[R, batch, m]`.
    pub scores: Tensor<3>,
    /// Attention weights `[R, batch, m]`.
    pub alpha: Tensor<3>,
    /// Logits of the soft average `[R, batch, classes]`.
    pub logits: Tensor<3>,
}

/// `R` attention models of one MLP configuration, weights stacked on a leading replica axis.
#[derive(Clone, Debug)]
pub struct ReplicaModel {
    /// Focus hidden layers.
    pub focus_hidden: Vec<ReplicaDense>,
    /// Focus output layer (one score).
    pub focus_output: ReplicaDense,
    /// Classifier hidden layers.
    pub classifier_hidden: Vec<ReplicaDense>,
    /// Classifier output layer (class logits).
    pub classifier_output: ReplicaDense,
    /// Averaging layer `k`.
    pub averaging_layer: usize,
    /// The attention map.
    pub attention: AttentionMap,
}

impl ReplicaModel {
    /// Why `config` cannot be replica-batched, or `None` when it can (MLP networks only).
    pub fn unsupported(config: &ModelConfig) -> Option<String> {
        (!config.focus.conv.is_empty() || !config.classifier.conv.is_empty())
            .then(|| "convolutional networks are not replica-batched".to_string())
    }

    /// Stacks `models` (built from one configuration, one per seed) into one replica model.
    pub fn stack(models: &[AttentionModel]) -> Result<Self, ModelError> {
        let first = models.first().ok_or_else(|| ModelError::Invalid {
            field: "replicas",
            message: "a replica model needs at least one model".into(),
        })?;
        if models.iter().any(|m| {
            !m.focus.convs.is_empty()
                || !m.classifier.convs.is_empty()
                || m.averaging_layer != first.averaging_layer
                || m.attention != first.attention
        }) {
            return Err(ModelError::Invalid {
                field: "replicas",
                message: "replicas must be MLP models of one configuration".into(),
            });
        }
        let layer = |pick: &dyn Fn(&AttentionModel) -> &Linear| {
            ReplicaDense::stack(&models.iter().map(pick).collect::<Vec<_>>())
        };
        Ok(Self {
            focus_hidden: (0..first.focus.hidden.len())
                .map(|i| layer(&|m| &m.focus.hidden[i]))
                .collect(),
            focus_output: layer(&|m| &m.focus.output),
            classifier_hidden: (0..first.classifier.hidden.len())
                .map(|i| layer(&|m| &m.classifier.hidden[i]))
                .collect(),
            classifier_output: layer(&|m| &m.classifier.output),
            averaging_layer: first.averaging_layer,
            attention: first.attention.clone(),
        })
    }

    /// Number of replicas `R`.
    pub fn replicas(&self) -> usize {
        self.focus_output.weight.dims()[0]
    }

    fn layers(&self) -> impl Iterator<Item = &ReplicaDense> {
        self.focus_hidden
            .iter()
            .chain(std::iter::once(&self.focus_output))
            .chain(&self.classifier_hidden)
            .chain(std::iter::once(&self.classifier_output))
    }

    /// Every parameter tensor `[R, ...]` in a fixed order (layer by layer, weight then bias).
    pub fn tensors(&self) -> Vec<Tensor<3>> {
        self.layers().flat_map(ReplicaDense::tensors).collect()
    }

    /// The same model with its parameters replaced by `tensors`, in [`ReplicaModel::tensors`]
    /// order and shapes.
    pub fn with_tensors(mut self, tensors: Vec<Tensor<3>>) -> Self {
        let mut next = tensors.into_iter();
        for layer in self
            .focus_hidden
            .iter_mut()
            .chain(std::iter::once(&mut self.focus_output))
            .chain(&mut self.classifier_hidden)
            .chain(std::iter::once(&mut self.classifier_output))
        {
            layer.replace(&mut next);
        }
        assert!(next.next().is_none(), "one tensor per parameter");
        self
    }

    /// Writes replica `r`'s parameters into `template` (a model of the same configuration),
    /// keeping the template's parameter identities: the single model replica `r` is.
    pub fn replica_into(&self, r: usize, mut template: AttentionModel) -> AttentionModel {
        for (layer, target) in self
            .focus_hidden
            .iter()
            .zip(template.focus.hidden.iter_mut())
        {
            layer.write_into(r, target);
        }
        self.focus_output.write_into(r, &mut template.focus.output);
        for (layer, target) in self
            .classifier_hidden
            .iter()
            .zip(template.classifier.hidden.iter_mut())
        {
            layer.write_into(r, target);
        }
        self.classifier_output
            .write_into(r, &mut template.classifier.output);
        template
    }

    /// Forward pass on inputs `[R, batch, m, d]` (replica `r` reads `inputs[r]`): the single
    /// model's focus network ([`crate::nets::focus_mlp`]), attention map, weighted average and
    /// classification network on `R` models at once, the vectors averaged in the networks'
    /// feature-major layout (`kernels::weighted_average_features`).
    pub fn forward(&self, inputs: Tensor<4>) -> ReplicaOutput {
        let [r, batch, m, d] = inputs.dims();
        let hidden: Vec<_> = self
            .focus_hidden
            .iter()
            .map(ReplicaDense::stacked)
            .collect();
        let x = swap_last(inputs.reshape([r, batch * m, d]));
        let (scores, features) = focus_mlp(
            &hidden,
            &self.focus_output.stacked(),
            x.clone(),
            self.averaging_layer,
        );
        let scores = scores.reshape([r * batch, m]);
        let alpha = self.attention.apply(scores.clone()).reshape([r, batch, m]);
        let averaged = weighted_average_features(alpha.clone(), features.unwrap_or(x));
        let hidden: Vec<_> = self
            .classifier_hidden
            .iter()
            .map(ReplicaDense::stacked)
            .collect();
        let logits = classifier_mlp(&hidden, &self.classifier_output.stacked(), averaged);
        ReplicaOutput {
            scores: scores.reshape([r, batch, m]),
            alpha,
            logits: swap_last(logits),
        }
    }
}

/// Keeps only replicas `keep` (in that order) of stacked tensors `[R, ...]`.
pub fn select_replicas(tensors: Vec<Tensor<3>>, keep: &[usize]) -> Vec<Tensor<3>> {
    tensors
        .into_iter()
        .map(|t| {
            let parts = keep.iter().map(|&r| t.clone().narrow(0, r, 1)).collect();
            Tensor::cat(parts, 0)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, TensorData};

    use super::*;
    use crate::model::ModelConfig;

    #[allow(deprecated)] // ndarray is this crate's reference CPU backend
    fn device() -> Device {
        Device::ndarray()
    }

    fn inputs(batch: usize, m: usize, d: usize, salt: usize, device: &Device) -> Tensor<3> {
        let values: Vec<f32> = (0..batch * m * d)
            .map(|i| (((i + salt) * 29 % 17) as f32 - 8.0) / 5.0)
            .collect();
        Tensor::from_data(TensorData::new(values, [batch, m, d]), device)
    }

    #[test]
    fn every_replica_computes_exactly_what_its_single_model_computes() {
        let device = device();
        for k in 0..=2 {
            for attention in [
                AttentionMap::default(),
                AttentionMap::Sparsemax { temperature: 1.0 },
            ] {
                let config = ModelConfig {
                    averaging_layer: k,
                    attention,
                    ..ModelConfig::default()
                };
                let seeds = [3u64, 11, 0];
                let models: Vec<AttentionModel> = seeds
                    .iter()
                    .map(|&s| config.init(5, 3, s, &device).expect("valid"))
                    .collect();
                let replicas = ReplicaModel::stack(&models).expect("stackable");
                assert_eq!(replicas.replicas(), 3);
                let xs: Vec<Tensor<3>> = (0..3).map(|r| inputs(4, 9, 5, r, &device)).collect();
                let out = replicas.forward(Tensor::stack::<4>(xs.clone(), 0));
                for (r, (model, x)) in models.iter().zip(&xs).enumerate() {
                    let single = model.forward(x.clone());
                    let slice =
                        |t: Tensor<3>| t.narrow(0, r, 1).try_into_vec_as::<f32>().expect("f32");
                    let want = |t: Tensor<2>| t.try_into_vec_as::<f32>().expect("f32");
                    assert_eq!(
                        slice(out.logits.clone()),
                        want(single.logits),
                        "k={k} r={r}"
                    );
                    assert_eq!(slice(out.alpha.clone()), want(single.alpha), "k={k} r={r}");
                    assert_eq!(
                        slice(out.scores.clone()),
                        want(single.scores),
                        "k={k} r={r}"
                    );
                }
            }
        }
    }

    /// Every parameter value of a model, in a fixed order.
    fn values(model: &AttentionModel) -> Vec<f32> {
        ReplicaModel::stack(std::slice::from_ref(model))
            .expect("stackable")
            .tensors()
            .into_iter()
            .flat_map(|t| t.try_into_vec_as::<f32>().expect("f32"))
            .collect()
    }

    #[test]
    fn a_replica_written_back_is_its_single_model() {
        let device = device();
        let config = ModelConfig::default();
        let models: Vec<AttentionModel> = (0..4)
            .map(|s| config.init(5, 3, s, &device).expect("valid"))
            .collect();
        let replicas = ReplicaModel::stack(&models).expect("stackable");
        let template = config.init(5, 3, 99, &device).expect("valid");
        let back = replicas.replica_into(2, template);
        assert_eq!(values(&back), values(&models[2]));
        // Selecting replicas keeps their parameters.
        let kept = replicas
            .clone()
            .with_tensors(select_replicas(replicas.tensors(), &[3, 1]));
        assert_eq!(kept.replicas(), 2);
        let back = kept.replica_into(1, config.init(5, 3, 98, &device).expect("valid"));
        assert_eq!(values(&back), values(&models[1]));
    }

    #[test]
    fn convolutional_models_are_not_batched() {
        let mut config = ModelConfig::default();
        assert!(ReplicaModel::unsupported(&config).is_none());
        config.focus.conv.push(crate::ConvLayerConfig {
            channels: 2,
            kernel: 3,
            padding: 1,
            batch_norm: false,
            pool: 1,
            pool_padding: 0,
        });
        assert!(ReplicaModel::unsupported(&config).is_some());
    }
}
