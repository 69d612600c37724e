//! Per-epoch records and the `metrics.csv` they are written to.

use std::fs::OpenOptions;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::TrainError;
use crate::evaluate::SplitMetrics;

/// What one epoch produced.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// The epoch, 1-based.
    pub epoch: usize,
    /// Mean mini-batch loss seen while training this epoch.
    pub running_loss: f64,
    /// The training set in evaluation mode (on evaluated epochs).
    pub train: Option<SplitMetrics>,
    /// The test set (on evaluated epochs, when there is one).
    pub test: Option<SplitMetrics>,
    /// Wall-clock seconds of training since the run started.
    pub elapsed_s: f64,
}

/// One row of `metrics.csv`: flat columns, empty where a split was not evaluated.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricsRow {
    /// Epoch, 1-based.
    pub epoch: usize,
    /// Mean mini-batch loss while training.
    pub running_loss: f64,
    /// Training-set loss in evaluation mode.
    pub train_loss: Option<f64>,
    /// Training-set accuracy (%).
    pub train_accuracy: Option<f64>,
    /// Training-set FTPT (%).
    pub train_ftpt: Option<f64>,
    /// Training-set FFPT (%).
    pub train_ffpt: Option<f64>,
    /// Training-set FTPF (%).
    pub train_ftpf: Option<f64>,
    /// Training-set FFPF (%).
    pub train_ffpf: Option<f64>,
    /// Test-set loss.
    pub test_loss: Option<f64>,
    /// Test-set accuracy (%).
    pub test_accuracy: Option<f64>,
    /// Test-set FTPT (%).
    pub test_ftpt: Option<f64>,
    /// Test-set FFPT (%).
    pub test_ffpt: Option<f64>,
    /// Test-set FTPF (%).
    pub test_ftpf: Option<f64>,
    /// Test-set FFPF (%).
    pub test_ffpf: Option<f64>,
    /// Seconds since the run started.
    pub elapsed_s: f64,
}

impl From<&EpochRecord> for MetricsRow {
    fn from(r: &EpochRecord) -> Self {
        let part = |s: &Option<SplitMetrics>, f: fn(&SplitMetrics) -> f64| s.as_ref().map(f);
        Self {
            epoch: r.epoch,
            running_loss: r.running_loss,
            train_loss: part(&r.train, |s| s.loss),
            train_accuracy: part(&r.train, |s| s.summary.accuracy),
            train_ftpt: part(&r.train, |s| s.summary.rates.ftpt),
            train_ffpt: part(&r.train, |s| s.summary.rates.ffpt),
            train_ftpf: part(&r.train, |s| s.summary.rates.ftpf),
            train_ffpf: part(&r.train, |s| s.summary.rates.ffpf),
            test_loss: part(&r.test, |s| s.loss),
            test_accuracy: part(&r.test, |s| s.summary.accuracy),
            test_ftpt: part(&r.test, |s| s.summary.rates.ftpt),
            test_ffpt: part(&r.test, |s| s.summary.rates.ffpt),
            test_ftpf: part(&r.test, |s| s.summary.rates.ftpf),
            test_ffpf: part(&r.test, |s| s.summary.rates.ffpf),
            elapsed_s: r.elapsed_s,
        }
    }
}

/// Appends one row to `metrics.csv`, writing the header when the file is new.
pub fn append_row(path: &Path, row: &MetricsRow) -> Result<(), TrainError> {
    let exists = path.is_file()
        && std::fs::metadata(path)
            .map(|m| m.len() > 0)
            .unwrap_or(false);
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| TrainError::io(path, e))?;
    let mut writer = csv::WriterBuilder::new()
        .has_headers(!exists)
        .from_writer(file);
    writer.serialize(row).map_err(|e| TrainError::io(path, e))?;
    writer.flush().map_err(|e| TrainError::io(path, e))
}

/// Reads every row of a `metrics.csv`.
pub fn read_rows(path: &Path) -> Result<Vec<MetricsRow>, TrainError> {
    let mut reader = csv::Reader::from_path(path).map_err(|e| TrainError::io(path, e))?;
    reader
        .deserialize()
        .collect::<Result<Vec<MetricsRow>, _>>()
        .map_err(|e| TrainError::io(path, e))
}

/// Rewrites `metrics.csv` atomically with only the rows up to `epoch` (used on resume).
pub fn truncate_rows(path: &Path, epoch: usize) -> Result<(), TrainError> {
    if !path.is_file() {
        return Ok(());
    }
    let rows = read_rows(path)?;
    let mut writer = csv::Writer::from_writer(Vec::new());
    for row in rows.iter().filter(|r| r.epoch <= epoch) {
        writer.serialize(row).map_err(|e| TrainError::io(path, e))?;
    }
    let bytes = writer.into_inner().map_err(|e| TrainError::io(path, e))?;
    crate::run_dir::write_atomic(path, &bytes)
}
