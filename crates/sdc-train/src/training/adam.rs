//! Adam as one CPU kernel per parameter, with burn-optim's `Adam` state and bits.
//!
//! burn-optim's `Adam` takes about a dozen element-wise tensor operations per parameter and
//! step, which for sdc's small networks cost a fifth of a training step (measured: an MLP
//! epoch at averaging layer 1 took 6.3 s per 600 epochs with Adam, 5.0 s with plain SGD).
//! [`FusedAdam`] runs the same arithmetic as one pass per parameter on the CPU backends
//! (`sdc_model::kernels::adam_step`), in the same order, so the weights are the same bits; it
//! keeps burn-optim's `AdamState` as its state, so checkpoints read and write as before, and
//! it hands every other device (wgpu) to burn-optim's `Adam` itself.

use burn::optim::{Adam, AdamConfig, AdamState, AdaptiveMomentumState, LearningRate, Optimizer};
use burn::tensor::{Device, Tensor};
use sdc_model::kernels::{AdamScalars, adam_step};

/// burn-optim 0.22's `AdamConfig` defaults (PyTorch's betas); the tests compare the bits
/// with burn-optim's own `Adam`, so a change of its defaults fails them.
pub(crate) const BETA_1: f32 = 0.9;
pub(crate) const BETA_2: f32 = 0.999;

/// burn-optim's `Adam` (no weight decay, no AMSGrad), fused on the CPU backends.
#[derive(Clone)]
pub(crate) struct FusedAdam {
    burn: Adam,
    beta_1: f32,
    beta_2: f32,
    epsilon: f32,
}

impl FusedAdam {
    /// burn-optim's `AdamConfig` defaults with `epsilon`.
    pub(crate) fn new(epsilon: f32) -> Self {
        Self {
            burn: AdamConfig::new().with_epsilon(epsilon).build(),
            beta_1: BETA_1,
            beta_2: BETA_2,
            epsilon,
        }
    }

    /// The scalars of step `time` (from 1) at learning rate `lr`, computed as burn-optim does.
    pub(crate) fn scalars(&self, time: usize, lr: LearningRate) -> AdamScalars {
        let t = time as i32;
        let bias_correction2_sqrt = (1.0 - self.beta_2.powi(t)).sqrt();
        let combined = bias_correction2_sqrt / (1.0 - self.beta_1.powi(t));
        AdamScalars {
            beta_1: f64::from(self.beta_1),
            beta_2: f64::from(self.beta_2),
            factor_1: f64::from(1.0 - self.beta_1),
            factor_2: f64::from(1.0 - self.beta_2),
            combined: f64::from(combined),
            eps_term: f64::from(self.epsilon * bias_correction2_sqrt),
            lr,
        }
    }
}

/// [`adam_step`] from Burn's tensor operations, as burn-optim's `Adam` computes it: for
/// devices without the kernel (the replica batch's optimiser on wgpu).
pub(crate) fn adam_composed<const D: usize>(
    param: Tensor<D>,
    grad: Tensor<D>,
    moments: Option<(Tensor<D>, Tensor<D>)>,
    s: AdamScalars,
) -> (Tensor<D>, Tensor<D>, Tensor<D>) {
    let (m1, m2) = match moments {
        Some((m1, m2)) => (
            m1.mul_scalar(s.beta_1)
                .add(grad.clone().mul_scalar(s.factor_1)),
            m2.mul_scalar(s.beta_2)
                .add(grad.square().mul_scalar(s.factor_2)),
        ),
        None => (
            grad.clone().mul_scalar(s.factor_1),
            grad.square().mul_scalar(s.factor_2),
        ),
    };
    let update = m1
        .clone()
        .mul_scalar(s.combined)
        .div(m2.clone().sqrt().add_scalar(s.eps_term));
    (param - update.mul_scalar(s.lr), m1, m2)
}

impl Optimizer for FusedAdam {
    type State<const D: usize> = AdamState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let previous = state.as_ref().map(|s| &s.momentum);
        if previous.is_some_and(|m| m.max_moment_2.is_some()) {
            return self.burn.step(lr, tensor, grad, state);
        }
        let time = previous.map_or(1, |m| m.time + 1);
        let moments = previous.map(|m| (m.moment_1.clone(), m.moment_2.clone()));
        let scalars = self.scalars(time, lr);
        match adam_step(tensor.clone(), grad.clone(), moments, scalars) {
            Some((tensor, moment_1, moment_2)) => {
                let momentum = AdaptiveMomentumState {
                    time,
                    moment_1,
                    moment_2,
                    max_moment_2: None,
                };
                (tensor, Some(AdamState { momentum }))
            }
            None => self.burn.step(lr, tensor, grad, state),
        }
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        <Adam as Optimizer>::to_device(state, device)
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::{FloatDType, TensorData};

