//! The kernels on host memory: im2col and its adjoint, max-pooling and tanh
//! with their backward passes, and an Adam step (BatchNorm-ReLU: `norm.rs`).
//!
//! Every function reads contiguous `[n, c, h, w]` (or `[n, c k k, h' w']`) slices and returns
//! a fresh contiguous vector. Sums run in one fixed order, so a result depends on the values
//! alone, never on the backend or thread count that called.

use std::ops::{Add, AddAssign, Div, Mul, Neg, Sub};

use super::halves::{collect_items, fill_items};

/// The element types the kernels run on (the float types a run trains in).
pub(crate) trait Real:
    Copy
    + Send
    + Sync
    + Default
    + PartialOrd
    + AddAssign
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
{
    /// `true` for NaN, which max-pooling propagates (as PyTorch's does).
    fn is_nan(self) -> bool;
    fn sqrt(self) -> Self;
    fn exp(self) -> Self;
    /// `self * a + b` with one rounding (fused multiply-add: the same bits on every machine).
    fn mul_add(self, a: Self, b: Self) -> Self;
    fn from_f64(value: f64) -> Self;
    /// A small non-negative whole number stored as `Self` (a max-pool's choice), back as an
    /// index.
    fn to_index(self) -> usize;
    /// `self` where `keep`, else `+0`, as a select without a branch (an `if` here became a
    /// branch per value in the BatchNorm backward pass, `norm.rs`).
    fn zero_unless(self, keep: bool) -> Self;
    /// `values[i] = values[i].exp()`, the same bits as [`Real::exp`] element by element (in
    /// `f32`, vectorised: [`super::expf`]).
    fn exp_in_place(values: &mut [Self]);
}

/// [`Real::exp_in_place`] one library call at a time.
fn exp_each<E: Real>(values: &mut [E]) {
    for v in values {
        *v = v.exp();
    }
}

macro_rules! real {
    ($($t:ty => $exp_in_place:path),+) => {$(
        impl Real for $t {
            fn is_nan(self) -> bool {
                <$t>::is_nan(self)
            }
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            fn exp(self) -> Self {
                <$t>::exp(self)
            }
            #[inline(always)]
            fn mul_add(self, a: Self, b: Self) -> Self {
                <$t>::mul_add(self, a, b)
            }
            fn from_f64(value: f64) -> Self {
                value as $t
            }
            #[inline(always)]
            fn to_index(self) -> usize {
                self as usize
            }
            #[inline(always)]
            fn zero_unless(self, keep: bool) -> Self {
                std::hint::select_unpredictable(keep, self, 0.0)
            }
            fn exp_in_place(values: &mut [Self]) {
                $exp_in_place(values)
            }
        }
    )+};
}

real!(f32 => super::expf::exp_in_place, f64 => exp_each);

/// `[n, c, h, w]` planes and a square window with symmetric zero (or, for pooling, ignored)
/// padding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Window {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub kernel: usize,
    pub padding: usize,
}

impl Window {
    /// Output side of a stride-1 convolution, `side + 2p - k + 1` (at least 1 by the caller's
    /// checks).
    fn conv_side(&self, side: usize) -> usize {
        side + 2 * self.padding + 1 - self.kernel
    }

    /// `(h', w')` of a stride-1 convolution.
    pub fn conv_out(&self) -> (usize, usize) {
        (self.conv_side(self.h), self.conv_side(self.w))
    }

    /// `(h', w')` of a max-pool whose stride is its kernel (floor mode, as PyTorch's default).
    pub fn pool_out(&self) -> (usize, usize) {
        let side = |s: usize| (s + 2 * self.padding - self.kernel) / self.kernel + 1;
        (side(self.h), side(self.w))
    }

    fn plane(&self) -> usize {
        self.h * self.w
    }
}

/// The input index range `start..end` a window offset `d` reads for outputs `0..out` of a
/// stride-1 convolution: output `o` reads input `o + d - p`. Returns the valid output range.
fn valid_outputs(d: usize, padding: usize, side: usize, out: usize) -> (usize, usize) {
    let first = padding.saturating_sub(d);
    let last = (side + padding).saturating_sub(d).min(out);
    (first, last.max(first))
}

