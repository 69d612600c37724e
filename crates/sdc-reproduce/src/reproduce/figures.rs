//! The figures of an experiment's report section: FTPT along the grid with the paper's numbers,
//! every run as a dot, training curves, alpha-at-true histograms and, for image experiments, the
//! attention mosaics.

use std::path::Path;

use sdc_interp::report::{merge_histograms, pivot_trend};
use sdc_interp::{Figure, Series, Table};
use sdc_train::{METRICS_FILE, TrainError, read_rows};

use super::PointRuns;
use crate::experiment::ExperimentSpec;

/// Histograms overlay at most this many grid points (evenly spaced) to stay legible; the
/// training curves show every grid point as small multiples.
const MAX_FIGURE_POINTS: usize = 6;

/// Evenly spaced indices, at most `max` of `n`.
fn spaced(n: usize, max: usize) -> Vec<usize> {
    if n <= max {
        return (0..n).collect();
    }
    let mut picked: Vec<usize> = (0..max).map(|i| i * (n - 1) / (max - 1)).collect();
    picked.dedup();
    picked
}

pub(super) fn figures(
    spec: &ExperimentSpec,
    table: &Table,
    points: &[PointRuns],
    root: &Path,
) -> Result<Vec<Figure>, TrainError> {
    let mut figures = Vec::new();
    let metric = &spec.verdict.metric;
    let point_name = |p: &PointRuns| {
        if table.columns.is_empty() {
            "default".to_string()
        } else {
            table
                .columns
                .iter()
                .zip(&p.label)
                .map(|(c, v)| format!("{c}={v}"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };

    // Trend of the verdict metric along the direction axis (or the first), one series per
    // combination of the other axes.
    if !table.columns.is_empty() {
        let axis = spec
            .verdict
            .direction
            .as_ref()
            .and_then(|d| table.columns.iter().position(|c| c == &d.axis))
            .unwrap_or(0);
        let labels: Vec<Vec<String>> = points.iter().map(|p| p.label.clone()).collect();
        let cells: Vec<(Vec<f64>, Option<f64>)> = table
            .rows
            .iter()
            .map(|row| {
                let cell = row
                    .metrics
                    .iter()
                    .find(|m| &m.name == metric)
                    .expect("the verdict metric is a column");
                (cell.values.clone(), cell.paper)
            })
            .collect();
        let pivot = pivot_trend(&table.columns, &labels, &cells, axis);
        figures.push(Figure::Trend {
            name: "trend".into(),
            title: format!("{metric} along {}", table.columns[axis]),
            x_label: table.columns[axis].clone(),
            y_label: format!("{metric} (%)"),
            x_ticks: pivot.ticks,
            ours: pivot.ours,
            runs: pivot.runs,
            paper: pivot.paper,
        });
    }

    // Training curves of every run, one small panel per grid point (every grid point shown),
    // and histograms of alpha at the true position for a legible subset of grid points.
    let shown = spaced(points.len(), MAX_FIGURE_POINTS);
    let mut ftpt_panels = Vec::new();
    let mut acc_panels = Vec::new();
    let mut hist_series = Vec::new();
    let mut edges = Vec::new();
    for (i, p) in points.iter().enumerate() {
        if p.summaries.is_empty() {
            continue;
        }
        let (mut ftpt_curves, mut acc_curves) = (Vec::new(), Vec::new());
        for (run, summary) in &p.summaries {
            // Verified with the run's manifest already; a read failure leaves the curve out.
            let path = root.join(&run.rel_dir).join(METRICS_FILE);
            let rows = match read_rows(&path) {
                Ok(rows) => rows,
                Err(e) => {
                    tracing::warn!(error = %e, "training curve left out of the report");
                    continue;
                }
            };
            let logged = || rows.iter().filter(|r| r.train_ftpt.is_some());
            let label = format!("seed {}", summary.seed);
            ftpt_curves.push(Series {
                label: label.clone(),
                points: logged()
                    .filter_map(|r| Some((r.epoch as f64, r.train_ftpt?)))
                    .collect(),
            });
            acc_curves.push(Series {
                label,
                points: logged()
                    .filter_map(|r| Some((r.epoch as f64, r.train_accuracy?)))
                    .collect(),
            });
        }
        ftpt_panels.push((point_name(p), ftpt_curves));
        acc_panels.push((point_name(p), acc_curves));
        if shown.contains(&i) {
            let histograms = p
                .summaries
                .iter()
                .map(|(_, s)| s.alpha_at_true.counts.as_slice());
            if let Some(counts) = merge_histograms(histograms) {
                edges = p.summaries[0].1.alpha_at_true.edges.clone();
                hist_series.push((point_name(p), counts));
            }
        }
    }
    if !ftpt_panels.is_empty() {
        let omitted = points.iter().filter(|p| p.summaries.is_empty()).count();
        let note = if omitted == 0 {
            String::new()
        } else {
            format!("; {omitted} grid points without finished runs omitted")
        };
        figures.push(Figure::Panels {
            name: "curves-ftpt".into(),
            title: format!("Training-set FTPT during training, one line per seed{note}"),
            x_label: "epoch".into(),
            y_label: "train FTPT (%)".into(),
            panels: ftpt_panels,
        });
        figures.push(Figure::Panels {
            name: "curves-accuracy".into(),
            title: format!("Training-set accuracy during training, one line per seed{note}"),
            x_label: "epoch".into(),
            y_label: "train accuracy (%)".into(),
            panels: acc_panels,
        });
        let subset = if hist_series.len() < points.len() {
            format!("; {} of {} grid points", hist_series.len(), points.len())
        } else {
            String::new()
        };
        figures.push(Figure::Histograms {
            name: "alpha-at-true".into(),
            title: format!(
                "Alpha at the true segment after training (train set, all seeds{subset})"
            ),
            edges,
            series: hist_series,
        });
    }
    figures.extend(mosaics(points, root));
    Ok(figures)
}

/// For image data, a few training mosaics with the attention of the experiment's first finished
/// run (lowest grid point, first seed). A failure leaves the figure out with a warning: the
/// report matters more than one picture.
fn mosaics(points: &[PointRuns], root: &Path) -> Option<Figure> {
    let (run, _) = points.iter().find_map(|p| p.summaries.first())?;
    let dir = root.join(&run.rel_dir);
    let label = run.rel_dir.display().to_string();
    crate::mosaic_figure::mosaic_figure(&run.config, &dir, &label).unwrap_or_else(|e| {
        tracing::warn!(run = %dir.display(), error = %e, "mosaics figure left out of the report");
        None
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spaced_picks_ends_and_stays_in_range() {
        assert_eq!(spaced(3, 6), vec![0, 1, 2]);
        assert_eq!(spaced(36, 6), vec![0, 7, 14, 21, 28, 35]);
    }
}
