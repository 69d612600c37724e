//! Seeded parameter initialisation.
//!
//! Parameters are drawn on the host from an explicit ChaCha stream, never from a backend's
//! global RNG, so the same seed gives the same weights on every backend and in every thread.

use burn::module::Param;
use burn::nn::Linear;
use burn::tensor::{Device, Tensor, TensorData};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, Normal};
use serde::{Deserialize, Serialize};

/// Initialisation of the focus network.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FocusInit {
    /// PyTorch's `nn.Linear` default: weights and biases `U(-1/sqrt(fan_in), 1/sqrt(fan_in))`.
    #[default]
    Default,
    /// Xavier-normal weights, zero biases.
    XavierNormal,
    /// Xavier-normal, then the last hidden layer mirrored and the output anti-mirrored, so
    /// `f = 0` and `alpha = 1/m` at the start while gradients are non-zero (docs/paper-notes.md, Model).
    FunctionallyZero,
}

/// Initialisation of the classification network.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClassifierInit {
    /// PyTorch's `nn.Linear` default.
    #[default]
    Default,
    /// Xavier-normal weights, zero biases (the paper's later tables).
    XavierNormal,
}

/// How the initial weights of the two networks are seeded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InitSeeding {
    /// One seed, one ChaCha stream per network: the focus and classification networks start
    /// from independent draws.
    #[default]
    Independent,
    /// The paper's code (docs/paper-notes.md, Initialisation): the generator is re-seeded with the
    /// same seed before each network is built, and dense weights are drawn in PyTorch's
    /// `[out, in]` order. Two networks that begin with layers of the same fan-in therefore begin
    /// with the same draws: a linear focus network's weights equal the first row of a linear
    /// classifier's.
    Shared,
}

impl InitSeeding {
    /// Whether this is the default (configs leave the key out then, so their hashes are unchanged).
    pub fn is_independent(&self) -> bool {
        *self == Self::Independent
    }
}

/// The order in which a dense layer's weights are drawn from the generator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DrawOrder {
    /// Row-major over sdc's `[d_in, d_out]` layout.
    InOut,
    /// Row-major over PyTorch's `[out, in]` layout (then transposed into sdc's).
    OutIn,
}

/// Weight scheme of one dense layer, before any mirroring.
#[derive(Clone, Copy, Debug)]
pub(crate) enum LayerInit {
    TorchDefault,
    XavierNormal,
}

/// Host-side parameters of a dense layer: weight `[d_in, d_out]` row-major, bias `[d_out]`.
#[derive(Clone, Debug)]
pub(crate) struct DenseParams {
    pub d_in: usize,
    pub d_out: usize,
    pub weight: Vec<f64>,
    pub bias: Option<Vec<f64>>,
}

impl DenseParams {
    /// Draws a layer's parameters from `rng`, weights in sdc's `[d_in, d_out]` order.
    #[cfg(test)]
    pub fn draw(
        d_in: usize,
        d_out: usize,
        bias: bool,
        init: LayerInit,
        rng: &mut ChaCha8Rng,
    ) -> Self {
        Self::draw_in_order(d_in, d_out, bias, init, DrawOrder::InOut, rng)
    }

    /// Draws a layer's parameters from `rng`, weights first in `order`, then the bias.
    pub fn draw_in_order(
        d_in: usize,
        d_out: usize,
        bias: bool,
        init: LayerInit,
        order: DrawOrder,
        rng: &mut ChaCha8Rng,
    ) -> Self {
        let n = d_in * d_out;
        let (mut weight, bias): (Vec<f64>, Option<Vec<f64>>) = match init {
            LayerInit::TorchDefault => {
                // kaiming_uniform(a = sqrt(5)) reduces to U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
                let bound = 1.0 / (d_in as f64).sqrt();
                let weight = (0..n).map(|_| rng.random_range(-bound..bound)).collect();
                let bias = bias.then(|| {
                    (0..d_out)
                        .map(|_| rng.random_range(-bound..bound))
                        .collect()
                });
                (weight, bias)
            }
            LayerInit::XavierNormal => {
                let std = (2.0 / (d_in + d_out) as f64).sqrt();
                let normal = Normal::new(0.0, std).expect("xavier std is finite and positive");
                let weight = (0..n).map(|_| normal.sample(rng)).collect();
                (weight, bias.then(|| vec![0.0; d_out]))
            }
        };
        if order == DrawOrder::OutIn {
            // weight holds [d_out, d_in] row-major; store it as [d_in, d_out].
            let drawn = weight;
            weight = (0..n)
                .map(|i| drawn[(i % d_out) * d_in + i / d_out])
                .collect();
        }
        Self {
            d_in,
            d_out,
            weight,
            bias,
        }
    }

    /// Copies output units `[0, h/2)` onto `[h/2, h)` (weights and bias).
    pub fn mirror_outputs(&mut self) {
        let half = self.d_out / 2;
        for row in self.weight.chunks_mut(self.d_out) {
            row.copy_within(0..half, half);
        }
        if let Some(bias) = &mut self.bias {
            bias.copy_within(0..half, half);
        }
    }