/// The patch matrix `[n, c k k, h' w']` of a stride-1 convolution: row `(ci k + di) k + dj` of
/// sample `b` holds input pixel `(i + di - p, j + dj - p)` of channel `ci` at column `i w' + j`,
/// zero where that falls in the padding. Each row is written once, in order, with no zeroed
/// buffer first.
pub(crate) fn im2col<E: Real>(x: &[E], g: Window) -> Vec<E> {
    let (ho, wo) = g.conv_out();
    let k = g.kernel;
    let zero = E::default();
    // The patch rows of one input plane, `k k` rows of `h' w'`.
    let per_plane = k * k * ho * wo;
    let planes = g.n * g.c;
    collect_items(
        planes,
        per_plane,
        planes * per_plane,
        |first, count, out| {
            for plane in x[first * g.plane()..].chunks_exact(g.plane()).take(count) {
                for di in 0..k {
                    // Clamped to the output: a kernel wider than the padded input reads padding
                    // only.
                    let clamp = |(a, b): (usize, usize), side: usize| (a.min(side), b.min(side));
                    let (i0, i1) = clamp(valid_outputs(di, g.padding, g.h, ho), ho);
                    for dj in 0..k {
                        let (j0, j1) = clamp(valid_outputs(dj, g.padding, g.w, wo), wo);
                        out.resize(out.len() + i0 * wo, zero);
                        for oi in i0..i1 {
                            let src = (oi + di - g.padding) * g.w + j0 + dj - g.padding;
                            out.resize(out.len() + j0, zero);
                            out.extend_from_slice(&plane[src..src + j1 - j0]);
                            out.resize(out.len() + wo - j1, zero);
                        }
                        out.resize(out.len() + (ho - i1) * wo, zero);
                    }
                }
            }
        },
    )
}

/// The adjoint of [`im2col`]: every patch entry added back onto the pixel it was read from
/// (the input gradient of a convolution from its patch gradient), in the order of the patch
/// rows.
pub(crate) fn col2im<E: Real>(cols: &[E], g: Window) -> Vec<E> {
    let (ho, wo) = g.conv_out();
    let k = g.kernel;
    let mut x = vec![E::default(); g.n * g.c * g.plane()];
    fill_items(&mut x, g.plane(), cols.len(), |first, part| {
        for (i, plane) in part.chunks_exact_mut(g.plane()).enumerate() {
            let plane_index = first + i;
            for di in 0..k {
                let (i0, i1) = valid_outputs(di, g.padding, g.h, ho);
                for dj in 0..k {
                    let (j0, j1) = valid_outputs(dj, g.padding, g.w, wo);
                    let row = (plane_index * k + di) * k + dj;
                    let src = &cols[row * ho * wo..][..ho * wo];
                    for oi in i0..i1 {
                        let dst = (oi + di - g.padding) * g.w + j0 + dj - g.padding;
                        for (d, s) in plane[dst..dst + j1 - j0]
                            .iter_mut()
                            .zip(&src[oi * wo + j0..oi * wo + j1])
                        {
                            *d += *s;
                        }
                    }
                }
            }
        }
    });
    x
}

/// `parts` (`[n_i, o, pixels]` each) joined into `[n, o, pixels]` with `bias[ch]` added to every
/// value of channel `ch`: the additions of a broadcast `+`, one pass.
pub(crate) fn add_bias<E: Real>(parts: &[&[E]], bias: &[E], pixels: usize) -> Vec<E> {
    let per_sample = bias.len() * pixels;
    let total = parts.iter().map(|part| part.len()).sum();
    let samples: Vec<&[E]> = parts
        .iter()
        .flat_map(|part| part.chunks_exact(per_sample))
        .collect();
    collect_items(samples.len(), per_sample, total, |first, count, out| {
        for src in &samples[first..first + count] {
            for (s, b) in src.chunks_exact(pixels).zip(bias) {
                let b = *b;
                out.extend(s.iter().map(move |v| *v + b));
            }
        }
    })
}

/// Index (within its plane) of the maximum of output `(oi, oj)`'s window: the first maximum in
/// row-major order, or the first NaN; padding is never chosen.
#[inline]
fn argmax<E: Real>(plane: &[E], g: &Window, oi: usize, oj: usize) -> usize {
    let (k, p) = (g.kernel, g.padding);
    let rows = (oi * k).saturating_sub(p)..(oi * k + k - p).min(g.h);
    let cols = (oj * k).saturating_sub(p)..(oj * k + k - p).min(g.w);
    let mut best = rows.start * g.w + cols.start;
    for i in rows {
        for j in cols.clone() {
            let at = i * g.w + j;
            let (v, m) = (plane[at], plane[best]);
            if m.is_nan() {
                return best;
            }
            if v > m || v.is_nan() {
                best = at;
            }
        }
    }
    best
}

