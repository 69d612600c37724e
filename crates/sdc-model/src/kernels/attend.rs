//! The attention head of every model, on the CPU backends: the softmax of each sample's segment
//! scores and the weighted average of its segments' vectors, each one pass over memory with a
//! backward pass of one more.
//!
//! Built from Burn's operations, the softmax is a masked fill, a row maximum, a subtraction, an
//! exponential, a row sum and a division, and the average a broadcast product and a sum over
//! the segments; their backward passes are about a dozen more operations, each a pass over
//! memory with a fresh buffer, on rows only `m` (9) values long. For the MLP models these took
//! more time than the dense layers.
//!
//! Every value has one fixed order of roundings, written out here, so the bits do not depend on
//! the machine, the vector width, the backend (flex or ndarray), the layout of the vectors or
//! the number of models beside one another:
//! - softmax of a row `z` (`m` scores): `mx` the row's maximum (NaN if any score is NaN), `e_j =
//!   exp(z_j - mx)` (the C library's `exp`, [`Real::exp_in_place`]), `s = (...((e_0 + e_1) +
//!   e_2) ...)`, `alpha_j = e_j / s`. A row whose scores are all `-inf` is a row of zeros
//!   first (so uniform), as `attention::softmax` defines it.
//! - its backward pass: `dot = fma(g_{m-1}, alpha_{m-1}, ... fma(g_0, alpha_0, 0))`, `dz_j =
//!   alpha_j (g_j - dot)`; zero for an all-`-inf` row (the fill has no gradient).
//! - the weighted average of sample `i`, feature `f`: `y = fma(alpha_{m-1}, x_{m-1}, ...
//!   fma(alpha_0, x_0, 0))` over its segments `j` in order.
//! - its backward pass: `dalpha_j = fma(g_{w-1}, x_{w-1,j}, ... fma(g_0, x_{0,j}, 0))` over the
//!   features in order, `dx_{f,j} = alpha_j g_f`.
//!
//! The average reads its vectors in either layout, with the same arithmetic: row-major
//! `[n, m, w]` (the single model's `[batch, m, width]` features) or feature-major
//! `[r, w, b m]` (the MLP networks' activations, `dense.rs`; `r` models of `b` samples).

use super::host::Real;

/// The sizes of a weighted average: `r` models, each `b` samples of `m` segments with vectors
/// of `w` features; `feature_major`: the vectors are `[r, w, b m]`, else `[r b, m, w]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct AverageDims {
    pub r: usize,
    pub b: usize,
    pub m: usize,
    pub w: usize,
    pub feature_major: bool,
}

/// One of this module's passes that multiply-add, run in the widest SIMD the CPU offers
/// (`pulp`'s run-time dispatch; see `dense.rs` for why not a closure).
enum Pass<'a, E> {
    SoftmaxBackward(&'a [E], &'a [E], &'a [E], usize),
    Average(&'a [E], &'a [E], AverageDims),
    AverageBackward(&'a [E], &'a [E], &'a [E], AverageDims, [bool; 2]),
}

impl<E: Real> pulp::WithSimd for Pass<'_, E> {
    type Output = (Vec<E>, Vec<E>);

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) -> Self::Output {
        match self {
            Pass::SoftmaxBackward(z, alpha, g, m) => {
                (softmax_backward_loops(z, alpha, g, m), Vec::new())
            }
            Pass::Average(alpha, x, d) => (average_loops(alpha, x, d), Vec::new()),
            Pass::AverageBackward(alpha, x, g, d, want) => {
                average_backward_loops(alpha, x, g, d, want)
            }
        }
    }
}

/// A row's maximum, NaN if any value is NaN.
#[inline(always)]
fn row_max<E: Real>(row: &[E]) -> E {
    let mut max = E::from_f64(f64::NEG_INFINITY);
    for &v in row {
        if v.is_nan() || v > max {
            max = v;
            if v.is_nan() {
                break;
            }
        }
    }
    max
}

