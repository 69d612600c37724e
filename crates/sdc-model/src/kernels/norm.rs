//! BatchNorm with the batch's own statistics, then ReLU, and its backward pass, on host memory:
//! `[n, c, hw]` planes, each channel normalised over its `n` planes.
//!
//! The order of roundings is fixed, so the bits depend on the values alone (not on the
//! backend, the thread count or the vector width):
//! - a plane's sum runs in eight interleaved lanes, added at the end in one fixed order
//!   ([`fold_lanes`]), then the values past the last whole eight;
//! - a channel's sum adds its planes' sums sample by sample, from zero.
//!
//! Each pass over a run of planes is compiled for the widest SIMD the CPU offers (`pulp`'s
//! run-time dispatch, as in `dense.rs`). Compiled for the baseline CPU, the backward pass's
//! sums of the gradient past ReLU became a compare and a branch per value (a tenth of a
//! mosaic-CNN step), and its input gradient a scalar loop that reloaded every constant per
//! value. The runs of planes are split in halves onto an idle core (`halves.rs`): every plane
//! is computed alone, so the split changes no value.

use super::halves::{collect_items, fill_items, fill_items_of_two};
use super::host::{self, Real, Window};

/// `[n, c, hw]`: `n` samples of `c` channels of `hw` contiguous pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Planes {
    pub n: usize,
    pub c: usize,
    pub hw: usize,
}

impl Planes {
    /// The planes `first..first + count` of `x` (this layout), each with its channel.
    fn run<E>(self, x: &[E], first: usize, count: usize) -> impl Iterator<Item = (usize, &[E])> {
        x[first * self.hw..(first + count) * self.hw]
            .chunks_exact(self.hw)
            .enumerate()
            .map(move |(i, plane)| ((first + i) % self.c, plane))
    }
}

/// Eight lane sums and the tail, added in one fixed order.
#[inline(always)]
fn fold_lanes<E: Real>(acc: [E; 8], tail: E) -> E {
    ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])) + tail
}

/// ReLU that keeps NaN (as Burn's and PyTorch's do).
#[inline(always)]
fn relu<E: Real>(y: E) -> E {
    if y <= E::default() { E::default() } else { y }
}

/// One channel's constants: its mean, `1 / std`, and the forward pass's scale
/// (`gamma / std`) and shift (`beta`).
#[derive(Clone, Copy, Debug)]
struct Channel<E> {
    mean: E,
    inv_std: E,
    scale: E,
    shift: E,
}

impl<E: Real> Channel<E> {
    /// Every channel's constants, from the statistics `[mean..., 1 / std...]`.
    fn all(stats: &[E], gamma: &[E], beta: &[E]) -> Vec<Self> {
        let (mean, inv_std) = stats.split_at(gamma.len());
        (0..gamma.len())
            .map(|ch| Self {
                mean: mean[ch],
                inv_std: inv_std[ch],
                scale: inv_std[ch] * gamma[ch],
                shift: beta[ch],
            })
            .collect()
    }

    /// The normalised value before ReLU.
    #[inline(always)]
    fn pre(self, v: E) -> E {
        (v - self.mean) * self.scale + self.shift
    }

    /// The gradient past ReLU: zero where the output was clipped (the forward pass's value).
    #[inline(always)]
    fn past_relu(self, v: E, g: E) -> E {
        // `!(pre <= 0)`: a NaN output passes its gradient, as in Burn's `relu_backward`.
        let clipped = self.pre(v) <= E::default();
        g.zero_unless(!clipped)
    }

    /// The normalised input `xhat`.
    #[inline(always)]
    fn xhat(self, v: E) -> E {
        (v - self.mean) * self.inv_std
    }
}

/// One pass over the planes `first..first + count` of `x` (a half, or all of them), run in the
/// widest SIMD the CPU offers. A closure would not do (`dense.rs`): pulp would call it as a
/// function compiled for the baseline CPU.
struct Pass<'a, E> {
    x: &'a [E],
    p: Planes,
    first: usize,
    count: usize,
    work: Work<'a, E>,
}

/// The gradient of a BatchNorm-ReLU's output: whole planes, or pooled ones with their
/// windows' choices (`host::max_pool_plane_choosing`), routed back one plane at a time.
#[derive(Clone, Copy)]
pub(crate) enum OutputGrad<'a, E> {
    /// `[n, c, hw]`, the output's own layout.
    Whole(&'a [E]),
    /// `[n, c, h' w']` with the choices of the max-pool `window` that followed.
    Pooled {
        grad: &'a [E],
        choice: &'a [E],
        window: Window,
    },
}