/// Max-pooling with stride equal to the kernel; padding is ignored (PyTorch pads with -inf).
pub(crate) fn max_pool<E: Real>(x: &[E], g: Window) -> Vec<E> {
    let (ho, wo) = g.pool_out();
    let mut out = vec![E::default(); g.n * g.c * ho * wo];
    fill_items(&mut out, ho * wo, x.len(), |first, part| {
        let planes = x[first * g.plane()..].chunks_exact(g.plane());
        for (plane, out) in planes.zip(part.chunks_exact_mut(ho * wo)) {
            max_pool_plane(plane, out, &g);
        }
    });
    out
}

/// [`max_pool`] of one plane into `out` (`h' w'` values).
fn max_pool_plane<E: Real>(plane: &[E], out: &mut [E], g: &Window) {
    let (ho, wo) = g.pool_out();
    debug_assert_eq!(out.len(), ho * wo);
    if g.kernel == 2 && g.padding == 0 {
        // The mosaic CNNs' pooling: two rows at a time, the same choice as `argmax`.
        for (orow, rows) in out.chunks_exact_mut(wo).zip(plane.chunks_exact(2 * g.w)) {
            let (top, bottom) = rows.split_at(g.w);
            for ((o, t), b) in orow
                .iter_mut()
                .zip(top.chunks_exact(2))
                .zip(bottom.chunks_exact(2))
            {
                *o = max_of([t[0], t[1], b[0], b[1]]).0;
            }
        }
    } else {
        for (o, value) in out.iter_mut().enumerate() {
            *value = plane[argmax(plane, g, o / wo, o % wo)];
        }
    }
}

/// [`max_pool_plane`] that also records each window's choice: the offset `di k + dj` of the
/// input it took within the window (rows and columns counted from the window's first one
/// inside the plane), the input [`max_pool_backward`] would find again. Offsets are below
/// `k k`, exact in any float type for the kernels this is used for ([`MAX_CHOICE_KERNEL`]).
pub(crate) fn max_pool_plane_choosing<E: Real>(
    plane: &[E],
    out: &mut [E],
    choice: &mut [E],
    g: &Window,
) {
    let (ho, wo) = g.pool_out();
    debug_assert_eq!((out.len(), choice.len()), (ho * wo, ho * wo));
    if g.kernel == 2 && g.padding == 0 {
        let rows = out.chunks_exact_mut(wo).zip(choice.chunks_exact_mut(wo));
        for ((orow, crow), pair) in rows.zip(plane.chunks_exact(2 * g.w)) {
            let (top, bottom) = pair.split_at(g.w);
            let windows = top.chunks_exact(2).zip(bottom.chunks_exact(2));
            for ((o, c), (t, b)) in orow.iter_mut().zip(crow.iter_mut()).zip(windows) {
                // `max_of`'s position is the row-major offset in the 2x2 window.
                let (value, at) = max_of([t[0], t[1], b[0], b[1]]);
                *o = value;
                *c = E::from_f64(at as f64);
            }
        }
    } else {
        for (o, (value, c)) in out.iter_mut().zip(choice.iter_mut()).enumerate() {
            let (oi, oj) = (o / wo, o % wo);
            let at = argmax(plane, g, oi, oj);
            let (r0, c0) = window_start(g, oi, oj);
            *value = plane[at];
            *c = E::from_f64(((at / g.w - r0) * g.kernel + at % g.w - c0) as f64);
        }
    }
}

/// The largest max-pool kernel whose choices [`max_pool_plane_choosing`] records (offsets
/// below 225, exact as floats).
pub(crate) const MAX_CHOICE_KERNEL: usize = 15;

/// The first row and column inside the plane of output `(oi, oj)`'s window.
fn window_start(g: &Window, oi: usize, oj: usize) -> (usize, usize) {
    (
        (oi * g.kernel).saturating_sub(g.padding),
        (oj * g.kernel).saturating_sub(g.padding),
    )
}

