//! The attention model (focus, attention map, weighted average, classification) and
//! [`ModelConfig`], its serde configuration, validated once before building.

use std::path::Path;

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::attention::AttentionMap;
use crate::conv::stack_shapes;
use crate::error::ModelError;
use crate::init::{ClassifierInit, FocusInit, InitSeeding};
use crate::nets::{ClassifierConfig, ClassifierNet, FocusConfig, FocusNet, as_image};

/// Everything needed to build an [`AttentionModel`] for data of a given shape.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// The focus network.
    pub focus: FocusConfig,
    /// The classification network.
    pub classifier: ClassifierConfig,
    /// Where the weighted average is taken: 0 averages the raw segments, `k >= 1` averages
    /// `tanh` of the pre-activation of focus hidden layer `k` (docs/paper-notes.md, Model).
    #[serde(default)]
    pub averaging_layer: usize,
    /// The map from scores to weights.
    #[serde(default)]
    pub attention: AttentionMap,
    /// How the two networks' initial weights are seeded: `independent` (the default) or
    /// `shared`, the paper's code (docs/paper-notes.md, Initialisation).
    #[serde(default, skip_serializing_if = "InitSeeding::is_independent")]
    pub init_seeding: InitSeeding,
}

impl Default for ModelConfig {
    /// The paper's Architecture 2 "(6,12)" for Dataset 2, averaging at layer 0.
    fn default() -> Self {
        Self {
            focus: FocusConfig {
                conv: Vec::new(),
                hidden: vec![6, 12],
                bias: true,
                init: FocusInit::Default,
            },
            classifier: ClassifierConfig {
                conv: Vec::new(),
                global_pool: false,
                hidden: vec![6, 12],
                bias: true,
                init: ClassifierInit::Default,
            },
            averaging_layer: 0,
            attention: AttentionMap::default(),
            init_seeding: InitSeeding::Independent,
        }
    }
}

fn invalid(field: &'static str, message: String) -> ModelError {
    ModelError::Invalid { field, message }
}

impl ModelConfig {
    /// Number of layers `k` can name: focus convolutions, then focus hidden dense layers.
    pub fn n_focus_layers(&self) -> usize {
        self.focus.conv.len() + self.focus.hidden.len()
    }

    /// Width of the averaged vector that `g` receives for `d`-dimensional segments (MLP focus).
    pub fn averaged_width(&self, input_dim: usize) -> usize {
        self.averaged_shape(&[input_dim])
            .map_or(0, |shape| shape.iter().product())
    }

    /// Shape of the averaged vector that `g` receives for segments of `segment_shape`: the
    /// segment itself at `k = 0`, else the shape of focus layer `k` (convolution output
    /// `[c, h, w]`, or a dense width).
    pub fn averaged_shape(&self, segment_shape: &[usize]) -> Result<Vec<usize>, ModelError> {
        let k = self.averaging_layer;
        let n_conv = self.focus.conv.len();
        if k == 0 {
            return Ok(segment_shape.to_vec());
        }
        if k <= n_conv {
            let image = as_image(segment_shape).map_err(|m| invalid("focus.conv", m))?;
            let shapes =
                stack_shapes(&self.focus.conv, image).map_err(|m| invalid("focus.conv", m))?;
            return Ok(shapes[k - 1].0.to_vec());
        }
        match self.focus.hidden.get(k - n_conv - 1) {
            Some(&w) => Ok(vec![w]),
            None => Err(self.layer_out_of_range()),
        }
    }

    fn layer_out_of_range(&self) -> ModelError {
        let (n_conv, n_hidden) = (self.focus.conv.len(), self.focus.hidden.len());
        let n = n_conv + n_hidden;
        invalid(
            "averaging_layer",
            format!(
                "k = {} but the focus network has {n} layer(s) ({n_conv} convolutional, {n_hidden} dense hidden): \
                 k must be in 0..={n} (0 averages the raw segments)",
                self.averaging_layer
            ),
        )
    }

    /// Checks the configuration against `d`-dimensional segments; errors name the field.
    pub fn validate(&self, input_dim: usize, n_classes: usize) -> Result<(), ModelError> {
        self.validate_for(&[input_dim], n_classes)
    }

