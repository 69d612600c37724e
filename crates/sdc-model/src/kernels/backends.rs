//! [`KernelOps`] on the CPU backends: how flex's and ndarray's tensors are read and written, and
//! each operation as a call of its [`host`] loop.

// NdArray is deprecated in Burn 0.22 and still one of sdc's backends (`train.backend`).
#![allow(deprecated)]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use burn::backend::NdArray;
use burn::backend::ndarray::NdArrayTensor;
use burn::backend::{Backend, DType, Flex, TensorData, tensor::FloatTensor};

use super::KernelOps;
use super::convolution::{self, ConvGeometry, Saved};
use super::dense::{self, DenseDims};
use super::host::{self, AdamScalars, Window};
use super::norm;

fn window(shape: &[usize], kernel: usize, padding: usize) -> Window {
    let [n, c, h, w] = shape[..] else {
        unreachable!("image kernels take [n, c, h, w] tensors, got {shape:?}")
    };
    Window {
        n,
        c,
        h,
        w,
        kernel,
        padding,
    }
}

/// A ready future's value: the CPU backends read their tensors synchronously.
fn ready<T>(future: impl Future<Output = T>) -> T {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(value) => value,
        Poll::Pending => unreachable!("a CPU backend's tensor read is never pending"),
    }
}

/// A CPU backend whose tensors the [`host`] kernels read and write.
trait Host: Backend {
    /// A tensor's values, contiguous (a clone shares them).
    type Values: Slices + Clone;
    /// Whether a convolution's products run in two halves of the batch (`convolution.rs`):
    /// on flex, whose batched `matmul` computes each sample's product alone.
    const SPLITS: bool;
    fn read(x: FloatTensor<Self>) -> Self::Values;
    fn write(data: TensorData) -> FloatTensor<Self>;
}

/// Contiguous values of a float tensor.
trait Slices {
    fn dtype(&self) -> DType;
    fn shape(&self) -> Vec<usize>;
    fn f32(&self) -> &[f32];
    fn f64(&self) -> &[f64];
}

impl Host for Flex {
    type Values = burn::backend::flex::FlexTensor;
    const SPLITS: bool = true;

    fn read(x: FloatTensor<Self>) -> Self::Values {
        // A strided view is copied; a contiguous tensor is read in place.
        if x.layout().contiguous_offsets().is_some() {
            x
        } else {
            x.to_contiguous()
        }
    }

    fn write(data: TensorData) -> FloatTensor<Self> {
        burn::backend::flex::FlexTensor::from_data(data)
    }
}

impl Slices for burn::backend::flex::FlexTensor {
    fn dtype(&self) -> DType {
        burn::backend::flex::FlexTensor::dtype(self)
    }
    fn shape(&self) -> Vec<usize> {
        self.layout().shape().to_vec()
    }
    fn f32(&self) -> &[f32] {
        self.as_slice().expect("a contiguous f32 tensor")
    }
    fn f64(&self) -> &[f64] {
        self.as_slice().expect("a contiguous f64 tensor")
    }
}

impl Host for NdArray {
    type Values = NdArrayTensor;
    const SPLITS: bool = false;

    fn read(x: FloatTensor<Self>) -> Self::Values {
        let standard = match &x {
            NdArrayTensor::F32(values) => values.view().is_standard_layout(),
            NdArrayTensor::F64(values) => values.view().is_standard_layout(),
            _ => true,
        };
        if standard {
            // Read in place: a tensor the graph keeps for the backward pass is shared, and
            // `into_data` would copy it element by element.
            return x;
        }
        let data =
            ready(<NdArray as burn::backend::ops::FloatTensorOps<NdArray>>::float_into_data(x))
                .expect("reading an ndarray tensor cannot fail");
        NdArrayTensor::from_data(data)
    }

    fn write(data: TensorData) -> FloatTensor<Self> {
        NdArrayTensor::from_data(data)
    }
}

impl Slices for NdArrayTensor {
    fn dtype(&self) -> DType {
        burn::backend::TensorMetadata::dtype(self)
    }
    fn shape(&self) -> Vec<usize> {
        burn::backend::TensorMetadata::shape(self).to_vec()
    }
    fn f32(&self) -> &[f32] {
        match self {
            NdArrayTensor::F32(values) => values.view().to_slice(),
            _ => None,
        }
        .expect("a standard-layout f32 tensor")
    }
    fn f64(&self) -> &[f64] {
        match self {
            NdArrayTensor::F64(values) => values.view().to_slice(),
            _ => None,
        }
        .expect("a standard-layout f64 tensor")
    }
}

