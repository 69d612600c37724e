//! `cargo xtask bench`: training throughput of sdc, optionally against a PyTorch baseline.
//!
//! Every measurement runs in its own child process, so that the thread count (set through the
//! environment before the backend's thread pools exist) and the peak RSS belong to it alone:
//! sdc runs as `xtask bench child ...` (this binary), PyTorch as `bench/pytorch/bench.py`. Each
//! child trains on the same exported `.sdc` file and prints one JSON line ([`Measurement`]).
//! Throughput counts the samples of forward + backward + optimiser steps over the timed epochs,
//! after warm-up epochs; evaluation is excluded (sdc: the timed epochs are never evaluated, the
//! one extra epoch that `fit` evaluates at the end is not timed; PyTorch: no evaluation).
//!
//! Models differ in cost by two orders of magnitude, so each has its own training set size,
//! default timed epochs and default batch sizes ([`BenchModel`]); `--epochs` and
//! `--batch-sizes` override them for every model. The mnist-mosaic CNN needs the MNIST files:
//! the bench gets them as `cargo xtask fetch-data mnist` does (verified, fetched when missing).
//!
//! Linux only: peak RSS is the child's high-water mark (`VmHWM` in `/proc/self/status` for
//! sdc, `ru_maxrss` for PyTorch: the same kernel counter).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail, ensure};
use clap::{Args, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use sdc_data::{DataConfig, ImageSource};
use sdc_train::{EpochRecord, ExperimentConfig, TrainObserver};
use serde::{Deserialize, Serialize};

/// Arguments of `cargo xtask bench`.
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BenchArgs {
    #[command(subcommand)]
    child: Option<ChildCommand>,
    /// Also measure this baseline, interleaved with sdc on the same data and sizes.
    #[arg(long, value_name = "FRAMEWORK")]
    vs: Option<Baseline>,
    /// Models (default: all).
    #[arg(long, value_delimiter = ',', value_name = "MODEL")]
    models: Vec<BenchModel>,
    /// Thread counts.
    #[arg(long, value_delimiter = ',', default_value = "1,2")]
    threads: Vec<usize>,
    /// Batch sizes, for every model [default per model: 64,256,1024 for the synthetic models,
    /// 64,256 for mnist-mosaic (its training set is 512 mosaics)].
    #[arg(long, value_delimiter = ',')]
    batch_sizes: Vec<usize>,
    /// Measurements per (model, batch size, threads) and framework.
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// Timed epochs per measurement, for every model [default per model: 20 for the synthetic
    /// models (3000 mosaics of 9 5-D segments), 2 for mnist-mosaic (512 mosaics of 9 28x28
    /// tiles, two CNNs)].
    #[arg(long)]
    epochs: Option<usize>,
    /// Untimed epochs before them.
    #[arg(long, default_value_t = 1)]
    warmup_epochs: usize,
    /// Python with torch for the baseline (default: bench/.venv, created when missing).
    #[arg(long)]
    python: Option<PathBuf>,
    /// Markdown report, relative to the repository root (a CSV is written next to it).
    #[arg(long, default_value = "bench/results.md")]
    out: PathBuf,
}

#[derive(Subcommand, Debug)]
enum ChildCommand {
    /// One sdc measurement; `bench` runs it in a child process.
    #[command(hide = true)]
    Child(ChildArgs),
}

/// One measurement: what a child is asked to run.
#[derive(Args, Debug, Clone)]
struct ChildArgs {
    #[arg(long)]
    model: BenchModel,
    #[arg(long)]
    batch_size: usize,
    #[arg(long)]
    threads: usize,
    #[arg(long)]
    epochs: usize,
    #[arg(long)]
    warmup_epochs: usize,
    /// Directory with train.sdc (and test.sdc).
    #[arg(long)]
    data: PathBuf,
}

/// A framework to compare against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Baseline {
    /// `bench/pytorch/bench.py`.
    Pytorch,
}

/// `configs/mnist-mosaic.toml`, the mnist-mosaic model's experiment (embedded, as sdc-train
/// embeds the default experiment).
const MNIST_MOSAIC_TOML: &str = include_str!("../../configs/mnist-mosaic.toml");

/// Training mosaics of the mnist-mosaic bench: a multiple of both default batch sizes, so every
/// step is a full batch, and few enough that one sdc measurement (warm-up, timed and final
/// epochs at some 30-50 mosaics/s on one core) stays under about a minute.
const MNIST_MOSAIC_TRAIN: usize = 512;

