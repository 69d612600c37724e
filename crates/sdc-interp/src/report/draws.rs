//! Dataset-draw robustness (beyond the paper, which drew one dataset): an experiment judged again
//! on other draws of its dataset, and how many of them the claim holds on.
//!
//! A draw counts as holding when its own verdict is reproduced or direction reproduced; an
//! inconclusive or incomplete draw is neither a success nor a failure, and the text says so.

use serde::{Deserialize, Serialize};

use crate::verdict::Verdict;

/// How the report's "How verdicts are decided" section explains dataset draws (Markdown); shown
/// only when some experiment has more than one draw.
pub const DRAWS_RULE: &str = "**Dataset draws** (beyond the paper, which drew one dataset). An \
experiment may be run on several draws of its dataset: draw 0 is the spec's own dataset (the \
paper's draw), draw d adds d to the resolved `data.seed` of every run, with the same grid and \
seeds. Each draw's results are judged on their own by the rule above; the claim *holds* on a draw \
when that verdict is reproduced or direction reproduced. The experiment's verdict stays draw 0's; \
the summary's column \"holds on k of N datasets\" counts the draws it holds on, and names \
separately the draws that are inconclusive (too few runs, or too spread, to decide) or incomplete \
(runs missing), which count neither for nor against it.";

/// The verdict of one dataset draw of an experiment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrawVerdict {
    /// The draw: 0 is the experiment's own dataset, d > 0 adds d to its `data.seed`.
    pub draw: usize,
    /// The `data.seed` of the draw's runs; `None` when they differ (a grid over `data.seed`).
    #[serde(default)]
    pub data_seed: Option<u64>,
    /// The verdict on this draw's own results.
    pub verdict: Verdict,
    /// Why, with the numbers (as the verdict rule words it).
    pub reason: String,
    /// The draw's finished runs.
    pub runs: usize,
    /// The draw's planned runs.
    pub planned: usize,
}

/// The draws of an experiment, grouped by what their verdicts say about the claim.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DrawTally {
    /// Draws the claim holds on.
    pub holds: Vec<usize>,
    /// Draws judged not reproduced.
    pub not_reproduced: Vec<usize>,
    /// Draws judged inconclusive: too few runs, or too spread, to decide.
    pub inconclusive: Vec<usize>,
    /// Draws judged incomplete: runs missing, nothing to judge.
    pub incomplete: Vec<usize>,
}

impl DrawTally {
    /// Groups `draws` by verdict, keeping their order.
    pub fn of(draws: &[DrawVerdict]) -> Self {
        let mut tally = Self::default();
        for d in draws {
            // The claim holds on a draw reproduced, or with its direction reproduced.
            let group = match d.verdict {
                Verdict::Reproduced | Verdict::DirectionReproduced => &mut tally.holds,
                Verdict::NotReproduced => &mut tally.not_reproduced,
                Verdict::Inconclusive => &mut tally.inconclusive,
                Verdict::Incomplete => &mut tally.incomplete,
            };
            group.push(d.draw);
        }
        tally
    }

    /// Number of draws.
    pub fn total(&self) -> usize {
        self.holds.len()
            + self.not_reproduced.len()
            + self.inconclusive.len()
            + self.incomplete.len()
    }

    /// `2 of 5, 1 not reproduced, 2 inconclusive`: the summary table's cell.
    pub fn cell(&self) -> String {
        let mut parts = vec![format!("{} of {}", self.holds.len(), self.total())];
        for (group, what) in [
            (&self.not_reproduced, "not reproduced"),
            (&self.inconclusive, "inconclusive"),
            (&self.incomplete, "incomplete"),
        ] {
            if !group.is_empty() {
                parts.push(format!("{} {what}", group.len()));
            }
        }
        parts.join(", ")
    }
}

