//! An experiment's results as plain data: one row per grid point, each metric described over
//! runs next to the paper's number. The verdict reads it; the report renders it.

use serde::{Deserialize, Serialize};

use crate::stats::Stats;

/// Results of one experiment: one row per grid point.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Table {
    /// Grid axis names, e.g. `model.averaging_layer`.
    pub columns: Vec<String>,
    /// One row per grid point, in the order the report shows them.
    pub rows: Vec<TableRow>,
}

/// One grid point of a [`Table`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableRow {
    /// One display value per column of the table.
    pub point: Vec<String>,
    /// Runs at this grid point, failed ones included.
    pub n_runs: usize,
    /// How many of those runs failed (they are not in the metrics).
    pub n_failed: usize,
    /// How many of the successful runs are dead starts: they never left chance accuracy. They
    /// are in the metrics (the paper's means include them too).
    #[serde(default)]
    pub n_dead: usize,
    /// Metrics over the successful runs.
    pub metrics: Vec<MetricCell>,
}

/// One metric at one grid point: ours over runs, and the paper's number where it gives one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricCell {
    /// Metric name, e.g. `train.accuracy`, `train.ftpt`, `test.ffpt`.
    pub name: String,
    /// Our runs described.
    pub ours: Stats,
    /// Our value of every run described by `ours`, in run (seed) order: the verdict tests and
    /// the figures' dots read them.
    #[serde(default)]
    pub values: Vec<f64>,
    /// The paper's value (the paper's Sec. 8), if it reports one.
    pub paper: Option<f64>,
}

impl MetricCell {
    /// A cell over the runs' `values`, with the paper's number where it gives one.
    pub fn new(name: impl Into<String>, values: Vec<f64>, paper: Option<f64>) -> Self {
        MetricCell {
            name: name.into(),
            ours: crate::stats::describe(&values),
            values,
            paper,
        }
    }
}

impl TableRow {
    /// The cell of metric `name`, if this row has one.
    pub fn metric(&self, name: &str) -> Option<&MetricCell> {
        self.metrics.iter().find(|m| m.name == name)
    }
}
