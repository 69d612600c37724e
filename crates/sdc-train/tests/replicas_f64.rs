//! Replica-batched training in f64 (its own process: a process runs one precision) writes what
//! single runs write, byte for byte.

use sdc_train::replica::run_replicas;
use sdc_train::{ExperimentConfig, Silent, run_experiment};

#[test]
fn f64_replicas_equal_single_runs() {
    for optimizer in [
        "train.optimizer={kind=\"adam\", lr=0.01}",
        "train.optimizer={kind=\"sgd\", lr=0.05, momentum=0.9}",
    ] {
        let config = ExperimentConfig::default_with(
            &[
                "name=replicas-f64",
                "data.n_train=580",
                "data.n_test=300",
                "data.n_base=2000",
                "train.max_epochs=12",
                "train.batch_size=50",
                "train.precision=\"f64\"",
                "model.averaging_layer=2",
                optimizer,
            ]
            .map(String::from),
        )
        .expect("valid config");
        let root = tempfile::tempdir().expect("tempdir");
        let seeds = [1u64, 2];
        let configs: Vec<ExperimentConfig> = seeds
            .iter()
            .map(|&s| {
                let mut c = config.clone();
                c.train.seed = s;
                c
            })
            .collect();
        let batched: Vec<_> = seeds
            .iter()
            .map(|s| root.path().join(format!("replica-{s}")))
            .collect();
        for result in run_replicas(&configs, &batched) {
            result.expect("trains");
        }
        for (i, c) in configs.iter().enumerate() {
            let single = root.path().join(format!("single-{i}"));
            run_experiment(c, &single, &mut Silent).expect("trains");
            for file in ["metrics.csv", "metrics.jsonl", "summary.json"] {
                let read = |d: &std::path::Path| std::fs::read(d.join(file)).expect(file);
                assert_eq!(read(&single), read(&batched[i]), "{optimizer}: {file}");
            }
        }
    }
}
