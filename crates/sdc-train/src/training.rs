//! The training loop: joint or alternating updates of the focus and classification networks,
//! optionally frozen or started from finished runs (docs/paper-notes.md, Training).

mod adam;
mod checkpoint;
mod init_from;
mod pretrain;

use std::time::Instant;

use burn::module::Module;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsParams, ModuleOptimizer, SgdConfig};
use burn::tensor::Device;
use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use rand::seq::SliceRandom;
use sdc_data::{SdcBatcher, SdcDataset};
use sdc_model::AttentionModel;
use serde::{Deserialize, Serialize};
use tracing::{debug, info, info_span};

use crate::config::{ExperimentConfig, Network, OptimizerConfig, TrainConfig};
use crate::cores::{self, alongside, look_ahead};
use crate::error::TrainError;
use crate::evaluate::{SplitMetrics, evaluate};
use crate::metrics::{
    EpochRecord, MetricsLine, MetricsRow, TimingRow, append_line, append_row, truncate_lines,
    truncate_rows,
};
use crate::run_dir::{
    CheckpointState, METRICS_FILE, METRICS_JSONL_FILE, PRETRAIN_FILE, RunDir, TIMING_FILE,
};

pub use pretrain::PretrainReport;

/// Whether `network` steps in `epoch`: not frozen, and its turn in the schedule.
fn updates(t: &TrainConfig, network: Network, epoch: usize) -> bool {
    !t.freeze.contains(&network) && t.schedule.updates(network, epoch)
}

/// Receives progress from the training loop; the caller decides where it goes.
pub trait TrainObserver {
    /// Training starts (or resumes) at `first_epoch` of `max_epochs`.
    fn on_start(&mut self, _first_epoch: usize, _max_epochs: usize) {}
    /// `done` of the `total` mini-batches of `epoch` have stepped (called after each one, so
    /// a long epoch shows progress).
    fn on_batch(&mut self, _epoch: usize, _done: usize, _total: usize) {}
    /// An epoch finished.
    fn on_epoch(&mut self, _record: &EpochRecord) {}
    /// Asked after every epoch: `true` saves a checkpoint and ends the run with
    /// [`TrainError::Interrupted`] (e.g. on Ctrl-C); running it again resumes.
    fn should_stop(&mut self) -> bool {
        false
    }
}

/// An observer that ignores everything.
#[derive(Clone, Copy, Debug, Default)]
pub struct Silent;
impl TrainObserver for Silent {}

/// An observer that stops the run (with a checkpoint, as Ctrl-C does) once an epoch at or
/// after `epoch` has ended: a run split in two sessions, which the next call resumes.
#[derive(Clone, Copy, Debug, Default)]
pub struct InterruptAfter {
    /// The epoch after which to stop.
    pub epoch: usize,
    last: usize,
}

impl InterruptAfter {
    /// Stops once epoch `epoch` has ended.
    pub fn new(epoch: usize) -> Self {
        Self { epoch, last: 0 }
    }
}

impl TrainObserver for InterruptAfter {
    fn on_epoch(&mut self, record: &EpochRecord) {
        self.last = record.epoch;
    }
    fn should_stop(&mut self) -> bool {
        self.last >= self.epoch
    }
}

/// Why training ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StopReason {
    /// The stop rule's loss threshold was reached.
    LossThreshold,
    /// `max_epochs` ran out.
    MaxEpochs,
}

/// The end state of a training run.
#[derive(Debug)]
pub struct TrainOutcome {
    /// The trained model (autodiff device).
    pub model: AttentionModel,
    /// Epochs run in total (including those before a resume).
    pub epochs: usize,
    /// Why training stopped.
    pub stop_reason: StopReason,
    /// The last evaluated epoch.
    pub last: EpochRecord,
    /// Wall-clock seconds spent training (including those before a resume).
    pub train_seconds: f64,
    /// Optimiser steps taken in this process (for throughput).
    pub steps_here: usize,
    /// Samples processed by optimiser steps in this process.
    pub samples_here: usize,
}

