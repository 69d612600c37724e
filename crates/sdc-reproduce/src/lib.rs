//! Sweeps over sdc runs, on top of sdc-train's one-run API: [`experiment`] (declarative specs
//! under `experiments/` and the grid of runs they plan), [`sweep`] (running planned runs in
//! parallel, resumably, by shard), [`replicas`] (the seeds of a grid point as one replica-batched
//! model), [`reproduce`] (the paper's experiments end to end: plan, sweep, then the report with
//! verdicts), [`plan`] (its cost, estimated before it starts) and [`parity`] (sdc against an
//! independent PyTorch trainer: `cargo xtask parity`), [`run_figures`] (one run's curves,
//! histogram and attention gallery: `sdc eval --figures`), reading the specs from [`specs`]
//! (built into the binary, or a directory). `sdc reproduce` and `cargo xtask reproduce` are
//! thin shells over
//! [`reproduce::reproduce`].

pub mod experiment;
mod mosaic_figure;
pub mod parity;
pub mod plan;
pub mod replicas;
pub mod reproduce;
pub mod robustness;
pub mod run_figures;
pub mod specs;
pub mod sweep;
