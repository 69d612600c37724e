//! The focus and classification networks: an optional stack of convolutional blocks, then
//! dense ReLU layers. With no convolution they are the paper's MLPs; with convolutions its CNNs.
//!
//! Each network's serde config ([`FocusConfig`], [`ClassifierConfig`]) sits next to it.
//!
//! Both take flat inputs `[n, width]` and reshape them to images where their first layer is a
//! convolution, so the attention model averages flat vectors whatever the network.

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::module::adaptive_avg_pool2d;
use burn::tensor::{Device, Tensor, activation};
use rand::rngs::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::conv::{ConvBlock, ConvLayerConfig, ImageShape, stack_shapes};
use crate::init::{
    ClassifierInit, DenseParams, DrawOrder, FocusInit, InitSeeding, LayerInit, network_rng,
};
use crate::kernels::swap_last;

/// The focus ("where") network `f`, applied to every segment: optional convolutional blocks,
/// then dense ReLU layers `hidden...`, then one score. No `conv` makes it the paper's MLP.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FocusConfig {
    /// Convolutional blocks for image segments (docs/paper-notes.md, Model, the CIFAR focus CNN).
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

/// RNG streams: one per network of a model.
const FOCUS_STREAM: u64 = 1;
const CLASSIFIER_STREAM: u64 = 2;
/// The one stream both networks draw from under [`InitSeeding::Shared`].
const SHARED_STREAM: u64 = 0;

/// A dense layer after convolutions, `x W + b` (an MLP network runs [`focus_mlp`] or
/// [`classifier_mlp`] instead), with the bias added as the product of a ones column and the bias
/// row. The values are those of `Linear::forward` (`1 * b` is exact); the difference is the
/// bias gradient, which becomes one matrix product instead of a broadcast reduction that
/// burn-ndarray sums row by row, allocating per row (41% of a training step at batch 256,
/// measured with callgrind).
pub(crate) fn dense(layer: &Linear, x: Tensor<2>) -> Tensor<2> {
    let [n, _] = x.dims();
    let device = x.device();
    let out = x.matmul(layer.weight.val());
    match &layer.bias {
        None => out,
        Some(bias) => {
            let ones = Tensor::<2>::ones([n, 1], &device);
            out + ones.matmul(bias.val().unsqueeze_dim::<2>(0))
        }
    }
}

/// The weights `[r, in, out]` and bias `[r, 1, out]` of one dense layer of `r` models.
pub(crate) type StackedDense = (Tensor<3>, Option<Tensor<3>>);

/// One model's dense layer as a stack of one: weights `[1, in, out]`, bias `[1, 1, out]`.
fn one_model(layer: &Linear) -> StackedDense {
    let weight = layer.weight.val().unsqueeze_dim::<3>(0);
    let bias = layer.bias.as_ref().map(|b| {
        let [out] = b.dims();
        b.val().reshape([1, 1, out])
    });
    (weight, bias)
}

/// `layer` on feature-major inputs `[r, in, n]` -> `[r, out, n]`, followed by ReLU when `relu`
/// (`kernels::dense_features`).
fn apply((weight, bias): &StackedDense, x: Tensor<3>, relu: bool) -> Tensor<3> {
    crate::kernels::dense_features(x, weight.clone(), bias.clone(), relu)
}

/// An MLP focus network of `r` models (no convolutions) in feature-major layout
/// (`kernels::dense_features`): segments `[r, d, n]` -> scores `[r, 1, n]`, plus `tanh` of the
/// pre-activation of hidden layer `k` (`[r, width_k, n]`) when `k >= 1`. A single model and a
/// replica batch both run this, so a replica computes its single model's bits.
pub(crate) fn focus_mlp(
    hidden: &[StackedDense],
    output: &StackedDense,
    x: Tensor<3>,
    k: usize,
) -> (Tensor<3>, Option<Tensor<3>>) {
    let mut features = None;
    let mut h = x;
    for (i, layer) in hidden.iter().enumerate() {
        h = if i + 1 == k {
            // The averaged features need the pre-activation itself.
            let pre = apply(layer, h, false);
            features = Some(tanh(pre.clone()));
            activation::relu(pre)
        } else {
            apply(layer, h, true)
        };
    }
    (apply(output, h, false), features)
}