/// The models benchmarked. bench.py's `MODELS` knows each by the same name.
///
/// Extension point: a new model is a variant here (its [`BenchModel::base_config`], the data
/// it trains on under [`BenchModel::data_key`], its default epochs and batch sizes) and an
/// entry of the same name in bench.py's `MODELS`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum BenchModel {
    /// Dataset 2, Architecture 2 (focus 5-6-12-1, classifier 5-6-12-3), averaging at layer 0.
    SyntheticLayer0,
    /// The same with tanh features of focus layer 1 averaged (classifier 6-6-12-3).
    SyntheticLayer1,
    /// configs/mnist-mosaic.toml: 3x3 MNIST mosaics, focus and classifier CNNs (conv 8, conv
    /// 16 with BatchNorm, ReLU, max-pool; dense 32), averaging the raw tiles (layer 0).
    MnistMosaic,
}

impl BenchModel {
    const ALL: [Self; 3] = [
        Self::SyntheticLayer0,
        Self::SyntheticLayer1,
        Self::MnistMosaic,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::SyntheticLayer0 => "synthetic-layer0",
            Self::SyntheticLayer1 => "synthetic-layer1",
            Self::MnistMosaic => "mnist-mosaic",
        }
    }

    /// What the report says the model trains on.
    fn describe(self) -> &'static str {
        match self {
            Self::SyntheticLayer0 | Self::SyntheticLayer1 => {
                "Dataset 2 (9 segments of 5 values), MLP focus and classifier"
            }
            Self::MnistMosaic => {
                "configs/mnist-mosaic.toml: 3x3 mosaics of 28x28 MNIST tiles, focus and \
                 classifier CNNs, Adam lr 0.001"
            }
        }
    }

    /// Timed epochs when `--epochs` is not given: enough steps for a stable rate, few enough
    /// for a short measurement.
    fn default_epochs(self) -> usize {
        match self {
            Self::SyntheticLayer0 | Self::SyntheticLayer1 => 20,
            Self::MnistMosaic => 2,
        }
    }

    /// Batch sizes when `--batch-sizes` is not given (none above the training set).
    fn default_batch_sizes(self) -> &'static [usize] {
        match self {
            Self::SyntheticLayer0 | Self::SyntheticLayer1 => &[64, 256, 1024],
            Self::MnistMosaic => &[64, 256],
        }
    }

    /// The experiment before the bench's training settings.
    fn base_config(self) -> Result<ExperimentConfig> {
        let overrides: &[&str] = match self {
            Self::SyntheticLayer0 => &["model.averaging_layer=0"],
            Self::SyntheticLayer1 => &["model.averaging_layer=1"],
            // Only the data shrinks (same seed and classes); no mosaic cache under data/.
            Self::MnistMosaic => &["data.n_test=0", "data.cache=false"],
        };
        let mut overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
        Ok(match self {
            Self::SyntheticLayer0 | Self::SyntheticLayer1 => {
                ExperimentConfig::default_with(&overrides)?
            }
            Self::MnistMosaic => {
                overrides.push(format!("data.n_train={MNIST_MOSAIC_TRAIN}"));
                ExperimentConfig::from_toml_str(
                    MNIST_MOSAIC_TOML,
                    "<embedded configs/mnist-mosaic.toml>",
                    &overrides,
                )?
            }
        })
    }

    /// The experiment a measurement trains: `max_epochs = warmup + timed + 1`, no stop rule and
    /// evaluation only after the last (untimed) epoch, which `fit` always evaluates.
    fn config(self, batch_size: usize, warmup: usize, timed: usize) -> Result<ExperimentConfig> {
        let mut config = self.base_config()?;
        let t = &mut config.train;
        t.batch_size = batch_size;
        t.max_epochs = warmup + timed + 1;
        t.stop = None;
        t.eval_every = t.max_epochs;
        t.checkpoint_every = 0;
        config.validate().map_err(anyhow::Error::msg)?;
        Ok(config)
    }

    /// Folder (under the bench data directory) of the exported data this model trains on.
    fn data_key(self) -> &'static str {
        match self {
            Self::SyntheticLayer0 | Self::SyntheticLayer1 => "dataset2",
            Self::MnistMosaic => "mnist-mosaic",
        }
    }
}

/// What every child prints as one JSON line (bench.py writes the same fields).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Measurement {
    framework: String,
    model: String,
    batch_size: usize,
    threads: usize,
    epochs: usize,
    warmup_epochs: usize,
    steps: usize,
    samples: usize,
    seconds: f64,
    samples_per_second: f64,
    peak_rss_kib: u64,
    /// OS threads of the child when it finished: shows whether it used the threads allowed.
    threads_seen: usize,
    /// Mean batch loss of the last timed epoch: a check that both frameworks really train.
    final_mean_loss: f64,
    versions: BTreeMap<String, String>,
}

