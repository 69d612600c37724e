//! The image kernels on host memory: im2col and its adjoint, max-pooling and its backward pass.
//!
//! Every function reads contiguous `[n, c, h, w]` (or `[n, c k k, h' w']`) slices and returns
//! a fresh contiguous vector. Sums run in one fixed order, so a result depends on the values
//! alone, never on the backend or thread count that called.

use std::ops::AddAssign;

/// The element types the kernels run on (the float types a run trains in).
pub(crate) trait Real: Copy + Default + PartialOrd + AddAssign {
    /// `true` for NaN, which max-pooling propagates (as PyTorch's does).
    fn is_nan(self) -> bool;
}

impl Real for f32 {
    fn is_nan(self) -> bool {
        f32::is_nan(self)
    }
}

impl Real for f64 {
    fn is_nan(self) -> bool {
        f64::is_nan(self)
    }
}

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
/// zero where that falls in the padding.
pub(crate) fn im2col<E: Real>(x: &[E], g: Window) -> Vec<E> {
    let (ho, wo) = g.conv_out();
    let k = g.kernel;
    let mut cols = vec![E::default(); g.n * g.c * k * k * ho * wo];
    for (plane_index, plane) in x.chunks_exact(g.plane()).enumerate() {
        for di in 0..k {
            let (i0, i1) = valid_outputs(di, g.padding, g.h, ho);
            for dj in 0..k {
                let (j0, j1) = valid_outputs(dj, g.padding, g.w, wo);
                let row = (plane_index * k + di) * k + dj;
                let dst = &mut cols[row * ho * wo..][..ho * wo];
                for oi in i0..i1 {
                    let src = (oi + di - g.padding) * g.w + j0 + dj - g.padding;
                    dst[oi * wo + j0..oi * wo + j1].copy_from_slice(&plane[src..src + j1 - j0]);
                }
            }
        }
    }
    cols
}

/// The adjoint of [`im2col`]: every patch entry added back onto the pixel it was read from
/// (the input gradient of a convolution from its patch gradient), in the order of the patch
/// rows.
pub(crate) fn col2im<E: Real>(cols: &[E], g: Window) -> Vec<E> {
    let (ho, wo) = g.conv_out();
    let k = g.kernel;
    let mut x = vec![E::default(); g.n * g.c * g.plane()];
    for (plane_index, plane) in x.chunks_exact_mut(g.plane()).enumerate() {
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
    x
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
    let mut out = Vec::with_capacity(g.n * g.c * ho * wo);
    for plane in x.chunks_exact(g.plane()) {
        if g.kernel == 2 && g.padding == 0 {
            // The mosaic CNNs' pooling: two rows at a time, same choice as `argmax`.
            for oi in 0..ho {
                let (top, bottom) = plane[2 * oi * g.w..][..2 * g.w].split_at(g.w);
                for oj in 0..wo {
                    let window = [
                        top[2 * oj],
                        top[2 * oj + 1],
                        bottom[2 * oj],
                        bottom[2 * oj + 1],
                    ];
                    out.push(max_of(window));
                }
            }
        } else {
            for oi in 0..ho {
                for oj in 0..wo {
                    out.push(plane[argmax(plane, &g, oi, oj)]);
                }
            }
        }
    }
    out
}

/// The maximum of a 2x2 window in row-major order, as [`argmax`] chooses it.
#[inline]
fn max_of<E: Real>(window: [E; 4]) -> E {
    let mut m = window[0];
    for v in &window[1..] {
        if m.is_nan() {
            return m;
        }
        if *v > m || v.is_nan() {
            m = *v;
        }
    }
    m
}

/// The input gradient of [`max_pool`]: each output's gradient goes to the input it took its
/// value from (the window's maximum is found again in `x`).
pub(crate) fn max_pool_backward<E: Real>(x: &[E], grad: &[E], g: Window) -> Vec<E> {
    let (ho, wo) = g.pool_out();
    let mut dx = vec![E::default(); x.len()];
    for ((plane, dplane), gplane) in x
        .chunks_exact(g.plane())
        .zip(dx.chunks_exact_mut(g.plane()))
        .zip(grad.chunks_exact(ho * wo))
    {
        for oi in 0..ho {
            for oj in 0..wo {
                dplane[argmax(plane, &g, oi, oj)] += gplane[oi * wo + oj];
            }
        }
    }
    dx
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
        let g = window(2, 2, 6, 8, 2, 0);
        let x: Vec<f32> = (0..g.n * g.c * g.h * g.w)
            .map(|i| ((i * 7919) % 13) as f32)
            .collect();
        let (ho, wo) = g.pool_out();
        let general: Vec<f32> = x
            .chunks_exact(g.h * g.w)
            .flat_map(|plane| (0..ho * wo).map(move |o| plane[argmax(plane, &g, o / wo, o % wo)]))
            .collect();
        assert_eq!(max_pool(&x, g), general);
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
