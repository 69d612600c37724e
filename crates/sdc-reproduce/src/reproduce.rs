//! `reproduce`: run the paper's experiments (specs under `experiments/`) and report on them.

use std::path::{Path, PathBuf};

use sdc_interp::{
    ExperimentSection, Failure, MetricCell, Rendered, Report, RunScope, Table, TableRow, judge,
};

use sdc_train::{
    BackendKind, METRICS_FILE, RunRecord, RunSummary, StopReason, TrainError, finished_run,
    metric_value, read_rows,
};

use crate::experiment::{ExperimentSpec, PlannedRun, Profile, display_value};
use crate::replicas::{default_replicas, run_sweep_replicas};
use crate::robustness::{draw_verdicts, draws};
use crate::specs::SpecSource;
use crate::sweep::{RunStatus, Shard, SweepObserver, recorded_failure, run_sweep};

mod figures;
use figures::figures;
use sdc_train::replica::holds_replica_checkpoint;

/// A run counts as a silent failure when it is this accurate (%)...
pub(crate) const SILENT_ACCURACY: f64 = 95.0;
/// ...and its FFPT (%) is above this.
pub(crate) const SILENT_FFPT: f64 = 10.0;
/// A dead start never rises more than this many points above chance training accuracy.
pub(crate) const DEAD_MARGIN: f64 = 5.0;
/// The paper's "best runs": training accuracy above this (%).
pub(crate) const BEST_ACCURACY: f64 = 95.0;

/// What a reproduction does.
#[derive(Clone, Debug)]
pub struct ReproduceOptions {
    /// Where the experiment specs and their base configs come from.
    pub specs: SpecSource,
    /// Output directory: `runs/` and `report/` go below it.
    pub out: PathBuf,
    /// Quick or full.
    pub profile: Profile,
    /// Only these experiments (all when empty).
    pub only: Vec<String>,
    /// Runs in parallel.
    pub jobs: usize,
    /// Only this shard of the runs.
    pub shard: Option<Shard>,
    /// Backend for every run (default: each config's own).
    pub backend: Option<BackendKind>,
    /// Train missing runs (false: only report on what exists).
    pub train: bool,
    /// Dataset draws of every experiment (`--datasets`); `None`: each spec's own (its
    /// `datasets` in the full profile, 1 in the quick one). See [`crate::robustness`].
    pub datasets: Option<usize>,
    /// Seeds trained as one replica batch (`crate::replicas`); `None`: the planner chooses,
    /// `Some(1)`: every run alone.
    pub replicas: Option<usize>,
}

/// What a reproduction did.
#[derive(Debug)]
pub struct ReproduceOutcome {
    /// Runs in the plan (all experiments selected, all shards).
    pub planned: usize,
    /// Runs of this shard, with how they ended (empty when not training).
    pub statuses: Vec<(PlannedRun, RunStatus)>,
    /// The rendered report.
    pub rendered: Rendered,
}

/// The experiments of `source` selected by `only` (all when empty); an unknown name is an error
/// that lists the known ones.
pub fn select_specs(
    source: &SpecSource,
    only: &[String],
) -> Result<Vec<ExperimentSpec>, TrainError> {
    let specs = source.load()?;
    for name in only {
        if !specs.iter().any(|s| &s.name == name) {
            let known: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
            return Err(TrainError::Config {
                origin: "--only".into(),
                message: format!("no experiment named `{name}`; known: {}", known.join(", ")),
            });
        }
    }
    Ok(specs
        .into_iter()
        .filter(|s| only.is_empty() || only.contains(&s.name))
        .collect())
}

/// Every run of `specs` under `profile`, in plan order (experiment, dataset draw, grid point,
/// seed): without extra draws, the plan and its shards are those of a reproduction before draws.
pub fn plan(
    specs: &[ExperimentSpec],
    options: &ReproduceOptions,
) -> Result<Vec<PlannedRun>, TrainError> {
    let mut runs = Vec::new();
    for spec in specs {
        for draw in 0..draws(spec, options.profile, options.datasets)? {
            for mut run in spec.plan_draw(&options.specs, options.profile, draw)? {
                if let Some(backend) = options.backend {
                    run.config.train.backend = backend;
                }
                runs.push(run);
            }
        }
    }
    Ok(runs)
}

