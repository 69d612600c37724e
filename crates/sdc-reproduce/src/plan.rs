//! `reproduce --plan`: what a reproduction will cost before it starts. Per experiment, the
//! number of runs and an estimate of their CPU time; the total, and the wall time for `--jobs N`.
//!
//! The cost is taken, in this order, from runs already finished under the output directory
//! ("recorded": their mean training time per run, stop rule included), or from a short
//! calibration: the experiment's first and last grid points trained for [`CALIBRATION_EPOCHS`]
//! epochs ("measured"). A measured estimate charges every run `max_epochs` epochs, so it is an
//! upper bound: a run that meets its stop rule's loss earlier costs less. A recorded estimate from
//! replica-grouped runs is an upper bound too: every member of a group records the group's wall
//! time (`docs/run-directories.md`, Replica groups), which it shared with the other seeds.

use std::fmt::Write as _;
use std::path::Path;

use sdc_train::{RunRecord, Silent, TrainError, finished_run, run_experiment};

use crate::experiment::{ExperimentSpec, PlannedRun};

/// Epochs of a calibration run.
pub const CALIBRATION_EPOCHS: usize = 2;

/// Where an experiment's cost per epoch comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum CostSource {
    /// Finished runs of this experiment in the output directory (how many).
    Recorded(usize),
    /// Calibration runs trained just now (how many).
    Measured(usize),
    /// No estimate: the experiment's data is not on this machine (the reason). Its runs would
    /// fail the same way, so the totals leave it out and say so.
    Unavailable(String),
}

/// One experiment's estimated cost.
#[derive(Clone, Debug, PartialEq)]
pub struct ExperimentCost {
    /// The experiment.
    pub name: String,
    /// Its runs in the plan.
    pub runs: usize,
    /// CPU seconds per training epoch (one run, one core).
    pub seconds_per_epoch: f64,
    /// CPU seconds of all its runs: recorded runs' mean, or (measured) an upper bound charging
    /// each run `max_epochs`.
    pub cpu_seconds: f64,
    /// Where `seconds_per_epoch` comes from.
    pub source: CostSource,
}

/// Seconds per epoch of finished runs: total training time over total epochs.
fn per_epoch(summaries: &[(f64, usize)]) -> Option<f64> {
    let seconds: f64 = summaries.iter().map(|s| s.0).sum();
    let epochs: usize = summaries.iter().map(|s| s.1).sum();
    (epochs > 0).then(|| seconds / epochs as f64)
}

/// Estimates the cost of `runs` (the plan of `specs`): recorded costs from `runs_root` where
/// runs have finished, else calibration runs trained under `calibration_root`.
pub fn estimate(
    specs: &[ExperimentSpec],
    runs: &[PlannedRun],
    runs_root: &Path,
    calibration_root: &Path,
) -> Result<Vec<ExperimentCost>, TrainError> {
    let mut costs = Vec::new();
    for spec in specs {
        let mine: Vec<&PlannedRun> = runs.iter().filter(|r| r.experiment == spec.name).collect();
        if mine.is_empty() {
            continue;
        }
        let recorded: Vec<(f64, usize)> = mine
            .iter()
            .filter_map(
                |r| match finished_run(&runs_root.join(&r.rel_dir), Some(&r.config)) {
                    Ok(Some(RunRecord::Completed(s))) => Some((s.train_seconds, s.epochs)),
                    _ => None,
                },
            )
            .collect();
        let (seconds_per_epoch, source) = match per_epoch(&recorded) {
            Some(s) => (s, CostSource::Recorded(recorded.len())),
            None => {
                // Draw 0's first and last grid points: an epoch costs the same on every
                // dataset draw, and the calibration directories are named by grid point only.
                let first_draw: Vec<&PlannedRun> = (mine.iter().copied())
                    .filter(|r| r.draw == mine[0].draw)
                    .collect();
                let ends = [first_draw[0], first_draw[first_draw.len() - 1]];
                let mut measured = Vec::new();
                let mut unavailable = None;
                for (k, run) in ends.iter().enumerate() {
                    if k == 1 && run.point == ends[0].point {
                        break;
                    }
                    let mut config = run.config.clone();
                    config.train.max_epochs = CALIBRATION_EPOCHS.min(config.train.max_epochs);
                    config.train.stop = None;
                    let dir = calibration_root
                        .join(&spec.name)
                        .join(format!("point-{}", run.point));
                    let summary = match finished_run(&dir, Some(&config))? {
                        Some(RunRecord::Completed(s)) => Ok(*s),
                        _ => run_experiment(&config, &dir, &mut Silent),
                    };
                    match summary {
                        Ok(summary) => measured.push((summary.train_seconds, summary.epochs)),
                        // Missing data is the machine's, not the plan's: say so and go on.
                        Err(TrainError::Data(e)) => {
                            unavailable = Some(e.to_string());
                            break;
                        }
                        Err(e) => return Err(e),
                    }
                }
                let s = per_epoch(&measured).unwrap_or(0.0);
                match unavailable.take() {
                    Some(why) => (s, CostSource::Unavailable(why)),
                    None => (s, CostSource::Measured(measured.len())),
                }
            }
        };
        // Recorded runs say how long a run really trains (its stop rule included); calibration
        // only knows the epoch, so each run is charged max_epochs.
        let cpu_seconds = match source {
            CostSource::Recorded(n) => {
                let seconds: f64 = recorded.iter().map(|r| r.0).sum();
                seconds / n as f64 * mine.len() as f64
            }
            CostSource::Measured(_) => {
                let epochs: usize = mine.iter().map(|r| r.config.train.max_epochs).sum();
                seconds_per_epoch * epochs as f64
            }
            CostSource::Unavailable(_) => 0.0,
        };
        costs.push(ExperimentCost {
            name: spec.name.clone(),
            runs: mine.len(),
            seconds_per_epoch,
            cpu_seconds,
            source,
        });
    }
    Ok(costs)
}