impl<E: Real> OutputGrad<'_, E> {
    /// Plane `index`'s output gradient: a slice of the whole gradient, or the pooled one
    /// routed into `scratch` (which holds one plane, or nothing yet).
    #[inline(always)]
    fn plane<'s>(&'s self, index: usize, hw: usize, scratch: &'s mut Vec<E>) -> &'s [E] {
        match self {
            OutputGrad::Whole(grad) => &grad[index * hw..][..hw],
            OutputGrad::Pooled {
                grad,
                choice,
                window,
            } => {
                let (ho, wo) = window.pool_out();
                let at = index * ho * wo..(index + 1) * ho * wo;
                scratch.resize(hw, E::default());
                host::route_plane(&choice[at.clone()], &grad[at], scratch, window);
                scratch
            }
        }
    }
}

/// What a [`Pass`] computes.
enum Work<'a, E> {
    /// Each plane's sum of `x`, or of `(x - centre[ch])^2`, into `out`.
    Sums {
        centre: Option<&'a [E]>,
        out: &'a mut [E],
    },
    /// The output planes, pushed onto `out`.
    Forward {
        channels: &'a [Channel<E>],
        out: &'a mut Vec<E>,
    },
    /// The output planes max-pooled by `window` into `out`, each window's choice into
    /// `choice`.
    ForwardPooled {
        channels: &'a [Channel<E>],
        window: Window,
        out: &'a mut [E],
        choice: &'a mut [E],
    },
    /// Each plane's sums of the gradient past ReLU, `g`, and of `g xhat`, into `out`.
    GradSums {
        grad: OutputGrad<'a, E>,
        channels: &'a [Channel<E>],
        out: &'a mut [(E, E)],
    },
    /// The input gradient planes, pushed onto `out`, given each channel's means of `g` and of
    /// `g xhat`.
    InputGrad {
        grad: OutputGrad<'a, E>,
        channels: &'a [Channel<E>],
        means: &'a [(E, E)],
        out: &'a mut Vec<E>,
    },
}

impl<'a, E: Real> Work<'a, E> {
    /// This work on the planes `first..first + count` of `x`, in the widest SIMD the CPU offers.
    fn run(self, x: &'a [E], p: Planes, first: usize, count: usize) {
        pulp::Arch::new().dispatch(Pass {
            x,
            p,
            first,
            count,
            work: self,
        });
    }
}

impl<E: Real> pulp::WithSimd for Pass<'_, E> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        let Pass {
            x,
            p,
            first,
            count,
            work,
        } = self;
        let planes = p.run(x, first, count);
        // One plane of the output (or of its gradient) at a time, in cache.
        let mut scratch = Vec::new();
        match work {
            Work::Sums { centre, out } => {
                for ((ch, plane), sum) in planes.zip(out) {
                    *sum = match centre {
                        None => lane_sum(plane, |v| v),
                        Some(centre) => {
                            let c = centre[ch];
                            lane_sum(plane, |v| (v - c) * (v - c))
                        }
                    };
                }
            }
            Work::Forward { channels, out } => {
                for (ch, plane) in planes {
                    let k = channels[ch];
                    push_mapped(out, plane, plane, |v, _| relu(k.pre(v)));
                }
            }
            Work::ForwardPooled {
                channels,
                window,
                out,
                choice,
            } => {
                let (ho, wo) = window.pool_out();
                let pooled = out
                    .chunks_exact_mut(ho * wo)
                    .zip(choice.chunks_exact_mut(ho * wo));
                for ((ch, plane), (out, choice)) in planes.zip(pooled) {
                    let k = channels[ch];
                    scratch.clear();
                    push_mapped(&mut scratch, plane, plane, |v, _| relu(k.pre(v)));
                    host::max_pool_plane_choosing(&scratch, out, choice, &window);
                }
            }
            Work::GradSums {
                grad,
                channels,
                out,
            } => {
                for (i, ((ch, plane), sums)) in planes.zip(out).enumerate() {
                    let gplane = grad.plane(first + i, p.hw, &mut scratch);
                    *sums = grad_sums(channels[ch], plane, gplane);
                }
            }
            Work::InputGrad {
                grad,
                channels,
                means,
                out,
            } => {
                for (i, (ch, plane)) in planes.enumerate() {
                    let gplane = grad.plane(first + i, p.hw, &mut scratch);
                    let (k, (db, dg)) = (channels[ch], means[ch]);
                    push_mapped(out, plane, gplane, |v, g| {
                        (k.past_relu(v, g) - db - k.xhat(v) * dg) * k.scale
                    });
                }
            }
        }
    }
}

