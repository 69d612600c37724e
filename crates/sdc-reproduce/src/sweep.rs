//! Sweep runner: many runs, in parallel, resumable, shardable.

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use tracing::{info, warn};

use sdc_train::{
    MANIFEST_FILE, RunRecord, RunSummary, Silent, TrainError, finished_run, run_experiment,
};

use crate::experiment::PlannedRun;

/// The file a failed run leaves in its directory (removed when it later succeeds).
pub(crate) const ERROR_FILE: &str = "error.txt";

/// Shard `index` of `count` (1-based): run `k` of a plan belongs to shard `k mod count + 1`,
/// so shards are disjoint, cover the plan, and are balanced across grid points.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// This shard, 1..=count.
    pub index: usize,
    /// Number of shards.
    pub count: usize,
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || format!("--shard {s}: expected i/n with 1 <= i <= n, e.g. 1/2");
        let (i, n) = s.split_once('/').ok_or_else(err)?;
        let index: usize = i.trim().parse().map_err(|_| err())?;
        let count: usize = n.trim().parse().map_err(|_| err())?;
        if count == 0 || index == 0 || index > count {
            return Err(err());
        }
        Ok(Self { index, count })
    }
}

impl Shard {
    /// Whether run number `k` of the plan is this shard's.
    pub fn contains(&self, k: usize) -> bool {
        k % self.count == self.index - 1
    }

    /// The runs of `plan` that belong to this shard.
    pub fn select(&self, plan: Vec<PlannedRun>) -> Vec<PlannedRun> {
        plan.into_iter()
            .enumerate()
            .filter(|(k, _)| self.contains(*k))
            .map(|(_, r)| r)
            .collect()
    }
}

/// The environment variables of a Slurm array task that `--shard slurm` reads.
pub const SLURM_VARS: [&str; 4] = [
    "SLURM_ARRAY_TASK_ID",
    "SLURM_ARRAY_TASK_COUNT",
    "SLURM_ARRAY_TASK_MIN",
    "SLURM_ARRAY_TASK_STEP",
];

impl Shard {
    /// The shard of a Slurm array task (`sbatch --array=MIN-MAX[:STEP]`): task ids MIN,
    /// MIN+STEP, ... are shards 1, 2, ... of SLURM_ARRAY_TASK_COUNT, whatever MIN is (0, 1 or
    /// any other). `var` reads an environment variable (`std::env::var(..).ok()` in a program).
    /// Missing or inconsistent variables are an error naming them.
    pub fn from_slurm(var: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let [id_var, count_var, min_var, step_var] = SLURM_VARS;
        let read = |name: &str, default: Option<usize>| -> Result<usize, String> {
            match var(name) {
                Some(text) => text.trim().parse().map_err(|_| {
                    format!("--shard slurm: {name}={text:?} is not a non-negative integer")
                }),
                None => default.ok_or_else(|| {
                    format!(
                        "--shard slurm: {name} is not set; run inside a Slurm array job \
                         (sbatch --array=1-N), or give the shard as --shard i/n"
                    )
                }),
            }
        };
        let id = read(id_var, None)?;
        let count = read(count_var, None)?;
        let min = read(min_var, None)?;
        let step = read(step_var, Some(1))?.max(1);
        let offset = id.checked_sub(min).filter(|o| o % step == 0);
        let index = offset.map(|o| o / step + 1).filter(|&i| i <= count);
        match index {
            Some(index) if count > 0 => Ok(Self { index, count }),
            _ => Err(format!(
                "--shard slurm: task {id_var}={id} is not one of the {count_var}={count} tasks \
                 {min_var}={min}, {min}+{step}, ... ({step_var}={step}); use a range \
                 (--array=MIN-MAX[:STEP]), not a list, or give the shard as --shard i/n"
            )),
        }
    }
}

/// What `--shard` says: a fixed shard `i/n`, or `slurm` (the shard of this Slurm array task,
/// see [`Shard::from_slurm`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShardArg {
    /// `i/n`.
    Fixed(Shard),
    /// `slurm`.
    Slurm,
}

impl std::str::FromStr for ShardArg {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("slurm") {
            return Ok(Self::Slurm);
        }
        s.parse::<Shard>()
            .map(Self::Fixed)
            .map_err(|e| format!("{e}, or `slurm`"))
    }
}

impl ShardArg {
    /// The shard: as given, or read from the environment through `var`.
    pub fn resolve(self, var: impl Fn(&str) -> Option<String>) -> Result<Shard, String> {
        match self {
            Self::Fixed(shard) => Ok(shard),
            Self::Slurm => Shard::from_slurm(var),
        }
    }
}

