//! Training throughput of replica-batched seeds against single models: Dataset 2,
//! Architecture 2, averaging layer 0, batch 250, on one thread (the default backend), no stop rule and one
//! evaluation at the end, so the time is the training loop's.
//!
//! ```text
//! cargo run --release -p sdc-train --example replica_throughput -- [REPLICAS] [EPOCHS] [WHAT]
//! ```
//!
//! `WHAT` is `both` (the default), `single` or `replicas` (one side alone, for a profiler).
//! Prints mosaics per second of one single run, then summed over the replicas of one batch: per
//! wall-clock second and per second of this thread's CPU time (`/proc/thread-self/schedstat`,
//! Linux), which a loaded machine disturbs less.

use std::time::Instant;

use sdc_train::replica::run_replicas;
use sdc_train::{ExperimentConfig, Silent, run_experiment};

/// The allocator the `sdc` binary uses, so the rates are the ones a run gets.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// This thread's CPU time in seconds, where Linux reports it.
fn cpu_seconds() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: f64 = text.split_whitespace().next()?.parse().ok()?;
    Some(ns / 1e9)
}

/// Runs `f` and returns (wall seconds, CPU seconds).
fn timed(f: impl FnOnce()) -> (f64, Option<f64>) {
    let (wall, cpu) = (Instant::now(), cpu_seconds());
    f();
    let cpu = cpu_seconds().zip(cpu).map(|(end, start)| end - start);
    (wall.elapsed().as_secs_f64(), cpu)
}

fn report(what: &str, samples: usize, (wall, cpu): (f64, Option<f64>)) -> f64 {
    let per_cpu = cpu.map_or(f64::NAN, |c| samples as f64 / c);
    println!(
        "{what:<24} {:>10.0} mosaics/s wall ({wall:.2} s), {per_cpu:>10.0} per CPU second",
        samples as f64 / wall
    );
    per_cpu
}

fn main() {
    // One core: with a second one idle, a replica group trains in halves and an epoch is
    // evaluated beside the next (`sdc_train::cores`), on threads whose CPU time this thread's
    // clock does not count, and the per-CPU-second rates would overstate the batch.
    sdc_train::cores::limit(1);
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |i: usize, default: usize| {
        args.get(i)
            .map_or(default, |a| a.parse().expect("a number"))
    };
    let replicas = number(0, 20);
    let epochs = number(1, 20);
    let what = args.get(2).map_or("both", String::as_str);
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
    let mut single = f64::NAN;
    if what != "replicas" {
        let time = timed(|| {
            run_experiment(&config, &root.path().join("single"), &mut Silent).expect("trains");
        });
        single = report("single model:", samples, time);
    }
    if what != "single" {
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
        let time = timed(|| {
            for result in run_replicas(&configs, &dirs) {
                result.expect("trains");
            }
        });
        let batched = report(
            &format!("{replicas} replicas (summed):"),
            samples * replicas,
            time,
        );
        if single.is_finite() {
            println!("ratio (CPU time): {:.2}x", batched / single);
        }
    }
}
