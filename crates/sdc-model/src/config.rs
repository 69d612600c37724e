//! Serde configuration of an attention model, validated once before building.

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use crate::attention::AttentionMap;
use crate::error::ModelError;
use crate::init::{ClassifierInit, FocusInit};
use crate::model::AttentionModel;

/// The focus ("where") network `f`: an MLP `d -> hidden... -> 1` applied to every segment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FocusConfig {
    /// Widths of the hidden ReLU layers, e.g. `[6, 12]` for the paper's Architecture 2.
    pub hidden: Vec<usize>,
    /// Whether the dense layers have biases.
    #[serde(default = "yes")]
    pub bias: bool,
    /// How the weights start.
    #[serde(default)]
    pub init: FocusInit,
}

/// The classification ("what") network `g`: an MLP `width(k) -> hidden... -> classes`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassifierConfig {
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
                hidden: vec![6, 12],
                bias: true,
                init: FocusInit::Default,
            },
            classifier: ClassifierConfig {
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
    /// Width of the averaged vector that `g` receives: `input_dim` at layer 0, else the width
    /// of focus hidden layer `k`.
    pub fn averaged_width(&self, input_dim: usize) -> usize {
        match self.averaging_layer {
            0 => input_dim,
            k => self.focus.hidden[k - 1],
        }
    }

    /// Checks the configuration against the data it will see; errors name the field.
    pub fn validate(&self, input_dim: usize, n_classes: usize) -> Result<(), ModelError> {
        if input_dim == 0 {
            return Err(invalid(
                "focus",
                "the data have segments of dimension 0".into(),
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
        let n_hidden = self.focus.hidden.len();
        if self.averaging_layer > n_hidden {
            return Err(invalid(
                "averaging_layer",
                format!(
                    "k = {} but the focus network has {n_hidden} hidden layer(s): k must be in 0..={n_hidden} \
                     (0 averages the raw segments)",
                    self.averaging_layer
                ),
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
            .map_err(|m| invalid("attention", m))
    }

    /// Validates, then builds the model on `device` with weights drawn from `seed`.
    pub fn init(
        &self,
        input_dim: usize,
        n_classes: usize,
        seed: u64,
        device: &Device,
    ) -> Result<AttentionModel, ModelError> {
        self.validate(input_dim, n_classes)?;
        Ok(AttentionModel::build(
            self, input_dim, n_classes, seed, device,
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
