//! Sweeps with replica-batched seeds: the seeds of a grid point train as one batched model
//! (`sdc_train::replica`), each writing the run directory its single run writes.
//!
//! The planner groups the runs of one experiment and grid point whose configurations differ
//! only in the seed, in groups of at most `replicas`; runs the batched path does not support
//! (`sdc_train::replica::unsupported`) stay single runs. Groups and single runs share the
//! worker pool of [`crate::sweep::run_sweep`]. Resume and failure isolation are per run: a
//! finished run is skipped, a diverged one recorded and the others go on, and an interrupted
//! group resumes from its members' checkpoints.

use std::path::{Path, PathBuf};

use sdc_train::replica::{group_key, holds_replica_checkpoint, run_replicas, unsupported};
use sdc_train::{BackendKind, RunRecord, TrainError, finished_run};
use tracing::{info, warn};

use crate::experiment::PlannedRun;
use crate::sweep::{ERROR_FILE, RunStatus, SweepObserver, record_failure, run_one, run_units};

/// The most seeds the planner puts in one group.
pub const MAX_DEFAULT_REPLICAS: usize = 10;

/// The planner's group size for `runs` on `jobs` workers: on the flex backend (the default),
/// enough seeds per group to give every worker work, at most [`MAX_DEFAULT_REPLICAS`]; on any
/// other backend 1, every run alone.
///
/// Measured with the `replica_throughput` example (Dataset 2, Architecture 2, layer 0, batch
/// 250, one core, mimalloc as in `sdc`, 200 epochs): on flex, R replicas train at 1.50x (R =
/// 5), 1.61x (10), 1.35x (20) and 1.32x (40) a single model's mosaics per CPU second (a single
/// model ran at 770k-828k). With the attention head and ReLU as kernels too (one run each, a
/// noisier machine): 1.60x (5), 2.07x (10), 1.21x (20), summed 1,162k, 1,295k and 1,186k per
/// CPU second; ten stays the best group. Before the MLPs' feature-major dense kernel (`sdc_model::kernels`),
/// when each replica's layer was one `gemm` call, it was 1.40x, 1.53x, 1.39x and 1.30x, and on
/// ndarray 0.93x at R = 20. A group's wall time is still its slowest seed's (a replica that stops
/// leaves the batch, the rest go on), so batching saves CPU time, and wall time only where
/// workers were the limit. `--replicas N` overrides the choice; runs that cannot be batched
/// (see `sdc_train::replica::unsupported`) always train alone.
pub fn default_replicas(runs: &[PlannedRun], jobs: usize) -> usize {
    let flex = runs
        .iter()
        .all(|run| run.config.train.backend == BackendKind::Flex);
    if !flex || runs.is_empty() {
        return 1;
    }
    runs.len()
        .div_ceil(jobs.max(1))
        .clamp(1, MAX_DEFAULT_REPLICAS)
}

/// What one worker takes: a single run, or a replica group (indices into the plan).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unit {
    /// A run trained alone.
    Single(usize),
    /// Runs trained as one replica batch.
    Group(Vec<usize>),
}

/// Groups `runs` into units of at most `replicas` seeds: runs of one experiment and grid point
/// with the same configuration but the seed. With `replicas <= 1` every run is single, except
/// those holding a replica checkpoint, which only a replica group resumes.
pub fn plan_units(runs: &[PlannedRun], root: &Path, replicas: usize) -> Vec<Unit> {
    let mut units = Vec::new();
    // (experiment, point, key) -> open group
    let mut open: Vec<((String, usize, String), Vec<usize>)> = Vec::new();
    for (k, run) in runs.iter().enumerate() {
        let batchable = unsupported(&run.config).is_none()
            && (replicas > 1 || holds_replica_checkpoint(&root.join(&run.rel_dir)));
        if !batchable {
            units.push(Unit::Single(k));
            continue;
        }
        let key = (run.experiment.clone(), run.point, group_key(&run.config));
        match open.iter_mut().find(|(g, _)| *g == key) {
            Some((_, members)) => members.push(k),
            None => open.push((key, vec![k])),
        }
    }
    for (_, members) in open {
        for chunk in members.chunks(replicas.max(1)) {
            units.push(Unit::Group(chunk.to_vec()));
        }
    }
    units
}

