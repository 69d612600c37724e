//! Whether a claim of the paper counts as reproduced.
//!
//! (About 730 lines, tests apart in `verdict_tests.rs`: the rule's types, its two kinds of checks
//! — paper numbers and trends — the verdict and the sentences that explain it belong together,
//! since every sentence quotes a check; splitting them would split the rule from its words.)
//!
//! The report quotes this rule as [`VERDICT_RULE`]:
//!
#![doc = include_str!("verdict_rule.md")]

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::stats::{Stats, bootstrap_differences, quantile};
use crate::table::{Table, TableRow};

/// The verdict rule in words (Markdown), as the module documentation and the report state it.
pub const VERDICT_RULE: &str = include_str!("verdict_rule.md");

/// Default tolerance of a [`VerdictRule`], in the metric's units (percentage points for rates).
pub const DEFAULT_TOLERANCE: f64 = 5.0;

/// A paper number or a trend is only decided — confirmed or rejected — on at least this many
/// runs per grid point: below it, a bootstrap interval is too narrow (it cannot show a minority
/// mode it has not drawn), so agreement is as little evidence as disagreement.
pub const MIN_RUNS_TO_DECIDE: usize = 10;

/// One-sided level of the trend test: the claimed direction holds when the 5% quantile of the
/// bootstrapped change is above 0 (increasing).
pub const TREND_LEVEL: f64 = 0.05;

/// The normal quantile behind the seed-count estimates of two-sided 95% intervals.
const Z_TWO_SIDED: f64 = 1.959_964;
/// The normal quantile behind the seed-count estimates of one-sided 5% tests.
const Z_ONE_SIDED: f64 = 1.644_854;

/// How a claim fared; see [`VERDICT_RULE`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Every paper number is consistent with ours and the trend (if any) holds.
    Reproduced,
    /// The trend holds, but not every paper number is consistent with ours.
    DirectionReproduced,
    /// Nothing is contradicted, but the runs cannot decide: too few, or too spread.
    Inconclusive,
    /// A paper number is contradicted (and no trend holds), or the trend is reversed.
    NotReproduced,
    /// Runs missing, or a malformed rule: nothing to judge.
    Incomplete,
}

impl Verdict {
    /// The verdict in words, e.g. `direction reproduced`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Reproduced => "reproduced",
            Verdict::DirectionReproduced => "direction reproduced",
            Verdict::Inconclusive => "inconclusive",
            Verdict::NotReproduced => "not reproduced",
            Verdict::Incomplete => "incomplete",
        }
    }

    /// The serde name, e.g. `direction-reproduced` (usable as a CSS class).
    pub fn slug(self) -> &'static str {
        match self {
            Verdict::Reproduced => "reproduced",
            Verdict::DirectionReproduced => "direction-reproduced",
            Verdict::Inconclusive => "inconclusive",
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

    /// `+1` for increasing, `-1` for decreasing: the sign of a change in this order.
    fn sign(self) -> f64 {
        match self {
            Order::Increasing => 1.0,
            Order::Decreasing => -1.0,
        }
    }
}

/// Which runs a verdict is computed over.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunScope {
    /// Every successful run, dead starts included (the paper's plain means).
    #[default]
    All,
    /// The paper's "best runs" only: runs above 95% training accuracy.
    Best,
}

impl RunScope {
    /// The scope in words, e.g. `all runs`.
    pub fn as_str(self) -> &'static str {
        match self {
            RunScope::All => "all runs",
            RunScope::Best => "the best runs (training accuracy above 95%)",
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
    /// The runs judged: all (default) or the paper's best runs.
    #[serde(default)]
    pub runs: RunScope,
}

fn default_tolerance() -> f64 {
    DEFAULT_TOLERANCE
}

impl VerdictRule {
    /// The rule in one sentence, for the report.
    pub fn describe(&self) -> String {
        let m = &self.metric;
        let tol = self.tolerance;
        let numbers = format!(
            "over {}, each paper number of {m} is consistent when it lies in our 95% bootstrap \
             interval or within ±{tol} of our mean",
            self.runs.as_str()
        );
        match &self.direction {
            None => format!("Reproduced when, {numbers}; no trend is checked."),
            Some(d) => format!(
                "Reproduced when, {numbers}, and {m} {} significantly from the first to the last \
                 {} in every slice of the other columns (one-sided bootstrap test at {}%); \
                 direction reproduced when only the trend holds.",
                d.order.verb(),
                d.axis,
                TREND_LEVEL * 100.0
            ),
        }
    }
}

/// How a paper number compares with our runs at its grid point.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Agreement {
    /// Inside our 95% interval, or within the tolerance of our mean, on at least
    /// [`MIN_RUNS_TO_DECIDE`] runs.
    Consistent,
    /// Outside both, on at least [`MIN_RUNS_TO_DECIDE`] runs.
    Contradicted,
    /// Fewer runs than a decision needs, either way.
    Undecided,
}

