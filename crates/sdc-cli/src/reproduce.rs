//! `sdc reproduce`: the paper's experiments (specs built into `sdc`, or `--experiments DIR`),
//! sweeps (resumable, shardable, also across a Slurm array) and the report.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use sdc_reproduce::experiment::{PlannedRun, Profile};
use sdc_reproduce::reproduce::{ReproduceOptions, plan, select_specs};
use sdc_reproduce::specs::SpecSource;
use sdc_reproduce::sweep::{RunStatus, ShardArg, SweepObserver};
use sdc_train::BackendKind;

use crate::absolute_path;

/// Options of `reproduce`.
#[derive(Args, Debug)]
pub struct ReproduceArgs {
    /// The quick profile: fewer seeds, epochs and grid points (minutes on 2 cores).
    #[arg(long)]
    pub quick: bool,
    /// Only this experiment (repeatable).
    #[arg(long, value_name = "NAME")]
    pub only: Vec<String>,
    /// List the experiments and their claims, then exit.
    #[arg(long)]
    pub list: bool,
    /// Runs in parallel (default: the number of cores).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Run only shard i of n (e.g. 1/2), or `slurm`: this Slurm array task's shard (from
    /// SLURM_ARRAY_TASK_ID, _COUNT, _MIN). Merge the output directories, then --report-only.
    #[arg(long, value_name = "I/N|slurm")]
    pub shard: Option<ShardArg>,
    /// Backend for every run.
    #[arg(long)]
    pub backend: Option<BackendKind>,
    /// Output directory (default: reproduce/quick or reproduce/full).
    #[arg(long, value_parser = absolute_path)]
    pub out: Option<PathBuf>,
    /// Train nothing: render the report from the runs that exist.
    #[arg(long)]
    pub report_only: bool,
    /// A directory of experiment specs instead of the default ones. Their `base` configs are
    /// read relative to the working directory (the repository root for cargo xtask), else from
    /// the configs built into sdc.
    #[arg(long, value_name = "DIR", value_parser = absolute_path)]
    pub experiments: Option<PathBuf>,
    /// Print each experiment's runs and estimated CPU time, and the total for --jobs, then exit.
    #[arg(long)]
    pub plan: bool,
    /// Dataset draws per experiment: draw 0 is its own dataset (the paper's), draw d adds d to
    /// data.seed; the report says on how many the claim holds. Default: the spec's `datasets`
    /// in the full profile (5 for the headline claims), 1 in the quick one.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub datasets: Option<u32>,
    /// Seeds of a grid point trained as one replica-batched model (default: chosen by the
    /// planner; 1 trains every run alone).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub replicas: Option<u32>,
}

/// Where a reproduction runs from, which sets its defaults.
#[derive(Clone, Debug)]
pub struct Home {
    /// The specs used without `--experiments`.
    pub default_specs: SpecSource,
    /// The default output goes to `<dir>/reproduce/<profile>`; `base` paths of specs given
    /// with `--experiments` are relative to it.
    pub dir: PathBuf,
}

impl Home {
    /// An installed `sdc`: the built-in specs, output under the working directory.
    pub fn here() -> Result<Self> {
        Ok(Self {
            default_specs: SpecSource::Builtin,
            dir: std::env::current_dir().context("reading the working directory")?,
        })
    }

    /// A checkout: the specs of `root/experiments` (edits take effect without a rebuild), output
    /// under the repository root.
    pub fn repository(root: PathBuf) -> Self {
        Self {
            default_specs: SpecSource::Dir {
                experiments: root.join("experiments"),
                root: root.clone(),
            },
            dir: root,
        }
    }
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

/// Lists the experiments, or runs (this shard of) them and renders the report; prints a
/// summary and where the report is.
pub fn run(args: ReproduceArgs, home: &Home, quiet: bool) -> Result<()> {
    let profile = if args.quick {
        Profile::Quick
    } else {
        Profile::Full
    };
    let specs = match args.experiments {
        Some(experiments) => SpecSource::Dir {
            experiments,
            root: home.dir.clone(),
        },
        None => home.default_specs.clone(),
    };
    let datasets = args.datasets.map(|n| n as usize);
    if args.list {
        for spec in select_specs(&specs, &args.only)? {
            let draws = sdc_reproduce::robustness::draws(&spec, profile, datasets)?;
            let n = spec.plan(&specs, profile)?.len() * draws;
            let draws = if draws > 1 {
                format!(", {draws} dataset draws")
            } else {
                String::new()
            };
            println!(
                "{:<22} {n:>4} runs ({}{draws})  {}",
                spec.name,
                profile.name(),
                spec.claim
            );
        }
        return Ok(());
    }
    let shard = args
        .shard
        .map(|s| s.resolve(|name| std::env::var(name).ok()))
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let options = ReproduceOptions {
        specs,
        out: args
            .out
            .unwrap_or_else(|| home.dir.join("reproduce").join(profile.name())),
        profile,
        only: args.only,
        jobs: args
            .jobs
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
        shard,
        backend: args.backend,
        train: !args.report_only,
        datasets,
        replicas: args.replicas.map(|n| n as usize),
    };
    if args.plan {
        print!("{}", sdc_reproduce::reproduce::plan_report(&options)?);
        return Ok(());
    }
    let selected = select_specs(&options.specs, &options.only)?;
    let all = plan(&selected, &options)?;
    let mine = match options.shard {
        Some(shard) => shard.select(all).len(),
        None => all.len(),
    };
    if let Some(shard) = options.shard {
        println!(
            "shard {}/{}: {mine} runs of {} from {}",
            shard.index,
            shard.count,
            options.specs.describe(),
            options.out.display()
        );
    }
    let bar = if options.train && !quiet {
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
