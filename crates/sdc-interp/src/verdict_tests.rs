//! Verdict outcomes on hand-made tables with fixed per-run samples.

use super::*;
use crate::table::MetricCell;

const M: &str = "train.ftpt";

/// `n` runs spread evenly over `mean ± 2` (sd about 1.5 for 20 runs), clamped to [0, 100].
fn around(mean: f64, n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| {
            let t = if n == 1 {
                0.0
            } else {
                i as f64 / (n - 1) as f64
            };
            (mean - 2.0 + 4.0 * t).clamp(0.0, 100.0)
        })
        .collect()
}

fn row(point: &[&str], values: Vec<f64>, paper: Option<f64>) -> TableRow {
    TableRow {
        point: point.iter().map(|s| (*s).to_owned()).collect(),
        n_runs: values.len(),
        n_failed: 0,
        n_dead: 0,
        metrics: vec![MetricCell::new(M, values, paper)],
    }
}

/// Averaging layer 0/1/2 with our runs and the paper's means (Sec. 8 of the paper, Dataset 2).
fn layers(ours: [Vec<f64>; 3], paper: [Option<f64>; 3]) -> Table {
    Table {
        columns: vec!["model.averaging_layer".to_owned()],
        rows: ["zeroth", "first", "second"]
            .iter()
            .zip(ours.into_iter().zip(paper))
            .map(|(l, (o, p))| row(&[l], o, p))
            .collect(),
    }
}

fn rule(direction: Option<Order>) -> VerdictRule {
    VerdictRule {
        metric: M.to_owned(),
        tolerance: DEFAULT_TOLERANCE,
        direction: direction.map(|order| DirectionRule {
            axis: "model.averaging_layer".to_owned(),
            order,
        }),
        runs: RunScope::All,
    }
}

const PAPER: [Option<f64>; 3] = [Some(88.51), Some(93.39), Some(96.75)];

#[test]
fn twenty_seeds_matching_the_paper_are_reproduced() {
    let t = layers(
        [around(88.0, 20), around(93.0, 20), around(97.0, 20)],
        PAPER,
    );
    let j = assess(&t, &rule(Some(Order::Increasing)));
    assert_eq!(j.verdict, Verdict::Reproduced, "{}", j.reason);
    assert!(
        j.numbers
            .iter()
            .all(|c| c.agreement == Agreement::Consistent)
    );
    assert_eq!(j.trends.len(), 1);
    assert_eq!(j.trends[0].outcome, TrendOutcome::Holds);
    assert!(j.trends[0].interval.0 > 7.0, "{:?}", j.trends[0]);
    assert!(
        j.reason.starts_with("Over all 60 runs at 3 grid points"),
        "{}",
        j.reason
    );
    assert!(
        j.reason
            .contains("3 of 3 paper numbers of train.ftpt are consistent"),
        "{}",
        j.reason
    );
    assert!(j.reason.contains("row holds: change +9.00"), "{}", j.reason);
}

#[test]
fn few_seeds_that_agree_with_the_paper_are_inconclusive_too() {
    // Agreement on 3 seeds is as little evidence as disagreement: the verdict does not depend
    // on the seed count silently in either direction.
    let t = layers([around(88.0, 3), around(93.0, 3), around(97.0, 3)], PAPER);
    let j = assess(&t, &rule(Some(Order::Increasing)));
    assert_eq!(j.verdict, Verdict::Inconclusive, "{}", j.reason);
    assert!(
        j.numbers
            .iter()
            .all(|c| c.agreement == Agreement::Undecided)
    );
    assert!(
        j.numbers
            .iter()
            .all(|c| c.runs_needed == Some(MIN_RUNS_TO_DECIDE))
    );
    assert_eq!(j.trends[0].outcome, TrendOutcome::Holds);
    assert!(!j.trends[0].decisive);
    assert_eq!(j.trends[0].runs_needed, Some(MIN_RUNS_TO_DECIDE));
    let no_trend = assess(&t, &rule(None));
    assert_eq!(
        no_trend.verdict,
        Verdict::Inconclusive,
        "{}",
        no_trend.reason
    );
}

