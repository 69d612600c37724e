//! Serde configuration of an attention model, validated once before building.

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use crate::attention::AttentionMap;
use crate::conv::{ConvLayerConfig, stack_shapes};
use crate::error::ModelError;
use crate::init::{ClassifierInit, FocusInit};
use crate::model::AttentionModel;

/// The focus ("where") network `f`, applied to every segment: optional convolutional blocks,
/// then dense ReLU layers `hidden...`, then one score. No `conv` makes it the paper's MLP.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FocusConfig {
    /// Convolutional blocks for image segments (paper-spec 2, the CIFAR focus CNN).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conv: Vec<ConvLayerConfig>,
    /// Widths of the hidden ReLU layers, e.g. `[6, 12]` for the paper's Architecture 2.
    pub hidden: Vec<usize>,
    /// Whether the dense layers have biases.
    #[serde(default = "yes")]
    pub bias: bool,
    /// How the weights start.
    #[serde(default)]
    pub init: FocusInit,
}

/// The classification ("what") network `g` on the averaged vector: optional convolutional
/// blocks (with optional global average pooling), then dense ReLU layers, then class logits.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassifierConfig {
    /// Convolutional blocks, when the averaged vector is image-shaped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conv: Vec<ConvLayerConfig>,
    /// Average every channel over the image after the convolutions (the paper's final
    /// `AvgPool`), instead of flattening.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub global_pool: bool,
    /// Widths of the hidden ReLU layers (may be empty: a linear classifier).
    pub hidden: Vec<usize>,
    /// Whether the dense layers have biases.
    #[serde(default = "yes")]
    pub bias: bool,
    /// How the weights start.
    #[serde(default)]
    pub init: ClassifierInit,
}

fn yes() -> bool {
    true
}

/// Everything needed to build an [`AttentionModel`] for data of a given shape.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// The focus network.
    pub focus: FocusConfig,
    /// The classification network.
    pub classifier: ClassifierConfig,
    /// Where the weighted average is taken: 0 averages the raw segments, `k >= 1` averages
    /// `tanh` of the pre-activation of focus hidden layer `k` (paper-spec 2).
    #[serde(default)]
    pub averaging_layer: usize,
    /// The map from scores to weights.
    #[serde(default)]
    pub attention: AttentionMap,
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
            let image =
                crate::nets::as_image(segment_shape).map_err(|m| invalid("focus.conv", m))?;
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
            let image =
                crate::nets::as_image(segment_shape).map_err(|m| invalid("focus.conv", m))?;
            stack_shapes(&self.focus.conv, image).map_err(|m| invalid("focus.conv", m))?;
        }
        if self.averaging_layer > self.n_focus_layers() {
            return Err(self.layer_out_of_range());
        }
        let averaged = self.averaged_shape(segment_shape)?;
        if !self.classifier.conv.is_empty() {
            let image = crate::nets::as_image(&averaged).map_err(|m| {
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
            .map_err(|m| invalid("attention", m))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn averaging_layer_outside_the_network_is_refused_by_name() {
        let config = ModelConfig {
            averaging_layer: 3,
            ..ModelConfig::default()
        };
        let err = config
            .validate(5, 3)
            .expect_err("k = 3 with two hidden layers");
        let text = err.to_string();
        assert!(text.contains("model.averaging_layer"), "{text}");
        assert!(text.contains("0..=2"), "{text}");
    }

    fn cnn_config(k: usize) -> ModelConfig {
        let block = |channels, pool| ConvLayerConfig {
            channels,
            kernel: 3,
            padding: 0,
            batch_norm: true,
            pool,
            pool_padding: 0,
        };
        let mut config = ModelConfig {
            averaging_layer: k,
            ..ModelConfig::default()
        };
        config.focus.conv = vec![block(4, 2), block(8, 2)];
        config.focus.hidden = vec![16];
        config.classifier.conv = vec![block(8, 0)];
        config.classifier.global_pool = true;
        config.classifier.hidden = vec![];
        config
    }

    #[test]
    fn cnn_layers_count_convolutions_first() {
        // 1x14x14 -> conv 4x12x12 -> pool 6 -> conv 8x4x4 -> pool 2 -> dense 16.
        let shape = [1, 14, 14];
        assert_eq!(
            cnn_config(0).averaged_shape(&shape).expect("k0"),
            vec![1, 14, 14]
        );
        assert_eq!(
            cnn_config(1).averaged_shape(&shape).expect("k1"),
            vec![4, 12, 12]
        );
        assert_eq!(
            cnn_config(2).averaged_shape(&shape).expect("k2"),
            vec![8, 4, 4]
        );
        for k in 0..=2 {
            cnn_config(k).validate_for(&shape, 3).expect("valid");
        }
        // At k = 3 the averaged vector is a dense width: the conv classifier cannot read it.
        let err = cnn_config(3)
            .validate_for(&shape, 3)
            .expect_err("dense at k3");
        assert!(err.to_string().contains("model.classifier.conv"), "{err}");
        let err = cnn_config(4).validate_for(&shape, 3).expect_err("k4");
        assert!(err.to_string().contains("0..=3"), "{err}");
    }

    #[test]
    fn convolutions_on_flat_segments_are_refused() {
        let err = cnn_config(0).validate_for(&[5], 3).expect_err("flat");
        assert!(err.to_string().contains("model.focus.conv"), "{err}");
    }

    #[test]
    fn functionally_zero_needs_an_even_last_layer() {
        let mut config = ModelConfig::default();
        config.focus.init = FocusInit::FunctionallyZero;
        config.focus.hidden = vec![6, 7];
        let text = config.validate(5, 3).expect_err("odd width").to_string();
        assert!(
            text.contains("model.focus.init") && text.contains('7'),
            "{text}"
        );
        config.focus.hidden = vec![6, 12];
        config.validate(5, 3).expect("even width is fine");
    }

    #[test]
    fn averaged_width_follows_the_layer() {
        let mut config = ModelConfig::default();
        assert_eq!(config.averaged_width(5), 5);
        config.averaging_layer = 1;
        assert_eq!(config.averaged_width(5), 6);
        config.averaging_layer = 2;
        assert_eq!(config.averaged_width(5), 12);
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = toml::from_str::<ModelConfig>(
            "averaging_layr = 1\n[focus]\nhidden=[2]\n[classifier]\nhidden=[]\n",
        )
        .expect_err("typo");
        assert!(err.to_string().contains("averaging_layr"), "{err}");
    }
}
