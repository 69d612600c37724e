//! Parity with an independent implementation: train the same grid points and seeds with sdc and
//! with a reference trainer of the same protocol (bench/pytorch/reference.py, PyTorch), then
//! compare the two distributions over seeds per grid point (`cargo xtask parity --vs pytorch`).
//!
//! A "not reproduced" verdict can mean that sdc differs from the paper's implementation, or that
//! the paper's claim does not survive more seeds. When an independent PyTorch implementation of
//! the same protocol lands where sdc lands, the difference is the paper's, not ours; where the two
//! differ significantly, the difference is ours to explain. `docs/parity.md` is the record.
//!
//! The reference trainer reads the resolved `config.toml` of the sdc run of the same grid point
//! and seed, and the same `.sdc` files sdc trained on; it draws its own initial weights with
//! PyTorch's generator (an independent implementation, not a bit-level replay). Its result is one
//! JSON object per run (`{"train": {"accuracy", "ftpt", ...}, "test": {...}}`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use sdc_interp::compare::{MannWhitney, fisher_exact, holm, mann_whitney};
use sdc_interp::{Stats, describe};
use sdc_model::InitSeeding;
use sdc_train::{BEST_RUN_ACCURACY, BackendKind, TrainError, metric_value};
use serde::{Deserialize, Serialize};

use crate::experiment::{ExperimentSpec, PlannedRun, Profile, display_value};
use crate::specs::SpecSource;
use crate::sweep::{RunStatus, SweepObserver, run_sweep};

/// The schema tag every reference result carries.
pub const REFERENCE_SCHEMA: &str = "sdc-parity-reference/1";
/// Significance level for flagging a difference (after Holm's adjustment over the document).
pub const ALPHA: f64 = 0.05;

/// The reference trainer: a Python interpreter and the script.
#[derive(Clone, Debug)]
pub struct ReferenceTrainer {
    /// The interpreter (e.g. `bench/.venv/bin/python`).
    pub python: PathBuf,
    /// The trainer script (bench/pytorch/reference.py).
    pub script: PathBuf,
    /// Threads per reference run.
    pub threads: usize,
}

/// What a parity run does.
#[derive(Clone, Debug)]
pub struct ParityOptions {
    /// Where the experiment specs come from.
    pub specs: SpecSource,
    /// Output root: `sdc/`, `pytorch/` and `data/` go below it.
    pub out: PathBuf,
    /// Quick or full (grid points, epochs and seeds, unless `seeds` overrides the seeds).
    pub profile: Profile,
    /// The experiments compared.
    pub only: Vec<String>,
    /// Seeds per grid point (default: the profile's).
    pub seeds: Option<usize>,
    /// Each seeding compared (every grid point runs once per seeding).
    pub seedings: Vec<InitSeeding>,
    /// Runs in parallel (sdc runs, then reference runs).
    pub jobs: usize,
    /// Backend of the sdc runs (default: each config's own).
    pub backend: Option<BackendKind>,
    /// The reference trainer.
    pub reference: ReferenceTrainer,
}

/// One run's outcome on each side.
#[derive(Clone, Debug, Default)]
struct Outcomes {
    sdc: Vec<(f64, f64)>,
    reference: Vec<(f64, f64)>,
    diverged: (u64, u64),
    failures: Vec<String>,
}

/// sdc against the reference at one grid point under one seeding.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ParityRow {
    /// The experiment.
    pub experiment: String,
    /// `independent` or `shared`.
    pub seeding: String,
    /// The grid point (`k=1`, `dist=em2`).
    pub point: String,
    /// The metric compared (the experiment's verdict metric).
    pub metric: String,
    /// sdc's values over seeds.
    pub sdc: Stats,
    /// The reference's values over seeds.
    pub reference: Stats,
    /// The paper's number, when the spec has one.
    pub paper: Option<f64>,
    /// Mann-Whitney comparison (x = sdc, y = reference).
    pub test: Option<MannWhitney>,
    /// The Mann-Whitney p-value after Holm's adjustment over every row of the document.
    pub p_holm: Option<f64>,
    /// Runs above the best-run accuracy on the metric's split: sdc (hits, runs).
    pub sdc_accurate: (u64, u64),
    /// The same for the reference.
    pub reference_accurate: (u64, u64),
    /// Fisher's exact p-value on the accurate-run counts.
    pub fisher_p: Option<f64>,
    /// Runs that diverged (a legitimate outcome, not counted above): sdc, reference.
    pub diverged: (u64, u64),
    /// Runs that failed on either side for any other reason (named), not counted above.
    pub failures: Vec<String>,
}