/// The sum of `f(x)` over `xs` in eight interleaved lanes, folded in a fixed order.
#[inline(always)]
fn lane_sum<E: Real>(xs: &[E], f: impl Fn(E) -> E) -> E {
    let mut acc = [E::default(); 8];
    let chunks = xs.chunks_exact(8);
    let rest = chunks.remainder();
    for chunk in chunks {
        for (a, x) in acc.iter_mut().zip(chunk) {
            *a += f(*x);
        }
    }
    let mut tail = E::default();
    for x in rest {
        tail += f(*x);
    }
    fold_lanes(acc, tail)
}

/// A chunk of eight values, copied (see [`grad_sums`]).
#[inline(always)]
fn eight<E: Real>(chunk: &[E]) -> [E; 8] {
    chunk.try_into().expect("chunks of eight")
}

/// A plane's sums of the gradient past ReLU, `g`, and of `g xhat`, in eight lanes each.
#[inline(always)]
fn grad_sums<E: Real>(k: Channel<E>, plane: &[E], gplane: &[E]) -> (E, E) {
    let zero = E::default();
    // Lanes 0..8 sum `g`, lanes 8..16 `g xhat`.
    let mut acc = [zero; 16];
    let (values, grads) = (plane.chunks_exact(8), gplane.chunks_exact(8));
    let (value_rest, grad_rest) = (values.remainder(), grads.remainder());
    for (vs, gs) in values.zip(grads) {
        let (vs, gs) = (eight(vs), eight(gs));
        let mut terms = [zero; 16];
        for lane in 0..8 {
            terms[lane] = k.past_relu(vs[lane], gs[lane]);
        }
        for lane in 0..8 {
            terms[8 + lane] = terms[lane] * k.xhat(vs[lane]);
        }
        // Opaque to the optimiser, which otherwise loads each gradient under a branch of its
        // own (the select folded into its sums), or pairs the two sums lane by lane.
        let terms = std::hint::black_box(terms);
        for (a, t) in acc.iter_mut().zip(terms) {
            *a += t;
        }
    }
    let (mut db_tail, mut dg_tail) = (zero, zero);
    for (v, g) in value_rest.iter().zip(grad_rest) {
        let g = k.past_relu(*v, *g);
        db_tail += g;
        dg_tail += g * k.xhat(*v);
    }
    // Opaque too: folded in pairs, the two sums would make the optimiser keep them paired
    // lane by lane in the loop.
    let acc = std::hint::black_box(acc);
    let (db, dg) = acc.split_at(8);
    (
        fold_lanes(eight(db), db_tail),
        fold_lanes(eight(dg), dg_tail),
    )
}

/// Pushes `f(a, b)` for the pairs of `a` and `b` onto `out`, eight at a time from registers.
#[inline(always)]
fn push_mapped<E: Real>(out: &mut Vec<E>, a: &[E], b: &[E], f: impl Fn(E, E) -> E) {
    let (chunks_a, chunks_b) = (a.chunks_exact(8), b.chunks_exact(8));
    let (rest_a, rest_b) = (chunks_a.remainder(), chunks_b.remainder());
    for (xs, ys) in chunks_a.zip(chunks_b) {
        let (xs, ys) = (eight(xs), eight(ys));
        let mut chunk = [E::default(); 8];
        for lane in 0..8 {
            chunk[lane] = f(xs[lane], ys[lane]);
        }
        out.extend_from_slice(&chunk);
    }
    for (x, y) in rest_a.iter().zip(rest_b) {
        out.push(f(*x, *y));
    }
}

/// Per-channel sums of the planes' values `[n, c]`: the samples in order, from zero.
fn sum_per_channel<E: Real>(planes: &[E], c: usize) -> Vec<E> {
    let mut sums = vec![E::default(); c];
    for sample in planes.chunks_exact(c) {
        for (sum, v) in sums.iter_mut().zip(sample) {
            *sum += *v;
        }
    }
    sums
}

/// Per-channel sums of `x`, or of `(x - centre[ch])^2`: each plane in lanes (the planes in
/// halves when a core is idle), then the samples in order.
fn channel_sums<E: Real>(x: &[E], p: Planes, centre: Option<&[E]>) -> Vec<E> {
    let mut planes = vec![E::default(); p.n * p.c];
    fill_items(&mut planes, 1, x.len(), |first, out| {
        let count = out.len();
        let work = Work::Sums { centre, out };
        work.run(x, p, first, count);
    });
    sum_per_channel(&planes, p.c)
}

