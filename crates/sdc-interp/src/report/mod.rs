//! The reproduction report: plain data describing each experiment's results, and [`render`],
//! which turns it into Markdown, self-contained HTML, SVG (plots) and PNG (image mosaics)
//! figures, and CSV/JSON tables.
//!
//! The data model is filled by the sweep runner; nothing here computes metrics. Rendering is
//! deterministic (the same [`Report`] gives byte-identical files) and every file is written
//! atomically.

mod aggregate;
mod draws;
mod figures;
mod format;
mod html;
mod markdown;
mod mosaic;
mod render;
mod run;
mod tables;
mod write;

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

use crate::stats::Stats;
use crate::verdict::{Verdict, VerdictRule};

pub use crate::table::{MetricCell, Table, TableRow};
pub use aggregate::{TrendPivot, merge_histograms, pivot_trend, seed_mean_curve};
pub use draws::{DRAWS_RULE, DrawTally, DrawVerdict, draws_text};
pub use render::{ReportError, render};
pub use run::{RenderedRun, RunReport, render_run};

/// One line of a [`Figure::Lines`] plot.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Series {
    /// Legend label.
    pub label: String,
    /// `(x, y)` points in drawing order; non-finite points are skipped when drawn.
    #[serde(with = "crate::stats::points_nan_as_null")]
    pub points: Vec<(f64, f64)>,
}

/// One image mosaic with a model's attention on its tiles, for [`Figure::Mosaics`].
///
/// Tile `t` sits at row `t / grid`, column `t % grid` (reading order), as in the data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MosaicPanel {
    /// Tiles per side; the mosaic has `m = grid * grid` tiles.
    pub grid: usize,
    /// Channels of a tile: 1 (grey) or 3 (RGB).
    pub channels: usize,
    /// Tile height in pixels.
    pub height: usize,
    /// Tile width in pixels.
    pub width: usize,
    /// `[m, channels, height, width]` pixel bytes: tile-major, each tile channel-planar (as
    /// MNIST and CIFAR store them).
    pub pixels: Vec<u8>,
    /// The model's attention weight on each tile (`m` values).
    pub alpha: Vec<f64>,
    /// Index J of the foreground tile.
    pub fg_index: usize,
    /// True label.
    pub label: u32,
    /// The model's prediction.
    pub prediction: u32,
    /// A few words naming the mosaic, e.g. `train #17`.
    pub caption: String,
}

impl MosaicPanel {
    /// Number of tiles `m`.
    pub fn n_tiles(&self) -> usize {
        self.grid.saturating_mul(self.grid)
    }

    /// The tile the model focuses on: argmax of alpha, first index on ties (docs/paper-notes.md, Metrics).
    pub fn focus(&self) -> usize {
        let row: Vec<f32> = self.alpha.iter().map(|&a| a as f32).collect();
        crate::argmax_first(&row)
    }

    /// Whether the focus is on the foreground tile J.
    pub fn focus_true(&self) -> bool {
        self.focus() == self.fg_index
    }
}

/// A figure of an experiment, drawn to `figures/<experiment>-<name>.<ext>`: `.svg` for plots,
/// `.png` for [`Figure::Mosaics`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Figure {
    /// Lines over x (e.g. accuracy / FTPT / FFPT vs epoch, one series per metric or per grid point).
    Lines {
        /// File stem.
        name: String,
        /// Title drawn above the plot.
        title: String,
        /// X axis label.
        x_label: String,
        /// Y axis label.
        y_label: String,
        /// The lines.
        series: Vec<Series>,
    },
    /// Histograms of alpha at the true position (bins on `[0, 1]`), one series per grid point.
    Histograms {
        /// File stem.
        name: String,
        /// Title drawn above the plot.
        title: String,
        /// Bin edges shared by every series (`counts.len() + 1` values).
        edges: Vec<f64>,
        /// `(label, counts per bin)` per grid point.
        series: Vec<(String, Vec<u64>)>,
    },
    /// A metric across an ordered grid axis: every run as a dot, our mean with its 95% bootstrap
    /// interval, and the paper's numbers.
    Trend {
        /// File stem.
        name: String,
        /// Title drawn above the plot.
        title: String,
        /// X axis label (the grid axis).
        x_label: String,
        /// Y axis label (the metric).
        y_label: String,
        /// Axis values in order; every series has one entry per tick.
        x_ticks: Vec<String>,
        /// `(series label, stats per tick)` for our runs.
        ours: Vec<(String, Vec<Stats>)>,
        /// Every run's value per tick, one entry per series of `ours` (drawn as dots); empty
        /// when unknown.
        #[serde(default)]
        runs: Vec<Vec<Vec<f64>>>,
        /// `(series label, paper value per tick)`; `None` where the paper gives no number.
        paper: Vec<(String, Vec<Option<f64>>)>,
    },
    /// Small multiples: one small plot per panel (e.g. per grid point), each with its own lines
    /// (e.g. one per seed), all on the same axes so they compare at a glance.
    Panels {
        /// File stem.
        name: String,
        /// Title drawn above the grid of plots.
        title: String,
        /// X axis label, shared.
        x_label: String,
        /// Y axis label, shared.
        y_label: String,
        /// `(panel title, lines)` per panel, in reading order.
        panels: Vec<(String, Vec<Series>)>,
    },
    /// Image mosaics with their attention drawn on the tiles, focus-true panels left and
    /// focus-false panels right; a PNG, with the numbers in a caption table.
    Mosaics {
        /// File stem.
        name: String,
        /// Title (the image's alt text and caption).
        title: String,
        /// The mosaics, in the order listed within each group.
        panels: Vec<MosaicPanel>,
    },
}