/// The gradient of one pooled plane back at the inputs its windows chose
/// ([`max_pool_plane_choosing`]): into `dplane` (`h w` values, any on entry), the values
/// [`max_pool_backward_plane`] writes.
#[inline(always)]
pub(crate) fn route_plane<E: Real>(choice: &[E], gplane: &[E], dplane: &mut [E], g: &Window) {
    let (ho, wo) = g.pool_out();
    let zero = E::default();
    if g.kernel == 2 && g.padding == 0 {
        // Every window's four inputs written, as `max_pool_backward_plane` writes them; the
        // row and column no window reads (odd sides) are zero.
        let offsets = [0.0, 1.0, 2.0, 3.0].map(E::from_f64);
        let (pairs, rest) = dplane.split_at_mut(ho * 2 * g.w);
        rest.fill(zero);
        let rows = choice.chunks_exact(wo).zip(gplane.chunks_exact(wo));
        for ((crow, grow), drows) in rows.zip(pairs.chunks_exact_mut(2 * g.w)) {
            let (top, bottom) = drows.split_at_mut(g.w);
            top[2 * wo..].fill(zero);
            bottom[2 * wo..].fill(zero);
            let windows = top.chunks_exact_mut(2).zip(bottom.chunks_exact_mut(2));
            for ((c, gv), (dt, db)) in crow.iter().zip(grow).zip(windows) {
                // Selects on float comparisons, not branches: which input a window chose is
                // as good as random.
                dt[0] = gv.zero_unless(*c == offsets[0]);
                dt[1] = gv.zero_unless(*c == offsets[1]);
                db[0] = gv.zero_unless(*c == offsets[2]);
                db[1] = gv.zero_unless(*c == offsets[3]);
            }
        }
    } else {
        // As its general path: each output's gradient added to a zero.
        dplane.fill(zero);
        for (o, (c, gv)) in choice.iter().zip(gplane).enumerate() {
            let (r0, c0) = window_start(g, o / wo, o % wo);
            let at = c.to_index();
            dplane[(r0 + at / g.kernel) * g.w + c0 + at % g.kernel] += *gv;
        }
    }
}

/// The maximum of a 2x2 window in row-major order and its position, as [`argmax`] chooses:
/// the first maximum, or the first NaN.
#[inline]
fn max_of<E: Real>(window: [E; 4]) -> (E, usize) {
    let [a, b, c, d] = window;
    if a.is_nan() | b.is_nan() | c.is_nan() | d.is_nan() {
        return first_nan(window);
    }
    // A tournament in which the earlier value wins ties chooses as a row-major scan does;
    // selects rather than branches, as the winner is as good as random.
    use std::hint::select_unpredictable as select;
    let (m0, i0) = select(b > a, (b, 1), (a, 0));
    let (m1, i1) = select(d > c, (d, 3), (c, 2));
    select(m1 > m0, (m1, i1), (m0, i0))
}

/// The first NaN of a window that has one.
#[cold]
fn first_nan<E: Real>(window: [E; 4]) -> (E, usize) {
    let at = window.iter().position(|v| v.is_nan()).unwrap_or(0);
    (window[at], at)
}

/// The input gradient of [`max_pool`]: each output's gradient goes to the input it took its
/// value from (the window's maximum is found again in `x`).
pub(crate) fn max_pool_backward<E: Real>(x: &[E], grad: &[E], g: Window) -> Vec<E> {
    let (ho, wo) = g.pool_out();
    let mut dx = vec![E::default(); x.len()];
    fill_items(&mut dx, g.plane(), x.len(), |first, part| {
        let planes = x[first * g.plane()..].chunks_exact(g.plane());
        let grads = grad[first * ho * wo..].chunks_exact(ho * wo);
        for ((plane, dplane), gplane) in planes.zip(part.chunks_exact_mut(g.plane())).zip(grads) {
            max_pool_backward_plane(plane, gplane, dplane, &g);
        }
    });
    dx
}