    /// Sets input rows `[h/2, h)` to minus rows `[0, h/2)` and zeroes the bias, so a layer fed
    /// by mirrored units outputs exactly zero.
    pub fn anti_mirror_inputs(&mut self) {
        let half = self.d_in / 2;
        let d_out = self.d_out;
        for i in 0..half {
            for o in 0..d_out {
                self.weight[(half + i) * d_out + o] = -self.weight[i * d_out + o];
            }
        }
        if let Some(bias) = &mut self.bias {
            bias.fill(0.0);
        }
    }

    /// Builds the Burn layer on `device`, in the device's default float precision.
    pub fn into_linear(self, device: &Device) -> Linear {
        let weight = Tensor::<2>::from_data(
            TensorData::new(self.weight, [self.d_in, self.d_out]),
            device,
        );
        let bias = self.bias.map(|b| {
            Param::from_tensor(Tensor::<1>::from_data(
                TensorData::new(b, [self.d_out]),
                device,
            ))
        });
        Linear {
            weight: Param::from_tensor(weight),
            bias,
        }
    }
}

/// Host-side parameters of a 2-D convolution: weight `[c_out, c_in, k, k]` row-major, bias
/// `[c_out]`; fan-in `c_in*k*k` and fan-out `c_out*k*k` as PyTorch computes them.
pub(crate) fn draw_conv(
    c_in: usize,
    c_out: usize,
    kernel: usize,
    bias: bool,
    init: LayerInit,
    rng: &mut ChaCha8Rng,
) -> (Vec<f64>, Option<Vec<f64>>) {
    let area = kernel * kernel;
    let (fan_in, fan_out) = (c_in * area, c_out * area);
    let n = c_out * fan_in;
    match init {
        LayerInit::TorchDefault => {
            let bound = 1.0 / (fan_in as f64).sqrt();
            let weight = (0..n).map(|_| rng.random_range(-bound..bound)).collect();
            let bias = bias.then(|| {
                (0..c_out)
                    .map(|_| rng.random_range(-bound..bound))
                    .collect()
            });
            (weight, bias)
        }
        LayerInit::XavierNormal => {
            let std = (2.0 / (fan_in + fan_out) as f64).sqrt();
            let normal = Normal::new(0.0, std).expect("xavier std is finite and positive");
            let weight = (0..n).map(|_| normal.sample(rng)).collect();
            (weight, bias.then(|| vec![0.0; c_out]))
        }
    }
}

/// The RNG for one network of a model: one seed, one stream per network, so the focus and the
/// classification network are independent and each reproducible on its own.
pub(crate) fn network_rng(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torch_default_is_bounded_by_inverse_sqrt_fan_in() {
        let p = DenseParams::draw(16, 8, true, LayerInit::TorchDefault, &mut network_rng(3, 0));
        let bound = 0.25;
        assert!(p.weight.iter().all(|w| w.abs() < bound));
        assert!(
            p.bias
                .as_ref()
                .is_some_and(|b| b.iter().all(|w| w.abs() < bound))
        );
        // Not degenerate: the draws spread over the interval.
        let max = p
            .weight
            .iter()
            .cloned()
            .fold(0.0_f64, |a, b| a.max(b.abs()));
        assert!(max > 0.15, "max |w| = {max}");
    }

    #[test]
    fn xavier_normal_has_the_expected_spread_and_zero_bias() {
        let p = DenseParams::draw(
            200,
            200,
            true,
            LayerInit::XavierNormal,
            &mut network_rng(1, 0),
        );
        let var = p.weight.iter().map(|w| w * w).sum::<f64>() / p.weight.len() as f64;
        assert!((var - 2.0 / 400.0).abs() < 0.0005, "variance {var}");
        assert!(p.bias.as_ref().is_some_and(|b| b.iter().all(|&x| x == 0.0)));
    }

    #[test]
    fn mirroring_then_anti_mirroring_cancels_exactly() {
        let mut rng = network_rng(7, 0);
        let mut hidden = DenseParams::draw(3, 4, true, LayerInit::TorchDefault, &mut rng);
        let mut out = DenseParams::draw(4, 1, true, LayerInit::TorchDefault, &mut rng);
        hidden.mirror_outputs();
        out.anti_mirror_inputs();
        // Columns 2,3 repeat columns 0,1; output rows 2,3 negate rows 0,1.
        for row in hidden.weight.chunks(4) {
            assert_eq!(row[0], row[2]);
            assert_eq!(row[1], row[3]);
        }
        assert_eq!(out.weight[2], -out.weight[0]);
        assert_eq!(out.weight[3], -out.weight[1]);
        assert_eq!(out.bias.as_deref(), Some(&[0.0][..]));
    }

    #[test]
    fn same_seed_same_draws_other_stream_other_draws() {
        let a = DenseParams::draw(5, 6, true, LayerInit::TorchDefault, &mut network_rng(0, 0));
        let b = DenseParams::draw(5, 6, true, LayerInit::TorchDefault, &mut network_rng(0, 0));
        let c = DenseParams::draw(5, 6, true, LayerInit::TorchDefault, &mut network_rng(0, 1));
        assert_eq!(a.weight, b.weight);
        assert_ne!(a.weight, c.weight);
    }
}
