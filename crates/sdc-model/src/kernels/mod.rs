//! sdc's own CPU kernels for the image networks, as Burn backend operations with their own
//! backward passes.
//!
//! Built from Burn's generic operations, a convolution's patch matrix is `k*k` strided slices
//! of a padded copy stacked together, and each slice's backward pass a zero tensor the size of
//! the input with the gradient assigned into it; Burn's max-pool keeps an `i64` index per
//! output. On the CPU backends (flex and ndarray) these are single passes over memory instead:
//! [`im2col`] builds the patch matrix straight from the unpadded input and its backward pass
//! adds the patch gradient back ([`host::col2im`]); [`max_pool`] keeps no indices and its
//! backward pass finds each window's maximum again. Other backends (wgpu) build the same
//! values from Burn's operations.
//!
//! The operations are a Burn backend extension (`#[backend_extension]`): the Flex and NdArray
//! implementations run [`host`]'s kernels, and the Autodiff one records the backward pass.
//! Both CPU backends run the same kernels, so they give the same values bit for bit.

// NdArray is deprecated in Burn 0.22 and still one of sdc's backends (`train.backend`).
#![allow(deprecated)]

mod autodiff;
mod host;

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use burn::backend::DispatchDevice;
use burn::backend::NdArray;
use burn::backend::{
    Backend, DType, Dispatch, Flex, TensorData, TensorMetadata, backend_extension,
    tensor::FloatTensor,
};
use burn::tensor::ops::{MaxPoolOptions, PadMode};
use burn::tensor::{Tensor, module::max_pool2d};

use host::Window;

/// Image operations with hand-written CPU kernels and backward passes.
#[backend_extension(Flex, NdArray, Autodiff)]
pub(crate) trait ImageOps: Backend {
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
}

/// Whether `device` runs [`ImageOps`] (flex or ndarray, with or without autodiff).
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

/// The patch matrix `[n, c k k, h' w']` of a stride-1 convolution over `x` with `padding`
/// zeros on every side (row `(ci k + di) k + dj` matches the weights' `[o, c, k, k]` layout).
pub(crate) fn im2col(x: Tensor<4>, kernel: usize, padding: usize) -> Tensor<3> {
    if use_kernels(&x.device(), x.dtype()) {
        return Tensor::from_dispatch(<Dispatch as ImageOps>::im2col(
            x.into_dispatch(),
            kernel,
            padding,
        ));
    }
    im2col_composed(x, kernel, padding)
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

/// Max-pooling with stride equal to `kernel` and `padding` ignored (PyTorch's `MaxPool2d`).
pub(crate) fn max_pool(x: Tensor<4>, kernel: usize, padding: usize) -> Tensor<4> {
    if use_kernels(&x.device(), x.dtype()) {
        return Tensor::from_dispatch(<Dispatch as ImageOps>::max_pool(
            x.into_dispatch(),
            kernel,
            padding,
        ));
    }
    max_pool_composed(x, kernel, padding)
}

/// [`max_pool`] as Burn's `max_pool2d`.
fn max_pool_composed(x: Tensor<4>, kernel: usize, padding: usize) -> Tensor<4> {
    let options = MaxPoolOptions::new([kernel, kernel]).with_padding([padding, padding]);
    max_pool2d(x, options)
}

/// A ready future's value: the CPU backends read their tensors synchronously.
fn ready<T>(future: impl Future<Output = T>) -> T {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(value) => value,
        Poll::Pending => unreachable!("a CPU backend's tensor read is never pending"),
    }
}

/// Runs a host kernel on contiguous inputs of one float type and wraps its output.
macro_rules! on_host {
    ($dtype:expr, |$($name:ident),+| $body:expr) => {
        match $dtype {
            DType::F32 => {
                $(let $name = $name.as_slice::<f32>().expect("a contiguous f32 tensor");)+
                TensorData::from($body)
            }
            DType::F64 => {
                $(let $name = $name.as_slice::<f64>().expect("a contiguous f64 tensor");)+
                TensorData::from($body)
            }
            other => unreachable!("image kernels run on f32 and f64 only, got {other:?}"),
        }
    };
}

/// Kernel output with its shape.
struct Output<E>(Vec<E>, Vec<usize>);

impl<E: burn::tensor::Element> From<Output<E>> for TensorData {
    fn from(Output(values, shape): Output<E>) -> Self {
        TensorData::new(values, shape)
    }
}

/// A flex tensor's storage, copied into a contiguous one only when it is a strided view.
fn flex_contiguous(x: FloatTensor<Flex>) -> FloatTensor<Flex> {
    if x.layout().contiguous_offsets().is_some() {
        x
    } else {
        x.to_contiguous()
    }
}

