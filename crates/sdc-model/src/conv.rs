//! Convolutional layers of the image networks (docs/paper-notes.md, Model, "CIFAR focus / classification CNN").
//!
//! A [`ConvLayerConfig`] is one `conv -> [BatchNorm] -> ReLU -> [max-pool]` block. BatchNorm
//! here always normalises with the statistics of the batch it sees, in training and in
//! evaluation alike, as the paper's `track_running_stats=False` layers do: evaluate in batches
//! of the training size to match its numbers.

use burn::module::{Module, Param};
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::tensor::{Device, Tensor, TensorData, activation};
use rand::rngs::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::InvalidValue;
use crate::init::{LayerInit, draw_conv};
use crate::kernels;

/// One convolutional block as written in a config file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConvLayerConfig {
    /// Output channels.
    pub channels: usize,
    /// Square kernel side (stride 1).
    #[serde(default = "default_kernel")]
    pub kernel: usize,
    /// Zero padding on every side.
    #[serde(default)]
    pub padding: usize,
    /// BatchNorm (batch statistics, learnt scale and shift) between the convolution and ReLU.
    #[serde(default)]
    pub batch_norm: bool,
    /// Max-pool kernel (= stride) after ReLU; 0 for none.
    #[serde(default)]
    pub pool: usize,
    /// Zero padding of the max-pool (PyTorch's `MaxPool2d(padding=..)`).
    #[serde(default)]
    pub pool_padding: usize,
}

fn default_kernel() -> usize {
    3
}

/// `[channels, height, width]` of an image-shaped activation.
pub type ImageShape = [usize; 3];

impl ConvLayerConfig {
    /// Shape right after the convolution (the `tanh` feature of averaging at this layer) and
    /// after the block (pooled), or a message when the input is too small.
    pub fn shapes(&self, input: ImageShape) -> Result<(ImageShape, ImageShape), String> {
        let [_, h, w] = input;
        let conv = |side: usize| (side + 2 * self.padding).checked_sub(self.kernel - 1);
        let (Some(ch), Some(cw)) = (conv(h), conv(w)) else {
            return Err(format!(
                "a {}x{} kernel with padding {} does not fit a {h}x{w} input",
                self.kernel, self.kernel, self.padding
            ));
        };
        if ch == 0 || cw == 0 {
            return Err(format!("the convolution leaves a {ch}x{cw} output"));
        }
        let after_conv = [self.channels, ch, cw];
        if self.pool == 0 {
            return Ok((after_conv, after_conv));
        }
        if 2 * self.pool_padding > self.pool {
            return Err(format!(
                "pool_padding {} must be at most half the pool kernel {}",
                self.pool_padding, self.pool
            ));
        }
        let pool = |side: usize| {
            (side + 2 * self.pool_padding)
                .checked_sub(self.pool)
                .map(|s| s / self.pool + 1)
        };
        match (pool(ch), pool(cw)) {
            (Some(ph), Some(pw)) => Ok((after_conv, [self.channels, ph, pw])),
            _ => Err(format!(
                "a max-pool of {} does not fit the {ch}x{cw} convolution output",
                self.pool
            )),
        }
    }

    /// Checks the values that need no input shape.
    pub fn validate(&self) -> Result<(), InvalidValue> {
        if self.channels == 0 {
            return Err(InvalidValue::new("channels", 0, ">= 1"));
        }
        if self.kernel == 0 {
            return Err(InvalidValue::new("kernel", 0, ">= 1"));
        }
        Ok(())
    }
}

/// Shapes through a stack of blocks: for every block, its convolution output and its pooled
/// output. Errors name the block (1-based).
pub fn stack_shapes(
    layers: &[ConvLayerConfig],
    input: ImageShape,
) -> Result<Vec<(ImageShape, ImageShape)>, String> {
    let mut shape = input;
    let mut out = Vec::with_capacity(layers.len());
    for (i, layer) in layers.iter().enumerate() {
        layer
            .validate()
            .map_err(|m| format!("layer {}: {m}", i + 1))?;
        let shapes = layer
            .shapes(shape)
            .map_err(|m| format!("layer {} (input {:?}): {m}", i + 1, shape))?;
        shape = shapes.1;
        out.push(shapes);
    }
    Ok(out)
}