/// `holds on 2 of 5, 3 inconclusive (draw 0: reproduced, draw 1: inconclusive, ...)`: the
/// experiment section's line, undecided draws named as such rather than counted as failures.
pub fn draws_text(draws: &[DrawVerdict]) -> String {
    let tally = DrawTally::of(draws);
    let each: Vec<String> = draws
        .iter()
        .map(|d| format!("draw {}: {}", d.draw, d.verdict))
        .collect();
    let mut text = format!("holds on {} ({})", tally.cell(), each.join(", "));
    let undecided = tally.inconclusive.len() + tally.incomplete.len();
    if undecided > 0 {
        text.push_str(&format!(
            "; {undecided} undecided draw(s) count neither for nor against the claim"
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{MetricCell, Table, TableRow};
    use crate::verdict::{DirectionRule, Order, RunScope, VerdictRule, judge};

    fn draw(draw: usize, verdict: Verdict) -> DrawVerdict {
        DrawVerdict {
            draw,
            data_seed: Some(draw as u64),
            verdict,
            reason: String::new(),
            runs: 10,
            planned: 10,
        }
    }

    #[test]
    fn draws_are_counted_with_the_undecided_ones_named() {
        let draws = [
            draw(0, Verdict::Reproduced),
            draw(1, Verdict::Inconclusive),
            draw(2, Verdict::DirectionReproduced),
            draw(3, Verdict::Incomplete),
            draw(4, Verdict::Inconclusive),
        ];
        let tally = DrawTally::of(&draws);
        assert_eq!(tally.holds, vec![0, 2]);
        assert_eq!(tally.inconclusive, vec![1, 4]);
        assert_eq!(tally.incomplete, vec![3]);
        assert!(tally.not_reproduced.is_empty());
        assert_eq!(tally.total(), 5);
        assert_eq!(tally.cell(), "2 of 5, 2 inconclusive, 1 incomplete");
        assert_eq!(
            draws_text(&draws),
            "holds on 2 of 5, 2 inconclusive, 1 incomplete (draw 0: reproduced, draw 1: \
             inconclusive, draw 2: direction reproduced, draw 3: incomplete, draw 4: \
             inconclusive); 3 undecided draw(s) count neither for nor against the claim"
        );
    }

    /// FTPT at k = 0 and k = 2 from `runs` values each (`low + i`, `high + i`).
    fn table(runs: usize, low: f64, high: f64) -> Table {
        let row = |k: &str, start: f64| TableRow {
            point: vec![k.to_owned()],
            n_runs: runs,
            n_failed: 0,
            n_dead: 0,
            metrics: vec![MetricCell::new(
                "train.ftpt",
                (0..runs).map(|i| start + i as f64 * 0.5).collect(),
                None,
            )],
        };
        Table {
            columns: vec!["k".to_owned()],
            rows: vec![row("0", low), row("2", high)],
        }
    }

    #[test]
    fn each_draws_table_is_judged_and_counted() {
        let rule = VerdictRule {
            metric: "train.ftpt".to_owned(),
            tolerance: 5.0,
            direction: Some(DirectionRule {
                axis: "k".to_owned(),
                order: Order::Increasing,
            }),
            runs: RunScope::All,
        };
        let tables = [
            table(10, 80.0, 95.0), // rises on enough runs: reproduced
            table(3, 80.0, 95.0),  // rises, on too few runs: inconclusive
            table(10, 95.0, 80.0), // falls on enough runs: not reproduced
            table(12, 70.0, 90.0), // reproduced
            table(0, 80.0, 95.0),  // no runs: incomplete
        ];
        let draws: Vec<DrawVerdict> = tables
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let (verdict, reason) = judge(t, &rule);
                DrawVerdict {
                    draw: i,
                    data_seed: Some(i as u64),
                    verdict,
                    reason,
                    runs: 2 * t.rows[0].n_runs,
                    planned: 20,
                }
            })
            .collect();
        let tally = DrawTally::of(&draws);
        assert_eq!(tally.holds, vec![0, 3]);
        assert_eq!(tally.inconclusive, vec![1]);
        assert_eq!(tally.not_reproduced, vec![2]);
        assert_eq!(tally.incomplete, vec![4]);
        assert_eq!(
            tally.cell(),
            "2 of 5, 1 not reproduced, 1 inconclusive, 1 incomplete"
        );
        assert!(
            draws[1].reason.contains("fewer than 10 runs"),
            "{}",
            draws[1].reason
        );
    }

    #[test]
    fn failures_are_failures_and_all_holding_says_so_plainly() {
        let draws = [
            draw(0, Verdict::Reproduced),
            draw(1, Verdict::NotReproduced),
            draw(2, Verdict::Reproduced),
        ];
        let tally = DrawTally::of(&draws);
        assert_eq!(tally.cell(), "2 of 3, 1 not reproduced");
        assert_eq!(tally.not_reproduced, vec![1]);
        let all = [draw(0, Verdict::Reproduced), draw(1, Verdict::Reproduced)];
        assert_eq!(
            draws_text(&all),
            "holds on 2 of 2 (draw 0: reproduced, draw 1: reproduced)"
        );
    }
}
