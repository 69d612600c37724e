//! Interpretability metrics for attention models on selective dependence classification (SDC).
//!
//! Each SDC input has `m` segments and its label depends on one of them only, the foreground at
//! index `J`. Given a model's attention weights (one row of `m` weights per sample), its
//! predictions and the ground truth, this crate computes the metrics of Pandey et al., "On the
//! Interpretability of Attention Networks" (ACML 2022): the four focus × prediction cells
//! (FTPT, FFPT, FTPF, FFPF, in percent), the share of peaked rows, sparsity, distance to the
//! nearest simplex vertex, entropy and the histogram of the weight on the foreground.
//!
//! Everything is a pure function over plain slices: attention is a row-major `f32` buffer wrapped
//! once in [`AlphaRows`], indices, labels and predictions are `u32` slices with one entry per
//! sample. Means over zero samples are 0.0; only [`summarize`] treats an empty set as an error.
//! "docs/paper-notes.md, Metrics" in comments marks a choice made to reproduce the paper's metric code.
//!
//! Across runs, [`describe`] gives mean, sd and a 95% bootstrap interval; [`judge`] decides
//! whether a claim is reproduced ([`VERDICT_RULE`]) and [`assess`] shows every test behind it; [`render`] writes the reproduction report
//! (Markdown, self-contained HTML, SVG and PNG figures, CSV/JSON tables) from a plain [`Report`];
//! the `report` feature (on by default) brings the rendering and its dependencies (plotters, png,
//! base64, csv): without it the crate is metrics, statistics and verdicts only.

// Tests may unwrap: a panic there is the failure report we want.
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod alpha;
mod attention;
pub mod compare;
mod error;
mod histogram;
mod rates;
#[cfg(feature = "report")]
pub mod report;
mod simplex;
pub mod stats;
mod summary;
mod table;
pub mod verdict;

pub use alpha::{AlphaRows, argmax_first};
pub use attention::{
    SPARSITY_EPS, entropy_bits, share_max_at_least, simplex_distance, sparsity_value,
};
pub use error::InterpError;
pub use histogram::{Histogram, alpha_at_true_histogram};
pub use rates::{
    FocusCriterion, FourRates, OutcomeCounts, accuracy, focus_true, four_rates, outcome_counts,
};
#[cfg(feature = "report")]
pub use report::{
    DrawVerdict, ExperimentSection, Failure, Figure, MosaicPanel, Rendered, Report, ReportError,
    Series, render,
};
pub use simplex::{SIMPLEX_TOL, check_simplex};
pub use stats::{Spread, Stats, describe, spread};
pub use summary::{InterpSummary, summarize};
pub use table::{MetricCell, Table, TableRow};
pub use verdict::{
    Agreement, DirectionRule, Judgement, Order, RunScope, TrendOutcome, VERDICT_RULE, Verdict,
    VerdictRule, assess, judge,
};
