//! sdc's own CPU kernels: operations with hand-written CPU implementations and backward
//! passes, where Burn's generic operations take many passes over memory.
//!
//! For the image networks: built from Burn's generic operations, a convolution's patch matrix
//! is `k*k` strided slices of a padded copy stacked together, and each slice's backward pass a
//! zero tensor the size of the input with the gradient assigned into it; Burn's max-pool keeps
//! an `i64` index per output. On the CPU backends (flex and ndarray) these are single passes
//! over memory instead: [`im2col`] builds the patch matrix straight from the unpadded input and
//! its backward pass adds the patch gradient back ([`host::col2im`]); [`max_pool`] keeps no
//! indices and its backward pass finds each window's maximum again; [`batch_norm_relu`] is
//! BatchNorm with the batch's statistics and ReLU in three passes forward and two backward,
//! where Burn's operations took seven passes forward and more backward. A block's max-pool
//! runs inside [`batch_norm_relu`], one plane at a time (`norm.rs`): the output before pooling
//! is never stored whole, and the backward pass routes each pooled gradient to the input its
//! window chose (a choice per window, kept from the forward pass) in one plane of scratch
//! memory, with the same bits as the two kernels one after the other.
//!
//! For the MLP networks: [`dense_features`], a dense layer (and its ReLU) in feature-major layout
//! with a fixed order of roundings (`dense.rs`), for a single model and a replica batch alike,
//! and [`swap_last`], a transpose copied once.
//!
//! For the attention head of every model: [`softmax`] over each sample's segments and the
//! weighted average of its vectors, row-major ([`weighted_average`]) or feature-major
//! ([`weighted_average_features`], a replica batch's), each one pass with a fixed order of
//! roundings (`attend.rs`), where Burn's operations took a dozen passes and more backward.
//!
//! For every network: [`tanh`] (the features of averaging at a hidden layer) and
//! [`adam_step`] (one optimiser step of one parameter) replace seven and about a dozen
//! element-wise operations with one pass each, and compute the very same bits as those
//! operations: the same roundings in the same order. tanh's `exp` in `f32` is the C library's
//! `expf` algorithm, vectorised, with the library's bits (`expf.rs`).
//!
//! Other backends (wgpu) build the same values from Burn's operations. The operations are a
//! Burn backend extension (`#[backend_extension]`): the Flex and NdArray implementations run
//! [`host`]'s kernels, and the Autodiff one records the backward pass. Both CPU backends run
//! the same kernels, so they give the same values bit for bit.

// NdArray is deprecated in Burn 0.22 and still one of sdc's backends (`train.backend`).
#![allow(deprecated)]

mod attend;
mod autodiff;
mod backends;
mod convolution;
mod dense;
mod expf;
mod halves;
mod host;
mod norm;

use burn::backend::{Backend, DType, Dispatch, backend_extension, tensor::FloatTensor};
use burn::backend::{DispatchDevice, DispatchTensor};
use burn::tensor::ops::{MaxPoolOptions, PadMode};
use burn::tensor::{Tensor, module::max_pool2d};

pub use convolution::ConvGeometry;
pub use host::AdamScalars;

/// Operations with hand-written CPU kernels and backward passes.
#[backend_extension(Flex, NdArray, Autodiff)]
pub(crate) trait KernelOps: Backend {
    /// `[n, c, h, w]` -> the patch matrix `[n, c k k, h' w']` of a stride-1 convolution with
    /// `padding` zeros on every side.
    fn im2col(x: FloatTensor<Self>, kernel: usize, padding: usize) -> FloatTensor<Self>;

    /// The adjoint of `im2col`: `[n, c k k, h' w']` -> `[n, c, h, w]`.
    fn col2im(
        cols: FloatTensor<Self>,
        channels: usize,
        height: usize,
        width: usize,
        kernel: usize,
        padding: usize,
    ) -> FloatTensor<Self>;

    /// Max-pooling, stride = kernel, `padding` ignored (floor mode).
    fn max_pool(x: FloatTensor<Self>, kernel: usize, padding: usize) -> FloatTensor<Self>;

    /// The input gradient of `max_pool` given its input and output gradient.
    fn max_pool_backward(
        x: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        kernel: usize,
        padding: usize,
    ) -> FloatTensor<Self>;

