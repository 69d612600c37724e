//! Class-conditional samplers of the synthetic base points (the paper's Sec. 8 datasets, 4.2, 4.4).
//!
//! Sampling is in f64 (the paper's nets are float64); [`crate::generate`] stores the points as f32.

use rand::{Rng, RngExt};
use rand_distr::StandardNormal;

/// Means of the 10 "type 4" classes in 2-D (the paper's Sec. 8 datasets): fg c0-c2 inside a ring of bg c3-c9.
pub const TYPE4_MEANS: [[f64; 2]; 10] = [
    [4.0, 6.5],
    [5.5, 6.0],
    [4.5, 4.5],
    [3.0, 3.5],
    [2.5, 5.5],
    [3.5, 8.0],
    [5.5, 8.0],
    [7.0, 6.5],
    [6.5, 4.5],
    [5.0, 3.0],
];

/// Standard deviation of every type 4 coordinate: covariance 0.01·I (the paper's Sec. 8 datasets).
pub const TYPE4_STD: f64 = 0.1;

/// Means of the 10 elliptical 5-D blobs (the paper's Sec. 8 datasets).
pub const BLOBS5D_MEANS: [[f64; 5]; 10] = [
    [3.0, 3.0, 3.0, 3.0, 0.0],
    [4.0, 4.0, 4.0, 4.0, 0.0],
    [10.0, 5.0, 5.0, 10.0, 0.0],
    [-10.0, -10.0, -10.0, -10.0, 0.0],
    [-21.0, 4.0, 4.0, -21.0, 0.0],
    [-10.0, 18.0, 18.0, -10.0, 0.0],
    [4.0, 20.0, 4.0, 20.0, 0.0],
    [4.0, -20.0, -20.0, 4.0, 0.0],
    [20.0, 20.0, 20.0, 20.0, 0.0],
    [20.0, -10.0, -10.0, 20.0, 0.0],
];

/// The coordinate k whose variance is 16 in each blob's covariance (all-ones with 16 at (k,k);
/// the paper's Sec. 8 datasets): k = 1 for c0, c2, c3, c5, c8, c9 and k = 0 for c1, c4, c6, c7.
pub const BLOBS5D_ELONGATED_AXIS: [usize; 10] = [1, 0, 1, 1, 0, 1, 0, 0, 1, 1];

/// An axis-aligned box `[[x_lo, x_hi], [y_lo, y_hi]]`; its class is uniform on it (the paper's Sec. 5).
pub type UniformBox = [[f64; 2]; 2];

/// Error mode 1, "dist_1" (the paper's Sec. 5): fg c0-c2 all right of the bg strip c3 in x1, so a
/// linear focus increasing in x1 ranks every fg segment above every bg segment.
pub const EM1_BOXES: [UniformBox; 4] = [
    [[5.0, 6.0], [2.0, 4.0]],
    [[5.0, 6.0], [-5.0, -3.0]],
    [[8.0, 9.0], [-2.0, 0.0]],
    [[1.0, 2.0], [-1.0, 5.0]],
];

/// Error mode 2, "dist_2" (the paper's Sec. 5): as dist_1 but c2 moved left of the bg strip c3
/// (which is also taller), so fg lies on both sides of bg in x1.
pub const EM2_BOXES: [UniformBox; 4] = [
    [[5.0, 6.0], [2.0, 4.0]],
    [[5.0, 6.0], [-5.0, -3.0]],
    [[-3.0, -2.0], [-2.0, 0.0]],
    [[1.0, 2.0], [-8.0, 5.0]],
];

/// Error mode 3, "dist_4" (the paper's Sec. 5): six fg classes in 0.1 x 0.1 boxes stacked along x2
/// at x1 in [1.5, 1.6], and one tiny bg box c6, an almost constant background.
pub const EM3_BOXES: [UniformBox; 7] = [
    [[1.5, 1.6], [7.0, 7.1]],
    [[1.5, 1.6], [5.0, 5.1]],
    [[1.5, 1.6], [3.0, 3.1]],
    [[1.5, 1.6], [1.0, 1.1]],
    [[1.5, 1.6], [-1.0, -0.9]],
    [[1.5, 1.6], [-3.0, -2.9]],
    [[2.1, 2.2], [2.0, 2.1]],
];

/// Centres of `boxes`: the means of their uniform distributions.
const fn centres<const N: usize>(boxes: &[UniformBox; N]) -> [[f64; 2]; N] {
    let mut out = [[0.0; 2]; N];
    let mut i = 0;
    while i < N {
        let [[x_lo, x_hi], [y_lo, y_hi]] = boxes[i];
        out[i] = [(x_lo + x_hi) / 2.0, (y_lo + y_hi) / 2.0];
        i += 1;
    }
    out
}