/// [`crate::sweep::run_sweep`] with replica groups: runs `runs` under `root`, at most `jobs`
/// units at a time, seeds grouped `replicas` at a time (see [`plan_units`]). Statuses come back
/// in plan order.
pub fn run_sweep_replicas(
    runs: &[PlannedRun],
    root: &Path,
    jobs: usize,
    replicas: usize,
    observer: &dyn SweepObserver,
) -> Vec<RunStatus> {
    let units = plan_units(runs, root, replicas);
    info!(
        units = units.len(),
        groups = units.iter().filter(|u| matches!(u, Unit::Group(_))).count(),
        replicas,
        "sweep plan"
    );
    // Largest groups first, so no worker starts a long group last.
    let mut order: Vec<usize> = (0..units.len()).collect();
    order.sort_by_key(|&u| match &units[u] {
        Unit::Single(_) => std::cmp::Reverse(1),
        Unit::Group(g) => std::cmp::Reverse(g.len()),
    });
    run_units(runs, order.len(), jobs, observer, |u| {
        match &units[order[u]] {
            Unit::Single(k) => vec![(*k, run_one(&runs[*k], root, observer))],
            Unit::Group(members) => run_group(runs, members, root, observer),
        }
    })
}

/// Trains one group: finished and diverged runs are reported as a single sweep reports them,
/// the rest train as one batch.
fn run_group(
    runs: &[PlannedRun],
    members: &[usize],
    root: &Path,
    observer: &dyn SweepObserver,
) -> Vec<(usize, RunStatus)> {
    let mut done = Vec::new();
    let mut train: Vec<usize> = Vec::new();
    for &k in members {
        let run = &runs[k];
        match finished_run(&root.join(&run.rel_dir), Some(&run.config)) {
            Ok(Some(RunRecord::Completed(summary))) => done.push((k, RunStatus::Skipped(*summary))),
            Ok(Some(RunRecord::Diverged(d))) => done.push((
                k,
                RunStatus::Failed(
                    TrainError::Diverged {
                        epoch: d.epoch,
                        reason: d.reason,
                    }
                    .to_string(),
                ),
            )),
            Ok(None) => train.push(k),
            Err(e) => done.push((k, RunStatus::Failed(e.to_string()))),
        }
    }
    if train.is_empty() {
        return done;
    }
    for &k in &train {
        observer.run_started(&runs[k]);
    }
    let configs: Vec<_> = train.iter().map(|&k| runs[k].config.clone()).collect();
    let dirs: Vec<PathBuf> = train.iter().map(|&k| root.join(&runs[k].rel_dir)).collect();
    // A panic inside the batch costs its runs, not the sweep.
    let results = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run_replicas(&configs, &dirs)
    }))
    .unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "the replica batch panicked".into());
        train
            .iter()
            .map(|_| Err(TrainError::Device(message.clone())))
            .collect()
    });
    for ((k, dir), result) in train.into_iter().zip(dirs).zip(results) {
        let error_file = dir.join(ERROR_FILE);
        let status = match result {
            Ok(summary) => {
                if error_file.exists() {
                    let _ = std::fs::remove_file(&error_file);
                }
                RunStatus::Trained(summary)
            }
            Err(e) => {
                let message = e.to_string();
                warn!(run = %runs[k].rel_dir.display(), error = %message, "run failed");
                if !matches!(e, TrainError::Locked(_)) {
                    record_failure(&error_file, &message);
                }
                RunStatus::Failed(message)
            }
        };
        done.push((k, status));
    }
    done
}

#[cfg(test)]
mod tests {
    use super::*;
    use sdc_train::ExperimentConfig;

    fn runs(n: usize, backend: &str) -> Vec<PlannedRun> {
        let config =
            ExperimentConfig::default_with(&[format!("train.backend={backend}")]).expect("config");
        (0..n)
            .map(|seed| PlannedRun {
                experiment: "e".into(),
                draw: 0,
                point: 0,
                seed: seed as u64,
                rel_dir: PathBuf::from(format!("e/seed-{seed}")),
                config: config.clone(),
            })
            .collect()
    }

    #[test]
    fn the_planner_batches_on_flex_only_and_keeps_every_worker_busy() {
        assert_eq!(default_replicas(&runs(60, "flex"), 2), MAX_DEFAULT_REPLICAS);
        assert_eq!(
            default_replicas(&runs(10, "flex"), 2),
            5,
            "two groups for two workers"
        );
        assert_eq!(default_replicas(&runs(3, "flex"), 4), 1);
        assert_eq!(default_replicas(&runs(60, "ndarray"), 2), 1);
        assert_eq!(default_replicas(&[], 2), 1);
    }
}