impl ParityRow {
    /// Whether the two distributions differ significantly after adjustment.
    pub fn significant(&self) -> bool {
        self.p_holm.is_some_and(|p| p < ALPHA)
    }
}

fn seeding_name(seeding: InitSeeding) -> &'static str {
    match seeding {
        InitSeeding::Independent => "independent",
        InitSeeding::Shared => "shared",
    }
}

/// The runs of `spec` for `options`: the profile's grid, `options.seeds` seeds, under
/// `seeding` (its own directory level when shared).
fn planned(
    spec: &ExperimentSpec,
    options: &ParityOptions,
    seeding: InitSeeding,
) -> Result<Vec<PlannedRun>, TrainError> {
    let mut spec = spec.clone();
    if let Some(n) = options.seeds {
        spec.seeds = n;
        spec.quick.seeds = Some(n);
    }
    let mut runs = spec.plan(&options.specs, options.profile)?;
    for run in &mut runs {
        run.config.model.init_seeding = seeding;
        if let Some(backend) = options.backend {
            run.config.train.backend = backend;
        }
        run.rel_dir = PathBuf::from(seeding_name(seeding)).join(&run.rel_dir);
    }
    Ok(runs)
}

/// The split a metric is measured on (`train.ftpt` -> `train`).
fn split_of(metric: &str) -> &str {
    metric
        .trim_start_matches("best.")
        .split_once('.')
        .map_or("train", |(split, _)| split)
}

/// Writes the data of every distinct data section among `runs` once, under `root`; returns the
/// data directory of each run.
fn write_data(runs: &[PlannedRun], root: &Path) -> Result<Vec<PathBuf>, TrainError> {
    let mut dirs: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut out = Vec::with_capacity(runs.len());
    for run in runs {
        let meta = serde_json::to_value(&run.config.data).map_err(|e| TrainError::Config {
            origin: run.rel_dir.display().to_string(),
            message: format!("describing the data config: {e}"),
        })?;
        let key = meta.to_string();
        let dir = match dirs.get(&key) {
            Some(dir) => dir.clone(),
            None => {
                let dir = root.join(format!("data-{:02}", dirs.len()));
                let meta_file = dir.join("data.json");
                let stored = std::fs::read_to_string(&meta_file).ok();
                if stored.as_deref() != Some(key.as_str())
                    || !dir.join(sdc_data::TEST_FILE).is_file()
                {
                    let splits = run.config.data.load()?;
                    sdc_data::save_splits(&splits, &meta, &dir)?;
                    sdc_io::write_atomic(&meta_file, key.as_bytes())
                        .map_err(|e| TrainError::io(&meta_file, e))?;
                }
                dirs.insert(key, dir.clone());
                dir
            }
        };
        out.push(dir);
    }
    Ok(out)
}

/// The reference's value of `metric` (`train.ftpt`, `test.accuracy`) in its result object.
fn reference_metric(result: &serde_json::Value, metric: &str) -> Option<f64> {
    let (split, field) = metric.split_once('.')?;
    result.get(split)?.get(field)?.as_f64()
}

/// Reads a finished reference result, `None` when absent or not a complete result.
fn read_reference(path: &Path) -> Option<serde_json::Value> {
    let text = std::fs::read_to_string(path).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    (value.get("schema")?.as_str()? == REFERENCE_SCHEMA).then_some(value)
}

