//! Training and evaluation of sdc attention models.
//!
//! [`ExperimentConfig`] describes a run (data, model, training, evaluation) and is read from
//! TOML with `--set key=value` overrides; [`run_experiment`] trains it into a run directory
//! (resolved config, `metrics.csv`, `summary.json`, checkpoints); [`eval_run`] scores a
//! finished run and writes per-sample predictions.
//!
//! The root holds what training one run needs; the rest is reachable by module:
//! [`config`] (every section of the experiment TOML), [`objective`] (losses and prediction
//! rules), and the sweeps over many runs: [`experiment`] (specs and their grids),
//! [`sweep`] (running planned runs) and [`reproduce`] (the paper's experiments and the report).

pub mod config;
mod config_error;
mod device;
mod error;
mod evaluate;
pub mod experiment;
pub mod export;
mod metrics;
mod mosaic_figure;
pub mod objective;
pub mod reproduce;
mod run;
mod run_dir;
mod run_metric;
pub mod score;
pub mod sweep;
mod training;

pub use config::{
    DEFAULT_CONFIG_TOML, EvalConfig, ExperimentConfig, OptimizerConfig, StopRule, TrainConfig,
};
pub use config_error::ConfigError;
pub use device::{BackendKind, Precision, device};
pub use error::TrainError;
pub use evaluate::{Predictions, SplitMetrics, evaluate, predict};
pub use metrics::{EpochRecord, MetricsRow, TimingRow, read_rows};
pub use run::{
    DivergedRun, EvalReport, RunRecord, RunSummary, eval_run, finished_run, load_run_model,
    run_experiment,
};
pub use run_dir::{CheckpointState, Manifest, RunDir};
pub use training::{PretrainReport, Silent, StopReason, TrainObserver, TrainOutcome, fit};
