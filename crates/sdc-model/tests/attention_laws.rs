//! Laws every attention map must obey, checked on random scores (f32, ndarray), against plain-Rust
//! f64 references where a map has a definition independent of its implementation.

use burn::tensor::{Device, Tensor, TensorData};
use proptest::prelude::*;
use sdc_model::AttentionMap;

#[allow(deprecated)] // ndarray is this crate's reference CPU backend
fn device() -> Device {
    Device::ndarray()
}

fn all_maps() -> [AttentionMap; 4] {
    [
        AttentionMap::Softmax { temperature: 1.0 },
        AttentionMap::Sparsemax { temperature: 1.0 },
        AttentionMap::Entmax15 { temperature: 1.0 },
        AttentionMap::Spherical { temperature: 1.0 },
    ]
}

/// Row-major scores `[rows.len(), m]` as a tensor on `device`.
fn tensor(rows: &[Vec<f32>], device: &Device) -> Tensor<2> {
    let m = rows.first().map_or(0, Vec::len);
    let flat: Vec<f32> = rows.iter().flatten().copied().collect();
    Tensor::from_data(TensorData::new(flat, [rows.len(), m]), device)
}

/// Applies `map` to rows of scores and reads the weights back, one `Vec` per row.
fn apply(map: &AttentionMap, rows: &[Vec<f32>]) -> Vec<Vec<f32>> {
    let m = rows.first().map_or(0, Vec::len);
    let flat = map
        .apply(tensor(rows, &device()))
        .try_into_vec_as::<f32>()
        .expect("f32 weights");
    flat.chunks(m).map(<[f32]>::to_vec).collect()
}

/// Sparsemax by bisection on `tau` in f64: `sum_j [z_j - tau]_+ = 1`; independent of the sort.
fn sparsemax_reference(z: &[f32]) -> Vec<f64> {
    let z: Vec<f64> = z.iter().map(|&v| f64::from(v)).collect();
    let tau = bisect_threshold(&z, |r| r);
    z.iter().map(|&v| (v - tau).max(0.0)).collect()
}

/// 1.5-entmax by bisection on `tau` in f64: `sum_j [z_j/2 - tau]_+^2 = 1`.
fn entmax15_reference(z: &[f32]) -> Vec<f64> {
    let y: Vec<f64> = z.iter().map(|&v| f64::from(v) / 2.0).collect();
    let tau = bisect_threshold(&y, |r| r * r);
    y.iter().map(|&v| (v - tau).max(0.0).powi(2)).collect()
}