/// The copy of the configuration a reference result was trained from, next to it.
fn trained_config(result: &Path) -> PathBuf {
    result.with_file_name("config.toml")
}

/// A finished reference result for exactly `config` (the sdc run's `config.toml` text): a
/// result trained from another configuration (an edited spec, another profile) is not reused.
fn reusable_reference(result: &Path, config: &str) -> Option<serde_json::Value> {
    let trained = std::fs::read_to_string(trained_config(result)).ok()?;
    (trained == config)
        .then(|| read_reference(result))
        .flatten()
}

/// Runs the reference trainer for one run (unless its result for this configuration exists);
/// the result or an error naming the run and the trainer's last words.
fn run_reference(
    trainer: &ReferenceTrainer,
    config: &Path,
    data: &Path,
    result: &Path,
) -> Result<serde_json::Value, String> {
    let config_text =
        std::fs::read_to_string(config).map_err(|e| format!("{}: {e}", config.display()))?;
    if let Some(done) = reusable_reference(result, &config_text) {
        return Ok(done);
    }
    if let Some(parent) = result.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    let output = Command::new(&trainer.python)
        .arg(&trainer.script)
        .arg("--config")
        .arg(config)
        .arg("--train")
        .arg(data.join(sdc_data::TRAIN_FILE))
        .arg("--test")
        .arg(data.join(sdc_data::TEST_FILE))
        .arg("--out")
        .arg(result)
        .arg("--threads")
        .arg(trainer.threads.to_string())
        .output()
        .map_err(|e| format!("starting {}: {e}", trainer.python.display()))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr.lines().last().unwrap_or("").trim();
        return Err(format!("reference trainer {}: {last}", output.status));
    }
    let done = read_reference(result).ok_or_else(|| {
        format!(
            "reference trainer exited 0 but {} is not a {REFERENCE_SCHEMA} result",
            result.display()
        )
    })?;
    // Written after the result: a crash in between leaves a result that is trained again.
    let copy = trained_config(result);
    sdc_io::write_atomic(&copy, config_text.as_bytes())
        .map_err(|e| format!("{}: {e}", copy.display()))?;
    Ok(done)
}

