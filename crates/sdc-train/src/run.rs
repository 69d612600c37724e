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
use crate::run_dir::{CHECKPOINT_DIR, MODEL_FILE, RunDir, SUMMARY_FILE, write_atomic};
use crate::training::{StopReason, TrainObserver, fit};

/// What `summary.json` of a finished run holds.
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
    /// Wall-clock seconds of training, evaluation included.
    pub train_seconds: f64,
    /// Training samples per second through forward + backward + step (this process only).
    pub samples_per_second: f64,
    /// Number of model parameters.
    pub n_parameters: usize,
    /// Histogram of alpha at the true position on the training set (20 bins on [0, 1]).
    pub alpha_at_true: Histogram,
}

/// Bins of the alpha-at-true histogram kept in every summary.
pub const ALPHA_BINS: usize = 20;

/// Trains `config` into the run directory `out`.
///
/// A directory that already holds a finished run of the same configuration is not trained
/// again: its summary is returned. One with a checkpoint resumes from it. One holding a
/// different configuration is refused.
pub fn run_experiment(
    config: &ExperimentConfig,
    out: &Path,
    observer: &mut dyn TrainObserver,
) -> Result<RunSummary, TrainError> {
    let run = RunDir::create(out)?;
    if let Some(existing) = run.read_config()? {
        if existing != *config {
            return Err(TrainError::RunDir {
                path: out.to_path_buf(),
                message:
                    "holds a run of a different configuration; choose another output directory"
                        .into(),
            });
        }
        if run.is_finished() {
            info!(dir = %out.display(), "run already finished; not training again");
            return run.read_json(SUMMARY_FILE);
        }
    }
    run.write_config(config)?;
    let _span = tracing::info_span!("run", name = %config.name, seed = config.train.seed).entered();

    let splits = config.data.load()?;
    let device = device(config.train.backend, config.train.precision)?.autodiff();
    let model = config.model.init_for(
        splits.train.segment_shape(),
        splits.train.n_classes(),
        config.train.seed,
        &device,
    )?;
    let n_parameters = model.num_params();
    let outcome = fit(
        config,
        model,
        &splits.train,
        Some(&splits.test),
        &device,
        Some(&run),
        observer,
    )?;
    outcome.model.save(&run.file(MODEL_FILE))?;
    let final_train = predict(
        &outcome.model.valid(),
        &config.train.objective,
        &splits.train,
        config.eval_batch_size(),
        &device.clone().without_autodiff(),
    )?;
    let alpha_at_true = alpha_at_true_histogram(
        AlphaRows::new(&final_train.alpha, final_train.n_segments)?,
        splits.train.fg_index(),
        ALPHA_BINS,
    )?;

    let train = outcome
        .last
        .train
        .clone()
        .expect("the last record is an evaluated epoch");
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
        train_seconds: outcome.train_seconds,
        samples_per_second: if outcome.train_seconds > 0.0 {
            outcome.samples_here as f64 / outcome.train_seconds
        } else {
            0.0
        },
        n_parameters,
        alpha_at_true,
    };
    run.write_json(SUMMARY_FILE, &summary)?;
    // The final model supersedes the resumable state.
    let checkpoint = run.file(CHECKPOINT_DIR);
    if checkpoint.is_dir() {
        std::fs::remove_dir_all(&checkpoint).map_err(|e| TrainError::io(&checkpoint, e))?;
    }
    info!(
        epochs = summary.epochs,
        accuracy = summary.train.summary.accuracy,
        ftpt = summary.train.summary.rates.ftpt,
        ffpt = summary.train.summary.rates.ffpt,
        "run finished"
    );
    Ok(summary)
}

/// Rebuilds the final model of the run in `run_dir`, trained with `config`, on `device`.
pub fn load_run_model(
    config: &ExperimentConfig,
    run_dir: &Path,
    device: &burn::tensor::Device,
) -> Result<sdc_model::AttentionModel, TrainError> {
    let (segment_shape, n_classes) = config.data.shape_and_classes()?;
    let model = config
        .model
        .init_for(&segment_shape, n_classes, config.train.seed, device)?
        .load(&run_dir.join(MODEL_FILE))?;
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