#[test]
fn five_seeds_of_a_bimodal_distribution_are_inconclusive() {
    // Most seeds reach FTPT 100, one in five stops at 66: the quick profile's situation.
    let bimodal = vec![100.0, 100.0, 66.0, 100.0, 100.0];
    let t = layers([bimodal, vec![100.0; 5], vec![100.0; 5]], PAPER);
    let j = assess(&t, &rule(Some(Order::Increasing)));
    assert_eq!(j.verdict, Verdict::Inconclusive, "{}", j.reason);
    // 100 at layer 1 is 6.6 from 93.39 and outside [100, 100], but on 5 runs only.
    assert_eq!(j.numbers[1].agreement, Agreement::Undecided);
    assert_eq!(j.numbers[1].runs_needed, Some(MIN_RUNS_TO_DECIDE));
    assert_eq!(j.trends[0].outcome, TrendOutcome::NotSignificant);
    assert!(
        j.reason.contains("runs per grid point would decide"),
        "{}",
        j.reason
    );
    // All seeds at 100 everywhere: no increase and off the paper, still only inconclusive.
    let flat = layers([vec![100.0; 5], vec![100.0; 5], vec![100.0; 5]], PAPER);
    let j = assess(&flat, &rule(Some(Order::Increasing)));
    assert_eq!(j.verdict, Verdict::Inconclusive, "{}", j.reason);
    assert_eq!(j.trends[0].runs_needed, None);
    assert!(
        j.reason.contains("no run count estimated from it"),
        "{}",
        j.reason
    );
}

#[test]
fn a_clear_contradiction_is_not_reproduced() {
    let t = layers(
        [around(60.0, 20), around(65.0, 20), around(62.0, 20)],
        PAPER,
    );
    let j = assess(&t, &rule(None));
    assert_eq!(j.verdict, Verdict::NotReproduced, "{}", j.reason);
    assert!(
        j.numbers
            .iter()
            .all(|c| c.agreement == Agreement::Contradicted)
    );
    assert!(j.reason.contains("0 of 3 paper numbers"), "{}", j.reason);
    assert!(
        j.reason.contains("ours 62.00 [61.") && j.reason.contains("paper 96.75"),
        "{}",
        j.reason
    );
    // The same numbers on 5 seeds cannot reject yet.
    let few = layers([around(60.0, 5), around(65.0, 5), around(62.0, 5)], PAPER);
    assert_eq!(judge(&few, &rule(None)).0, Verdict::Inconclusive);
}

#[test]
fn a_reversed_trend_is_not_reproduced() {
    let t = layers(
        [around(97.0, 20), around(93.0, 20), around(88.0, 20)],
        PAPER,
    );
    let j = assess(&t, &rule(Some(Order::Increasing)));
    assert_eq!(j.verdict, Verdict::NotReproduced, "{}", j.reason);
    assert_eq!(j.trends[0].outcome, TrendOutcome::Reversed);
    assert!(j.trends[0].decisive);
    assert!(j.reason.contains("row is reversed"), "{}", j.reason);
    // Numbers that all match cannot rescue a reversed trend.
    let t = layers(
        [around(93.4, 20), around(93.0, 20), around(92.0, 20)],
        PAPER,
    );
    let j = assess(&t, &rule(Some(Order::Increasing)));
    assert!(
        j.numbers
            .iter()
            .all(|c| c.agreement == Agreement::Consistent)
    );
    assert_eq!(j.verdict, Verdict::NotReproduced, "{}", j.reason);
    // A reversal on 5 seeds is not enough.
    let few = layers([around(97.0, 5), around(93.0, 5), around(88.0, 5)], PAPER);
    let j = assess(&few, &rule(Some(Order::Increasing)));
    assert_eq!(j.verdict, Verdict::Inconclusive, "{}", j.reason);
    assert!(j.reason.contains("do not count yet"), "{}", j.reason);
}

#[test]
fn direction_reproduced_when_trend_holds_but_numbers_are_contradicted() {
    let t = layers(
        [around(70.0, 20), around(80.0, 20), around(90.0, 20)],
        PAPER,
    );
    let j = assess(&t, &rule(Some(Order::Increasing)));
    assert_eq!(j.verdict, Verdict::DirectionReproduced, "{}", j.reason);
    assert!(j.reason.contains("3 contradicted"), "{}", j.reason);
    assert!(j.reason.contains("ours 70.00"), "{}", j.reason);
}

#[test]
fn a_paper_number_inside_our_interval_is_consistent_beyond_the_tolerance() {
    // Bimodal 12 runs: mean 84.2, interval wide enough to hold 93.39 though |Δ| > 5.
    let mut v = vec![100.0; 8];
    v.extend([60.0, 55.0, 50.0, 45.5]);
    let t = layers([around(88.0, 12), v, around(97.0, 12)], PAPER);
    let j = assess(&t, &rule(None));
    let c = &j.numbers[1];
    assert!(
        (c.ours.mean - c.paper).abs() > 5.0 && c.ours.ci95_contains(c.paper),
        "{c:?}"
    );
    assert_eq!(c.agreement, Agreement::Consistent);
    assert_eq!(c.ours.ci95_high, 100.0_f64.min(c.ours.ci95_high));
    assert_eq!(j.verdict, Verdict::Reproduced, "{}", j.reason);
}

