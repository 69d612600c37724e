//! Whether a claim of the paper counts as reproduced. The report quotes this rule as
//! [`VERDICT_RULE`]:
//!
#![doc = include_str!("verdict_rule.md")]

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::table::{Table, TableRow};

/// The verdict rule in words (Markdown), as the module documentation and the report state it.
pub const VERDICT_RULE: &str = include_str!("verdict_rule.md");

/// Default tolerance of a [`VerdictRule`], in the metric's units (percentage points for rates).
pub const DEFAULT_TOLERANCE: f64 = 5.0;

/// How a claim fared; see [`VERDICT_RULE`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Every paper number matched within tolerance and the trend (if any) holds.
    Reproduced,
    /// The trend holds but some number is off by more than the tolerance.
    DirectionReproduced,
    /// Numbers off without a holding trend, or the trend fails.
    NotReproduced,
    /// Not enough successful runs (or a malformed rule) to judge.
    Incomplete,
}

impl Verdict {
    /// The verdict in words, e.g. `direction reproduced`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Reproduced => "reproduced",
            Verdict::DirectionReproduced => "direction reproduced",
            Verdict::NotReproduced => "not reproduced",
            Verdict::Incomplete => "incomplete",
        }
    }

    /// The serde name, e.g. `direction-reproduced` (usable as a CSS class).
    pub fn slug(self) -> &'static str {
        match self {
            Verdict::Reproduced => "reproduced",
            Verdict::DirectionReproduced => "direction-reproduced",
            Verdict::NotReproduced => "not-reproduced",
            Verdict::Incomplete => "incomplete",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which way a metric should move along an axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Order {
    /// Last minus first is above 0.
    Increasing,
    /// Last minus first is below 0.
    Decreasing,
}

impl Order {
    fn verb(self) -> &'static str {
        match self {
            Order::Increasing => "increases",
            Order::Decreasing => "decreases",
        }
    }

    fn holds(self, change: f64) -> bool {
        match self {
            Order::Increasing => change > 0.0,
            Order::Decreasing => change < 0.0,
        }
    }
}

/// The expected trend of the metric along one column of the table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectionRule {
    /// A column name of the table, e.g. `model.averaging_layer`.
    pub axis: String,
    /// Expected order from the first to the last row of each slice.
    pub order: Order,
}

/// How one experiment's table is judged against the paper.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerdictRule {
    /// The metric judged, e.g. `train.ftpt`.
    pub metric: String,
    /// Largest accepted |ours − paper|, in the metric's units.
    #[serde(default = "default_tolerance")]
    pub tolerance: f64,
    /// Optional expected trend along an axis.
    #[serde(default)]
    pub direction: Option<DirectionRule>,
}

fn default_tolerance() -> f64 {
    DEFAULT_TOLERANCE
}

impl VerdictRule {
    /// The rule in one sentence, for the report.
    pub fn describe(&self) -> String {
        let m = &self.metric;
        let tol = self.tolerance;
        match &self.direction {
            None => format!(
                "Reproduced when the mean of {m} is within ±{tol} of the paper's value in every row \
                 that has one; no trend is checked."
            ),
            Some(d) => format!(
                "Reproduced when the mean of {m} is within ±{tol} of the paper's value in every row \
                 that has one and {m} {} from the first to the last {} in every slice of the other \
                 columns; direction reproduced when only the trend holds.",
                d.order.verb(),
                d.axis
            ),
        }
    }
}

/// `col=value, ...` for the columns selected by `keep`, or `fallback` when none are.
fn label(table: &Table, row: &TableRow, keep: impl Fn(usize) -> bool, fallback: &str) -> String {
    let parts: Vec<String> = table
        .columns
        .iter()
        .zip(&row.point)
        .enumerate()
        .filter(|(i, _)| keep(*i))
        .map(|(_, (c, v))| format!("{c}={v}"))
        .collect();
    if parts.is_empty() {
        fallback.to_owned()
    } else {
        parts.join(", ")
    }
}

/// Our mean of `metric` in `row`, or why there is none.
fn ours(table: &Table, row: &TableRow, metric: &str) -> Result<f64, String> {
    let at = label(table, row, |_| true, "the only row");
    match row.metric(metric) {
        None => Err(format!("no {metric} cell at {at}")),
        Some(c) if c.ours.n == 0 => Err(format!("no successful runs of {metric} at {at}")),
        Some(c) if !c.ours.mean.is_finite() => Err(format!(
            "the mean of {metric} over {} runs is not finite at {at}",
            c.ours.n
        )),
        Some(c) => Ok(c.ours.mean),
    }
}

/// Result of the direction check when every slice could be evaluated.
struct Trend {
    n_slices: usize,
    n_bad: usize,
    /// The slice with the least favourable change, and that change.
    worst: (String, f64),
}