/// The cost plan of the selected experiments (`reproduce --plan`) as printable text: recorded
/// epoch costs from `out/runs` where runs exist, else calibration runs under `out/calibration`.
pub fn plan_report(options: &ReproduceOptions) -> Result<String, TrainError> {
    let specs = select_specs(&options.specs, &options.only)?;
    let runs = plan(&specs, options)?;
    let costs = crate::plan::estimate(
        &specs,
        &runs,
        &options.out.join("runs"),
        &options.out.join("calibration"),
    )?;
    Ok(crate::plan::plan_text(&costs, options.jobs))
}

/// Runs (this shard of) the selected experiments, then renders the report over every run that
/// exists under `out/runs`.
pub fn reproduce(
    options: &ReproduceOptions,
    observer: &dyn SweepObserver,
) -> Result<ReproduceOutcome, TrainError> {
    // One writer per output directory: a second reproduce on it is refused, naming the first.
    let _lock = sdc_io::DirLock::acquire(&options.out, "sdc reproduce")?;
    let specs = select_specs(&options.specs, &options.only)?;
    let all = plan(&specs, options)?;
    let planned = all.len();
    let runs_root = options.out.join("runs");
    let mut statuses = Vec::new();
    if options.train {
        let mine = match options.shard {
            Some(shard) => shard.select(all),
            None => all,
        };
        let replicas = options
            .replicas
            .unwrap_or_else(|| default_replicas(&mine, options.jobs));
        // A run holding a replica group's checkpoint resumes only in a group.
        let resumes_a_group = mine
            .iter()
            .any(|run| holds_replica_checkpoint(&runs_root.join(&run.rel_dir)));
        let results = if replicas > 1 || resumes_a_group {
            run_sweep_replicas(&mine, &runs_root, options.jobs, replicas, observer)
        } else {
            run_sweep(&mine, &runs_root, options.jobs, observer)
        };
        statuses = mine.into_iter().zip(results).collect();
    }
    let report = build_report(&specs, options, &runs_root)?;
    let rendered = sdc_interp::render(&report, &options.out.join("report"))
        .map_err(|e| TrainError::io(options.out.join("report"), e))?;
    Ok(ReproduceOutcome {
        planned,
        statuses,
        rendered,
    })
}

/// What exists on disk for one grid point.
pub(crate) struct PointRuns {
    label: Vec<String>,
    values: Vec<toml::Value>,
    /// The finished runs.
    pub(crate) summaries: Vec<(PlannedRun, RunSummary)>,
    /// The failed runs.
    pub(crate) failures: Vec<Failure>,
    missing: usize,
}

/// Builds the report data from the run directories under `runs_root`.
pub(crate) fn build_report(
    specs: &[ExperimentSpec],
    options: &ReproduceOptions,
    runs_root: &Path,
) -> Result<Report, TrainError> {
    let mut experiments = Vec::new();
    for spec in specs {
        let runs = plan(std::slice::from_ref(spec), options)?;
        // The verdict, table and figures are draw 0's (the paper's dataset); other draws add
        // their own verdicts and failures.
        let (paper, others): (Vec<PlannedRun>, Vec<PlannedRun>) =
            runs.into_iter().partition(|r| r.draw == 0);
        let mut section = section(spec, options.profile, &paper, runs_root)?;
        if !others.is_empty() {
            let (verdicts, failures) =
                draw_verdicts(spec, options.profile, &paper, &others, runs_root)?;
            section.draws = verdicts;
            section.failures.extend(failures);
        }
        experiments.push(section);
    }
    Ok(Report {
        title: "sdc: reproducing \"On the Interpretability of Attention Networks\" (Pandey et al., ACML 2022)".into(),
        profile: profile_text(options),
        generated_by: command_text(options),
        experiments,
    })
}

/// The spec folder of a custom run: one other than the built-in specs or the repository's
/// `experiments/`.
fn custom_specs(options: &ReproduceOptions) -> Option<&Path> {
    match &options.specs {
        SpecSource::Dir { experiments, root } if *experiments != root.join("experiments") => {
            Some(experiments)
        }
        _ => None,
    }
}

/// The profile as the report's header names it: `quick`, `full`, or `custom (...)` when the
/// experiments come from another directory than the built-in or the repository's specs.
fn profile_text(options: &ReproduceOptions) -> String {
    let name = options.profile.name();
    let mut text = match custom_specs(options) {
        None => name.to_owned(),
        Some(dir) => format!("custom (the {name} profile of {})", dir.display()),
    };
    if !options.only.is_empty() {
        text.push_str(&format!(", only {}", options.only.join(", ")));
    }
    text
}