impl Agreement {
    /// The outcome in words.
    pub fn as_str(self) -> &'static str {
        match self {
            Agreement::Consistent => "consistent",
            Agreement::Contradicted => "contradicted",
            Agreement::Undecided => "undecided (too few runs)",
        }
    }
}

/// The test of a claimed trend in one slice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TrendOutcome {
    /// Significant in the claimed direction.
    Holds,
    /// Not significant either way.
    NotSignificant,
    /// Significant against the claimed direction.
    Reversed,
}

impl TrendOutcome {
    /// The outcome in words.
    pub fn as_str(self) -> &'static str {
        match self {
            TrendOutcome::Holds => "holds",
            TrendOutcome::NotSignificant => "not significant",
            TrendOutcome::Reversed => "reversed",
        }
    }
}

/// One paper number against our runs.
#[derive(Clone, Debug, PartialEq)]
pub struct NumberCheck {
    /// The grid point, `col=value, ...`.
    pub at: String,
    /// Our runs at that point.
    pub ours: Stats,
    /// The paper's number.
    pub paper: f64,
    /// The outcome.
    pub agreement: Agreement,
    /// For an undecided number: runs per grid point that would decide it at the observed spread.
    pub runs_needed: Option<usize>,
}

/// The claimed trend tested in one slice (first against last row along the axis).
#[derive(Clone, Debug, PartialEq)]
pub struct TrendCheck {
    /// The slice, `col=value, ...` of the other columns (`all rows` without any).
    pub slice: String,
    /// The axis values of the first and the last row.
    pub from_to: (String, String),
    /// Runs at the first and at the last row.
    pub n: (usize, usize),
    /// Mean at the last row minus mean at the first.
    pub change: f64,
    /// The 5% and 95% quantiles of the bootstrapped change (a 90% interval; each end is a
    /// one-sided test at [`TREND_LEVEL`]).
    pub interval: (f64, f64),
    /// The outcome.
    pub outcome: TrendOutcome,
    /// Whether the outcome counts (a trend that holds, or a reversal): at least
    /// [`MIN_RUNS_TO_DECIDE`] runs at both ends.
    pub decisive: bool,
    /// When the trend does not hold: runs per grid point that would make the observed change
    /// significant at the observed spread; `None` when no count would (no change, no spread).
    pub runs_needed: Option<usize>,
}

/// Everything the verdict rule found in a table.
#[derive(Clone, Debug, PartialEq)]
pub struct Judgement {
    /// The verdict.
    pub verdict: Verdict,
    /// Why, in sentences with the numbers.
    pub reason: String,
    /// Each paper number, in table order.
    pub numbers: Vec<NumberCheck>,
    /// Each slice's trend test, when the rule gives a direction.
    pub trends: Vec<TrendCheck>,
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

/// Our runs of `metric` in `row` (stats and per-run values), or why there are none.
fn ours<'a>(table: &Table, row: &'a TableRow, metric: &str) -> Result<(Stats, &'a [f64]), String> {
    let at = label(table, row, |_| true, "the only row");
    match row.metric(metric) {
        None => Err(format!("no {metric} cell at {at}")),
        Some(c) if c.ours.n == 0 => Err(format!("no successful runs of {metric} at {at}")),
        Some(c) if !c.ours.mean.is_finite() => Err(format!(
            "the mean of {metric} over {} runs is not finite at {at}",
            c.ours.n
        )),
        Some(c) => Ok((c.ours, &c.values)),
    }
}

/// `ceil(x)` as a count, at least `floor`.
fn count_at_least(x: f64, floor: usize) -> usize {
    // x is finite and >= 0 here; seed counts beyond usize do not occur.
    (x.ceil() as usize).max(floor)
}