const EM1_CENTRES: [[f64; 2]; 4] = centres(&EM1_BOXES);
const EM2_CENTRES: [[f64; 2]; 4] = centres(&EM2_BOXES);
const EM3_CENTRES: [[f64; 2]; 7] = centres(&EM3_BOXES);

/// A resolved class-conditional distribution: which classes exist and how to sample a point.
#[derive(Clone, Debug, PartialEq)]
pub enum ClassModel {
    /// Dataset 1, "type 4": 10 isotropic 2-D Gaussians, std [`TYPE4_STD`].
    Type4,
    /// Dataset 2: 10 rank-2 elliptical 5-D Gaussians.
    Blobs5d,
    /// User-defined isotropic Gaussians, one per mean (all means of one dimension, std > 0).
    Gaussian {
        /// One mean per class, `[n_classes][dim]`.
        means: Vec<Vec<f64>>,
        /// Isotropic standard deviation.
        std: f64,
    },
    /// Error mode 1: uniform boxes [`EM1_BOXES`] in 2-D.
    Em1,
    /// Error mode 2: uniform boxes [`EM2_BOXES`] in 2-D.
    Em2,
    /// Error mode 3: uniform boxes [`EM3_BOXES`] in 2-D.
    Em3,
}

impl ClassModel {
    /// Number of base classes.
    pub fn n_classes(&self) -> usize {
        match self {
            ClassModel::Type4 => TYPE4_MEANS.len(),
            ClassModel::Blobs5d => BLOBS5D_MEANS.len(),
            ClassModel::Gaussian { means, .. } => means.len(),
            ClassModel::Em1 => EM1_BOXES.len(),
            ClassModel::Em2 => EM2_BOXES.len(),
            ClassModel::Em3 => EM3_BOXES.len(),
        }
    }

    /// Dimension of a point.
    pub fn dim(&self) -> usize {
        match self {
            ClassModel::Type4 | ClassModel::Em1 | ClassModel::Em2 | ClassModel::Em3 => 2,
            ClassModel::Blobs5d => 5,
            ClassModel::Gaussian { means, .. } => means.first().map_or(0, Vec::len),
        }
    }

    /// The uniform box of each class, for the error-mode distributions; `None` for Gaussians.
    pub fn boxes(&self) -> Option<&'static [UniformBox]> {
        match self {
            ClassModel::Em1 => Some(&EM1_BOXES),
            ClassModel::Em2 => Some(&EM2_BOXES),
            ClassModel::Em3 => Some(&EM3_BOXES),
            ClassModel::Type4 | ClassModel::Blobs5d | ClassModel::Gaussian { .. } => None,
        }
    }

    /// Mean of `class` (the centre of its box for the error modes).
    ///
    /// # Panics
    /// If `class >= n_classes()`.
    pub fn mean(&self, class: usize) -> &[f64] {
        match self {
            ClassModel::Type4 => &TYPE4_MEANS[class],
            ClassModel::Blobs5d => &BLOBS5D_MEANS[class],
            ClassModel::Gaussian { means, .. } => &means[class],
            ClassModel::Em1 => &EM1_CENTRES[class],
            ClassModel::Em2 => &EM2_CENTRES[class],
            ClassModel::Em3 => &EM3_CENTRES[class],
        }
    }

    /// Draws one point of `class` into `out` (`out.len() == dim()`).
    ///
    /// # Panics
    /// If `class >= n_classes()` or `out.len() != dim()`.
    pub fn sample_into<R: Rng + ?Sized>(&self, class: usize, rng: &mut R, out: &mut [f64]) {
        let mean = self.mean(class);
        assert_eq!(
            out.len(),
            mean.len(),
            "output buffer must have dim() entries"
        );
        match self {
            ClassModel::Type4 => isotropic(mean, TYPE4_STD, rng, out),
            ClassModel::Gaussian { std, .. } => isotropic(mean, *std, rng, out),
            ClassModel::Blobs5d => {
                // the paper's Sec. 8 datasets: cov = 11^T + 15 e_k e_k^T, so x = mu + a·1 + sqrt(15)·b·e_k with
                // a, b ~ N(0,1) has exactly that covariance (numpy's multivariate_normal on the
                // singular matrix samples the same distribution).
                let a: f64 = rng.sample(StandardNormal);
                let b: f64 = rng.sample(StandardNormal);
                for (o, m) in out.iter_mut().zip(mean) {
                    *o = m + a;
                }
                out[BLOBS5D_ELONGATED_AXIS[class]] += 15f64.sqrt() * b;
            }
            ClassModel::Em1 | ClassModel::Em2 | ClassModel::Em3 => {
                let bounds = self.boxes().expect("every error mode has boxes")[class];
                // the paper's Sec. 5: np.random.uniform, independently per coordinate.
                for (o, [lo, hi]) in out.iter_mut().zip(bounds) {
                    *o = rng.random_range(lo..hi);
                }
            }
        }
    }
}