    use super::*;

    fn tensor(values: impl Iterator<Item = f32>, device: &Device, dtype: FloatDType) -> Tensor<2> {
        let values: Vec<f32> = values.collect();
        Tensor::<2>::from_data(TensorData::new(values, [3, 4]), device).cast(dtype)
    }

    fn bits(t: &Tensor<2>) -> Vec<u64> {
        t.clone()
            .try_into_vec_as::<f64>()
            .expect("a float tensor")
            .into_iter()
            .map(f64::to_bits)
            .collect()
    }

    #[test]
    #[allow(deprecated)] // ndarray is one of sdc's CPU backends
    fn fused_steps_are_burns_adam_bit_for_bit() {
        for device in [Device::flex(), Device::ndarray()] {
            for dtype in [FloatDType::F32, FloatDType::F64] {
                let burn = AdamConfig::new().with_epsilon(1e-8).build();
                let fused = FusedAdam::new(1e-8);
                let start = tensor((0..12).map(|i| (i as f32 - 5.5) * 0.3), &device, dtype);
                let (mut ours, mut theirs) = (start.clone(), start);
                let (mut our_state, mut their_state) = (None, None);
                for step in 0..6 {
                    // Gradients of both signs, a zero, and a learning rate that changes.
                    let grad = tensor(
                        (0..12).map(|i| ((i * 7 + step * 5) % 11) as f32 * 0.25 - 1.0),
                        &device,
                        dtype,
                    );
                    let lr = 0.01 / (1.0 + step as f64);
                    (ours, our_state) = fused.step(lr, ours, grad.clone(), our_state);
                    (theirs, their_state) = burn.step(lr, theirs, grad, their_state);
                    let context = format!("{device:?} {dtype:?} step {step}");
                    assert_eq!(bits(&ours), bits(&theirs), "{context}: weights");
                    let (a, b): (&AdamState<2>, &AdamState<2>) = (
                        our_state.as_ref().expect("a state"),
                        their_state.as_ref().expect("a state"),
                    );
                    assert_eq!(a.momentum.time, b.momentum.time, "{context}");
                    assert_eq!(
                        bits(&a.momentum.moment_1),
                        bits(&b.momentum.moment_1),
                        "{context}"
                    );
                    assert_eq!(
                        bits(&a.momentum.moment_2),
                        bits(&b.momentum.moment_2),
                        "{context}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_composed_fallback_is_the_kernel_bit_for_bit() {
        let device = Device::flex();
        for dtype in [FloatDType::F32, FloatDType::F64] {
            let param = tensor((0..12).map(|i| (i as f32 - 5.5) * 0.3), &device, dtype);
            let grad = tensor((0..12).map(|i| (i % 5) as f32 * 0.4 - 0.8), &device, dtype);
            let moments = (grad.clone().abs(), grad.clone().square());
            let scalars = FusedAdam::new(1e-8).scalars(3, 0.02);
            for moments in [None, Some(moments)] {
                let kernel = adam_step(param.clone(), grad.clone(), moments.clone(), scalars)
                    .expect("flex runs the kernel");
                let composed = adam_composed(param.clone(), grad.clone(), moments, scalars);
                assert_eq!(bits(&kernel.0), bits(&composed.0), "{dtype:?}");
                assert_eq!(bits(&kernel.1), bits(&composed.1), "{dtype:?}");
                assert_eq!(bits(&kernel.2), bits(&composed.2), "{dtype:?}");
            }
        }
    }

    #[test]
    fn the_kernel_runs_on_the_cpu_backends_only_without_autodiff() {
        let device = Device::flex();
        let x = tensor((0..12).map(|i| i as f32), &device, FloatDType::F32);
        let scalars = FusedAdam::new(1e-8).scalars(1, 0.1);
        assert!(adam_step(x.clone(), x.clone(), None, scalars).is_some());
        let tracked = tensor(
            (0..12).map(|i| i as f32),
            &device.autodiff(),
            FloatDType::F32,
        );
        assert!(tracked.device().is_autodiff());
        assert!(adam_step(tracked.clone(), tracked, None, scalars).is_none());
    }
}