/// [`max_pool_backward`] of one plane into `dplane` (zeros on entry).
fn max_pool_backward_plane<E: Real>(plane: &[E], gplane: &[E], dplane: &mut [E], g: &Window) {
    let wo = g.pool_out().1;
    if g.kernel == 2 && g.padding == 0 {
        // Windows do not overlap: each input takes its output's gradient or zero.
        for ((rows, drows), grow) in plane
            .chunks_exact(2 * g.w)
            .zip(dplane.chunks_exact_mut(2 * g.w))
            .zip(gplane.chunks_exact(wo))
        {
            let (top, bottom) = rows.split_at(g.w);
            let (dtop, dbottom) = drows.split_at_mut(g.w);
            for ((((t, b), dt), db), gv) in top
                .chunks_exact(2)
                .zip(bottom.chunks_exact(2))
                .zip(dtop.chunks_exact_mut(2))
                .zip(dbottom.chunks_exact_mut(2))
                .zip(grow)
            {
                let at = max_of([t[0], t[1], b[0], b[1]]).1;
                let zero = E::default();
                dt[0] = if at == 0 { *gv } else { zero };
                dt[1] = if at == 1 { *gv } else { zero };
                db[0] = if at == 2 { *gv } else { zero };
                db[1] = if at == 3 { *gv } else { zero };
            }
        }
    } else {
        for (o, gv) in gplane.iter().enumerate() {
            dplane[argmax(plane, g, o / wo, o % wo)] += *gv;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(n: usize, c: usize, h: usize, w: usize, kernel: usize, padding: usize) -> Window {
        Window {
            n,
            c,
            h,
            w,
            kernel,
            padding,
        }
    }

    #[test]
    fn im2col_reads_each_pixel_at_its_offset_and_zero_in_the_padding() {
        // One 2x3 plane, 2x2 kernel, padding 1: a 3x4 output, 4 rows of patches.
        let x = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
        let g = window(1, 1, 2, 3, 2, 1);
        let cols = im2col(&x, g);
        assert_eq!(g.conv_out(), (3, 4));
        #[rustfmt::skip]
        let want = [
            // di=0, dj=0: pixel (oi-1, oj-1)
            0.0, 0.0, 0.0, 0.0,  0.0, 1.0, 2.0, 3.0,  0.0, 4.0, 5.0, 6.0,
            // di=0, dj=1: pixel (oi-1, oj)
            0.0, 0.0, 0.0, 0.0,  1.0, 2.0, 3.0, 0.0,  4.0, 5.0, 6.0, 0.0,
            // di=1, dj=0: pixel (oi, oj-1)
            0.0, 1.0, 2.0, 3.0,  0.0, 4.0, 5.0, 6.0,  0.0, 0.0, 0.0, 0.0,
            // di=1, dj=1: pixel (oi, oj)
            1.0, 2.0, 3.0, 0.0,  4.0, 5.0, 6.0, 0.0,  0.0, 0.0, 0.0, 0.0,
        ];
        assert_eq!(cols, want);
    }

    #[test]
    fn col2im_is_the_adjoint_of_im2col() {
        // <im2col(x), y> == <x, col2im(y)> for any x, y: the defining property of a gradient.
        let g = window(2, 3, 5, 4, 3, 1);
        let x: Vec<f64> = (0..g.n * g.c * g.h * g.w)
            .map(|i| (i as f64 * 0.37).sin())
            .collect();
        let (ho, wo) = g.conv_out();
        let y: Vec<f64> = (0..g.n * g.c * 9 * ho * wo)
            .map(|i| (i as f64 * 0.11).cos())
            .collect();
        let lhs: f64 = im2col(&x, g).iter().zip(&y).map(|(a, b)| a * b).sum();
        let rhs: f64 = x.iter().zip(col2im(&y, g)).map(|(a, b)| a * b).sum();
        assert!((lhs - rhs).abs() < 1e-9, "{lhs} vs {rhs}");
    }

    #[test]
    fn a_kernel_wider_than_the_padded_input_reads_only_padding() {
        // 1x1 input, kernel 3, padding 1: one output, the pixel at the centre of the window.
        let g = window(1, 1, 1, 1, 3, 1);
        let cols = im2col(&[7.0f32], g);
        assert_eq!(cols, [0.0, 0.0, 0.0, 0.0, 7.0, 0.0, 0.0, 0.0, 0.0]);
        assert_eq!(col2im(&cols, g), [7.0]);
    }

    #[test]
    fn max_pool_takes_the_first_maximum_and_propagates_nan() {
        let g = window(1, 1, 2, 6, 2, 0);
        let x = [
            1.0f32,
            3.0,
            5.0,
            5.0,
            f32::NAN,
            0.0,
            2.0,
            3.0,
            4.0,
            1.0,
            9.0,
            9.0,
        ];
        let out = max_pool(&x, g);
        assert_eq!(out[..2], [3.0, 5.0]);
        assert!(out[2].is_nan());
        // The gradient goes to the first 3 (index 1), the first 5 (index 2) and the NaN.
        let dx = max_pool_backward(&x, &[10.0, 20.0, 30.0], g);
        let want = [
            0.0, 10.0, 20.0, 0.0, 30.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
        ];
        assert_eq!(dx, want);
    }

    #[test]
    fn the_2x2_path_and_the_general_path_choose_alike() {
        // Odd sides (the last row and column are not pooled), ties and a NaN.
        let g = window(2, 2, 7, 9, 2, 0);
        let mut x: Vec<f32> = (0..g.n * g.c * g.h * g.w)
            .map(|i| ((i * 7919) % 5) as f32)
            .collect();
        x[40] = f32::NAN;
        let (ho, wo) = g.pool_out();
        let grad: Vec<f32> = (0..g.n * g.c * ho * wo).map(|i| i as f32 + 1.0).collect();
        let mut values = Vec::new();
        let mut dx = vec![0.0f32; x.len()];
        for (p, plane) in x.chunks_exact(g.h * g.w).enumerate() {
            for o in 0..ho * wo {
                let at = argmax(plane, &g, o / wo, o % wo);
                values.push(plane[at]);
                dx[p * g.h * g.w + at] += grad[p * ho * wo + o];
            }
        }
        let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&max_pool(&x, g)), bits(&values));
        assert_eq!(max_pool_backward(&x, &grad, g), dx);
    }

    #[test]
    fn padded_pooling_ignores_the_padding_and_floors_the_size() {
        // 3x3 plane, kernel 2, padding 1: PyTorch's 2x2 output, windows clipped to the plane.
        let g = window(1, 1, 3, 3, 2, 1);
        let x = [-1.0f64, -2.0, -3.0, -4.0, -5.0, -6.0, -7.0, -8.0, -9.0];
        assert_eq!(g.pool_out(), (2, 2));
        assert_eq!(max_pool(&x, g), [-1.0, -2.0, -4.0, -5.0]);
        let dx = max_pool_backward(&x, &[1.0, 2.0, 3.0, 4.0], g);
        assert_eq!(dx, [1.0, 2.0, 0.0, 3.0, 4.0, 0.0, 0.0, 0.0, 0.0]);
    }
}

