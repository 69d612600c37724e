//! The command line of `cargo xtask bench`, and of the hidden `bench child` it starts.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use sdc_train::BackendKind;

use super::models::BenchModel;

/// Arguments of `cargo xtask bench`.
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub(crate) child: Option<ChildCommand>,
    /// Also measure these baselines, interleaved with sdc on the same data and sizes
    /// (`pytorch`, `jax` or `pytorch,jax`).
    #[arg(long, value_delimiter = ',', value_name = "FRAMEWORK")]
    pub(crate) vs: Vec<Baseline>,
    /// sdc's CPU backends, each measured at every point (default: the default backend).
    #[arg(long, value_delimiter = ',', value_name = "BACKEND")]
    pub(crate) backends: Vec<BackendKind>,
    /// Models (default: all).
    #[arg(long, value_delimiter = ',', value_name = "MODEL")]
    pub(crate) models: Vec<BenchModel>,
    /// Thread counts.
    #[arg(long, value_delimiter = ',', default_value = "1,2")]
    pub(crate) threads: Vec<usize>,
    /// Batch sizes, for every model [default per model: 64,256,1024 for the synthetic models,
    /// 64,256 for mnist-mosaic (its training set is 512 mosaics)].
    #[arg(long, value_delimiter = ',')]
    pub(crate) batch_sizes: Vec<usize>,
    /// Measurements per (model, batch size, threads) and framework.
    #[arg(long, default_value_t = 3)]
    pub(crate) repeats: usize,
    /// Timed epochs per measurement, for every model [default per model: 20 for the synthetic
    /// models (3000 mosaics of 9 5-D segments), 2 for mnist-mosaic (512 mosaics of 9 28x28
    /// tiles, two CNNs)].
    #[arg(long)]
    pub(crate) epochs: Option<usize>,
    /// Training mosaics of the image models [default per model: 512 for mnist-mosaic, 5,000 for
    /// cifar10-mosaic; 30,000 is the paper's epoch]. The synthetic models keep their 3,000.
    #[arg(long)]
    pub(crate) train_mosaics: Option<usize>,
    /// Untimed epochs before them.
    #[arg(long, default_value_t = 1)]
    pub(crate) warmup_epochs: usize,
    /// Python with torch for the PyTorch baseline (default: bench/.venv, created when missing).
    #[arg(long, value_parser = crate::absolute_path)]
    pub(crate) python: Option<PathBuf>,
    /// Where the PyTorch baseline trains: `cpu`, or `cuda` to set it beside sdc's `wgpu`
    /// backend on the same GPU.
    #[arg(long, default_value = "cpu", value_name = "DEVICE")]
    pub(crate) torch_device: TorchDevice,
    /// Python with jax for the JAX baseline (default: bench/.venv-jax, created when missing).
    #[arg(long, value_parser = crate::absolute_path)]
    pub(crate) jax_python: Option<PathBuf>,
    /// Markdown report, relative to the repository root (a CSV is written next to it).
    #[arg(long, default_value = "bench/results.md")]
    pub(crate) out: PathBuf,
}

/// The hidden child command.
#[derive(Subcommand, Debug)]
pub(crate) enum ChildCommand {
    /// One sdc measurement; `bench` runs it in a child process.
    #[command(hide = true)]
    Child(ChildArgs),
    /// The single-core f32 matrix-product peak; `bench` runs it in a child process.
    #[command(hide = true)]
    Peak,
}

/// One measurement: what a child is asked to run.
#[derive(Args, Debug, Clone)]
pub(crate) struct ChildArgs {
    #[arg(long)]
    pub(crate) model: BenchModel,
    #[arg(long)]
    pub(crate) backend: BackendKind,
    #[arg(long)]
    pub(crate) batch_size: usize,
    #[arg(long)]
    pub(crate) threads: usize,
    #[arg(long)]
    pub(crate) epochs: usize,
    #[arg(long)]
    pub(crate) warmup_epochs: usize,
    /// Directory with train.sdc (and test.sdc).
    #[arg(long)]
    pub(crate) data: PathBuf,
    /// Seeds 0..R trained as one replica-batched model (`sdc_train::replica`); 1: one model.
    #[arg(long, default_value_t = 1)]
    pub(crate) replicas: usize,
}

/// Where the PyTorch baseline runs (bench/pytorch/bench.py's `--device`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum TorchDevice {
    Cpu,
    Cuda,
}

impl TorchDevice {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Cpu => "cpu",
            Self::Cuda => "cuda",
        }
    }
}

/// A framework to compare against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub(crate) enum Baseline {
    /// `bench/pytorch/bench.py`.
    Pytorch,
    /// `bench/jax/bench.py` (the synthetic models only), plus a `jax.vmap` row of
    /// [`JAX_REPLICAS`] models at [`JAX_REPLICA_BATCH`].
    Jax,
}

/// Models the JAX vmap row trains at once (seeds 0..20, as a sweep over seeds would).
pub(crate) const JAX_REPLICAS: usize = 20;
/// The batch size of the JAX vmap row (and of the sdc and single-model JAX rows beside it).
pub(crate) const JAX_REPLICA_BATCH: usize = 250;

impl Baseline {
    /// The framework name its children report (`Measurement::framework`).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Pytorch => "pytorch",
            Self::Jax => "jax",
        }
    }

    /// The name in the report.
    pub(crate) fn title(self) -> &'static str {
        match self {
            Self::Pytorch => "PyTorch",
            Self::Jax => "JAX",
        }
    }

    /// Whether its script implements `model` (bench/jax/bench.py: the synthetic MLPs only).
    pub(crate) fn supports(self, model: BenchModel) -> bool {
        match self {
            Self::Pytorch => true,
            Self::Jax => matches!(
                model,
                BenchModel::SyntheticLayer0 | BenchModel::SyntheticLayer1
            ),
        }
    }
}

impl BenchArgs {
    /// The baselines of `--vs`, each once, PyTorch first.
    pub(crate) fn baselines(&self) -> Vec<Baseline> {
        let mut baselines = self.vs.clone();
        baselines.sort();
        baselines.dedup();
        baselines
    }

    /// The sdc backends measured: `--backends`, else the default backend.
    pub(crate) fn backends(&self) -> Vec<BackendKind> {
        if self.backends.is_empty() {
            vec![BackendKind::default()]
        } else {
            self.backends.clone()
        }
    }
}
