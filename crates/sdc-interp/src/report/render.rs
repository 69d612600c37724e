//! [`render`]: checks a [`Report`], draws everything in memory, then writes the files.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::format::{figure_rel, table_rel};
use super::write::{create_dir, write_atomic};
use super::{Figure, Rendered, Report, figures, html, markdown, mosaic, tables};

/// Why a report could not be rendered; every variant names the file or the name at fault.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// An output directory could not be created.
    #[error("cannot create directory {}: {source}", path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// An output file could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// An experiment or figure name is unusable as part of a file name.
    #[error(
        "{what} name {name:?} cannot be used in a file name: use 1 to 100 characters from \
         A-Z a-z 0-9 . _ - not starting with '.'"
    )]
    BadName {
        /// `experiment` or `figure`.
        what: &'static str,
        /// The rejected name.
        name: String,
    },
    /// Two outputs would be written to the same file.
    #[error("two outputs would both be written to {}", path.display())]
    Duplicate {
        /// The contested file.
        path: PathBuf,
    },
    /// A table row has a different number of values than the table has columns.
    #[error("{}: row {row} has {got} values for {expected} columns", path.display())]
    RaggedRow {
        /// The table file the row belongs to.
        path: PathBuf,
        /// 1-based row number.
        row: usize,
        /// Values in the row.
        got: usize,
        /// Columns of the table.
        expected: usize,
    },
    /// A figure's data is inconsistent (e.g. bin edges and counts disagree).
    #[error("{}: {reason}", path.display())]
    BadFigure {
        /// The figure file.
        path: PathBuf,
        /// What is inconsistent, with the numbers.
        reason: String,
    },
    /// A mosaics figure could not be encoded as PNG.
    #[error("cannot encode {} as PNG: {message}", path.display())]
    Png {
        /// The figure file.
        path: PathBuf,
        /// The encoder's message.
        message: String,
    },
    /// plotters failed to draw a figure.
    #[error("cannot draw {}: {message}", path.display())]
    Plot {
        /// The figure file.
        path: PathBuf,
        /// plotters' message.
        message: String,
    },
    /// A table could not be encoded as JSON.
    #[error("cannot encode {} as JSON: {source}", path.display())]
    Json {
        /// The table file.
        path: PathBuf,
        /// The underlying error.
        source: serde_json::Error,
    },
    /// A table could not be encoded as CSV.
    #[error("cannot encode {} as CSV: {source}", path.display())]
    Csv {
        /// The table file.
        path: PathBuf,
        /// The underlying error.
        source: csv::Error,
    },
}

fn check_name(what: &'static str, name: &str) -> Result<(), ReportError> {
    let ok = (1..=100).contains(&name.len())
        && !name.starts_with('.')
        && (name.bytes()).all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(ReportError::BadName {
            what,
            name: name.to_owned(),
        })
    }
}

/// Checks names, file collisions and the shape of tables and figures before anything is drawn.
fn validate(report: &Report, out_dir: &Path) -> Result<(), ReportError> {
    let mut files = BTreeSet::new();
    let mut claim = |rel: String| {
        let path = out_dir.join(rel);
        if files.insert(path.clone()) {
            Ok(())
        } else {
            Err(ReportError::Duplicate { path })
        }
    };
    for e in &report.experiments {
        check_name("experiment", &e.name)?;
        claim(table_rel(&e.name, "csv"))?;
        let table_path = out_dir.join(table_rel(&e.name, "csv"));
        let expected = e.table.columns.len();
        if let Some((i, r)) =
            (e.table.rows.iter().enumerate()).find(|(_, r)| r.point.len() != expected)
        {
            return Err(ReportError::RaggedRow {
                path: table_path,
                row: i + 1,
                got: r.point.len(),
                expected,
            });
        }
        for f in &e.figures {
            check_name("figure", f.name())?;
            let rel = figure_rel(&e.name, f);
            claim(rel.clone())?;
            check_figure(f).map_err(|reason| ReportError::BadFigure {
                path: out_dir.join(rel),
                reason,
            })?;
        }
    }
    Ok(())
}

