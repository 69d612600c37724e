//! Training and evaluation of sdc attention models.
//!
//! [`ExperimentConfig`] describes a run (data, model, training, evaluation) and is read from
//! TOML with `--set key=value` overrides; [`run_experiment`] trains it into a run directory
//! (resolved config, `metrics.csv`, `summary.json`, checkpoints); [`eval_run`] scores a
//! finished run and writes per-sample predictions.
//!
//! The root holds what training one run needs; the rest is reachable by module: [`config`]
//! (every section of the experiment TOML), [`objective`] (losses and prediction rules),
//! [`score`] (the analysis of another model's outputs) and [`export`] (weights for PyTorch).
//! Sweeps over many runs live in the `sdc-reproduce` crate, on top of this API.

pub mod config;
mod config_error;
mod device;
mod error;
mod evaluate;
pub mod export;
mod metrics;
pub mod objective;
mod provenance;
pub mod replica;
mod run;
mod run_dir;
mod run_metric;
pub mod score;
mod training;

pub use config::{
    DEFAULT_CONFIG_TOML, EvalConfig, ExperimentConfig, OptimizerConfig, StopRule, TrainConfig,
};
pub use config_error::ConfigError;
pub use device::{BackendKind, Precision, device};
pub use error::TrainError;
pub use evaluate::{Predictions, SplitMetrics, evaluate, predict};
pub use metrics::{EpochRecord, MetricsLine, MetricsRow, TimingRow, read_rows};
pub use provenance::{PROVENANCE_FILE, Provenance, Session, git_commit};
pub use run::{
    ALPHA_BINS, DivergedRun, EvalReport, RunRecord, RunSummary, eval_run, finished_run,
    load_run_model, run_experiment,
};
pub use run_dir::{
    CONFIG_FILE, CheckpointState, MANIFEST_FILE, METRICS_FILE, METRICS_JSONL_FILE, MODEL_FILE,
    Manifest, RunDir, SUMMARY_FILE, TIMING_FILE, config_sha256,
};
pub use run_metric::{BEST_RUN_ACCURACY, is_known_metric, metric_value};
/// The process's cores (moved to `sdc-io`, where the kernels of `sdc-model` reach them too).
pub use sdc_io::cores;
pub use training::{
    CHECKPOINT_SECONDS, InterruptAfter, PretrainReport, Silent, StopReason, TrainObserver,
    TrainOutcome, fit,
};