    /// BatchNorm of `[n, c, h, w]` with the batch's statistics, then ReLU, then, when `pool`
    /// is not 0, max-pooling with kernel (= stride) `pool` and `pool_padding` ignored (at most
    /// `host::MAX_CHOICE_KERNEL`). Returns the output, the statistics `[2, c]` (mean,
    /// `1 / sqrt(var + eps)`) and each pool window's choice (`[n, c, h', w']`; empty without a
    /// pool) for the backward pass.
    fn batch_norm_relu(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        eps: f64,
        pool: usize,
        pool_padding: usize,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);

    /// The gradients `(dx, dgamma, dbeta)` of `batch_norm_relu` from its input, statistics,
    /// choices and output gradient.
    #[allow(clippy::too_many_arguments)] // the forward pass's inputs, what it saved, the pool
    fn batch_norm_relu_backward(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        stats: FloatTensor<Self>,
        choice: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        pool: usize,
        pool_padding: usize,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);

    /// `conv2d(x, weight) + bias` (`[n, c, h, w]`, `[o, c, k, k]`, `[o]`; stride 1, `padding`
    /// zeros): the output, and the input and the weights as `[1, o, c k k]` that the backward
    /// pass needs (`convolution.rs`).
    fn conv_bias(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        padding: usize,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);

    /// The gradients `(dx, dweight, dbias)` of `conv_bias` from its input, weights and output
    /// gradient; `dx` is an empty tensor unless `want_x`.
    fn conv_bias_backward(
        input: FloatTensor<Self>,
        weight_rows: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        geometry: ConvGeometry,
        want_x: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);

    /// A dense layer of `r` models in feature-major layout (`dense.rs`): inputs `[r, i, n]`,
    /// weights `[r, i, o]`, bias `[r, 1, o]` -> outputs `[r, o, n]`, followed by ReLU when
    /// `relu`.
    fn dense(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        relu: bool,
    ) -> FloatTensor<Self>;