    /// Checks the configuration against segments of `segment_shape` (`[d]`, or `[c, h, w]`
    /// for images) and `n_classes` labels; errors name the field.
    pub fn validate_for(
        &self,
        segment_shape: &[usize],
        n_classes: usize,
    ) -> Result<(), ModelError> {
        if segment_shape.is_empty() || segment_shape.contains(&0) {
            return Err(invalid(
                "focus",
                format!("the data have segments of shape {segment_shape:?}"),
            ));
        }
        if n_classes < 2 {
            return Err(invalid(
                "classifier",
                format!("the data have {n_classes} class(es); classification needs at least 2"),
            ));
        }
        if let Some(i) = self.focus.hidden.iter().position(|&w| w == 0) {
            return Err(invalid(
                "focus.hidden",
                format!("layer {} has width 0; widths must be >= 1", i + 1),
            ));
        }
        if let Some(i) = self.classifier.hidden.iter().position(|&w| w == 0) {
            return Err(invalid(
                "classifier.hidden",
                format!("layer {} has width 0; widths must be >= 1", i + 1),
            ));
        }
        if !self.focus.conv.is_empty() {
            let image = as_image(segment_shape).map_err(|m| invalid("focus.conv", m))?;
            stack_shapes(&self.focus.conv, image).map_err(|m| invalid("focus.conv", m))?;
        }
        if self.averaging_layer > self.n_focus_layers() {
            return Err(self.layer_out_of_range());
        }
        let averaged = self.averaged_shape(segment_shape)?;
        if !self.classifier.conv.is_empty() {
            let image = as_image(&averaged).map_err(|m| {
                invalid(
                    "classifier.conv",
                    format!("{m} (averaging at layer {})", self.averaging_layer),
                )
            })?;
            stack_shapes(&self.classifier.conv, image)
                .map_err(|m| invalid("classifier.conv", m))?;
        } else if self.classifier.global_pool {
            return Err(invalid(
                "classifier.global_pool",
                "global pooling needs convolutional layers (classifier.conv)".into(),
            ));
        }
        if self.focus.init == FocusInit::FunctionallyZero {
            match self.focus.hidden.last() {
                Some(&w) if w % 2 == 0 => {}
                Some(&w) => {
                    return Err(invalid(
                        "focus.init",
                        format!(
                            "functionally-zero mirrors the last hidden layer, whose width {w} must be even"
                        ),
                    ));
                }
                None => {
                    return Err(invalid(
                        "focus.init",
                        "functionally-zero needs at least one hidden focus layer".into(),
                    ));
                }
            }
        }
        self.attention
            .validate()
            .map_err(|e| invalid("attention", e.to_string()))?;
        // Last: the shapes are known to be consistent, only their sizes are left to check.
        crate::budget::check(self, segment_shape, n_classes, sdc_io::Budget::machine())?;
        Ok(())
    }

    /// Validates, then builds the model for `d`-dimensional segments on `device` with weights
    /// drawn from `seed`.
    pub fn init(
        &self,
        input_dim: usize,
        n_classes: usize,
        seed: u64,
        device: &Device,
    ) -> Result<AttentionModel, ModelError> {
        self.init_for(&[input_dim], n_classes, seed, device)
    }

    /// Validates, then builds the model for segments of `segment_shape` on `device` with
    /// weights drawn from `seed`.
    pub fn init_for(
        &self,
        segment_shape: &[usize],
        n_classes: usize,
        seed: u64,
        device: &Device,
    ) -> Result<AttentionModel, ModelError> {
        self.validate_for(segment_shape, n_classes)?;
        let averaged = self.averaged_shape(segment_shape)?;
        Ok(AttentionModel::build(
            self,
            segment_shape,
            &averaged,
            n_classes,
            seed,
            device,
        ))
    }
}

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
        let focus = FocusNet::new(
            &config.focus,
            segment_shape,
            seed,
            config.init_seeding,
            device,
        );
        let classifier = ClassifierNet::new(
            &config.classifier,
            averaged_shape,
            n_classes,
            seed,
            config.init_seeding,
            device,
        );
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
///
/// On the CPU backends this is one operation with its backward pass, the same bits as the
/// replica batches' feature-major average (`kernels/attend.rs`).
pub fn weighted_average(alpha: Tensor<2>, features: Tensor<3>) -> Tensor<2> {
    if let Some(averaged) = crate::kernels::weighted_average(alpha.clone(), features.clone()) {
        return averaged;
    }
    let [batch, _, width] = features.dims();
    (features * alpha.unsqueeze_dim::<3>(2))
        .sum_dim(1)
        .reshape([batch, width])
}

#[cfg(test)]
mod tests;
