//! Whole runs: train into a run directory, evaluate a run directory.

use std::path::{Path, PathBuf};

use burn::module::Module;
use sdc_data::SdcDataset;
use sdc_interp::{AlphaRows, Histogram, alpha_at_true_histogram, argmax_first};
use serde::{Deserialize, Serialize};
use tracing::info;

use crate::config::ExperimentConfig;
use crate::device::{BackendKind, Precision, device};
use crate::error::TrainError;
use crate::evaluate::{Predictions, SplitMetrics, evaluate, predict};
use crate::provenance::{PROVENANCE_FILE, Provenance};
use crate::run_dir::{
    MANIFEST_FILE, METRICS_FILE, METRICS_JSONL_FILE, MODEL_FILE, RUN_TIMING_FILE, RunDir,
    SUMMARY_FILE, TIMING_FILE, parse_json, write_atomic,
};
use crate::training::{StopReason, TrainObserver, TrainOutcome, fit};

/// What `summary.json` of a completed run holds. Every field is deterministic (the same config
/// gives the same bytes on the default CPU backend); wall-clock numbers live in `timing.json`
/// and are filled in when a finished run is read back.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// The experiment name.
    pub name: String,
    /// sdc version that produced the run.
    pub sdc_version: String,
    /// Model/shuffle seed.
    pub seed: u64,
    /// Data seed.
    pub data_seed: u64,
    /// Backend used.
    pub backend: BackendKind,
    /// Precision used.
    pub precision: Precision,
    /// Epochs trained.
    pub epochs: usize,
    /// Why training stopped.
    pub stop_reason: StopReason,
    /// Final metrics on the training set (evaluation mode).
    pub train: SplitMetrics,
    /// Final metrics on the test set.
    pub test: Option<SplitMetrics>,
    /// Wall-clock seconds of training, evaluation included (from `timing.json`).
    #[serde(skip)]
    pub train_seconds: f64,
    /// Training samples per second through forward + backward + step, in the process that
    /// finished the run (from `timing.json`).
    #[serde(skip)]
    pub samples_per_second: f64,
    /// Number of model parameters.
    pub n_parameters: usize,
    /// Histogram of alpha at the true position on the training set (20 bins on [0, 1]).
    pub alpha_at_true: Histogram,
}

/// What `summary.json` of a run that diverged holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DivergedRun {
    /// The experiment name.
    pub name: String,
    /// sdc version that produced the run.
    pub sdc_version: String,
    /// Model/shuffle seed.
    pub seed: u64,
    /// Data seed.
    pub data_seed: u64,
    /// The epoch at which divergence was seen.
    pub epoch: usize,
    /// What was seen.
    pub reason: String,
}

/// `summary.json`: how a finished run ended, tagged by `"status"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum RunRecord {
    /// Training ended by its stop rule or `max_epochs`.
    Completed(Box<RunSummary>),
    /// Training diverged; there are no final metrics.
    Diverged(DivergedRun),
}

impl RunRecord {
    /// The summary of a completed run, or the divergence as an error.
    pub fn into_summary(self) -> Result<RunSummary, TrainError> {
        match self {
            RunRecord::Completed(summary) => Ok(*summary),
            RunRecord::Diverged(d) => Err(TrainError::Diverged {
                epoch: d.epoch,
                reason: d.reason,
            }),
        }
    }
}

/// `timing.json`: the run's wall-clock numbers (kept out of the deterministic summary).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Timing {
    train_seconds: f64,
    samples_per_second: f64,
}

/// Bins of the alpha-at-true histogram kept in every summary.
pub const ALPHA_BINS: usize = 20;

/// The record of the finished run in `dir`, verified against its manifest (and, when given,
/// against `config`); `None` when no run finished there. A damaged or edited file is an error
/// naming it.
pub fn finished_run(
    dir: &Path,
    config: Option<&ExperimentConfig>,
) -> Result<Option<RunRecord>, TrainError> {
    if !dir.join(MANIFEST_FILE).is_file() {
        return Ok(None);
    }
    let run = RunDir::open(dir)?;
    finished_record(&run, config)
}

fn finished_record(
    run: &RunDir,
    config: Option<&ExperimentConfig>,
) -> Result<Option<RunRecord>, TrainError> {
    let Some(manifest) = run.finished(config)? else {
        return Ok(None);
    };
    let path = run.file(SUMMARY_FILE);
    let mut record: RunRecord =
        parse_json(&path, &manifest.read_verified(run.path(), SUMMARY_FILE)?)?;
    if let RunRecord::Completed(summary) = &mut record
        && run.file(RUN_TIMING_FILE).is_file()
    {
        let timing: Timing = run.read_json(RUN_TIMING_FILE)?;
        summary.train_seconds = timing.train_seconds;
        summary.samples_per_second = timing.samples_per_second;
    }
    Ok(Some(record))
}

