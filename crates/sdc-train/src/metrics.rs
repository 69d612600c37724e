//! Per-epoch records and the files they are written to: `metrics.csv` (deterministic columns,
//! so two runs of one config compare byte for byte), `metrics.jsonl` (the same epochs with every
//! metric of both splits, one JSON object per line, also deterministic) and `timing.csv`
//! (wall-clock seconds).

use std::fs::OpenOptions;
use std::io::Write as _;
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
}

/// One row of `timing.csv`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimingRow {
    /// Epoch, 1-based.
    pub epoch: usize,
    /// Wall-clock seconds of training since the run started.
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
        }
    }
}

/// Appends one row to a CSV file (`metrics.csv`, `timing.csv`), writing the header when the
/// file is new. A crash mid-row leaves a torn last line, which [`truncate_rows`] drops.
pub fn append_row<T: Serialize>(path: &Path, row: &T) -> Result<(), TrainError> {
    let exists = std::fs::metadata(path)
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

/// One line of `metrics.jsonl`: an evaluated epoch with every metric of each split (loss,
/// accuracy, the four cells' counts and rates, the attention statistics), for tools that read
/// JSON lines (pandas `read_json(lines=True)`, `jq`). Deterministic like `metrics.csv`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricsLine {
    /// Epoch, 1-based.
    pub epoch: usize,
    /// Mean mini-batch loss while training.
    pub running_loss: f64,
    /// The training set in evaluation mode.
    pub train: Option<SplitMetrics>,
    /// The test set.
    pub test: Option<SplitMetrics>,
}

impl From<&EpochRecord> for MetricsLine {
    fn from(r: &EpochRecord) -> Self {
        Self {
            epoch: r.epoch,
            running_loss: r.running_loss,
            train: r.train.clone(),
            test: r.test.clone(),
        }
    }
}

/// Appends one JSON line to a JSON-lines file (`metrics.jsonl`). A crash mid-line leaves a torn
/// last line, which [`truncate_lines`] drops.
pub fn append_line<T: Serialize>(path: &Path, row: &T) -> Result<(), TrainError> {
    let mut line = serde_json::to_vec(row).map_err(|e| TrainError::io(path, e))?;
    line.push(b'\n');
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| TrainError::io(path, e))?;
    file.write_all(&line).map_err(|e| TrainError::io(path, e))
}

/// Keeps the complete lines up to `epoch` of a JSON-lines file whose objects have an `epoch`
/// field (the JSON-lines twin of [`truncate_rows`]). With `epoch = 0` the file is removed.
pub fn truncate_lines(path: &Path, epoch: usize) -> Result<(), TrainError> {
    #[derive(Deserialize)]
    struct Epoch {
        epoch: usize,
    }
    if !path.is_file() {
        return Ok(());
    }
    if epoch == 0 {
        return std::fs::remove_file(path).map_err(|e| TrainError::io(path, e));
    }
    let bytes = std::fs::read(path).map_err(|e| TrainError::io(path, e))?;
    let mut kept = Vec::new();
    for (i, line) in bytes.split_inclusive(|&b| b == b'\n').enumerate() {
        if !line.ends_with(b"\n") {
            break; // torn by a crash mid-write: always the last line
        }
        let row: Epoch = serde_json::from_slice(line).map_err(|e| TrainError::Damaged {
            path: path.to_path_buf(),
            message: format!("line {}: not a metrics line: {e}", i + 1),
        })?;
        if row.epoch <= epoch {
            kept.extend_from_slice(line);
        }
    }
    crate::run_dir::write_atomic(path, &kept)
}

/// Reads every row of a `metrics.csv`.
pub fn read_rows(path: &Path) -> Result<Vec<MetricsRow>, TrainError> {
    let bytes = std::fs::read(path).map_err(|e| TrainError::io(path, e))?;
    csv::Reader::from_reader(bytes.as_slice())
        .deserialize()
        .collect::<Result<Vec<MetricsRow>, _>>()
        .map_err(|e| TrainError::Damaged {
            path: path.to_path_buf(),
            message: format!("not the metrics sdc wrote: {e}"),
        })
}

/// Keeps the header and the complete rows up to `epoch` of a CSV file whose first column is the
/// epoch (used on resume: rows after the checkpoint, and a row torn by a crash, go). Rewritten
/// atomically; with `epoch = 0` the file is removed.
pub fn truncate_rows(path: &Path, epoch: usize) -> Result<(), TrainError> {
    if !path.is_file() {
        return Ok(());
    }
    if epoch == 0 {
        return std::fs::remove_file(path).map_err(|e| TrainError::io(path, e));
    }
    let bytes = std::fs::read(path).map_err(|e| TrainError::io(path, e))?;
    let text = String::from_utf8_lossy(&bytes);
    let mut kept = String::new();
    for (i, line) in text.split_inclusive('\n').enumerate() {
        if i == 0 {
            kept.push_str(line);
            continue;
        }
        if !line.ends_with('\n') {
            break; // torn by a crash mid-write: always the last line
        }
        let first = line.split(',').next().unwrap_or_default();
        let row_epoch: usize = first.trim().parse().map_err(|_| TrainError::Damaged {
            path: path.to_path_buf(),
            message: format!("line {}: {first:?} is not an epoch number", i + 1),
        })?;
        if row_epoch <= epoch {
            kept.push_str(line);
        }
    }
    crate::run_dir::write_atomic(path, kept.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_drops_later_rows_and_a_torn_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("timing.csv");
        for epoch in 1..=3 {
            append_row(
                &path,
                &TimingRow {
                    epoch,
                    elapsed_s: 0.5,
                },
            )
            .expect("append");
        }
        let mut bytes = std::fs::read(&path).expect("read");
        bytes.extend_from_slice(b"4,0.");
        std::fs::write(&path, &bytes).expect("tear");
        truncate_rows(&path, 2).expect("truncate");
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            "epoch,elapsed_s\n1,0.5\n2,0.5\n"
        );
        truncate_rows(&path, 0).expect("remove");
        assert!(!path.exists());
    }

    #[test]
    fn json_lines_truncate_like_csv_rows() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("metrics.jsonl");
        for epoch in 1..=3 {
            let line = MetricsLine {
                epoch,
                running_loss: 0.25,
                train: None,
                test: None,
            };
            append_line(&path, &line).expect("append");
        }
        let mut bytes = std::fs::read(&path).expect("read");
        bytes.extend_from_slice(b"{\"epoch\":4,\"runn");
        std::fs::write(&path, &bytes).expect("tear");
        truncate_lines(&path, 2).expect("truncate");
        let text = std::fs::read_to_string(&path).expect("read");
        let epochs: Vec<usize> = text
            .lines()
            .map(|l| {
                serde_json::from_str::<MetricsLine>(l)
                    .expect("a line")
                    .epoch
            })
            .collect();
        assert_eq!(epochs, [1, 2]);
        std::fs::write(&path, b"{\"epoch\":1}\nnot json\n").expect("damage");
        let err = truncate_lines(&path, 1).expect_err("damaged").to_string();
        assert!(err.contains("line 2"), "{err}");
        truncate_lines(&path, 0).expect("remove");
        assert!(!path.exists());
    }
}
