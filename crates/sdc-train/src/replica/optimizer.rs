//! The optimiser of a replica batch: Burn's Adam and SGD arithmetic on stacked tensors (every
//! replica's parameters follow its single run's bit for bit; Adam as the single run's kernel
//! on the CPU backends, as Burn's operations elsewhere), and the step count a replica
//! checkpoint keeps.

use burn::tensor::Tensor;
use sdc_model::kernels::adam_step;
use sdc_model::select_replicas;

use crate::config::OptimizerConfig;
use crate::training::{FusedAdam, adam_composed};

pub(super) fn needs_moments(optimizer: &OptimizerConfig) -> bool {
    !matches!(optimizer, OptimizerConfig::Sgd { momentum, .. } if *momentum <= 0.0)
}

/// The optimiser of a replica batch: Burn's Adam or SGD arithmetic on stacked tensors.
#[derive(Clone)]
pub(super) struct ReplicaOptimizer {
    pub(super) config: OptimizerConfig,
    pub(super) time: usize,
    pub(super) moment_1: Vec<Tensor<3>>,
    pub(super) moment_2: Vec<Tensor<3>>,
}

impl ReplicaOptimizer {
    /// One step of every parameter: `params` (no autodiff) and their `grads`, same order.
    pub(super) fn step(&mut self, params: Vec<Tensor<3>>, grads: Vec<Tensor<3>>) -> Vec<Tensor<3>> {
        let lr = self.config.lr();
        match self.config {
            OptimizerConfig::Adam { eps, .. } => {
                let first = self.time == 0;
                self.time += 1;
                let scalars = FusedAdam::new(eps as f32).scalars(self.time, lr);
                let (m1, m2) = (
                    std::mem::take(&mut self.moment_1),
                    std::mem::take(&mut self.moment_2),
                );
                let mut out = Vec::with_capacity(params.len());
                for (i, (p, g)) in params.into_iter().zip(grads).enumerate() {
                    let moments = (!first).then(|| (m1[i].clone(), m2[i].clone()));
                    let (p, m, v) = adam_step(p.clone(), g.clone(), moments.clone(), scalars)
                        .unwrap_or_else(|| adam_composed(p, g, moments, scalars));
                    out.push(p);
                    self.moment_1.push(m);
                    self.moment_2.push(v);
                }
                out
            }
            OptimizerConfig::Sgd { momentum, .. } => {
                let grads = if momentum > 0.0 {
                    // burn's Momentum keeps the factor as f32; dampening is 0 (PyTorch's).
                    let factor = momentum as f32;
                    let velocity: Vec<Tensor<3>> = if self.time == 0 {
                        grads
                    } else {
                        grads
                            .into_iter()
                            .zip(std::mem::take(&mut self.moment_1))
                            .map(|(g, v)| g.mul_scalar(1.0 - 0.0_f64).add(v.mul_scalar(factor)))
                            .collect()
                    };
                    self.moment_1 = velocity.clone();
                    velocity
                } else {
                    grads
                };
                self.time += 1;
                params
                    .into_iter()
                    .zip(grads)
                    .map(|(p, g)| p - g.mul_scalar(lr))
                    .collect()
            }
        }
    }

    /// Keeps the state rows of replicas `keep`.
    pub(super) fn select(&mut self, keep: &[usize]) {
        self.moment_1 = select_replicas(std::mem::take(&mut self.moment_1), keep);
        self.moment_2 = select_replicas(std::mem::take(&mut self.moment_2), keep);
    }
}

/// `replica-state.json` of a replica checkpoint.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ReplicaState {
    /// Optimiser steps taken so far (Adam's bias correction counts them).
    pub(super) optimizer_steps: usize,
}