/// `out = mean + std · z`, z ~ N(0, I).
fn isotropic<R: Rng + ?Sized>(mean: &[f64], std: f64, rng: &mut R, out: &mut [f64]) {
    for (o, m) in out.iter_mut().zip(mean) {
        let z: f64 = rng.sample(StandardNormal);
        *o = m + std * z;
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::ChaCha8Rng;

    use super::*;

    /// Sample mean and covariance of `n` points of `class`.
    fn moments(model: &ClassModel, class: usize, n: usize) -> (Vec<f64>, Vec<Vec<f64>>) {
        let d = model.dim();
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut x = vec![0.0; d];
        let pts: Vec<Vec<f64>> = (0..n)
            .map(|_| {
                model.sample_into(class, &mut rng, &mut x);
                x.clone()
            })
            .collect();
        let mean: Vec<f64> = (0..d)
            .map(|k| pts.iter().map(|p| p[k]).sum::<f64>() / n as f64)
            .collect();
        let cov = (0..d)
            .map(|i| {
                (0..d)
                    .map(|j| {
                        pts.iter()
                            .map(|p| (p[i] - mean[i]) * (p[j] - mean[j]))
                            .sum::<f64>()
                            / (n - 1) as f64
                    })
                    .collect()
            })
            .collect();
        (mean, cov)
    }

    #[test]
    fn blobs5d_means_and_covariance_match_spec() {
        for class in 0..10 {
            let (mean, cov) = moments(&ClassModel::Blobs5d, class, 4000);
            let k = BLOBS5D_ELONGATED_AXIS[class];
            for i in 0..5 {
                // std of the mean: sqrt(16/4000) = 0.063, so 0.3 is ~5 sigma.
                assert!(
                    (mean[i] - BLOBS5D_MEANS[class][i]).abs() < 0.3,
                    "class {class} mean {mean:?}"
                );
                for (j, &c) in cov[i].iter().enumerate() {
                    let want = if i == k && j == k { 16.0 } else { 1.0 };
                    // Relative sampling error of a variance over 4000 points is ~2.2%.
                    assert!(
                        (c - want).abs() < 0.12 * want,
                        "class {class} cov[{i}][{j}] = {c} (want {want})"
                    );
                }
            }
        }
    }

    #[test]
    fn type4_is_isotropic_with_std_point_one() {
        for class in [0, 4, 9] {
            let (mean, cov) = moments(&ClassModel::Type4, class, 4000);
            for i in 0..2 {
                assert!((mean[i] - TYPE4_MEANS[class][i]).abs() < 0.01);
                assert!((cov[i][i] - 0.01).abs() < 0.001, "var {}", cov[i][i]);
            }
            assert!(cov[0][1].abs() < 0.001);
        }
    }

    #[test]
    fn error_modes_are_uniform_on_their_boxes() {
        for (model, n_classes) in [
            (ClassModel::Em1, 4),
            (ClassModel::Em2, 4),
            (ClassModel::Em3, 7),
        ] {
            assert_eq!((model.n_classes(), model.dim()), (n_classes, 2));
            let boxes = model.boxes().expect("error modes have boxes");
            for (class, bounds) in boxes.iter().enumerate() {
                let mut rng = ChaCha8Rng::seed_from_u64(class as u64);
                let mut x = [0.0; 2];
                for _ in 0..500 {
                    model.sample_into(class, &mut rng, &mut x);
                    for (&v, &[lo, hi]) in x.iter().zip(bounds) {
                        assert!((lo..hi).contains(&v), "{model:?} c{class}: {v}");
                    }
                }
                let (mean, cov) = moments(&model, class, 4000);
                for axis in 0..2 {
                    let [lo, hi] = bounds[axis];
                    assert_eq!(model.mean(class)[axis], (lo + hi) / 2.0);
                    // U[lo, hi] has variance w^2 / 12; the mean's standard error is w / 219.
                    let w = hi - lo;
                    assert!((mean[axis] - (lo + hi) / 2.0).abs() < 0.03 * w);
                    assert!((cov[axis][axis] - w * w / 12.0).abs() < 0.1 * w * w / 12.0);
                }
            }
        }
    }

    #[test]
    fn gaussian_uses_user_means_and_std() {
        let model = ClassModel::Gaussian {
            means: vec![vec![0.0, 0.0, 0.0], vec![10.0, -5.0, 2.0]],
            std: 2.0,
        };
        assert_eq!((model.n_classes(), model.dim()), (2, 3));
        let (mean, cov) = moments(&model, 1, 4000);
        for i in 0..3 {
            assert!((mean[i] - [10.0, -5.0, 2.0][i]).abs() < 0.2);
            assert!((cov[i][i] - 4.0).abs() < 0.4);
        }
    }
}
