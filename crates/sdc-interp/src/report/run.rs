//! The report of one scored model (a run, or `sdc score` on another framework's outputs): the
//! four cells and the attention statistics per split, the alpha-at-true histogram and, when
//! there are any, the training curves. Markdown and a self-contained HTML page with the figures
//! beside them as SVG.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::figures;
use super::format::{html_escape, md_cell};
use super::write::{create_dir, write_atomic};
use super::{Figure, ReportError, Series};
use crate::{Histogram, InterpSummary};

/// What a run report shows.
#[derive(Clone, Debug, PartialEq)]
pub struct RunReport {
    /// The heading, e.g. the run directory.
    pub title: String,
    /// `(split name, metrics)`, e.g. `train` and `test`.
    pub splits: Vec<(String, InterpSummary)>,
    /// Attention on the true segment (one split's), if known.
    pub alpha_at_true: Option<Histogram>,
    /// Training curves over epochs (e.g. train FTPT and accuracy), if any.
    pub curves: Vec<Series>,
    /// Further figures after the histogram and the curves (e.g. an attention gallery).
    pub extra: Vec<Figure>,
    /// Markdown paragraphs after the figures (e.g. how a gallery's samples were chosen, and
    /// its numbers as a table).
    pub notes: Vec<String>,
}

/// The files a run report was written to.
#[derive(Clone, Debug, PartialEq)]
pub struct RenderedRun {
    /// `run-report.md`.
    pub markdown: PathBuf,
    /// `run-report.html`.
    pub html: PathBuf,
    /// The figures, `figures/*.svg`.
    pub figures: Vec<PathBuf>,
}

/// Writes `report` under `out_dir` (created if needed): `run-report.md`, `run-report.html` and
/// `figures/`. Every file is written atomically; figures are drawn before anything is written.
pub fn render_run(report: &RunReport, out_dir: &Path) -> Result<RenderedRun, ReportError> {
    let mut plots = Vec::new();
    if let Some(h) = &report.alpha_at_true {
        plots.push(Figure::Histograms {
            name: "alpha-at-true".into(),
            title: "Attention on the true segment".into(),
            edges: h.edges.clone(),
            series: vec![("alpha at J".into(), h.counts.clone())],
        });
    }
    if !report.curves.is_empty() {
        plots.push(Figure::Lines {
            name: "curves".into(),
            title: "During training".into(),
            x_label: "epoch".into(),
            y_label: "%".into(),
            series: report.curves.clone(),
        });
    }
    plots.extend(report.extra.iter().cloned());
    let mut drawn = Vec::new();
    for figure in &plots {
        let rel = format!("figures/{}.{}", figure.name(), figure.extension());
        let svg = figures::draw(figure, &out_dir.join(&rel))?;
        drawn.push((rel, figure.title().to_string(), svg));
    }

    create_dir(&out_dir.join("figures"))?;
    let mut written = Vec::new();
    for (rel, _, svg) in &drawn {
        let path = out_dir.join(rel);
        write_atomic(&path, svg.bytes())?;
        written.push(path);
    }
    let markdown = out_dir.join("run-report.md");
    write_atomic(&markdown, to_markdown(report, &drawn).as_bytes())?;
    let html = out_dir.join("run-report.html");
    write_atomic(&html, to_html(report, &drawn).as_bytes())?;
    Ok(RenderedRun {
        markdown,
        html,
        figures: written,
    })
}

const HEADER: [&str; 9] = [
    "split",
    "samples",
    "accuracy",
    "FTPT",
    "FFPT",
    "FTPF",
    "FFPF",
    "max alpha >= 0.5",
    "entropy (bits)",
];

fn row(name: &str, s: &InterpSummary) -> [String; 9] {
    let r = &s.rates;
    [
        name.to_string(),
        s.n_samples.to_string(),
        format!("{:.2}", s.accuracy),
        format!("{:.2}", r.ftpt),
        format!("{:.2}", r.ffpt),
        format!("{:.2}", r.ftpf),
        format!("{:.2}", r.ffpf),
        format!("{:.2}", s.share_max_ge_half),
        format!("{:.3}", s.entropy_bits),
    ]
}