/// Whether a row's scores are all `-inf` (its maximum is).
#[inline(always)]
fn masked<E: Real>(row: &[E]) -> bool {
    row_max(row) == E::from_f64(f64::NEG_INFINITY)
}

/// The softmax of every row of `m` scores in `z` (module docs).
pub(crate) fn softmax<E: Real>(z: &[E], m: usize) -> Vec<E> {
    let mut out = z.to_vec();
    if m == 0 {
        return out;
    }
    for row in out.chunks_exact_mut(m) {
        let max = row_max(row);
        if max == E::from_f64(f64::NEG_INFINITY) {
            row.fill(E::default());
        } else {
            for v in row.iter_mut() {
                *v = *v - max;
            }
        }
    }
    E::exp_in_place(&mut out);
    for row in out.chunks_exact_mut(m) {
        let mut s = E::default();
        for &e in row.iter() {
            s += e;
        }
        for v in row.iter_mut() {
            *v = *v / s;
        }
    }
    out
}

/// The score gradient of [`softmax`] from its scores `z`, weights `alpha` and the weights'
/// gradient `g` (module docs).
pub(crate) fn softmax_backward<E: Real>(z: &[E], alpha: &[E], g: &[E], m: usize) -> Vec<E> {
    pulp::Arch::new()
        .dispatch(Pass::SoftmaxBackward(z, alpha, g, m))
        .0
}

#[inline(always)]
fn softmax_backward_loops<E: Real>(z: &[E], alpha: &[E], g: &[E], m: usize) -> Vec<E> {
    let mut dz = Vec::with_capacity(z.len());
    if m == 0 {
        return dz;
    }
    for ((z, a), g) in z
        .chunks_exact(m)
        .zip(alpha.chunks_exact(m))
        .zip(g.chunks_exact(m))
    {
        if masked(z) {
            dz.extend(std::iter::repeat_n(E::default(), m));
            continue;
        }
        let mut dot = E::default();
        for (&gj, &aj) in g.iter().zip(a) {
            dot = gj.mul_add(aj, dot);
        }
        for (&gj, &aj) in g.iter().zip(a) {
            dz.push(aj * (gj - dot));
        }
    }
    dz
}

/// The weighted average of every sample's segment vectors `x` by its weights `alpha`
/// (`[r, b, m]`): `[r, w, b]` feature-major, else `[r b, w]` (module docs).
pub(crate) fn average<E: Real>(alpha: &[E], x: &[E], d: AverageDims) -> Vec<E> {
    pulp::Arch::new().dispatch(Pass::Average(alpha, x, d)).0
}

#[inline(always)]
fn average_loops<E: Real>(alpha: &[E], x: &[E], d: AverageDims) -> Vec<E> {
    let AverageDims { r, b, m, w, .. } = d;
    let mut out = Vec::with_capacity(r * b * w);
    if d.feature_major {
        // Model `k`, feature `f`, sample `i`: a dot product of two contiguous runs. Plain loops,
        // no closures: a closure that is not inlined is compiled without the dispatched target
        // features, and each `mul_add` becomes a library call.
        for k in 0..r {
            let alpha_k = &alpha[k * b * m..(k + 1) * b * m];
            for f in 0..w {
                let x_kf = &x[(k * w + f) * b * m..(k * w + f + 1) * b * m];
                for (a, x) in alpha_k.chunks_exact(m).zip(x_kf.chunks_exact(m)) {
                    let mut y = E::default();
                    for (&aj, &xj) in a.iter().zip(x) {
                        y = aj.mul_add(xj, y);
                    }
                    out.push(y);
                }
            }
        }
    } else {
        // Sample `i`: its `w` sums grow segment by segment.
        out.resize(r * b * w, E::default());
        for ((y, a), x) in out
            .chunks_exact_mut(w)
            .zip(alpha.chunks_exact(m))
            .zip(x.chunks_exact(m * w))
        {
            for (&aj, xj) in a.iter().zip(x.chunks_exact(w)) {
                for (yf, &xf) in y.iter_mut().zip(xj) {
                    *yf = aj.mul_add(xf, *yf);
                }
            }
        }
    }
    out
}

