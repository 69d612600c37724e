//! [`KernelOps`](super::super::KernelOps) on the CPU backends, for the attention head
//! (`attend.rs`) and the transpose of the MLP networks' activations: each operation as a call of
//! its host loop.

use burn::backend::{DType, tensor::FloatTensor};

use super::super::attend::{self, AverageDims};
use super::super::host;
use super::{Host, Slices, data};

pub(super) fn host_swap_last<B: Host>(x: FloatTensor<B>) -> FloatTensor<B> {
    let x = B::read(x);
    let &[r, a, b] = &x.shape()[..] else {
        unreachable!("swap_last takes [r, a, b] tensors, got {:?}", x.shape())
    };
    B::write(on_host!(x.dtype(), |x| data(
        host::swap_last(x, [r, a, b]),
        &[r, b, a]
    )))
}

pub(super) fn host_softmax<B: Host>(z: FloatTensor<B>) -> FloatTensor<B> {
    let z = B::read(z);
    let shape = z.shape();
    let m = shape.last().copied().unwrap_or(0);
    B::write(on_host!(z.dtype(), |z| data(attend::softmax(z, m), &shape)))
}

pub(super) fn host_softmax_backward<B: Host>(
    z: FloatTensor<B>,
    alpha: FloatTensor<B>,
    grad: FloatTensor<B>,
) -> FloatTensor<B> {
    let (z, alpha, grad) = (B::read(z), B::read(alpha), B::read(grad));
    let shape = z.shape();
    let m = shape.last().copied().unwrap_or(0);
    B::write(on_host!(z.dtype(), |z, alpha, grad| data(
        attend::softmax_backward(z, alpha, grad, m),
        &shape
    )))
}

/// The sizes of a weighted average of vectors `x` by weights `alpha` (`KernelOps`' shapes).
fn average_dims(alpha: &[usize], x: &[usize], feature_major: bool) -> AverageDims {
    match (alpha, x, feature_major) {
        (&[r, b, m], &[_, w, _], true) => AverageDims {
            r,
            b,
            m,
            w,
            feature_major,
        },
        (&[n, m], &[_, _, w], false) => AverageDims {
            r: 1,
            b: n,
            m,
            w,
            feature_major,
        },
        _ => unreachable!(
            "a weighted average takes [r, b, m] and [r, w, b m] (feature-major) or [n, m] and \
             [n, m, w], got {alpha:?}, {x:?}"
        ),
    }
}

/// The shape of a weighted average's output.
fn average_shape(d: AverageDims) -> Vec<usize> {
    if d.feature_major {
        vec![d.r, d.w, d.b]
    } else {
        vec![d.b, d.w]
    }
}

pub(super) fn host_weighted_average<B: Host>(
    alpha: FloatTensor<B>,
    x: FloatTensor<B>,
    feature_major: bool,
) -> FloatTensor<B> {
    let (alpha, x) = (B::read(alpha), B::read(x));
    let d = average_dims(&alpha.shape(), &x.shape(), feature_major);
    B::write(on_host!(x.dtype(), |alpha, x| data(
        attend::average(alpha, x, d),
        &average_shape(d)
    )))
}

pub(super) fn host_weighted_average_backward<B: Host>(
    alpha: FloatTensor<B>,
    x: FloatTensor<B>,
    grad: FloatTensor<B>,
    feature_major: bool,
    want: [bool; 2],
) -> (FloatTensor<B>, FloatTensor<B>) {
    let (alpha, x, grad) = (B::read(alpha), B::read(x), B::read(grad));
    let (alpha_shape, x_shape) = (alpha.shape(), x.shape());
    let d = average_dims(&alpha_shape, &x_shape, feature_major);
    let (da, dx) = on_host!(x.dtype(), |alpha, x, grad| {
        let (da, dx) = attend::average_backward(alpha, x, grad, d, want);
        // Not asked for: an empty tensor stands in.
        let shape = |wanted: bool, shape: &[usize]| if wanted { shape.to_vec() } else { vec![0] };
        (
            data(da, &shape(want[0], &alpha_shape)),
            data(dx, &shape(want[1], &x_shape)),
        )
    });
    (B::write(da), B::write(dx))
}
