//! Attention maps: from focus scores to weights on the simplex.
//!
//! Every map takes scores `[batch, m]` and returns weights `[batch, m]` whose rows lie on the
//! probability simplex. Conventions shared by all maps:
//! - a score of `-inf` marks a masked segment: it gets weight exactly 0 and gradient 0;
//! - a row whose scores are all `-inf` gets uniform weights `1/m` and gradient 0 (there is nothing
//!   to prefer, and one NaN row would poison the loss of the whole batch);
//! - spherical softmax also needs a rule for a row of zero scores (`0/0` in the paper): it gets
//!   uniform weights over its unmasked segments and gradient 0;
//! - `+inf` and NaN scores are not supported: they propagate NaN.
//!
//! Outputs and gradients are finite for finite scores of any magnitude (as long as
//! `scores / temperature` stays finite), ties included.

mod entmax;
mod entropy;
mod softmax;
mod sparsemax;
mod spherical;

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use crate::error::InvalidValue;

/// How focus scores `[batch, m]` become attention weights `alpha` `[batch, m]` (rows on the
/// probability simplex).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum AttentionMap {
    /// `alpha = softmax(s / temperature)`, the paper's map.
    Softmax {
        /// Divides the scores before the softmax; 1 reproduces the paper.
        #[serde(default = "one")]
        temperature: f64,
    },
    /// `alpha = sparsemax(s / temperature)`: Euclidean projection onto the simplex (Martins &
    /// Astudillo 2016; the paper's Sec. 7).
    Sparsemax {
        /// Divides the scores before the projection; 1 reproduces the paper.
        #[serde(default = "one")]
        temperature: f64,
    },
    /// `alpha = 1.5-entmax(s / temperature)` (Peters et al. 2019): sparse like sparsemax, smoother
    /// like softmax. Not in the paper (the paper's Sec. 7); an extension.
    Entmax15 {
        /// Divides the scores before the map.
        #[serde(default = "one")]
        temperature: f64,
    },
    /// `alpha_j = s_j^2 / sum_i s_i^2`, the paper's spherical softmax (the paper's Sec. 7).
    Spherical {
        /// Accepted for a uniform configuration, but it cancels in the ratio: has no effect.
        #[serde(default = "one")]
        temperature: f64,
    },
}

fn one() -> f64 {
    1.0
}

impl Default for AttentionMap {
    fn default() -> Self {
        Self::Softmax { temperature: 1.0 }
    }
}

impl AttentionMap {
    /// Short name used in tables and file names (the serde `kind`).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Softmax { .. } => "softmax",
            Self::Sparsemax { .. } => "sparsemax",
            Self::Entmax15 { .. } => "entmax15",
            Self::Spherical { .. } => "spherical",
        }
    }

    /// Whether the map can put exactly zero weight on segments with finite scores.
    pub fn is_sparse(&self) -> bool {
        matches!(self, Self::Sparsemax { .. } | Self::Entmax15 { .. })
    }

    fn temperature(&self) -> f64 {
        match self {
            Self::Softmax { temperature }
            | Self::Sparsemax { temperature }
            | Self::Entmax15 { temperature }
            | Self::Spherical { temperature } => *temperature,
        }
    }

    /// Checks the map's parameters, naming the offending one.
    pub fn validate(&self) -> Result<(), InvalidValue> {
        let temperature = self.temperature();
        if !(temperature.is_finite() && temperature > 0.0) {
            return Err(InvalidValue::new(
                "attention.temperature",
                temperature,
                "a finite number > 0",
            ));
        }
        Ok(())
    }

    /// Maps scores `[batch, m]` to weights `[batch, m]`, normalising over the segments.
    pub fn apply(&self, scores: Tensor<2>) -> Tensor<2> {
        match self {
            Self::Softmax { temperature } => softmax::softmax(scaled(scores, *temperature)),
            Self::Sparsemax { temperature } => sparsemax::sparsemax(scaled(scores, *temperature)),
            Self::Entmax15 { temperature } => entmax::entmax15(scaled(scores, *temperature)),
            // The ratio of squares is scale-invariant, so the temperature is skipped.
            Self::Spherical { .. } => spherical::spherical(scores),
        }
    }
}

/// `scores / temperature` `[batch, m]`, skipping the division at the paper's temperature 1.
fn scaled(scores: Tensor<2>, temperature: f64) -> Tensor<2> {
    if temperature == 1.0 {
        scores
    } else {
        scores.div_scalar(temperature)
    }
}

/// Subtracts each row's largest finite score from scores `[batch, m]`, so the row maximum
/// becomes 0; rows with no finite score (all `-inf`) are left as they are.
///
/// The shift is detached: for a shift-invariant map `f(z - c) = f(z)`, so the gradient is
/// unchanged, while large magnitudes (1e6) no longer lose the differences that matter.
fn shift_by_row_max(z: Tensor<2>) -> Tensor<2> {
    let row_max = z.clone().detach().max_dim(1);
    let row_max = row_max.clone().mask_fill(row_max.is_inf(), 0.0);
    z - row_max
}

/// Gives a threshold `tau` `[batch, 1]`, computed without gradient, the gradient it has as a
/// function of `z` `[batch, m]`: `d tau / d z_j = weights_j` (`weights` `[batch, m]`, detached).
///
/// Sparsemax and entmax fix `tau` by an equation over the support; the implicit-function theorem
/// gives its derivative in closed form, so the sort-based forward value is kept exactly (the added
/// term is `z - z = 0`) while autodiff produces the closed-form backward.
fn threshold_with_gradient(tau: Tensor<2>, z: Tensor<2>, weights: Tensor<2>) -> Tensor<2> {
    let zero_with_gradient = z.clone() - z.detach();
    tau + (weights * zero_with_gradient).sum_dim(1)
}

