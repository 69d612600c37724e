//! Dense layers of MLP networks in feature-major layout: activations `[r, width, n]` (`r`
//! models, `width` features of `n` rows each, a feature's `n` values contiguous), weights
//! `[r, in, out]`, bias `[r, out]`.
//!
//! The focus and classification networks of the MLP architectures are a few features wide
//! (5-6-12-1 for Dataset 2) and run on thousands of rows (every segment of a mini-batch). As
//! matrix products, each layer is a `gemm` call of `[n, 5] x [5, 6]`, where the call and the
//! packing of its operands cost more than the arithmetic, times 29 calls per step and model,
//! and 29 per replica in a replica batch. In feature-major layout each output feature is a
//! sum of input rows scaled by one weight: long contiguous runs of multiply-adds that vectorise
//! with no packing, and the gradients are the same runs plus dot products over the rows.
//!
//! Every value has one fixed order of roundings, written out here, so the bits do not depend on
//! the machine, the vector width, the number of models `r` or the position of a model among
//! them: a replica batch computes each replica's single model bit for bit.
//! - output: `y[o, j] = fma(x[i-1, j], w[i-1, o], ... fma(x[0, j], w[0, o], b[o]))`, inputs in
//!   order;
//! - input gradient: `dx[i, j] = fma(dy[out-1, j], w[i, out-1], ... fma(dy[0, j], w[i, 0], 0))`;
//! - weight gradient `dw[i, o]` and bias gradient `db[o]`: sums over the rows `j` in [`LANES`]
//!   interleaved partial sums (row `j` into lane `j % LANES`, by fused multiply-add for `dw`),
//!   the lanes then added pairwise in a fixed tree.

use super::host::Real;

/// Partial sums of a reduction over rows: enough independent chains to keep the multiply-add
/// units busy, in any vector width up to 32 lanes.
const LANES: usize = 32;

/// Rows whose multiply-add chains the forward and input-gradient passes keep in registers at
/// once (four AVX2 registers of `f32`).
const CHUNK: usize = 32;

/// One of this module's passes, run in the widest SIMD the CPU offers (`pulp`'s run-time
/// dispatch). A closure would not do: pulp calls it as a function of its own, compiled for the
/// baseline CPU, where every `mul_add` is a library call. This is inlined into the dispatched
/// function together with the `#[inline(always)]` loops it calls.
enum Pass<'a, E> {
    Forward(&'a [E], &'a [E], &'a [E], DenseDims, bool),
    InputGrad(&'a [E], &'a [E], DenseDims),
    ParamGrads(&'a [E], &'a [E], DenseDims),
}

impl<E: Real> pulp::WithSimd for Pass<'_, E> {
    type Output = (Vec<E>, Vec<E>);

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) -> Self::Output {
        match self {
            Pass::Forward(x, w, b, d, relu) => (forward_loops(x, w, b, d, relu), Vec::new()),
            Pass::InputGrad(w, dy, d) => (input_grad_loops(w, dy, d), Vec::new()),
            Pass::ParamGrads(x, dy, d) => param_grads_loops(x, dy, d),
        }
    }
}

/// The sizes of a dense layer of `r` models: `i` inputs, `o` outputs, `n` rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DenseDims {
    pub r: usize,
    pub i: usize,
    pub o: usize,
    pub n: usize,
}