/// Runs `$body` with `$name`s bound to the slices of one float type.
macro_rules! on_host {
    ($dtype:expr, |$($name:ident),+| $body:expr) => {
        match $dtype {
            DType::F32 => {
                $(let $name = $name.f32();)+
                $body
            }
            DType::F64 => {
                $(let $name = $name.f64();)+
                $body
            }
            other => unreachable!("image kernels run on f32 and f64 only, got {other:?}"),
        }
    };
}

fn data<E: burn::tensor::Element>(values: Vec<E>, shape: &[usize]) -> TensorData {
    TensorData::new(values, shape.to_vec())
}

/// The attention head's and the transpose's host calls (after `on_host!`, which they use).
mod attention;
use attention::{
    host_softmax, host_softmax_backward, host_swap_last, host_weighted_average,
    host_weighted_average_backward,
};

fn host_im2col<B: Host>(x: FloatTensor<B>, kernel: usize, padding: usize) -> FloatTensor<B> {
    let x = B::read(x);
    let g = window(&x.shape(), kernel, padding);
    let (ho, wo) = g.conv_out();
    let shape = [g.n, g.c * kernel * kernel, ho * wo];
    B::write(on_host!(x.dtype(), |x| data(host::im2col(x, g), &shape)))
}

fn host_col2im<B: Host>(
    cols: FloatTensor<B>,
    chw: [usize; 3],
    kernel: usize,
    padding: usize,
) -> FloatTensor<B> {
    let cols = B::read(cols);
    let [c, h, w] = chw;
    let shape = [cols.shape()[0], c, h, w];
    let g = window(&shape, kernel, padding);
    B::write(on_host!(cols.dtype(), |cols| data(
        host::col2im(cols, g),
        &shape
    )))
}

fn host_max_pool<B: Host>(x: FloatTensor<B>, kernel: usize, padding: usize) -> FloatTensor<B> {
    let x = B::read(x);
    let g = window(&x.shape(), kernel, padding);
    let (ho, wo) = g.pool_out();
    let shape = [g.n, g.c, ho, wo];
    B::write(on_host!(x.dtype(), |x| data(host::max_pool(x, g), &shape)))
}

fn host_max_pool_backward<B: Host>(
    x: FloatTensor<B>,
    grad: FloatTensor<B>,
    kernel: usize,
    padding: usize,
) -> FloatTensor<B> {
    let (x, grad) = (B::read(x), B::read(grad));
    let shape = x.shape();
    let g = window(&shape, kernel, padding);
    B::write(on_host!(x.dtype(), |x, grad| data(
        host::max_pool_backward(x, grad, g),
        &shape
    )))
}

fn planes(shape: &[usize]) -> norm::Planes {
    let [n, c, h, w] = shape[..] else {
        unreachable!("BatchNorm takes [n, c, h, w] tensors, got {shape:?}")
    };
    norm::Planes { n, c, hw: h * w }
}

/// The max-pool window that follows a BatchNorm-ReLU of `shape`, if any (`pool` 0: none).
fn pool_window(shape: &[usize], pool: usize, pool_padding: usize) -> Option<Window> {
    (pool > 0).then(|| window(shape, pool, pool_padding))
}

fn host_batch_norm_relu<B: Host>(
    x: FloatTensor<B>,
    gamma: FloatTensor<B>,
    beta: FloatTensor<B>,
    eps: f64,
    pool: [usize; 2],
) -> (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>) {
    let (x, gamma, beta) = (B::read(x), B::read(gamma), B::read(beta));
    let shape = x.shape();
    let p = planes(&shape);
    let window = pool_window(&shape, pool[0], pool[1]);
    let (y, stats, choice) = on_host!(x.dtype(), |x, gamma, beta| {
        let stats_shape = [2, p.c];
        match window {
            None => {
                let (y, stats) = norm::batch_norm_relu(x, gamma, beta, p, eps);
                let none = x[..0].to_vec();
                (data(y, &shape), data(stats, &stats_shape), data(none, &[0]))
            }
            Some(g) => {
                let (y, stats, choice) = norm::batch_norm_relu_pool(x, gamma, beta, p, eps, g);
                let (ho, wo) = g.pool_out();
                let pooled = [p.n, p.c, ho, wo];
                let stats = data(stats, &stats_shape);
                (data(y, &pooled), stats, data(choice, &pooled))
            }
        }
    });
    (B::write(y), B::write(stats), B::write(choice))
}

