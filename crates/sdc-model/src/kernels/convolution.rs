//! A convolution with a bias as one operation on the CPU backends: the patch matrix
//! ([`super::im2col`]), the weights' product with each sample's patches, and the bias, with
//! the backward pass Burn's autodiff records for those operations. The patch matrix is built
//! per part of the batch, and again in the backward pass, instead of being kept.
//!
//! Every product and sum is the very operation Burn's composition runs (the backend's
//! `matmul` per half of the batch, its `sum_dim` and `sum_dims`), on the same operands in the
//! same layout, so values and gradients keep their bits. What changes is that the batch's two
//! halves run at once when a core is idle ([`super::halves`]): each sample's product is its own
//! matrix product, and the one sum over the samples (the weights' gradient) runs over all of
//! them in order after the halves join.

use std::ops::Range;

use burn::backend::{Backend, TensorMetadata, tensor::FloatTensor};
use burn::tensor::{Shape, Slice};

use super::KernelOps;
use super::halves::halves_or_whole;

/// `tensor[range]` along the first dimension (a view on the CPU backends).
fn samples<B: Backend>(tensor: &FloatTensor<B>, range: Range<usize>) -> FloatTensor<B> {
    let rank = tensor.shape().num_dims();
    let mut slices = vec![Slice::full(); rank];
    slices[0] = Slice::new(range.start as isize, Some(range.end as isize), 1);
    B::float_slice(tensor.clone(), &slices)
}

/// `work` on the batch's two halves at once where the backend splits (`split`) and a core is
/// idle, else on the whole batch: one result per part, in order.
fn on_parts<T: Send>(
    n: usize,
    split: bool,
    values: usize,
    work: impl Fn(Range<usize>) -> T + Sync,
) -> Vec<T> {
    if split {
        halves_or_whole(n, values, work)
    } else {
        vec![work(0..n)]
    }
}

/// The input side of a convolution: what its backward pass needs besides tensors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvGeometry {
    /// `[c, h, w]` of the input.
    pub chw: [usize; 3],
    /// Kernel side.
    pub kernel: usize,
    /// Zero padding on every side.
    pub padding: usize,
}

/// What a convolution's forward pass keeps for its backward pass.
pub(crate) struct Saved<B: Backend> {
    /// The input `[n, c, h, w]`: the backward pass builds the patch matrix again, part by
    /// part, rather than keep it (`c k k` times the input's size) between the two passes.
    pub input: FloatTensor<B>,
    /// The weights as `[1, o, c k k]`.
    pub weight_rows: FloatTensor<B>,
}

/// The bytes of patch matrix a convolution builds at once: each part of the batch is convolved
/// in runs of samples whose patches fit this, so that a run's patches are still in cache when
/// its matrix product reads them (a batch's patch matrix would not be: at batch 256 the
/// mosaic CNN's second focus convolution's is 80 MB). Each sample's product is its own, so the
/// runs change no value. Measured on the mnist-mosaic bench child (builds alternated, medians,
/// 2026-12-01): at batch 64 one thread 1,043 -> 1,507 mosaics/s and two threads 1,745 ->
/// 2,248; at batch 256 1,181 -> 1,510 and 1,461 -> 2,163. Runs of 512 KiB and 1 MiB were
/// level with 2 MiB within the noise, 8 MiB slower (1,760 against 2,001 at batch 64).
const PATCH_RUN_BYTES: usize = 2 << 20;