/// An MLP classification network of `r` models in feature-major layout: averaged vectors
/// `[r, width, n]` -> logits `[r, classes, n]` ([`focus_mlp`]).
pub(crate) fn classifier_mlp(
    hidden: &[StackedDense],
    output: &StackedDense,
    x: Tensor<3>,
) -> Tensor<3> {
    let h = hidden.iter().fold(x, |h, layer| apply(layer, h, true));
    apply(output, h, false)
}

/// `tanh(x) = 1 - 2 / (exp(2x) + 1)`, from tensor operations in the tensor's own precision.
/// burn-ndarray's `tanh` evaluates every element in f64 through libm (a quarter of a training
/// step at averaging layer 1, measured with callgrind); this costs one `exp`. The input is
/// clamped to [-20, 20], where tanh is ±1 to within 1e-17, so `exp` stays finite and the
/// gradient `1 - tanh^2` has no `0 * inf`. Absolute error: about one unit in the last place of 1.
/// On the CPU backends this runs as one operation (`kernels::tanh`), with the same bits.
pub(crate) fn tanh<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    match crate::kernels::tanh(x.clone()) {
        Some(y) => y,
        None => tanh_composed(x),
    }
}

/// [`tanh`] from Burn's operations.
pub(crate) fn tanh_composed<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let e = (x.clamp(-20.0, 20.0) * 2.0).exp();
    (e + 1.0).recip().mul_scalar(-2.0).add_scalar(1.0)
}

/// The focus network `f`, applied to every segment independently: `[n, d] -> [n, 1]`.
#[derive(Module, Debug)]
pub struct FocusNet {
    /// Convolutional blocks (none for an MLP); ReLU on the score path.
    pub convs: Vec<ConvBlock>,
    /// Hidden dense layers, each followed by ReLU on the score path.
    pub hidden: Vec<Linear>,
    /// The final dense layer to one score.
    pub output: Linear,
    /// `[c, h, w]` the flat input is read as when there are convolutions.
    #[module(skip)]
    pub image_shape: Option<ImageShape>,
}

/// Reads a flat segment shape as an image `[c, h, w]` for a convolutional first layer.
pub(crate) fn as_image(shape: &[usize]) -> Result<ImageShape, String> {
    match *shape {
        [c, h, w] => Ok([c, h, w]),
        [h, w] => Ok([1, h, w]),
        _ => Err(format!(
            "convolutions need image-shaped inputs [channels, height, width]; the input has shape {shape:?}"
        )),
    }
}

/// The convolutional part of a network built for its input: the blocks, the image shape the
/// flat input is read as (none without convolutions), and the shape after the stack (the input
/// shape itself without convolutions).
struct ConvStack {
    convs: Vec<ConvBlock>,
    image_shape: Option<ImageShape>,
    out: Vec<usize>,
}

impl ConvStack {
    /// Builds the blocks of `layers` for inputs of `input_shape`; the config must have been
    /// validated for that shape.
    fn build(
        layers: &[ConvLayerConfig],
        input_shape: &[usize],
        bias: bool,
        init: LayerInit,
        rng: &mut ChaCha8Rng,
        device: &Device,
    ) -> Self {
        if layers.is_empty() {
            return Self {
                convs: Vec::new(),
                image_shape: None,
                out: input_shape.to_vec(),
            };
        }
        let image = as_image(input_shape).expect("validated: image-shaped input");
        let shapes = stack_shapes(layers, image).expect("validated: the conv stack fits its input");
        let mut c_in = image[0];
        let convs = layers
            .iter()
            .map(|layer| {
                let block = ConvBlock::new(layer, c_in, bias, init, rng, device);
                c_in = layer.channels;
                block
            })
            .collect();
        let out = shapes.last().map_or(image, |s| s.1).to_vec();
        Self {
            convs,
            image_shape: Some(image),
            out,
        }
    }
}

/// The generator and dense draw order for one network: its own stream when independent; with
/// `Shared`, the same stream for both networks and PyTorch's `[out, in]` order, as the paper's code.
fn seeded(seed: u64, seeding: InitSeeding, stream: u64) -> (ChaCha8Rng, DrawOrder) {
    match seeding {
        InitSeeding::Independent => (network_rng(seed, stream), DrawOrder::InOut),
        InitSeeding::Shared => (network_rng(seed, SHARED_STREAM), DrawOrder::OutIn),
    }
}

