//! `sdc score`: the interpretability analysis of any model's attention weights and predictions,
//! written the way `sdc eval` writes a native run's (`predictions.csv`, `summary.json`), plus the
//! histogram of alpha at the true position (`alpha_at_true.json`).
//!
//! The outputs come as files other tools write: `.npz` (arrays by name), `.npy` (one array per
//! file) or `.csv` (columns, e.g. the `predictions.csv` of `sdc eval`). Labels and foreground
//! positions come from a dataset (`.sdc` or `.npz`) or from arrays of their own.

/// Bins of the alpha-at-true histogram, as a native run keeps in its summary.
pub use crate::run::ALPHA_BINS;
use std::path::{Path, PathBuf};

use sdc_data::arrays::{ArrayFile, NamedArray};
use sdc_data::{DataError, SdcDataset};
use sdc_interp::{
    AlphaRows, FocusCriterion, Histogram, InterpSummary, SIMPLEX_TOL, alpha_at_true_histogram,
    check_simplex,
};

use crate::error::TrainError;
use crate::evaluate::Predictions;
use crate::run::write_predictions;
use crate::run_dir::write_atomic;

/// Array names accepted for each input, in order of preference (the first is the `.npz` name,
/// the last the column of `sdc eval`'s `predictions.csv`).
pub const ALPHA_NAMES: [&str; 1] = ["alpha"];
/// Names of the predicted classes.
pub const PREDICTION_NAMES: [&str; 2] = ["predictions", "prediction"];
/// Names of the labels.
pub const LABEL_NAMES: [&str; 2] = ["labels", "label"];
/// Names of the foreground positions J.
pub const FG_INDEX_NAMES: [&str; 1] = ["fg_index"];

/// Where the inputs of a score come from.
#[derive(Clone, Debug, Default)]
pub struct ScoreSources {
    /// Attention weights `[n, m]`: `.npz` array `alpha`, a `.npy` file, or `.csv` columns
    /// `alpha_0 .. alpha_{m-1}`.
    pub alpha: PathBuf,
    /// Predicted classes `[n]`; default: the alpha file.
    pub predictions: Option<PathBuf>,
    /// A dataset (`.sdc` or `.npz`) giving labels and foreground positions.
    pub data: Option<PathBuf>,
    /// Labels `[n]`; default: the dataset, else the alpha file.
    pub labels: Option<PathBuf>,
    /// Foreground positions J `[n]`; default: the dataset, else the labels file, else the
    /// alpha file.
    pub fg_index: Option<PathBuf>,
}

/// Checked inputs of a score: the model's outputs and the ground truth.
#[derive(Clone, Debug)]
pub struct ScoreInputs {
    /// The model's outputs (no loss: a score never sees the model).
    pub predictions: Predictions,
    /// Labels and foreground positions (segments only when read from a dataset file).
    pub truth: SdcDataset,
}

/// What [`score`] wrote and computed.
#[derive(Clone, Debug)]
pub struct ScoreReport {
    /// Accuracy, the four rates and the attention statistics.
    pub summary: InterpSummary,
    /// Histogram of alpha at the true position.
    pub alpha_at_true: Histogram,
    /// Where the per-sample rows were written.
    pub predictions_csv: PathBuf,
    /// Where the summary was written.
    pub summary_json: PathBuf,
}