/// BatchNorm over `[n, c, h, w]` that always uses the batch's own mean and (biased) variance.
#[derive(Module, Debug)]
pub struct BatchStatNorm {
    /// Per-channel scale, starts at 1.
    pub gamma: Param<Tensor<1>>,
    /// Per-channel shift, starts at 0.
    pub beta: Param<Tensor<1>>,
}

/// PyTorch's BatchNorm epsilon.
const BN_EPS: f64 = 1e-5;

impl BatchStatNorm {
    fn new(channels: usize, device: &Device) -> Self {
        Self {
            gamma: Param::from_tensor(Tensor::ones([channels], device)),
            beta: Param::from_tensor(Tensor::zeros([channels], device)),
        }
    }

    /// Normalises each channel with the statistics of this batch.
    ///
    /// The statistics are sums over the contiguous pixels, then over the batch, of `[n, c, h*w]`
    /// kept in place (per-channel values broadcast as `[1, c, 1]`): no transposed copy of the
    /// activations forward or backward.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [n, c, h, w] = x.dims();
        let count = (n * h * w) as f64;
        let flat = x.reshape([n, c, h * w]);
        let per_channel = |t: Tensor<3>| t.sum_dim(2).sum_dim(0).div_scalar(count);
        let mean = per_channel(flat.clone());
        let centered = flat - mean;
        let var = per_channel(centered.clone().square());
        let scale = var.add_scalar(BN_EPS).sqrt().recip() * self.gamma.val().reshape([1, c, 1]);
        let scaled = centered * scale + self.beta.val().reshape([1, c, 1]);
        scaled.reshape([n, c, h, w])
    }
}

/// A stride-1 square convolution with zero `padding` on every side, as im2col and one matrix
/// product: `[n, c, h, w]` with weights `[o, c, k, k]` -> `[n, o, h', w']`.
///
/// Burn's `conv2d` on ndarray runs direct loops, and its backward pass a transposed convolution
/// of the same kind: 93% of a mosaic-CNN training step under callgrind. Here the patch matrix
/// `[n, c k k, h' w']` is built once (`kernels::im2col`: on flex and ndarray one pass over the
/// unpadded input, its backward pass one pass adding the patch gradient back) and one product
/// with the weights `[o, c k k]` gives the output in its own layout. The bias is added
/// broadcast over the pixels.
pub fn conv2d_gemm(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    padding: usize,
) -> Tensor<4> {
    conv2d_gemm_within(x, weight, bias, padding, PATCH_BYTES_MAX)
}

/// [`conv2d_gemm`] building patch matrices of at most `max_bytes` (one sample's at least).
fn conv2d_gemm_within(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    padding: usize,
    max_bytes: usize,
) -> Tensor<4> {
    let [_, c, k, _] = weight.dims();
    let [n, _, h, w] = x.dims();
    let (ho, wo) = (h + 2 * padding + 1 - k, w + 2 * padding + 1 - k);
    let patch_bytes = n * c * k * k * ho * wo * x.dtype().size();
    let chunks = patch_bytes.div_ceil(max_bytes).clamp(1, n);
    if chunks == 1 {
        return im2col_product(x, weight, bias, padding);
    }
    // Each sample's output is its own matrix product, so splitting the batch changes no value.
    let per_chunk = n.div_ceil(chunks);
    let outputs = (0..n)
        .step_by(per_chunk)
        .map(|start| {
            let end = (start + per_chunk).min(n);
            let part = x.clone().slice([start..end, 0..c, 0..h, 0..w]);
            im2col_product(part, weight.clone(), bias.clone(), padding)
        })
        .collect();
    Tensor::cat(outputs, 0)
}

/// The largest patch matrix [`conv2d_gemm`] builds at once (512 MiB); a larger batch is
/// convolved in parts, which changes no output (the weight gradient sums the parts in another
/// order). It bounds a convolution's memory: at the paper's batch of 250, the CIFAR-10 focus
/// network's second convolution (2,250 tiles) would build a 2.03 GB patch matrix and the
/// classifier's second one 1.18 GB. Every config in configs/ but CIFAR-10's stays under the
/// limit at its batch size, so their results are unchanged.
pub const PATCH_BYTES_MAX: usize = 512 << 20;