/// Appends one output row to `out`: `y[j] = fma(x[k n + j], scales[k stride], ... init)` for
/// each `k < count` in order, for `j < n`, then ReLU when `relu`. The chains of [`CHUNK`] rows
/// at a time are kept in registers, and each finished chunk is appended, so the output is
/// written once, in order (a zeroed buffer would be written twice).
#[inline(always)]
fn append_row<E: Real>(
    out: &mut Vec<E>,
    init: E,
    (scales, stride, count): (&[E], usize, usize),
    x: &[E],
    n: usize,
    relu_after: bool,
) {
    let chunks = n / CHUNK;
    for c in 0..chunks {
        let mut acc = [init; CHUNK];
        for (k, &scale) in scales.iter().step_by(stride).take(count).enumerate() {
            let at = k * n + c * CHUNK;
            let input: &[E; CHUNK] = x[at..at + CHUNK].try_into().expect("a whole chunk");
            for l in 0..CHUNK {
                acc[l] = input[l].mul_add(scale, acc[l]);
            }
        }
        if relu_after {
            for v in &mut acc {
                *v = relu(*v);
            }
        }
        out.extend_from_slice(&acc);
    }
    // The last rows: the same chains, one row at a time.
    let done = chunks * CHUNK;
    let mut rest = [init; CHUNK];
    let rest = &mut rest[..n - done];
    for (k, &scale) in scales.iter().step_by(stride).take(count).enumerate() {
        let input = &x[k * n + done..k * n + n];
        for (v, &xv) in rest.iter_mut().zip(input) {
            *v = xv.mul_add(scale, *v);
        }
    }
    if relu_after {
        for v in rest.iter_mut() {
            *v = relu(*v);
        }
    }
    out.extend_from_slice(rest);
}

/// The output `[r, o, n]` of inputs `x` `[r, i, n]`, weights `w` `[r, i, o]` and bias `b`
/// `[r, o]` (module docs: the order of roundings); with `relu`, its ReLU ([`relu`]).
pub(crate) fn forward<E: Real>(x: &[E], w: &[E], b: &[E], d: DenseDims, relu: bool) -> Vec<E> {
    pulp::Arch::new()
        .dispatch(Pass::Forward(x, w, b, d, relu))
        .0
}

/// ReLU as Burn's flex backend computes it: `x` if `x > 0` or NaN, else 0 (NaN propagates).
/// Written as one comparison (`x <= 0` is false for NaN), which compiles to a vector select
/// rather than a branch per value.
#[inline(always)]
fn relu<E: Real>(x: E) -> E {
    if x <= E::default() { E::default() } else { x }
}

/// The output gradient of a layer followed by ReLU, from the ReLU's output `y` and gradient
/// `dy`: `dy` where `y > 0` or NaN, else 0 (Burn's `relu_backward`, the same bits).
pub(crate) fn relu_backward<E: Real>(y: &[E], dy: &[E]) -> Vec<E> {
    y.iter()
        .zip(dy)
        .map(|(&y, &g)| if y <= E::default() { E::default() } else { g })
        .collect()
}

#[inline(always)]
fn forward_loops<E: Real>(x: &[E], w: &[E], b: &[E], d: DenseDims, relu: bool) -> Vec<E> {
    // Output row `out` of model `m`: bias `b[m, out]`, then input row `k` times `w[m, k, out]`.
    let rows = Chains {
        rows_in: d.i,
        rows_out: d.o,
        first: 1,
        stride: d.o,
        relu,
    };
    chains(x, w, Some(b), rows, d)
}

/// How [`chains`] reads the weights: output row `t` of a model scales its source row `s` by
/// the model's weight `t first + s stride`.
struct Chains {
    rows_in: usize,
    rows_out: usize,
    first: usize,
    stride: usize,
    /// ReLU applied to each chunk of outputs while it is in registers.
    relu: bool,
}

/// `r` models' output rows `[r, rows_out, n]`, each the chain of fused multiply-adds over the
/// model's source rows `src` `[r, rows_in, n]` in order, from `init[m, t]` (none: zero), with
/// the weights `w` (`[r, i, o]`) as [`Chains`] says.
#[inline(always)]
fn chains<E: Real>(src: &[E], w: &[E], init: Option<&[E]>, c: Chains, d: DenseDims) -> Vec<E> {
    let DenseDims { r, i, o, n } = d;
    let (rows_in, rows_out) = (c.rows_in, c.rows_out);
    let mut out = Vec::with_capacity(r * rows_out * n);
    for m in 0..r {
        let src_m = &src[m * rows_in * n..(m + 1) * rows_in * n];
        let w_m = &w[m * i * o..(m + 1) * i * o];
        for t in 0..rows_out {
            let from = init.map_or_else(E::default, |init| init[m * rows_out + t]);
            let scales = (&w_m[t * c.first..], c.stride, rows_in);
            append_row(&mut out, from, scales, src_m, n, c.relu);
        }
    }
    out
}

