//! Checkpoints of a training run: the model and both optimisers as one whole (see
//! [`RunDir::save_checkpoint`]), read back only after their checksums are verified.

use burn::optim::ModuleOptimizer;
use sdc_model::AttentionModel;
use tracing::debug;

use crate::config::ExperimentConfig;
use crate::error::TrainError;
use crate::run_dir::{Checkpoint, CheckpointState, RunDir};

/// Both networks' optimisers.
#[derive(Clone)]
pub(super) struct Optimizers {
    pub(super) focus: ModuleOptimizer,
    pub(super) classifier: ModuleOptimizer,
}

/// Checkpoint file names of the model and the optimisers.
const MODEL: &str = "model.bpk";
const OPTIM_FOCUS: &str = "optim-focus.bpk";
const OPTIM_CLASSIFIER: &str = "optim-classifier.bpk";

/// The model and optimisers of a verified checkpoint, loaded into fresh ones.
pub(super) fn load(
    checkpoint: &Checkpoint,
    model: AttentionModel,
    optimizers: Optimizers,
) -> Result<(AttentionModel, Optimizers), TrainError> {
    let model = model.load_bytes(checkpoint.read(MODEL)?, &checkpoint.dir().join(MODEL))?;
    let optimizers = Optimizers {
        focus: load_optimizer(optimizers.focus, checkpoint, OPTIM_FOCUS)?,
        classifier: load_optimizer(optimizers.classifier, checkpoint, OPTIM_CLASSIFIER)?,
    };
    Ok((model, optimizers))
}

fn load_optimizer(
    optim: ModuleOptimizer,
    checkpoint: &Checkpoint,
    name: &str,
) -> Result<ModuleOptimizer, TrainError> {
    let bytes = checkpoint.read(name)?;
    optim
        .from_bytes(burn::tensor::Bytes::from_bytes_vec(bytes))
        .map_err(|e| TrainError::Damaged {
            path: checkpoint.dir().join(name),
            message: format!("cannot load optimiser state: {e}"),
        })
}

/// Saves the model and both optimisers at `state` as one checkpoint of `run`.
pub(super) fn save(
    run: &RunDir,
    config: &ExperimentConfig,
    model: &AttentionModel,
    optimizers: &Optimizers,
    state: &CheckpointState,
) -> Result<(), TrainError> {
    let optim_bytes = |optim: &ModuleOptimizer, name: &str| {
        optim
            .into_bytes()
            .map(|b| b.to_vec())
            .map_err(|e| TrainError::io(run.checkpoint_dir().join(name), e.to_string()))
    };
    let files = [
        (MODEL, model.to_bytes()?),
        (OPTIM_FOCUS, optim_bytes(&optimizers.focus, OPTIM_FOCUS)?),
        (
            OPTIM_CLASSIFIER,
            optim_bytes(&optimizers.classifier, OPTIM_CLASSIFIER)?,
        ),
    ];
    run.save_checkpoint(config, &files, state)?;
    debug!(epoch = state.epoch, "checkpoint saved");
    Ok(())
}