/// `cargo xtask bench ...`.
pub fn run(args: BenchArgs, root: &Path) -> Result<()> {
    match args.child {
        Some(ChildCommand::Child(child_args)) => child(&child_args),
        None => parent(&args, root),
    }
}

/// Records when each epoch's optimiser steps ended (before any evaluation of that epoch).
#[derive(Default)]
struct EpochClock {
    records: Vec<EpochRecord>,
}

impl TrainObserver for EpochClock {
    fn on_epoch(&mut self, record: &EpochRecord) {
        self.records.push(record.clone());
    }
}

/// One sdc measurement in this process; prints its [`Measurement`].
fn child(args: &ChildArgs) -> Result<()> {
    let (warmup, timed) = (args.warmup_epochs, args.epochs);
    ensure!(timed >= 1, "--epochs must be >= 1");
    let config = args.model.config(args.batch_size, warmup, timed)?;
    let (splits, _) = sdc_data::load_splits(&args.data)
        .with_context(|| format!("reading the bench data in {}", args.data.display()))?;
    let train = &splits.train;
    let device = sdc_train::device(config.train.backend, config.train.precision)?.autodiff();
    let model = config.model.init_for(
        train.segment_shape(),
        train.n_classes(),
        config.train.seed,
        &device,
    )?;
    let mut clock = EpochClock::default();
    let outcome = sdc_train::fit(&config, model, train, None, &device, None, &mut clock)?;
    ensure!(
        outcome.epochs == config.train.max_epochs && clock.records.len() == outcome.epochs,
        "training ran {} epochs, {} reported; expected {}",
        outcome.epochs,
        clock.records.len(),
        config.train.max_epochs
    );
    // Epoch e is records[e - 1]; the window is from the end of epoch `warmup` to the end of
    // epoch `warmup + timed`, whose elapsed_s are taken right after their steps.
    let window = &clock.records[warmup..warmup + timed];
    ensure!(
        window.iter().all(|r| r.train.is_none()),
        "a timed epoch was evaluated; the timing would include evaluation"
    );
    let start = warmup
        .checked_sub(1)
        .map_or(0.0, |i| clock.records[i].elapsed_s);
    let end = window.last().expect("timed >= 1").elapsed_s;
    let seconds = end - start;
    let samples = train.len() * timed;
    let status = ProcStatus::read()?;
    let measurement = Measurement {
        framework: "sdc".into(),
        model: args.model.name().into(),
        batch_size: args.batch_size,
        threads: args.threads,
        epochs: timed,
        warmup_epochs: warmup,
        steps: train.len().div_ceil(args.batch_size) * timed,
        samples,
        seconds,
        samples_per_second: samples as f64 / seconds,
        peak_rss_kib: status.peak_rss_kib,
        threads_seen: status.threads,
        final_mean_loss: window.last().expect("timed >= 1").running_loss,
        versions: BTreeMap::from([("sdc".to_string(), env!("CARGO_PKG_VERSION").to_string())]),
    };
    println!("{}", serde_json::to_string(&measurement)?);
    Ok(())
}

/// The fields of `/proc/self/status` the bench reports.
struct ProcStatus {
    peak_rss_kib: u64,
    threads: usize,
}

impl ProcStatus {
    fn read() -> Result<Self> {
        let text = std::fs::read_to_string("/proc/self/status")
            .context("reading /proc/self/status (the bench is Linux-only)")?;
        let field = |name: &str| -> Result<u64> {
            let line = text
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .with_context(|| format!("/proc/self/status has no {name}"))?;
            let number = line.trim().trim_end_matches("kB").trim();
            number
                .parse()
                .with_context(|| format!("/proc/self/status: {name} {line:?}"))
        };
        Ok(Self {
            peak_rss_kib: field("VmHWM:")?,
            threads: field("Threads:")? as usize,
        })
    }
}

/// One (model, batch size, threads) point of the grid, with the model's timed epochs.
#[derive(Clone, Copy, Debug)]
struct Case {
    model: BenchModel,
    batch_size: usize,
    threads: usize,
    epochs: usize,
}

impl BenchArgs {
    /// Timed epochs of `model`: `--epochs`, else the model's default.
    fn epochs_of(&self, model: BenchModel) -> usize {
        self.epochs.unwrap_or_else(|| model.default_epochs())
    }

    /// Batch sizes of `model`: `--batch-sizes`, else the model's defaults.
    fn batch_sizes_of(&self, model: BenchModel) -> Vec<usize> {
        if self.batch_sizes.is_empty() {
            model.default_batch_sizes().to_vec()
        } else {
            self.batch_sizes.clone()
        }
    }

