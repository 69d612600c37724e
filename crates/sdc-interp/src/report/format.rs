//! Number formatting, escaping and the display form of a results table, shared by the
//! Markdown and HTML writers so both show the same text.

use super::{Figure, MetricCell, Table, TableRow};
use crate::stats::Stats;

/// `figures/<experiment>-<figure>.<svg|png>`, relative to the output directory.
pub(super) fn figure_rel(experiment: &str, figure: &Figure) -> String {
    format!(
        "figures/{experiment}-{}.{}",
        figure.name(),
        figure.extension()
    )
}

/// `tables/<experiment>.<ext>`, relative to the output directory.
pub(super) fn table_rel(experiment: &str, ext: &str) -> String {
    format!("tables/{experiment}.{ext}")
}

/// Metric names in order of first appearance over the rows (the table's metric columns).
pub(super) fn metric_names(table: &Table) -> Vec<&str> {
    let mut names: Vec<&str> = Vec::new();
    for cell in table.rows.iter().flat_map(|r| &r.metrics) {
        if !names.contains(&cell.name.as_str()) {
            names.push(&cell.name);
        }
    }
    names
}

/// Decimals needed to write `x` exactly, up to 4.
fn decimals_of(x: f64) -> usize {
    (0..4)
        .find(|&d| {
            let scale = 10f64.powi(d as i32);
            ((x * scale).round() / scale - x).abs() <= 1e-9 * x.abs().max(1.0)
        })
        .unwrap_or(4)
}

/// Decimals for one metric column: the paper's own precision, at least 2; 3 for small
/// quantities without a paper value (distances, entropies).
pub(super) fn decimals(table: &Table, metric: &str) -> usize {
    let cells = || table.rows.iter().filter_map(|r| r.metric(metric));
    let paper = cells()
        .filter_map(|c| c.paper)
        .filter(|p| p.is_finite())
        .map(decimals_of)
        .max();
    match paper {
        Some(d) => d.max(2),
        None => {
            let largest = cells()
                .map(|c| c.ours.mean.abs())
                .filter(|m| m.is_finite())
                .fold(0.0, f64::max);
            if largest < 1.0 { 3 } else { 2 }
        }
    }
}

/// `x` with `d` decimals; `-0.00` is written `0.00`, non-finite values as `NaN`/`inf`/`-inf`.
pub(super) fn num(x: f64, d: usize) -> String {
    if x.is_nan() {
        return "NaN".to_owned();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    let s = format!("{x:.d$}");
    if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') {
        s[1..].to_owned()
    } else {
        s
    }
}

/// `x` with an explicit sign (`+1.20`, `-0.35`, `+0.00`).
pub(super) fn signed(x: f64, d: usize) -> String {
    let s = num(x, d);
    if s.starts_with('-') || !x.is_finite() {
        s
    } else {
        format!("+{s}")
    }
}

/// `mean [low, high]` (the 95% bootstrap interval), or `no runs` for an empty set.
pub(super) fn stats_text(s: &Stats, d: usize) -> String {
    if s.n == 0 {
        return "no runs".to_owned();
    }
    format!(
        "{} [{}, {}]",
        num(s.mean, d),
        num(s.ci95_low, d),
        num(s.ci95_high, d)
    )
}

/// Runs at a grid point, with failures and dead starts if any: `10`, `10 (2 failed)`,
/// `10 (1 dead)`.
pub(super) fn runs_text(row: &TableRow) -> String {
    let mut extra = Vec::new();
    if row.n_failed > 0 {
        extra.push(format!("{} failed", row.n_failed));
    }
    if row.n_dead > 0 {
        extra.push(format!("{} dead", row.n_dead));
    }
    if extra.is_empty() {
        row.n_runs.to_string()
    } else {
        format!("{} ({})", row.n_runs, extra.join(", "))
    }
}

/// Placeholder for an empty cell.
pub(super) const NONE: &str = "—";

/// The display cell of an optional metric cell: `mean [low, high]`, then `; paper p` where the
/// paper gives a number. A mean over fewer than the row's `runs` (a metric some runs lack, e.g.
/// `best.*`) says over how many: `(n=9)`.
fn metric_text(cell: Option<&MetricCell>, runs: usize, d: usize) -> String {
    let Some(cell) = cell else {
        return NONE.to_owned();
    };
    let mut text = stats_text(&cell.ours, d);
    if cell.ours.n > 0 && cell.ours.n < runs {
        text.push_str(&format!(" (n={})", cell.ours.n));
    }
    if let Some(p) = cell.paper.filter(|p| p.is_finite()) {
        text.push_str(&format!("; paper {}", num(p, d)));
    }
    text
}

/// A results table as plain strings: grid axes, runs, then one column per metric, so the
/// table stays narrow (the verdict table carries the comparisons with the paper).
pub(super) struct DisplayTable {
    /// Column headers.
    pub header: Vec<String>,
    /// One entry per table row, same length as `header`.
    pub rows: Vec<Vec<String>>,
    /// How many leading columns are grid axes (the rest are numbers, right-aligned).
    pub n_axes: usize,
}

