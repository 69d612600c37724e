//! Replica-batched training writes, for every seed, exactly what a single run of that seed
//! writes: the same `metrics.csv` (every epoch's losses, accuracy and rates) and the same
//! `summary.json`, byte for byte, on the default backend (flex) and on ndarray.

use std::path::Path;

use sdc_train::replica::{run_replicas, unsupported};
use sdc_train::{ExperimentConfig, RunSummary, Silent, TrainError, run_experiment};

/// Dataset 2, Architecture 2, small: 600 training mosaics, 300 test mosaics, batch 50 (the last
/// batch of an epoch is partial: 600 = 11 * 50 + 50, so use 580 to have one).
fn small(extra: &[&str]) -> ExperimentConfig {
    let mut overrides: Vec<String> = [
        "name=replicas",
        "data.n_train=580",
        "data.n_test=300",
        "data.n_base=2000",
        "train.max_epochs=25",
        "train.batch_size=50",
        "train.checkpoint_every=10",
        "train.stop.loss=0.2",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    overrides.extend(extra.iter().map(|s| s.to_string()));
    ExperimentConfig::default_with(&overrides).expect("valid config")
}

fn with_seed(config: &ExperimentConfig, seed: u64) -> ExperimentConfig {
    let mut c = config.clone();
    c.train.seed = seed;
    c
}

/// The summary without its wall-clock numbers (which no two runs share).
fn untimed(summary: &RunSummary) -> RunSummary {
    RunSummary {
        train_seconds: 0.0,
        samples_per_second: 0.0,
        ..summary.clone()
    }
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// Trains `seeds` of `config` alone and as one replica batch; asserts the files are equal.
fn assert_replicas_match_single_runs(config: &ExperimentConfig, seeds: &[u64]) {
    assert!(unsupported(config).is_none(), "{:?}", unsupported(config));
    let root = tempfile::tempdir().expect("tempdir");
    let configs: Vec<ExperimentConfig> = seeds.iter().map(|&s| with_seed(config, s)).collect();
    let singles: Vec<_> = seeds
        .iter()
        .map(|s| root.path().join(format!("single-{s}")))
        .collect();
    let batched: Vec<_> = seeds
        .iter()
        .map(|s| root.path().join(format!("replica-{s}")))
        .collect();
    let single_results: Vec<_> = configs
        .iter()
        .zip(&singles)
        .map(|(c, d)| run_experiment(c, d, &mut Silent))
        .collect();
    let replica_results = run_replicas(&configs, &batched);
    for (i, seed) in seeds.iter().enumerate() {
        match (&single_results[i], &replica_results[i]) {
            (Ok(a), Ok(b)) => assert_eq!(untimed(a), untimed(b), "seed {seed}: summaries"),
            (Err(TrainError::Diverged { .. }), Err(TrainError::Diverged { .. })) => {}
            (a, b) => panic!("seed {seed}: single {a:?}, replica {b:?}"),
        }
        for file in [
            "metrics.csv",
            "metrics.jsonl",
            "summary.json",
            "config.toml",
        ] {
            if singles[i].join(file).is_file() || batched[i].join(file).is_file() {
                assert_eq!(
                    read(&singles[i], file),
                    read(&batched[i], file),
                    "seed {seed}: {file}"
                );
            }
        }
        assert!(batched[i].join("manifest.json").is_file(), "finished");
        // The manifest lists the same files as the single run's, provenance.json included.
        let listed = |dir: &Path| {
            let manifest: serde_json::Value =
                serde_json::from_str(&read(dir, "manifest.json")).expect("manifest json");
            let mut names: Vec<String> = manifest["files"]
                .as_object()
                .map(|files| files.keys().cloned().collect())
                .unwrap_or_default();
            names.sort();
            names
        };
        assert_eq!(
            listed(&singles[i]),
            listed(&batched[i]),
            "seed {seed}: manifest"
        );
        assert!(listed(&batched[i]).iter().any(|f| f == "provenance.json"));
        assert!(
            !batched[i].join("checkpoint").exists(),
            "no checkpoints left"
        );
    }
}

#[test]
fn replicas_equal_single_runs_at_every_averaging_layer() {
    for k in ["0", "1", "2"] {
        let config = small(&[&format!("model.averaging_layer={k}")]);
        assert_replicas_match_single_runs(&config, &[0, 1, 2]);
    }
}

#[test]
fn replicas_equal_single_runs_on_ndarray() {
    let config = small(&["train.backend=\"ndarray\"", "model.averaging_layer=1"]);
    assert_replicas_match_single_runs(&config, &[0, 1]);
}

#[test]
fn replicas_equal_single_runs_with_sparsemax_sgd_and_entropy() {
    let config = small(&[
        "model.attention={kind=\"sparsemax\"}",
        "model.averaging_layer=1",
        "train.entropy=0.01",
    ]);
    assert_replicas_match_single_runs(&config, &[4, 5]);
    let config = small(&[
        "train.optimizer={kind=\"sgd\", lr=0.05, momentum=0.9}",
        "train.max_epochs=12",
    ]);
    assert_replicas_match_single_runs(&config, &[6, 7]);
}

#[test]
fn unsupported_configurations_fall_back_to_single_runs() {
    let config = small(&["train.objective={kind=\"hard\"}", "train.max_epochs=3"]);
    assert!(unsupported(&config).is_some());
    let root = tempfile::tempdir().expect("tempdir");
    let dirs = vec![root.path().join("a"), root.path().join("b")];
    let configs = vec![with_seed(&config, 1), with_seed(&config, 2)];
    let results = run_replicas(&configs, &dirs);
    let single = run_experiment(&configs[1], &root.path().join("c"), &mut Silent);
    assert_eq!(
        untimed(results[1].as_ref().expect("trains")),
        untimed(single.as_ref().expect("trains"))
    );
}

#[test]
fn a_finished_group_is_not_trained_again() {
    let config = small(&["train.max_epochs=3"]);
    let root = tempfile::tempdir().expect("tempdir");
    let dirs = vec![root.path().join("a"), root.path().join("b")];
    let configs = vec![with_seed(&config, 1), with_seed(&config, 2)];
    let first = run_replicas(&configs, &dirs);
    let manifest = read(&dirs[0], "manifest.json");
    let again = run_replicas(&configs, &dirs);
    for (a, b) in first.iter().zip(&again) {
        assert_eq!(a.as_ref().expect("ok"), b.as_ref().expect("ok"));
    }
    assert_eq!(read(&dirs[0], "manifest.json"), manifest, "untouched");
}

#[test]
fn diverging_replicas_are_recorded_as_single_runs_record_them() {
    // A learning rate this large blows every seed up.
    let config = small(&[
        "train.optimizer={kind=\"sgd\", lr=1e6}",
        "train.max_epochs=4",
    ]);
    assert_replicas_match_single_runs(&config, &[0, 1]);
}

#[test]
fn an_interrupted_group_resumes_to_the_uninterrupted_result() {
    let config = small(&["train.max_epochs=14", "train.stop.loss=1e-12"]);
    let root = tempfile::tempdir().expect("tempdir");
    let seeds = [3u64, 4];
    let configs: Vec<_> = seeds.iter().map(|&s| with_seed(&config, s)).collect();
    let whole: Vec<_> = seeds
        .iter()
        .map(|s| root.path().join(format!("whole-{s}")))
        .collect();
    let cut: Vec<_> = seeds
        .iter()
        .map(|s| root.path().join(format!("cut-{s}")))
        .collect();
    run_replicas(&configs, &whole);
    let stopped = sdc_train::replica::run_replicas_until(&configs, &cut, Some(7));
    assert!(
        stopped
            .iter()
            .all(|r| matches!(r, Err(TrainError::Interrupted { epoch: 7 }))),
        "{stopped:?}"
    );
    assert!(sdc_train::replica::holds_replica_checkpoint(&cut[0]));
    let resumed = run_replicas(&configs, &cut);
    for (i, r) in resumed.iter().enumerate() {
        r.as_ref().expect("resumes and finishes");
        for file in ["metrics.csv", "metrics.jsonl", "summary.json"] {
            assert_eq!(read(&whole[i], file), read(&cut[i], file), "{file}");
        }
    }
}