/// `tanh`'s input clamp: beyond ±20, tanh is ±1 to within 1e-17 and `exp(2x)` stays finite.
const TANH_CLAMP: f64 = 20.0;

/// `clamp(x, -20, 20)` as Burn's clamp computes it (a NaN stays NaN), and whether the clamp
/// passes `x`'s gradient (Burn masks the gradient where `x > 20` or `x < -20`).
fn tanh_clamp<E: Real>(x: E) -> (E, bool) {
    let bound = E::from_f64(TANH_CLAMP);
    if x > bound {
        (bound, false)
    } else if x < -bound {
        (-bound, false)
    } else {
        (x, true)
    }
}

/// `[r, a, b]` -> `[r, b, a]`. A narrow source (`b <= TILE`, the networks' inputs and
/// activations) is gathered run by run, in the output's order; a wide one is copied in tiles of
/// [`TILE`] x [`TILE`], so that both the reads and the writes stay within a few cache lines at
/// a time.
pub(crate) fn swap_last<E: Real>(x: &[E], [_, a, b]: [usize; 3]) -> Vec<E> {
    if a == 0 || b == 0 {
        return Vec::new();
    }
    if b <= TILE {
        let mut out = Vec::with_capacity(x.len());
        for src in x.chunks_exact(a * b) {
            for q in 0..b {
                out.extend(src[q..].iter().step_by(b).copied());
            }
        }
        return out;
    }
    let mut out = vec![E::default(); x.len()];
    for (src, dst) in x.chunks_exact(a * b).zip(out.chunks_exact_mut(a * b)) {
        for p0 in (0..a).step_by(TILE) {
            for q0 in (0..b).step_by(TILE) {
                for q in q0..(q0 + TILE).min(b) {
                    for p in p0..(p0 + TILE).min(a) {
                        dst[q * a + p] = src[p * b + q];
                    }
                }
            }
        }
    }
    out
}

/// The side of [`swap_last`]'s tiles.
const TILE: usize = 16;

