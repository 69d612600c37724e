//! Which configurations train together: those that differ only in the seed, with nothing the
//! replica batch does not support.

use std::path::Path;

use sdc_model::ReplicaModel;

use super::REPLICA_STATE;
use crate::config::ExperimentConfig;
use crate::objective::Objective;
use crate::run_dir::CHECKPOINT_DIR;

/// Why `config` cannot be trained as a replica of a batch, or `None` when it can.
pub fn unsupported(config: &ExperimentConfig) -> Option<String> {
    let t = &config.train;
    if let Some(why) = ReplicaModel::unsupported(&config.model) {
        return Some(why);
    }
    if t.objective != Objective::Soft {
        return Some(format!(
            "the {} objective is not replica-batched",
            t.objective.name()
        ));
    }
    if t.schedule != crate::config::Schedule::Joint || !t.freeze.is_empty() {
        return Some("alternating or frozen networks are not replica-batched".into());
    }
    if !t.init_from.is_empty() || !t.pretrain.is_empty() {
        return Some("init_from and pretraining are not replica-batched".into());
    }
    None
}

/// The key of a configuration's replica group: configurations that differ only in
/// `train.seed` have the same key.
pub fn group_key(config: &ExperimentConfig) -> String {
    let mut c = config.clone();
    c.train.seed = 0;
    c.to_toml()
}

/// Whether the run directory `dir` holds a checkpoint written by a replica group (which only a
/// replica group resumes).
pub fn holds_replica_checkpoint(dir: &Path) -> bool {
    std::fs::read_dir(dir.join(CHECKPOINT_DIR))
        .map(|entries| {
            entries
                .flatten()
                .any(|e| e.path().join(REPLICA_STATE).is_file())
        })
        .unwrap_or(false)
}