/// Trains (or finds) every run on both sides and compares them per grid point; rows in
/// experiment, seeding, grid-point order, with Holm's adjustment over all of them.
pub fn parity(
    options: &ParityOptions,
    observer: &dyn SweepObserver,
) -> Result<Vec<ParityRow>, TrainError> {
    let _lock = sdc_io::DirLock::acquire(&options.out, "cargo xtask parity")?;
    let specs = crate::reproduce::select_specs(&options.specs, &options.only)?;
    let mut runs = Vec::new();
    for spec in &specs {
        for &seeding in &options.seedings {
            runs.extend(planned(spec, options, seeding)?);
        }
    }
    let sdc_root = options.out.join("sdc");
    let statuses = run_sweep(&runs, &sdc_root, options.jobs, observer);
    let data = write_data(&runs, &options.out.join("data"))?;

    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<serde_json::Value, String>>>> =
        Mutex::new(vec![None; runs.len()]);
    std::thread::scope(|scope| {
        for _ in 0..options.jobs.clamp(1, runs.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    let Some(run) = runs.get(k) else { break };
                    let result = match &statuses[k] {
                        RunStatus::Failed(e) if !e.starts_with("diverged") => {
                            Err("not run: the sdc run failed".into())
                        }
                        _ => run_reference(
                            &options.reference,
                            &sdc_root.join(&run.rel_dir).join("config.toml"),
                            &data[k],
                            &options
                                .out
                                .join("pytorch")
                                .join(&run.rel_dir)
                                .join("result.json"),
                        ),
                    };
                    tracing::info!(
                        run = %run.rel_dir.display(),
                        ok = result.is_ok(),
                        "reference run finished"
                    );
                    results.lock().expect("a worker panicked while recording")[k] = Some(result);
                }
            });
        }
    });
    let results: Vec<Result<serde_json::Value, String>> = results
        .into_inner()
        .expect("no worker holds the lock after the scope")
        .into_iter()
        .map(|r| r.expect("every run was taken by a worker"))
        .collect();

    let mut rows = Vec::new();
    for spec in &specs {
        let metric = &spec.verdict.metric;
        let accuracy = format!("{}.accuracy", split_of(metric));
        let axes = spec.axes(options.profile);
        let points = spec.points(options.profile);
        for &seeding in &options.seedings {
            let mut outcomes = vec![Outcomes::default(); points.len()];
            for (k, run) in runs.iter().enumerate() {
                if run.experiment != spec.name || run.config.model.init_seeding != seeding {
                    continue;
                }
                let slot = &mut outcomes[run.point];
                let name = run.rel_dir.display();
                match &statuses[k] {
                    RunStatus::Trained(s) | RunStatus::Skipped(s) => {
                        match (metric_value(s, metric), metric_value(s, &accuracy)) {
                            (Some(v), Some(a)) => slot.sdc.push((v, a)),
                            _ => slot.failures.push(format!("{name}: sdc has no {metric}")),
                        }
                    }
                    RunStatus::Failed(e) if e.starts_with("diverged") => slot.diverged.0 += 1,
                    RunStatus::Failed(e) => slot.failures.push(format!("{name}: sdc: {e}")),
                }
                match &results[k] {
                    Ok(r) if r.get("stop_reason").and_then(|v| v.as_str()) == Some("diverged") => {
                        slot.diverged.1 += 1
                    }
                    Ok(r) => match (reference_metric(r, metric), reference_metric(r, &accuracy)) {
                        (Some(v), Some(a)) => slot.reference.push((v, a)),
                        _ => slot
                            .failures
                            .push(format!("{name}: the reference result has no {metric}")),
                    },
                    Err(e) => slot.failures.push(format!("{name}: {e}")),
                }
            }
            for (point, slot) in points.iter().zip(outcomes) {
                rows.push(row(spec, &axes, point, seeding, metric, slot));
            }
        }
    }
    let tested: Vec<(usize, f64)> = rows
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.test.map(|t| (i, t.p_value)))
        .collect();
    let adjusted = holm(&tested.iter().map(|(_, p)| *p).collect::<Vec<_>>());
    for ((i, _), p) in tested.iter().zip(adjusted) {
        rows[*i].p_holm = Some(p);
    }
    Ok(rows)
}

fn row(
    spec: &ExperimentSpec,
    axes: &[crate::experiment::Axis],
    point: &[toml::Value],
    seeding: InitSeeding,
    metric: &str,
    slot: Outcomes,
) -> ParityRow {
    let label = axes
        .iter()
        .zip(point)
        .map(|(a, v)| format!("{}={}", a.label(), display_value(v)))
        .collect::<Vec<_>>()
        .join(", ");
    let values = |side: &[(f64, f64)]| side.iter().map(|(v, _)| *v).collect::<Vec<_>>();
    let accurate = |side: &[(f64, f64)]| {
        (
            side.iter().filter(|(_, a)| *a > BEST_RUN_ACCURACY).count() as u64,
            side.len() as u64,
        )
    };
    let (sdc, reference) = (values(&slot.sdc), values(&slot.reference));
    let (sa, ra) = (accurate(&slot.sdc), accurate(&slot.reference));
    ParityRow {
        experiment: spec.name.clone(),
        seeding: seeding_name(seeding).into(),
        point: if label.is_empty() {
            "default".into()
        } else {
            label
        },
        metric: metric.into(),
        sdc: describe(&sdc),
        reference: describe(&reference),
        paper: spec.reference_value(point, metric),
        test: mann_whitney(&sdc, &reference),
        p_holm: None,
        sdc_accurate: sa,
        reference_accurate: ra,
        fisher_p: fisher_exact(sa.0, sa.1 - sa.0, ra.0, ra.1 - ra.0),
        diverged: slot.diverged,
        failures: slot.failures,
    }
}