#[test]
fn not_significant_trend_says_how_many_runs_it_needs() {
    // Means 89 -> 91 with sd about 1.5 per row on 3 runs: the change is too small to show.
    let t = layers(
        [
            vec![87.0, 89.0, 91.0],
            around(93.0, 3),
            vec![89.0, 91.0, 93.0],
        ],
        [None; 3],
    );
    let j = assess(&t, &rule(Some(Order::Increasing)));
    assert_eq!(j.verdict, Verdict::Inconclusive, "{}", j.reason);
    // 1.645^2 * (4 + 4) / 2^2 = 5.4 -> 6 runs.
    assert_eq!(j.trends[0].runs_needed, Some(6));
    assert!(
        j.reason.contains("about 6 runs per grid point"),
        "{}",
        j.reason
    );
}

#[test]
fn a_change_of_about_zero_says_no_feasible_seed_count_decides_it() {
    // Means 89.0 -> 89.05 with sd about 2 per row: the estimate runs to six figures.
    let t = layers(
        [
            vec![87.0, 89.0, 91.0],
            around(93.0, 3),
            vec![87.05, 89.05, 91.05],
        ],
        [None; 3],
    );
    let j = assess(&t, &rule(Some(Order::Increasing)));
    assert_eq!(j.verdict, Verdict::Inconclusive, "{}", j.reason);
    assert!(j.trends[0].runs_needed.is_some_and(|n| n > 1000));
    assert!(
        j.reason.contains("close to zero") && j.reason.contains("more than 1000 runs"),
        "{}",
        j.reason
    );
}

#[test]
fn tolerance_is_inclusive() {
    // Exactly representable: |83.5 - 88.5| = 5.0 = tolerance.
    let t = layers(
        [vec![83.5; 12], vec![93.39; 12], vec![96.75; 12]],
        [Some(88.5), Some(93.39), Some(96.75)],
    );
    let (v, why) = judge(&t, &rule(None));
    assert_eq!(v, Verdict::Reproduced, "{why}");
}

#[test]
fn incomplete_without_runs_where_the_paper_has_a_value() {
    let t = layers([around(87.0, 5), vec![], around(97.0, 5)], PAPER);
    let (v, why) = judge(&t, &rule(Some(Order::Increasing)));
    assert_eq!(v, Verdict::Incomplete);
    assert!(
        why.contains("No successful runs of train.ftpt at model.averaging_layer=first"),
        "{why}"
    );
}

#[test]
fn missing_runs_without_paper_value_do_not_block_the_trend() {
    let t = layers(
        [around(87.0, 20), vec![], around(97.5, 20)],
        [Some(88.51), None, Some(96.75)],
    );
    assert_eq!(judge(&t, &rule(None)).0, Verdict::Reproduced);
    assert_eq!(
        judge(&t, &rule(Some(Order::Increasing))).0,
        Verdict::Reproduced
    );
}

#[test]
fn incomplete_when_a_trend_endpoint_has_no_runs_or_no_values() {
    let t = layers(
        [around(87.0, 5), around(92.0, 5), vec![]],
        [None, Some(93.39), None],
    );
    let (v, why) = judge(&t, &rule(Some(Order::Increasing)));
    assert_eq!(v, Verdict::Incomplete, "{why}");
    // A table read from an old JSON file has stats but no per-run values.
    let mut t = layers([around(87.0, 5), around(92.0, 5), around(97.0, 5)], PAPER);
    t.rows[0].metrics[0].values.clear();
    let (v, why) = judge(&t, &rule(Some(Order::Increasing)));
    assert_eq!(v, Verdict::Incomplete, "{why}");
    assert!(why.contains("0 per-run values"), "{why}");
}

#[test]
fn incomplete_on_empty_table_or_nothing_to_compare() {
    let empty = Table {
        columns: vec!["model.averaging_layer".to_owned()],
        rows: vec![],
    };
    assert_eq!(judge(&empty, &rule(None)).0, Verdict::Incomplete);
    let no_paper = layers(
        [around(10.0, 12), around(20.0, 12), around(30.0, 12)],
        [None; 3],
    );
    let (v, why) = judge(&no_paper, &rule(None));
    assert_eq!(v, Verdict::Incomplete);
    assert!(why.contains("nothing to compare"), "{why}");
    // With a direction rule the trend alone decides.
    assert_eq!(
        judge(&no_paper, &rule(Some(Order::Increasing))).0,
        Verdict::Reproduced
    );
}