/// The `tau` in `[max - 1, max]` with `sum_j f([y_j - tau]_+) = 1`, for increasing `f`, `f(1) = 1`.
fn bisect_threshold(y: &[f64], f: impl Fn(f64) -> f64) -> f64 {
    let top = y.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (mut lo, mut hi) = (top - 1.0, top);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        let mass: f64 = y.iter().map(|&v| f((v - mid).max(0.0))).sum();
        if mass > 1.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

fn assert_rows_close(got: &[Vec<f32>], want: &[Vec<f64>], tol: f64) -> Result<(), TestCaseError> {
    for (g, w) in got.iter().zip(want) {
        for (a, b) in g.iter().zip(w) {
            prop_assert!((f64::from(*a) - b).abs() <= tol, "got {g:?}, want {w:?}");
        }
    }
    Ok(())
}

/// A score: mostly moderate, sometimes from a small set (ties), sometimes huge, sometimes masked.
fn score() -> impl Strategy<Value = f32> {
    prop_oneof![
        6 => -10.0f32..10.0,
        2 => prop::sample::select(vec![-1.0f32, 0.0, 1.0]),
        1 => -1e6f32..1e6,
        1 => Just(f32::NEG_INFINITY),
    ]
}

/// Finite moderate scores `[batch, m]`, with ties from a small set.
fn finite_rows() -> impl Strategy<Value = Vec<Vec<f32>>> {
    (1usize..10, 1usize..4).prop_flat_map(|(m, batch)| {
        let value =
            prop_oneof![4 => -5.0f32..5.0, 1 => prop::sample::select(vec![-1.0f32, 0.0, 1.0])];
        prop::collection::vec(prop::collection::vec(value, m), batch)
    })
}

proptest! {
    #[test]
    fn rows_lie_on_the_simplex(
        rows in (1usize..10, 1usize..4).prop_flat_map(|(m, batch)| {
            prop::collection::vec(prop::collection::vec(score(), m), batch)
        })
    ) {
        for map in all_maps() {
            let alpha = apply(&map, &rows);
            for (s, a) in rows.iter().zip(&alpha) {
                let sum: f32 = a.iter().sum();
                prop_assert!(a.iter().all(|w| w.is_finite() && *w >= 0.0), "{}: {s:?} -> {a:?}", map.name());
                prop_assert!((sum - 1.0).abs() <= 1e-5, "{}: {s:?} -> {a:?} sums to {sum}", map.name());
                let all_masked = s.iter().all(|v| *v == f32::NEG_INFINITY);
                for (v, w) in s.iter().zip(a) {
                    if all_masked {
                        prop_assert!((w - 1.0 / s.len() as f32).abs() <= 1e-6, "{}: {a:?}", map.name());
                    } else if *v == f32::NEG_INFINITY {
                        prop_assert_eq!(*w, 0.0, "{}: {:?} -> {:?}", map.name(), s, a);
                    }
                }
            }
        }
    }

    #[test]
    fn shift_invariant_maps_ignore_a_constant(rows in finite_rows(), shift in -50.0f32..50.0) {
        let shifted: Vec<Vec<f32>> =
            rows.iter().map(|r| r.iter().map(|v| v + shift).collect()).collect();
        for map in &all_maps()[..3] {
            let a = apply(map, &rows);
            let b = apply(map, &shifted);
            let b: Vec<Vec<f64>> =
                b.iter().map(|r| r.iter().map(|&v| f64::from(v)).collect()).collect();
            assert_rows_close(&a, &b, 1e-4)?;
        }
    }

    #[test]
    fn spherical_ignores_scale_and_sign(rows in finite_rows(), scale in prop_oneof![-10.0f32..-0.1, 0.1f32..10.0]) {
        let map = AttentionMap::Spherical { temperature: 1.0 };
        let scaled: Vec<Vec<f32>> = rows.iter().map(|r| r.iter().map(|v| v * scale).collect()).collect();
        let b: Vec<Vec<f64>> =
            apply(&map, &scaled).iter().map(|r| r.iter().map(|&v| f64::from(v)).collect()).collect();
        assert_rows_close(&apply(&map, &rows), &b, 1e-5)?;
    }

    #[test]
    fn spherical_is_the_ratio_of_squares(rows in finite_rows()) {
        let want: Vec<Vec<f64>> = rows
            .iter()
            .map(|r| {
                let total: f64 = r.iter().map(|&v| f64::from(v).powi(2)).sum();
                if total == 0.0 {
                    vec![1.0 / r.len() as f64; r.len()]
                } else {
                    r.iter().map(|&v| f64::from(v).powi(2) / total).collect()
                }
            })
            .collect();
        assert_rows_close(&apply(&AttentionMap::Spherical { temperature: 1.0 }, &rows), &want, 1e-5)?;
    }

    #[test]
    fn sparsemax_matches_bisection_reference(rows in finite_rows()) {
        let want: Vec<Vec<f64>> = rows.iter().map(|r| sparsemax_reference(r)).collect();
        assert_rows_close(&apply(&AttentionMap::Sparsemax { temperature: 1.0 }, &rows), &want, 1e-5)?;
    }

    /// `p` is the Euclidean projection of `z` onto the simplex iff `<z - p, q - p> <= 0` for every
    /// `q` in the simplex, i.e. for every vertex: `(z - p)_j <= <z - p, p>`.
    #[test]
    fn sparsemax_is_the_euclidean_projection(rows in finite_rows()) {
        let alpha = apply(&AttentionMap::Sparsemax { temperature: 1.0 }, &rows);
        for (z, p) in rows.iter().zip(&alpha) {
            let residual: Vec<f64> = z.iter().zip(p).map(|(&z, &p)| f64::from(z) - f64::from(p)).collect();
            let at_p: f64 = residual.iter().zip(p).map(|(r, &p)| r * f64::from(p)).sum();
            for r in &residual {
                prop_assert!(*r <= at_p + 1e-4, "{z:?} -> {p:?}: vertex beats projection");
            }
        }
    }

    #[test]
    fn sparsemax_temperature_scales_scores(rows in finite_rows(), temperature in 0.2f64..5.0) {
        let scaled: Vec<Vec<f32>> =
            rows.iter().map(|r| r.iter().map(|&v| (f64::from(v) / temperature) as f32).collect()).collect();
        let want: Vec<Vec<f64>> = scaled.iter().map(|r| sparsemax_reference(r)).collect();
        assert_rows_close(&apply(&AttentionMap::Sparsemax { temperature }, &rows), &want, 1e-5)?;
    }

    #[test]
    fn entmax15_matches_bisection_reference(rows in finite_rows()) {
        let want: Vec<Vec<f64>> = rows.iter().map(|r| entmax15_reference(r)).collect();
        assert_rows_close(&apply(&AttentionMap::Entmax15 { temperature: 1.0 }, &rows), &want, 1e-5)?;
    }

    /// With the top score 2 or more above the rest (1 in `z/2` units) entmax puts all weight on
    /// it, while softmax keeps every weight positive.
    #[test]
    fn entmax15_is_sparser_than_softmax(
        rest in prop::collection::vec(-10.0f32..0.0, 1..9),
        gap in 2.0f32..5.0,
        position in 0usize..9,
    ) {
        let mut row = rest.clone();
        let top = rest.iter().copied().fold(f32::NEG_INFINITY, f32::max) + gap;
        row.insert(position.min(row.len()), top);
        let rows = vec![row];
        let entmax = &apply(&AttentionMap::Entmax15 { temperature: 1.0 }, &rows)[0];
        let softmax = &apply(&AttentionMap::Softmax { temperature: 1.0 }, &rows)[0];
        prop_assert_eq!(entmax.iter().filter(|w| **w == 0.0).count(), rest.len());
        prop_assert_eq!(softmax.iter().filter(|w| **w == 0.0).count(), 0);
    }
}

#[test]
fn gradients_are_finite_at_hard_points_in_f32() {
    let inf = f32::NEG_INFINITY;
    let rows = vec![
        vec![1e6, -1e6, 1e6, 0.0],
        vec![0.0, 0.0, 0.0, 0.0],
        vec![inf, inf, inf, inf],
        vec![inf, 1.0, 1.0, 1.0],
        vec![1e-30, -1e-30, 0.0, 0.0],
        vec![2.0, 1.0, 0.0, -3e5],
    ];
    let device = device().autodiff();
    let weights: Vec<f32> = (0..rows.len() * 4)
        .map(|i| (i as f32 * 0.37).sin())
        .collect();
    for map in all_maps() {
        let scores = tensor(&rows, &device).require_grad();
        let coefficients =
            Tensor::<2>::from_data(TensorData::new(weights.clone(), [rows.len(), 4]), &device);
        let grads = (map.apply(scores.clone()) * coefficients).sum().backward();
        let grad = scores
            .grad(&grads)
            .expect("scores require grad")
            .try_into_vec_as::<f32>()
            .expect("f32 gradient");
        assert!(
            grad.iter().all(|g| g.is_finite()),
            "{}: {grad:?}",
            map.name()
        );
        // Masked entries and all-masked rows carry no gradient.
        assert_eq!(&grad[8..13], &[0.0; 5], "{}: {grad:?}", map.name());
    }
}