/// Trains `config` into the run directory `out`.
///
/// The directory is locked while training: a second writer is refused. A directory that
/// already holds a finished run of the same configuration is not trained again: its summary is
/// returned (after checking every file against the run's manifest). One with a checkpoint
/// resumes from it. One holding a different configuration is refused. A run that diverges is
/// recorded as such (`summary.json` with `"status": "diverged"`) and returned as
/// [`TrainError::Diverged`], now and on every later call.
pub fn run_experiment(
    config: &ExperimentConfig,
    out: &Path,
    observer: &mut dyn TrainObserver,
) -> Result<RunSummary, TrainError> {
    // A finished run is only verified: nothing to build for it.
    if out.join(MANIFEST_FILE).is_file() {
        let run = RunDir::lock(out)?;
        if let Some(record) = finished_record(&run, Some(config))? {
            info!(dir = %out.display(), "run already finished; not training again");
            return record.into_summary();
        }
    }
    // Everything that can refuse the configuration (the backend, the data, the model's sizes)
    // runs before anything is written: a failed start leaves no directory behind.
    let splits = config.data.load()?;
    let device = device(config.train.backend, config.train.precision)?.autodiff();
    let model = config.model.init_for(
        splits.train.segment_shape(),
        splits.train.n_classes(),
        config.train.seed,
        &device,
    )?;

    let run = match open_run(config, out)? {
        Opened::Finished(record) => return record.into_summary(),
        Opened::Ready(run) => run,
    };
    let first_epoch = run
        .latest_checkpoint(config)?
        .map_or(1, |checkpoint| checkpoint.state.epoch + 1);
    let mut provenance = start_provenance(&run, config, first_epoch)?;
    let _span = tracing::info_span!("run", name = %config.name, seed = config.train.seed).entered();
    let result = train_into(config, &run, splits, device, model, observer);
    end_run(&run, config, &mut provenance, result)?.into_summary()
}

/// Starts this process's session in the run's `provenance.json`, training from `first_epoch`.
pub(crate) fn start_provenance(
    run: &RunDir,
    config: &ExperimentConfig,
    first_epoch: usize,
) -> Result<Provenance, TrainError> {
    Provenance::start(
        run,
        config.train.backend,
        config.train.precision,
        first_epoch,
    )
}

/// Ends a run's session: records in `provenance` how `result` ended and, for a completed or
/// diverged run, writes the manifest (last: only then is the run finished) and removes the
/// checkpoints, which the final model (or the record of divergence) supersedes.
pub(crate) fn end_run(
    run: &RunDir,
    config: &ExperimentConfig,
    provenance: &mut Provenance,
    result: Result<RunRecord, TrainError>,
) -> Result<RunRecord, TrainError> {
    let outcome = match &result {
        Ok(RunRecord::Completed(_)) => "completed".to_string(),
        Ok(RunRecord::Diverged(_)) | Err(TrainError::Diverged { .. }) => "diverged".to_string(),
        Err(TrainError::Interrupted { epoch }) => format!("interrupted after epoch {epoch}"),
        Err(e) => format!("failed: {e}"),
    };
    let ended = provenance.end(run, &outcome);
    let record = result?;
    ended?;
    let record_files: &[&str] = match &record {
        RunRecord::Completed(_) => &[
            METRICS_FILE,
            METRICS_JSONL_FILE,
            TIMING_FILE,
            MODEL_FILE,
            SUMMARY_FILE,
            RUN_TIMING_FILE,
            PROVENANCE_FILE,
        ],
        RunRecord::Diverged(_) => &[
            METRICS_FILE,
            METRICS_JSONL_FILE,
            SUMMARY_FILE,
            PROVENANCE_FILE,
        ],
    };
    // A run that diverged before its first evaluation has no metrics.
    let present: Vec<&str> = record_files
        .iter()
        .copied()
        .filter(|name| matches!(record, RunRecord::Completed(_)) || run.file(name).is_file())
        .collect();
    run.finish(config, &present)?;
    run.remove_checkpoints()?;
    Ok(record)
}

/// A run directory opened for training: already finished, or locked and ready.
pub(crate) enum Opened {
    /// A finished run of this configuration (verified against its manifest).
    Finished(RunRecord),
    /// Locked, holding this configuration, not finished.
    Ready(RunDir),
}

