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
use plotters::coord::types::RangedCoordf64;
use plotters::element::DashedPathElement;
use plotters::prelude::*;

use super::{Figure, ReportError, Series, mosaic};
use crate::stats::Stats;

/// Pixel size of every figure.
const SIZE: (u32, u32) = (800, 480);

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
        Figure::Lines { .. } | Figure::Histograms { .. } | Figure::Trend { .. } => {
            svg(figure, path).map(Drawn::Svg)
        }
    }
}

/// Draws a plot and returns the SVG document; `path` is only used to name errors.
fn svg(figure: &Figure, path: &Path) -> Result<String, ReportError> {
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, SIZE).into_drawing_area();
        let drawn = match figure {
            Figure::Lines {
                title,
                x_label,
                y_label,
                series,
                ..
            } => draw_lines(&root, title, x_label, y_label, series),
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
                paper,
                ..
            } => draw_trend(&root, title, x_label, y_label, x_ticks, ours, paper),
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
fn runs(points: impl Iterator<Item = Option<(f64, f64)>>) -> Vec<Vec<(f64, f64)>> {
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

fn draw_lines(
    root: &Area<'_>,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
) -> DrawResult {
    root.fill(&WHITE)?;
    let all = || series.iter().flat_map(|s| &s.points);
    let (x0, x1) = range(all().map(|p| p.0));
    let (y0, y1) = range(all().map(|p| p.1));
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(x0..x1, y0..y1)?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .draw()?;
    for (i, s) in series.iter().enumerate() {
        let style = color(i).stroke_width(2);
        let pts: Vec<(f64, f64)> = (s.points.iter().copied())
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .collect();
        let marker = if pts.len() <= MARKER_MAX_POINTS { 3 } else { 0 };
        chart
            .draw_series(LineSeries::new(pts, style).point_size(marker))?
            .label(s.label.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
    }
    legend(&mut chart, !series.is_empty())
}

fn draw_histograms(
    root: &Area<'_>,
    title: &str,
    edges: &[f64],
    series: &[(String, Vec<u64>)],
) -> DrawResult {
    root.fill(&WHITE)?;
    let (x0, x1) = range(edges.iter().copied());
    let top = series
        .iter()
        .flat_map(|(_, c)| c)
        .copied()
        .max()
        .unwrap_or(0);
    let y1 = (top.max(1) as f64) * 1.05;
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(x0..x1, 0.0..y1)?;
    chart
        .configure_mesh()
        .x_desc("alpha at the true segment")
        .y_desc("samples")
        .draw()?;
    for (i, (label, counts)) in series.iter().enumerate() {
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
        chart
            .draw_series(LineSeries::new(pts, style))?
            .label(label.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
    }
    legend(&mut chart, !series.is_empty())
}

#[allow(clippy::too_many_arguments)] // one per field of Figure::Trend
fn draw_trend(
    root: &Area<'_>,
    title: &str,
    x_label: &str,
    y_label: &str,
    x_ticks: &[String],
    ours: &[(String, Vec<Stats>)],
    paper: &[(String, Vec<Option<f64>>)],
) -> DrawResult {
    root.fill(&WHITE)?;
    let n = x_ticks.len().max(1);
    let ys = ours
        .iter()
        .flat_map(|(_, s)| s.iter().flat_map(|s| [s.mean, s.ci95_low, s.ci95_high]))
        .chain(paper.iter().flat_map(|(_, v)| v.iter().flatten().copied()));
    let (y0, y1) = range(ys);
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
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
        .x_desc(x_label)
        .y_desc(y_label)
        .disable_x_mesh()
        .draw()?;
    // Spread our series a little around each tick so their error bars do not overlap.
    let spread = 0.3 / ours.len().max(1) as f64;
    let centre = (ours.len().max(1) - 1) as f64 / 2.0;
    for (i, (label, stats)) in ours.iter().enumerate() {
        let style = color(i).stroke_width(2);
        let dx = (i as f64 - centre) * spread;
        let at = |k: usize| k as f64 + dx;
        let parts = runs(stats.iter().enumerate().map(|(k, s)| Some((at(k), s.mean))));
        for (j, part) in parts.into_iter().enumerate() {
            let drawn = chart.draw_series(LineSeries::new(part, style).point_size(3))?;
            if j == 0 {
                drawn
                    .label(format!("{label} (ours, 95% CI)"))
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
            }
        }
        let bars = stats.iter().enumerate().filter(|(_, s)| {
            s.n > 1 && s.mean.is_finite() && s.ci95_low.is_finite() && s.ci95_high.is_finite()
        });
        chart.draw_series(bars.map(|(k, s)| {
            ErrorBar::new_vertical(at(k), s.ci95_low, s.mean, s.ci95_high, style, 8)
        }))?;
    }
    for (i, (label, values)) in paper.iter().enumerate() {
        let c = color(i);
        let dashed = c.stroke_width(2);
        let pts = || {
            values
                .iter()
                .enumerate()
                .map(|(k, v)| v.map(|v| (k as f64, v)))
        };
        for (j, part) in runs(pts()).into_iter().enumerate() {
            let drawn = chart.draw_series(DashedLineSeries::new(part, 8, 5, dashed))?;
            if j == 0 {
                drawn
                    .label(format!("{label} (paper)"))
                    .legend(move |(x, y)| {
                        DashedPathElement::new(vec![(x, y), (x + 20, y)], 5, 3, dashed)
                    });
            }
        }
        let crosses = runs(pts()).into_iter().flatten();
        chart.draw_series(crosses.map(|p| Cross::new(p, 5, c.stroke_width(2))))?;
    }
    legend(&mut chart, !(ours.is_empty() && paper.is_empty()))
}

fn legend<'a>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    any: bool,
) -> DrawResult {
    if any {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::LowerRight)
            .draw()?;
    }
    Ok(())
}
