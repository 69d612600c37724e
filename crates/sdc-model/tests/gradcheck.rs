//! Autodiff gradients of every attention map against central finite differences, in f64.
//!
//! A device's float dtype is fixed per process, so this file has its own test binary whose
//! ndarray device is configured to f64 before any tensor exists.

use std::sync::OnceLock;

use burn::tensor::{Device, FloatDType, Tensor, TensorData};
use proptest::prelude::*;
use sdc_model::AttentionMap;

/// Step of the central differences. The maps are piecewise polynomials of degree <= 2 (sparsemax,
/// entmax) or smooth (softmax, spherical), so the truncation error is tiny and rounding
/// (~1e-16 / STEP) dominates.
const STEP: f64 = 1e-5;

/// The f64 autodiff ndarray device; its dtype is set once, before the first tensor.
fn device() -> Device {
    static CONFIGURED: OnceLock<()> = OnceLock::new();
    #[allow(deprecated)] // ndarray is this crate's reference CPU backend
    let mut device = Device::ndarray();
    CONFIGURED.get_or_init(|| {
        device
            .configure(FloatDType::F64)
            .expect("f64 is configured before any tensor is created");
    });
    device.autodiff()
}

fn maps(temperature: f64) -> [AttentionMap; 4] {
    [
        AttentionMap::Softmax { temperature },
        AttentionMap::Sparsemax { temperature },
        AttentionMap::Entmax15 { temperature },
        AttentionMap::Spherical { temperature },
    ]
}

fn tensor(values: &[f64], shape: [usize; 2]) -> Tensor<2> {
    Tensor::from_data(TensorData::new(values.to_vec(), shape), &device())
}

/// `alpha` of the scores as a flat vector (forward only).
fn weights(map: &AttentionMap, scores: &[f64], shape: [usize; 2]) -> Vec<f64> {
    map.apply(tensor(scores, shape))
        .try_into_vec_as::<f64>()
        .expect("f64 weights")
}

/// The linear functional `L(s) = sum c * alpha(s)` and its autodiff gradient w.r.t. `s`.
fn gradient(map: &AttentionMap, scores: &[f64], c: &[f64], shape: [usize; 2]) -> Vec<f64> {
    let s = tensor(scores, shape).require_grad();
    let loss = (map.apply(s.clone()) * tensor(c, shape)).sum();
    let grads = loss.backward();
    s.grad(&grads)
        .expect("scores require grad")
        .try_into_vec_as::<f64>()
        .expect("f64 gradient")
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn zero_pattern(alpha: &[f64]) -> Vec<bool> {
    alpha.iter().map(|w| *w == 0.0).collect()
}

/// Scores `[batch, m]` in [-3, 3], some masked with `-inf`, and coefficients in [-1, 1].
fn case() -> impl Strategy<Value = ([usize; 2], Vec<f64>, Vec<f64>, f64)> {
    (1usize..4, 2usize..8).prop_flat_map(|(batch, m)| {
        let score = prop_oneof![9 => -3.0f64..3.0, 1 => Just(f64::NEG_INFINITY)];
        (
            Just([batch, m]),
            prop::collection::vec(score, batch * m),
            prop::collection::vec(-1.0f64..1.0, batch * m),
            0.5f64..2.0,
        )
    })
}

#[test]
fn device_really_is_f64() {
    let t = tensor(&[1.0, 2.0], [1, 2]);
    assert_eq!(t.dtype(), burn::tensor::DType::F64);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Each coordinate is checked unless a step of `STEP` changes which weights are exactly zero
    /// (a support change, where the map is not differentiable).
    #[test]
    fn gradients_match_central_differences((shape, scores, c, temperature) in case()) {
        for map in maps(temperature) {
            let grad = gradient(&map, &scores, &c, shape);
            let base = zero_pattern(&weights(&map, &scores, shape));
            for j in 0..scores.len() {
                if scores[j] == f64::NEG_INFINITY {
                    prop_assert_eq!(grad[j], 0.0, "{}: masked entry has gradient", map.name());
                    continue;
                }
                let mut plus = scores.clone();
                plus[j] += STEP;
                let mut minus = scores.clone();
                minus[j] -= STEP;
                let (ap, am) = (weights(&map, &plus, shape), weights(&map, &minus, shape));
                if zero_pattern(&ap) != base || zero_pattern(&am) != base {
                    continue;
                }
                let numeric = (dot(&c, &ap) - dot(&c, &am)) / (2.0 * STEP);
                prop_assert!(
                    (grad[j] - numeric).abs() <= 1e-6 * (1.0 + numeric.abs()),
                    "{} at {:?} (T = {}), coordinate {}: autodiff {} vs numeric {}",
                    map.name(), scores, temperature, j, grad[j], numeric
                );
            }
        }
    }
}

/// The closed forms the brief names, on one fixed point with a non-trivial support:
/// sparsemax `g - mean_support(g)`, entmax `g*r - r * sum(g*r) / sum(r)` with `r = sqrt(p)`.
#[test]
fn sparse_backwards_are_the_closed_forms() {
    let scores = [0.6, 0.5, 0.3, -2.0];
    let c = [0.3, -0.7, 0.2, 0.9];
    let shape = [1, 4];

    let sparsemax = AttentionMap::Sparsemax { temperature: 1.0 };
    let p = weights(&sparsemax, &scores, shape);
    assert!(
        p[2] > 0.0 && p[3] == 0.0,
        "support is the first three: {p:?}"
    );
    let mean = (c[0] + c[1] + c[2]) / 3.0;
    let want = [c[0] - mean, c[1] - mean, c[2] - mean, 0.0];
    for (g, w) in gradient(&sparsemax, &scores, &c, shape).iter().zip(want) {
        assert!((g - w).abs() < 1e-12, "sparsemax gradient {g} vs {w}");
    }

    let entmax = AttentionMap::Entmax15 { temperature: 1.0 };
    let p = weights(&entmax, &scores, shape);
    assert!(
        p[2] > 0.0 && p[3] == 0.0,
        "support is the first three: {p:?}"
    );
    let r: Vec<f64> = p.iter().map(|v| v.sqrt()).collect();
    let q = dot(&c, &r) / r.iter().sum::<f64>();
    let grad = gradient(&entmax, &scores, &c, shape);
    for j in 0..4 {
        let want = c[j] * r[j] - r[j] * q;
        assert!(
            (grad[j] - want).abs() < 1e-12,
            "entmax gradient {} vs {want}",
            grad[j]
        );
    }
}

/// Huge scores, ties, all-zero and all-masked rows: gradients finite, masked entries 0.
#[test]
fn gradients_are_finite_at_hard_points() {
    let inf = f64::NEG_INFINITY;
    let scores = [
        1e6, -1e6, 1e6, 0.0, //
        0.0, 0.0, 0.0, 0.0, //
        inf, inf, inf, inf, //
        inf, 1.0, 1.0, 1.0, //
        1e-300, -1e-300, 0.0, 0.0, //
        1e300, 1.0, 0.0, -1e300,
    ];
    let c: Vec<f64> = (0..scores.len()).map(|i| (i as f64 * 0.37).sin()).collect();
    for map in maps(1.0) {
        let grad = gradient(&map, &scores, &c, [6, 4]);
        assert!(
            grad.iter().all(|g| g.is_finite()),
            "{}: {grad:?}",
            map.name()
        );
        assert_eq!(&grad[8..13], &[0.0; 5], "{}: {grad:?}", map.name());
        let alpha = weights(&map, &scores, [6, 4]);
        assert!(
            alpha.iter().all(|w| w.is_finite()),
            "{}: {alpha:?}",
            map.name()
        );
    }
}