/// `tanh(x) = 1 - 2 / (exp(2 clamp(x)) + 1)` element by element: the operations of
/// `nets::tanh`'s composition of Burn's operations (clamp, `* 2`, `exp`, `+ 1`, reciprocal,
/// `* -2`, `+ 1`), one rounding each in the same order, so the values are the same bits.
/// With `keep_exp`, also `exp(2 clamp(x))` for the backward pass.
pub(crate) fn tanh<E: Real>(x: &[E], keep_exp: bool) -> (Vec<E>, Option<Vec<E>>) {
    let (one, two) = (E::from_f64(1.0), E::from_f64(2.0));
    let y_of = |e: E| (one / (e + one)) * -two + one;
    let mut e: Vec<E> = x.iter().map(|&x| tanh_clamp(x).0 * two).collect();
    E::exp_in_place(&mut e);
    if keep_exp {
        (e.iter().map(|&e| y_of(e)).collect(), Some(e))
    } else {
        for v in &mut e {
            *v = y_of(*v);
        }
        (e, None)
    }
}

/// `tanh`'s input gradient from its input, `exp(2 clamp(x))` and the output gradient: the
/// chain rule through the same seven operations as Burn's backward passes compute it
/// (`(g * -2) * -(1 / (u u))` with `u = e + 1`, times `e`, times 2, masked by the clamp), in
/// the same order, so the gradient is the same bits too.
pub(crate) fn tanh_backward<E: Real>(x: &[E], exp2: &[E], grad: &[E]) -> Vec<E> {
    let (zero, one, two) = (E::default(), E::from_f64(1.0), E::from_f64(2.0));
    x.iter()
        .zip(exp2)
        .zip(grad)
        .map(|((&x, &e), &g)| {
            if !tanh_clamp(x).1 {
                return zero;
            }
            let u = e + one;
            ((g * -two) * -(one / (u * u)) * e) * two
        })
        .collect()
}

/// The scalars of one Adam step, each the value burn-optim's `Adam` multiplies or adds (its
/// `f32` values, and the learning rate, as `f64`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamScalars {
    /// `beta_1`.
    pub beta_1: f64,
    /// `beta_2`.
    pub beta_2: f64,
    /// `1 - beta_1` (computed in `f32`).
    pub factor_1: f64,
    /// `1 - beta_2` (computed in `f32`).
    pub factor_2: f64,
    /// `sqrt(1 - beta_2^t) / (1 - beta_1^t)` (in `f32`).
    pub combined: f64,
    /// `epsilon * sqrt(1 - beta_2^t)` (in `f32`).
    pub eps_term: f64,
    /// The learning rate.
    pub lr: f64,
}

/// One Adam step of one parameter, element by element, as burn-optim 0.22's `Adam` computes
/// it from tensor operations (one rounding each, in the same order), so the same bits:
/// `m1 = m1 b1 + g (1 - b1)`, `m2 = m2 b2 + (g g)(1 - b2)` (on the first step, `first`, only
/// the second terms), then `p - ((m1 c) / (sqrt(m2) + e)) lr`. Returns `(p, m1, m2)`.
pub(crate) fn adam_step<E: Real>(
    param: &[E],
    grad: &[E],
    moments: Option<(&[E], &[E])>,
    s: AdamScalars,
) -> (Vec<E>, Vec<E>, Vec<E>) {
    let [b1, b2, f1, f2, c, e, lr] = [
        s.beta_1, s.beta_2, s.factor_1, s.factor_2, s.combined, s.eps_term, s.lr,
    ]
    .map(E::from_f64);
    // Three passes over slices (no indexing), which the compiler vectorizes; every element
    // still takes the same roundings in the same order.
    let (m1, m2): (Vec<E>, Vec<E>) = match moments {
        Some((m1, m2)) => (
            m1.iter()
                .zip(grad)
                .map(|(&m, &g)| m * b1 + g * f1)
                .collect(),
            m2.iter()
                .zip(grad)
                .map(|(&v, &g)| v * b2 + (g * g) * f2)
                .collect(),
        ),
        None => (
            grad.iter().map(|&g| g * f1).collect(),
            grad.iter().map(|&g| (g * g) * f2).collect(),
        ),
    };
    let p = param
        .iter()
        .zip(m1.iter().zip(&m2))
        .map(|(&p, (&a, &b))| p - ((a * c) / (b.sqrt() + e)) * lr)
        .collect();
    (p, m1, m2)
}