    /// The grid: models, then batch sizes, then thread counts.
    fn cases(&self, models: &[BenchModel]) -> Vec<Case> {
        models
            .iter()
            .flat_map(|&model| {
                self.batch_sizes_of(model)
                    .into_iter()
                    .flat_map(move |batch_size| {
                        self.threads.iter().map(move |&threads| Case {
                            model,
                            batch_size,
                            threads,
                            epochs: self.epochs_of(model),
                        })
                    })
            })
            .collect()
    }
}

fn parent(args: &BenchArgs, root: &Path) -> Result<()> {
    ensure!(
        args.repeats >= 1 && args.epochs != Some(0),
        "--repeats and --epochs must be >= 1"
    );
    ensure!(
        args.threads
            .iter()
            .chain(&args.batch_sizes)
            .all(|&n| n >= 1),
        "thread counts and batch sizes must be >= 1"
    );
    let models = if args.models.is_empty() {
        BenchModel::ALL.to_vec()
    } else {
        args.models.clone()
    };
    let load_before = load_average();
    let bench_dir = root.join("target").join("bench");
    let mut data_dirs = BTreeMap::new();
    for model in &models {
        if !data_dirs.contains_key(model.data_key()) {
            let dir = bench_dir.join("data").join(model.data_key());
            export_data(*model, root, &dir)?;
            data_dirs.insert(model.data_key(), dir);
        }
    }
    let python = match (args.vs, &args.python) {
        (None, _) => None,
        (Some(Baseline::Pytorch), Some(python)) => Some(python.clone()),
        (Some(Baseline::Pytorch), None) => Some(ensure_venv(root)?),
    };
    let script = root.join("bench").join("pytorch").join("bench.py");
    let exe = std::env::current_exe().context("locating the xtask binary")?;

    let cases = args.cases(&models);
    let per_case = if python.is_some() { 2 } else { 1 };
    let bar = ProgressBar::new((cases.len() * args.repeats * per_case) as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "bench {pos}/{len} [{elapsed_precise}<{eta_precise}] {wide_bar} {msg}",
        )
        .context("progress template")?,
    );
    let mut measurements: Vec<Measurement> = Vec::new();
    // Repeats are the outer loop and the two frameworks swap order every time, so slow drift
    // of the machine (thermal, other load) spreads over both.
    for repeat in 0..args.repeats {
        for (i, case) in cases.iter().enumerate() {
            let sdc_first = (repeat + i) % 2 == 0;
            let data = &data_dirs[case.model.data_key()];
            let mut order: Vec<Option<&PathBuf>> = vec![None];
            if let Some(python) = &python {
                order.insert(usize::from(sdc_first), Some(python));
            }
            for framework in order {
                let name = if framework.is_some() {
                    "pytorch"
                } else {
                    "sdc"
                };
                bar.set_message(format!(
                    "{} batch {} threads {} {name}",
                    case.model.name(),
                    case.batch_size,
                    case.threads
                ));
                let command = match framework {
                    None => sdc_command(&exe, case, args.warmup_epochs, data),
                    Some(python) => {
                        pytorch_command(python, &script, case, args.warmup_epochs, data)
                    }
                };
                measurements.push(measure(command, case, name)?);
                bar.inc(1);
            }
        }
    }
    bar.finish_and_clear();

    let raw: String = measurements
        .iter()
        .map(|m| serde_json::to_string(m).map(|s| s + "\n"))
        .collect::<Result<_, _>>()?;
    sdc_io::write_atomic(&bench_dir.join("measurements.jsonl"), raw.as_bytes())?;
    let rows = summarise(&cases, &measurements);
    let table = markdown_table(&rows, python.is_some());
    println!("{table}");
    let out = root.join(&args.out);
    let load = format!("{load_before} at the start, {} at the end", load_average());
    let report = format!(
        "{}\n{table}\n{}",
        preamble(args, root, &models, &measurements, &load),
        notes(&measurements, &load_before)
    );
    sdc_io::write_atomic(&out, report.as_bytes())?;
    sdc_io::write_atomic(&out.with_extension("csv"), csv_table(&rows).as_bytes())?;
    println!(
        "written: {} (and .csv), raw: {}",
        out.display(),
        bench_dir.join("measurements.jsonl").display()
    );
    Ok(())
}