fn optimizer(config: &OptimizerConfig) -> ModuleOptimizer {
    match config {
        // PyTorch's Adam: betas (0.9, 0.999); epsilon as configured (1e-8 by default).
        // burn-optim's `Adam`, run as one kernel per parameter on the CPU backends (same bits).
        OptimizerConfig::Adam { eps, .. } => ModuleOptimizer::from(FusedAdam::new(*eps as f32)),
        OptimizerConfig::Sgd { momentum, .. } => {
            let momentum = (*momentum > 0.0).then(|| {
                // PyTorch's SGD momentum has no dampening.
                MomentumConfig::new()
                    .with_momentum(*momentum)
                    .with_dampening(0.0)
            });
            SgdConfig::new().with_momentum(momentum).init()
        }
    }
}

/// The shuffle of epoch `epoch`: a function of (seed, epoch) only, so a resumed run sees the
/// same order as an uninterrupted one.
pub(crate) fn epoch_order(seed: u64, epoch: usize, n: usize) -> Vec<usize> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(epoch as u64);
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut rng);
    order
}

pub(crate) use adam::{FusedAdam, adam_composed};
use checkpoint::Optimizers;

/// Where training starts: fresh (after `init_from` and pretraining) or from a checkpoint.
struct Start {
    model: AttentionModel,
    optimizers: Optimizers,
    first_epoch: usize,
    seconds_before: f64,
    /// The first mini-batch loss of the run, once known.
    start_loss: Option<f64>,
}

/// A run's start: the latest valid checkpoint of `run` when there is one (the model, both
/// optimisers and the rows logged up to it), else `model` after `init_from` and pretraining.
fn resume_or_init(
    config: &ExperimentConfig,
    model: AttentionModel,
    train: &SdcDataset,
    device: &Device,
    run: Option<&RunDir>,
) -> Result<Start, TrainError> {
    let t = &config.train;
    let optimizers = Optimizers {
        focus: optimizer(&t.optimizer),
        classifier: optimizer(&t.optimizer),
    };
    let checkpoint = match run {
        Some(run) => run.latest_checkpoint(config)?,
        None => None,
    };
    if let (Some(run), Some(checkpoint)) = (run, checkpoint) {
        // The checkpoint holds the networks as trained so far, init_from included.
        let (model, optimizers) = checkpoint::load(&checkpoint, model, optimizers)?;
        let state = &checkpoint.state;
        for file in [METRICS_FILE, TIMING_FILE] {
            truncate_rows(&run.file(file), state.epoch)?;
        }
        truncate_lines(&run.file(METRICS_JSONL_FILE), state.epoch)?;
        info!(epoch = state.epoch, "resuming from checkpoint");
        return Ok(Start {
            model,
            optimizers,
            first_epoch: state.epoch + 1,
            seconds_before: state.train_seconds,
            start_loss: Some(state.start_loss),
        });
    }
    // A run killed before its first checkpoint starts over: drop the rows it logged.
    if let Some(run) = run {
        for file in [METRICS_FILE, TIMING_FILE] {
            truncate_rows(&run.file(file), 0)?;
        }
        truncate_lines(&run.file(METRICS_JSONL_FILE), 0)?;
    }
    let model = init_from::init_from_runs(&t.init_from, model, train, device)?;
    let (model, reports) = pretrain::pretrain(t, model, train, device)?;
    if let Some(run) = run
        && !reports.is_empty()
    {
        run.write_json(PRETRAIN_FILE, &reports)?;
    }
    Ok(Start {
        model,
        optimizers,
        first_epoch: 1,
        seconds_before: 0.0,
        start_loss: None,
    })
}

/// What one epoch of optimiser steps produced.
struct EpochSteps {
    model: AttentionModel,
    running_loss: f64,
    first_loss: f64,
    steps: usize,
    samples: usize,
}

