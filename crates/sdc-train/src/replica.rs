//! Replica-batched training: the seeds of one configuration trained as one batched model
//! ([`sdc_model::ReplicaModel`]), each replica writing exactly the run directory a single run of
//! its seed writes.
//!
//! Every replica keeps what a single run has of its own: its initialisation (built by the same
//! `ModelConfig::init_for` call, then stacked), its shuffle order (`epoch_order(seed, epoch)`),
//! its optimiser state (rows of the stacked state tensors), its losses (each replica's loss is
//! computed on its own slice of the outputs by the objective's own code), its stop rule and
//! divergence check, its metrics rows and checkpoints. A replica that stops or diverges is
//! finished there and removed from the batch (its parameters and optimiser state rows are
//! dropped), so it never steps again.
//!
//! The optimiser steps repeat the arithmetic of Burn's `Adam` and `Sgd` (burn-optim 0.22,
//! `AdaptiveMomentum::transform`, `Momentum::transform`) operation by operation, on stacked
//! tensors: the updates are element-wise, so each replica's parameters follow the single run's
//! bit for bit (tested in `tests/replicas.rs`).
//!
//! Supported: MLP networks (any averaging layer, any attention map), the soft objective (with
//! or without the entropy regulariser), the joint schedule, nothing frozen, no `init_from`, no
//! pretraining, Adam or SGD. [`unsupported`] names what else falls back to single runs.
//!
//! With an idle core, an epoch is evaluated there while the next one trains ahead
//! ([`crate::cores::look_ahead`], as in `fit`); the replicas that end at the evaluated epoch drop
//! out of the epoch ahead too, which is what it would have been without them, since no step
//! mixes replicas.
//!
//! By concern: this file groups members and runs the training loop; `replica/grouping.rs` says
//! which configurations share a group, `replica/epoch.rs` holds
//! one epoch of steps, `replica/halves.rs` a group in two halves on an idle core,
//! `replica/optimizer.rs` the batched Adam and SGD steps, `replica/losses.rs` the losses and the
//! evaluation of every replica at once, `replica/checkpoint.rs` a replica's checkpoint.

use std::path::PathBuf;
use std::time::Instant;

use burn::module::Module;
use burn::tensor::Tensor;
use sdc_data::{SdcDataset, Splits};
use sdc_model::{AttentionModel, ReplicaModel, select_replicas};
use tracing::{info, warn};

use crate::config::{ExperimentConfig, OptimizerConfig};
use crate::cores::{alongside, look_ahead};
use crate::device::device;
use crate::error::TrainError;
use crate::evaluate::SplitMetrics;
use crate::metrics::{
    EpochRecord, MetricsLine, MetricsRow, TimingRow, append_line, append_row, truncate_lines,
    truncate_rows,
};
use crate::provenance::Provenance;
use crate::run::{
    Opened, RunRecord, RunSummary, complete_run, end_run, open_run, record_divergence,
    start_provenance,
};
use crate::run_dir::{
    Checkpoint, CheckpointState, METRICS_FILE, METRICS_JSONL_FILE, MODEL_FILE, RunDir, TIMING_FILE,
};
use crate::training::{CHECKPOINT_SECONDS, StopReason, TrainOutcome, divergence};

mod checkpoint;
mod epoch;
mod grouping;
mod halves;
mod losses;
mod optimizer;

pub use grouping::{group_key, holds_replica_checkpoint, unsupported};

use checkpoint::save_checkpoint;
use epoch::{ReplicaEpoch, train_epoch};
use halves::train_on_idle_cores;
use losses::evaluate_replicas;
use optimizer::{ReplicaOptimizer, ReplicaState, needs_moments};

/// Checkpoint file that marks a replica group's checkpoint and holds the optimiser's step count.
pub const REPLICA_STATE: &str = "replica-state.json";
/// Checkpoint file of a replica's first optimiser moment (Adam's `m`, SGD's velocity), stored
/// as a model of the run's shapes.
pub const REPLICA_MOMENT_1: &str = "replica-moment-1.bpk";
/// Checkpoint file of a replica's second optimiser moment (Adam's `v`).
pub const REPLICA_MOMENT_2: &str = "replica-moment-2.bpk";