#[cfg(test)]
pub(crate) mod test_util {
    use burn::tensor::{Device, Tensor, TensorData};

    #[allow(deprecated)] // ndarray is this crate's reference CPU backend
    pub fn device() -> Device {
        Device::ndarray()
    }

    /// Builds scores `[rows.len(), m]` from rows of equal length.
    pub fn scores(rows: &[&[f32]]) -> Tensor<2> {
        let m = rows.first().map_or(0, |r| r.len());
        let flat: Vec<f32> = rows.iter().flat_map(|r| r.iter().copied()).collect();
        Tensor::from_data(TensorData::new(flat, [rows.len(), m]), &device())
    }

    /// Reads a `[batch, m]` tensor back as a flat vector.
    pub fn values(t: Tensor<2>) -> Vec<f32> {
        t.try_into_vec_as::<f32>().expect("f32 tensor")
    }

    /// Asserts element-wise closeness within `tol`.
    pub fn assert_close(got: &[f32], want: &[f32], tol: f32) {
        assert_eq!(got.len(), want.len(), "length: got {got:?}, want {want:?}");
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() <= tol, "got {got:?}, want {want:?}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_util::{assert_close, scores, values};
    use super::*;

    fn all_maps() -> [AttentionMap; 4] {
        [
            AttentionMap::Softmax { temperature: 1.0 },
            AttentionMap::Sparsemax { temperature: 1.0 },
            AttentionMap::Entmax15 { temperature: 1.0 },
            AttentionMap::Spherical { temperature: 1.0 },
        ]
    }

    #[derive(Deserialize)]
    struct Wrapper {
        attention: AttentionMap,
    }

    #[test]
    fn serde_names_round_trip_and_default_temperature() {
        for (kind, want) in [
            ("softmax", AttentionMap::Softmax { temperature: 1.0 }),
            ("sparsemax", AttentionMap::Sparsemax { temperature: 1.0 }),
            ("entmax15", AttentionMap::Entmax15 { temperature: 1.0 }),
            ("spherical", AttentionMap::Spherical { temperature: 1.0 }),
        ] {
            let parsed: Wrapper =
                toml::from_str(&format!("attention = {{ kind = \"{kind}\" }}")).expect(kind);
            assert_eq!(parsed.attention, want);
            assert_eq!(want.name(), kind);
        }
        let parsed: Wrapper =
            toml::from_str("attention = { kind = \"sparsemax\", temperature = 0.5 }")
                .expect("sparsemax with temperature");
        assert_eq!(
            parsed.attention,
            AttentionMap::Sparsemax { temperature: 0.5 }
        );
    }

    #[test]
    fn serde_rejects_unknown_kind_and_fields() {
        assert!(toml::from_str::<Wrapper>("attention = { kind = \"entmax\" }").is_err());
        assert!(toml::from_str::<Wrapper>("attention = { kind = \"sparsemax\", k = 1 }").is_err());
    }

    #[test]
    fn validate_rejects_bad_temperatures_for_every_map() {
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            for map in [
                AttentionMap::Softmax { temperature: bad },
                AttentionMap::Sparsemax { temperature: bad },
                AttentionMap::Entmax15 { temperature: bad },
                AttentionMap::Spherical { temperature: bad },
            ] {
                let err = map
                    .validate()
                    .expect_err("bad temperature must be rejected");
                assert!(err.to_string().contains("attention.temperature"), "{err}");
            }
        }
        for map in all_maps() {
            assert_eq!(map.validate(), Ok(()));
        }
    }

    #[test]
    fn only_sparsemax_and_entmax_are_sparse() {
        let sparse: Vec<bool> = all_maps().iter().map(AttentionMap::is_sparse).collect();
        assert_eq!(sparse, [false, true, true, false]);
    }

    #[test]
    fn masked_segments_get_zero_and_all_masked_rows_are_uniform() {
        let inf = f32::NEG_INFINITY;
        for map in all_maps() {
            let alpha = values(map.apply(scores(&[&[inf, 1.0, inf, 3.0], &[inf; 4]])));
            assert_eq!(alpha[0], 0.0, "{}: {alpha:?}", map.name());
            assert_eq!(alpha[2], 0.0, "{}: {alpha:?}", map.name());
            assert_close(&alpha[4..], &[0.25; 4], 1e-6);
            assert!((alpha[1] + alpha[3] - 1.0).abs() < 1e-6, "{alpha:?}");
        }
    }

    #[test]
    fn temperature_divides_scores() {
        let hot = AttentionMap::Sparsemax { temperature: 2.0 };
        let cold = AttentionMap::Sparsemax { temperature: 1.0 };
        let a = values(hot.apply(scores(&[&[2.0, 0.0, -2.0]])));
        let b = values(cold.apply(scores(&[&[1.0, 0.0, -1.0]])));
        assert_close(&a, &b, 1e-6);
        // Spherical ignores it: the ratio of squares is scale-invariant.
        let a = values(AttentionMap::Spherical { temperature: 3.0 }.apply(scores(&[&[1.0, 2.0]])));
        assert_close(&a, &[0.2, 0.8], 1e-6);
    }
}