/// How one run of a sweep ended.
#[derive(Clone, Debug, PartialEq)]
pub enum RunStatus {
    /// Trained now.
    Trained(RunSummary),
    /// Already finished before this sweep: not trained again.
    Skipped(RunSummary),
    /// Failed, with the error (also written to the run's `error.txt`).
    Failed(String),
}

/// Hears about runs starting and ending; called from worker threads.
pub trait SweepObserver: Sync {
    /// A run is about to start (not called for skipped runs).
    fn run_started(&self, _run: &PlannedRun) {}
    /// A run ended.
    fn run_finished(&self, _run: &PlannedRun, _status: &RunStatus) {}
}

/// An observer that ignores everything.
impl SweepObserver for Silent {}

/// Runs `runs` under `root`, at most `jobs` at a time. A run whose directory already holds a
/// finished run is skipped, one with a checkpoint resumes, and a failing run is recorded and the
/// sweep goes on. Statuses come back in plan order.
pub fn run_sweep(
    runs: &[PlannedRun],
    root: &Path,
    jobs: usize,
    observer: &dyn SweepObserver,
) -> Vec<RunStatus> {
    run_units(runs, runs.len(), jobs, observer, |k| {
        vec![(k, run_one(&runs[k], root, observer))]
    })
}

/// The worker pool of a sweep: `count` units of work on at most `jobs` threads, each worker
/// taking the next unit when it finishes one. `work(u)` trains unit `u` and returns the plan
/// indices it settled with their statuses, each reported to `observer` as it comes. Statuses
/// come back in plan order; every run of `runs` must be settled by exactly one unit.
pub(crate) fn run_units(
    runs: &[PlannedRun],
    count: usize,
    jobs: usize,
    observer: &dyn SweepObserver,
    work: impl Fn(usize) -> Vec<(usize, RunStatus)> + Sync,
) -> Vec<RunStatus> {
    let next = AtomicUsize::new(0);
    let statuses: Mutex<Vec<Option<RunStatus>>> = Mutex::new(vec![None; runs.len()]);
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, count.max(1)) {
            scope.spawn(|| {
                loop {
                    let u = next.fetch_add(1, Ordering::Relaxed);
                    if u >= count {
                        break;
                    }
                    // The worker's core is in use for the whole unit, its data included, so
                    // no run borrows it meanwhile (`sdc_train::cores`).
                    let _core = sdc_train::cores::hold();
                    for (k, status) in work(u) {
                        observer.run_finished(&runs[k], &status);
                        statuses.lock().expect("a worker panicked while recording")[k] =
                            Some(status);
                    }
                }
            });
        }
    });
    statuses
        .into_inner()
        .expect("no worker holds the lock after the scope")
        .into_iter()
        .map(|s| s.expect("every run was taken by a worker"))
        .collect()
}

pub(crate) fn run_one(run: &PlannedRun, root: &Path, observer: &dyn SweepObserver) -> RunStatus {
    let dir = root.join(&run.rel_dir);
    match finished_run(&dir, Some(&run.config)) {
        Ok(Some(RunRecord::Completed(summary))) => return RunStatus::Skipped(*summary),
        // A diverged run diverges again: record it, don't retrain it.
        Ok(Some(RunRecord::Diverged(d))) => {
            return RunStatus::Failed(
                TrainError::Diverged {
                    epoch: d.epoch,
                    reason: d.reason,
                }
                .to_string(),
            );
        }
        Ok(None) => {}
        Err(e) => return RunStatus::Failed(e.to_string()),
    }
    observer.run_started(run);
    let error_file = dir.join(ERROR_FILE);
    match run_experiment(&run.config, &dir, &mut Silent) {
        Ok(summary) => {
            if error_file.exists() {
                let _ = std::fs::remove_file(&error_file);
            }
            info!(
                run = %run.rel_dir.display(),
                epochs = summary.epochs,
                accuracy = summary.train.summary.accuracy,
                ftpt = summary.train.summary.rates.ftpt,
                "run done"
            );
            RunStatus::Trained(summary)
        }
        Err(e) => {
            let message = e.to_string();
            warn!(run = %run.rel_dir.display(), error = %message, "run failed");
            // A refused lock is another writer's run, not this run's failure.
            if !matches!(e, TrainError::Locked(_)) {
                record_failure(&error_file, &message);
            }
            RunStatus::Failed(message)
        }
    }
}