/// Draws the dense layers `input_dim -> hidden[0] -> ... -> hidden[last]` and the output layer
/// `hidden[last] -> n_out` (from `input_dim` when there is no hidden layer), in that order from
/// `rng`.
fn draw_dense_chain(
    input_dim: usize,
    hidden: &[usize],
    n_out: usize,
    bias: bool,
    init: LayerInit,
    order: DrawOrder,
    rng: &mut ChaCha8Rng,
) -> (Vec<DenseParams>, DenseParams) {
    let mut widths = vec![input_dim];
    widths.extend(hidden);
    let layers = widths
        .windows(2)
        .map(|w| DenseParams::draw_in_order(w[0], w[1], bias, init, order, rng))
        .collect();
    let last = *widths.last().expect("widths holds at least the input");
    (
        layers,
        DenseParams::draw_in_order(last, n_out, bias, init, order, rng),
    )
}

impl FocusNet {
    /// Builds `f` for segments of shape `input_shape` (`[d]`, or `[c, h, w]` for images),
    /// drawing weights from `seed` as `seeding` says. The config must have been validated for
    /// that shape.
    pub fn new(
        config: &FocusConfig,
        input_shape: &[usize],
        seed: u64,
        seeding: InitSeeding,
        device: &Device,
    ) -> Self {
        let (mut rng, order) = seeded(seed, seeding, FOCUS_STREAM);
        let layer_init = match config.init {
            FocusInit::Default => LayerInit::TorchDefault,
            FocusInit::XavierNormal | FocusInit::FunctionallyZero => LayerInit::XavierNormal,
        };
        let ConvStack {
            convs,
            image_shape,
            out,
        } = ConvStack::build(
            &config.conv,
            input_shape,
            config.bias,
            layer_init,
            &mut rng,
            device,
        );
        let input_dim = out.iter().product();
        let (mut layers, mut output) = draw_dense_chain(
            input_dim,
            &config.hidden,
            1,
            config.bias,
            layer_init,
            order,
            &mut rng,
        );
        if config.init == FocusInit::FunctionallyZero {
            // docs/paper-notes.md, Model: mirror the last hidden layer, anti-mirror the output weights.
            layers
                .last_mut()
                .expect("validated: functionally-zero has a hidden layer")
                .mirror_outputs();
            output.anti_mirror_inputs();
        }
        Self {
            convs,
            hidden: layers.into_iter().map(|p| p.into_linear(device)).collect(),
            output: output.into_linear(device),
            image_shape,
        }
    }

    /// Scores `[n, d] -> [n, 1]`, plus `tanh` of the pre-activation of layer `k`, flattened to
    /// `[n, width_k]`, when `k >= 1` (docs/paper-notes.md, Model: tanh features, ReLU on the score path).
    /// Layers count the convolutions first, then the hidden dense layers.
    pub fn forward_with_features(&self, x: Tensor<2>, k: usize) -> (Tensor<2>, Option<Tensor<2>>) {
        let mut features = None;
        let mut h = match self.image_shape {
            None => x,
            Some([c, height, width]) => {
                let n = x.dims()[0];
                let mut img = x.reshape([n, c, height, width]);
                for (i, block) in self.convs.iter().enumerate() {
                    let (out, pre) = block.forward_with_pre(img);
                    if i + 1 == k {
                        features = Some(tanh(pre).flatten::<2>(1, 3));
                    }
                    img = out;
                }
                img.flatten::<2>(1, 3)
            }
        };
        if self.convs.is_empty() {
            let n = h.dims()[0];
            let hidden: Vec<_> = self.hidden.iter().map(one_model).collect();
            let x = swap_last(h.unsqueeze_dim::<3>(0));
            let (scores, features) = focus_mlp(&hidden, &one_model(&self.output), x, k);
            let features = features.map(|f| swap_last(f).squeeze_dim::<2>(0));
            return (scores.reshape([n, 1]), features);
        }
        let offset = self.convs.len();
        for (i, layer) in self.hidden.iter().enumerate() {
            let pre = dense(layer, h);
            if offset + i + 1 == k {
                features = Some(tanh(pre.clone()));
            }
            h = activation::relu(pre);
        }
        (dense(&self.output, h), features)
    }

    /// Scores `[n, d] -> [n, 1]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.forward_with_features(x, 0).0
    }
}