fn check_direction(table: &Table, metric: &str, dir: &DirectionRule) -> Result<Trend, String> {
    let Some(axis) = table.columns.iter().position(|c| *c == dir.axis) else {
        return Err(format!(
            "the rule's axis {} is not a column of the table (columns: {})",
            dir.axis,
            table.columns.join(", ")
        ));
    };
    // Slices keyed by every other column, in order of first appearance.
    let mut slices: Vec<(Vec<&str>, Vec<&TableRow>)> = Vec::new();
    for row in &table.rows {
        let key: Vec<&str> = (row.point.iter().enumerate())
            .filter(|(i, _)| *i != axis)
            .map(|(_, v)| v.as_str())
            .collect();
        match slices.iter_mut().find(|(k, _)| *k == key) {
            Some((_, rows)) => rows.push(row),
            None => slices.push((key, vec![row])),
        }
    }
    let mut trend = Trend {
        n_slices: slices.len(),
        n_bad: 0,
        worst: (String::new(), f64::NAN),
    };
    for (_, rows) in &slices {
        let (first, last) = (rows[0], rows[rows.len() - 1]);
        let name = label(table, first, |i| i != axis, "the table");
        if rows.len() < 2 {
            return Err(format!("slice {name} has only one {} value", dir.axis));
        }
        let change = ours(table, last, metric)? - ours(table, first, metric)?;
        if !dir.order.holds(change) {
            trend.n_bad += 1;
        }
        // Least favourable: smallest change for increasing, largest for decreasing.
        let worse = match dir.order {
            Order::Increasing => change < trend.worst.1,
            Order::Decreasing => change > trend.worst.1,
        };
        if trend.worst.1.is_nan() || worse {
            trend.worst = (name, change);
        }
    }
    Ok(trend)
}

/// Judges `table` by `rule` (see [`VERDICT_RULE`]); returns the verdict and a one-sentence reason.
pub fn judge(table: &Table, rule: &VerdictRule) -> (Verdict, String) {
    let m = &rule.metric;
    let tol = rule.tolerance;
    let incomplete = |why: String| (Verdict::Incomplete, format!("{}.", capitalize(&why)));
    if !(tol.is_finite() && tol >= 0.0) {
        return incomplete(format!("the tolerance {tol} is not a finite number >= 0"));
    }
    if table.rows.is_empty() {
        return incomplete(format!("the table has no rows, so {m} cannot be judged"));
    }
    if let Some((i, row)) =
        (table.rows.iter().enumerate()).find(|(_, r)| r.point.len() != table.columns.len())
    {
        return incomplete(format!(
            "row {} has {} values for {} columns",
            i + 1,
            row.point.len(),
            table.columns.len()
        ));
    }

    // Closeness to the paper's numbers.
    let (mut compared, mut n_off) = (0usize, 0usize);
    let mut worst: Option<(String, f64, f64)> = None; // (row, ours, paper) with the largest |Δ|
    for row in &table.rows {
        let Some(paper) = row
            .metric(m)
            .and_then(|c| c.paper)
            .filter(|p| p.is_finite())
        else {
            continue;
        };
        let mean = match ours(table, row, m) {
            Ok(mean) => mean,
            Err(why) => return incomplete(format!("{why}, which has a paper value ({paper})")),
        };
        compared += 1;
        if (mean - paper).abs() > tol {
            n_off += 1;
        }
        if worst
            .as_ref()
            .is_none_or(|w| (mean - paper).abs() > (w.1 - w.2).abs())
        {
            worst = Some((label(table, row, |_| true, "the only row"), mean, paper));
        }
    }
    let close_text = match &worst {
        None => format!("no row has a paper value for {m}"),
        Some((at, ours, paper)) if n_off == 0 => format!(
            "all {compared} rows with a paper value are within ±{tol} of it \
             (largest |Δ| {:.2} at {at})",
            (ours - paper).abs()
        ),
        Some((at, ours, paper)) => format!(
            "{n_off} of {compared} rows with a paper value are off by more than ±{tol} \
             (largest |Δ| {:.2} at {at}: ours {ours:.2}, paper {paper:.2})",
            (ours - paper).abs()
        ),
    };

    let Some(dir) = &rule.direction else {
        if compared == 0 {
            return incomplete(format!(
                "{close_text} and the rule gives no direction, so there is nothing to compare"
            ));
        }
        let verdict = if n_off == 0 {
            Verdict::Reproduced
        } else {
            Verdict::NotReproduced
        };
        return (verdict, format!("{}.", capitalize(&close_text)));
    };
    let trend = match check_direction(table, m, dir) {
        Ok(t) => t,
        Err(why) => return incomplete(why),
    };
    let (worst_slice, change) = &trend.worst;
    let verb = dir.order.verb();
    // With one slice (no other columns) there is nothing to count or locate.
    let multi = trend.n_slices > 1;
    let at = if multi {
        format!(" in {worst_slice}")
    } else {
        String::new()
    };
    let (verdict, text) = if trend.n_bad == 0 {
        let (scope, least) = if multi {
            (format!(" in all {} slices", trend.n_slices), "least ")
        } else {
            (String::new(), "")
        };
        let trend_text = format!(
            "along {}, {m} {verb} from the first to the last row{scope} \
             ({least}change {change:+.2}{at})",
            dir.axis
        );
        if n_off == 0 {
            (
                Verdict::Reproduced,
                format!("{close_text}, and {trend_text}"),
            )
        } else {
            (
                Verdict::DirectionReproduced,
                format!("{trend_text}, but {close_text}"),
            )
        }
    } else {
        let scope = if multi {
            format!(" in {} of {} slices", trend.n_bad, trend.n_slices)
        } else {
            String::new()
        };
        let trend_text = format!(
            "along {}, {m} does not {} from the first to the last row{scope} \
             (change {change:+.2}{at})",
            dir.axis,
            verb.trim_end_matches('s'),
        );
        (
            Verdict::NotReproduced,
            format!("{close_text}; {trend_text}"),
        )
    };
    (verdict, format!("{}.", capitalize(&text)))
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
#[path = "verdict_tests.rs"]
mod tests;
