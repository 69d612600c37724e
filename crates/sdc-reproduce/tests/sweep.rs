//! Sweeps: resume without redoing finished runs, and shards that merge into the whole.

use std::path::{Path, PathBuf};

use sdc_reproduce::experiment::Profile;
use sdc_reproduce::reproduce::{ReproduceOptions, reproduce};
use sdc_reproduce::specs::SpecSource;
use sdc_reproduce::sweep::{RunStatus, Shard};
use sdc_train::Silent;

const SPEC: &str = r#"
name = "tiny"
claim = "Deeper averaging raises FTPT."
source = "test"
base = "configs/base.toml"
seeds = 2
set = { "data.n_train" = 120, "data.n_test" = 60, "data.n_base" = 500, "train.max_epochs" = 3, "train.batch_size" = 40 }

[[axis]]
key = "model.averaging_layer"
label = "k"
values = [0, 2]

[verdict]
metric = "train.ftpt"
direction = { axis = "k", order = "increasing" }

[[reference]]
at = [0]
values = { "train.ftpt" = 50.0 }
"#;

fn setup() -> tempfile::TempDir {
    let root = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(root.path().join("configs")).expect("mkdir");
    std::fs::create_dir_all(root.path().join("experiments")).expect("mkdir");
    std::fs::write(
        root.path().join("configs/base.toml"),
        sdc_train::DEFAULT_CONFIG_TOML,
    )
    .expect("write");
    std::fs::write(root.path().join("experiments/tiny.toml"), SPEC).expect("write");
    root
}

fn options(root: &Path, out: &str, shard: Option<Shard>, train: bool) -> ReproduceOptions {
    with_replicas(root, out, shard, train, None)
}

fn with_replicas(
    root: &Path,
    out: &str,
    shard: Option<Shard>,
    train: bool,
    replicas: Option<usize>,
) -> ReproduceOptions {
    ReproduceOptions {
        specs: SpecSource::Dir {
            experiments: root.join("experiments"),
            root: root.to_path_buf(),
        },
        out: root.join(out),
        profile: Profile::Full,
        only: Vec::new(),
        jobs: 2,
        shard,
        backend: None,
        train,
        datasets: None,
        replicas,
    }
}

fn count(statuses: &[(sdc_reproduce::experiment::PlannedRun, RunStatus)]) -> (usize, usize, usize) {
    let mut c = (0, 0, 0);
    for (_, s) in statuses {
        match s {
            RunStatus::Trained(_) => c.0 += 1,
            RunStatus::Skipped(_) => c.1 += 1,
            RunStatus::Failed(_) => c.2 += 1,
        }
    }
    c
}

