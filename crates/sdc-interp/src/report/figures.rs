//! Figures drawn in memory: plots as SVG text with plotters' SVG backend, image mosaics as PNG
//! ([`super::mosaic`]).
//!
//! Plots are SVG: a PNG plot needs a rasterised font, which plotters gets from system font
//! libraries (`ttf`) or a font file we would have to ship (`ab_glyph`); SVG leaves text to the
//! viewer. Mosaics are pictures without text, so PNG costs no font.
//! Non-finite values are skipped when drawn; the tables keep them.

use std::error::Error;
use std::path::Path;

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;

use super::{Figure, ReportError, Series, mosaic};
use crate::stats::Stats;

/// Pixel size of every single plot: shown at its own size in a 72rem page, so 16 px text
/// stays at least 12 px on screen.
const SIZE: (u32, u32) = (960, 560);
/// Font sizes: caption, axis description, tick labels and legend.
const CAPTION_PX: u32 = 24;
const DESC_PX: u32 = 18;
const TICK_PX: u32 = 16;
/// Small multiples: panels per row, and the size of one panel.
const PANEL_COLUMNS: usize = 3;
const PANEL_SIZE: (u32, u32) = (320, 260);
/// Height of one legend line under a plot.
const LEGEND_LINE_PX: u32 = 26;

/// Line colours (the "tab10" palette), cycled by series index.
const COLORS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// Series with at most this many points get markers, so single points stay visible.
const MARKER_MAX_POINTS: usize = 30;

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
type DrawResult = Result<(), Box<dyn Error>>;

fn color(i: usize) -> RGBColor {
    COLORS[i % COLORS.len()]
}

/// A figure drawn in memory, as written to its file.
pub(super) enum Drawn {
    /// An SVG document (plots).
    Svg(String),
    /// A PNG file (mosaics).
    Png(Vec<u8>),
}

impl Drawn {
    /// The file's bytes.
    pub(super) fn bytes(&self) -> &[u8] {
        match self {
            Drawn::Svg(svg) => svg.as_bytes(),
            Drawn::Png(png) => png,
        }
    }
}

/// Draws `figure` in the format of its [`Figure::extension`]; `path` only names errors.
pub(super) fn draw(figure: &Figure, path: &Path) -> Result<Drawn, ReportError> {
    match figure {
        Figure::Mosaics { panels, .. } => mosaic::png(panels, path).map(Drawn::Png),
        Figure::Lines { .. }
        | Figure::Panels { .. }
        | Figure::Histograms { .. }
        | Figure::Trend { .. } => svg(figure, path).map(Drawn::Svg),
    }
}

/// Draws a plot and returns the SVG document; `path` is only used to name errors.
fn svg(figure: &Figure, path: &Path) -> Result<String, ReportError> {
    let mut buf = String::new();
    {
        let size = match figure {
            Figure::Panels { panels, .. } => {
                let rows = panels.len().div_ceil(PANEL_COLUMNS).max(1) as u32;
                (SIZE.0, 50 + rows * PANEL_SIZE.1)
            }
            _ => SIZE,
        };
        let root = SVGBackend::with_string(&mut buf, size).into_drawing_area();
        let drawn = match figure {
            Figure::Lines {
                title,
                x_label,
                y_label,
                series,
                ..
            } => draw_lines(&root, title, x_label, y_label, series),
            Figure::Panels {
                title,
                x_label,
                y_label,
                panels,
                ..
            } => draw_panels(&root, title, x_label, y_label, panels),
            Figure::Histograms {
                title,
                edges,
                series,
                ..
            } => draw_histograms(&root, title, edges, series),
            Figure::Trend {
                title,
                x_label,
                y_label,
                x_ticks,
                ours,
                runs,
                paper,
                ..
            } => draw_trend(&root, title, x_label, y_label, x_ticks, ours, runs, paper),
            Figure::Mosaics { .. } => Err("mosaics are drawn as PNG, not SVG".into()),
        };
        drawn
            .and_then(|()| root.present().map_err(Into::into))
            .map_err(|e| ReportError::Plot {
                path: path.to_owned(),
                message: e.to_string(),
            })?;
    }
    Ok(buf)
}

