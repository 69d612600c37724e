//! `cargo xtask parity --vs pytorch`: sdc against an independent PyTorch trainer of the same
//! protocol, per grid point and seed (crates/sdc-reproduce/src/parity.rs), written into
//! `docs/parity.md` between its markers.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use sdc_model::InitSeeding;
use sdc_reproduce::experiment::{PlannedRun, Profile};
use sdc_reproduce::parity::{ParityOptions, ReferenceTrainer, markdown, parity, splice};
use sdc_reproduce::specs::SpecSource;
use sdc_reproduce::sweep::{RunStatus, SweepObserver};
use sdc_train::BackendKind;

use crate::absolute_path;

/// The experiments compared by default: the ones whose verdicts most need the evidence.
pub const DEFAULT_EXPERIMENTS: [&str; 6] = [
    "avg-layer-d1",
    "avg-layer-d2",
    "complexity-type4",
    "sparsemax-d2",
    "error-modes",
    "alternating-min",
];

/// The implementation compared against.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Vs {
    /// bench/pytorch/reference.py in bench/.venv.
    Pytorch,
}

/// A seeding of the two networks' initial weights (`model.init_seeding`).
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Seeding {
    /// One seed, independent streams per network (sdc's default).
    Independent,
    /// The paper's code: the same seed before each network.
    Shared,
}

/// Options of `cargo xtask parity`.
#[derive(Args, Debug)]
pub struct ParityArgs {
    /// The implementation compared against.
    #[arg(long, value_enum, default_value = "pytorch")]
    pub vs: Vs,
    /// Only this experiment (repeatable; default: avg-layer-d1, avg-layer-d2, complexity-type4,
    /// sparsemax-d2, error-modes, alternating-min).
    #[arg(long, value_name = "NAME")]
    pub only: Vec<String>,
    /// The quick profile's grid points and epochs.
    #[arg(long)]
    pub quick: bool,
    /// Seeds per grid point (default: the profile's).
    #[arg(long)]
    pub seeds: Option<usize>,
    /// Seedings compared (repeatable; default: independent).
    #[arg(long, value_enum)]
    pub seeding: Vec<Seeding>,
    /// Runs in parallel (default: the number of cores).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Backend of the sdc runs.
    #[arg(long)]
    pub backend: Option<BackendKind>,
    /// Threads per PyTorch run.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Python with torch (default: bench/.venv, created when missing).
    #[arg(long, value_parser = absolute_path)]
    pub python: Option<PathBuf>,
    /// Output directory of both sides' runs (default: parity/quick or parity/full); reruns
    /// reuse the runs there.
    #[arg(long, value_parser = absolute_path)]
    pub out: Option<PathBuf>,
    /// The document the tables go into, between its markers (default: docs/parity.md).
    #[arg(long, value_parser = absolute_path)]
    pub doc: Option<PathBuf>,
}

/// Prints each finished sdc run that failed, and a count.
struct Log;

impl SweepObserver for Log {
    fn run_finished(&self, run: &PlannedRun, status: &RunStatus) {
        if let RunStatus::Failed(error) = status {
            eprintln!("FAILED sdc {}: {error}", run.rel_dir.display());
        }
    }
}

/// Runs the comparison and writes the document; fails (after writing it) when any run failed.
pub fn run(args: ParityArgs, root: &Path) -> Result<()> {
    let Vs::Pytorch = args.vs;
    let profile = if args.quick {
        Profile::Quick
    } else {
        Profile::Full
    };
    let python = match args.python {
        Some(python) => python,
        None => crate::bench::python::ensure_venv(root)?,
    };
    let seedings: Vec<InitSeeding> = if args.seeding.is_empty() {
        vec![InitSeeding::Independent]
    } else {
        args.seeding
            .iter()
            .map(|s| match s {
                Seeding::Independent => InitSeeding::Independent,
                Seeding::Shared => InitSeeding::Shared,
            })
            .collect()
    };
    let only = if args.only.is_empty() {
        DEFAULT_EXPERIMENTS.iter().map(|s| s.to_string()).collect()
    } else {
        args.only
    };
    let options = ParityOptions {
        specs: SpecSource::Dir {
            experiments: root.join("experiments"),
            root: root.to_path_buf(),
        },
        out: args
            .out
            .unwrap_or_else(|| root.join("parity").join(profile.name())),
        profile,
        only,
        seeds: args.seeds,
        seedings,
        jobs: args
            .jobs
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
        backend: args.backend,
        reference: ReferenceTrainer {
            python,
            script: root.join("bench").join("pytorch").join("reference.py"),
            threads: args.threads,
        },
    };
    let started = Instant::now();
    let rows = parity(&options, &Log)?;
    let torch = torch_version(&options.out);
    let how = format!(
        "Generated by `{}` on {} ({} profile{}, {} cores available, sdc commit {}, torch {}, {} thread(s) per PyTorch run, {:.0} s wall for the whole invocation). Runs: `{}`.",
        command_line(),
        time::OffsetDateTime::now_utc().date(),
        profile.name(),
        options
            .seeds
            .map_or(String::new(), |n| format!(", {n} seeds per grid point")),
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        sdc_train::git_commit().map_or("unknown", |c| &c[..c.len().min(12)]),
        torch.as_deref().unwrap_or("unknown"),
        options.reference.threads,
        started.elapsed().as_secs_f64(),
        options
            .out
            .strip_prefix(root)
            .unwrap_or(&options.out)
            .display(),
    );
    let doc = args
        .doc
        .unwrap_or_else(|| root.join("docs").join("parity.md"));
    let existing = match std::fs::read_to_string(&doc) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("reading {}", doc.display())),
    };
    let text = splice(&existing, &markdown(&rows, &how));
    sdc_io::write_atomic(&doc, text.as_bytes())
        .with_context(|| format!("writing {}", doc.display()))?;
    let failures: usize = rows.iter().map(|r| r.failures.len()).sum();
    let significant = rows.iter().filter(|r| r.significant()).count();
    println!(
        "{}: {} grid points, {significant} significantly different, {failures} failed runs",
        doc.display(),
        rows.len()
    );
    if failures > 0 {
        bail!("{failures} runs failed (listed in {})", doc.display());
    }
    Ok(())
}

/// The torch version one of the reference results records.
fn torch_version(out: &Path) -> Option<String> {
    let mut stack = vec![out.join("pytorch")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).ok()?.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().is_some_and(|n| n == "result.json") {
                let text = std::fs::read_to_string(&path).ok()?;
                let value: serde_json::Value = serde_json::from_str(&text).ok()?;
                return value.get("torch")?.as_str().map(Into::into);
            }
        }
    }
    None
}

/// The command as typed, for the document's header.
fn command_line() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    format!("cargo xtask {}", args.join(" "))
}