/// The classification network `g` on the averaged vector: `[n, width] -> [n, classes]`.
#[derive(Module, Debug)]
pub struct ClassifierNet {
    /// Convolutional blocks (none for an MLP).
    pub convs: Vec<ConvBlock>,
    /// Hidden dense layers, each followed by ReLU.
    pub hidden: Vec<Linear>,
    /// The final dense layer to class logits.
    pub output: Linear,
    /// `[c, h, w]` the flat input is read as when there are convolutions.
    #[module(skip)]
    pub image_shape: Option<ImageShape>,
    /// Average each channel over the image after the convolutions (else flatten).
    #[module(skip)]
    pub global_pool: bool,
}

impl ClassifierNet {
    /// Builds `g` for averaged inputs of shape `input_shape` and `n_classes` outputs; the
    /// config must have been validated for that shape.
    pub fn new(
        config: &ClassifierConfig,
        input_shape: &[usize],
        n_classes: usize,
        seed: u64,
        seeding: InitSeeding,
        device: &Device,
    ) -> Self {
        let (mut rng, order) = seeded(seed, seeding, CLASSIFIER_STREAM);
        let layer_init = match config.init {
            ClassifierInit::Default => LayerInit::TorchDefault,
            ClassifierInit::XavierNormal => LayerInit::XavierNormal,
        };
        let ConvStack {
            convs,
            image_shape,
            out,
        } = ConvStack::build(
            &config.conv,
            input_shape,
            config.bias,
            layer_init,
            &mut rng,
            device,
        );
        let input_dim = if config.global_pool && image_shape.is_some() {
            out[0]
        } else {
            out.iter().product()
        };
        let (hidden, output) = draw_dense_chain(
            input_dim,
            &config.hidden,
            n_classes,
            config.bias,
            layer_init,
            order,
            &mut rng,
        );
        Self {
            convs,
            hidden: hidden.into_iter().map(|p| p.into_linear(device)).collect(),
            output: output.into_linear(device),
            image_shape,
            global_pool: config.global_pool && !config.conv.is_empty(),
        }
    }