fn host_batch_norm_relu_backward<B: Host>(
    [x, gamma, beta]: [FloatTensor<B>; 3],
    [stats, choice, grad]: [FloatTensor<B>; 3],
    pool: [usize; 2],
) -> (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>) {
    let (x, gamma, beta) = (B::read(x), B::read(gamma), B::read(beta));
    let (stats, choice, grad) = (B::read(stats), B::read(choice), B::read(grad));
    let shape = x.shape();
    let p = planes(&shape);
    let window = pool_window(&shape, pool[0], pool[1]);
    let (dx, dgamma, dbeta) = on_host!(x.dtype(), |x, gamma, beta, stats, choice, grad| {
        let grad = match window {
            None => norm::OutputGrad::Whole(grad),
            Some(window) => norm::OutputGrad::Pooled {
                grad,
                choice,
                window,
            },
        };
        let (dx, dgamma, dbeta) = norm::batch_norm_relu_backward(x, gamma, beta, stats, grad, p);
        (data(dx, &shape), data(dgamma, &[p.c]), data(dbeta, &[p.c]))
    });
    (B::write(dx), B::write(dgamma), B::write(dbeta))
}

fn host_tanh<B: Host>(
    x: FloatTensor<B>,
    keep_exp: bool,
) -> (FloatTensor<B>, Option<FloatTensor<B>>) {
    let x = B::read(x);
    let shape = x.shape();
    let (y, e) = on_host!(x.dtype(), |x| {
        let (y, e) = host::tanh(x, keep_exp);
        (data(y, &shape), e.map(|e| data(e, &shape)))
    });
    (B::write(y), e.map(B::write))
}

fn host_tanh_backward<B: Host>(
    x: FloatTensor<B>,
    exp2: FloatTensor<B>,
    grad: FloatTensor<B>,
) -> FloatTensor<B> {
    let (x, exp2, grad) = (B::read(x), B::read(exp2), B::read(grad));
    let shape = x.shape();
    B::write(on_host!(x.dtype(), |x, exp2, grad| data(
        host::tanh_backward(x, exp2, grad),
        &shape
    )))
}

fn host_adam_step<B: Host>(
    tensors: [FloatTensor<B>; 4],
    first: bool,
    scalars: AdamScalars,
) -> (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>) {
    let [param, grad, m1, m2] = tensors.map(B::read);
    let shape = param.shape();
    let (p, m1, m2) = on_host!(param.dtype(), |param, grad, m1, m2| {
        let moments = (!first).then_some((m1, m2));
        let (p, m1, m2) = host::adam_step(param, grad, moments, scalars);
        (data(p, &shape), data(m1, &shape), data(m2, &shape))
    });
    (B::write(p), B::write(m1), B::write(m2))
}

fn dense_dims(x: &[usize], weight: &[usize]) -> DenseDims {
    let (&[r, i, n], &[_, _, o]) = (x, weight) else {
        unreachable!(
            "dense layers take [r, i, n] inputs and [r, i, o] weights, got {x:?}, {weight:?}"
        )
    };
    DenseDims { r, i, o, n }
}

fn host_dense<B: Host>(
    x: FloatTensor<B>,
    weight: FloatTensor<B>,
    bias: FloatTensor<B>,
    relu: bool,
) -> FloatTensor<B> {
    let (x, weight, bias) = (B::read(x), B::read(weight), B::read(bias));
    let d = dense_dims(&x.shape(), &weight.shape());
    B::write(on_host!(x.dtype(), |x, weight, bias| data(
        dense::forward(x, weight, bias, d, relu),
        &[d.r, d.o, d.n]
    )))
}