/// `1 h 02 min`, `3 min 20 s`, `12 s`.
pub fn duration_text(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min {:02} s", s / 60, s % 60),
        _ => format!("{} h {:02} min", s / 3600, (s % 3600) / 60),
    }
}

/// The plan as a table: runs, cost per epoch and its source, CPU time per experiment, then the
/// total CPU time and the wall time with `jobs` runs in parallel (perfect packing: a lower
/// bound on the wall time of those upper-bound runs).
pub fn plan_text(costs: &[ExperimentCost], jobs: usize) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<24} {:>5} {:>10}  {:<22} {:>14}",
        "experiment", "runs", "s/epoch", "cost from", "CPU time"
    );
    let mut unavailable = Vec::new();
    for c in costs {
        let source = match &c.source {
            CostSource::Recorded(n) => format!("recorded ({n} runs)"),
            CostSource::Measured(n) => format!("measured ({n} x {CALIBRATION_EPOCHS} epochs)"),
            CostSource::Unavailable(why) => {
                unavailable.push(format!("{} ({} runs): {why}", c.name, c.runs));
                let _ = writeln!(
                    s,
                    "{:<24} {:>5} {:>10}  {:<22} {:>14}",
                    c.name, c.runs, "-", "no data", "-"
                );
                continue;
            }
        };
        let _ = writeln!(
            s,
            "{:<24} {:>5} {:>10.4}  {:<22} {:>14}",
            c.name,
            c.runs,
            c.seconds_per_epoch,
            source,
            duration_text(c.cpu_seconds)
        );
    }
    let estimated = || {
        costs
            .iter()
            .filter(|c| !matches!(c.source, CostSource::Unavailable(_)))
    };
    let runs: usize = estimated().map(|c| c.runs).sum();
    let cpu: f64 = estimated().map(|c| c.cpu_seconds).sum();
    let jobs = jobs.clamp(1, runs.max(1));
    let _ = writeln!(
        s,
        "total: {runs} runs, about {} of CPU time; with --jobs {jobs}, about {} of wall time \
         (measured experiments are charged max_epochs per run, and replica-grouped runs record \
         their group's time: upper bounds)",
        duration_text(cpu),
        duration_text(cpu / jobs as f64)
    );
    for line in unavailable {
        let _ = writeln!(s, "not in the total, its data is missing: {line}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_and_durations() {
        assert_eq!(duration_text(12.4), "12 s");
        assert_eq!(duration_text(200.0), "3 min 20 s");
        assert_eq!(duration_text(3720.0), "1 h 02 min");
        assert_eq!(per_epoch(&[(2.0, 4), (4.0, 8)]), Some(0.5));
        assert_eq!(per_epoch(&[]), None);
        let costs = vec![
            ExperimentCost {
                name: "a".into(),
                runs: 10,
                seconds_per_epoch: 0.5,
                cpu_seconds: 500.0,
                source: CostSource::Recorded(10),
            },
            ExperimentCost {
                name: "b".into(),
                runs: 2,
                seconds_per_epoch: 1.0,
                cpu_seconds: 100.0,
                source: CostSource::Measured(2),
            },
            ExperimentCost {
                name: "c".into(),
                runs: 7,
                seconds_per_epoch: 0.0,
                cpu_seconds: 0.0,
                source: CostSource::Unavailable("data/x: missing y.bin".into()),
            },
        ];
        let text = plan_text(&costs, 4);
        assert!(text.contains("recorded (10 runs)"), "{text}");
        assert!(text.contains("measured (2 x 2 epochs)"), "{text}");
        assert!(
            text.contains(
                "total: 12 runs, about 10 min 00 s of CPU time; with --jobs 4, about 2 min 30 s"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "not in the total, its data is missing: c (7 runs): data/x: missing y.bin"
            ),
            "{text}"
        );
    }
}
