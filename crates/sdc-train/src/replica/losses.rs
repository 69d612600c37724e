//! The soft objective's losses of every replica in one graph, and the evaluation of every
//! replica at once; each replica's numbers are its single run's, bit for bit.

use burn::tensor::{Device, Int, Tensor, activation};
use sdc_data::{SdcBatcher, SdcDataset};
use sdc_interp::FocusCriterion;
use sdc_model::{AttentionMap, ReplicaModel, ReplicaOutput};

use crate::error::TrainError;
use crate::evaluate::{Predictions, SplitMetrics};

/// The soft objective's data loss of every replica, `[R, 1]`: the mean cross-entropy of each
/// replica's logits `[R, batch, classes]` against its labels (`[R * batch]`, replica-major), in
/// one graph for all replicas.
///
/// Each replica's value and gradient are bit for bit those of the single model's
/// `cross_entropy` (`log_softmax(logits).gather(labels).mean().neg()` on `[batch, classes]`):
/// log-softmax and gather are row-wise; the batch mean is `mean_dim` over a contiguous
/// `[R, batch]` array, which sums each replica's `batch` values as one contiguous lane (ndarray's
/// `sum_axis`), the same summation the single model's `mean` runs over its `[batch, 1]` values,
/// then divides by `batch`; and its backward multiplies by `1 / batch` as `mean`'s does.
pub(crate) fn data_losses(logits: Tensor<3>, labels: Tensor<1, Int>) -> Tensor<2> {
    let [r, b, _] = logits.dims();
    activation::log_softmax(logits, 2)
        .gather(2, labels.reshape([r, b, 1]))
        .reshape([r, b])
        .mean_dim(1)
        .neg()
}

/// The soft objective's training loss of every replica, `[R, 1]`: `(1 - k) data + k mean
/// H(alpha)` as `Objective::loss` computes it for one model, the entropy's batch mean taken
/// per replica as in [`data_losses`].
pub(super) fn training_losses(
    out: &ReplicaOutput,
    labels: Tensor<1, Int>,
    map: &AttentionMap,
    entropy_weight: f64,
) -> Tensor<2> {
    let data = data_losses(out.logits.clone(), labels);
    if entropy_weight == 0.0 {
        return data;
    }
    let [r, b, m] = out.alpha.dims();
    let (scores, alpha) = (
        out.scores.clone().reshape([r * b, m]),
        out.alpha.clone().reshape([r * b, m]),
    );
    let log_alpha = map.log_weights(scores, alpha.clone());
    let entropy = (alpha * log_alpha)
        .sum_dim(1)
        .reshape([r, b])
        .mean_dim(1)
        .neg();
    data.mul_scalar(1.0 - entropy_weight) + entropy.mul_scalar(entropy_weight)
}

/// [`crate::evaluate`] for every replica at once: the same batches, the soft objective's loss of
/// every replica in one graph ([`data_losses`]), the same prediction rule.
pub(super) fn evaluate_replicas(
    model: &ReplicaModel,
    dataset: &SdcDataset,
    batch_size: usize,
    criterion: FocusCriterion,
    device: &Device,
) -> Result<Vec<(Predictions, SplitMetrics)>, TrainError> {
    let r = model.replicas();
    let n = dataset.len();
    let m = dataset.n_segments();
    let mut predictions: Vec<Predictions> = (0..r)
        .map(|_| Predictions {
            predictions: Vec::with_capacity(n),
            alpha: Vec::with_capacity(n * m),
            n_segments: m,
            batch_losses: Vec::new(),
            loss: 0.0,
        })
        .collect();
    let mut loss_sums = vec![0.0; r];
    let indices: Vec<usize> = (0..n).collect();
    for chunk in indices.chunks(batch_size.max(1)) {
        let batch = SdcBatcher.batch_indices(dataset, chunk, device);
        let b = chunk.len();
        let inputs = batch.inputs.unsqueeze_dim::<4>(0).repeat_dim(0, r);
        let out = model.forward(inputs);
        let labels: Tensor<1, Int> = batch
            .labels
            .unsqueeze_dim::<2>(0)
            .repeat_dim(0, r)
            .reshape([r * b]);
        let losses: Vec<f64> = read(data_losses(out.logits.clone(), labels), "loss")?;
        let predicted: Vec<i64> = out
            .logits
            .argmax(2)
            .try_into_vec_as::<i64>()
            .map_err(|e| TrainError::Device(format!("reading predictions: {e}")))?;
        let alpha: Vec<f32> = read(out.alpha, "alpha")?;
        for (i, p) in predictions.iter_mut().enumerate() {
            p.batch_losses.push(losses[i]);
            loss_sums[i] += losses[i] * b as f64;
            p.predictions
                .extend(predicted[i * b..(i + 1) * b].iter().map(|&c| c as u32));
            p.alpha
                .extend_from_slice(&alpha[i * b * m..(i + 1) * b * m]);
        }
    }
    predictions
        .into_iter()
        .zip(loss_sums)
        .map(|(mut p, sum)| {
            p.loss = if n == 0 { 0.0 } else { sum / n as f64 };
            let metrics = p.metrics(dataset, criterion)?;
            Ok((p, metrics))
        })
        .collect()
}

pub(super) fn read<const D: usize, E: burn::tensor::Element>(
    tensor: Tensor<D>,
    what: &str,
) -> Result<Vec<E>, TrainError> {
    tensor
        .try_into_vec_as::<E>()
        .map_err(|e| TrainError::Device(format!("reading {what}: {e}")))
}