fn report(root: &Path, out: &str) -> String {
    std::fs::read_to_string(root.join(out).join("report/report.md")).expect("report.md")
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target: PathBuf = to.join(entry.file_name());
        if entry.path().is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

#[test]
fn a_rerun_skips_finished_runs_and_redoes_only_the_interrupted_one() {
    let root = setup();
    let first = reproduce(&options(root.path(), "out", None, true), &Silent).expect("sweep");
    assert_eq!(first.planned, 4);
    assert_eq!(count(&first.statuses), (4, 0, 0));
    let whole = report(root.path(), "out");
    assert!(whole.contains("## tiny"), "{whole}");

    let again = reproduce(&options(root.path(), "out", None, true), &Silent).expect("sweep");
    assert_eq!(count(&again.statuses), (0, 4, 0));
    assert_eq!(report(root.path(), "out"), whole);

    // A run killed before it finished has no manifest (written last): only it is trained
    // again, and the report comes out identical.
    let victim = root.path().join("out/runs/tiny/k=2/seed-01");
    for file in ["manifest.json", "summary.json", "model.bpk"] {
        std::fs::remove_file(victim.join(file)).expect("rm");
    }
    let resumed = reproduce(&options(root.path(), "out", None, true), &Silent).expect("sweep");
    assert_eq!(count(&resumed.statuses), (1, 3, 0));
    assert_eq!(report(root.path(), "out"), whole);

    // A finished run that lost its model is flagged, not called done: the sweep goes on and
    // the report names the file.
    std::fs::remove_file(victim.join("model.bpk")).expect("rm");
    let flagged = reproduce(&options(root.path(), "out", None, true), &Silent).expect("sweep");
    assert_eq!(count(&flagged.statuses), (0, 3, 1));
    let text = report(root.path(), "out");
    assert!(
        text.contains("model.bpk") && text.contains("missing"),
        "{text}"
    );
}

/// A spec whose second grid point diverges (a learning rate of 1e30).
const NAN_SPEC: &str = r#"
name = "nan"
claim = "A diverging grid point does not take the report down."
source = "test"
base = "configs/base.toml"
seeds = 1
set = { "data.n_train" = 120, "data.n_test" = 60, "data.n_base" = 500, "train.max_epochs" = 2, "train.batch_size" = 40 }

[[axis]]
key = "train.optimizer.lr"
label = "lr"
values = [0.01, 1e30]

[verdict]
metric = "train.ftpt"
"#;

#[test]
fn a_diverged_point_and_a_damaged_run_are_reported_as_failed() {
    let root = setup();
    std::fs::remove_file(root.path().join("experiments/tiny.toml")).expect("rm");
    std::fs::write(root.path().join("experiments/nan.toml"), NAN_SPEC).expect("write");
    let first = reproduce(&options(root.path(), "out", None, true), &Silent).expect("sweep");
    assert_eq!(count(&first.statuses), (1, 0, 1));
    let RunStatus::Failed(message) = &first.statuses[1].1 else {
        panic!("the lr = 1e30 run should fail");
    };
    assert!(message.contains("diverged"), "{message}");
    let text = report(root.path(), "out");
    assert!(text.contains("diverged"), "{text}");

    // Its summary.json is valid JSON with no nulls, recording the divergence.
    let dir = root
        .path()
        .join("out/runs")
        .join(&first.statuses[1].0.rel_dir);
    let summary = std::fs::read_to_string(dir.join("summary.json")).expect("summary");
    let value: serde_json::Value = serde_json::from_str(&summary).expect("valid JSON");
    assert_eq!(value["status"], "diverged");
    assert!(!summary.contains("null"), "{summary}");

    // A rerun does not train it again; a truncated summary elsewhere costs that run only.
    let good = root
        .path()
        .join("out/runs")
        .join(&first.statuses[0].0.rel_dir)
        .join("summary.json");
    let bytes = std::fs::read(&good).expect("read");
    std::fs::write(&good, &bytes[..bytes.len() / 2]).expect("truncate");
    let again = reproduce(&options(root.path(), "out", None, false), &Silent).expect("report");
    assert!(again.statuses.is_empty());
    let text = report(root.path(), "out");
    assert!(
        text.contains("summary.json") && text.contains("diverged"),
        "both failures are in the report: {text}"
    );
}

#[test]
fn two_sweeps_on_one_output_directory_one_is_refused() {
    let root = setup();
    let first = std::thread::scope(|scope| {
        let a = scope.spawn(|| reproduce(&options(root.path(), "out", None, true), &Silent));
        let b = scope.spawn(|| reproduce(&options(root.path(), "out", None, true), &Silent));
        [a.join().expect("a"), b.join().expect("b")]
    });
    let refused: Vec<String> = first
        .iter()
        .filter_map(|r| r.as_ref().err().map(|e| e.to_string()))
        .collect();
    let done: Vec<_> = first.iter().filter_map(|r| r.as_ref().ok()).collect();
    // Either they overlapped (one refused) or one finished before the other began (then the
    // second found every run finished).
    match (refused.len(), done.len()) {
        (1, 1) => assert!(
            refused[0].contains("in use by another sdc process"),
            "{}",
            refused[0]
        ),
        (0, 2) => assert!(done.iter().any(|o| count(&o.statuses) == (0, 4, 0))),
        other => panic!("unexpected outcome {other:?}: {refused:?}"),
    }
    // Nothing duplicated: every run's metrics hold one row per epoch.
    for entry in walk(&root.path().join("out/runs")) {
        if entry.ends_with("metrics.csv") {
            let rows = sdc_train::read_rows(&entry).expect("rows");
            let epochs: Vec<usize> = rows.iter().map(|r| r.epoch).collect();
            assert_eq!(epochs, vec![1, 2, 3], "{}", entry.display());
        }
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn two_shards_run_disjoint_halves_whose_merge_equals_the_whole() {
    let root = setup();
    reproduce(&options(root.path(), "whole", None, true), &Silent).expect("sweep");
    let a = reproduce(
        &options(root.path(), "a", Some(Shard { index: 1, count: 2 }), true),
        &Silent,
    )
    .expect("a");
    let b = reproduce(
        &options(root.path(), "b", Some(Shard { index: 2, count: 2 }), true),
        &Silent,
    )
    .expect("b");
    assert_eq!(count(&a.statuses), (2, 0, 0));
    assert_eq!(count(&b.statuses), (2, 0, 0));
    let dirs = |o: &sdc_reproduce::reproduce::ReproduceOutcome| {
        o.statuses
            .iter()
            .map(|(r, _)| r.rel_dir.clone())
            .collect::<Vec<_>>()
    };
    assert!(
        dirs(&a).iter().all(|d| !dirs(&b).contains(d)),
        "shards overlap"
    );
    // One shard alone reports the other half as missing.
    assert!(report(root.path(), "a").contains("have not run yet"));
    copy_tree(&root.path().join("b/runs"), &root.path().join("a/runs"));
    reproduce(&options(root.path(), "a", None, false), &Silent).expect("report only");
    assert_eq!(report(root.path(), "a"), report(root.path(), "whole"));
}

#[test]
fn replica_groups_write_what_single_runs_write() {
    let root = setup();
    let single = with_replicas(root.path(), "single", None, true, Some(1));
    let grouped = with_replicas(root.path(), "grouped", None, true, Some(2));
    assert_eq!(
        count(&reproduce(&single, &Silent).expect("single").statuses),
        (4, 0, 0)
    );
    assert_eq!(
        count(&reproduce(&grouped, &Silent).expect("grouped").statuses),
        (4, 0, 0)
    );
    let mut compared = 0;
    for file in walk(&root.path().join("single/runs")) {
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if ![
            "summary.json",
            "metrics.csv",
            "metrics.jsonl",
            "config.toml",
        ]
        .contains(&name)
        {
            continue;
        }
        let rel = file
            .strip_prefix(root.path().join("single"))
            .expect("under single");
        let twin = root.path().join("grouped").join(rel);
        assert_eq!(
            std::fs::read(&file).expect("single file"),
            std::fs::read(&twin).unwrap_or_else(|e| panic!("{}: {e}", twin.display())),
            "{}",
            rel.display()
        );
        compared += 1;
    }
    assert_eq!(compared, 16, "four files of four runs");
    assert_eq!(
        report(root.path(), "single"),
        report(root.path(), "grouped")
    );
}