impl ImageOps for Flex {
    fn im2col(x: FloatTensor<Self>, kernel: usize, padding: usize) -> FloatTensor<Self> {
        let g = window(&x.shape(), kernel, padding);
        let (ho, wo) = g.conv_out();
        let x = flex_contiguous(x);
        let shape = vec![g.n, g.c * kernel * kernel, ho * wo];
        let data = on_host!(x.dtype(), |x| Output(host::im2col(x, g), shape));
        burn::backend::flex::FlexTensor::from_data(data)
    }

    fn col2im(
        cols: FloatTensor<Self>,
        channels: usize,
        height: usize,
        width: usize,
        kernel: usize,
        padding: usize,
    ) -> FloatTensor<Self> {
        let n = cols.shape()[0];
        let g = window(&[n, channels, height, width], kernel, padding);
        let cols = flex_contiguous(cols);
        let shape = vec![n, channels, height, width];
        let data = on_host!(cols.dtype(), |cols| Output(host::col2im(cols, g), shape));
        burn::backend::flex::FlexTensor::from_data(data)
    }

    fn max_pool(x: FloatTensor<Self>, kernel: usize, padding: usize) -> FloatTensor<Self> {
        let g = window(&x.shape(), kernel, padding);
        let (ho, wo) = g.pool_out();
        let x = flex_contiguous(x);
        let shape = vec![g.n, g.c, ho, wo];
        let data = on_host!(x.dtype(), |x| Output(host::max_pool(x, g), shape));
        burn::backend::flex::FlexTensor::from_data(data)
    }

    fn max_pool_backward(
        x: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        kernel: usize,
        padding: usize,
    ) -> FloatTensor<Self> {
        let g = window(&x.shape(), kernel, padding);
        let shape = vec![g.n, g.c, g.h, g.w];
        let (x, grad) = (flex_contiguous(x), flex_contiguous(grad));
        let data = on_host!(x.dtype(), |x, grad| Output(
            host::max_pool_backward(x, grad, g),
            shape
        ));
        burn::backend::flex::FlexTensor::from_data(data)
    }
}

/// An ndarray tensor's values, contiguous.
fn ndarray_data(x: FloatTensor<NdArray>) -> TensorData {
    ready(<NdArray as burn::backend::ops::FloatTensorOps<NdArray>>::float_into_data(x))
        .expect("reading an ndarray tensor cannot fail")
}

fn ndarray_tensor(data: TensorData) -> FloatTensor<NdArray> {
    burn::backend::ndarray::NdArrayTensor::from_data(data)
}

impl ImageOps for NdArray {
    fn im2col(x: FloatTensor<Self>, kernel: usize, padding: usize) -> FloatTensor<Self> {
        let g = window(&x.shape(), kernel, padding);
        let (ho, wo) = g.conv_out();
        let x = ndarray_data(x);
        let shape = vec![g.n, g.c * kernel * kernel, ho * wo];
        ndarray_tensor(on_host!(x.dtype(), |x| Output(host::im2col(x, g), shape)))
    }

    fn col2im(
        cols: FloatTensor<Self>,
        channels: usize,
        height: usize,
        width: usize,
        kernel: usize,
        padding: usize,
    ) -> FloatTensor<Self> {
        let n = cols.shape()[0];
        let g = window(&[n, channels, height, width], kernel, padding);
        let cols = ndarray_data(cols);
        let shape = vec![n, channels, height, width];
        ndarray_tensor(on_host!(cols.dtype(), |cols| Output(
            host::col2im(cols, g),
            shape
        )))
    }

    fn max_pool(x: FloatTensor<Self>, kernel: usize, padding: usize) -> FloatTensor<Self> {
        let g = window(&x.shape(), kernel, padding);
        let (ho, wo) = g.pool_out();
        let x = ndarray_data(x);
        let shape = vec![g.n, g.c, ho, wo];
        ndarray_tensor(on_host!(x.dtype(), |x| Output(host::max_pool(x, g), shape)))
    }

    fn max_pool_backward(
        x: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        kernel: usize,
        padding: usize,
    ) -> FloatTensor<Self> {
        let g = window(&x.shape(), kernel, padding);
        let shape = vec![g.n, g.c, g.h, g.w];
        let (x, grad) = (ndarray_data(x), ndarray_data(grad));
        ndarray_tensor(on_host!(x.dtype(), |x, grad| Output(
            host::max_pool_backward(x, grad, g),
            shape
        )))
    }
}

#[cfg(test)]
mod tests;