/// This batch's statistics `[mean..., 1 / sqrt(var + eps)...]` (`2c` values; the variance
/// biased).
fn statistics<E: Real>(x: &[E], p: Planes, eps: f64) -> Vec<E> {
    let count = E::from_f64((p.n * p.hw) as f64);
    let one = E::from_f64(1.0);
    let mean: Vec<E> = channel_sums(x, p, None)
        .into_iter()
        .map(|s| s / count)
        .collect();
    let var = channel_sums(x, p, Some(&mean));
    let mut stats = mean;
    stats.extend(
        var.into_iter()
            .map(|v| one / (v / count + E::from_f64(eps)).sqrt()),
    );
    stats
}

/// BatchNorm with this batch's statistics (biased variance), then ReLU:
/// `relu((x - mean) * (gamma / sqrt(var + eps)) + beta)` per channel. Returns the output and
/// the statistics `[mean..., 1 / sqrt(var + eps)...]` (`2c` values) its backward pass reuses.
pub(crate) fn batch_norm_relu<E: Real>(
    x: &[E],
    gamma: &[E],
    beta: &[E],
    p: Planes,
    eps: f64,
) -> (Vec<E>, Vec<E>) {
    let stats = statistics(x, p, eps);
    let channels = Channel::all(&stats, gamma, beta);
    let y = collect_items(p.n * p.c, p.hw, x.len(), |first, count, out| {
        let work = Work::Forward {
            channels: &channels,
            out,
        };
        work.run(x, p, first, count);
    });
    (y, stats)
}

/// [`batch_norm_relu`] followed by the max-pool `window` (`host::max_pool`), one plane at a
/// time: the pooled output, the statistics, and each window's choice
/// (`host::max_pool_plane_choosing`). The same bits as the two kernels one after the other;
/// the output before pooling is never written out whole.
pub(crate) fn batch_norm_relu_pool<E: Real>(
    x: &[E],
    gamma: &[E],
    beta: &[E],
    p: Planes,
    eps: f64,
    window: Window,
) -> (Vec<E>, Vec<E>, Vec<E>) {
    let stats = statistics(x, p, eps);
    let channels = Channel::all(&stats, gamma, beta);
    let (ho, wo) = window.pool_out();
    let mut out = vec![E::default(); p.n * p.c * ho * wo];
    let mut choice = vec![E::default(); out.len()];
    let (pooled, choices) = ((&mut out[..], ho * wo), (&mut choice[..], ho * wo));
    fill_items_of_two(pooled, choices, x.len(), |first, out, choice| {
        let count = out.len() / (ho * wo);
        let work = Work::ForwardPooled {
            channels: &channels,
            window,
            out,
            choice,
        };
        work.run(x, p, first, count);
    });
    (out, stats, choice)
}

/// The gradients of [`batch_norm_relu`] (or, with a pooled `grad`, of
/// [`batch_norm_relu_pool`]) with respect to `x`, `gamma` and `beta`, given its statistics and
/// the output gradient. With `g` the gradient past ReLU and `xhat` the normalised input:
/// `dbeta = sum g`, `dgamma = sum g xhat`, and
/// `dx = gamma / std * (g - dbeta / count - xhat dgamma / count)`.
pub(crate) fn batch_norm_relu_backward<E: Real>(
    x: &[E],
    gamma: &[E],
    beta: &[E],
    stats: &[E],
    grad: OutputGrad<'_, E>,
    p: Planes,
) -> (Vec<E>, Vec<E>, Vec<E>) {
    let channels = Channel::all(stats, gamma, beta);
    let zero = E::default();
    let mut planes = vec![(zero, zero); p.n * p.c];
    fill_items(&mut planes, 1, 2 * x.len(), |first, out| {
        let count = out.len();
        let work = Work::GradSums {
            grad,
            channels: &channels,
            out,
        };
        work.run(x, p, first, count);
    });
    let mut dbeta = vec![zero; p.c];
    let mut dgamma = vec![zero; p.c];
    for sample in planes.chunks_exact(p.c) {
        for ((db, dg), (plane_db, plane_dg)) in dbeta.iter_mut().zip(&mut dgamma).zip(sample) {
            *db += *plane_db;
            *dg += *plane_dg;
        }
    }
    let count = E::from_f64((p.n * p.hw) as f64);
    let means: Vec<(E, E)> = dbeta
        .iter()
        .zip(&dgamma)
        .map(|(db, dg)| (*db / count, *dg / count))
        .collect();
    let dx = collect_items(p.n * p.c, p.hw, 2 * x.len(), |first, count, out| {
        let work = Work::InputGrad {
            grad,
            channels: &channels,
            means: &means,
            out,
        };
        work.run(x, p, first, count);
    });
    (dx, dgamma, dbeta)
}