/// Builds the display form of `table`.
pub(super) fn display_table(table: &Table) -> DisplayTable {
    let metrics = metric_names(table);
    let mut header = table.columns.clone();
    header.push("runs".to_owned());
    header.extend(metrics.iter().map(|m| (*m).to_owned()));
    let decimals: Vec<usize> = metrics.iter().map(|m| decimals(table, m)).collect();
    let rows = (table.rows.iter())
        .map(|row| {
            let mut cells = row.point.clone();
            cells.push(runs_text(row));
            for (m, &d) in metrics.iter().zip(&decimals) {
                cells.push(metric_text(row.metric(m), row.n_runs, d));
            }
            cells
        })
        .collect();
    DisplayTable {
        header,
        rows,
        n_axes: table.columns.len(),
    }
}

/// Escapes text for HTML element content and attribute values.
pub(super) fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes text for one line of Markdown (paragraph or table cell): Markdown punctuation is
/// backslash-escaped, `|` too so tables survive it, and line breaks become spaces.
///
/// An underscore between two letters or digits is left alone: it cannot start emphasis, and
/// names like `averaging_layer` stay readable in the raw file.
pub(super) fn md_escape(s: &str) -> String {
    escape_md(s, true)
}

/// Like [`md_escape`] for text that does not start a line (table cells, after a label):
/// block markers such as a leading `-` or `#` are left alone.
pub(super) fn md_cell(s: &str) -> String {
    escape_md(s, false)
}

fn escape_md(s: &str, line_start: bool) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    for (i, &c) in chars.iter().enumerate() {
        match c {
            '\r' | '\n' => out.push(' '),
            '_' => {
                let alnum = |j: Option<usize>| {
                    j.and_then(|j| chars.get(j))
                        .is_some_and(|c| c.is_alphanumeric())
                };
                if !(alnum(i.checked_sub(1)) && alnum(Some(i + 1))) {
                    out.push('\\');
                }
                out.push('_');
            }
            '\\' | '`' | '*' | '|' => {
                out.push('\\');
                out.push(c);
            }
            // Only `<` opening a tag, comment or autolink is markup; `a < b` stays as written.
            '<' if chars
                .get(i + 1)
                .is_some_and(|n| n.is_ascii_alphabetic() || matches!(n, '/' | '!' | '?')) =>
            {
                out.push('\\');
                out.push(c);
            }
            // A link or reference needs `](`, `][` or `]:`; escaping that `]` defuses it and
            // keeps plain brackets such as confidence intervals readable.
            ']' if matches!(chars.get(i + 1), Some('(' | '[' | ':')) => {
                out.push('\\');
                out.push(c);
            }
            // Block markers only matter at the start of a line (each text starts one).
            '#' | '>' | '-' | '+' if line_start && i == 0 => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// A fenced code block for arbitrary text, indented by `indent` spaces, ending in a newline.
///
/// The fence is longer than any backtick run inside, so the text cannot close it.
pub(super) fn md_code_block(text: &str, indent: usize) -> String {
    let longest = (text.split(|c| c != '`')).map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    let pad = " ".repeat(indent);
    let mut out = format!("{pad}{fence}text\n");
    for line in text.lines() {
        out.push_str(&pad);
        out.push_str(line);
        out.push('\n');
    }
    out.push_str(&format!("{pad}{fence}\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::describe;
    use crate::table::MetricCell;

    #[test]
    fn numbers_are_stable() {
        assert_eq!(num(78.344_999, 2), "78.34");
        assert_eq!(num(-0.001, 2), "0.00");
        assert_eq!(num(f64::NAN, 2), "NaN");
        assert_eq!(signed(1.204, 2), "+1.20");
        assert_eq!(signed(-0.35, 2), "-0.35");
        assert_eq!(signed(-0.0001, 2), "+0.00");
        assert_eq!(decimals_of(0.036), 3);
        assert_eq!(decimals_of(78.34), 2);
        assert_eq!(decimals_of(12.0), 0);
        assert_eq!(stats_text(&describe(&[2.0, 2.0]), 2), "2.00 [2.00, 2.00]");
        assert_eq!(stats_text(&describe(&[]), 2), "no runs");
        let cell = MetricCell::new("best.train.ftpt", vec![1.0, 2.0], None);
        let ours = metric_text(Some(&cell), 3, 2);
        assert!(ours.ends_with("(n=2)"), "{ours}");
        let ours = metric_text(Some(&cell), 2, 2);
        assert!(!ours.contains("n="), "{ours}");
        let cell = MetricCell::new("train.ftpt", vec![100.0, 100.0], Some(88.51));
        assert_eq!(
            metric_text(Some(&cell), 2, 2),
            "100.00 [100.00, 100.00]; paper 88.51"
        );
    }

    #[test]
    fn escaping() {
        assert_eq!(
            html_escape(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(md_escape("a|b"), r"a\|b");
        assert_eq!(md_escape("# not a heading"), r"\# not a heading");
        assert_eq!(md_cell("-0.35"), "-0.35");
        assert_eq!(md_cell("1 [0, 2]"), "1 [0, 2]");
        assert_eq!(md_cell("a < b <br>"), r"a < b \<br>");
        assert_eq!(md_cell("[x](http://y)"), r"[x\](http://y)");
        assert_eq!(md_escape("averaging_layer _x_"), r"averaging_layer \_x\_");
        assert_eq!(md_escape("two\nlines *bold*"), r"two lines \*bold\*");
        assert_eq!(
            md_code_block("a ``` b", 2),
            "  ````text\n  a ``` b\n  ````\n"
        );
    }
}
