//! `cargo xtask bench`: training throughput of sdc, optionally against PyTorch and JAX baselines.
//!
//! Every measurement runs in its own child process, so that the thread count (set through the
//! environment before the backend's thread pools exist) and the peak RSS belong to it alone:
//! sdc runs as `xtask bench child ...` (this binary), PyTorch as `bench/pytorch/bench.py`, JAX
//! as `bench/jax/bench.py` (the synthetic models; also `--replicas 20` under `jax.vmap`). Each
//! child trains on the same exported `.sdc` file and prints one JSON line ([`child::Measurement`]).
//! Throughput counts the samples of forward + backward + optimiser steps over the timed epochs,
//! after warm-up epochs; evaluation is excluded (sdc: the timed epochs are never evaluated, the
//! one extra epoch that `fit` evaluates at the end is not timed; the baselines: no evaluation).
//!
//! Models differ in cost by two orders of magnitude, so each has its own training set size,
//! default timed epochs and default batch sizes ([`models::BenchModel`]); `--epochs` and
//! `--batch-sizes` override them for every model. The mnist-mosaic CNN needs the MNIST files:
//! the bench gets them as `cargo xtask fetch-data mnist` does (verified, fetched when missing).
//!
//! Linux only: peak RSS is the child's high-water mark (`VmHWM` in `/proc/self/status` for
//! sdc, `ru_maxrss` for PyTorch: the same kernel counter).
//!
//! Files by concern: [`args`] (the command line), [`models`] (what is trained), [`grid`] (the
//! points measured), [`parent`] (exports the data, runs the children in order, writes the
//! report), [`child`] (the child-process protocol and `/proc` reading), [`data`] (the exported
//! training sets), [`python`] (the baselines' venvs), [`environment`] (machine, versions and load
//! for the report), [`flops`] (the arithmetic of a training step), [`peak`] (the machine's
//! single-core matrix-product peak, the limit column's reference) and [`tables`] (statistics
//! and the Markdown / CSV tables).

mod args;
mod child;
mod data;
mod environment;
mod flops;
mod grid;
mod models;
mod parent;
mod peak;
pub(crate) mod python;
mod tables;

use std::path::Path;

use anyhow::Result;

pub use args::BenchArgs;
use args::ChildCommand;

/// `cargo xtask bench ...`.
pub fn run(args: BenchArgs, root: &Path) -> Result<()> {
    match args.child {
        Some(ChildCommand::Child(child_args)) => child::child(&child_args),
        Some(ChildCommand::Peak) => peak::child(),
        None => parent::parent(&args, root),
    }
}
