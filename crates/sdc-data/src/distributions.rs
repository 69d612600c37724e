//! Class-conditional samplers of the synthetic base points (paper-spec 4.1, 4.2).
//!
//! Sampling is in f64 (the paper's nets are float64); [`crate::generate`] stores the points as f32.

use rand::{Rng, RngExt};
use rand_distr::StandardNormal;

/// Means of the 10 "type 4" classes in 2-D (paper-spec 4.1): fg c0-c2 inside a ring of bg c3-c9.
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

/// Standard deviation of every type 4 coordinate: covariance 0.01·I (paper-spec 4.1).
pub const TYPE4_STD: f64 = 0.1;

/// Means of the 10 elliptical 5-D blobs (paper-spec 4.2).
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
/// paper-spec 4.2): k = 1 for c0, c2, c3, c5, c8, c9 and k = 0 for c1, c4, c6, c7.
pub const BLOBS5D_ELONGATED_AXIS: [usize; 10] = [1, 0, 1, 1, 0, 1, 0, 0, 1, 1];

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
}

impl ClassModel {
    /// Number of base classes.
    pub fn n_classes(&self) -> usize {
        match self {
            ClassModel::Type4 => TYPE4_MEANS.len(),
            ClassModel::Blobs5d => BLOBS5D_MEANS.len(),
            ClassModel::Gaussian { means, .. } => means.len(),
        }
    }

    /// Dimension of a point.
    pub fn dim(&self) -> usize {
        match self {
            ClassModel::Type4 => 2,
            ClassModel::Blobs5d => 5,
            ClassModel::Gaussian { means, .. } => means.first().map_or(0, Vec::len),
        }
    }

    /// Mean of `class`.
    ///
    /// # Panics
    /// If `class >= n_classes()`.
    pub fn mean(&self, class: usize) -> &[f64] {
        match self {
            ClassModel::Type4 => &TYPE4_MEANS[class],
            ClassModel::Blobs5d => &BLOBS5D_MEANS[class],
            ClassModel::Gaussian { means, .. } => &means[class],
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
                // paper-spec 4.2: cov = 11^T + 15 e_k e_k^T, so x = mu + a·1 + sqrt(15)·b·e_k with
                // a, b ~ N(0,1) has exactly that covariance (numpy's multivariate_normal on the
                // singular matrix samples the same distribution).
                let a: f64 = rng.sample(StandardNormal);
                let b: f64 = rng.sample(StandardNormal);
                for (o, m) in out.iter_mut().zip(mean) {
                    *o = m + a;
                }
                out[BLOBS5D_ELONGATED_AXIS[class]] += 15f64.sqrt() * b;
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