/// Writes the data `model` trains on to `dir` (train.sdc, test.sdc), from its config's seed.
/// Image mosaics are tiled from the data directory (`$SDC_DATA`, else `data/` at the
/// repository root), whose files are verified and fetched when missing first.
fn export_data(model: BenchModel, root: &Path, dir: &Path) -> Result<()> {
    let mut config = model.base_config()?;
    if let DataConfig::Images(images) = &mut config.data {
        let data_dir = crate::data_dir(None, root);
        ensure_images(images.source, &data_dir)?;
        images.data_dir = Some(data_dir);
    }
    let splits = config
        .data
        .load()
        .with_context(|| format!("building the {} bench data", model.name()))?;
    let meta = serde_json::to_value(&config.data)?;
    sdc_data::save_splits(&splits, &meta, dir)
        .with_context(|| format!("exporting the bench data to {}", dir.display()))
}

/// Verifies the files of `source` in `data_dir`; when some are missing or differ, fetches them
/// as `cargo xtask fetch-data` does (the same code), or fails naming that command.
fn ensure_images(source: ImageSource, data_dir: &Path) -> Result<()> {
    let Err(missing) = sdc_data::images::verify(source, data_dir) else {
        return Ok(());
    };
    eprintln!("{missing}\nfetching {source} as `cargo xtask fetch-data {source}` does");
    sdc_data::fetch(source, data_dir).with_context(|| {
        format!(
            "the bench needs {source} in {}: run `cargo xtask fetch-data {source}` (or point \
             ${} at a data directory that has it)",
            source.dir(data_dir).display(),
            sdc_data::DATA_DIR_ENV
        )
    })?;
    Ok(())
}

/// `bench/.venv` with bench/pytorch/requirements.txt installed; (re)installs when the
/// requirements changed since the last install. Returns its python.
fn ensure_venv(root: &Path) -> Result<PathBuf> {
    let venv = root.join("bench").join(".venv");
    let python = venv.join("bin").join("python");
    let requirements = root.join("bench").join("pytorch").join("requirements.txt");
    let wanted = std::fs::read_to_string(&requirements)
        .with_context(|| format!("reading {}", requirements.display()))?;
    let stamp = venv.join("installed-requirements.txt");
    if python.is_file() && std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str())
    {
        return Ok(python);
    }
    if !python.is_file() {
        eprintln!("creating {} (python3 -m venv)", venv.display());
        run_checked(Command::new("python3").arg("-m").arg("venv").arg(&venv))?;
    }
    // --no-deps: requirements.txt pins every package torch needs to run on a CPU (see there).
    eprintln!(
        "installing {} (about 2.5 GB of wheels)",
        requirements.display()
    );
    run_checked(
        Command::new(venv.join("bin").join("pip"))
            .args(["install", "--disable-pip-version-check", "--no-deps", "-r"])
            .arg(&requirements),
    )?;
    std::fs::write(&stamp, wanted).with_context(|| format!("writing {}", stamp.display()))?;
    Ok(python)
}

fn run_checked(command: &mut Command) -> Result<()> {
    let status = command
        .status()
        .with_context(|| format!("starting {command:?}"))?;
    ensure!(status.success(), "{command:?} failed: {status}");
    Ok(())
}

fn sdc_command(exe: &Path, case: &Case, warmup_epochs: usize, data: &Path) -> Command {
    let mut command = Command::new(exe);
    command
        .args(["bench", "child", "--model", case.model.name()])
        .args(["--batch-size", &case.batch_size.to_string()])
        .args(["--threads", &case.threads.to_string()])
        .args(["--epochs", &case.epochs.to_string()])
        .args(["--warmup-epochs", &warmup_epochs.to_string()])
        .arg("--data")
        .arg(data)
        // burn-ndarray parallelises over rayon's global pool and calls matrixmultiply, which
        // has its own pool; both read these when first used.
        .env("RAYON_NUM_THREADS", case.threads.to_string())
        .env("MATMUL_NUM_THREADS", case.threads.to_string());
    command
}

fn pytorch_command(
    python: &Path,
    script: &Path,
    case: &Case,
    warmup_epochs: usize,
    data: &Path,
) -> Command {
    let mut command = Command::new(python);
    command
        .arg(script)
        .arg("--data")
        .arg(data.join(sdc_data::TRAIN_FILE))
        .args(["--model", case.model.name()])
        .args(["--batch-size", &case.batch_size.to_string()])
        .args(["--threads", &case.threads.to_string()])
        .args(["--epochs", &case.epochs.to_string()])
        .args(["--warmup-epochs", &warmup_epochs.to_string()])
        // bench.py calls torch.set_num_threads; these bound the OpenMP / MKL pools as well.
        .env("OMP_NUM_THREADS", case.threads.to_string())
        .env("MKL_NUM_THREADS", case.threads.to_string());
    command
}