fn check_number(at: String, ours: Stats, paper: f64, tol: f64) -> NumberCheck {
    let gap = (ours.mean - paper).abs();
    let inside = ours.ci95_contains(paper) || gap <= tol;
    let agreement = if ours.n < MIN_RUNS_TO_DECIDE {
        Agreement::Undecided
    } else if inside {
        Agreement::Consistent
    } else {
        Agreement::Contradicted
    };
    // The interval half-width 1.96 sd / sqrt(n) must fall below the gap.
    let runs_needed = (agreement == Agreement::Undecided).then(|| {
        if inside {
            MIN_RUNS_TO_DECIDE
        } else {
            count_at_least((Z_TWO_SIDED * ours.sd / gap).powi(2), MIN_RUNS_TO_DECIDE)
        }
    });
    NumberCheck {
        at,
        ours,
        paper,
        agreement,
        runs_needed,
    }
}

fn check_trends(
    table: &Table,
    metric: &str,
    dir: &DirectionRule,
) -> Result<Vec<TrendCheck>, String> {
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
    let mut checks = Vec::new();
    for (_, rows) in &slices {
        let (first, last) = (rows[0], rows[rows.len() - 1]);
        let slice = label(table, first, |i| i != axis, "all rows");
        if rows.len() < 2 {
            return Err(format!("slice {slice} has only one {} value", dir.axis));
        }
        let (a, a_values) = ours(table, first, metric)?;
        let (b, b_values) = ours(table, last, metric)?;
        for (s, v, row) in [(a, a_values, first), (b, b_values, last)] {
            if v.len() != s.n {
                return Err(format!(
                    "the table holds {} per-run values of {metric} for {} runs at {}, so the \
                     trend cannot be tested",
                    v.len(),
                    s.n,
                    label(table, row, |_| true, "the only row")
                ));
            }
        }
        let change = b.mean - a.mean;
        let diffs = bootstrap_differences(a_values, b_values);
        let interval = (
            quantile(&diffs, TREND_LEVEL),
            quantile(&diffs, 1.0 - TREND_LEVEL),
        );
        // In the claimed direction's units: positive means "as claimed".
        let sign = dir.order.sign();
        let (lo, hi) = if sign > 0.0 {
            interval
        } else {
            (-interval.1, -interval.0)
        };
        let outcome = if lo > 0.0 {
            TrendOutcome::Holds
        } else if hi < 0.0 {
            TrendOutcome::Reversed
        } else {
            TrendOutcome::NotSignificant
        };
        let decisive = a.n.min(b.n) >= MIN_RUNS_TO_DECIDE;
        // A one-sided test at 5% needs 1.645 sqrt((sd_a^2 + sd_b^2) / n) below |change|.
        let variance = a.sd.powi(2) + b.sd.powi(2);
        let runs_needed = match outcome {
            TrendOutcome::Holds if decisive => None,
            TrendOutcome::Holds => Some(MIN_RUNS_TO_DECIDE),
            TrendOutcome::Reversed if decisive => None,
            TrendOutcome::Reversed => Some(MIN_RUNS_TO_DECIDE),
            TrendOutcome::NotSignificant if change == 0.0 || variance == 0.0 => None,
            TrendOutcome::NotSignificant => {
                let estimate = Z_ONE_SIDED.powi(2) * variance / change.powi(2);
                let floor = if change * sign > 0.0 {
                    a.n.max(b.n) + 1
                } else {
                    MIN_RUNS_TO_DECIDE
                };
                Some(count_at_least(estimate, floor))
            }
        };
        checks.push(TrendCheck {
            slice,
            from_to: (first.point[axis].clone(), last.point[axis].clone()),
            n: (a.n, b.n),
            change,
            interval,
            outcome,
            decisive,
            runs_needed,
        });
    }
    Ok(checks)
}

/// Judges `table` by `rule` (see [`VERDICT_RULE`]); returns the verdict and its reason.
pub fn judge(table: &Table, rule: &VerdictRule) -> (Verdict, String) {
    let j = assess(table, rule);
    (j.verdict, j.reason)
}

