//! The child-process protocol: the parent starts one child per measurement ([`sdc_command`],
//! [`baseline_command`]) and reads the one JSON line it ends with ([`measure`]); an sdc child
//! ([`child`]) trains in its own process and reads its peak RSS and thread count from `/proc`.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail, ensure};
use sdc_train::replica::run_replicas_until;
use sdc_train::{BackendKind, EpochRecord, TrainObserver};
use serde::{Deserialize, Serialize};

use super::args::{Baseline, ChildArgs, TorchDevice};
use super::grid::Case;

/// What every child prints as one JSON line (bench.py writes the same fields).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Measurement {
    pub(crate) framework: String,
    /// sdc's backend (none for the baseline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) backend: Option<String>,
    pub(crate) model: String,
    pub(crate) batch_size: usize,
    pub(crate) threads: usize,
    pub(crate) epochs: usize,
    pub(crate) warmup_epochs: usize,
    pub(crate) steps: usize,
    pub(crate) samples: usize,
    pub(crate) seconds: f64,
    pub(crate) samples_per_second: f64,
    pub(crate) peak_rss_kib: u64,
    /// OS threads of the child when it finished, or the most cores sdc's runs used at once if
    /// more (its threads on borrowed cores end before the child does): shows whether it used
    /// the threads allowed.
    pub(crate) threads_seen: usize,
    /// Mean batch loss of the last timed epoch: a check that both frameworks really train.
    pub(crate) final_mean_loss: f64,
    /// Models trained at once (bench/jax/bench.py's `--replicas`; none: one). `samples` and
    /// `samples_per_second` are summed over them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) replicas: Option<usize>,
    /// Floating-point operations of forward + backward per training mosaic ([`super::flops`]);
    /// the same model in both frameworks, so sdc's children report it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) flops_per_sample: Option<f64>,
    pub(crate) versions: BTreeMap<String, String>,
}

