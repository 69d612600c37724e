//! A replica's checkpoint: its model and its optimiser moments, each stored as a model of the
//! run's shapes, and the optimiser's step count (`docs/run-directories.md`, Replica groups).

use burn::tensor::Tensor;
use sdc_model::ReplicaModel;

use super::optimizer::{ReplicaOptimizer, ReplicaState};
use super::{Active, REPLICA_MOMENT_1, REPLICA_MOMENT_2, REPLICA_STATE};
use crate::error::TrainError;
use crate::run_dir::{CheckpointState, MODEL_FILE};

/// Saves replica `i`'s checkpoint into its run: its model and its optimiser moments, each as a
/// model of the run's shapes.
pub(super) fn save_checkpoint(
    a: &Active,
    model: &ReplicaModel,
    optimizer: &ReplicaOptimizer,
    i: usize,
    state: &CheckpointState,
) -> Result<(), TrainError> {
    let as_model = |tensors: &[Tensor<3>]| {
        model
            .clone()
            .with_tensors(tensors.to_vec())
            .replica_into(i, a.template.clone())
            .to_bytes()
    };
    let steps = serde_json::to_vec(&ReplicaState {
        optimizer_steps: optimizer.time,
    })
    .expect("the replica state serialises");
    let mut files = vec![
        (
            MODEL_FILE,
            model.replica_into(i, a.template.clone()).to_bytes()?,
        ),
        (REPLICA_STATE, steps),
    ];
    if !optimizer.moment_1.is_empty() {
        files.push((REPLICA_MOMENT_1, as_model(&optimizer.moment_1)?));
    }
    if !optimizer.moment_2.is_empty() {
        files.push((REPLICA_MOMENT_2, as_model(&optimizer.moment_2)?));
    }
    a.run.save_checkpoint(&a.config, &files, state)
}