/// Writes a run's failure next to it; a run that failed before its directory existed (its data
/// missing) gets the directory, so the report can name the failure.
pub(crate) fn record_failure(path: &Path, message: &str) {
    let written = match path.parent() {
        Some(dir) => std::fs::create_dir_all(dir)
            .map_err(|e| sdc_io::IoError::new(dir, "create the directory", e)),
        None => Ok(()),
    }
    .and_then(|()| sdc_io::write_atomic(path, message.as_bytes()));
    if let Err(e) = written {
        warn!(path = %path.display(), error = %e, "cannot record the failure");
    }
}

/// The recorded failure of a run directory, if it has one and is not finished.
pub(crate) fn recorded_failure(dir: &Path) -> Result<Option<String>, TrainError> {
    let path = dir.join(ERROR_FILE);
    if !path.is_file() || dir.join(MANIFEST_FILE).is_file() {
        return Ok(None);
    }
    let bytes = sdc_io::read_bounded(&path, 1 << 20)?;
    Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_before_the_run_directory_exists_is_still_recorded() {
        // A run whose data is missing fails before training creates its directory.
        let root = tempfile::tempdir().expect("a temporary directory");
        let dir = root.path().join("runs/cifar10-avg-layer/k=0/seed-00");
        record_failure(&dir.join(ERROR_FILE), "data/cifar-10-batches-bin: missing");
        let recorded = recorded_failure(&dir).expect("readable");
        assert_eq!(
            recorded.as_deref(),
            Some("data/cifar-10-batches-bin: missing")
        );
    }

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn slurm_arrays_map_to_shards_whatever_their_first_id() {
        let shard = |vars: &[(&str, &str)]| Shard::from_slurm(env(vars));
        let task = |id: &'static str, count, min| {
            vec![
                ("SLURM_ARRAY_TASK_ID", id),
                ("SLURM_ARRAY_TASK_COUNT", count),
                ("SLURM_ARRAY_TASK_MIN", min),
            ]
        };
        // --array=0-2 and --array=1-3 both give shards 1..=3 of 3.
        for (id, min, index) in [("0", "0", 1), ("2", "0", 3), ("1", "1", 1), ("3", "1", 3)] {
            assert_eq!(
                shard(&task(id, "3", min)),
                Ok(Shard { index, count: 3 }),
                "id {id} min {min}"
            );
        }
        // --array=10-14:2 is tasks 10, 12, 14.
        let mut stepped = task("12", "3", "10");
        stepped.push(("SLURM_ARRAY_TASK_STEP", "2"));
        assert_eq!(shard(&stepped), Ok(Shard { index: 2, count: 3 }));
        // Outside a Slurm array: a clear error naming the variable.
        let err = shard(&[]).expect_err("no Slurm");
        assert!(
            err.contains("SLURM_ARRAY_TASK_ID is not set") && err.contains("--shard i/n"),
            "{err}"
        );
        let err = shard(&task("7", "3", "1")).expect_err("a list, not a range");
        assert!(err.contains("SLURM_ARRAY_TASK_ID=7"), "{err}");
        let err = shard(&task("x", "3", "1")).expect_err("not a number");
        assert!(err.contains("\"x\""), "{err}");
    }

    #[test]
    fn shard_arguments_are_fixed_or_slurm() {
        assert_eq!("slurm".parse::<ShardArg>(), Ok(ShardArg::Slurm));
        assert_eq!(
            "2/3".parse::<ShardArg>(),
            Ok(ShardArg::Fixed(Shard { index: 2, count: 3 }))
        );
        let err = "4/3".parse::<ShardArg>().expect_err("out of range");
        assert!(err.contains("slurm"), "{err}");
        let fixed = ShardArg::Fixed(Shard { index: 1, count: 2 });
        assert_eq!(fixed.resolve(|_| None), Ok(Shard { index: 1, count: 2 }));
    }

    #[test]
    fn shards_are_disjoint_and_cover_the_plan() {
        let n = 23;
        for count in 1..5 {
            let shards: Vec<Shard> = (1..=count).map(|index| Shard { index, count }).collect();
            for k in 0..n {
                assert_eq!(
                    shards.iter().filter(|s| s.contains(k)).count(),
                    1,
                    "run {k}, {count} shards"
                );
            }
        }
    }

    #[test]
    fn shard_syntax_is_checked() {
        assert_eq!("2/3".parse::<Shard>(), Ok(Shard { index: 2, count: 3 }));
        for bad in ["0/2", "3/2", "1/0", "x", "1-2"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }
}
