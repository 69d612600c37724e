//! One epoch of a replica batch's optimiser steps, every replica in its own shuffled order.

use burn::tensor::{Device, Tensor};
use sdc_data::{SdcBatcher, SdcDataset};
use sdc_model::{ReplicaModel, select_replicas};

use super::losses::{read, training_losses};
use super::optimizer::ReplicaOptimizer;
use crate::config::TrainConfig;
use crate::error::TrainError;
use crate::training::epoch_order;

/// What one epoch of a replica batch's steps produced, per replica (in the batch's order).
pub(super) struct ReplicaEpoch {
    pub(super) model: ReplicaModel,
    pub(super) loss_sums: Vec<f64>,
    pub(super) first_losses: Vec<f64>,
    /// Why a replica diverged (its first non-finite mini-batch loss), if it did.
    pub(super) diverged: Vec<Option<String>>,
    pub(super) n_batches: usize,
    /// Steps and samples of one replica.
    pub(super) steps: usize,
    pub(super) samples: usize,
}

impl ReplicaEpoch {
    /// Keeps replicas `keep` only: what the epoch would have been without the others, since
    /// nothing in a step mixes replicas.
    pub(super) fn keep(&mut self, keep: &[usize]) {
        self.model = self
            .model
            .clone()
            .with_tensors(select_replicas(self.model.tensors(), keep));
        let pick = |v: &[f64]| keep.iter().map(|&i| v[i]).collect::<Vec<_>>();
        self.loss_sums = pick(&self.loss_sums);
        self.first_losses = pick(&self.first_losses);
        self.diverged = keep.iter().map(|&i| self.diverged[i].clone()).collect();
    }
}

/// One epoch of steps of every replica in `model` (seeds `seeds`, in order), each in its own
/// shuffled order. A replica whose mini-batch loss is not finite is marked diverged and steps
/// on (its rows never reach another replica's); the epoch ends early once all have diverged.
pub(super) fn train_epoch(
    t: &TrainConfig,
    mut model: ReplicaModel,
    optimizer: &mut ReplicaOptimizer,
    seeds: &[u64],
    train: &SdcDataset,
    epoch: usize,
    plain: &Device,
) -> Result<ReplicaEpoch, TrainError> {
    let orders: Vec<Vec<usize>> = seeds
        .iter()
        .map(|&seed| epoch_order(seed, epoch, train.len()))
        .collect();
    let r = seeds.len();
    let mut loss_sums = vec![0.0; r];
    let mut first_losses = vec![f64::NAN; r];
    let mut diverged: Vec<Option<String>> = vec![None; r];
    let (mut n_batches, mut steps, mut samples) = (0usize, 0usize, 0usize);
    let batch_size = t.batch_size.max(1);
    for start in (0..train.len()).step_by(batch_size) {
        let end = (start + batch_size).min(train.len());
        let b = end - start;
        let indices: Vec<usize> = orders
            .iter()
            .flat_map(|o| o[start..end].iter().copied())
            .collect();
        let batch = SdcBatcher.batch_indices(train, &indices, plain);
        let [_, m, d] = batch.inputs.dims();
        let inputs = batch.inputs.reshape([r, b, m, d]);
        let params: Vec<Tensor<3>> = model
            .tensors()
            .into_iter()
            .map(|p| p.autodiff().require_grad())
            .collect();
        let live = model.clone().with_tensors(params.clone());
        let out = live.forward(inputs);
        let losses = training_losses(&out, batch.labels, &model.attention, t.entropy);
        let values: Vec<f64> = read(losses.clone(), "losses")?;
        for (i, &value) in values.iter().enumerate() {
            if !value.is_finite() {
                diverged[i].get_or_insert_with(|| format!("the mini-batch loss is {value}"));
            }
            if diverged[i].is_some() {
                continue;
            }
            if n_batches == 0 {
                first_losses[i] = value;
            }
            loss_sums[i] += value;
        }
        n_batches += 1;
        if diverged.iter().all(Option::is_some) {
            break;
        }
        // One backward pass for every replica: replica i's parameters only reach loss i,
        // so the gradient of the sum is each replica's own (a diverged replica's may be NaN;
        // it never leaves its rows, and the replica is dropped at the end of the epoch).
        let grads = losses.sum().backward();
        let grads: Vec<Tensor<3>> = params
            .iter()
            .map(|p| {
                p.grad(&grads)
                    .ok_or_else(|| TrainError::Device("a parameter has no gradient".into()))
            })
            .collect::<Result<_, _>>()?;
        let next = optimizer.step(
            params.into_iter().map(|p| p.without_autodiff()).collect(),
            grads,
        );
        model = model.with_tensors(next);
        steps += 1;
        samples += b;
    }
    Ok(ReplicaEpoch {
        model,
        loss_sums,
        first_losses,
        diverged,
        n_batches,
        steps,
        samples,
    })
}