/// Trains `configs` (one configuration, different seeds; see [`group_key`]) into the run
/// directories `outs`, as one replica batch where it can: runs already finished are returned,
/// runs resuming from single-run checkpoints train alone ([`crate::run_experiment`]), and the
/// rest train together, grouped by the epoch they resume at. Results come back in input order,
/// each what [`crate::run_experiment`] returns for that run.
pub fn run_replicas(
    configs: &[ExperimentConfig],
    outs: &[PathBuf],
) -> Vec<Result<RunSummary, TrainError>> {
    run_replicas_until(configs, outs, None)
}

/// [`run_replicas`], stopping every replica still training after epoch `stop_after` with a
/// checkpoint and [`TrainError::Interrupted`], as an interrupted single run stops; running it
/// again resumes.
pub fn run_replicas_until(
    configs: &[ExperimentConfig],
    outs: &[PathBuf],
    stop_after: Option<usize>,
) -> Vec<Result<RunSummary, TrainError>> {
    assert_eq!(configs.len(), outs.len(), "one directory per configuration");
    let mut results: Vec<Option<Result<RunSummary, TrainError>>> =
        (0..configs.len()).map(|_| None).collect();
    let key = configs.first().map(group_key);
    // Members to train: (index, run, checkpoint), grouped by resume epoch below.
    let mut members: Vec<Member> = Vec::new();
    for (i, (config, out)) in configs.iter().zip(outs).enumerate() {
        if let Some(why) = unsupported(config).or_else(|| {
            (Some(group_key(config)) != key).then(|| "a different configuration".into())
        }) {
            info!(dir = %out.display(), %why, "training alone");
            results[i] = Some(crate::run_experiment(config, out, &mut crate::Silent));
            continue;
        }
        let opened = open_run(config, out).and_then(|opened| match opened {
            Opened::Finished(record) => Ok(Err(record)),
            Opened::Ready(run) => {
                let checkpoint = run.latest_checkpoint(config)?;
                Ok(Ok((run, checkpoint)))
            }
        });
        match opened {
            Err(e) => results[i] = Some(Err(e)),
            Ok(Err(record)) => results[i] = Some(record.into_summary()),
            Ok(Ok((run, Some(checkpoint)))) if !checkpoint.dir().join(REPLICA_STATE).is_file() => {
                // A single run's checkpoint: that run resumes alone.
                drop(run);
                results[i] = Some(crate::run_experiment(config, out, &mut crate::Silent));
            }
            Ok(Ok((run, checkpoint))) => members.push(Member {
                index: i,
                config: config.clone(),
                run,
                checkpoint,
            }),
        }
    }
    // Members resuming at the same epoch train together.
    members.sort_by_key(|m| (m.checkpoint.as_ref().map_or(0, |c| c.state.epoch), m.index));
    let mut groups: Vec<Vec<Member>> = Vec::new();
    for member in members {
        let epoch = member.checkpoint.as_ref().map_or(0, |c| c.state.epoch);
        match groups.last_mut() {
            Some(group) if group[0].checkpoint.as_ref().map_or(0, |c| c.state.epoch) == epoch => {
                group.push(member)
            }
            _ => groups.push(vec![member]),
        }
    }
    let _core = crate::cores::hold();
    // One load of the data for every group (they share the configuration but the seed).
    let splits = groups
        .first()
        .map(|group| group[0].config.data.load().map_err(TrainError::from));
    for group in groups {
        let splits = match &splits {
            Some(Ok(splits)) => splits,
            Some(Err(e)) => {
                // A failure of the group's shared work (data, device) is every member's.
                for member in group {
                    results[member.index] = Some(Err(TrainError::Device(e.to_string())));
                }
                continue;
            }
            None => unreachable!("groups exist, so their data was loaded"),
        };
        for (indices, outcome) in train_on_idle_cores(group, splits, stop_after) {
            match outcome {
                Ok(done) => {
                    for (i, result) in indices.into_iter().zip(done) {
                        results[i] = Some(result);
                    }
                }
                Err(e) => {
                    let message = e.to_string();
                    for i in indices {
                        results[i] = Some(Err(TrainError::Device(message.clone())));
                    }
                }
            }
        }
    }
    results
        .into_iter()
        .map(|r| r.expect("every run has a result"))
        .collect()
}

