//! End-to-end: train small models on the CPU backends (ndarray and flex) and check what the run
//! produces.

use std::path::Path;

use sdc_train::metric_value;
use sdc_train::{
    ExperimentConfig, InterruptAfter, RunSummary, Silent, TrainError, eval_run, read_rows,
    run_experiment,
};

/// Dataset 2, Architecture 2, small: 600 training mosaics, 300 test mosaics, 40 epochs.
fn small(extra: &[&str]) -> ExperimentConfig {
    let mut overrides: Vec<String> = [
        "name=small",
        "data.n_train=600",
        "data.n_test=300",
        "data.n_base=2000",
        "train.max_epochs=40",
        "train.batch_size=50",
        "train.checkpoint_every=10",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    overrides.extend(extra.iter().map(|s| s.to_string()));
    ExperimentConfig::default_with(&overrides).expect("valid config")
}

fn train(config: &ExperimentConfig, dir: &Path) -> RunSummary {
    run_experiment(config, dir, &mut Silent).expect("training succeeds")
}

#[test]
fn a_small_model_learns_accurately_and_mostly_interpretably() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Seed 1 measured: accuracy 100.0, FTPT 85.8 when the stop rule fires at epoch 38.
    let summary = train(&small(&["train.seed=1", "train.max_epochs=60"]), dir.path());
    assert_eq!(summary.stop_reason, sdc_train::StopReason::LossThreshold);
    let train = &summary.train.summary;
    // Bounds from that measurement, with a margin.
    assert!(train.accuracy > ACCURACY_MIN, "accuracy {}", train.accuracy);
    assert!(train.rates.ftpt > FTPT_MIN, "FTPT {}", train.rates.ftpt);
    let sum = train.rates.ftpt + train.rates.ffpt + train.rates.ftpf + train.rates.ffpf;
    assert!((sum - 100.0).abs() < 1e-9, "rates sum to {sum}");
    // An accurate run counts among the "best runs"; the same run at 90% accuracy does not.
    assert_eq!(
        metric_value(&summary, "best.train.ftpt"),
        Some(train.rates.ftpt)
    );
    let mut weak = summary.clone();
    weak.train.summary.accuracy = 90.0;
    assert_eq!(metric_value(&weak, "best.train.ftpt"), None);
    assert_eq!(metric_value(&weak, "train.ftpt"), Some(train.rates.ftpt));
    // The run directory holds what the README promises.
    for file in ["config.toml", "metrics.csv", "summary.json", "model.bpk"] {
        assert!(dir.path().join(file).is_file(), "{file} missing");
    }
    let rows = read_rows(&dir.path().join("metrics.csv")).expect("metrics.csv");
    assert_eq!(rows.len(), summary.epochs, "one row per epoch");
    assert_eq!(
        rows.last().and_then(|r| r.train_ftpt),
        Some(train.rates.ftpt)
    );
}

const ACCURACY_MIN: f64 = 97.0;
const FTPT_MIN: f64 = 75.0;

#[test]
fn flex_trains_the_small_model_accurately_too() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = small(&["train.seed=1", "train.max_epochs=60", "train.backend=flex"]);
    let summary = train(&config, dir.path());
    let train = &summary.train.summary;
    assert!(train.accuracy > ACCURACY_MIN, "accuracy {}", train.accuracy);
    assert!(train.rates.ftpt > FTPT_MIN, "FTPT {}", train.rates.ftpt);
}

#[test]
fn the_same_seed_gives_identical_metrics() {
    for backend in ["ndarray", "flex"] {
        let backend = format!("train.backend={backend}");
        let a = tempfile::tempdir().expect("tempdir");
        let b = tempfile::tempdir().expect("tempdir");
        let config = small(&["train.max_epochs=8", &backend]);
        let sa = train(&config, a.path());
        let sb = train(&config, b.path());
        assert_eq!(sa.train, sb.train, "{backend}");
        assert_eq!(sa.test, sb.test, "{backend}");
        // Wall-clock numbers live in timing.csv / timing.json: the rest is the same, byte for
        // byte (model.bpk holds the same values, but Burn's parameter ids in it differ per
        // process).
        for file in ["metrics.csv", "summary.json"] {
            let bytes = |dir: &std::path::Path| std::fs::read(dir.join(file)).expect(file);
            assert!(
                bytes(a.path()) == bytes(b.path()),
                "{backend}: {file} differs"
            );
        }
        let other = tempfile::tempdir().expect("tempdir");
        let sc = train(
            &small(&["train.max_epochs=8", "train.seed=1", &backend]),
            other.path(),
        );
        assert_ne!(
            sa.train, sc.train,
            "{backend}: another seed trains another model"
        );
    }
}