/// Runs one child and reads the JSON line it ends with.
fn measure(mut command: Command, case: &Case, framework: &str) -> Result<Measurement> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("starting {command:?}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        bail!(
            "{framework} measurement {case:?} failed ({}):\n{stderr}",
            output.status
        );
    }
    let line = stdout
        .lines()
        .rfind(|l| !l.trim().is_empty())
        .with_context(|| {
            format!("{framework} measurement {case:?} printed nothing; stderr:\n{stderr}")
        })?;
    let m: Measurement = serde_json::from_str(line)
        .with_context(|| format!("{framework} measurement {case:?}: not a measurement: {line}"))?;
    ensure!(
        m.model == case.model.name()
            && m.batch_size == case.batch_size
            && m.threads == case.threads
            && m.epochs == case.epochs,
        "{framework} measured {} batch {} threads {} epochs {}, asked for {case:?}",
        m.model,
        m.batch_size,
        m.threads,
        m.epochs
    );
    Ok(m)
}

/// Median, min and max of samples/s, and the largest peak RSS, of one framework at one case.
#[derive(Clone, Copy, Debug)]
struct Stats {
    median: f64,
    min: f64,
    max: f64,
    peak_rss_mib: f64,
}

impl Stats {
    fn of(ms: &[&Measurement]) -> Option<Self> {
        let mut v: Vec<f64> = ms.iter().map(|m| m.samples_per_second).collect();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = match n {
            0 => return None,
            _ if n % 2 == 1 => v[n / 2],
            _ => (v[n / 2 - 1] + v[n / 2]) / 2.0,
        };
        let rss = ms.iter().map(|m| m.peak_rss_kib).max().unwrap_or(0);
        Some(Self {
            median,
            min: v[0],
            max: v[n - 1],
            peak_rss_mib: rss as f64 / 1024.0,
        })
    }
}

struct Row {
    case: Case,
    sdc: Option<Stats>,
    pytorch: Option<Stats>,
}

fn summarise(cases: &[Case], measurements: &[Measurement]) -> Vec<Row> {
    cases
        .iter()
        .map(|case| {
            let of = |framework: &str| {
                let ms: Vec<&Measurement> = measurements
                    .iter()
                    .filter(|m| {
                        m.framework == framework
                            && m.model == case.model.name()
                            && m.batch_size == case.batch_size
                            && m.threads == case.threads
                    })
                    .collect();
                Stats::of(&ms)
            };
            Row {
                case: *case,
                sdc: of("sdc"),
                pytorch: of("pytorch"),
            }
        })
        .collect()
}

fn markdown_table(rows: &[Row], with_pytorch: bool) -> String {
    let cell = |s: &Option<Stats>| match s {
        Some(s) => format!("{:.0} ({:.0}–{:.0})", s.median, s.min, s.max),
        None => "–".into(),
    };
    let rss = |s: &Option<Stats>| s.map_or("–".into(), |s| format!("{:.0}", s.peak_rss_mib));
    let mut out = String::new();
    if with_pytorch {
        out.push_str("| model | batch | threads | sdc samples/s median (min–max) | PyTorch samples/s median (min–max) | sdc / PyTorch | sdc peak RSS MiB | PyTorch peak RSS MiB |\n");
        out.push_str("|---|---:|---:|---:|---:|---:|---:|---:|\n");
    } else {
        out.push_str(
            "| model | batch | threads | sdc samples/s median (min–max) | sdc peak RSS MiB |\n",
        );
        out.push_str("|---|---:|---:|---:|---:|\n");
    }
    for r in rows {
        let c = &r.case;
        if with_pytorch {
            let ratio = match (r.sdc, r.pytorch) {
                (Some(a), Some(b)) => format!("{:.2}×", a.median / b.median),
                _ => "–".into(),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {ratio} | {} | {} |",
                c.model.name(),
                c.batch_size,
                c.threads,
                cell(&r.sdc),
                cell(&r.pytorch),
                rss(&r.sdc),
                rss(&r.pytorch)
            );
        } else {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                c.model.name(),
                c.batch_size,
                c.threads,
                cell(&r.sdc),
                rss(&r.sdc)
            );
        }
    }
    out
}

fn csv_table(rows: &[Row]) -> String {
    let mut out = String::from(
        "model,batch_size,threads,sdc_median,sdc_min,sdc_max,pytorch_median,pytorch_min,pytorch_max,ratio,sdc_peak_rss_mib,pytorch_peak_rss_mib\n",
    );
    let num = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.1}"));
    for r in rows {
        let (s, p) = (r.sdc, r.pytorch);
        let ratio = s.zip(p).map(|(s, p)| s.median / p.median);
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{},{}",
            r.case.model.name(),
            r.case.batch_size,
            r.case.threads,
            num(s.map(|s| s.median)),
            num(s.map(|s| s.min)),
            num(s.map(|s| s.max)),
            num(p.map(|s| s.median)),
            num(p.map(|s| s.min)),
            num(p.map(|s| s.max)),
            ratio.map_or(String::new(), |r| format!("{r:.3}")),
            num(s.map(|s| s.peak_rss_mib)),
            num(p.map(|s| s.peak_rss_mib)),
        );
    }
    out
}