/// [`conv2d_gemm`] of one patch matrix.
fn im2col_product(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    padding: usize,
) -> Tensor<4> {
    if let Some(bias) = &bias
        && kernels::on_cpu(&x)
    {
        return kernels::conv_bias(x, weight, bias.clone(), padding);
    }
    let [o, c, k, _] = weight.dims();
    let [n, _, h, w] = x.dims();
    let (ho, wo) = (h + 2 * padding + 1 - k, w + 2 * padding + 1 - k);
    let cols = kernels::im2col(x, k, padding);
    // [1, o, c*k*k] x [n, c*k*k, h'*w'] -> [n, o, h'*w']: already the output's layout, so no
    // transposed copy on the way out, nor of the gradient on the way back.
    let mut out = weight.reshape([1, o, c * k * k]).matmul(cols);
    if let Some(bias) = bias {
        out = out + bias.reshape([1, o, 1]);
    }
    out.reshape([n, o, ho, wo])
}

/// One `conv -> [BatchNorm] -> ReLU -> [max-pool]` block.
#[derive(Module, Debug)]
pub struct ConvBlock {
    /// The convolution (stride 1).
    pub conv: Conv2d,
    /// BatchNorm with batch statistics, if configured.
    pub norm: Option<BatchStatNorm>,
    /// Max-pool kernel (= stride), 0 for none.
    #[module(skip)]
    pub pool: usize,
    /// Max-pool padding.
    #[module(skip)]
    pub pool_padding: usize,
}

impl ConvBlock {
    /// Draws a block's parameters from `rng` on the host and builds it on `device`.
    pub(crate) fn new(
        config: &ConvLayerConfig,
        c_in: usize,
        bias: bool,
        init: LayerInit,
        rng: &mut ChaCha8Rng,
        device: &Device,
    ) -> Self {
        let k = config.kernel;
        let (weight, bias_values) = draw_conv(c_in, config.channels, k, bias, init, rng);
        let weight = Tensor::<4>::from_data(
            TensorData::new(weight, [config.channels, c_in, k, k]),
            device,
        );
        let bias = bias_values.map(|b| {
            Param::from_tensor(Tensor::<1>::from_data(
                TensorData::new(b, [config.channels]),
                device,
            ))
        });
        let p = config.padding;
        let conv = Conv2d {
            weight: Param::from_tensor(weight),
            bias,
            stride: [1, 1],
            kernel_size: [k, k],
            dilation: [1, 1],
            groups: 1,
            padding: PaddingConfig2d::Explicit(p, p, p, p),
        };
        Self {
            conv,
            norm: config
                .batch_norm
                .then(|| BatchStatNorm::new(config.channels, device)),
            pool: config.pool,
            pool_padding: config.pool_padding,
        }
    }