fn interval(s: &Stats) -> String {
    if s.n == 0 {
        return "—".into();
    }
    format!("{:.1} [{:.1}, {:.1}]", s.mean, s.ci95_low, s.ci95_high)
}

fn p_text(p: Option<f64>) -> String {
    match p {
        None => "—".into(),
        Some(p) if p < 0.001 => "<0.001".into(),
        Some(p) => format!("{p:.3}"),
    }
}

/// The generated Markdown, one block per experiment: how it was made, the table, the
/// significant differences and the failures. Holm's family is every grid point of `rows` (one
/// invocation), which each block states.
pub fn markdown(rows: &[ParityRow], how: &str) -> Vec<(String, String)> {
    let family = rows.iter().filter(|r| r.test.is_some()).count();
    let mut experiments: Vec<&str> = rows.iter().map(|r| r.experiment.as_str()).collect();
    experiments.dedup();
    let mut blocks = Vec::new();
    for experiment in experiments {
        let mine: Vec<&ParityRow> = rows.iter().filter(|r| r.experiment == experiment).collect();
        let metric = &mine[0].metric;
        let split = split_of(metric);
        let mut md = format!("### {experiment} ({metric})\n\n{how}\n\n");
        md.push_str(&format!(
            "| seeding | grid point | runs sdc / PyTorch | sdc mean [95% CI] | PyTorch mean [95% CI] | paper | P(sdc > PyTorch) | p (Mann-Whitney) | p (Holm) | {split} accuracy > {BEST_RUN_ACCURACY:.0}: sdc / PyTorch | p (Fisher) | diverged sdc / PyTorch |\n"
        ));
        md.push_str("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
        for r in &mine {
            let flag = if r.significant() { " **differs**" } else { "" };
            md.push_str(&format!(
                "| {} | {} | {} / {} | {} | {} | {} | {} | {} | {}{} | {}/{} vs {}/{} | {} | {} / {} |\n",
                r.seeding,
                r.point,
                r.sdc.n,
                r.reference.n,
                interval(&r.sdc),
                interval(&r.reference),
                r.paper.map_or("—".into(), |p| format!("{p:.1}")),
                r.test.map_or("—".into(), |t| format!("{:.2}", t.prob_x_greater)),
                p_text(r.test.map(|t| t.p_value)),
                p_text(r.p_holm),
                flag,
                r.sdc_accurate.0,
                r.sdc_accurate.1,
                r.reference_accurate.0,
                r.reference_accurate.1,
                p_text(r.fisher_p),
                r.diverged.0,
                r.diverged.1,
            ));
        }
        let significant: Vec<&str> = mine
            .iter()
            .filter(|r| r.significant())
            .map(|r| r.point.as_str())
            .collect();
        md.push_str(&format!(
            "\nSignificant differences (Holm-adjusted Mann-Whitney p < {ALPHA}, family: the {family} grid points of this invocation): {}.\n",
            if significant.is_empty() {
                "none".to_owned()
            } else {
                significant.join("; ")
            }
        ));
        let failures: Vec<&String> = mine.iter().flat_map(|r| &r.failures).collect();
        if !failures.is_empty() {
            md.push_str(&format!("\n**Failed runs ({}):**\n\n", failures.len()));
            for f in failures {
                md.push_str(&format!("- {f}\n"));
            }
        }
        blocks.push((experiment.to_owned(), md));
    }
    blocks
}

fn begin_marker(experiment: &str) -> String {
    format!("<!-- parity:{experiment}:begin (generated by `cargo xtask parity`; edit outside) -->")
}

fn end_marker(experiment: &str) -> String {
    format!("<!-- parity:{experiment}:end -->")
}

/// `existing` with each experiment's generated block replaced by the new one (text outside the
/// markers is kept); blocks of experiments the document does not have yet are appended.
pub fn splice(existing: &str, blocks: &[(String, String)]) -> String {
    let mut text = existing.to_owned();
    for (experiment, generated) in blocks {
        let (begin, end) = (begin_marker(experiment), end_marker(experiment));
        let block = format!("{begin}\n{generated}{end}\n");
        text = match (text.find(&begin), text.find(&end)) {
            (Some(b), Some(e)) if e > b => {
                let after = &text[e + end.len()..];
                format!(
                    "{}{block}{}",
                    &text[..b],
                    after.strip_prefix('\n').unwrap_or(after)
                )
            }
            _ => format!("{text}{}{block}", if text.is_empty() { "" } else { "\n" }),
        };
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splice_replaces_only_the_blocks_it_was_given() {
        let block = |e: &str, t: &str| (e.to_owned(), t.to_owned());
        let first = splice(
            "# Parity\n\nIntro.\n",
            &[block("a", "table a1\n"), block("b", "table b1\n")],
        );
        assert!(first.starts_with("# Parity\n\nIntro.\n\n<!-- parity:a:begin"));
        let with_notes = first.replace("<!-- parity:b:begin", "Notes on a.\n\n<!-- parity:b:begin");
        let second = splice(&with_notes, &[block("b", "table b2\n")]);
        assert!(
            second.contains("table a1\n<!-- parity:a:end -->"),
            "a is kept"
        );
        assert!(second.contains("table b2\n<!-- parity:b:end -->"));
        assert!(!second.contains("table b1"));
        assert!(second.contains("Notes on a.\n\n<!-- parity:b:begin"));
        let third = splice(&second, &[block("c", "table c\n")]);
        assert!(
            third.ends_with("table c\n<!-- parity:c:end -->\n"),
            "{third}"
        );
    }

    #[test]
    fn the_metric_names_its_split() {
        assert_eq!(split_of("train.ftpt"), "train");
        assert_eq!(split_of("test.ftpt"), "test");
        assert_eq!(split_of("best.test.ftpt"), "test");
    }

    #[test]
    fn reference_results_are_read_by_schema_and_metric() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("result.json");
        std::fs::write(&path, r#"{"schema": "other", "train": {"ftpt": 1.0}}"#).expect("write");
        assert!(
            read_reference(&path).is_none(),
            "another schema is not a result"
        );
        let text = format!(
            r#"{{"schema": "{REFERENCE_SCHEMA}", "train": {{"ftpt": 91.5, "accuracy": 99.0}}}}"#
        );
        std::fs::write(&path, text).expect("write");
        let result = read_reference(&path).expect("a result");
        assert_eq!(reference_metric(&result, "train.ftpt"), Some(91.5));
        assert_eq!(reference_metric(&result, "test.ftpt"), None);
    }

    #[test]
    fn a_result_of_another_configuration_is_not_reused() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let result = dir.path().join("result.json");
        let text = format!(r#"{{"schema": "{REFERENCE_SCHEMA}", "train": {{"ftpt": 91.5}}}}"#);
        std::fs::write(&result, text).expect("write");
        assert!(
            reusable_reference(&result, "a = 1").is_none(),
            "no record of its configuration"
        );
        std::fs::write(trained_config(&result), "a = 1").expect("write");
        assert!(reusable_reference(&result, "a = 1").is_some());
        assert!(
            reusable_reference(&result, "a = 2").is_none(),
            "trained from another configuration"
        );
    }

    #[test]
    fn significance_needs_the_adjusted_p_value() {
        let stats = describe(&[1.0, 2.0]);
        let mut row = ParityRow {
            experiment: "e".into(),
            seeding: "independent".into(),
            point: "k=0".into(),
            metric: "train.ftpt".into(),
            sdc: stats,
            reference: stats,
            paper: None,
            test: None,
            p_holm: None,
            sdc_accurate: (0, 2),
            reference_accurate: (0, 2),
            fisher_p: None,
            diverged: (0, 0),
            failures: Vec::new(),
        };
        assert!(!row.significant());
        row.p_holm = Some(0.01);
        assert!(row.significant());
        row.p_holm = Some(0.2);
        assert!(!row.significant());
    }
}