    /// Logits `[n, width] -> [n, classes]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let x = match self.image_shape {
            None => x,
            Some([c, height, width]) => {
                let n = x.dims()[0];
                let mut img = x.reshape([n, c, height, width]);
                for block in &self.convs {
                    img = block.forward_with_pre(img).0;
                }
                if self.global_pool {
                    img = adaptive_avg_pool2d(img, [1, 1]);
                }
                img.flatten::<2>(1, 3)
            }
        };
        if self.convs.is_empty() {
            let hidden: Vec<_> = self.hidden.iter().map(one_model).collect();
            let x = swap_last(x.unsqueeze_dim::<3>(0));
            let logits = classifier_mlp(&hidden, &one_model(&self.output), x);
            return swap_last(logits).squeeze_dim::<2>(0);
        }
        let h = self
            .hidden
            .iter()
            .fold(x, |h, layer| activation::relu(dense(layer, h)));
        dense(&self.output, h)
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::TensorData;

    use super::*;

    #[test]
    fn dense_is_linear_with_the_bias_gradient_summed_over_rows() {
        #[allow(deprecated)] // ndarray is this crate's reference CPU backend
        let ndarray = Device::ndarray().autodiff();
        dense_matches_linear_on(&ndarray);
        dense_matches_linear_on(&Device::flex().autodiff());
    }

    fn dense_matches_linear_on(device: &Device) {
        let device = device.clone();
        let mut rng = network_rng(3, FOCUS_STREAM);
        let layer =
            DenseParams::draw(4, 3, true, LayerInit::TorchDefault, &mut rng).into_linear(&device);
        let values: Vec<f32> = (0..5 * 4).map(|i| (i as f32 - 9.5) / 3.0).collect();
        let x = Tensor::<2>::from_data(TensorData::new(values, [5, 4]), &device);

        let ours = dense(&layer, x.clone());
        let reference = layer.forward(x);
        assert_eq!(
            ours.clone().try_into_vec_as::<f32>().expect("f32"),
            reference.try_into_vec_as::<f32>().expect("f32"),
            "the same values as Linear::forward"
        );

        // d(sum(c * y)) / db_j = sum over rows of c[:, j].
        let c: Vec<f32> = (0..5 * 3).map(|i| (i % 7) as f32 - 2.5).collect();
        let expected: Vec<f32> = (0..3).map(|j| (0..5).map(|r| c[r * 3 + j]).sum()).collect();
        let c = Tensor::<2>::from_data(TensorData::new(c, [5, 3]), &device);
        let grads = (ours * c).sum().backward();
        let bias = layer.bias.as_ref().expect("a bias");
        let got = bias
            .grad(&grads)
            .expect("the bias gets a gradient")
            .try_into_vec_as::<f32>()
            .expect("f32");
        for (g, e) in got.iter().zip(&expected) {
            assert!(
                (g - e).abs() < 1e-5,
                "bias gradient {got:?} != {expected:?}"
            );
        }
    }

    /// Weights of a dense layer as `[d_in][d_out]`.
    fn weights(layer: &Linear) -> Vec<Vec<f32>> {
        let [d_in, d_out] = layer.weight.val().dims();
        let flat = layer.weight.val().try_into_vec_as::<f32>().expect("f32");
        (0..d_in)
            .map(|i| flat[i * d_out..(i + 1) * d_out].to_vec())
            .collect()
    }

    #[test]
    fn shared_seeding_starts_a_linear_focus_at_the_classifiers_first_row() {
        #[allow(deprecated)] // ndarray is this crate's reference CPU backend
        let device = Device::ndarray();
        let focus = FocusConfig {
            conv: Vec::new(),
            hidden: Vec::new(),
            bias: true,
            init: FocusInit::Default,
        };
        let classifier = ClassifierConfig {
            conv: Vec::new(),
            global_pool: false,
            hidden: Vec::new(),
            bias: true,
            init: ClassifierInit::Default,
        };
        let build = |seeding| {
            let f = FocusNet::new(&focus, &[6], 11, seeding, &device);
            let g = ClassifierNet::new(&classifier, &[6], 3, 11, seeding, &device);
            (weights(&f.output), weights(&g.output))
        };
        // The paper's code: the focus weight column equals the classifier's column for class 0
        // (PyTorch's first row), because both draw the same first 6 numbers.
        let (f, g) = build(InitSeeding::Shared);
        let focus_column: Vec<f32> = f.iter().map(|row| row[0]).collect();
        let class0: Vec<f32> = g.iter().map(|row| row[0]).collect();
        assert_eq!(focus_column, class0);
        let class1: Vec<f32> = g.iter().map(|row| row[1]).collect();
        assert_ne!(class0, class1, "the other classes are further draws");
        // Independent streams: no such coincidence.
        let (f, g) = build(InitSeeding::Independent);
        let focus_column: Vec<f32> = f.iter().map(|row| row[0]).collect();
        for class in 0..3 {
            let column: Vec<f32> = g.iter().map(|row| row[class]).collect();
            assert_ne!(focus_column, column, "class {class}");
        }
    }

    #[test]
    fn out_in_order_transposes_the_same_draws() {
        let draw = |order| {
            DenseParams::draw_in_order(
                4,
                3,
                false,
                LayerInit::TorchDefault,
                order,
                &mut network_rng(5, 0),
            )
            .weight
        };
        let (in_out, out_in) = (draw(DrawOrder::InOut), draw(DrawOrder::OutIn));
        // The k-th draw sits at [k / 3][k % 3] in sdc's order and at [k % 4][k / 4] in PyTorch's.
        for k in 0..12 {
            assert_eq!(out_in[(k % 4) * 3 + k / 4], in_out[k], "draw {k}");
        }
    }

    #[test]
    fn tanh_matches_libm_with_finite_gradients_everywhere() {
        #[allow(deprecated)] // ndarray is this crate's reference CPU backend
        let device = Device::ndarray().autodiff();
        let xs: Vec<f32> = vec![
            -1e4, -50.0, -20.5, -3.0, -0.5, -1e-3, 0.0, 1e-6, 0.3, 2.0, 19.9, 25.0, 1e4,
        ];
        let x =
            Tensor::<1>::from_data(TensorData::new(xs.clone(), [xs.len()]), &device).require_grad();
        let y = tanh(x.clone());
        let got = y.clone().try_into_vec_as::<f32>().expect("f32");
        let grads = y.sum().backward();
        let dx = x
            .grad(&grads)
            .expect("x requires grad")
            .try_into_vec_as::<f32>()
            .expect("f32");
        for ((&x, &y), &g) in xs.iter().zip(&got).zip(&dx) {
            let exact = f64::from(x).tanh();
            assert!(
                (f64::from(y) - exact).abs() < 2e-7,
                "tanh({x}) = {y}, libm {exact}"
            );
            let slope = 1.0 - exact * exact;
            assert!(
                g.is_finite() && (f64::from(g) - slope).abs() < 1e-6,
                "tanh'({x}) = {g}, exact {slope}"
            );
        }
    }
}