/// One run of a replica group.
struct Member {
    index: usize,
    config: ExperimentConfig,
    run: RunDir,
    checkpoint: Option<Checkpoint>,
}

/// A member while it trains: its run, its template model and its running state.
struct Active {
    config: ExperimentConfig,
    run: RunDir,
    /// This process's session in the run's `provenance.json`.
    provenance: Provenance,
    /// The single model of this seed (for its parameter identities and shapes).
    template: AttentionModel,
    start_loss: Option<f64>,
    seconds_before: f64,
    last: Option<EpochRecord>,
    /// Position in the caller's result list.
    slot: usize,
}

/// Ends member `a`'s run as diverged at `epoch`, as a single run records a divergence.
fn end_diverged(a: &mut Active, epoch: usize, reason: String) -> Result<RunSummary, TrainError> {
    let record = record_divergence(&a.run, &a.config, epoch, reason);
    end_run(&a.run, &a.config, &mut a.provenance, record).and_then(RunRecord::into_summary)
}

/// Trains one group of members that start at the same epoch. The error is a failure of the
/// shared work (data, device, a checkpoint that cannot be read); per-run failures are results.
fn train_group(
    members: Vec<Member>,
    splits: &Splits,
    stop_after: Option<usize>,
) -> Result<Vec<Result<RunSummary, TrainError>>, TrainError> {
    let _core = crate::cores::hold();
    let n = members.len();
    let mut results: Vec<Option<Result<RunSummary, TrainError>>> = (0..n).map(|_| None).collect();
    let config0 = members[0].config.clone();
    let t = &config0.train;
    let (train, test) = (&splits.train, &splits.test);
    let autodiff = device(t.backend, t.precision)?.autodiff();
    let plain = autodiff.clone().without_autodiff();
    let first_epoch = members[0]
        .checkpoint
        .as_ref()
        .map_or(1, |c| c.state.epoch + 1);
    let _span = tracing::info_span!("replicas", name = %config0.name, n).entered();

    // The single models, each from its own seed (and checkpoint), on the plain device.
    let mut models = Vec::with_capacity(n);
    let mut moments: (Vec<AttentionModel>, Vec<AttentionModel>) = (Vec::new(), Vec::new());
    let mut optimizer_steps = 0;
    let mut active = Vec::with_capacity(n);
    for (slot, member) in members.into_iter().enumerate() {
        let init = || {
            member.config.model.init_for(
                train.segment_shape(),
                train.n_classes(),
                member.config.train.seed,
                &plain,
            )
        };
        let template = init()?;
        let (model, seconds_before, start_loss) = match &member.checkpoint {
            Some(c) => {
                let load = |name: &str| -> Result<AttentionModel, TrainError> {
                    Ok(init()?.load_bytes(c.read(name)?, &c.dir().join(name))?)
                };
                let state: ReplicaState = crate::run_dir::parse_json(
                    &c.dir().join(REPLICA_STATE),
                    &c.read(REPLICA_STATE)?,
                )?;
                optimizer_steps = state.optimizer_steps;
                if needs_moments(&t.optimizer) {
                    moments.0.push(load(REPLICA_MOMENT_1)?);
                    if matches!(t.optimizer, OptimizerConfig::Adam { .. }) {
                        moments.1.push(load(REPLICA_MOMENT_2)?);
                    }
                }
                for file in [METRICS_FILE, TIMING_FILE] {
                    truncate_rows(&member.run.file(file), c.state.epoch)?;
                }
                truncate_lines(&member.run.file(METRICS_JSONL_FILE), c.state.epoch)?;
                (
                    load(MODEL_FILE)?,
                    c.state.train_seconds,
                    Some(c.state.start_loss),
                )
            }
            None => {
                for file in [METRICS_FILE, TIMING_FILE] {
                    truncate_rows(&member.run.file(file), 0)?;
                }
                truncate_lines(&member.run.file(METRICS_JSONL_FILE), 0)?;
                (init()?, 0.0, None)
            }
        };
        models.push(model);
        let provenance = start_provenance(&member.run, &member.config, first_epoch)?;
        active.push(Active {
            config: member.config,
            run: member.run,
            provenance,
            template,
            start_loss,
            seconds_before,
            last: None,
            slot,
        });
    }
    let n_parameters = active[0].template.num_params();
    let stacked_tensors = |models: &[AttentionModel]| -> Result<Vec<Tensor<3>>, TrainError> {
        Ok(ReplicaModel::stack(models)?.tensors())
    };
    let mut model = ReplicaModel::stack(&models)?;
    let mut optimizer = ReplicaOptimizer {
        config: t.optimizer.clone(),
        time: optimizer_steps,
        moment_1: if moments.0.is_empty() {
            Vec::new()
        } else {
            stacked_tensors(&moments.0)?
        },
        moment_2: if moments.1.is_empty() {
            Vec::new()
        } else {
            stacked_tensors(&moments.1)?
        },
    };
    drop(models);

    let max_epochs = t.max_epochs;
    let started = Instant::now();
    let mut last_checkpoint = started;
    // Steps and samples of one replica in this process (every active replica takes each step).
    let (mut steps, mut samples) = (0usize, 0usize);
    let mut epoch = first_epoch - 1;
    // The next epoch, trained while this one was evaluated on an idle core (as in `fit`).
    let mut ahead: Option<Result<ReplicaEpoch, TrainError>> = None;
    while epoch < max_epochs && !active.is_empty() {
        epoch += 1;
        let seeds: Vec<u64> = active.iter().map(|a| a.config.train.seed).collect();
        let done = match ahead.take() {
            Some(done) => done?,
            None => train_epoch(t, model, &mut optimizer, &seeds, train, epoch, &plain)?,
        };
        model = done.model;
        steps += done.steps;
        samples += done.samples;
        let (loss_sums, first_losses, mut diverged, n_batches) = (
            done.loss_sums,
            done.first_losses,
            done.diverged,
            done.n_batches,
        );
        let r = active.len();
        // When this epoch's work (its training, then any evaluation) ended, whatever ran ahead.
        let mut ended = Instant::now();

        // Evaluation, stop rule and divergence, replica by replica.
        let scheduled = epoch.is_multiple_of(t.eval_every) || epoch == max_epochs;
        let eval_on = |split: &SdcDataset| {
            evaluate_replicas(
                &model,
                split,
                config0.eval_batch_size(),
                config0.eval.focus,
                &plain,
            )
        };
        // The test set's metrics of every replica, when there is a non-empty test set.
        let eval_test = || -> Result<Option<Vec<SplitMetrics>>, TrainError> {
            (!test.is_empty())
                .then(|| eval_on(test))
                .transpose()
                .map(|evals| evals.map(|e| e.into_iter().map(|(_, m)| m).collect()))
        };
        // The optimiser state as this epoch left it, for its checkpoints, when the next epoch
        // trains ahead.
        let mut optimizer_here: Option<ReplicaOptimizer> = None;
        let (evaluated, mut tests) = if scheduled || t.stop.is_some() {
            // On the CPU backends with an idle core, this epoch is evaluated there while this
            // thread trains the next one, kept for the replicas that go on; else a scheduled
            // epoch evaluates the test set on an idle core, if there is one (as `fit`).
            let evaluate_here = |parallel: bool| {
                let (train_eval, test_eval) = if !scheduled {
                    (eval_on(train), None)
                } else if parallel {
                    let (train_eval, test_eval) = alongside(|| eval_on(train), eval_test);
                    (train_eval, Some(test_eval))
                } else {
                    (eval_on(train), Some(eval_test()))
                };
                (train_eval, test_eval, Instant::now())
            };
            let (evaluated, next) = if t.backend.on_cpu() && epoch < max_epochs {
                look_ahead(
                    || evaluate_here(false),
                    || {
                        optimizer_here = Some(optimizer.clone());
                        let next = model.clone();
                        train_epoch(t, next, &mut optimizer, &seeds, train, epoch + 1, &plain)
                    },
                )
            } else {
                // Beside the training set only when there is a test set to evaluate.
                (evaluate_here(t.backend.on_cpu() && !test.is_empty()), None)
            };
            ahead = next;
            let (train_eval, test_eval, evaluated_at) = evaluated;
            ended = evaluated_at;
            (Some(train_eval?), test_eval.transpose()?.flatten())
        } else {
            (None, None)
        };
        let optimizer_here = optimizer_here.as_ref().unwrap_or(&optimizer);
        let elapsed = |a: &Active, ended: Instant| {
            a.seconds_before + ended.duration_since(started).as_secs_f64()
        };
        // Checkpointed by the clock too, as a single run is; it never changes the results.
        let overdue = last_checkpoint.elapsed().as_secs_f64() >= CHECKPOINT_SECONDS;
        if overdue && epoch < max_epochs {
            last_checkpoint = Instant::now();
        }
        let mut finished: Vec<(usize, Option<StopReason>)> = Vec::new(); // (replica, stop) or diverged
        for i in 0..r {
            let a = &mut active[i];
            if let Some(reason) = diverged[i].take() {
                results[a.slot] = Some(end_diverged(a, epoch, reason));
                finished.push((i, None));
                continue;
            }
            let start = *a.start_loss.get_or_insert(first_losses[i]);
            let mut record = EpochRecord {
                epoch,
                running_loss: loss_sums[i] / n_batches.max(1) as f64,
                train: None,
                test: None,
                elapsed_s: 0.0,
            };
            let mut stop_now = false;
            if let Some(evaluated) = &evaluated {
                let (train_pred, train_metrics) = &evaluated[i];
                if let Some(reason) = divergence(train_metrics, start, train.n_classes())
                    && (!train_metrics.loss.is_finite() || epoch == max_epochs)
                {
                    results[a.slot] = Some(end_diverged(a, epoch, reason));
                    finished.push((i, None));
                    continue;
                }
                if let Some(stop) = &t.stop {
                    stop_now = train_pred.stop_rule_loss(stop.paper_quirk) <= stop.loss;
                }
                if scheduled || stop_now {
                    if tests.is_none() && !test.is_empty() {
                        tests = eval_test()?;
                        ended = Instant::now();
                    }
                    record.train = Some(train_metrics.clone());
                    record.test = tests.as_ref().map(|t| t[i].clone());
                    record.elapsed_s = elapsed(a, ended);
                    append_row(&a.run.file(METRICS_FILE), &MetricsRow::from(&record))?;
                    append_line(&a.run.file(METRICS_JSONL_FILE), &MetricsLine::from(&record))?;
                    append_row(
                        &a.run.file(TIMING_FILE),
                        &TimingRow {
                            epoch,
                            elapsed_s: record.elapsed_s,
                        },
                    )?;
                }
            }
            if record.train.is_some() {
                a.last = Some(record);
            }
            if stop_now {
                finished.push((i, Some(StopReason::LossThreshold)));
            } else if epoch == max_epochs {
                finished.push((i, Some(StopReason::MaxEpochs)));
            } else if stop_after == Some(epoch)
                || (t.checkpoint_every > 0 && epoch.is_multiple_of(t.checkpoint_every))
                || overdue
            {
                let state = CheckpointState {
                    epoch,
                    train_seconds: elapsed(a, ended),
                    start_loss: start,
                };
                save_checkpoint(a, &model, optimizer_here, i, &state)?;
            }
        }
        if stop_after == Some(epoch) {
            for (i, a) in active.iter_mut().enumerate() {
                if !finished.iter().any(|&(f, _)| f == i) {
                    let interrupted = Err(TrainError::Interrupted { epoch });
                    results[a.slot] = Some(
                        end_run(&a.run, &a.config, &mut a.provenance, interrupted)
                            .and_then(RunRecord::into_summary),
                    );
                }
            }
        }
        if finished.is_empty() && stop_after != Some(epoch) {
            continue;
        }
        // Finish the replicas that ended, then drop them from the batch.
        for &(i, stop) in &finished {
            let Some(stop_reason) = stop else { continue };
            let a = &mut active[i];
            let last = a
                .last
                .clone()
                .expect("a finishing replica was evaluated this epoch");
            let outcome = TrainOutcome {
                model: model.replica_into(i, a.template.clone()),
                epochs: epoch,
                stop_reason,
                last,
                train_seconds: elapsed(a, ended),
                steps_here: steps,
                samples_here: samples,
            };
            let record = complete_run(&a.run, &a.config, &outcome, train, &autodiff, n_parameters);
            let result = end_run(&a.run, &a.config, &mut a.provenance, record)
                .and_then(RunRecord::into_summary);
            if let Err(e) = &result {
                warn!(dir = %a.run.path().display(), error = %e, "replica failed to finish");
            }
            results[a.slot] = Some(result);
        }
        if stop_after == Some(epoch) {
            return Ok(results
                .into_iter()
                .map(|r| r.expect("every member ends"))
                .collect());
        }
        let gone: Vec<usize> = finished.iter().map(|&(i, _)| i).collect();
        let keep: Vec<usize> = (0..r).filter(|i| !gone.contains(i)).collect();
        let mut index = 0;
        active.retain(|_| {
            index += 1;
            !gone.contains(&(index - 1))
        });
        if !keep.is_empty() {
            // The optimiser is the next epoch's when it trained ahead, else this one's; either
            // way the rows of the replicas that ended go, and so do theirs in the epoch ahead.
            optimizer.select(&keep);
            match &mut ahead {
                Some(Ok(next)) => next.keep(&keep),
                _ => {
                    model = model
                        .clone()
                        .with_tensors(select_replicas(model.tensors(), &keep))
                }
            }
        }
    }
    // Resumed at max_epochs with nothing left to run: these finish as single runs would.
    for Active {
        config,
        run,
        mut provenance,
        slot,
        ..
    } in active
    {
        provenance.end(&run, "handed to a single run")?;
        let path = run.path().to_path_buf();
        drop(run);
        results[slot] = Some(crate::run_experiment(&config, &path, &mut crate::Silent));
    }
    Ok(results
        .into_iter()
        .map(|r| r.expect("every member ends"))
        .collect())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::cores::lending;

    fn read(dir: &Path, file: &str) -> String {
        std::fs::read_to_string(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
    }

    #[test]
    fn lent_cores_change_no_replica_result() {
        // Lent a core, the group trains as two halves at once, and the half on this thread
        // trains each epoch ahead of its evaluation on another lent core. Seeds that meet the
        // stop rule at different epochs, so replicas leave the batch while the epoch after
        // theirs has already trained ahead; checkpoints every 3 epochs.
        let overrides = [
            "data.n_train=300",
            "data.n_test=200",
            "train.batch_size=50",
            "train.max_epochs=30",
            "train.checkpoint_every=3",
            "train.stop.loss=0.9",
        ]
        .map(String::from);
        let config = ExperimentConfig::default_with(&overrides).expect("default config");
        let configs: Vec<ExperimentConfig> = (0..4)
            .map(|seed| {
                let mut c = config.clone();
                c.train.seed = seed;
                c
            })
            .collect();
        let root = tempfile::tempdir().expect("tempdir");
        let dirs = |name: &str| -> Vec<PathBuf> {
            (0..configs.len())
                .map(|i| root.path().join(format!("{name}-{i}")))
                .collect()
        };
        let group = |lend: bool, outs: &[PathBuf], stop_after: Option<usize>| {
            let _lending = lending(lend);
            run_replicas_until(&configs, outs, stop_after)
        };
        let (behind, ahead) = (dirs("behind"), dirs("ahead"));
        let behind_results = group(false, &behind, None);
        group(true, &ahead, None);
        let epochs: Vec<usize> = behind_results
            .iter()
            .map(|r| r.as_ref().expect("trains").epochs)
            .collect();
        assert!(
            epochs.iter().any(|&e| e != epochs[0]) && epochs.iter().all(|&e| e > 4),
            "replicas leave the batch at different epochs: {epochs:?}"
        );
        // Interrupted after epoch 4 (a checkpoint), then resumed, with and without a lent core.
        let cut = dirs("cut");
        let stopped = group(true, &cut, Some(4));
        assert!(
            stopped
                .iter()
                .zip(&epochs)
                .all(|(r, &e)| e <= 4 || matches!(r, Err(TrainError::Interrupted { epoch: 4 }))),
            "{stopped:?}"
        );
        group(false, &cut, None);
        let cut_ahead = dirs("cut-ahead");
        group(false, &cut_ahead, Some(4));
        group(true, &cut_ahead, None);
        for i in 0..configs.len() {
            for file in ["metrics.csv", "metrics.jsonl", "summary.json"] {
                let reference = read(&behind[i], file);
                for other in [&ahead[i], &cut[i], &cut_ahead[i]] {
                    assert_eq!(read(other, file), reference, "{}: {file}", other.display());
                }
            }
        }
    }
}