impl ScoreSources {
    /// Reads and checks every input: alpha `[n, m]` finite rows on the simplex, one prediction,
    /// label and position per row, every position below `m`. Errors name the file and array.
    pub fn read(&self) -> Result<ScoreInputs, TrainError> {
        let alpha_path = &self.alpha;
        let alpha = read(alpha_path, &ALPHA_NAMES, ArrayFile::floats)?;
        let [n, n_segments] = alpha.shape[..] else {
            return Err(bad(
                alpha_path,
                "alpha",
                format!("shape {:?}: expected [n_samples, n_segments]", alpha.shape),
            ));
        };
        let rows = AlphaRows::new(&alpha.values, n_segments)
            .map_err(|e| bad(alpha_path, "alpha", e.to_string()))?;
        check_simplex(rows, SIMPLEX_TOL).map_err(|e| bad(alpha_path, "alpha", e.to_string()))?;

        let predictions_path = self.predictions.as_ref().unwrap_or(alpha_path);
        let predictions = per_sample(predictions_path, &PREDICTION_NAMES, n)?;
        let truth = match &self.data {
            Some(data) if self.labels.is_none() && self.fg_index.is_none() => {
                let (dataset, _meta) = sdc_data::load_any(data)?;
                if dataset.len() != n || dataset.n_segments() != n_segments {
                    return Err(bad(
                        data,
                        "segments",
                        format!(
                            "{} samples of {} segments, but {} holds alpha for {n} samples of {n_segments}",
                            dataset.len(),
                            dataset.n_segments(),
                            alpha_path.display()
                        ),
                    ));
                }
                dataset
            }
            Some(data) => {
                return Err(bad(
                    data,
                    "labels",
                    "give either a dataset or labels and fg_index arrays, not both".into(),
                ));
            }
            None => {
                let labels_path = self.labels.as_ref().unwrap_or(alpha_path);
                let fg_path = self.fg_index.as_ref().unwrap_or(labels_path);
                let labels = per_sample(labels_path, &LABEL_NAMES, n)?;
                let fg_index = per_sample(fg_path, &FG_INDEX_NAMES, n)?;
                if let Some((i, &j)) = fg_index
                    .iter()
                    .enumerate()
                    .find(|&(_, &j)| j as usize >= n_segments)
                {
                    return Err(bad(
                        fg_path,
                        "fg_index",
                        format!(
                            "fg_index[{i}] = {j} is out of range for {n_segments} segments (0..={})",
                            n_segments - 1
                        ),
                    ));
                }
                truth_only(labels, fg_index, n_segments)?
            }
        };
        Ok(ScoreInputs {
            predictions: Predictions {
                predictions,
                alpha: alpha.values,
                n_segments,
                batch_losses: Vec::new(),
                loss: 0.0,
            },
            truth,
        })
    }
}

/// Scores checked inputs under `criterion` with an `n_bins` alpha-at-true histogram and
/// writes `predictions.csv`, `summary.json` and `alpha_at_true.json` under `out`.
pub fn score(
    inputs: &ScoreInputs,
    criterion: FocusCriterion,
    n_bins: usize,
    out: &Path,
) -> Result<ScoreReport, TrainError> {
    let p = &inputs.predictions;
    let rows = AlphaRows::new(&p.alpha, p.n_segments)?;
    let truth = &inputs.truth;
    let summary = sdc_interp::summarize(
        rows,
        truth.fg_index(),
        truth.labels(),
        &p.predictions,
        criterion,
    )?;
    let alpha_at_true = alpha_at_true_histogram(rows, truth.fg_index(), n_bins)?;
    let predictions_csv = out.join("predictions.csv");
    write_predictions(&predictions_csv, truth, p)?;
    let summary_json = out.join("summary.json");
    let text = serde_json::to_string_pretty(&summary).expect("a summary serialises");
    write_atomic(&summary_json, text.as_bytes())?;
    let text = serde_json::to_string_pretty(&alpha_at_true).expect("a histogram serialises");
    write_atomic(&out.join("alpha_at_true.json"), text.as_bytes())?;
    Ok(ScoreReport {
        summary,
        alpha_at_true,
        predictions_csv,
        summary_json,
    })
}

/// Labels and positions without segments: a dataset of one zero coordinate per segment, so
/// that the same `predictions.csv` writer serves both kinds of ground truth.
fn truth_only(
    labels: Vec<u32>,
    fg_index: Vec<u32>,
    n_segments: usize,
) -> Result<SdcDataset, DataError> {
    let n_classes = labels.iter().max().map_or(1, |&l| l as usize + 1);
    let segments = vec![0.0; labels.len() * n_segments];
    SdcDataset::new(n_segments, 1, n_classes, segments, labels, fg_index)
}