/// Title, machine, versions and settings.
fn preamble(
    args: &BenchArgs,
    root: &Path,
    models: &[BenchModel],
    measurements: &[Measurement],
    load: &str,
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
    let commit = command_output(Command::new("git").arg("-C").arg(root).args([
        "rev-parse",
        "--short=12",
        "HEAD",
    ]));
    let dirty = command_output(Command::new("git").arg("-C").arg(root).args([
        "status",
        "--porcelain",
        "--untracked-files=no",
    ]));
    let commit = match (commit, dirty) {
        (Some(c), Some(d)) if !d.is_empty() => format!("{c} (with uncommitted changes)"),
        (Some(c), _) => c,
        (None, _) => "unknown".into(),
    };
    // `rustc 1.95.0 (...)`: the toolchain on PATH now, which built this binary under `cargo xtask`.
    let rustc = command_output(
        Command::new(std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into())).arg("-V"),
    )
    .unwrap_or_else(|| "unknown".into());
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
    let vs = if args.vs.is_some() {
        " --vs pytorch"
    } else {
        ""
    };
    let mut flags = format!("--repeats {}", args.repeats);
    if let Some(epochs) = args.epochs {
        let _ = write!(flags, " --epochs {epochs}");
    }
    let _ = write!(flags, " --warmup-epochs {}", args.warmup_epochs);
    // One line per model: what it trains on, how many mosaics and timed epochs, which grid.
    let mut model_lines = String::new();
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
    format!(
        "# Training throughput: sdc{}\n\n\
         Written by `cargo xtask bench{vs} {flags}`.\n\n\
         - machine: {cpu}, {cores} logical CPUs; Linux; load average (1 min) {load}\n\
         - date: {} UTC\n\
         - commit: {commit}\n\
         - versions: {} (sdc on burn's ndarray backend, f32)\n\n\
         {model_lines}\n\
         samples/s = training samples (mosaics) through forward + backward + both Adam steps per \
         second, over the timed epochs after {} warm-up epoch(s), evaluation excluded; one \
         process per measurement, {} per cell (median, min–max). Peak RSS is the largest over \
         those processes.\n",
        if args.vs.is_some() { " vs PyTorch" } else { "" },
        utc_now(),
        versions.join(", "),
        args.warmup_epochs,
        args.repeats,
    )
}

