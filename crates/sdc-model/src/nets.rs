//! The focus and classification networks (multi-layer perceptrons).

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::{Device, Tensor, activation};

use crate::config::{ClassifierConfig, FocusConfig};
use crate::init::{ClassifierInit, DenseParams, FocusInit, LayerInit, network_rng};

/// RNG streams: one per network of a model.
const FOCUS_STREAM: u64 = 1;
const CLASSIFIER_STREAM: u64 = 2;

/// The focus network `f: R^d -> R`, applied to every segment independently.
#[derive(Module, Debug)]
pub struct FocusNet {
    /// Hidden dense layers, each followed by ReLU on the score path.
    pub hidden: Vec<Linear>,
    /// The final dense layer to one score.
    pub output: Linear,
}

impl FocusNet {
    /// Builds `f` for segments of dimension `input_dim`, drawing weights from `seed`.
    pub fn new(config: &FocusConfig, input_dim: usize, seed: u64, device: &Device) -> Self {
        let mut rng = network_rng(seed, FOCUS_STREAM);
        let layer_init = match config.init {
            FocusInit::Default => LayerInit::TorchDefault,
            FocusInit::XavierNormal | FocusInit::FunctionallyZero => LayerInit::XavierNormal,
        };
        let mut widths = vec![input_dim];
        widths.extend(&config.hidden);
        let mut layers: Vec<DenseParams> = widths
            .windows(2)
            .map(|w| DenseParams::draw(w[0], w[1], config.bias, layer_init, &mut rng))
            .collect();
        let last = *widths.last().expect("widths holds at least the input");
        let mut output = DenseParams::draw(last, 1, config.bias, layer_init, &mut rng);
        if config.init == FocusInit::FunctionallyZero {
            // paper-spec 2: mirror the last hidden layer, anti-mirror the output weights.
            layers
                .last_mut()
                .expect("validated: functionally-zero has a hidden layer")
                .mirror_outputs();
            output.anti_mirror_inputs();
        }
        Self {
            hidden: layers.into_iter().map(|p| p.into_linear(device)).collect(),
            output: output.into_linear(device),
        }
    }

    /// Scores `[n, d] -> [n, 1]`, plus `tanh` of the pre-activation of hidden layer `k`
    /// (`[n, width_k]`) when `k >= 1` (paper-spec 2: tanh features, ReLU on the score path).
    pub fn forward_with_features(&self, x: Tensor<2>, k: usize) -> (Tensor<2>, Option<Tensor<2>>) {
        let mut h = x;
        let mut features = None;
        for (i, layer) in self.hidden.iter().enumerate() {
            let pre = layer.forward(h);
            if i + 1 == k {
                features = Some(activation::tanh(pre.clone()));
            }
            h = activation::relu(pre);
        }
        (self.output.forward(h), features)
    }

    /// Scores `[n, d] -> [n, 1]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.forward_with_features(x, 0).0
    }
}

/// The classification network `g: R^width -> R^classes` on the averaged vector.
#[derive(Module, Debug)]
pub struct ClassifierNet {
    /// Hidden dense layers, each followed by ReLU.
    pub hidden: Vec<Linear>,
    /// The final dense layer to class logits.
    pub output: Linear,
}

impl ClassifierNet {
    /// Builds `g` for inputs of width `input_dim` and `n_classes` outputs.
    pub fn new(
        config: &ClassifierConfig,
        input_dim: usize,
        n_classes: usize,
        seed: u64,
        device: &Device,
    ) -> Self {
        let mut rng = network_rng(seed, CLASSIFIER_STREAM);
        let layer_init = match config.init {
            ClassifierInit::Default => LayerInit::TorchDefault,
            ClassifierInit::XavierNormal => LayerInit::XavierNormal,
        };
        let mut widths = vec![input_dim];
        widths.extend(&config.hidden);
        let hidden = widths
            .windows(2)
            .map(|w| {
                DenseParams::draw(w[0], w[1], config.bias, layer_init, &mut rng).into_linear(device)
            })
            .collect();
        let last = *widths.last().expect("widths holds at least the input");
        let output = DenseParams::draw(last, n_classes, config.bias, layer_init, &mut rng)
            .into_linear(device);
        Self { hidden, output }
    }

    /// Logits `[n, width] -> [n, classes]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let h = self
            .hidden
            .iter()
            .fold(x, |h, layer| activation::relu(layer.forward(h)));
        self.output.forward(h)
    }
}
