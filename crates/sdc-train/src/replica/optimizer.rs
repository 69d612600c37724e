//! The optimiser of a replica batch: Burn's Adam and SGD arithmetic, operation by operation, on
//! stacked tensors (every replica's parameters follow its single run's bit for bit), and the
//! step count a replica checkpoint keeps.

use burn::tensor::Tensor;
use sdc_model::select_replicas;

use crate::config::OptimizerConfig;

pub(super) fn needs_moments(optimizer: &OptimizerConfig) -> bool {
    !matches!(optimizer, OptimizerConfig::Sgd { momentum, .. } if *momentum <= 0.0)
}

/// The optimiser of a replica batch: Burn's Adam or SGD arithmetic on stacked tensors.
pub(super) struct ReplicaOptimizer {
    pub(super) config: OptimizerConfig,
    pub(super) time: usize,
    pub(super) moment_1: Vec<Tensor<3>>,
    pub(super) moment_2: Vec<Tensor<3>>,
}

// burn-optim 0.22 `AdamConfig` defaults (PyTorch's betas).
const BETA_1: f32 = 0.9;
const BETA_2: f32 = 0.999;

impl ReplicaOptimizer {
    /// One step of every parameter: `params` (no autodiff) and their `grads`, same order.
    pub(super) fn step(&mut self, params: Vec<Tensor<3>>, grads: Vec<Tensor<3>>) -> Vec<Tensor<3>> {
        let lr = self.config.lr();
        match self.config {
            OptimizerConfig::Adam { eps, .. } => {
                let epsilon = eps as f32;
                let first = self.time == 0;
                let mut m1 = std::mem::take(&mut self.moment_1);
                let mut m2 = std::mem::take(&mut self.moment_2);
                if first {
                    m1 = grads
                        .iter()
                        .map(|g| g.clone().mul_scalar(1.0 - BETA_1))
                        .collect();
                    m2 = grads
                        .iter()
                        .map(|g| g.clone().square().mul_scalar(1.0 - BETA_2))
                        .collect();
                    self.time = 1;
                } else {
                    m1 = m1
                        .into_iter()
                        .zip(&grads)
                        .map(|(m, g)| m.mul_scalar(BETA_1).add(g.clone().mul_scalar(1.0 - BETA_1)))
                        .collect();
                    m2 = m2
                        .into_iter()
                        .zip(&grads)
                        .map(|(v, g)| {
                            v.mul_scalar(BETA_2)
                                .add(g.clone().square().mul_scalar(1.0 - BETA_2))
                        })
                        .collect();
                    self.time += 1;
                }
                let time = self.time as i32;
                let bias_correction2_sqrt = (1.0 - BETA_2.powi(time)).sqrt();
                let combined_factor = bias_correction2_sqrt / (1.0 - BETA_1.powi(time));
                let out = params
                    .into_iter()
                    .zip(m1.iter().zip(&m2))
                    .map(|(p, (m, v))| {
                        let update = m
                            .clone()
                            .mul_scalar(combined_factor)
                            .div(v.clone().sqrt().add_scalar(epsilon * bias_correction2_sqrt));
                        p - update.mul_scalar(lr)
                    })
                    .collect();
                self.moment_1 = m1;
                self.moment_2 = m2;
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