/// One epoch of mini-batch steps over `train` in the epoch's shuffled order. A non-finite
/// mini-batch loss ends it with [`TrainError::Diverged`].
fn train_epoch(
    t: &TrainConfig,
    mut model: AttentionModel,
    optimizers: &mut Optimizers,
    train: &SdcDataset,
    epoch: usize,
    device: &Device,
    observer: &mut dyn TrainObserver,
) -> Result<EpochSteps, TrainError> {
    let lr = t.optimizer.lr();
    let order = epoch_order(t.seed, epoch, train.len());
    let step_focus = updates(t, Network::Focus, epoch);
    let step_classifier = updates(t, Network::Classifier, epoch);
    debug!(step_focus, step_classifier, "networks updated this epoch");
    let (mut loss_sum, mut first_loss) = (0.0, f64::NAN);
    let (mut n_batches, mut steps, mut samples) = (0usize, 0usize, 0usize);
    let total = order.len().div_ceil(t.batch_size.max(1));
    for chunk in order.chunks(t.batch_size) {
        let batch = SdcBatcher.batch_indices(train, chunk, device);
        let tracked = tracked_for_step(&model, step_focus, step_classifier);
        let pass = t.objective.forward(&tracked, batch.inputs);
        let loss = t
            .objective
            .loss(&tracked.attention, t.entropy, &pass, batch.labels);
        let value: f64 =
            loss.clone()
                .try_into_scalar::<f64>()
                .map_err(|e| TrainError::Backend {
                    epoch,
                    message: e.to_string(),
                })?;
        if !value.is_finite() {
            return Err(TrainError::Diverged {
                epoch,
                reason: format!("the mini-batch loss is {value}"),
            });
        }
        if n_batches == 0 {
            first_loss = value;
        }
        loss_sum += value;
        n_batches += 1;
        if step_focus || step_classifier {
            // One backward pass reaches both networks; only the scheduled ones step.
            let mut grads = loss.backward();
            if step_focus {
                let g_focus = GradientsParams::from_module(&mut grads, &model.focus);
                model.focus = optimizers.focus.step(lr, model.focus, g_focus);
            }
            if step_classifier {
                let g_classifier = GradientsParams::from_module(&mut grads, &model.classifier);
                model.classifier = optimizers
                    .classifier
                    .step(lr, model.classifier, g_classifier);
            }
            steps += 1;
            samples += chunk.len();
        }
        observer.on_batch(epoch, n_batches, total);
    }
    Ok(EpochSteps {
        model,
        running_loss: loss_sum / n_batches.max(1) as f64,
        first_loss,
        steps,
        samples,
    })
}

/// The model as one mini-batch's forward pass sees it: a network that does not step this epoch
/// (frozen, or not its turn in the schedule) runs untracked, so no gradient is computed for it,
/// and with neither stepping no autodiff graph is built at all. The parameters keep their ids,
/// so the gradients of the tracked network still step `model`'s. Besides the wasted backward,
/// a graph that no backward pass consumes is never freed: the frozen cheating-grid runs grew by
/// ~300 MB/s until the kernel killed them.
fn tracked_for_step(model: &AttentionModel, focus: bool, classifier: bool) -> AttentionModel {
    let mut tracked = model.clone();
    if !focus {
        tracked.focus = tracked.focus.no_grad();
    }
    if !classifier {
        tracked.classifier = tracked.classifier.no_grad();
    }
    tracked
}

/// Wall-clock seconds after which an epoch's end is checkpointed even when
/// `train.checkpoint_every` does not ask for it.
pub const CHECKPOINT_SECONDS: f64 = 60.0;

/// A training loss this many times its start, at chance accuracy, counts as divergence.
pub const DIVERGED_LOSS_RATIO: f64 = 10.0;
/// "At chance": training accuracy at most this many points above `100 / n_classes`.
pub const DIVERGED_ACCURACY_MARGIN: f64 = 10.0;

/// A non-finite evaluation, or a loss far above `start_loss` at chance accuracy, as the
/// reason training diverged.
pub(crate) fn divergence(
    metrics: &SplitMetrics,
    start_loss: f64,
    n_classes: usize,
) -> Option<String> {
    let summary = &metrics.summary;
    if !metrics.loss.is_finite() || !summary.accuracy.is_finite() {
        return Some(format!("the training-set loss is {}", metrics.loss));
    }
    let chance = 100.0 / n_classes.max(1) as f64;
    (metrics.loss > DIVERGED_LOSS_RATIO * start_loss
        && summary.accuracy <= chance + DIVERGED_ACCURACY_MARGIN)
        .then(|| {
            format!(
                "the training loss grew from {start_loss:.4} to {:.4} and accuracy is {:.1}% (chance {chance:.1}%)",
                metrics.loss, summary.accuracy
            )
        })
}