/// Locks `out` for training `config`: a finished run of it is returned as such, one of another
/// configuration refused; otherwise the configuration is written and the directory returned.
pub(crate) fn open_run(config: &ExperimentConfig, out: &Path) -> Result<Opened, TrainError> {
    let run = RunDir::lock(out)?;
    if let Some(record) = finished_record(&run, Some(config))? {
        info!(dir = %out.display(), "run already finished; not training again");
        return Ok(Opened::Finished(record));
    }
    if let Some(existing) = run.read_config()?
        && existing != *config
    {
        return Err(TrainError::RunDir {
            path: out.to_path_buf(),
            message: "holds a run of a different configuration; choose another output directory"
                .into(),
        });
    }
    run.write_config(config)?;
    Ok(Opened::Ready(run))
}

/// Trains a validated configuration into the locked `run`: the summary of a completed run, or
/// the record of one that diverged; the caller writes the manifest.
fn train_into(
    config: &ExperimentConfig,
    run: &RunDir,
    splits: sdc_data::Splits,
    device: burn::tensor::Device,
    model: sdc_model::AttentionModel,
    observer: &mut dyn TrainObserver,
) -> Result<RunRecord, TrainError> {
    let n_parameters = model.num_params();
    let outcome = match fit(
        config,
        model,
        &splits.train,
        Some(&splits.test),
        &device,
        Some(run),
        observer,
    ) {
        Ok(outcome) => outcome,
        Err(TrainError::Diverged { epoch, reason }) => {
            return record_divergence(run, config, epoch, reason);
        }
        Err(e) => return Err(e),
    };
    complete_run(run, config, &outcome, &splits.train, &device, n_parameters)
}

/// Records that the run in `run` diverged at `epoch`: `summary.json` with `"status":
/// "diverged"`; the caller ends the run ([`end_run`]).
pub(crate) fn record_divergence(
    run: &RunDir,
    config: &ExperimentConfig,
    epoch: usize,
    reason: String,
) -> Result<RunRecord, TrainError> {
    let record = RunRecord::Diverged(DivergedRun {
        name: config.name.clone(),
        sdc_version: env!("CARGO_PKG_VERSION").into(),
        seed: config.train.seed,
        data_seed: config.data.seed(),
        epoch,
        reason: reason.clone(),
    });
    run.write_json(SUMMARY_FILE, &record)?;
    tracing::warn!(epoch, %reason, "run diverged");
    Ok(record)
}

/// Writes the final model, `summary.json` and `timing.json` of a run that trained to
/// `outcome`; `device` is the training (autodiff) device. The caller ends the run
/// ([`end_run`]).
pub(crate) fn complete_run(
    run: &RunDir,
    config: &ExperimentConfig,
    outcome: &TrainOutcome,
    train_split: &SdcDataset,
    device: &burn::tensor::Device,
    n_parameters: usize,
) -> Result<RunRecord, TrainError> {
    outcome.model.save(&run.file(MODEL_FILE))?;
    let final_train = predict(
        &outcome.model.valid(),
        &config.train.objective,
        train_split,
        config.eval_batch_size(),
        &device.clone().without_autodiff(),
    )?;
    let alpha_at_true = alpha_at_true_histogram(
        AlphaRows::new(&final_train.alpha, final_train.n_segments)?,
        train_split.fg_index(),
        ALPHA_BINS,
    )?;

    let train = outcome
        .last
        .train
        .clone()
        .expect("the last record is an evaluated epoch");
    let timing = Timing {
        train_seconds: outcome.train_seconds,
        samples_per_second: if outcome.train_seconds > 0.0 {
            outcome.samples_here as f64 / outcome.train_seconds
        } else {
            0.0
        },
    };
    let summary = RunSummary {
        name: config.name.clone(),
        sdc_version: env!("CARGO_PKG_VERSION").into(),
        seed: config.train.seed,
        data_seed: config.data.seed(),
        backend: config.train.backend,
        precision: config.train.precision,
        epochs: outcome.epochs,
        stop_reason: outcome.stop_reason,
        train,
        test: outcome.last.test.clone(),
        train_seconds: timing.train_seconds,
        samples_per_second: timing.samples_per_second,
        n_parameters,
        alpha_at_true,
    };
    run.write_json(RUN_TIMING_FILE, &timing)?;
    let record = RunRecord::Completed(Box::new(summary));
    run.write_json(SUMMARY_FILE, &record)?;
    if let RunRecord::Completed(summary) = &record {
        info!(
            epochs = summary.epochs,
            accuracy = summary.train.summary.accuracy,
            ftpt = summary.train.summary.rates.ftpt,
            ffpt = summary.train.summary.rates.ffpt,
            "run finished"
        );
    }
    Ok(record)
}

