//! Project automation: `cargo xtask <task>`. Tasks only parse arguments and call library code.
//!
//! - `reproduce`: `sdc reproduce` run from the checkout: the specs under `experiments/` as they
//!   are on disk, output under the repository root.
//! - `fetch-data`: `sdc fetch-data` into the repository's `data/` (or `$SDC_DATA`).
//! - `bench`: training throughput, optionally side by side with the PyTorch reference.
//! - `parity`: sdc against an independent PyTorch trainer, per grid point (docs/parity.md).

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use sdc_cli::{fetch, reproduce};
use tracing_subscriber::EnvFilter;
use xtask::{bench, parity};

/// mimalloc keeps freed memory for reuse: glibc's malloc returns every block over 32 MiB to the
/// kernel, and a training step that allocates such activations faults them in again, zeroed,
/// every time (docs/design.md, "Speed"); `main` tells it never to hand memory back
/// ([`sdc_cli::allocator`]).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(name = "cargo xtask", about = "sdc project tasks")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand, Debug)]
enum Task {
    /// Run the paper's experiments and write a report that compares our numbers with the paper's.
    Reproduce(reproduce::ReproduceArgs),
    /// Put an image dataset's files under the data directory and verify their SHA-256 (the same
    /// command as `sdc fetch-data`; the data directory defaults to the repository's data/).
    FetchData(fetch::FetchDataArgs),
    /// Training throughput of sdc, optionally against PyTorch (`--vs pytorch`); Linux only.
    Bench(bench::BenchArgs),
    /// sdc against an independent PyTorch trainer of the same protocol, per grid point and seed,
    /// with a two-sample test; writes docs/parity.md.
    Parity(parity::ParityArgs),
}

fn main() -> Result<()> {
    sdc_cli::allocator::keep_freed_memory();
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
        Task::Reproduce(args) => reproduce::run(args, &reproduce::Home::repository(root), false),
        Task::FetchData(args) => fetch::run(&args),
        Task::Bench(args) => bench::run(args, &root),
        Task::Parity(args) => parity::run(args, &root),
    }
}

/// The repository root: `cargo xtask` runs from anywhere in the workspace.
fn repository_root() -> Result<PathBuf> {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .context("locating the repository root")
}