/// Trains `model` on `train` (evaluating on `test` too), with checkpoints and metrics in
/// `run` when given. `device` must be an autodiff device.
///
/// A non-finite loss, or a training loss far above its start at chance accuracy, ends training
/// with [`TrainError::Diverged`].
///
/// On the CPU backends, an epoch that is evaluated (for its metrics or the stop rule) is
/// evaluated on an idle core, when there is one, while this thread trains the next epoch
/// ([`cores::look_ahead`]); that epoch is kept only if the evaluation lets the run go on, and a
/// checkpoint of the evaluated epoch saves the optimisers as that epoch left them. Results,
/// metrics and checkpoints are the same either way.
pub fn fit(
    config: &ExperimentConfig,
    model: AttentionModel,
    train: &SdcDataset,
    test: Option<&SdcDataset>,
    device: &Device,
    run: Option<&RunDir>,
    observer: &mut dyn TrainObserver,
) -> Result<TrainOutcome, TrainError> {
    let _core = cores::hold();
    let t = &config.train;
    let eval_device = device.clone().without_autodiff();
    let eval_batch = config.eval_batch_size();
    let criterion = config.eval.focus;
    let objective = &t.objective;
    // Evaluation mode, no autodiff: predictions and metrics of one split.
    let eval_on = |model: &AttentionModel, split: &SdcDataset| {
        evaluate(model, objective, split, eval_batch, criterion, &eval_device)
    };
    // Metrics on the test set, when there is a non-empty one.
    let eval_test = |model: &AttentionModel| -> Result<Option<SplitMetrics>, TrainError> {
        test.filter(|t| !t.is_empty())
            .map(|t| eval_on(model, t).map(|(_, m)| m))
            .transpose()
    };

    let Start {
        mut model,
        mut optimizers,
        first_epoch,
        seconds_before,
        mut start_loss,
    } = resume_or_init(config, model, train, device, run)?;
    // With both networks frozen every epoch is the same evaluation: run one.
    let max_epochs = if t.trains_nothing() {
        t.max_epochs.min(1)
    } else {
        t.max_epochs
    };

    observer.on_start(first_epoch, max_epochs);
    let started = Instant::now();
    let mut last_checkpoint = started;
    let (mut steps, mut samples) = (0usize, 0usize);
    let mut last: Option<EpochRecord> = None;
    let mut stop_reason = StopReason::MaxEpochs;
    let mut epoch = first_epoch.saturating_sub(1);
    // The next epoch, trained while this one was evaluated on an idle core (`look_ahead`).
    let mut ahead: Option<Result<EpochSteps, TrainError>> = None;

    while epoch < max_epochs {
        epoch += 1;
        let _span = info_span!("epoch", epoch).entered();
        let done = match ahead.take() {
            Some(done) => done?,
            None => train_epoch(t, model, &mut optimizers, train, epoch, device, observer)?,
        };
        model = done.model;
        steps += done.steps;
        samples += done.samples;
        let start = *start_loss.get_or_insert(done.first_loss);

        // The stop rule needs the training loss every epoch; the rest is logged on schedule.
        let scheduled = epoch % t.eval_every == 0 || epoch == max_epochs;
        // When this epoch's work (its training, then any evaluation) ended: the clock its
        // records and checkpoint keep, whatever ran ahead meanwhile.
        let mut ended = Instant::now();
        let mut record = EpochRecord {
            epoch,
            running_loss: done.running_loss,
            train: None,
            test: None,
            elapsed_s: seconds_before + ended.duration_since(started).as_secs_f64(),
        };
        // The optimisers as this epoch left them, kept for a checkpoint of this epoch when the
        // next one trains ahead.
        let mut optimizers_here: Option<Optimizers> = None;
        let mut stop_now = false;
        if scheduled || t.stop.is_some() {
            let valid = model.valid();
            // On the CPU backends with an idle core, this epoch is evaluated there while this
            // thread trains the next one, kept only if this epoch does not end the run; else a
            // scheduled epoch evaluates the test set on an idle core, if there is one, while
            // this thread evaluates the training set. The same values either way.
            let evaluate_here = |parallel: bool| {
                let (train_eval, test_eval) = if !scheduled {
                    (eval_on(&valid, train), None)
                } else if parallel {
                    let (train_eval, test_eval) =
                        alongside(|| eval_on(&valid, train), || eval_test(&valid));
                    (train_eval, Some(test_eval))
                } else {
                    (eval_on(&valid, train), Some(eval_test(&valid)))
                };
                (train_eval, test_eval, Instant::now())
            };
            let looks_ahead = t.backend.on_cpu() && epoch < max_epochs;
            let (evaluated, next) = if looks_ahead {
                look_ahead(
                    || evaluate_here(false),
                    || {
                        optimizers_here = run.is_some().then(|| optimizers.clone());
                        let next = model.clone();
                        train_epoch(t, next, &mut optimizers, train, epoch + 1, device, observer)
                    },
                )
            } else {
                // Beside the training set only when there is a test set to evaluate.
                let has_test = test.is_some_and(|t| !t.is_empty());
                (evaluate_here(t.backend.on_cpu() && has_test), None)
            };
            ahead = next;
            let (train_eval, scheduled_test, evaluated_at) = evaluated;
            ended = evaluated_at;
            let (train_pred, train_metrics) = train_eval?;
            if let Some(reason) = divergence(&train_metrics, start, train.n_classes())
                && (!train_metrics.loss.is_finite() || epoch == max_epochs)
            {
                return Err(TrainError::Diverged { epoch, reason });
            }
            if let Some(stop) = &t.stop {
                stop_now = train_pred.stop_rule_loss(stop.paper_quirk) <= stop.loss;
            }
            if scheduled || stop_now {
                record.train = Some(train_metrics);
                // The clock when this epoch's evaluation ended (not the next epoch's training).
                let (test_metrics, evaluated_at) = match scheduled_test {
                    Some(test_eval) => (test_eval?, evaluated_at),
                    None => (eval_test(&valid)?, Instant::now()),
                };
                record.test = test_metrics;
                ended = evaluated_at;
                record.elapsed_s = seconds_before + ended.duration_since(started).as_secs_f64();
                log_epoch(&record);
                if let Some(run) = run {
                    append_row(&run.file(METRICS_FILE), &MetricsRow::from(&record))?;
                    append_line(&run.file(METRICS_JSONL_FILE), &MetricsLine::from(&record))?;
                    let timing = TimingRow {
                        epoch,
                        elapsed_s: record.elapsed_s,
                    };
                    append_row(&run.file(TIMING_FILE), &timing)?;
                }
            }
        }
        observer.on_epoch(&record);
        if record.train.is_some() {
            last = Some(record);
        }
        if stop_now {
            stop_reason = StopReason::LossThreshold;
            break;
        }
        let interrupted = observer.should_stop();
        let scheduled_checkpoint = t.checkpoint_every > 0 && epoch % t.checkpoint_every == 0;
        // Long epochs are checkpointed by the clock too, so a crash loses minutes, not hours.
        // Resuming is exact either way, so when checkpoints happen never changes the results.
        let overdue = last_checkpoint.elapsed().as_secs_f64() >= CHECKPOINT_SECONDS;
        if let Some(run) = run
            && epoch < max_epochs
            && (interrupted || scheduled_checkpoint || overdue)
        {
            let state = CheckpointState {
                epoch,
                train_seconds: seconds_before + ended.duration_since(started).as_secs_f64(),
                start_loss: start,
            };
            let optimizers = optimizers_here.as_ref().unwrap_or(&optimizers);
            checkpoint::save(run, config, &model, optimizers, &state)?;
            last_checkpoint = Instant::now();
        }
        if interrupted && epoch < max_epochs {
            return Err(TrainError::Interrupted { epoch });
        }
    }

    let last = match last {
        Some(last) => last,
        // Resumed at max_epochs with nothing left to run: evaluate the loaded model.
        None => {
            let valid = model.valid();
            EpochRecord {
                epoch,
                running_loss: f64::NAN,
                train: Some(eval_on(&valid, train)?.1),
                test: eval_test(&valid)?,
                elapsed_s: seconds_before,
            }
        }
    };
    Ok(TrainOutcome {
        model,
        epochs: epoch,
        stop_reason,
        last,
        train_seconds: seconds_before + started.elapsed().as_secs_f64(),
        steps_here: steps,
        samples_here: samples,
    })
}