/// The gradients `(dalpha, dx)` of [`average`] from its weights, vectors and output gradient
/// `g`; each is empty unless `want` says so (module docs).
pub(crate) fn average_backward<E: Real>(
    alpha: &[E],
    x: &[E],
    g: &[E],
    d: AverageDims,
    want: [bool; 2],
) -> (Vec<E>, Vec<E>) {
    pulp::Arch::new().dispatch(Pass::AverageBackward(alpha, x, g, d, want))
}

#[inline(always)]
fn average_backward_loops<E: Real>(
    alpha: &[E],
    x: &[E],
    g: &[E],
    d: AverageDims,
    [want_alpha, want_x]: [bool; 2],
) -> (Vec<E>, Vec<E>) {
    let AverageDims { r, b, m, w, .. } = d;
    let (mut da, mut dx) = (Vec::new(), Vec::new());
    if d.feature_major {
        if want_alpha {
            // Model `k`'s `b m` sums grow feature by feature.
            da.resize(r * b * m, E::default());
            for k in 0..r {
                let da_k = &mut da[k * b * m..(k + 1) * b * m];
                for f in 0..w {
                    let x_kf = &x[(k * w + f) * b * m..(k * w + f + 1) * b * m];
                    let g_kf = &g[(k * w + f) * b..(k * w + f + 1) * b];
                    for ((da_i, x_i), &gi) in
                        da_k.chunks_exact_mut(m).zip(x_kf.chunks_exact(m)).zip(g_kf)
                    {
                        for (a, &xj) in da_i.iter_mut().zip(x_i) {
                            *a = gi.mul_add(xj, *a);
                        }
                    }
                }
            }
        }
        if want_x {
            dx.reserve(r * w * b * m);
            for k in 0..r {
                let alpha_k = &alpha[k * b * m..(k + 1) * b * m];
                for f in 0..w {
                    let g_kf = &g[(k * w + f) * b..(k * w + f + 1) * b];
                    for (a, &gi) in alpha_k.chunks_exact(m).zip(g_kf) {
                        for &aj in a {
                            dx.push(aj * gi);
                        }
                    }
                }
            }
        }
    } else {
        if want_alpha {
            da.reserve(r * b * m);
            for (x_i, g_i) in x.chunks_exact(m * w).zip(g.chunks_exact(w)) {
                for xj in x_i.chunks_exact(w) {
                    let mut a = E::default();
                    for (&gf, &xf) in g_i.iter().zip(xj) {
                        a = gf.mul_add(xf, a);
                    }
                    da.push(a);
                }
            }
        }
        if want_x {
            dx.reserve(r * b * m * w);
            for (a_i, g_i) in alpha.chunks_exact(m).zip(g.chunks_exact(w)) {
                for &aj in a_i {
                    for &gf in g_i {
                        dx.push(aj * gf);
                    }
                }
            }
        }
    }
    (da, dx)
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::super::test_values as values;

    /// `[r, b, m, w]` row-major vectors as `[r, w, b m]`.
    fn feature_major(x: &[f32], d: AverageDims) -> Vec<f32> {
        let AverageDims { r, b, m, w, .. } = d;
        let mut out = vec![0.0; x.len()];
        for k in 0..r {
            for i in 0..b {
                for j in 0..m {
                    for f in 0..w {
                        out[((k * w + f) * b + i) * m + j] = x[((k * b + i) * m + j) * w + f];
                    }
                }
            }
        }
        out
    }

    #[test]
    fn the_softmax_and_its_gradient_match_the_formulas() {
        let m = 9;
        let z = values(5 * m, 1);
        let g = values(5 * m, 2);
        let alpha = softmax(&z, m);
        let dz = softmax_backward(&z, &alpha, &g, m);
        for row in 0..5 {
            let zr = &z[row * m..(row + 1) * m];
            let max = zr.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let s: f64 = zr.iter().map(|v| (v - max).exp()).sum();
            let dot: f64 = (0..m).map(|j| g[row * m + j] * alpha[row * m + j]).sum();
            for j in 0..m {
                let want = (zr[j] - max).exp() / s;
                assert!((alpha[row * m + j] - want).abs() < 1e-15);
                let want = want * (g[row * m + j] - dot);
                assert!((dz[row * m + j] - want).abs() < 1e-15);
            }
        }
    }

    #[test]
    fn a_row_of_minus_infinity_is_uniform_without_gradient_and_nan_spreads() {
        let inf = f32::NEG_INFINITY;
        let z = [inf, inf, inf, 0.0, inf, 1.0, f32::NAN, 0.0, 1.0];
        let alpha = softmax(&z, 3);
        assert_eq!(&alpha[..3], &[1.0 / 3.0; 3]);
        assert_eq!(alpha[4], 0.0);
        assert!(alpha[6..].iter().all(|a| a.is_nan()));
        let dz = softmax_backward(
            &z,
            &alpha,
            &[1.0, 2.0, 3.0, 1.0, 2.0, 3.0, 1.0, 2.0, 3.0],
            3,
        );
        assert_eq!(&dz[..3], &[0.0; 3]);
        assert_eq!(dz[4], 0.0);
    }

    #[test]
    fn the_average_and_its_gradients_match_the_sums_in_both_layouts() {
        for (r, b, m, w) in [(1, 4, 9, 5), (3, 7, 2, 12), (2, 1, 1, 1)] {
            let rows = AverageDims {
                r,
                b,
                m,
                w,
                feature_major: false,
            };
            let cols = AverageDims {
                feature_major: true,
                ..rows
            };
            let to32 = |v: Vec<f64>| v.into_iter().map(|x| x as f32).collect::<Vec<f32>>();
            let (alpha, x, g) = (
                to32(values(r * b * m, 3)),
                to32(values(r * b * m * w, 4)),
                to32(values(r * b * w, 5)),
            );
            let y = average(&alpha, &x, rows);
            let (da, dx) = average_backward(&alpha, &x, &g, rows, [true, true]);
            for n in 0..r * b {
                for f in 0..w {
                    let want: f64 = (0..m)
                        .map(|j| alpha[n * m + j] as f64 * x[(n * m + j) * w + f] as f64)
                        .sum();
                    assert!((y[n * w + f] as f64 - want).abs() < 1e-5, "{rows:?}");
                    for j in 0..m {
                        let want = alpha[n * m + j] * g[n * w + f];
                        assert_eq!(dx[(n * m + j) * w + f], want);
                    }
                }
                for j in 0..m {
                    let want: f64 = (0..w)
                        .map(|f| g[n * w + f] as f64 * x[(n * m + j) * w + f] as f64)
                        .sum();
                    assert!((da[n * m + j] as f64 - want).abs() < 1e-5, "{rows:?}");
                }
            }
            // The same bits feature-major, outputs and gradients transposed alike.
            let (xt, gt) = (
                feature_major(&x, rows),
                feature_major(&g, AverageDims { m: 1, ..rows }),
            );
            let yt = average(&alpha, &xt, cols);
            assert_eq!(yt, feature_major(&y, AverageDims { m: 1, ..rows }));
            let (dat, dxt) = average_backward(&alpha, &xt, &gt, cols, [true, true]);
            assert_eq!(dat, da);
            assert_eq!(dxt, feature_major(&dx, rows));
            let (none_a, only_x) = average_backward(&alpha, &xt, &gt, cols, [false, true]);
            assert!(none_a.is_empty());
            assert_eq!(only_x, dxt);
        }
    }
}