/// The input gradient `[r, i, n]` from the weights `w` `[r, i, o]` and the output gradient
/// `dy` `[r, o, n]` (module docs).
pub(crate) fn input_grad<E: Real>(w: &[E], dy: &[E], d: DenseDims) -> Vec<E> {
    pulp::Arch::new().dispatch(Pass::InputGrad(w, dy, d)).0
}

#[inline(always)]
fn input_grad_loops<E: Real>(w: &[E], dy: &[E], d: DenseDims) -> Vec<E> {
    // Input row `k` of model `m`: zero, then output row `out` times `w[m, k, out]`.
    let rows = Chains {
        rows_in: d.o,
        rows_out: d.i,
        first: d.o,
        stride: 1,
        relu: false,
    };
    chains(dy, w, None, rows, d)
}

/// `LANES` partial sums added pairwise in a fixed tree.
#[inline(always)]
fn fold_lanes<E: Real>(mut acc: [E; LANES]) -> E {
    let mut width = LANES;
    while width > 1 {
        width /= 2;
        for l in 0..width {
            let upper = acc[l + width];
            acc[l] += upper;
        }
    }
    acc[0]
}

/// `sum_j a[j] b[j]` in [`LANES`] interleaved fused multiply-add chains, then [`fold_lanes`].
#[inline(always)]
fn dot<E: Real>(a: &[E], b: &[E]) -> E {
    let mut acc = [E::default(); LANES];
    let (a_chunks, a_rest) = a.as_chunks::<LANES>();
    let (b_chunks, b_rest) = b.as_chunks::<LANES>();
    for (ca, cb) in a_chunks.iter().zip(b_chunks) {
        for l in 0..LANES {
            acc[l] = ca[l].mul_add(cb[l], acc[l]);
        }
    }
    for (l, (&x, &y)) in a_rest.iter().zip(b_rest).enumerate() {
        acc[l] = x.mul_add(y, acc[l]);
    }
    fold_lanes(acc)
}

/// `sum_j a[j]` in [`LANES`] interleaved chains, then [`fold_lanes`].
#[inline(always)]
fn sum<E: Real>(a: &[E]) -> E {
    let mut acc = [E::default(); LANES];
    let (chunks, rest) = a.as_chunks::<LANES>();
    for c in chunks {
        for l in 0..LANES {
            acc[l] += c[l];
        }
    }
    for (l, &x) in rest.iter().enumerate() {
        acc[l] += x;
    }
    fold_lanes(acc)
}

/// The weight gradient `[r, i, o]` and bias gradient `[r, o]` from the inputs `x` `[r, i, n]`
/// and the output gradient `dy` `[r, o, n]` (module docs).
pub(crate) fn param_grads<E: Real>(x: &[E], dy: &[E], d: DenseDims) -> (Vec<E>, Vec<E>) {
    pulp::Arch::new().dispatch(Pass::ParamGrads(x, dy, d))
}