    /// The block's output and the convolution's raw output (before BatchNorm and ReLU).
    pub fn forward_with_pre(&self, x: Tensor<4>) -> (Tensor<4>, Tensor<4>) {
        // Blocks are built with symmetric `Explicit` padding; `Same` keeps the size of a
        // stride-1 odd kernel.
        let padding = match self.conv.padding {
            PaddingConfig2d::Explicit(p, ..) => p,
            PaddingConfig2d::Valid => 0,
            PaddingConfig2d::Same => self.conv.kernel_size[0] / 2,
        };
        let pre = conv2d_gemm(
            x,
            self.conv.weight.val(),
            self.conv.bias.as_ref().map(|b| b.val()),
            padding,
        );
        let mut out = match &self.norm {
            Some(norm) => {
                let (gamma, beta) = (norm.gamma.val(), norm.beta.val());
                let (pool, padding) = (self.pool, self.pool_padding);
                // On the CPU, one operation with the pool.
                if let Some(out) =
                    kernels::batch_norm_relu(pre.clone(), gamma, beta, BN_EPS, pool, padding)
                {
                    return (out, pre);
                }
                activation::relu(norm.forward(pre.clone()))
            }
            None => activation::relu(pre.clone()),
        };
        if self.pool > 0 {
            out = kernels::max_pool(out, self.pool, self.pool_padding);
        }
        (out, pre)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::init::network_rng;

    #[allow(deprecated)] // ndarray is this crate's reference CPU backend
    fn device() -> Device {
        Device::ndarray()
    }

    fn layer(channels: usize, padding: usize, pool: usize, pool_padding: usize) -> ConvLayerConfig {
        ConvLayerConfig {
            channels,
            kernel: 3,
            padding,
            batch_norm: true,
            pool,
            pool_padding,
        }
    }

    #[test]
    fn paper_focus_cnn_shapes_on_cifar_tiles() {
        // docs/paper-notes.md, Model: conv3 gives 64x12x12, conv6 256x3x3, the stack ends at 256x1x1.
        let layers = [
            layer(32, 0, 0, 0),
            layer(64, 0, 2, 0),
            layer(64, 0, 0, 0),
            layer(128, 0, 2, 0),
            layer(256, 0, 0, 0),
            layer(256, 1, 2, 0),
        ];
        let shapes = stack_shapes(&layers, [3, 32, 32]).expect("fits");
        assert_eq!(shapes[2].0, [64, 12, 12]);
        assert_eq!(shapes[5].0, [256, 3, 3]);
        assert_eq!(shapes[5].1, [256, 1, 1]);
    }

    #[test]
    fn paper_classifier_cnn_pools_with_padding() {
        let layers = [
            layer(128, 1, 0, 0),
            layer(128, 1, 2, 1),
            layer(256, 1, 0, 0),
            layer(256, 1, 2, 1),
        ];
        let shapes = stack_shapes(&layers, [3, 32, 32]).expect("fits");
        assert_eq!(shapes[1].1, [128, 17, 17]);
        assert_eq!(shapes[3].1, [256, 9, 9]);
    }

    #[test]
    fn a_stack_too_deep_for_its_input_is_refused_by_layer() {
        // 8 -> conv 6 -> pool 3 -> conv 1 -> conv: nothing left.
        let layers = [layer(8, 0, 2, 0), layer(8, 0, 0, 0), layer(8, 0, 0, 0)];
        let err = stack_shapes(&layers, [1, 8, 8]).expect_err("too small");
        assert!(err.contains("layer 3"), "{err}");
    }

    #[test]
    fn batch_norm_uses_the_batch_statistics() {
        let device = device();
        let norm = BatchStatNorm::new(2, &device);
        let values: Vec<f32> = (0..2 * 2 * 3 * 3).map(|i| (i * i % 17) as f32).collect();
        let x = Tensor::<4>::from_data(TensorData::new(values, [2, 2, 3, 3]), &device);
        let y = norm.forward(x).try_into_vec_as::<f32>().expect("f32");
        for c in 0..2 {
            let channel: Vec<f32> = (0..2)
                .flat_map(|n| y[(n * 2 + c) * 9..(n * 2 + c + 1) * 9].to_vec())
                .collect();
            let mean = channel.iter().sum::<f32>() / 18.0;
            let var = channel.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / 18.0;
            assert!(mean.abs() < 1e-5, "channel {c} mean {mean}");
            assert!((var - 1.0).abs() < 1e-3, "channel {c} variance {var}");
        }
    }

    #[test]
    fn block_output_has_the_computed_shape() {
        let device = device();
        let config = layer(4, 1, 2, 1);
        let block = ConvBlock::new(
            &config,
            3,
            true,
            LayerInit::TorchDefault,
            &mut network_rng(0, 1),
            &device,
        );
        let x = Tensor::<4>::ones([2, 3, 8, 8], &device);
        let (out, pre) = block.forward_with_pre(x);
        let (conv_shape, pooled) = config.shapes([3, 8, 8]).expect("fits");
        assert_eq!(pre.dims()[1..], conv_shape);
        assert_eq!(out.dims()[1..], pooled);
    }

    #[test]
    fn a_batch_convolved_in_parts_gives_the_same_values_and_gradients() {
        let device = Device::flex().autodiff();
        let mut rng = network_rng(3, 1);
        let config = layer(4, 1, 0, 0);
        let block = ConvBlock::new(&config, 2, true, LayerInit::TorchDefault, &mut rng, &device);
        let values: Vec<f32> = (0..5 * 2 * 7 * 6)
            .map(|i| ((i * 29 % 31) as f32 - 15.0) / 9.0)
            .collect();
        let x =
            Tensor::<4>::from_data(TensorData::new(values, [5, 2, 7, 6]), &device).require_grad();
        let w = block.conv.weight.val();
        let b = block.conv.bias.as_ref().map(|b| b.val());
        // One sample's padded patch matrix: 2 * 9 * 7 * 6 floats = 3,024 bytes; at 7,000
        // bytes the 5 samples go in 3 parts of 2, 2 and 1.
        let whole = conv2d_gemm_within(x.clone(), w.clone(), b.clone(), 1, usize::MAX);
        let parts = conv2d_gemm_within(x.clone(), w.clone(), b, 1, 7_000);
        let bits = |t: Tensor<4>| t.try_into_vec_as::<f32>().expect("f32");
        assert_eq!(bits(parts.clone()), bits(whole.clone()));
        let g_whole = whole.sum().backward();
        let g_parts = parts.sum().backward();
        // Each sample's input gradient is its own; the weight gradient sums over the samples,
        // part by part, so it may differ at float rounding.
        let grads = |t: &Tensor<4>| {
            let g = |grads| bits(t.grad(grads).expect("a gradient"));
            (g(&g_parts), g(&g_whole))
        };
        let (parts, whole) = grads(&x);
        assert_eq!(parts, whole);
        let (parts, whole) = grads(&w);
        for (a, b) in parts.iter().zip(&whole) {
            assert!((a - b).abs() <= 1e-5 * b.abs().max(1.0), "{a} vs {b}");
        }
    }

    #[test]
    fn gemm_convolution_matches_burn_conv2d_and_its_gradients() {
        #[allow(deprecated)] // ndarray is this crate's reference CPU backend
        let ndarray = Device::ndarray().autodiff();
        let flex = Device::flex().autodiff();
        for (device, (padding, bias)) in [ndarray, flex].into_iter().flat_map(|device| {
            [(0, true), (1, true), (1, false), (2, true)].map(|case| (device.clone(), case))
        }) {
            let config = ConvLayerConfig {
                channels: 3,
                kernel: 3,
                padding,
                batch_norm: false,
                pool: 0,
                pool_padding: 0,
            };
            let mut rng = network_rng(5, 1);
            let block =
                ConvBlock::new(&config, 2, bias, LayerInit::TorchDefault, &mut rng, &device);
            let values: Vec<f32> = (0..2 * 2 * 6 * 5)
                .map(|i| ((i * 37 % 23) as f32 - 11.0) / 7.0)
                .collect();
            let x = Tensor::<4>::from_data(TensorData::new(values, [2, 2, 6, 5]), &device)
                .require_grad();
            let coefficients = |shape: [usize; 4]| {
                let len = shape.iter().product::<usize>();
                let c: Vec<f32> = (0..len)
                    .map(|i| ((i * 13 % 17) as f32 - 8.0) / 5.0)
                    .collect();
                Tensor::<4>::from_data(TensorData::new(c, shape), &device)
            };

            let reference = block.conv.forward(x.clone());
            let ours = block.forward_with_pre(x.clone()).1;
            assert_eq!(ours.dims(), reference.dims(), "padding {padding}");
            let c = coefficients(ours.dims());
            let close = |a: Tensor<4>, b: Tensor<4>, what: &str| {
                let a = a.try_into_vec_as::<f32>().expect("f32");
                let b = b.try_into_vec_as::<f32>().expect("f32");
                for (x, y) in a.iter().zip(&b) {
                    assert!(
                        (x - y).abs() < 1e-4,
                        "{what}, padding {padding}: {x} vs {y}"
                    );
                }
            };
            close(ours.clone(), reference.clone(), "outputs");

            let g_ours = (ours * c.clone()).sum().backward();
            let g_ref = (reference * c).sum().backward();
            let grad = |g: &burn::tensor::Gradients, t: &Tensor<4>| t.grad(g).expect("a gradient");
            close(grad(&g_ours, &x), grad(&g_ref, &x), "input gradient");
            let w = block.conv.weight.val();
            close(grad(&g_ours, &w), grad(&g_ref, &w), "weight gradient");
            if let Some(b) = &block.conv.bias {
                let (a, r) = (
                    b.grad(&g_ours).expect("bias gradient"),
                    b.grad(&g_ref).expect("bias gradient"),
                );
                close(
                    a.reshape([1, 1, 1, 3]),
                    r.reshape([1, 1, 1, 3]),
                    "bias gradient",
                );
            }
        }
    }
}
