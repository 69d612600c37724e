//! Training throughput of replica-batched seeds against single models: Dataset 2,
//! Architecture 2, averaging layer 0, batch 250, on one thread (ndarray), no stop rule and one
//! evaluation at the end, so the time is the training loop's.
//!
//! ```text
//! cargo run --release -p sdc-train --example replica_throughput -- [REPLICAS] [EPOCHS]
//! ```
//!
//! Prints mosaics per second: one single run, then the sum over the replicas of one batch.

use std::time::Instant;

use sdc_train::replica::run_replicas;
use sdc_train::{ExperimentConfig, Silent, run_experiment};

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("a number"))
        .collect();
    let replicas = args.first().copied().unwrap_or(20);
    let epochs = args.get(1).copied().unwrap_or(20);
    let mut config = ExperimentConfig::default_with(&[
        "name=throughput".into(),
        format!("train.max_epochs={epochs}"),
        format!("train.eval_every={epochs}"),
        "train.checkpoint_every=0".into(),
    ])
    .expect("valid config");
    config.train.stop = None;
    let root = tempfile::tempdir().expect("tempdir");
    // Warm the data cache and the allocator.
    let mut warm = config.clone();
    warm.train.max_epochs = 1;
    warm.train.eval_every = 1;
    run_experiment(&warm, &root.path().join("warm"), &mut Silent).expect("trains");

    let samples = config.data.load().expect("data").train.len() * epochs;
    let started = Instant::now();
    run_experiment(&config, &root.path().join("single"), &mut Silent).expect("trains");
    let single = samples as f64 / started.elapsed().as_secs_f64();

    let configs: Vec<ExperimentConfig> = (0..replicas as u64)
        .map(|seed| {
            let mut c = config.clone();
            c.train.seed = seed;
            c
        })
        .collect();
    let dirs: Vec<_> = (0..replicas)
        .map(|r| root.path().join(format!("replica-{r}")))
        .collect();
    let started = Instant::now();
    for result in run_replicas(&configs, &dirs) {
        result.expect("trains");
    }
    let batched = (samples * replicas) as f64 / started.elapsed().as_secs_f64();
    println!("single model:            {single:>10.0} mosaics/s");
    println!(
        "{replicas} replicas (summed): {batched:>10.0} mosaics/s ({:.2}x)",
        batched / single
    );
}