    /// The gradients `(dx, dweight, dbias)` of `dense` from its inputs, weights, output and
    /// output gradient (`output` is read only with `relu`, to mask the gradient as ReLU's
    /// backward pass does); `dx` is an empty tensor unless `want_x`.
    fn dense_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        output: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        want_x: bool,
        relu: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);

    /// `[r, a, b]` -> `[r, b, a]`, contiguous (a transposed view that several kernels read is
    /// copied once, not by each).
    fn swap_last(x: FloatTensor<Self>) -> FloatTensor<Self>;

    /// The softmax of each row of `z` (its last axis), in `attend.rs`'s order of roundings.
    fn softmax_rows(z: FloatTensor<Self>) -> FloatTensor<Self>;

    /// The score gradient of `softmax` from its scores, weights and the weights' gradient.
    fn softmax_rows_backward(
        z: FloatTensor<Self>,
        alpha: FloatTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> FloatTensor<Self>;

    /// The weighted average of each sample's segment vectors (`attend.rs`): weights `[n, m]`
    /// and vectors `[n, m, w]` -> `[n, w]`, or, `feature_major`, weights `[r, b, m]` and
    /// vectors `[r, w, b m]` -> `[r, w, b]`.
    fn weighted_average(
        alpha: FloatTensor<Self>,
        x: FloatTensor<Self>,
        feature_major: bool,
    ) -> FloatTensor<Self>;

    /// The gradients `(dalpha, dx)` of `weighted_average`; each an empty tensor unless `want`
    /// says so.
    fn weighted_average_backward(
        alpha: FloatTensor<Self>,
        x: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        feature_major: bool,
        want: [bool; 2],
    ) -> (FloatTensor<Self>, FloatTensor<Self>);

    /// `tanh` as `1 - 2 / (exp(2 clamp(x, -20, 20)) + 1)`, element by element, any shape.
    fn tanh(x: FloatTensor<Self>) -> FloatTensor<Self>;

    /// `tanh(x)` and `exp(2 clamp(x, -20, 20))`, which its backward pass reuses.
    fn tanh_keeping_exp(x: FloatTensor<Self>) -> (FloatTensor<Self>, FloatTensor<Self>);

    /// One Adam step of one parameter (burn-optim's `Adam`, element by element): the new
    /// parameter and moments. With `first`, there are no moments yet and `m1`, `m2` are
    /// ignored.
    fn adam_step(
        param: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        m1: FloatTensor<Self>,
        m2: FloatTensor<Self>,
        first: bool,
        scalars: AdamScalars,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);

    /// The input gradient of `tanh` given its input, `tanh_keeping_exp`'s exponentials and the
    /// output gradient.
    fn tanh_backward(
        x: FloatTensor<Self>,
        exp2: FloatTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> FloatTensor<Self>;
}

/// Whether `device` runs [`KernelOps`] (flex or ndarray, with or without autodiff).
fn has_cpu_kernels(device: &burn::tensor::Device) -> bool {
    matches!(
        device.as_dispatch().clone().inner(),
        DispatchDevice::Flex(_) | DispatchDevice::NdArray(_)
    )
}

/// Whether a tensor on `device` of `dtype` runs the CPU kernels.
fn use_kernels(device: &burn::tensor::Device, dtype: DType) -> bool {
    matches!(dtype, DType::F32 | DType::F64) && has_cpu_kernels(device)
}

/// The patch matrix `[n, c k k, h' w']` of a stride-1 convolution over `x` with `padding`
/// zeros on every side (row `(ci k + di) k + dj` matches the weights' `[o, c, k, k]` layout).
pub(crate) fn im2col(x: Tensor<4>, kernel: usize, padding: usize) -> Tensor<3> {
    windowed(
        x,
        kernel,
        padding,
        <Dispatch as KernelOps>::im2col,
        im2col_composed,
    )
}

/// A window operation on `x`: the CPU kernel `op` where the device has one, else `composed`.
fn windowed<const D: usize>(
    x: Tensor<4>,
    kernel: usize,
    padding: usize,
    op: fn(DispatchTensor, usize, usize) -> DispatchTensor,
    composed: fn(Tensor<4>, usize, usize) -> Tensor<D>,
) -> Tensor<D> {
    if use_kernels(&x.device(), x.dtype()) {
        Tensor::from_dispatch(op(x.into_dispatch(), kernel, padding))
    } else {
        composed(x, kernel, padding)
    }
}

/// [`im2col`] from Burn's operations: `k*k` slices of the padded input, stacked.
fn im2col_composed(x: Tensor<4>, kernel: usize, padding: usize) -> Tensor<3> {
    let x = if padding > 0 {
        x.pad((padding, padding, padding, padding), PadMode::Constant(0.0))
    } else {
        x
    };
    let [n, c, h, w] = x.dims();
    let k = kernel;
    let (ho, wo) = (h + 1 - k, w + 1 - k);
    let slices = (0..k * k)
        .map(|i| {
            let (di, dj) = (i / k, i % k);
            x.clone().slice([0..n, 0..c, di..di + ho, dj..dj + wo])
        })
        .collect();
    // [n, c, k*k, h', w'] read as [n, c*k*k, h'*w']: the stack is already in that order.
    Tensor::stack::<5>(slices, 2).reshape([n, c * k * k, ho * wo])
}

/// Whether `x` runs the CPU kernels (flex or ndarray, `f32` or `f64`).
pub(crate) fn on_cpu(x: &Tensor<4>) -> bool {
    use_kernels(&x.device(), x.dtype())
}

/// `conv2d(x, weight) + bias` with stride 1 and `padding` zeros, as one operation with its
/// backward pass, for `x` that runs the CPU kernels ([`on_cpu`]): the values and gradients of
/// `im2col`, Burn's `matmul` and broadcast `+`, with the batch's halves at once on an idle
/// core.
pub(crate) fn conv_bias(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Tensor<1>,
    padding: usize,
) -> Tensor<4> {
    let (out, _, _) = <Dispatch as KernelOps>::conv_bias(
        x.into_dispatch(),
        weight.into_dispatch(),
        bias.into_dispatch(),
        padding,
    );
    Tensor::from_dispatch(out)
}

/// Max-pooling with stride equal to `kernel` and `padding` ignored (PyTorch's `MaxPool2d`).
pub(crate) fn max_pool(x: Tensor<4>, kernel: usize, padding: usize) -> Tensor<4> {
    windowed(
        x,
        kernel,
        padding,
        <Dispatch as KernelOps>::max_pool,
        max_pool_composed,
    )
}

/// [`max_pool`] as Burn's `max_pool2d`.
fn max_pool_composed(x: Tensor<4>, kernel: usize, padding: usize) -> Tensor<4> {
    let options = MaxPoolOptions::new([kernel, kernel]).with_padding([padding, padding]);
    max_pool2d(x, options)
}

/// `relu(batch_norm(x))` with the batch's statistics (`BatchStatNorm`'s), `gamma` and `beta`
/// per channel, then the max-pool `pool` (kernel = stride; 0 for none) with `pool_padding`
/// ignored: one operation on the CPU backends, `None` elsewhere. With a pool, the output
/// before pooling is computed one plane at a time and never stored whole
/// (`norm::batch_norm_relu_pool`).
pub(crate) fn batch_norm_relu(
    x: Tensor<4>,
    gamma: Tensor<1>,
    beta: Tensor<1>,
    eps: f64,
    pool: usize,
    pool_padding: usize,
) -> Option<Tensor<4>> {
    if !use_kernels(&x.device(), x.dtype()) {
        return None;
    }
    let fused = pool <= host::MAX_CHOICE_KERNEL;
    let (y, _, _) = <Dispatch as KernelOps>::batch_norm_relu(
        x.into_dispatch(),
        gamma.into_dispatch(),
        beta.into_dispatch(),
        eps,
        if fused { pool } else { 0 },
        pool_padding,
    );
    let y = Tensor::from_dispatch(y);
    Some(if fused || pool == 0 {
        y
    } else {
        max_pool(y, pool, pool_padding)
    })
}

/// `tanh(x)` as one operation on the CPU backends, with the values and gradient of
/// `nets::tanh`'s composition of Burn's operations, bit for bit; `None` elsewhere.
pub(crate) fn tanh<const D: usize>(x: Tensor<D>) -> Option<Tensor<D>> {
    if !use_kernels(&x.device(), x.dtype()) {
        return None;
    }
    Some(Tensor::from_dispatch(<Dispatch as KernelOps>::tanh(
        x.into_dispatch(),
    )))
}

/// A dense layer of `r` models in feature-major layout: inputs `[r, i, n]` (feature `k` of row
/// `j` at `[., k, j]`), weights `[r, i, o]`, bias `[r, 1, o]` -> `[r, o, n]`, that is
/// `w^T x + b` per model, followed by ReLU when `relu`. One operation with fixed roundings on
/// the CPU backends (`dense.rs`; its ReLU and ReLU's gradient are Burn's bits), Burn's matrix
/// product and `relu` elsewhere.
pub(crate) fn dense_features(
    x: Tensor<3>,
    weight: Tensor<3>,
    bias: Option<Tensor<3>>,
    relu: bool,
) -> Tensor<3> {
    let dtype = x.dtype();
    let same = weight.dtype() == dtype && bias.as_ref().is_none_or(|b| b.dtype() == dtype);
    if !(same && use_kernels(&x.device(), dtype)) {
        let out = weight.swap_dims(1, 2).matmul(x);
        let out = match bias {
            Some(b) => out + b.swap_dims(1, 2),
            None => out,
        };
        return if relu {
            burn::tensor::activation::relu(out)
        } else {
            out
        };
    }
    let bias = bias.unwrap_or_else(|| {
        let [r, _, o] = weight.dims();
        Tensor::zeros([r, 1, o], (&x.device(), dtype))
    });
    Tensor::from_dispatch(<Dispatch as KernelOps>::dense(
        x.into_dispatch(),
        weight.into_dispatch(),
        bias.into_dispatch(),
        relu,
    ))
}

/// `[r, a, b]` -> `[r, b, a]`: on the CPU backends a contiguous copy, made once (every CPU
/// kernel that reads a transposed view copies it first); Burn's `swap_dims` elsewhere.
pub(crate) fn swap_last(x: Tensor<3>) -> Tensor<3> {
    if !use_kernels(&x.device(), x.dtype()) {
        return x.swap_dims(1, 2);
    }
    Tensor::from_dispatch(<Dispatch as KernelOps>::swap_last(x.into_dispatch()))
}

/// Whether every tensor runs the CPU kernels, in one float type.
fn all_on_cpu<const D: usize, const E: usize>(a: &Tensor<D>, b: &Tensor<E>) -> bool {
    a.dtype() == b.dtype() && use_kernels(&a.device(), a.dtype())
}

/// The softmax of each row of scores `[n, m]` as one operation with its backward pass on the
/// CPU backends (`attend.rs`); `None` elsewhere.
pub(crate) fn softmax(z: Tensor<2>) -> Option<Tensor<2>> {
    if !use_kernels(&z.device(), z.dtype()) {
        return None;
    }
    Some(Tensor::from_dispatch(
        <Dispatch as KernelOps>::softmax_rows(z.into_dispatch()),
    ))
}

/// `sum_j alpha_j * features_j`: weights `[n, m]` and vectors `[n, m, w]` -> `[n, w]`, as one
/// operation on the CPU backends (`attend.rs`); `None` elsewhere.
pub(crate) fn weighted_average(alpha: Tensor<2>, features: Tensor<3>) -> Option<Tensor<2>> {
    if !all_on_cpu(&alpha, &features) {
        return None;
    }
    Some(Tensor::from_dispatch(
        <Dispatch as KernelOps>::weighted_average(
            alpha.into_dispatch(),
            features.into_dispatch(),
            false,
        ),
    ))
}

/// The weighted average in feature-major layout: weights `[r, b, m]` and vectors `[r, w, b m]`
/// (feature `f` of segment `j` of sample `i` at `[., f, i m + j]`) -> `[r, w, b]`, the layout
/// the MLP networks take. One operation on the CPU backends with the bits of
/// [`weighted_average`]; Burn's operations elsewhere.
pub(crate) fn weighted_average_features(alpha: Tensor<3>, x: Tensor<3>) -> Tensor<3> {
    if !all_on_cpu(&alpha, &x) {
        let [r, b, m] = alpha.dims();
        let [_, w, _] = x.dims();
        return (x.reshape([r, w, b, m]) * alpha.unsqueeze_dim::<4>(1))
            .sum_dim(3)
            .reshape([r, w, b]);
    }
    Tensor::from_dispatch(<Dispatch as KernelOps>::weighted_average(
        alpha.into_dispatch(),
        x.into_dispatch(),
        true,
    ))
}

/// One Adam step of a parameter without autodiff, `(param, m1, m2)`, as one operation on the
/// CPU backends, with the bits of burn-optim's `Adam`; `None` elsewhere. `moments`: the
/// moments of the previous steps (none on the first).
pub fn adam_step<const D: usize>(
    param: Tensor<D>,
    grad: Tensor<D>,
    moments: Option<(Tensor<D>, Tensor<D>)>,
    scalars: AdamScalars,
) -> Option<(Tensor<D>, Tensor<D>, Tensor<D>)> {
    let device = param.device();
    if device.is_autodiff()
        || !use_kernels(&device, param.dtype())
        || grad.dtype() != param.dtype()
        || moments
            .as_ref()
            .is_some_and(|(m1, m2)| m1.dtype() != param.dtype() || m2.dtype() != param.dtype())
    {
        return None;
    }
    let first = moments.is_none();
    let (m1, m2) = moments.unwrap_or_else(|| (grad.clone(), grad.clone()));
    let (p, m1, m2) = <Dispatch as KernelOps>::adam_step(
        param.into_dispatch(),
        grad.into_dispatch(),
        m1.into_dispatch(),
        m2.into_dispatch(),
        first,
        scalars,
    );
    Some((
        Tensor::from_dispatch(p),
        Tensor::from_dispatch(m1),
        Tensor::from_dispatch(m2),
    ))
}

/// `len` distinct-looking values in [-11/7, 11/7], varied by `salt`: the host loops' test inputs.
#[cfg(test)]
fn test_values(len: usize, salt: usize) -> Vec<f64> {
    (0..len)
        .map(|j| (((j * 37 + salt * 11) % 23) as f64 - 11.0) / 7.0)
        .collect()
}

#[cfg(test)]
mod tests;