impl Measurement {
    /// An sdc child's measurement of `args`: `train_len` mosaics per epoch per model, `args.epochs`
    /// timed epochs in `seconds`, `replicas` models at once (none: one), this process's peak RSS
    /// and threads.
    fn of_sdc(
        args: &ChildArgs,
        train_len: usize,
        seconds: f64,
        final_mean_loss: f64,
        replicas: Option<usize>,
        flops_per_sample: Option<f64>,
    ) -> Result<Self> {
        let samples = train_len * args.epochs * replicas.unwrap_or(1);
        let status = ProcStatus::read()?;
        Ok(Self {
            framework: "sdc".into(),
            backend: Some(args.backend.name().into()),
            model: args.model.name().into(),
            batch_size: args.batch_size,
            threads: args.threads,
            epochs: args.epochs,
            warmup_epochs: args.warmup_epochs,
            steps: train_len.div_ceil(args.batch_size) * args.epochs,
            samples,
            seconds,
            samples_per_second: samples as f64 / seconds,
            peak_rss_kib: status.peak_rss_kib,
            threads_seen: status.threads.max(sdc_train::cores::peak_in_use()),
            final_mean_loss,
            replicas,
            flops_per_sample,
            versions: BTreeMap::from([("sdc".to_string(), env!("CARGO_PKG_VERSION").to_string())]),
        })
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
pub(crate) fn child(args: &ChildArgs) -> Result<()> {
    // sdc borrows idle cores (a replica group trains in halves, an epoch is evaluated while the
    // next one trains); a measurement of n threads lets it count n.
    ensure!(
        sdc_train::cores::limit(args.threads),
        "the core count was fixed before the measurement started"
    );
    let (warmup, timed) = (args.warmup_epochs, args.epochs);
    ensure!(timed >= 1, "--epochs must be >= 1");
    let mut config = args.model.config(args.batch_size, warmup, timed)?;
    config.train.backend = args.backend;
    if args.replicas > 1 {
        return replica_child(args, &config);
    }
    let (splits, _) = sdc_data::load_splits(&args.data)
        .with_context(|| format!("reading the bench data in {}", args.data.display()))?;
    let train = &splits.train;
    let flops_per_sample = super::flops::training_flops_per_mosaic(
        &config.model,
        train.segment_shape(),
        train.n_segments(),
        train.n_classes(),
    );
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
    let measurement = Measurement::of_sdc(
        args,
        train.len(),
        seconds,
        window.last().expect("timed >= 1").running_loss,
        None,
        flops_per_sample,
    )?;
    println!("{}", serde_json::to_string(&measurement)?);
    Ok(())
}

/// One sdc measurement of `args.replicas` seeds trained as one replica-batched model
/// (`sdc_train::replica`, as `reproduce` groups the seeds of a grid point); prints its
/// [`Measurement`], samples summed over the replicas.
///
/// The replica API trains into run directories, so the window is cut with its own interrupts,
/// each a checkpoint: train to the end of the warm-up epochs; then one resumed call of one epoch
/// and one of `epochs + 1`, each timed. Every call pays the same fixed cost (loading the data and
/// the checkpoints, the run records, writing and syncing the checkpoints: 0.1-0.2 s for 20
/// replicas, a tenth of a 20-epoch window), so the difference of the two times is `epochs`
/// epochs of training alone, as the single-model row's epoch clock and the baselines' loops
/// measure. The last epoch then runs untimed and evaluates, and its training loss (mean over
/// the replicas) is `final_mean_loss`.
fn replica_child(args: &ChildArgs, config: &sdc_train::ExperimentConfig) -> Result<()> {
    let (warmup, timed, replicas) = (args.warmup_epochs, args.epochs, args.replicas);
    let configs: Vec<_> = (0..replicas as u64)
        .map(|seed| {
            let mut c = config.clone();
            c.train.seed = seed;
            // The one-epoch call's epoch and the extra epoch of the timed call.
            c.train.max_epochs += 2;
            c.train.eval_every = c.train.max_epochs;
            // A checkpoint only at the interrupts below.
            c.train.checkpoint_every = 0;
            c
        })
        .collect();
    let root = tempfile::tempdir().context("a temporary directory for the replica runs")?;
    let dirs: Vec<_> = (0..replicas)
        .map(|r| root.path().join(format!("replica-{r}")))
        .collect();
    // Trains (resuming) to the end of epoch `epoch`, where every replica must stop; the call's
    // wall time.
    let train_to = |epoch: usize| -> Result<f64> {
        let started = std::time::Instant::now();
        let results = run_replicas_until(&configs, &dirs, Some(epoch));
        let seconds = started.elapsed().as_secs_f64();
        for result in results {
            match result {
                Err(sdc_train::TrainError::Interrupted { epoch: e }) if e == epoch => {}
                other => bail!("a replica did not stop at epoch {epoch}: {other:?}"),
            }
        }
        Ok(seconds)
    };
    if warmup > 0 {
        train_to(warmup)?;
    }
    let one_epoch = train_to(warmup + 1)?;
    let timed_plus_one = train_to(warmup + 2 + timed)?;
    let seconds = (timed_plus_one - one_epoch).max(f64::MIN_POSITIVE);
    let mut loss = 0.0;
    for result in run_replicas_until(&configs, &dirs, None) {
        let summary = result.context("the last (evaluated) epoch of a replica")?;
        loss += summary.train.loss / replicas as f64;
    }
    let (splits, _) = sdc_data::load_splits(&args.data)
        .with_context(|| format!("reading the bench data in {}", args.data.display()))?;
    let train = &splits.train;
    let flops = super::flops::training_flops_per_mosaic(
        &config.model,
        train.segment_shape(),
        train.n_segments(),
        train.n_classes(),
    );
    let measurement = Measurement::of_sdc(args, train.len(), seconds, loss, Some(replicas), flops)?;
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

pub(crate) fn sdc_command(
    exe: &Path,
    case: &Case,
    backend: BackendKind,
    warmup_epochs: usize,
    data: &Path,
    replicas: usize,
) -> Command {
    let mut command = Command::new(exe);
    command
        .args(["bench", "child", "--model", case.model.name()])
        .args(["--replicas", &replicas.to_string()])
        .args(["--backend", backend.name()])
        .args(["--batch-size", &case.batch_size.to_string()])
        .args(["--threads", &case.threads.to_string()])
        .args(["--epochs", &case.epochs.to_string()])
        .args(["--warmup-epochs", &warmup_epochs.to_string()])
        .arg("--data")
        .arg(data)
        // burn-ndarray and burn-flex parallelise over rayon's global pool (when built with
        // their threads), ndarray's matrixmultiply has its own pool; both read these when
        // first used.
        .env("RAYON_NUM_THREADS", case.threads.to_string())
        .env("MATMUL_NUM_THREADS", case.threads.to_string());
    command
}

/// A baseline's child: its `bench.py` with `python`, training `replicas` models at once
/// (bench/jax/bench.py's `--replicas`; PyTorch trains one, on `torch_device`).
#[allow(clippy::too_many_arguments)] // one per field of the child's command line
pub(crate) fn baseline_command(
    baseline: Baseline,
    python: &Path,
    script: &Path,
    case: &Case,
    warmup_epochs: usize,
    data: &Path,
    replicas: usize,
    torch_device: TorchDevice,
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
        // PyTorch's bench.py calls torch.set_num_threads, JAX's sets XLA_FLAGS (or the CPU
        // affinity) before importing jax; these bound the OpenMP / MKL pools as well.
        .env("OMP_NUM_THREADS", case.threads.to_string())
        .env("MKL_NUM_THREADS", case.threads.to_string());
    match baseline {
        Baseline::Jax => command.args(["--replicas", &replicas.to_string()]),
        Baseline::Pytorch => command.args(["--device", torch_device.name()]),
    };
    command
}

/// Runs one child and reads the JSON line it ends with; `replicas` is the number of models it
/// was asked to train at once (1: the plain measurement).
pub(crate) fn measure(
    mut command: Command,
    case: &Case,
    framework: &str,
    replicas: usize,
) -> Result<Measurement> {
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
        m.framework == framework
            && m.model == case.model.name()
            && m.batch_size == case.batch_size
            && m.threads == case.threads
            && m.epochs == case.epochs
            && m.replicas.unwrap_or(1) == replicas,
        "{framework} measured {} batch {} threads {} epochs {} replicas {}, asked for {case:?} \
         replicas {replicas}",
        m.model,
        m.batch_size,
        m.threads,
        m.epochs,
        m.replicas.unwrap_or(1)
    );
    Ok(m)
}