/// Judges `table` by `rule` (see [`VERDICT_RULE`]), with every number and trend test.
pub fn assess(table: &Table, rule: &VerdictRule) -> Judgement {
    let m = &rule.metric;
    let tol = rule.tolerance;
    let incomplete = |why: String| Judgement {
        verdict: Verdict::Incomplete,
        reason: format!("{}.", capitalize(&why)),
        numbers: Vec::new(),
        trends: Vec::new(),
    };
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

    let mut numbers = Vec::new();
    for row in &table.rows {
        let Some(paper) = row
            .metric(m)
            .and_then(|c| c.paper)
            .filter(|p| p.is_finite())
        else {
            continue;
        };
        let stats = match ours(table, row, m) {
            Ok((stats, _)) => stats,
            Err(why) => return incomplete(format!("{why}, which has a paper value ({paper})")),
        };
        let at = label(table, row, |_| true, "the only row");
        numbers.push(check_number(at, stats, paper, tol));
    }
    let trends = match &rule.direction {
        None => Vec::new(),
        Some(dir) => match check_trends(table, m, dir) {
            Ok(t) => t,
            Err(why) => return incomplete(why),
        },
    };
    if numbers.is_empty() && rule.direction.is_none() {
        return incomplete(format!(
            "no row has a paper value for {m} and the rule gives no direction, so there is \
             nothing to compare"
        ));
    }

    let count = |a| numbers.iter().filter(|c| c.agreement == a).count();
    let (consistent, contradicted, undecided) = (
        count(Agreement::Consistent),
        count(Agreement::Contradicted),
        count(Agreement::Undecided),
    );
    let tcount = |o: TrendOutcome, decisive: bool| {
        trends
            .iter()
            .filter(|t| t.outcome == o && (!decisive || t.decisive))
            .count()
    };
    let holds = tcount(TrendOutcome::Holds, true);
    let reversed = tcount(TrendOutcome::Reversed, true);
    let all_hold = rule.direction.is_some() && holds == trends.len();
    let verdict = if reversed > 0 {
        Verdict::NotReproduced
    } else if all_hold {
        if consistent == numbers.len() {
            Verdict::Reproduced
        } else {
            Verdict::DirectionReproduced
        }
    } else if contradicted > 0 {
        Verdict::NotReproduced
    } else if rule.direction.is_none() && undecided == 0 {
        Verdict::Reproduced
    } else {
        Verdict::Inconclusive
    };

    let mut sentences = vec![scope_text(table, rule)];
    if !numbers.is_empty() {
        sentences.push(numbers_text(
            &numbers,
            m,
            (consistent, contradicted, undecided),
        ));
    }
    if let Some(dir) = &rule.direction {
        sentences.push(trends_text(&trends, m, dir));
    }
    if (verdict == Verdict::Inconclusive || verdict == Verdict::DirectionReproduced)
        && let Some(text) = needed_text(&numbers, &trends)
    {
        sentences.push(text);
    }
    let reason = sentences
        .iter()
        .map(|s| format!("{}.", capitalize(s)))
        .collect::<Vec<_>>()
        .join(" ");
    Judgement {
        verdict,
        reason,
        numbers,
        trends,
    }
}

/// `over all 60 runs at 3 grid points (2 dead starts included)`.
fn scope_text(table: &Table, rule: &VerdictRule) -> String {
    let runs: usize = table
        .rows
        .iter()
        .filter_map(|r| r.metric(&rule.metric))
        .map(|c| c.ours.n)
        .sum();
    let dead: usize = table.rows.iter().map(|r| r.n_dead).sum();
    let what = match rule.runs {
        RunScope::All => format!("over all {runs} runs"),
        RunScope::Best => {
            format!("over the paper's best runs ({runs} runs above 95% training accuracy)")
        }
    };
    let dead = match (rule.runs, dead) {
        (_, 0) => "no dead starts".to_owned(),
        (RunScope::All, d) => format!("{d} dead starts included"),
        (RunScope::Best, d) => format!("{d} dead starts left out"),
    };
    format!("{what} at {} grid points ({dead})", table.rows.len())
}