fn host_dense_backward<B: Host>(
    [x, weight, output, grad]: [FloatTensor<B>; 4],
    want_x: bool,
    relu: bool,
) -> (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>) {
    let (x, weight, grad) = (B::read(x), B::read(weight), B::read(grad));
    // Read only to mask the gradient; else the gradient stands in, unread.
    let output = if relu { B::read(output) } else { grad.clone() };
    let d = dense_dims(&x.shape(), &weight.shape());
    let (dx, dw, db) = on_host!(x.dtype(), |x, weight, grad, output| {
        let masked = relu.then(|| dense::relu_backward(output, grad));
        let grad = masked.as_deref().unwrap_or(grad);
        // Not asked for (the network's input): an empty tensor stands in.
        let dx = if want_x {
            data(dense::input_grad(weight, grad, d), &[d.r, d.i, d.n])
        } else {
            data(x[..0].to_vec(), &[0])
        };
        let (dw, db) = dense::param_grads(x, grad, d);
        (dx, data(dw, &[d.r, d.i, d.o]), data(db, &[d.r, 1, d.o]))
    });
    (B::write(dx), B::write(dw), B::write(db))
}

/// The parts' products `[n_i, o, p]` joined into `[n, o, p]` with `bias` (`[o]`) added to each
/// channel.
fn host_add_bias<B: Host>(parts: Vec<FloatTensor<B>>, bias: FloatTensor<B>) -> FloatTensor<B> {
    let parts: Vec<B::Values> = parts.into_iter().map(B::read).collect();
    let bias = B::read(bias);
    let [_, o, p] = parts[0].shape()[..] else {
        unreachable!("a convolution's products are [n, o, p]")
    };
    let n: usize = parts.iter().map(|part| part.shape()[0]).sum();
    let shape = [n, o, p];
    let out = match bias.dtype() {
        DType::F32 => {
            let parts: Vec<&[f32]> = parts.iter().map(Slices::f32).collect();
            data(host::add_bias(&parts, bias.f32(), p), &shape)
        }
        DType::F64 => {
            let parts: Vec<&[f64]> = parts.iter().map(Slices::f64).collect();
            data(host::add_bias(&parts, bias.f64(), p), &shape)
        }
        other => unreachable!("image kernels run on f32 and f64 only, got {other:?}"),
    };
    B::write(out)
}

fn host_conv_bias<B: Host + KernelOps>(
    x: FloatTensor<B>,
    weight: FloatTensor<B>,
    bias: FloatTensor<B>,
    padding: usize,
) -> (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>) {
    let (out, saved) =
        convolution::forward::<B>(x, weight, bias, padding, B::SPLITS, host_add_bias::<B>);
    (out, saved.input, saved.weight_rows)
}

fn host_conv_bias_backward<B: Host + KernelOps>(
    saved: Saved<B>,
    grad: FloatTensor<B>,
    geometry: ConvGeometry,
    want_x: bool,
) -> (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>) {
    let (dx, dweight, dbias) = convolution::backward::<B>(saved, grad, geometry, want_x, B::SPLITS);
    // Not asked for: an empty tensor stands in.
    let dx = dx.unwrap_or_else(|| convolution::empty::<B>(&dbias));
    (dx, dweight, dbias)
}