/// The command line that reproduces this report's selection.
fn command_text(options: &ReproduceOptions) -> String {
    let mut text = format!("sdc {} — sdc reproduce", env!("CARGO_PKG_VERSION"));
    if options.profile == Profile::Quick {
        text.push_str(" --quick");
    }
    for name in &options.only {
        text.push_str(&format!(" --only {name}"));
    }
    if let Some(n) = options.datasets {
        text.push_str(&format!(" --datasets {n}"));
    }
    if let Some(dir) = custom_specs(options) {
        text.push_str(&format!(" --experiments {}", dir.display()));
    }
    text
}

/// Chance accuracy (%) of a run's task: 100 / number of labels.
fn chance(run: &PlannedRun) -> Option<f64> {
    let (_, n_classes) = run.config.data.shape_and_classes().ok()?;
    Some(100.0 / n_classes.max(1) as f64)
}

/// Whether a run is a dead start: its training accuracy never rose more than [`DEAD_MARGIN`]
/// above chance (its best logged accuracy, or its final one when nothing was logged). A run
/// whose attention training updates neither network (both frozen; it evaluates its initial or
/// pretrained model) never starts, so it is never a dead start, whatever its accuracy.
fn dead_start(run: &PlannedRun, summary: &RunSummary, root: &Path) -> bool {
    if run.config.train.trains_nothing() {
        return false;
    }
    let Some(chance) = chance(run) else {
        return false;
    };
    let logged = read_rows(&root.join(&run.rel_dir).join(METRICS_FILE))
        .ok()
        .and_then(|rows| {
            rows.iter()
                .filter_map(|r| r.train_accuracy)
                .max_by(f64::total_cmp)
        });
    let best = logged.unwrap_or(0.0).max(summary.train.summary.accuracy);
    best <= chance + DEAD_MARGIN
}

/// The runs of one grid point each, as they stand under `root`: finished, failed or missing.
pub(crate) fn collect_points(
    spec: &ExperimentSpec,
    profile: Profile,
    runs: &[PlannedRun],
    root: &Path,
) -> Result<Vec<PointRuns>, TrainError> {
    let mut points: Vec<PointRuns> = spec
        .points(profile)
        .into_iter()
        .map(|values| PointRuns {
            label: values.iter().map(display_value).collect(),
            values,
            summaries: Vec::new(),
            failures: Vec::new(),
            missing: 0,
        })
        .collect();
    for run in runs {
        let dir = root.join(&run.rel_dir);
        let point = &mut points[run.point];
        let failure = |error: String| Failure {
            run: run.rel_dir.display().to_string(),
            error,
        };
        // One unreadable run costs that run, never the report.
        match finished_run(&dir, Some(&run.config)) {
            Ok(Some(RunRecord::Completed(summary))) => {
                point.summaries.push((run.clone(), *summary))
            }
            Ok(Some(RunRecord::Diverged(d))) => point.failures.push(failure(
                TrainError::Diverged {
                    epoch: d.epoch,
                    reason: d.reason,
                }
                .to_string(),
            )),
            Err(e) => point.failures.push(failure(e.to_string())),
            Ok(None) => match recorded_failure(&dir) {
                Ok(Some(error)) => point.failures.push(failure(error)),
                Ok(None) => point.missing += 1,
                Err(e) => point.failures.push(failure(e.to_string())),
            },
        }
    }
    Ok(points)
}

/// The results table of `points` (one dataset draw of `spec`): per grid point, run counts and
/// each metric over its runs, the verdict metric over the rule's runs.
pub(crate) fn results_table(
    spec: &ExperimentSpec,
    profile: Profile,
    points: &[PointRuns],
    root: &Path,
) -> Table {
    let axes = spec.axes(profile);
    let columns: Vec<String> = axes.iter().map(|a| a.label().to_string()).collect();
    let mut metrics = spec.metrics.clone();
    if !metrics.contains(&spec.verdict.metric) {
        metrics.insert(0, spec.verdict.metric.clone());
    }
    // The verdict metric over the rule's runs: all, or the paper's best runs.
    let judged = |name: &String, s: &RunSummary| {
        name != &spec.verdict.metric
            || spec.verdict.runs == RunScope::All
            || s.train.summary.accuracy > BEST_ACCURACY
    };
    let rows: Vec<TableRow> = points
        .iter()
        .map(|p| TableRow {
            point: p.label.clone(),
            n_runs: p.summaries.len(),
            n_failed: p.failures.len(),
            n_dead: (p.summaries.iter())
                .filter(|(run, s)| dead_start(run, s, root))
                .count(),
            metrics: metrics
                .iter()
                .map(|name| {
                    let values: Vec<f64> = p
                        .summaries
                        .iter()
                        .filter(|(_, s)| judged(name, s))
                        .filter_map(|(_, s)| metric_value(s, name))
                        .collect();
                    MetricCell::new(name, values, spec.reference_value(&p.values, name))
                })
                .collect(),
        })
        .collect();
    Table { columns, rows }
}