impl Figure {
    /// The figure's file stem.
    pub fn name(&self) -> &str {
        match self {
            Figure::Lines { name, .. }
            | Figure::Panels { name, .. }
            | Figure::Histograms { name, .. }
            | Figure::Trend { name, .. }
            | Figure::Mosaics { name, .. } => name,
        }
    }

    /// The figure's title.
    pub fn title(&self) -> &str {
        match self {
            Figure::Lines { title, .. }
            | Figure::Panels { title, .. }
            | Figure::Histograms { title, .. }
            | Figure::Trend { title, .. }
            | Figure::Mosaics { title, .. } => title,
        }
    }

    /// The figure's file extension: `png` for mosaics, `svg` for plots.
    pub fn extension(&self) -> &'static str {
        match self {
            Figure::Mosaics { .. } => "png",
            Figure::Lines { .. }
            | Figure::Panels { .. }
            | Figure::Histograms { .. }
            | Figure::Trend { .. } => "svg",
        }
    }
}

/// A run that did not finish, with the error it reported.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Failure {
    /// Run identifier (e.g. its directory name).
    pub run: String,
    /// The error, possibly several lines.
    pub error: String,
}

/// Everything the report says about one experiment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentSection {
    /// Experiment name; also the stem of its table and figure files.
    pub name: String,
    /// The paper's claim being checked, in words.
    pub claim: String,
    /// Where the claim comes from, e.g. `Pandey et al. 2022, Sec. 8`.
    pub source: String,
    /// Outcome of [`crate::judge`] on `table` with `rule` (with several dataset draws, draw 0's:
    /// the paper's dataset).
    pub verdict: Verdict,
    /// One-sentence reason for the verdict, with the numbers.
    pub verdict_reason: String,
    /// The rule the verdict was decided by.
    pub rule: VerdictRule,
    /// Results per grid point.
    pub table: Table,
    /// Figures, in the order shown.
    pub figures: Vec<Figure>,
    /// Runs that failed.
    pub failures: Vec<Failure>,
    /// Free-text remarks, e.g. silent-failure flags.
    pub notes: Vec<String>,
    /// The verdict on each dataset draw, draw 0 first, when the experiment ran on more than one;
    /// empty otherwise (and then left out of the JSON, so reports without draws read as before).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub draws: Vec<DrawVerdict>,
}

/// The whole reproduction report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    /// Title of the report.
    pub title: String,
    /// Sweep profile, `quick` or `full`.
    pub profile: String,
    /// What produced the report (program, version, commit); shown verbatim.
    pub generated_by: String,
    /// Experiments, in the order shown.
    pub experiments: Vec<ExperimentSection>,
}

/// Paths of the files [`render`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    /// `report.md`.
    pub markdown: PathBuf,
    /// `report.html`.
    pub html: PathBuf,
    /// Every figure file, in report order.
    pub figures: Vec<PathBuf>,
    /// Every table file (`tables/<experiment>.csv` and `.json`), in report order.
    pub tables: Vec<PathBuf>,
}
