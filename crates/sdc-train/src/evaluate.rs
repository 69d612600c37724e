//! Evaluation: predictions and attention weights over a whole dataset, and their metrics.

use burn::tensor::Device;
use sdc_data::{SdcBatcher, SdcDataset};
use sdc_interp::{AlphaRows, FocusCriterion, InterpSummary};
use sdc_model::AttentionModel;
use serde::{Deserialize, Serialize};

use crate::error::TrainError;
use crate::objective::Objective;

/// Per-sample outputs of a model on a dataset, in dataset order.
#[derive(Clone, Debug)]
pub struct Predictions {
    /// Predicted class per sample, by the objective's prediction rule.
    pub predictions: Vec<u32>,
    /// Attention weights, row-major `[n, m]`.
    pub alpha: Vec<f32>,
    /// Number of segments `m`.
    pub n_segments: usize,
    /// Data loss of each evaluation batch (the paper's stop rule averages these): the
    /// objective's loss without the regulariser, cross-entropy for the soft objective.
    pub batch_losses: Vec<f64>,
    /// Mean data loss per sample.
    pub loss: f64,
}

/// Loss and interpretability metrics of one evaluated split.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SplitMetrics {
    /// Mean data loss per sample (cross-entropy for the soft objective).
    pub loss: f64,
    /// Accuracy, the four rates and the attention statistics.
    #[serde(flatten)]
    pub summary: InterpSummary,
}

/// Runs `model` (in evaluation mode, no autodiff) over `dataset` in batches, predicting and
/// scoring by `objective`'s rule (a hard-attention model is judged on the segment it picks).
pub fn predict(
    model: &AttentionModel,
    objective: &Objective,
    dataset: &SdcDataset,
    batch_size: usize,
    device: &Device,
) -> Result<Predictions, TrainError> {
    let n = dataset.len();
    let m = dataset.n_segments();
    let mut predictions = Vec::with_capacity(n);
    let mut alpha = Vec::with_capacity(n * m);
    let mut batch_losses = Vec::new();
    let mut loss_sum = 0.0;
    let indices: Vec<usize> = (0..n).collect();
    for chunk in indices.chunks(batch_size.max(1)) {
        let batch = SdcBatcher.batch_indices(dataset, chunk, device);
        let pass = objective.forward(model, batch.inputs);
        let loss: f64 = read(objective.data_loss(&pass, batch.labels), "loss")?[0];
        batch_losses.push(loss);
        loss_sum += loss * chunk.len() as f64;
        let predicted: Vec<i64> = objective
            .class_scores(&pass)
            .argmax(1)
            .try_into_vec_as::<i64>()
            .map_err(|e| TrainError::Device(format!("reading predictions: {e}")))?;
        predictions.extend(predicted.into_iter().map(|p| p as u32));
        alpha.extend(read::<2, f32>(pass.alpha, "alpha")?);
    }
    let loss = if n == 0 { 0.0 } else { loss_sum / n as f64 };
    Ok(Predictions {
        predictions,
        alpha,
        n_segments: m,
        batch_losses,
        loss,
    })
}

fn read<const D: usize, E: burn::tensor::Element>(
    tensor: burn::tensor::Tensor<D>,
    what: &str,
) -> Result<Vec<E>, TrainError> {
    tensor
        .try_into_vec_as::<E>()
        .map_err(|e| TrainError::Device(format!("reading {what}: {e}")))
}

impl Predictions {
    /// The metrics of these predictions against the dataset's labels and foreground indices.
    pub fn metrics(
        &self,
        dataset: &SdcDataset,
        criterion: FocusCriterion,
    ) -> Result<SplitMetrics, TrainError> {
        let rows = AlphaRows::new(&self.alpha, self.n_segments)?;
        let summary = sdc_interp::summarize(
            rows,
            dataset.fg_index(),
            dataset.labels(),
            &self.predictions,
            criterion,
        )?;
        Ok(SplitMetrics {
            loss: self.loss,
            summary,
        })
    }

    /// The training loss as the stop rule sees it: the mean of the batch losses, or with the
    /// paper's quirk their sum divided by `n_batches - 1` (docs/paper-notes.md, Training).
    pub fn stop_rule_loss(&self, paper_quirk: bool) -> f64 {
        let sum: f64 = self.batch_losses.iter().sum();
        let n = self.batch_losses.len();
        match (paper_quirk, n) {
            (_, 0) => 0.0,
            (true, n) if n > 1 => sum / (n - 1) as f64,
            (_, n) => sum / n as f64,
        }
    }
}

/// Predicts and scores in one go.
pub fn evaluate(
    model: &AttentionModel,
    objective: &Objective,
    dataset: &SdcDataset,
    batch_size: usize,
    criterion: FocusCriterion,
    device: &Device,
) -> Result<(Predictions, SplitMetrics), TrainError> {
    let predictions = predict(model, objective, dataset, batch_size, device)?;
    let metrics = predictions.metrics(dataset, criterion)?;
    Ok((predictions, metrics))
}