fn log_epoch(record: &EpochRecord) {
    let split = |s: &Option<SplitMetrics>| {
        s.as_ref()
            .map(|m| (m.loss, m.summary.accuracy, m.summary.rates))
            .unwrap_or_default()
    };
    let (train_loss, train_acc, train_rates) = split(&record.train);
    let (test_loss, test_acc, test_rates) = split(&record.test);
    debug!(
        epoch = record.epoch,
        running_loss = record.running_loss,
        train_loss,
        train_acc,
        train_ftpt = train_rates.ftpt,
        train_ffpt = train_rates.ffpt,
        train_ftpf = train_rates.ftpf,
        train_ffpf = train_rates.ffpf,
        test_loss,
        test_acc,
        test_ftpt = test_rates.ftpt,
        test_ffpt = test_rates.ffpt,
        test_ftpf = test_rates.ftpf,
        test_ffpf = test_rates.ffpf,
        "epoch"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_that_do_not_step_run_untracked() {
        // A forward pass through a network that is not trained must not build an autodiff
        // graph: no backward pass would consume it, and the graph would never be freed.
        let config = crate::ExperimentConfig::default_with(&[]).expect("default config");
        let device = crate::device(config.train.backend, config.train.precision)
            .expect("cpu device")
            .autodiff();
        let model = config.model.init(2, 3, 0, &device).expect("model");
        let inputs = burn::tensor::Tensor::<3>::ones([4, 9, 2], &device);
        // Which networks a backward pass from the logits reaches, found by parameter id in the
        // model itself (the optimiser steps `model`, not the view).
        let reached = |focus, classifier| {
            let view = tracked_for_step(&model, focus, classifier);
            let logits = view.forward(inputs.clone()).logits;
            if !logits.is_tracked() {
                return (false, false);
            }
            let mut grads = logits.sum().backward();
            (
                !GradientsParams::from_module(&mut grads, &model.focus).is_empty(),
                !GradientsParams::from_module(&mut grads, &model.classifier).is_empty(),
            )
        };
        assert_eq!(reached(true, true), (true, true));
        assert_eq!(reached(true, false), (true, false));
        assert_eq!(reached(false, true), (false, true));
        assert_eq!(reached(false, false), (false, false), "no graph at all");
    }

    /// The metrics of every epoch, not its clock.
    #[derive(Default)]
    struct Metrics(Vec<(Option<SplitMetrics>, Option<SplitMetrics>)>);

    impl TrainObserver for Metrics {
        fn on_epoch(&mut self, record: &EpochRecord) {
            self.0.push((record.train.clone(), record.test.clone()));
        }
    }

    #[test]
    fn evaluating_on_a_borrowed_core_changes_no_metric() {
        let overrides =
            ["data.n_train=300", "data.n_test=200", "train.max_epochs=4"].map(String::from);
        let config = crate::ExperimentConfig::default_with(&overrides).expect("default config");
        let splits = config.data.load().expect("synthetic data");
        let run = |lend: bool| {
            // Never lent a core, each epoch is evaluated (training set, then test set) before
            // the next trains on this thread; always lent one, the next epoch trains here while
            // this one is evaluated there.
            let _lending = cores::lending(lend);
            let device = crate::device(config.train.backend, config.train.precision)
                .expect("cpu device")
                .autodiff();
            let model = config
                .model
                .init_for(
                    splits.train.segment_shape(),
                    splits.train.n_classes(),
                    0,
                    &device,
                )
                .expect("model");
            let mut metrics = Metrics::default();
            fit(
                &config,
                model,
                &splits.train,
                Some(&splits.test),
                &device,
                None,
                &mut metrics,
            )
            .expect("training runs");
            metrics.0
        };
        let alone = run(false);
        assert_eq!(alone.len(), 4);
        assert!(
            alone
                .iter()
                .all(|(train, test)| train.is_some() && test.is_some())
        );
        assert_eq!(run(true), alone);
    }

    #[test]
    fn training_ahead_on_a_lent_core_changes_no_result() {
        let overrides = [
            "data.n_train=300",
            "data.n_test=200",
            "train.max_epochs=8",
            "train.checkpoint_every=2",
        ]
        .map(String::from);
        let config = crate::ExperimentConfig::default_with(&overrides).expect("default config");
        let root = tempfile::tempdir().expect("tempdir");
        let mut dirs = 0;
        let mut dir = || {
            dirs += 1;
            root.path().join(format!("run-{dirs}"))
        };
        let whole = |config: &crate::ExperimentConfig, lend: bool, out: std::path::PathBuf| {
            let _lending = cores::lending(lend);
            let mut metrics = Metrics::default();
            let summary = crate::run_experiment(config, &out, &mut metrics).expect("trains");
            (summary, metrics.0)
        };
        let (reference, epochs) = whole(&config, false, dir());
        assert_eq!(epochs.len(), 8);

        // Trained ahead of every evaluation, with checkpoints of the epochs behind.
        let (ahead, ahead_epochs) = whole(&config, true, dir());
        assert_eq!(ahead_epochs, epochs);
        assert_eq!(
            (&ahead.train, &ahead.test),
            (&reference.train, &reference.test)
        );

        // Interrupted after epoch 3 (its next epoch already trained ahead, then discarded): the
        // checkpoint of epoch 3 holds epoch 3's optimiser, so resuming gives the same result.
        for (lend_first, lend_then) in [(true, false), (true, true), (false, true)] {
            let out = dir();
            let interrupted = {
                let _lending = cores::lending(lend_first);
                crate::run_experiment(&config, &out, &mut InterruptAfter::new(3))
            };
            assert!(
                matches!(interrupted, Err(TrainError::Interrupted { epoch: 3 })),
                "{interrupted:?}"
            );
            let (resumed, _) = whole(&config, lend_then, out);
            assert_eq!(
                (&resumed.train, &resumed.test),
                (&reference.train, &reference.test)
            );
        }

        // A stop rule met at an epoch whose next one trained ahead: that epoch is discarded.
        let threshold = epochs[2].0.as_ref().expect("evaluated").loss;
        let mut stopping = config.clone();
        stopping.train.stop = Some(crate::config::StopRule {
            loss: threshold * 1.001,
            paper_quirk: false,
        });
        let (stopped, stopped_epochs) = whole(&stopping, false, dir());
        assert_eq!(stopped.stop_reason, StopReason::LossThreshold);
        assert!(stopped.epochs < 8, "stops early: {}", stopped.epochs);
        let (stopped_ahead, stopped_ahead_epochs) = whole(&stopping, true, dir());
        assert_eq!(stopped_ahead.epochs, stopped.epochs);
        assert_eq!(stopped_ahead_epochs, stopped_epochs);
        assert_eq!(
            (&stopped_ahead.train, &stopped_ahead.test),
            (&stopped.train, &stopped.test)
        );
    }

    #[test]
    fn epoch_order_is_a_seeded_permutation() {
        let a = epoch_order(3, 1, 50);
        let mut sorted = a.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
        assert_eq!(a, epoch_order(3, 1, 50));
        assert_ne!(a, epoch_order(3, 2, 50));
        assert_ne!(a, epoch_order(4, 1, 50));
    }

    #[test]
    fn an_optimiser_that_never_stepped_saves_and_loads() {
        // A frozen (or not yet scheduled) network's optimiser has no state at a checkpoint.
        let config = OptimizerConfig::Adam {
            lr: 1e-3,
            eps: 1e-8,
        };
        let bytes = optimizer(&config)
            .into_bytes()
            .expect("empty state serialises");
        let loaded = optimizer(&config)
            .from_bytes(bytes.clone())
            .expect("empty state loads");
        assert_eq!(
            loaded.into_bytes().expect("serialises").len(),
            bytes.len(),
            "still empty"
        );
    }

    #[test]
    fn divergence_is_a_non_finite_loss_or_a_blown_up_one_at_chance() {
        let metrics = |loss: f64, accuracy: f64| SplitMetrics {
            loss,
            summary: sdc_interp::InterpSummary {
                n_samples: 1,
                counts: Default::default(),
                rates: Default::default(),
                accuracy,
                share_max_ge_half: 0.0,
                sparsity_value: 0.0,
                simplex_distance: 0.0,
                entropy_bits: 0.0,
                mean_alpha_at_true: 0.0,
            },
        };
        assert!(divergence(&metrics(f64::NAN, 30.0), 1.1, 3).is_some());
        assert!(divergence(&metrics(f64::INFINITY, 90.0), 1.1, 3).is_some());
        let blown = divergence(&metrics(1e5, 33.0), 1.1, 3).expect("at chance");
        assert!(blown.contains("grew from 1.1000"), "{blown}");
        assert!(
            divergence(&metrics(1e5, 90.0), 1.1, 3).is_none(),
            "accurate"
        );
        assert!(
            divergence(&metrics(2.0, 33.0), 1.1, 3).is_none(),
            "not far up"
        );
    }
}