/// The trait's methods on a [`Host`] backend.
macro_rules! host_kernel_ops {
    ($backend:ty) => {
        impl KernelOps for $backend {
            fn im2col(x: FloatTensor<Self>, kernel: usize, padding: usize) -> FloatTensor<Self> {
                host_im2col::<Self>(x, kernel, padding)
            }

            fn col2im(
                cols: FloatTensor<Self>,
                channels: usize,
                height: usize,
                width: usize,
                kernel: usize,
                padding: usize,
            ) -> FloatTensor<Self> {
                host_col2im::<Self>(cols, [channels, height, width], kernel, padding)
            }

            fn max_pool(x: FloatTensor<Self>, kernel: usize, padding: usize) -> FloatTensor<Self> {
                host_max_pool::<Self>(x, kernel, padding)
            }

            fn max_pool_backward(
                x: FloatTensor<Self>,
                grad: FloatTensor<Self>,
                kernel: usize,
                padding: usize,
            ) -> FloatTensor<Self> {
                host_max_pool_backward::<Self>(x, grad, kernel, padding)
            }

            fn batch_norm_relu(
                x: FloatTensor<Self>,
                gamma: FloatTensor<Self>,
                beta: FloatTensor<Self>,
                eps: f64,
                pool: usize,
                pool_padding: usize,
            ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
                host_batch_norm_relu::<Self>(x, gamma, beta, eps, [pool, pool_padding])
            }

            fn batch_norm_relu_backward(
                x: FloatTensor<Self>,
                gamma: FloatTensor<Self>,
                beta: FloatTensor<Self>,
                stats: FloatTensor<Self>,
                choice: FloatTensor<Self>,
                grad: FloatTensor<Self>,
                pool: usize,
                pool_padding: usize,
            ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
                let saved = [stats, choice, grad];
                host_batch_norm_relu_backward::<Self>([x, gamma, beta], saved, [pool, pool_padding])
            }

            fn tanh(x: FloatTensor<Self>) -> FloatTensor<Self> {
                host_tanh::<Self>(x, false).0
            }

            fn conv_bias(
                x: FloatTensor<Self>,
                weight: FloatTensor<Self>,
                bias: FloatTensor<Self>,
                padding: usize,
            ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
                host_conv_bias::<Self>(x, weight, bias, padding)
            }

            fn conv_bias_backward(
                input: FloatTensor<Self>,
                weight_rows: FloatTensor<Self>,
                grad: FloatTensor<Self>,
                geometry: ConvGeometry,
                want_x: bool,
            ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
                let saved = Saved { input, weight_rows };
                host_conv_bias_backward::<Self>(saved, grad, geometry, want_x)
            }

            fn adam_step(
                param: FloatTensor<Self>,
                grad: FloatTensor<Self>,
                m1: FloatTensor<Self>,
                m2: FloatTensor<Self>,
                first: bool,
                scalars: AdamScalars,
            ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
                host_adam_step::<Self>([param, grad, m1, m2], first, scalars)
            }

            fn tanh_keeping_exp(x: FloatTensor<Self>) -> (FloatTensor<Self>, FloatTensor<Self>) {
                let (y, e) = host_tanh::<Self>(x, true);
                (y, e.expect("kept"))
            }

            fn tanh_backward(
                x: FloatTensor<Self>,
                exp2: FloatTensor<Self>,
                grad: FloatTensor<Self>,
            ) -> FloatTensor<Self> {
                host_tanh_backward::<Self>(x, exp2, grad)
            }

            fn dense(
                x: FloatTensor<Self>,
                weight: FloatTensor<Self>,
                bias: FloatTensor<Self>,
                relu: bool,
            ) -> FloatTensor<Self> {
                host_dense::<Self>(x, weight, bias, relu)
            }

            fn swap_last(x: FloatTensor<Self>) -> FloatTensor<Self> {
                host_swap_last::<Self>(x)
            }

            fn softmax_rows(z: FloatTensor<Self>) -> FloatTensor<Self> {
                host_softmax::<Self>(z)
            }

            fn softmax_rows_backward(
                z: FloatTensor<Self>,
                alpha: FloatTensor<Self>,
                grad: FloatTensor<Self>,
            ) -> FloatTensor<Self> {
                host_softmax_backward::<Self>(z, alpha, grad)
            }

            fn weighted_average(
                alpha: FloatTensor<Self>,
                x: FloatTensor<Self>,
                feature_major: bool,
            ) -> FloatTensor<Self> {
                host_weighted_average::<Self>(alpha, x, feature_major)
            }

            fn weighted_average_backward(
                alpha: FloatTensor<Self>,
                x: FloatTensor<Self>,
                grad: FloatTensor<Self>,
                feature_major: bool,
                want: [bool; 2],
            ) -> (FloatTensor<Self>, FloatTensor<Self>) {
                host_weighted_average_backward::<Self>(alpha, x, grad, feature_major, want)
            }

            fn dense_backward(
                x: FloatTensor<Self>,
                weight: FloatTensor<Self>,
                output: FloatTensor<Self>,
                grad: FloatTensor<Self>,
                want_x: bool,
                relu: bool,
            ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
                host_dense_backward::<Self>([x, weight, output, grad], want_x, relu)
            }
        }
    };
}

host_kernel_ops!(Flex);
host_kernel_ops!(NdArray);