fn section(
    spec: &ExperimentSpec,
    profile: Profile,
    runs: &[PlannedRun],
    root: &Path,
) -> Result<ExperimentSection, TrainError> {
    let points = collect_points(spec, profile, runs, root)?;
    let table = results_table(spec, profile, &points, root);
    let (verdict, verdict_reason) = judge(&table, &spec.verdict);

    let mut notes = Vec::new();
    let missing: usize = points.iter().map(|p| p.missing).sum();
    if missing > 0 {
        notes.push(format!(
            "{missing} of {} runs have not run yet (another shard, or interrupted).",
            runs.len()
        ));
    }
    let all: Vec<&RunSummary> = points
        .iter()
        .flat_map(|p| p.summaries.iter().map(|(_, s)| s))
        .collect();
    let silent = all
        .iter()
        .filter(|s| {
            s.train.summary.accuracy >= SILENT_ACCURACY && s.train.summary.rates.ffpt > SILENT_FFPT
        })
        .count();
    let dead: usize = table.rows.iter().map(|r| r.n_dead).sum();
    let untrained = points
        .iter()
        .flat_map(|p| &p.summaries)
        .filter(|(run, _)| run.config.train.trains_nothing())
        .count();
    if !all.is_empty() {
        let untrained = match untrained {
            0 => String::new(),
            n => format!(
                " ({n} runs freeze both networks, so their attention training updates nothing: \
                 they are not counted)"
            ),
        };
        notes.push(format!(
            "Dead starts: {dead} of {} runs never rose more than {DEAD_MARGIN} points above \
             chance training accuracy{untrained}; the verdict is over {}.",
            all.len(),
            spec.verdict.runs.as_str()
        ));
    }
    if !all.is_empty() {
        notes.push(format!(
            "Silent failures: {silent} of {} runs are accurate (train accuracy >= {SILENT_ACCURACY}%) yet attend \
             elsewhere on more than {SILENT_FFPT}% of the training set (FFPT).",
            all.len()
        ));
    }
    let unconverged = all
        .iter()
        .filter(|s| s.stop_reason == StopReason::MaxEpochs)
        .count();
    if unconverged > 0 {
        notes.push(format!(
            "{unconverged} of {} runs reached max_epochs before the stop rule's loss.",
            all.len()
        ));
    }

    Ok(ExperimentSection {
        name: spec.name.clone(),
        claim: spec.claim.clone(),
        source: spec.source.clone(),
        verdict,
        verdict_reason,
        rule: spec.verdict.clone(),
        figures: figures(spec, &table, &points, root)?,
        table,
        failures: points.into_iter().flat_map(|p| p.failures).collect(),
        notes,
        draws: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sdc_train::ExperimentConfig;

    /// The `summary.json` of a cheating-grid run with both networks frozen: a random model at
    /// 35.1% training accuracy on 3 classes, within [`DEAD_MARGIN`] of chance.
    const UNTRAINED: &str = include_str!("../tests/fixtures/untrained-summary.json");

    fn run(freeze: &str) -> PlannedRun {
        PlannedRun {
            experiment: "e".into(),
            draw: 0,
            point: 0,
            seed: 1,
            rel_dir: PathBuf::from("e/seed-01"),
            config: ExperimentConfig::default_with(&[format!("train.freeze={freeze}")])
                .expect("config"),
        }
    }

    #[test]
    fn a_run_that_trains_nothing_is_never_a_dead_start() {
        let summary: RunSummary = serde_json::from_str(UNTRAINED).expect("a run summary");
        // No metrics file under this root: the final accuracy decides.
        let root = tempfile::tempdir().expect("tempdir");
        assert!(
            dead_start(&run("[]"), &summary, root.path()),
            "trained to chance accuracy: a dead start"
        );
        assert!(
            dead_start(&run(r#"["focus"]"#), &summary, root.path()),
            "the classifier trained, to chance: a dead start"
        );
        assert!(
            !dead_start(&run(r#"["focus", "classifier"]"#), &summary, root.path()),
            "nothing trained: not a start at all"
        );
    }
}