fn numbers_text(
    numbers: &[NumberCheck],
    m: &str,
    (consistent, contradicted, undecided): (usize, usize, usize),
) -> String {
    let total = numbers.len();
    let mut parts = vec![format!(
        "{consistent} of {total} paper numbers of {m} are consistent"
    )];
    if contradicted > 0 {
        parts.push(format!("{contradicted} contradicted"));
    }
    if undecided > 0 {
        parts.push(format!(
            "{undecided} undecided (on fewer than {MIN_RUNS_TO_DECIDE} runs, agreement decides \
             as little as disagreement)"
        ));
    }
    let worst = numbers
        .iter()
        .max_by(|a, b| {
            let gap = |c: &NumberCheck| (c.ours.mean - c.paper).abs();
            gap(a).total_cmp(&gap(b))
        })
        .expect("numbers is not empty");
    format!(
        "{}; largest |Δ| {:.2} at {}: ours {:.2} [{:.2}, {:.2}], paper {:.2}",
        parts.join(", "),
        (worst.ours.mean - worst.paper).abs(),
        worst.at,
        worst.ours.mean,
        worst.ours.ci95_low,
        worst.ours.ci95_high,
        worst.paper
    )
}

fn trends_text(trends: &[TrendCheck], m: &str, dir: &DirectionRule) -> String {
    let count = |o| trends.iter().filter(|t| t.outcome == o).count();
    let n = trends.len();
    let verb = dir.order.verb();
    // The slice least favourable to the claim.
    let worst = trends
        .iter()
        .min_by(|a, b| (a.change * dir.order.sign()).total_cmp(&(b.change * dir.order.sign())))
        .expect("a direction rule gives at least one slice");
    let at = if n > 1 {
        format!(" in {}", worst.slice)
    } else {
        String::new()
    };
    let detail = format!(
        "{}change {:+.2}, 90% interval [{:+.2}, {:+.2}]{at}",
        if n > 1 { "least favourable " } else { "" },
        worst.change,
        worst.interval.0,
        worst.interval.1
    );
    let result = if n > 1 {
        format!(
            "holds in {} of {n} slices ({} not significant, {} reversed)",
            count(TrendOutcome::Holds),
            count(TrendOutcome::NotSignificant),
            count(TrendOutcome::Reversed)
        )
    } else {
        match worst.outcome {
            TrendOutcome::Holds => "holds".to_owned(),
            o => format!("is {}", o.as_str()),
        }
    };
    let few = trends
        .iter()
        .filter(|t| t.outcome != TrendOutcome::NotSignificant && !t.decisive)
        .count();
    let caveat = if few > 0 {
        format!(
            "; {few} outcome(s) on fewer than {MIN_RUNS_TO_DECIDE} runs at an end do not count \
             yet"
        )
    } else {
        String::new()
    };
    format!(
        "along {}, the claim that {m} {verb} from the first to the last row {result}: \
         {detail}{caveat}",
        dir.axis
    )
}

/// Above this estimate, the text says "more than" instead of a number.
const MAX_RUNS_STATED: usize = 1000;

/// The seed count that would decide what is still open, when the observed spread says.
fn needed_text(numbers: &[NumberCheck], trends: &[TrendCheck]) -> Option<String> {
    let open_numbers = numbers
        .iter()
        .filter(|c| c.agreement == Agreement::Undecided);
    let open_trends: Vec<&TrendCheck> = trends
        .iter()
        .filter(|t| t.outcome == TrendOutcome::NotSignificant || !t.decisive)
        .collect();
    let needed = open_numbers
        .filter_map(|c| c.runs_needed)
        .chain(open_trends.iter().filter_map(|t| t.runs_needed))
        .max();
    let blind = open_trends.iter().any(|t| t.runs_needed.is_none());
    match (needed, blind) {
        (None, false) => None,
        // An estimate this large says the observed effect is about zero: no feasible seed count
        // decides it, and a six-digit count would read as a plan.
        (Some(n), false) if n > MAX_RUNS_STATED => Some(format!(
            "the observed effect is close to zero: at its spread, more than {MAX_RUNS_STATED} \
             runs per grid point would be needed to decide it"
        )),
        (Some(n), false) => Some(format!(
            "at the observed spread, about {n} runs per grid point would decide it"
        )),
        (Some(n), true) => Some(format!(
            "at the observed spread, about {n} runs per grid point would decide the numbers; \
             some slice shows no change and no spread, so no run count estimated from it \
             decides its trend"
        )),
        (None, true) => Some(
            "some slice shows no change and no spread, so no run count estimated from it \
             decides its trend"
                .to_owned(),
        ),
    }
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