/// Rebuilds the final model of the finished run in `run_dir`, trained with `config`, on
/// `device`; the model file is checked against the run's manifest first.
pub fn load_run_model(
    config: &ExperimentConfig,
    run_dir: &Path,
    device: &burn::tensor::Device,
) -> Result<sdc_model::AttentionModel, TrainError> {
    let run = RunDir::open(run_dir)?;
    let Some(manifest) = run.finished(Some(config))? else {
        return Err(TrainError::RunDir {
            path: run_dir.to_path_buf(),
            message: format!("the run has not finished (no {MANIFEST_FILE})"),
        });
    };
    let bytes = manifest.read_verified(run_dir, MODEL_FILE)?;
    let (segment_shape, n_classes) = config.data.shape_and_classes()?;
    let model = config
        .model
        .init_for(&segment_shape, n_classes, config.train.seed, device)?
        .load_bytes(bytes, &run_dir.join(MODEL_FILE))?;
    Ok(model)
}

/// One evaluated dataset of `sdc eval`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EvalReport {
    /// Which data: `train`, `test`, or the file's stem.
    pub split: String,
    /// Where the per-sample predictions were written.
    pub predictions_csv: PathBuf,
    /// The metrics.
    pub metrics: SplitMetrics,
}

/// Evaluates the model of the run at `run_path` on `data` (a dataset file) or, without one, on
/// the train and test splits regenerated from the run's configuration. Writes
/// `predictions.csv` and `summary.json` per split under `out` (default `RUN/eval`).
pub fn eval_run(
    run_path: &Path,
    data: Option<&Path>,
    out: Option<&Path>,
) -> Result<Vec<EvalReport>, TrainError> {
    let run = RunDir::open(run_path)?;
    let config = run
        .read_config()?
        .expect("RunDir::open checked config.toml");
    let device = device(config.train.backend, config.train.precision)?;
    let datasets: Vec<(String, SdcDataset)> = match data {
        Some(path) => {
            let (dataset, _meta) = sdc_data::load(path)?;
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "data".into());
            vec![(stem, dataset)]
        }
        None => {
            let splits = config.data.load()?;
            vec![("train".into(), splits.train), ("test".into(), splits.test)]
        }
    };
    let (segment_shape, n_classes) = config.data.shape_and_classes()?;
    let dim: usize = segment_shape.iter().product();
    let model = load_run_model(&config, run_path, &device)?;
    let out = out
        .map(Path::to_path_buf)
        .unwrap_or_else(|| run.file("eval"));
    let mut reports = Vec::new();
    for (split, dataset) in datasets {
        if dataset.is_empty() {
            if data.is_some() {
                return Err(TrainError::RunDir {
                    path: data.map(Path::to_path_buf).unwrap_or_default(),
                    message: "the dataset holds no samples; there is nothing to evaluate".into(),
                });
            }
            continue;
        }
        if dataset.dim() != dim || dataset.n_classes() != n_classes {
            return Err(TrainError::RunDir {
                path: data.map(Path::to_path_buf).unwrap_or_default(),
                message: format!(
                    "the data have segments of dimension {} and {} classes; the model expects {} and {}",
                    dataset.dim(),
                    dataset.n_classes(),
                    dim,
                    n_classes
                ),
            });
        }
        let (predictions, metrics) = evaluate(
            &model,
            &config.train.objective,
            &dataset,
            config.eval_batch_size(),
            config.eval.focus,
            &device,
        )?;
        let dir = out.join(&split);
        let csv_path = dir.join("predictions.csv");
        write_predictions(&csv_path, &dataset, &predictions)?;
        let text = serde_json::to_string_pretty(&metrics).expect("metrics serialise");
        write_atomic(&dir.join("summary.json"), text.as_bytes())?;
        reports.push(EvalReport {
            split,
            predictions_csv: csv_path,
            metrics,
        });
    }
    Ok(reports)
}

/// Writes one row per sample: index, label, J, prediction, focus (argmax alpha), then alpha.
pub fn write_predictions(
    path: &Path,
    dataset: &SdcDataset,
    predictions: &Predictions,
) -> Result<(), TrainError> {
    let m = predictions.n_segments;
    let rows = AlphaRows::new(&predictions.alpha, m)?;
    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = ["index", "label", "fg_index", "prediction", "focus"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    header.extend((0..m).map(|j| format!("alpha_{j}")));
    let io = |e: csv::Error| TrainError::io(path, e);
    writer.write_record(&header).map_err(io)?;
    for (i, row) in rows.rows().enumerate() {
        let mut record = vec![
            i.to_string(),
            dataset.labels()[i].to_string(),
            dataset.fg_index()[i].to_string(),
            predictions.predictions[i].to_string(),
            argmax_first(row).to_string(),
        ];
        record.extend(row.iter().map(|a| a.to_string()));
        writer.write_record(&record).map_err(io)?;
    }
    let bytes = writer.into_inner().map_err(|e| TrainError::io(path, e))?;
    write_atomic(path, &bytes)
}
