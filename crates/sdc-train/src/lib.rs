//! Training and evaluation of sdc attention models.
//!
//! [`ExperimentConfig`] describes a run (data, model, training, evaluation) and is read from
//! TOML with `--set key=value` overrides; [`run_experiment`] trains it into a run directory
//! (resolved config, `metrics.csv`, `summary.json`, checkpoints); [`eval_run`] scores a
//! finished run and writes per-sample predictions.

mod config;
mod device;
mod error;
mod evaluate;
mod experiment;
pub mod export;
mod metrics;
mod mosaic_figure;
mod objective;
mod reproduce;
mod run;
mod run_dir;
mod run_metric;
pub mod score;
mod sweep;
mod training;

pub use config::{
    DEFAULT_CONFIG_TOML, EvalConfig, ExperimentConfig, OptimizerConfig, StopRule, TrainConfig,
};
pub use device::{BackendKind, Precision, device};
pub use error::TrainError;
pub use evaluate::{Predictions, SplitMetrics, evaluate, predict};
pub use experiment::{
    Axis, ExperimentSpec, PlannedRun, Profile, QuickProfile, Reference, display_value,
};
pub use metrics::{EpochRecord, MetricsRow, TimingRow, read_rows};
pub use objective::{
    HybridPartner, Objective, ObjectivePass, attention_entropy, cross_entropy, hard_attention_loss,
    log_attention, lvml_loss, objective,
};
pub use reproduce::{
    ReproduceOptions, ReproduceOutcome, SILENT_ACCURACY, SILENT_FFPT, build_report,
    is_known_metric, metric_value, plan, reproduce, select_specs,
};
pub use run::{
    DivergedRun, EvalReport, RunRecord, RunSummary, eval_run, finished_run, load_run_model,
    run_experiment, write_predictions,
};
pub use run_dir::{CheckpointState, Manifest, RunDir};
pub use sweep::{ERROR_FILE, RunStatus, Shard, SweepObserver, recorded_failure, run_sweep};
pub use training::{
    InitFrom, Network, Pretrain, PretrainReport, PretrainStage, Schedule, Silent, StopReason,
    TrainObserver, TrainOutcome, fit,
};