#[test]
fn an_interrupted_run_resumes_to_the_same_result() {
    for backend in ["ndarray", "flex"] {
        interrupted_run_resumes_on(backend);
    }
}

fn interrupted_run_resumes_on(backend: &str) {
    let backend = format!("train.backend={backend}");
    let config = small(&["train.max_epochs=16", "train.checkpoint_every=5", &backend]);
    let whole = tempfile::tempdir().expect("tempdir");
    let uninterrupted = train(&config, whole.path());

    let split = tempfile::tempdir().expect("tempdir");
    let err = run_experiment(&config, split.path(), &mut InterruptAfter::new(7))
        .expect_err("interrupted");
    assert!(matches!(err, TrainError::Interrupted { epoch: 7 }), "{err}");
    assert!(!split.path().join("summary.json").exists());
    let resumed = train(&config, split.path());
    assert_eq!(resumed.epochs, uninterrupted.epochs);
    assert_eq!(resumed.train, uninterrupted.train);
    assert_eq!(resumed.test, uninterrupted.test);
    let rows = read_rows(&split.path().join("metrics.csv")).expect("rows");
    let epochs: Vec<usize> = rows.iter().map(|r| r.epoch).collect();
    assert_eq!(
        epochs,
        (1..=16).collect::<Vec<_>>(),
        "no epoch lost or repeated"
    );

    // A finished run is not trained again; a different config in the same directory is refused.
    let again = train(&config, split.path());
    assert_eq!(again, resumed);
    let other = small(&["train.max_epochs=17", &backend]);
    let err = run_experiment(&other, split.path(), &mut Silent).expect_err("different config");
    assert!(err.to_string().contains("different configuration"), "{err}");
}

#[test]
fn eval_reproduces_the_training_summary_and_writes_auditable_predictions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let summary = train(&small(&["train.max_epochs=6"]), dir.path());
    let reports = eval_run(dir.path(), None, None).expect("eval");
    assert_eq!(reports.len(), 2);
    assert_eq!(reports[0].split, "train");
    assert_eq!(reports[0].metrics, summary.train);
    let csv = std::fs::read_to_string(&reports[0].predictions_csv).expect("predictions.csv");
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some(
            "index,label,fg_index,prediction,focus,alpha_0,alpha_1,alpha_2,alpha_3,alpha_4,alpha_5,alpha_6,alpha_7,alpha_8"
        )
    );
    // Recount FTPT from the CSV alone.
    let (mut n, mut ftpt) = (0usize, 0usize);
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        n += 1;
        if f[1] == f[3] && f[2] == f[4] {
            ftpt += 1;
        }
    }
    assert_eq!(n, 600);
    let from_csv = 100.0 * ftpt as f64 / n as f64;
    assert!((from_csv - summary.train.summary.rates.ftpt).abs() < 1e-9);
}

#[test]
fn eval_refuses_a_directory_that_is_not_a_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = eval_run(dir.path(), None, None)
        .expect_err("not a run")
        .to_string();
    assert!(err.contains("config.toml"), "{err}");
}

#[test]
fn a_run_killed_before_its_first_checkpoint_starts_its_metrics_over() {
    let config = small(&["train.max_epochs=3", "train.checkpoint_every=0"]);
    let finished = tempfile::tempdir().expect("tempdir");
    train(&config, finished.path());
    // A process killed before any checkpoint leaves metric rows and nothing to resume from.
    let killed = tempfile::tempdir().expect("tempdir");
    std::fs::copy(
        finished.path().join("metrics.csv"),
        killed.path().join("metrics.csv"),
    )
    .expect("copy");
    let summary = train(&config, killed.path());
    let rows = read_rows(&killed.path().join("metrics.csv")).expect("metrics.csv");
    let epochs: Vec<usize> = rows.iter().map(|r| r.epoch).collect();
    assert_eq!(epochs, (1..=summary.epochs).collect::<Vec<_>>());
}