#[test]
fn incomplete_on_unknown_axis_or_bad_tolerance() {
    let t = layers([around(87.0, 5), around(92.0, 5), around(97.0, 5)], PAPER);
    let mut r = rule(Some(Order::Increasing));
    r.direction = Some(DirectionRule {
        axis: "train.lr".to_owned(),
        order: Order::Increasing,
    });
    let (v, why) = judge(&t, &r);
    assert_eq!(v, Verdict::Incomplete);
    assert!(why.contains("train.lr is not a column"), "{why}");
    let mut r = rule(None);
    r.tolerance = f64::NAN;
    assert_eq!(judge(&t, &r).0, Verdict::Incomplete);
}

#[test]
fn direction_is_tested_in_every_slice() {
    // Complexity grid (paper Sec. 8): FTPT should fall as the classifier widens, per focus width.
    let cols = vec!["focus".to_owned(), "classify".to_owned()];
    let mk = |rows: &[(&str, &str, f64)]| Table {
        columns: cols.clone(),
        rows: rows
            .iter()
            .map(|&(f, c, v)| row(&[f, c], around(v, 20), None))
            .collect(),
    };
    let rule = VerdictRule {
        metric: M.to_owned(),
        tolerance: 5.0,
        direction: Some(DirectionRule {
            axis: "classify".to_owned(),
            order: Order::Decreasing,
        }),
        runs: RunScope::All,
    };
    let good = mk(&[
        ("20", "10", 79.7),
        ("20", "300", 62.3),
        ("100", "10", 81.9),
        ("100", "300", 69.4),
    ]);
    let (v, why) = judge(&good, &rule);
    assert_eq!(v, Verdict::Reproduced, "{why}");
    assert!(
        why.contains("holds in 2 of 2 slices (0 not significant, 0 reversed)"),
        "{why}"
    );
    assert!(why.contains("least favourable change -12.50"), "{why}");
    assert!(why.contains("in focus=100"), "{why}");
    let bad = mk(&[
        ("20", "10", 79.7),
        ("100", "10", 81.9),
        ("20", "300", 62.3),
        ("100", "300", 85.0),
    ]);
    let (v, why) = judge(&bad, &rule);
    assert_eq!(v, Verdict::NotReproduced, "{why}");
    assert!(
        why.contains("holds in 1 of 2 slices (0 not significant, 1 reversed)"),
        "{why}"
    );
    assert!(why.contains("change +3.10"), "{why}");
    // A slice with a single axis value cannot show a trend.
    let single = mk(&[("20", "10", 79.7), ("20", "300", 62.3), ("100", "10", 81.9)]);
    let (v, why) = judge(&single, &rule);
    assert_eq!(v, Verdict::Incomplete);
    assert!(
        why.contains("Slice focus=100 has only one classify value"),
        "{why}"
    );
}

#[test]
fn the_scope_counts_dead_starts() {
    let mut t = layers(
        [around(88.0, 20), around(93.0, 20), around(97.0, 20)],
        PAPER,
    );
    t.rows[0].n_dead = 2;
    let (_, why) = judge(&t, &rule(None));
    assert!(
        why.starts_with("Over all 60 runs at 3 grid points (2 dead starts included)."),
        "{why}"
    );
    let mut r = rule(None);
    r.runs = RunScope::Best;
    let (_, why) = judge(&t, &r);
    assert!(
        why.contains("over the paper's best runs") || why.contains("Over the paper's best runs"),
        "{why}"
    );
}

#[test]
fn rule_serde_defaults_and_names() {
    let r: VerdictRule = serde_json::from_str(r#"{"metric":"train.ftpt"}"#).unwrap();
    assert_eq!(r, rule(None));
    let r: VerdictRule = serde_json::from_str(
        r#"{"metric":"train.ftpt","tolerance":2.5,"runs":"best",
            "direction":{"axis":"model.averaging_layer","order":"increasing"}}"#,
    )
    .unwrap();
    assert_eq!(r.tolerance, 2.5);
    assert_eq!(r.runs, RunScope::Best);
    assert_eq!(r.direction.unwrap().order, Order::Increasing);
    assert!(serde_json::from_str::<VerdictRule>(r#"{"metric":"x","tol":1}"#).is_err());
    assert_eq!(
        serde_json::to_string(&Verdict::DirectionReproduced).unwrap(),
        r#""direction-reproduced""#
    );
    assert_eq!(Verdict::NotReproduced.to_string(), "not reproduced");
    assert_eq!(Verdict::Inconclusive.to_string(), "inconclusive");
}