#[inline(always)]
fn param_grads_loops<E: Real>(x: &[E], dy: &[E], d: DenseDims) -> (Vec<E>, Vec<E>) {
    let DenseDims { r, i, o, n } = d;
    let mut dw = Vec::with_capacity(r * i * o);
    let mut db = Vec::with_capacity(r * o);
    for m in 0..r {
        let (xm, dym) = (
            &x[m * i * n..(m + 1) * i * n],
            &dy[m * o * n..(m + 1) * o * n],
        );
        for k in 0..i {
            let xk = &xm[k * n..(k + 1) * n];
            for out in 0..o {
                dw.push(dot(xk, &dym[out * n..(out + 1) * n]));
            }
        }
        for out in 0..o {
            db.push(sum(&dym[out * n..(out + 1) * n]));
        }
    }
    (dw, db)
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::super::test_values as values;

    /// The sums in f64 with a plain loop, for sizes whose exact sums f64 holds.
    #[test]
    fn the_kernels_compute_the_layer_and_its_gradients() {
        for (r, i, o, n) in [(1, 5, 6, 7), (3, 2, 1, 600), (2, 12, 3, 33), (1, 1, 1, 1)] {
            let d = DenseDims { r, i, o, n };
            let (x, w, b, dy) = (
                values(r * i * n, 1),
                values(r * i * o, 2),
                values(r * o, 3),
                values(r * o * n, 4),
            );
            let y = forward(&x, &w, &b, d, false);
            let relu_y: Vec<f64> = y.iter().map(|&v| v.max(0.0)).collect();
            assert_eq!(forward(&x, &w, &b, d, true), relu_y);
            let masked = relu_backward(&relu_y, &dy);
            for (g, (&m, &y)) in dy.iter().zip(masked.iter().zip(&relu_y)) {
                assert_eq!(m, if y > 0.0 { *g } else { 0.0 });
            }
            let dx = input_grad(&w, &dy, d);
            let (dw, db) = param_grads(&x, &dy, d);
            for m in 0..r {
                for j in 0..n {
                    for out in 0..o {
                        let want = b[m * o + out]
                            + (0..i)
                                .map(|k| x[(m * i + k) * n + j] * w[(m * i + k) * o + out])
                                .sum::<f64>();
                        let got = y[(m * o + out) * n + j];
                        assert!((got - want).abs() < 1e-12, "y {d:?}: {got} vs {want}");
                    }
                    for k in 0..i {
                        let want: f64 = (0..o)
                            .map(|out| dy[(m * o + out) * n + j] * w[(m * i + k) * o + out])
                            .sum();
                        let got = dx[(m * i + k) * n + j];
                        assert!((got - want).abs() < 1e-12, "dx {d:?}: {got} vs {want}");
                    }
                }
                for out in 0..o {
                    for k in 0..i {
                        let want: f64 = (0..n)
                            .map(|j| x[(m * i + k) * n + j] * dy[(m * o + out) * n + j])
                            .sum();
                        let got = dw[(m * i + k) * o + out];
                        assert!((got - want).abs() < 1e-9, "dw {d:?}: {got} vs {want}");
                    }
                    let want: f64 = (0..n).map(|j| dy[(m * o + out) * n + j]).sum();
                    let got = db[m * o + out];
                    assert!((got - want).abs() < 1e-9, "db {d:?}: {got} vs {want}");
                }
            }
        }
    }

    /// A model's results do not depend on the other models beside it.
    #[test]
    fn each_model_of_a_batch_gets_its_own_bits() {
        let (r, i, o, n) = (3, 4, 5, 77);
        let d = DenseDims { r, i, o, n };
        let to32 = |v: Vec<f64>| v.into_iter().map(|x| x as f32).collect::<Vec<f32>>();
        let (x, w, b, dy) = (
            to32(values(r * i * n, 5)),
            to32(values(r * i * o, 6)),
            to32(values(r * o, 7)),
            to32(values(r * o * n, 8)),
        );
        let all = (
            forward(&x, &w, &b, d, true),
            input_grad(&w, &dy, d),
            param_grads(&x, &dy, d),
        );
        let one = DenseDims { r: 1, ..d };
        for m in 0..r {
            let part = |v: &[f32], len: usize| v[m * len..(m + 1) * len].to_vec();
            let (xm, wm, bm, dym) = (
                part(&x, i * n),
                part(&w, i * o),
                part(&b, o),
                part(&dy, o * n),
            );
            assert_eq!(forward(&xm, &wm, &bm, one, true), part(&all.0, o * n));
            assert_eq!(input_grad(&wm, &dym, one), part(&all.1, i * n));
            let (dw, db) = param_grads(&xm, &dym, one);
            assert_eq!(dw, part(&all.2.0, i * o));
            assert_eq!(db, part(&all.2.1, o));
        }
    }
}
