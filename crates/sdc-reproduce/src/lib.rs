//! Sweeps over sdc runs, on top of sdc-train's one-run API: [`experiment`] (declarative specs
//! under `experiments/` and the grid of runs they plan), [`sweep`] (running planned runs in
//! parallel, resumably, by shard), [`replicas`] (the seeds of a grid point as one replica-batched
//! model), [`reproduce`] (the paper's experiments end to end: plan, sweep, then the report with
//! verdicts) and [`run_figures`] (one run's curves, histogram and attention gallery: `sdc eval
//! --figures`). `cargo xtask reproduce` is a thin shell over
//! [`reproduce::reproduce`].

pub mod experiment;
mod mosaic_figure;
pub mod replicas;
pub mod reproduce;
pub mod run_figures;
pub mod sweep;