fn check_figure(f: &Figure) -> Result<(), String> {
    match f {
        Figure::Lines { .. } => Ok(()),
        Figure::Panels { panels, .. } => {
            if panels.is_empty() {
                Err("no panels".to_owned())
            } else {
                Ok(())
            }
        }
        Figure::Histograms { edges, series, .. } => {
            if edges.len() < 2 {
                return Err(format!("{} bin edges; need at least 2", edges.len()));
            }
            match series.iter().find(|(_, c)| c.len() + 1 != edges.len()) {
                Some((label, c)) => Err(format!(
                    "series {label:?} has {} counts for {} bin edges (need one fewer count)",
                    c.len(),
                    edges.len()
                )),
                None => Ok(()),
            }
        }
        Figure::Trend {
            x_ticks,
            ours,
            runs,
            paper,
            ..
        } => {
            if !runs.is_empty() && runs.len() != ours.len() {
                return Err(format!(
                    "{} series of runs for {} series of means",
                    runs.len(),
                    ours.len()
                ));
            }
            if let Some(r) = runs.iter().find(|r| r.len() != x_ticks.len()) {
                return Err(format!(
                    "a series of runs has {} ticks for {} x ticks",
                    r.len(),
                    x_ticks.len()
                ));
            }
            let lens = (ours.iter().map(|(l, v)| (l, v.len())))
                .chain(paper.iter().map(|(l, v)| (l, v.len())));
            for (label, n) in lens {
                if n != x_ticks.len() {
                    return Err(format!(
                        "series {label:?} has {n} values for {} x ticks",
                        x_ticks.len()
                    ));
                }
            }
            Ok(())
        }
        Figure::Mosaics { panels, .. } => mosaic::check_panels(panels),
    }
}

/// Renders `report` into `out_dir`: `report.md`, `report.html`, `figures/*.svg` (plots) and
/// `figures/*.png` (mosaics), `tables/<experiment>.csv` and `.json`.
///
/// The report is checked and every file drawn in memory first, so an invalid report writes
/// nothing; then figures and tables are written, and the two reports last, each atomically.
/// The output is a pure function of `report` (no timestamps). Files of an earlier render that
/// this report does not produce are left in place.
pub fn render(report: &Report, out_dir: &Path) -> Result<Rendered, ReportError> {
    validate(report, out_dir)?;
    let mut drawn = Vec::with_capacity(report.experiments.len());
    let mut outputs: Vec<(PathBuf, Vec<u8>)> = Vec::new();
    let mut rendered = Rendered {
        markdown: out_dir.join("report.md"),
        html: out_dir.join("report.html"),
        figures: Vec::new(),
        tables: Vec::new(),
    };
    for e in &report.experiments {
        let mut figs = Vec::with_capacity(e.figures.len());
        for f in &e.figures {
            let path = out_dir.join(figure_rel(&e.name, f));
            let figure = figures::draw(f, &path)?;
            outputs.push((path.clone(), figure.bytes().to_vec()));
            rendered.figures.push(path);
            figs.push(figure);
        }
        drawn.push(figs);
        let csv_path = out_dir.join(table_rel(&e.name, "csv"));
        let json_path = out_dir.join(table_rel(&e.name, "json"));
        outputs.push((csv_path.clone(), tables::csv_bytes(&e.table, &csv_path)?));
        outputs.push((json_path.clone(), tables::json_bytes(&e.table, &json_path)?));
        rendered.tables.extend([csv_path, json_path]);
    }
    let markdown = markdown::markdown(report);
    let html = html::html(report, &markdown, &drawn);
    outputs.push((rendered.markdown.clone(), markdown.into_bytes()));
    outputs.push((rendered.html.clone(), html.into_bytes()));

    for dir in [
        out_dir.to_owned(),
        out_dir.join("figures"),
        out_dir.join("tables"),
    ] {
        create_dir(&dir)?;
    }
    for (path, bytes) in &outputs {
        write_atomic(path, bytes)?;
    }
    Ok(rendered)
}