fn bad(path: &Path, field: &str, message: String) -> TrainError {
    TrainError::Data(DataError::Array {
        path: path.to_path_buf(),
        field: field.into(),
        message,
    })
}

/// Reads the first of `names` in `path` with `get`; an error lists what the file has.
fn read<T>(
    path: &Path,
    names: &[&str],
    get: impl Fn(&mut ArrayFile, &str) -> Result<NamedArray<T>, DataError>,
) -> Result<NamedArray<T>, TrainError> {
    let mut file = ArrayFile::open(path)?;
    match file.first_of(names)? {
        Some(name) => Ok(get(&mut file, name)?),
        None => {
            let has = file.names()?.join(", ");
            Err(bad(
                path,
                names[0],
                format!(
                    "missing (accepted names: {}); the file has: {has}",
                    names.join(", ")
                ),
            ))
        }
    }
}

/// One index per sample, `[n]` (or `[n, 1]`, a column vector).
fn per_sample(path: &Path, names: &[&str], n: usize) -> Result<Vec<u32>, TrainError> {
    let array = read(path, names, ArrayFile::indices)?;
    match array.shape[..] {
        [len] | [len, 1] if len == n => Ok(array.values),
        _ => Err(bad(
            path,
            names[0],
            format!(
                "shape {:?}: expected one value per sample, [{n}] (alpha has {n} rows)",
                array.shape
            ),
        )),
    }
}

#[cfg(test)]
// Tests may unwrap: a panic there is the failure report we want.
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn csv(dir: &Path, text: &str) -> PathBuf {
        let path = dir.join("outputs.csv");
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn scores_a_csv_by_hand() {
        let dir = tempfile::tempdir().unwrap();
        let path = csv(
            dir.path(),
            "label,fg_index,prediction,alpha_0,alpha_1\n1,0,1,0.9,0.1\n0,1,0,0.8,0.2\n0,1,1,0.3,0.7\n",
        );
        let sources = ScoreSources {
            alpha: path,
            ..Default::default()
        };
        let inputs = sources.read().unwrap();
        let report = score(&inputs, FocusCriterion::Argmax, 4, &dir.path().join("out")).unwrap();
        let c = report.summary.counts;
        assert_eq!((c.ftpt, c.ffpt, c.ftpf, c.ffpf), (1, 1, 1, 0));
        // alpha at J: 0.9, 0.2, 0.7 in bins of width 0.25.
        assert_eq!(report.alpha_at_true.counts, vec![1, 0, 1, 1]);
        let written = std::fs::read_to_string(&report.predictions_csv).unwrap();
        assert!(written.starts_with("index,label,fg_index,prediction,focus,alpha_0,alpha_1\n"));
        assert!(written.contains("\n2,0,1,1,1,0.3,0.7\n"), "{written}");
    }

    #[test]
    fn bad_inputs_name_file_field_and_value() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            (
                "label,fg_index,prediction,alpha_0,alpha_1\n1,2,1,0.9,0.1\n",
                "fg_index[0] = 2 is out of range for 2 segments",
            ),
            (
                "label,fg_index,prediction,alpha_0,alpha_1\n1,0,1,0.9,0.3\n",
                "alpha: alpha row 0 sums to 1.19",
            ),
            (
                "label,fg_index,prediction,alpha_0,alpha_1\n1,0,1,NaN,0.3\n",
                "alpha: alpha[0, 0] is NaN",
            ),
            (
                "label,fg_index,alpha_0,alpha_1\n1,0,0.5,0.5\n",
                "predictions: missing (accepted names: predictions, prediction)",
            ),
        ];
        for (text, needle) in cases {
            let sources = ScoreSources {
                alpha: csv(dir.path(), text),
                ..Default::default()
            };
            let err = sources.read().unwrap_err().to_string();
            assert!(err.contains("outputs.csv") && err.contains(needle), "{err}");
        }
    }
}