const LEGEND: &str = "FTPT: attends most to the true segment and predicts right; FFPT: predicts \
right while attending elsewhere (accurate without being interpretable); FTPF, FFPF: the same for \
wrong predictions. Rates are percentages of the split (paper section 3).";

fn to_markdown(report: &RunReport, drawn: &[(String, String, figures::Drawn)]) -> String {
    let mut s = format!("# {}\n\n{LEGEND}\n\n", report.title);
    let _ = writeln!(s, "| {} |", HEADER.join(" | "));
    let _ = writeln!(s, "|{}", "---|".repeat(HEADER.len()));
    for (name, summary) in &report.splits {
        let cells: Vec<String> = row(name, summary).iter().map(|c| md_cell(c)).collect();
        let _ = writeln!(s, "| {} |", cells.join(" | "));
    }
    for (rel, title, _) in drawn {
        let _ = write!(s, "\n![{title}]({rel})\n");
    }
    for note in &report.notes {
        let _ = write!(s, "\n{note}\n");
    }
    s
}

fn to_html(report: &RunReport, drawn: &[(String, String, figures::Drawn)]) -> String {
    let title = html_escape(&report.title);
    let mut s = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         <style>body{{font-family:sans-serif;max-width:60rem;margin:2rem auto}}\
         table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.2rem .5rem;\
         text-align:right}}img{{max-width:100%}}</style></head><body>\n<h1>{title}</h1>\n<p>{}</p>\n<table><tr>",
        html_escape(LEGEND)
    );
    for h in HEADER {
        let _ = write!(s, "<th>{}</th>", html_escape(h));
    }
    s.push_str("</tr>\n");
    for (name, summary) in &report.splits {
        s.push_str("<tr>");
        for cell in row(name, summary) {
            let _ = write!(s, "<td>{}</td>", html_escape(&cell));
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</table>\n");
    for (rel, title, _) in drawn {
        let _ = writeln!(
            s,
            "<figure><img src=\"{}\" alt=\"{t}\"><figcaption>{t}</figcaption></figure>",
            html_escape(rel),
            t = html_escape(title)
        );
    }
    for note in &report.notes {
        let _ = writeln!(s, "<pre>{}</pre>", html_escape(note));
    }
    s.push_str("</body></html>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AlphaRows, FocusCriterion, alpha_at_true_histogram, summarize};

    #[test]
    fn a_run_report_holds_the_cells_and_the_figures() {
        let alpha = [0.7f32, 0.2, 0.1, 0.1, 0.8, 0.1, 0.3, 0.3, 0.4];
        let rows = AlphaRows::new(&alpha, 3).expect("3 x 3");
        let (fg, labels, predictions) = ([0u32, 2, 2], [1u32, 0, 1], [1u32, 0, 0]);
        let summary = summarize(rows, &fg, &labels, &predictions, FocusCriterion::Argmax)
            .expect("consistent");
        let histogram = alpha_at_true_histogram(rows, &fg, 4).expect("histogram");
        let report = RunReport {
            title: "run <1>".into(),
            splits: vec![("test".into(), summary.clone())],
            alpha_at_true: Some(histogram),
            curves: vec![Series {
                label: "train FTPT".into(),
                points: vec![(1.0, 20.0), (2.0, 60.0)],
            }],
            extra: Vec::new(),
            notes: vec!["Chosen <by hand>.".into()],
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let out = render_run(&report, dir.path()).expect("renders");
        let md = std::fs::read_to_string(&out.markdown).expect("markdown");
        let expected_row = format!(
            "| test | 3 | {:.2} | {:.2} | {:.2} |",
            summary.accuracy, summary.rates.ftpt, summary.rates.ffpt
        );
        assert!(md.contains(&expected_row), "{md}");
        assert!(md.contains("figures/alpha-at-true.svg") && md.contains("figures/curves.svg"));
        let html = std::fs::read_to_string(&out.html).expect("html");
        assert!(html.contains("run &lt;1&gt;"), "titles are escaped");
        assert_eq!(out.figures.len(), 2);
        for figure in &out.figures {
            let svg = std::fs::read_to_string(figure).expect("svg");
            assert!(svg.starts_with("<svg"), "{}", figure.display());
        }
    }
}
