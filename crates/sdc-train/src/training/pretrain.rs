//! Networks pretrained inside the run (`train.pretrain`), for the paper's "cheating network"
//! grid (docs/paper-notes.md, Training, 6.2): the focus network trained as a foreground-vs-background classifier
//! of single segments, and the classification network trained on the foreground segment alone.
//! With `train.freeze` this gives every combination of random or pretrained, trained or frozen
//! networks, with no run depending on another.

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Int, Tensor};
use sdc_data::{SdcBatcher, SdcDataset};
use sdc_model::AttentionModel;
use serde::{Deserialize, Serialize};
use tracing::info;

use super::{epoch_order, optimizer};
use crate::config::{Network, TrainConfig};
use crate::error::TrainError;
use crate::objective::cross_entropy;

/// Offsets of the pretraining shuffles from the run's seed, so that they differ from the
/// shuffles of the attention training that follows.
const FOCUS_SHUFFLE: u64 = 0x5eed_f0c5;
const CLASSIFIER_SHUFFLE: u64 = 0x5eed_c1a5;

/// What a pretraining stage reached, over its last epoch (training mode, as it stepped).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PretrainReport {
    /// The network pretrained.
    pub network: Network,
    /// Epochs run.
    pub epochs: usize,
    /// Mean loss of the last epoch.
    pub loss: f64,
    /// Focus: percentage of mosaics whose highest-scoring segment is the foreground.
    /// Classifier: percentage of foreground segments classified correctly.
    pub accuracy: f64,
}

/// Runs the stages of `t.pretrain` on `train` (focus first) and returns the model with the
/// pretrained networks and a report per stage. `device` must be an autodiff device.
pub(super) fn pretrain(
    t: &TrainConfig,
    mut model: AttentionModel,
    train: &SdcDataset,
    device: &Device,
) -> Result<(AttentionModel, Vec<PretrainReport>), TrainError> {
    let mut reports = Vec::new();
    for (network, stage) in t.pretrain.stages() {
        let lr = stage.lr.unwrap_or_else(|| t.optimizer.lr());
        let mut opt = optimizer(&t.optimizer);
        let salt = match network {
            Network::Focus => FOCUS_SHUFFLE,
            Network::Classifier => CLASSIFIER_SHUFFLE,
        };
        let mut last = (0.0, 0.0);
        for epoch in 1..=stage.epochs {
            let order = epoch_order(t.seed ^ salt, epoch, train.len());
            let (mut loss_sum, mut hits, mut batches) = (0.0, 0usize, 0usize);
            for chunk in order.chunks(t.batch_size) {
                let batch = SdcBatcher.batch_indices(train, chunk, device);
                let (loss, correct) = match network {
                    Network::Focus => focus_step(&model, batch.inputs, batch.fg_index),
                    Network::Classifier => {
                        classifier_step(&model, batch.inputs, batch.fg_index, batch.labels)
                    }
                };
                let backend = |e: burn::tensor::TensorReadError| TrainError::Backend {
                    epoch,
                    message: e.to_string(),
                };
                let value: f64 = loss.clone().try_into_scalar::<f64>().map_err(backend)?;
                let correct = correct.try_into_scalar::<i64>().map_err(backend)?.max(0) as usize;
                if !value.is_finite() {
                    return Err(TrainError::Diverged {
                        epoch,
                        reason: format!("the pretraining loss is {value}"),
                    });
                }
                let mut grads = loss.backward();
                match network {
                    Network::Focus => {
                        let g = GradientsParams::from_module(&mut grads, &model.focus);
                        model.focus = opt.step(lr, model.focus, g);
                    }
                    Network::Classifier => {
                        let g = GradientsParams::from_module(&mut grads, &model.classifier);
                        model.classifier = opt.step(lr, model.classifier, g);
                    }
                }
                loss_sum += value;
                hits += correct;
                batches += 1;
            }
            last = (
                loss_sum / batches.max(1) as f64,
                100.0 * hits as f64 / train.len().max(1) as f64,
            );
        }
        let report = PretrainReport {
            network,
            epochs: stage.epochs,
            loss: last.0,
            accuracy: last.1,
        };
        info!(
            network = network.name(),
            epochs = report.epochs,
            loss = report.loss,
            accuracy = report.accuracy,
            "pretrained"
        );
        reports.push(report);
    }
    Ok((model, reports))
}

/// Binary cross-entropy of every segment's score against "is the foreground", as a two-class
/// cross-entropy on logits `(score, 0)` (stable, with the exact gradient `sigmoid(s) - y` even
/// at `s = 0`); and the number of mosaics whose top-scoring segment is the foreground.
fn focus_step(
    model: &AttentionModel,
    inputs: Tensor<3>,
    fg_index: Tensor<1, Int>,
) -> (Tensor<1>, Tensor<1, Int>) {
    let [batch, m, d] = inputs.dims();
    let scores = model.focus.forward(inputs.reshape([batch * m, d]));
    let logits = Tensor::cat(vec![scores.clone(), scores.clone().zeros_like()], 1);
    let is_fg = fg_index.clone().one_hot::<2>(m).reshape([batch * m]);
    // Class 0 is "foreground" (logit = the score), class 1 "background".
    let target = is_fg.neg().add_scalar(1);
    let loss = cross_entropy(logits, target);
    let top = scores
        .detach()
        .reshape([batch, m])
        .argmax(1)
        .reshape([batch]);
    (loss, count_equal(top, fg_index))
}

/// Cross-entropy of the classification network on the foreground segment alone (attention
/// one-hot on `J`); and the number it classifies correctly.
fn classifier_step(
    model: &AttentionModel,
    inputs: Tensor<3>,
    fg_index: Tensor<1, Int>,
    labels: Tensor<1, Int>,
) -> (Tensor<1>, Tensor<1, Int>) {
    let [_, m, _] = inputs.dims();
    // The focus network only supplies features here (at layer k >= 1) and is not trained: run
    // it untracked. Tracked, its scores would be graph nodes that no backward pass consumes,
    // which the autodiff graph keeps alive (memory grew by ~300 MB/s on MNIST mosaics).
    let mut frozen = model.clone();
    frozen.focus = frozen.focus.no_grad();
    let (_, features) = frozen.scores_and_features(inputs);
    let oracle = fg_index.one_hot::<2>(m).float();
    let logits = frozen.averaged_logits(oracle, features);
    let predicted = logits.clone().detach().argmax(1).squeeze_dim::<1>(1);
    let correct = count_equal(predicted, labels.clone());
    (cross_entropy(logits, labels), correct)
}

/// How many entries of `a` and `b` are equal, as a one-element tensor (read with the loss).
fn count_equal(a: Tensor<1, Int>, b: Tensor<1, Int>) -> Tensor<1, Int> {
    a.equal(b).int().sum()
}