/// A padded `(low, high)` range covering the finite `values`; `(0, 1)` when there are none.
fn range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if lo > hi {
        return (0.0, 1.0);
    }
    if lo == hi {
        let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.05 };
        return (lo - pad, hi + pad);
    }
    let pad = (hi - lo) * 0.05;
    (lo - pad, hi + pad)
}

/// Splits points at gaps (`None` or non-finite) into drawable runs.
fn runs_of(points: impl Iterator<Item = Option<(f64, f64)>>) -> Vec<Vec<(f64, f64)>> {
    let mut out = Vec::new();
    let mut current = Vec::new();
    for p in points {
        match p.filter(|(x, y)| x.is_finite() && y.is_finite()) {
            Some(p) => current.push(p),
            None if !current.is_empty() => out.push(std::mem::take(&mut current)),
            None => {}
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// One legend entry drawn under a plot: label, colour, dashed or solid.
type LegendEntry = (String, RGBColor, bool);

/// Splits `root` into the plot (top) and a legend strip under it, and draws the legend there,
/// so no legend ever covers data. Two entries per line when there are more than four.
fn with_legend<'a>(root: &Area<'a>, entries: &[LegendEntry]) -> Result<Area<'a>, Box<dyn Error>> {
    if entries.is_empty() {
        return Ok(root.clone());
    }
    let per_line = if entries.len() > 4 { 2 } else { 1 };
    let lines = entries.len().div_ceil(per_line) as u32;
    let (w, h) = root.dim_in_pixel();
    let strip = lines * LEGEND_LINE_PX + 8;
    let (plot, legend) = root.split_vertically(h.saturating_sub(strip));
    let col_w = (w / per_line as u32) as i32;
    let style = ("sans-serif", TICK_PX).into_font();
    for (i, (label, c, dashed)) in entries.iter().enumerate() {
        let x = 70 + (i % per_line) as i32 * col_w;
        let y = 4 + (i / per_line) as i32 * LEGEND_LINE_PX as i32 + LEGEND_LINE_PX as i32 / 2;
        let line = c.stroke_width(3);
        if *dashed {
            legend.draw(&DashedPathElement::new(
                vec![(x, y), (x + 30, y)],
                6,
                4,
                line,
            ))?;
        } else {
            legend.draw(&PathElement::new(vec![(x, y), (x + 30, y)], line))?;
        }
        legend.draw(&Text::new(
            label.clone(),
            (x + 38, y - TICK_PX as i32 / 2 - 1),
            style.clone(),
        ))?;
    }
    Ok(plot)
}

/// Whether every finite value is a whole number (epochs, counts): such an axis gets integer
/// ticks only.
fn integral(values: impl Iterator<Item = f64>) -> bool {
    let mut any = false;
    for v in values.filter(|v| v.is_finite()) {
        if v.fract() != 0.0 {
            return false;
        }
        any = true;
    }
    any
}

/// Tick count and label for an x axis over `(x0, x1)`: for integer data at most one tick per
/// whole number (so the step is never below 1) and whole-number labels only.
fn x_ticks(integer: bool, (x0, x1): (f64, f64)) -> (usize, impl Fn(&f64) -> String) {
    let n = if integer {
        ((x1 - x0).floor() as usize + 1).clamp(2, 10)
    } else {
        10
    };
    let label = move |x: &f64| {
        if !integer {
            format!("{x}")
        } else if x.fract() == 0.0 {
            format!("{x:.0}")
        } else {
            String::new()
        }
    };
    (n, label)
}

fn draw_lines(
    root: &Area<'_>,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
) -> DrawResult {
    root.fill(&WHITE)?;
    let entries: Vec<LegendEntry> = (series.iter().enumerate())
        .map(|(i, s)| (s.label.clone(), color(i), false))
        .collect();
    let area = with_legend(root, &entries)?;
    let all = || series.iter().flat_map(|s| &s.points);
    let (x0, x1) = range(all().map(|p| p.0));
    let (y0, y1) = range(all().map(|p| p.1));
    let (n_x, x_text) = x_ticks(integral(all().map(|p| p.0)), (x0, x1));
    let mut chart = ChartBuilder::on(&area)
        .caption(title, ("sans-serif", CAPTION_PX))
        .margin(12)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d(x0..x1, y0..y1)?;
    chart
        .configure_mesh()
        .x_labels(n_x)
        .x_label_formatter(&x_text)
        .label_style(("sans-serif", TICK_PX))
        .axis_desc_style(("sans-serif", DESC_PX))
        .x_desc(x_label)
        .y_desc(y_label)
        .draw()?;
    for (i, s) in series.iter().enumerate() {
        let style = color(i).stroke_width(2);
        let pts: Vec<(f64, f64)> = (s.points.iter().copied())
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .collect();
        let marker = if pts.len() <= MARKER_MAX_POINTS { 3 } else { 0 };
        chart.draw_series(LineSeries::new(pts, style).point_size(marker))?;
    }
    Ok(())
}

/// Small multiples on shared axes: one panel per entry, thin lines, the panel's title above it.
fn draw_panels(
    root: &Area<'_>,
    title: &str,
    x_label: &str,
    y_label: &str,
    panels: &[(String, Vec<Series>)],
) -> DrawResult {
    root.fill(&WHITE)?;
    let all = || panels.iter().flat_map(|(_, s)| s).flat_map(|s| &s.points);
    let (x0, x1) = range(all().map(|p| p.0));
    let (y0, y1) = range(all().map(|p| p.1));
    let (n_x, x_text) = x_ticks(integral(all().map(|p| p.0)), (x0, x1));
    let n_x = n_x.min(5);
    let root = root.titled(title, ("sans-serif", CAPTION_PX))?;
    let rows = panels.len().div_ceil(PANEL_COLUMNS).max(1);
    let cells = root.split_evenly((rows, PANEL_COLUMNS));
    for ((name, series), cell) in panels.iter().zip(&cells) {
        let mut chart = ChartBuilder::on(cell)
            .caption(name, ("sans-serif", DESC_PX))
            .margin(8)
            .x_label_area_size(44)
            .y_label_area_size(56)
            .build_cartesian_2d(x0..x1, y0..y1)?;
        chart
            .configure_mesh()
            .x_labels(n_x)
            .y_labels(5)
            .x_label_formatter(&x_text)
            .label_style(("sans-serif", TICK_PX))
            .axis_desc_style(("sans-serif", TICK_PX))
            .x_desc(x_label)
            .y_desc(y_label)
            .draw()?;
        for (i, s) in series.iter().enumerate() {
            let pts: Vec<(f64, f64)> = (s.points.iter().copied())
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .collect();
            chart.draw_series(LineSeries::new(pts, color(i).stroke_width(1)))?;
        }
    }
    Ok(())
}

fn draw_histograms(
    root: &Area<'_>,
    title: &str,
    edges: &[f64],
    series: &[(String, Vec<u64>)],
) -> DrawResult {
    root.fill(&WHITE)?;
    let entries: Vec<LegendEntry> = (series.iter().enumerate())
        .map(|(i, (label, _))| (label.clone(), color(i), false))
        .collect();
    let area = with_legend(root, &entries)?;
    let (x0, x1) = range(edges.iter().copied());
    let top = series
        .iter()
        .flat_map(|(_, c)| c)
        .copied()
        .max()
        .unwrap_or(0);
    let y1 = (top.max(1) as f64) * 1.05;
    let mut chart = ChartBuilder::on(&area)
        .caption(title, ("sans-serif", CAPTION_PX))
        .margin(12)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(x0..x1, 0.0..y1)?;
    let (_, y_text) = x_ticks(true, (0.0, y1));
    chart
        .configure_mesh()
        .y_label_formatter(&y_text)
        .label_style(("sans-serif", TICK_PX))
        .axis_desc_style(("sans-serif", DESC_PX))
        .x_desc("alpha at the true segment")
        .y_desc("samples")
        .draw()?;
    for (i, (_, counts)) in series.iter().enumerate() {
        let style = color(i).stroke_width(2);
        // Outline of the bars: up at each left edge, across the bin, down at the end.
        let mut pts = Vec::with_capacity(2 * counts.len() + 2);
        if let Some(&first) = edges.first() {
            pts.push((first, 0.0));
        }
        for (k, &c) in counts.iter().enumerate() {
            pts.push((edges[k], c as f64));
            pts.push((edges[k + 1], c as f64));
        }
        if let Some(&last) = edges.last() {
            pts.push((last, 0.0));
        }
        chart.draw_series(LineSeries::new(pts, style))?;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)] // one per field of Figure::Trend
fn draw_trend(
    root: &Area<'_>,
    title: &str,
    x_label: &str,
    y_label: &str,
    x_ticks: &[String],
    ours: &[(String, Vec<Stats>)],
    runs: &[Vec<Vec<f64>>],
    paper: &[(String, Vec<Option<f64>>)],
) -> DrawResult {
    root.fill(&WHITE)?;
    let mut entries: Vec<LegendEntry> = (ours.iter().enumerate())
        .map(|(i, (label, _))| {
            let what = if runs.is_empty() {
                "ours: mean, 95% bootstrap interval"
            } else {
                "ours: runs, mean, 95% bootstrap interval"
            };
            (format!("{label} ({what})"), color(i), false)
        })
        .collect();
    entries.extend(
        (paper.iter().enumerate())
            .map(|(i, (label, _))| (format!("{label} (paper)"), color(i), true)),
    );
    let area = with_legend(root, &entries)?;
    let n = x_ticks.len().max(1);
    let ys = ours
        .iter()
        .flat_map(|(_, s)| s.iter().flat_map(|s| [s.mean, s.ci95_low, s.ci95_high]))
        .chain(runs.iter().flatten().flatten().copied())
        .chain(paper.iter().flat_map(|(_, v)| v.iter().flatten().copied()));
    let (y0, y1) = range(ys);
    let mut chart = ChartBuilder::on(&area)
        .caption(title, ("sans-serif", CAPTION_PX))
        .margin(12)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d(-0.5..(n as f64 - 0.5), y0..y1)?;
    // Integer positions are the ticks; with at most n labels plotters picks step 1.
    let tick_text = |x: &f64| {
        let i = x.round();
        if (x - i).abs() < 1e-6 && i >= 0.0 {
            x_ticks.get(i as usize).cloned().unwrap_or_default()
        } else {
            String::new()
        }
    };
    chart
        .configure_mesh()
        .x_labels(n)
        .x_label_formatter(&tick_text)
        .label_style(("sans-serif", TICK_PX))
        .axis_desc_style(("sans-serif", DESC_PX))
        .x_desc(x_label)
        .y_desc(y_label)
        .disable_x_mesh()
        .draw()?;
    // Spread our series a little around each tick so their error bars do not overlap.
    let spread = 0.3 / ours.len().max(1) as f64;
    let centre = (ours.len().max(1) - 1) as f64 / 2.0;
    for (i, (_, stats)) in ours.iter().enumerate() {
        let style = color(i).stroke_width(2);
        let dx = (i as f64 - centre) * spread;
        let at = |k: usize| k as f64 + dx;
        // Every run as a dot, spread sideways by its index so equal values stay countable.
        if let Some(series_runs) = runs.get(i) {
            for (k, values) in series_runs.iter().enumerate() {
                let width = (spread * 0.8).min(0.25);
                let m = values.len().max(2) - 1;
                let dots = (values.iter().enumerate())
                    .filter(|(_, v)| v.is_finite())
                    .map(|(j, &v)| {
                        let jitter = (j as f64 / m as f64 - 0.5) * width;
                        Circle::new((at(k) + jitter, v), 3, color(i).mix(0.45).filled())
                    });
                chart.draw_series(dots)?;
            }
        }
        let parts = runs_of(stats.iter().enumerate().map(|(k, s)| Some((at(k), s.mean))));
        for part in parts {
            chart.draw_series(LineSeries::new(part, style).point_size(4))?;
        }
        let bars = stats.iter().enumerate().filter(|(_, s)| {
            s.n > 1 && s.mean.is_finite() && s.ci95_low.is_finite() && s.ci95_high.is_finite()
        });
        chart.draw_series(bars.map(|(k, s)| {
            ErrorBar::new_vertical(at(k), s.ci95_low, s.mean, s.ci95_high, style, 10)
        }))?;
    }
    for (i, (_, values)) in paper.iter().enumerate() {
        let c = color(i);
        let dashed = c.stroke_width(2);
        let pts = || {
            values
                .iter()
                .enumerate()
                .map(|(k, v)| v.map(|v| (k as f64, v)))
        };
        for part in runs_of(pts()) {
            chart.draw_series(DashedLineSeries::new(part, 8, 5, dashed))?;
        }
        let crosses = runs_of(pts()).into_iter().flatten();
        chart.draw_series(crosses.map(|p| Cross::new(p, 6, c.stroke_width(2))))?;
    }
    Ok(())
}