/// Observations the table alone does not show.
fn notes(measurements: &[Measurement], load_before: &str) -> String {
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
            "\nProcesses that ended with fewer OS threads than they were allowed (they ran at \
             most that parallel):\n"
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
fn load_average() -> String {
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

/// The version of `package` in Cargo.lock.
fn locked_version(root: &Path, package: &str) -> Option<String> {
    let lock = std::fs::read_to_string(root.join("Cargo.lock")).ok()?;
    let name = format!("name = \"{package}\"");
    let mut lines = lock.lines();
    lines.find(|l| *l == name)?;
    let version = lines.next()?.strip_prefix("version = ")?;
    Some(version.trim_matches('"').to_string())
}

/// `YYYY-MM-DD HH:MM` in UTC.
fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(framework: &str, sps: f64, rss: u64) -> Measurement {
        Measurement {
            framework: framework.into(),
            model: "synthetic-layer0".into(),
            batch_size: 256,
            threads: 2,
            epochs: 1,
            warmup_epochs: 1,
            steps: 12,
            samples: 3000,
            seconds: 3000.0 / sps,
            samples_per_second: sps,
            peak_rss_kib: rss,
            threads_seen: 1,
            final_mean_loss: 1.0,
            versions: BTreeMap::new(),
        }
    }

    #[test]
    fn stats_take_the_median_and_the_largest_rss() {
        let (a, b, c) = (
            m("sdc", 300.0, 2048),
            m("sdc", 100.0, 4096),
            m("sdc", 200.0, 1024),
        );
        let s = Stats::of(&[&a, &b, &c]).expect("three values");
        assert_eq!((s.median, s.min, s.max), (200.0, 100.0, 300.0));
        assert_eq!(s.peak_rss_mib, 4.0);
        let s = Stats::of(&[&a, &b]).expect("two values");
        assert_eq!(s.median, 200.0);
        assert!(Stats::of(&[]).is_none());
    }

    #[test]
    fn table_has_the_ratio_of_medians() {
        let case = Case {
            model: BenchModel::SyntheticLayer0,
            batch_size: 256,
            threads: 2,
            epochs: 1,
        };
        let ms = [m("sdc", 300.0, 2048), m("pytorch", 200.0, 4096)];
        let rows = summarise(&[case], &ms);
        let table = markdown_table(&rows, true);
        assert!(
            table.contains(
                "| synthetic-layer0 | 256 | 2 | 300 (300–300) | 200 (200–200) | 1.50× | 2 | 4 |"
            ),
            "{table}"
        );
        assert!(csv_table(&rows).contains(",1.500,"));
    }

    #[test]
    fn bench_config_times_unevaluated_epochs() {
        let c = BenchModel::SyntheticLayer1.config(64, 1, 3).expect("valid");
        assert_eq!(c.train.max_epochs, 5);
        assert_eq!(c.train.eval_every, 5);
        assert!(c.train.stop.is_none());
        assert_eq!(c.model.averaging_layer, 1);
        assert_eq!(c.train.batch_size, 64);
    }

    #[test]
    fn mnist_mosaic_is_the_cnn_of_its_config_on_fewer_mosaics() {
        let c = BenchModel::MnistMosaic.config(64, 1, 3).expect("valid");
        assert_eq!((c.train.max_epochs, c.train.eval_every), (5, 5));
        assert_eq!(c.train.batch_size, 64);
        assert!(c.train.stop.is_none());
        assert_eq!(c.train.optimizer.lr(), 0.001);
        assert_eq!(c.model.averaging_layer, 0);
        // (channels, padding, pool) of every conv block; all 3x3 with BatchNorm.
        let (focus, classifier) = (&c.model.focus.conv, &c.model.classifier.conv);
        let blocks = focus.iter().chain(classifier);
        assert!(blocks.clone().all(|l| l.kernel == 3 && l.batch_norm));
        let blocks: Vec<_> = blocks.map(|l| (l.channels, l.padding, l.pool)).collect();
        assert_eq!(
            blocks,
            [(8, 0, 2), (16, 0, 2), (8, 1, 2), (16, 1, 2)],
            "focus, then classifier"
        );
        assert_eq!(c.model.focus.hidden, [32]);
        assert_eq!(c.model.classifier.hidden, [32]);
        let DataConfig::Images(data) = &c.data else {
            panic!("image data: {:?}", c.data);
        };
        assert_eq!(data.source, ImageSource::Mnist);
        assert_eq!(
            (data.mosaic.n_train, data.mosaic.n_test),
            (MNIST_MOSAIC_TRAIN, 0)
        );
        assert!(!data.cache, "the bench leaves data/mosaics alone");
        for &b in BenchModel::MnistMosaic.default_batch_sizes() {
            assert_eq!(MNIST_MOSAIC_TRAIN % b, 0, "full batches only");
        }
    }

    #[test]
    fn epochs_and_batch_sizes_default_per_model_and_flags_override_them() {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            args: BenchArgs,
        }
        let parse = |argv: &[&str]| {
            <Cli as clap::Parser>::try_parse_from(
                std::iter::once("bench").chain(argv.iter().copied()),
            )
            .expect("parses")
            .args
        };
        let all = [BenchModel::SyntheticLayer0, BenchModel::MnistMosaic];
        let grid = |args: &BenchArgs| -> Vec<(&str, usize, usize, usize)> {
            args.cases(&all)
                .iter()
                .map(|c| (c.model.name(), c.batch_size, c.threads, c.epochs))
                .collect()
        };
        let defaults = parse(&["--threads", "1"]);
        assert_eq!(
            grid(&defaults),
            [
                ("synthetic-layer0", 64, 1, 20),
                ("synthetic-layer0", 256, 1, 20),
                ("synthetic-layer0", 1024, 1, 20),
                ("mnist-mosaic", 64, 1, 2),
                ("mnist-mosaic", 256, 1, 2),
            ]
        );
        let given = parse(&["--threads", "2", "--epochs", "4", "--batch-sizes", "32"]);
        assert_eq!(
            grid(&given),
            [("synthetic-layer0", 32, 2, 4), ("mnist-mosaic", 32, 2, 4)]
        );
        let models = parse(&["--models", "mnist-mosaic,synthetic-layer1"]).models;
        assert_eq!(
            models,
            [BenchModel::MnistMosaic, BenchModel::SyntheticLayer1]
        );
    }

    #[test]
    fn locked_version_reads_cargo_lock() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let v = locked_version(&root, "burn").expect("burn is locked");
        assert!(v.starts_with("0."), "{v}");
    }
}