/// Samples per run for every convolution while a test's guard lives (0: by
/// [`PATCH_RUN_BYTES`]). Global rather than per thread: a part runs on a helper thread.
#[cfg(test)]
static RUN_SAMPLES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Runs of `samples` samples until the guard drops (a test's choice, so that small inputs take
/// several runs). Any run length computes the same values, so other tests are not disturbed.
#[cfg(test)]
pub(crate) fn runs_of(samples: usize) -> impl Drop {
    use std::sync::atomic::Ordering::SeqCst;
    struct Restore(usize);
    impl Drop for Restore {
        fn drop(&mut self) {
            RUN_SAMPLES.store(self.0, SeqCst);
        }
    }
    Restore(RUN_SAMPLES.swap(samples, SeqCst))
}

/// Samples per run: as many as [`PATCH_RUN_BYTES`] holds, one at least (or a test's choice).
fn run_len(bytes_per_sample: usize) -> usize {
    #[cfg(test)]
    match RUN_SAMPLES.load(std::sync::atomic::Ordering::SeqCst) {
        0 => {}
        samples => return samples,
    }
    (PATCH_RUN_BYTES / bytes_per_sample.max(1)).max(1)
}

/// `range` in runs of [`run_len`] samples (the last one shorter).
fn runs(range: Range<usize>, bytes_per_sample: usize) -> impl Iterator<Item = Range<usize>> {
    let len = run_len(bytes_per_sample);
    range
        .clone()
        .step_by(len)
        .map(move |start| start..(start + len).min(range.end))
}

/// The bytes of one sample's patch matrix.
fn patch_bytes<B: Backend>(x: &FloatTensor<B>, rows: usize, pixels: usize) -> usize {
    rows * pixels * x.dtype().size()
}

/// The patch matrix `[n_i, c k k, h' w']` of the samples `range` of `x`.
fn patches<B: Backend + KernelOps>(
    x: &FloatTensor<B>,
    range: Range<usize>,
    kernel: usize,
    padding: usize,
) -> FloatTensor<B> {
    B::im2col(samples::<B>(x, range), kernel, padding)
}

/// `conv(x) + bias` for `x` `[n, c, h, w]`, `weight` `[o, c, k, k]` and `bias` `[o]`, stride 1,
/// `padding` zeros on every side: the output `[n, o, h', w']` and what the backward pass
/// needs. `add_bias(products, bias)` joins the parts' products `[n_i, o, h' w']` into
/// `[n, o, h' w']` with `bias` added to each channel (one host pass, the additions Burn's
/// broadcast `+` makes). `split`: whether the backend's products run in halves.
pub(crate) fn forward<B: Backend + KernelOps>(
    x: FloatTensor<B>,
    weight: FloatTensor<B>,
    bias: FloatTensor<B>,
    padding: usize,
    split: bool,
    add_bias: impl FnOnce(Vec<FloatTensor<B>>, FloatTensor<B>) -> FloatTensor<B>,
) -> (FloatTensor<B>, Saved<B>) {
    let [o, c, k, _] = weight.shape().dims();
    let [n, _, h, w] = x.shape().dims();
    let (ho, wo) = (h + 2 * padding + 1 - k, w + 2 * padding + 1 - k);
    let weight_rows = B::float_reshape(weight, Shape::new([1, o, c * k * k]));
    // Each part builds its own patches, a run of samples at a time: no buffer the size of the
    // whole batch's is zeroed on one core before the parts start, nor leaves the cache before
    // its product reads it.
    let per_sample = patch_bytes::<B>(&x, c * k * k, ho * wo);
    let parts = on_parts(n, split, n * o * c * k * k * ho * wo, |range| {
        runs(range, per_sample)
            .map(|run| B::float_matmul(weight_rows.clone(), patches::<B>(&x, run, k, padding)))
            .collect::<Vec<_>>()
    });
    let mut products: Vec<_> = parts.into_iter().flatten().collect();
    let out = if products.len() == 1 {
        // Whole: Burn's broadcast `+` itself (in place on flex).
        let bias = B::float_reshape(bias, Shape::new([1, o, 1]));
        B::float_add(products.pop().expect("one part"), bias)
    } else {
        add_bias(products, bias)
    };
    let out = B::float_reshape(out, Shape::new([n, o, ho, wo]));
    (
        out,
        Saved {
            input: x,
            weight_rows,
        },
    )
}

/// The gradients `(dx, dweight, dbias)` of [`forward`] given what it saved and the output
/// gradient `[n, o, h', w']`; `dx` (`[n, c, h, w]`, of `x_chw`) only when `want_x`.
pub(crate) fn backward<B: Backend + KernelOps>(
    saved: Saved<B>,
    grad: FloatTensor<B>,
    geometry: ConvGeometry,
    want_x: bool,
    split: bool,
) -> (Option<FloatTensor<B>>, FloatTensor<B>, FloatTensor<B>) {
    let Saved { input, weight_rows } = saved;
    let [n, o, ho, wo] = grad.shape().dims();
    let ConvGeometry {
        chw: [c, h, w],
        kernel,
        padding,
    } = geometry;
    let rows = c * kernel * kernel;
    let grad = B::float_reshape(grad, Shape::new([n, o, ho * wo]));
    // Burn's broadcast `+` sums the bias's gradient over the dimensions it was broadcast along.
    let dbias = B::float_reshape(B::float_sum_dims(grad.clone(), &[0, 2]), Shape::new([o]));
    let weight_t = B::float_transpose(weight_rows);
    let per_sample = patch_bytes::<B>(&input, rows, ho * wo);
    // A run of samples at a time, as in the forward pass (the patch gradient is as large).
    let run_backward = |run: Range<usize>| {
        let g = samples::<B>(&grad, run.clone());
        // matmul's backward pass: `grad cols^T` per sample, and `weight^T grad` for the patches.
        let cols_t = B::float_transpose(patches::<B>(&input, run, kernel, padding));
        let dweight = B::float_matmul(g.clone(), cols_t);
        let dx = want_x.then(|| {
            let dcols = B::float_matmul(weight_t.clone(), g);
            B::col2im(dcols, c, h, w, kernel, padding)
        });
        (dweight, dx)
    };
    let parts = on_parts(n, split, 2 * n * o * rows * ho * wo, |range| {
        runs(range, per_sample)
            .map(run_backward)
            .collect::<Vec<_>>()
    });
    let (dweights, dxs): (Vec<_>, Vec<_>) = parts.into_iter().flatten().unzip();
    let per_sample = cat::<B>(dweights);
    // The weights were broadcast over the samples: their gradient is the sum over all of them,
    // in order (none to sum for a batch of one, as autodiff does).
    let dweight = if n == 1 {
        per_sample
    } else {
        B::float_sum_dim(per_sample, 0)
    };
    let dweight = B::float_reshape(dweight, Shape::new([o, c, kernel, kernel]));
    let dx = want_x.then(|| cat::<B>(dxs.into_iter().flatten().collect()));
    (dx, dweight, dbias)
}

/// An empty tensor of `like`'s kind: the stand-in for a gradient nobody asked for.
pub(crate) fn empty<B: Backend>(like: &FloatTensor<B>) -> FloatTensor<B> {
    let flat = B::float_reshape(like.clone(), Shape::new([like.shape().num_elements()]));
    B::float_slice(flat, &[Slice::new(0, Some(0), 1)])
}

/// The parts joined along the first dimension (the one part itself when there is one).
fn cat<B: Backend>(mut parts: Vec<FloatTensor<B>>) -> FloatTensor<B> {
    if parts.len() == 1 {
        parts.pop().expect("one part")
    } else {
        B::float_cat(parts, 0)
    }
}
