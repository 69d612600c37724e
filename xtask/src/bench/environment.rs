//! What the report says about the machine and the run: CPU, load, commit, versions, settings,
//! and observations the table alone does not show.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use sdc_train::BackendKind;

use super::args::{BenchArgs, TorchDevice};
use super::child::Measurement;
use super::models::BenchModel;

/// Title, machine, versions and settings.
pub(crate) fn preamble(
    args: &BenchArgs,
    root: &Path,
    models: &[BenchModel],
    measurements: &[Measurement],
    load: &str,
    peak_gflops: f64,
    stand_ins: &[BenchModel],
) -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
            })
        })
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    // Stamped by build.rs from `.git` (`cargo xtask` builds right before it runs); whether the
    // working tree had uncommitted changes is not known without spawning git.
    let commit = env!("XTASK_GIT_COMMIT");
    // `rustc 1.95.0 (...)`: the toolchain on PATH now, which built this binary under `cargo xtask`.
    let rustc = command_output(
        Command::new(std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into())).arg("-V"),
    )
    .unwrap_or_else(|| "rustc not on PATH".into());
    let mut versions: BTreeMap<String, String> = BTreeMap::new();
    for m in measurements {
        for (k, v) in &m.versions {
            versions.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    if let Some(burn) = locked_version(root, "burn") {
        versions.insert("burn".into(), burn);
    }
    let mut versions: Vec<String> = versions.iter().map(|(k, v)| format!("{k} {v}")).collect();
    versions.push(rustc);
    let baselines = args.baselines();
    let vs = if baselines.is_empty() {
        String::new()
    } else {
        let names: Vec<&str> = baselines.iter().map(|b| b.name()).collect();
        format!(" --vs {}", names.join(","))
    };
    let titles: Vec<&str> = baselines.iter().map(|b| b.title()).collect();
    let backends: Vec<&str> = args.backends().iter().map(|b| b.name()).collect();
    let mut flags = format!(
        "--backends {} --repeats {}",
        backends.join(","),
        args.repeats
    );
    if let Some(epochs) = args.epochs {
        let _ = write!(flags, " --epochs {epochs}");
    }
    if let Some(n) = args.train_mosaics {
        let _ = write!(flags, " --train-mosaics {n}");
    }
    let _ = write!(flags, " --warmup-epochs {}", args.warmup_epochs);
    let on_gpu =
        args.torch_device == TorchDevice::Cuda || args.backends().contains(&BackendKind::Wgpu);
    if args.torch_device == TorchDevice::Cuda {
        flags.push_str(" --torch-device cuda");
    }
    // The GPU, as the NVIDIA driver names it (wgpu reports its adapter only through its own
    // logging); none where no GPU row was measured.
    let gpu = if on_gpu {
        let smi = command_output(Command::new("nvidia-smi").args([
            "--query-gpu=name,driver_version,memory.total",
            "--format=csv,noheader",
        ]));
        format!(
            "- GPU: {} (sdc's wgpu backend through Vulkan; PyTorch on {})\n",
            smi.unwrap_or_else(|| "not named (no nvidia-smi)".into()),
            args.torch_device.name()
        )
    } else {
        String::new()
    };
    // One line per model: what it trains on, how many mosaics and timed epochs, which grid.
    let mut model_lines = String::new();
    let skipped: Vec<&str> = models
        .iter()
        .filter(|&&m| baselines.iter().any(|b| !b.supports(m)))
        .map(|m| m.name())
        .collect();
    if !skipped.is_empty() {
        let _ = writeln!(
            model_lines,
            "- not measured in JAX: {} (bench/jax/bench.py implements the synthetic MLP models \
             only)",
            skipped.join(", ")
        );
    }
    for &model in models {
        let mosaics = measurements
            .iter()
            .find(|m| m.model == model.name() && m.epochs > 0)
            .map_or("?".into(), |m| (m.samples / m.epochs).to_string());
        let _ = writeln!(
            model_lines,
            "- {}: {}; {mosaics} training mosaics, {} timed epoch(s), batch sizes {:?}, threads \
             {:?}",
            model.name(),
            model.describe(),
            args.epochs_of(model),
            args.batch_sizes_of(model),
            args.threads,
        );
    }
    for &model in stand_ins {
        let _ = writeln!(
            model_lines,
            "- **{}: stand-in images.** CIFAR-10 is in no package registry and its files were \
             not in the data directory, so its mosaics tile random pixels written in CIFAR-10's \
             format (`xtask/src/bench/data.rs`). The shapes, the model and its arithmetic are the \
             real ones, and so are the rates; the losses mean nothing.",
            model.name()
        );
    }
    format!(
        "# Training throughput: sdc{}\n\n\
         Written by `cargo xtask bench{vs} {flags}`.\n\n\
         - machine: {cpu}, {cores} logical CPUs; Linux; load average (1 min) {load}\n\
         {gpu}\
         - date: {} UTC\n\
         - commit: {commit} (HEAD when xtask was built)\n\
         - versions: {} (sdc on burn's {} backend(s), f32)\n\
         - single-core peak: {peak_gflops:.1} GFLOP/s (f32 512x512 matrix products through \
         burn-flex's gemm, one thread, best of 20)\n\n\
         {model_lines}\n\
         samples/s = training samples (mosaics) through forward + backward + both optimiser steps \
         per second, over the timed epochs after {} warm-up epoch(s), evaluation excluded; one \
         process per measurement, {} per cell (median, min–max). Peak RSS is the largest over \
         those processes. *limit*: the operations of forward + backward per mosaic (matrix \
         products and convolutions, a multiply-add as 2, backward as twice the forward) times the \
         median rate, and that as a share of the single-core peak: how close a row comes to what \
         the hardware can do (GPU rows, sdc on wgpu and PyTorch on CUDA, give GFLOP/s alone: the \
         peak is a CPU core's).\n",
        if titles.is_empty() {
            String::new()
        } else {
            format!(" vs {}", titles.join(" and "))
        },
        utc_now(),
        versions.join(", "),
        backends.join(", "),
        args.warmup_epochs,
        args.repeats,
    )
}

/// Observations the table alone does not show.
pub(crate) fn notes(measurements: &[Measurement], load_before: &str) -> String {
    let mut out = String::new();
    // One line per case, however many repeats showed it.
    let idle: std::collections::BTreeSet<String> = measurements
        .iter()
        .filter(|m| m.threads > 1 && m.threads_seen < m.threads)
        .map(|m| {
            format!(
                "{} {} batch {} threads {}: {} OS thread(s)",
                m.framework, m.model, m.batch_size, m.threads, m.threads_seen
            )
        })
        .collect();
    if !idle.is_empty() {
        let _ = writeln!(
            out,
            "\nProcesses that used fewer threads than they were allowed (OS threads at the end; \
             for sdc, the most cores its runs used at once if more; they ran at most that \
             parallel):\n"
        );
        for line in idle.iter().take(6) {
            let _ = writeln!(out, "- {line}");
        }
        if idle.len() > 6 {
            let _ = writeln!(out, "- ... {} more", idle.len() - 6);
        }
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if let Ok(load) = load_before.parse::<f64>()
        && load >= 1.0
    {
        let _ = writeln!(
            out,
            "\nThe machine was busy (load average {load} on {cores} CPUs at the start). Every \
             number carries that noise, and multi-threaded runs suffer most: a thread pool that \
             waits at a barrier for a descheduled worker (PyTorch's OpenMP pool spins) loses a \
             whole time slice each time. Compare frameworks at 1 thread, or rerun on an idle \
             machine."
        );
    }
    out
}

/// The 1-minute load average: other work on the machine skews every number, and thread
/// pools that spin (OpenMP) suffer most.
pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|t| t.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "unknown".into())
}

/// stdout of a command, trimmed, if it ran and succeeded.
fn command_output(command: &mut Command) -> Option<String> {
    let output = command.stderr(Stdio::null()).output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// The version of `package` in Cargo.lock (the first entry of that name).
pub(crate) fn locked_version(root: &Path, package: &str) -> Option<String> {
    let lock: toml::Table = std::fs::read_to_string(root.join("Cargo.lock"))
        .ok()?
        .parse()
        .ok()?;
    lock.get("package")?
        .as_array()?
        .iter()
        .find(|p| p.get("name").and_then(toml::Value::as_str) == Some(package))?
        .get("version")?
        .as_str()
        .map(str::to_string)
}

/// `YYYY-MM-DD HH:MM` in UTC.
fn utc_now() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locked_version_reads_cargo_lock() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let v = locked_version(&root, "burn").expect("burn is locked");
        assert!(v.starts_with("0."), "{v}");
    }
}
