//! Verdict outcomes on hand-made tables.

use super::*;
use crate::stats::{Stats, describe};
use crate::table::MetricCell;

const M: &str = "train.ftpt";

fn stats(mean: f64) -> Stats {
    // Three runs around `mean`: sd 1.
    describe(&[mean - 1.0, mean, mean + 1.0])
}

fn row(point: &[&str], ours: Stats, paper: Option<f64>) -> TableRow {
    TableRow {
        point: point.iter().map(|s| (*s).to_owned()).collect(),
        n_runs: ours.n,
        n_failed: 0,
        metrics: vec![MetricCell {
            name: M.to_owned(),
            ours,
            paper,
        }],
    }
}

/// Averaging layer 0/1/2 with our means and the paper's (paper-spec 8.3, D2).
fn layers(ours: [f64; 3], paper: [Option<f64>; 3]) -> Table {
    Table {
        columns: vec!["model.averaging_layer".to_owned()],
        rows: ["zeroth", "first", "second"]
            .iter()
            .zip(ours.iter().zip(paper))
            .map(|(l, (&o, p))| row(&[l], stats(o), p))
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
    }
}

const PAPER: [Option<f64>; 3] = [Some(88.51), Some(93.39), Some(96.75)];

#[test]
fn reproduced_when_close_and_trend_holds() {
    let t = layers([87.0, 92.0, 97.5], PAPER);
    let (v, why) = judge(&t, &rule(Some(Order::Increasing)));
    assert_eq!(v, Verdict::Reproduced, "{why}");
    assert!(why.contains("All 3 rows"), "{why}");
    assert!(why.contains("largest |Δ| 1.51"), "{why}");
    assert!(
        why.contains("train.ftpt increases from the first to the last row (change +10.50)"),
        "{why}"
    );
}

#[test]
fn reproduced_without_direction_rule() {
    let t = layers([87.0, 92.0, 97.5], PAPER);
    assert_eq!(judge(&t, &rule(None)).0, Verdict::Reproduced);
}

#[test]
fn direction_reproduced_when_trend_holds_but_numbers_are_off() {
    let t = layers([70.0, 80.0, 90.0], PAPER);
    let (v, why) = judge(&t, &rule(Some(Order::Increasing)));
    assert_eq!(v, Verdict::DirectionReproduced, "{why}");
    assert!(why.contains("3 of 3 rows"), "{why}");
    assert!(why.contains("ours 70.00, paper 88.51"), "{why}");
}

#[test]
fn not_reproduced_when_trend_fails_even_if_close() {
    // Within tolerance everywhere (largest |Δ| 4.95), but second < zeroth.
    let t = layers([92.0, 94.0, 91.8], PAPER);
    let (v, why) = judge(&t, &rule(Some(Order::Increasing)));
    assert_eq!(v, Verdict::NotReproduced, "{why}");
    assert!(
        why.contains("does not increase from the first to the last row (change -0.20)"),
        "{why}"
    );
    // The same data satisfies a "decreasing" rule, and it is close: reproduced.
    assert_eq!(
        judge(&t, &rule(Some(Order::Decreasing))).0,
        Verdict::Reproduced
    );
}

#[test]
fn not_reproduced_when_off_without_direction_rule() {
    let t = layers([70.0, 80.0, 90.0], PAPER);
    let (v, why) = judge(&t, &rule(None));
    assert_eq!(v, Verdict::NotReproduced, "{why}");
}

#[test]
fn tolerance_is_inclusive() {
    // Exactly representable: |83.5 - 88.5| = 5.0 = tolerance.
    let t = layers([83.5, 93.39, 96.75], [Some(88.5), Some(93.39), Some(96.75)]);
    let (v, why) = judge(&t, &rule(None));
    assert_eq!(v, Verdict::Reproduced, "{why}");
}

#[test]
fn incomplete_without_runs_where_the_paper_has_a_value() {
    let mut t = layers([87.0, 92.0, 97.5], PAPER);
    t.rows[1].metrics[0].ours = describe(&[]);
    let (v, why) = judge(&t, &rule(Some(Order::Increasing)));
    assert_eq!(v, Verdict::Incomplete);
    assert!(
        why.contains("No successful runs of train.ftpt at model.averaging_layer=first"),
        "{why}"
    );
}

#[test]
fn missing_runs_without_paper_value_do_not_block_closeness() {
    let mut t = layers([87.0, 92.0, 97.5], [Some(88.51), None, Some(96.75)]);
    t.rows[1].metrics[0].ours = describe(&[]);
    assert_eq!(judge(&t, &rule(None)).0, Verdict::Reproduced);
    // ... but the direction only needs the first and last row of the slice.
    assert_eq!(
        judge(&t, &rule(Some(Order::Increasing))).0,
        Verdict::Reproduced
    );
}

#[test]
fn incomplete_when_direction_endpoint_has_no_runs() {
    let mut t = layers([87.0, 92.0, 97.5], [None, Some(93.39), None]);
    t.rows[2].metrics[0].ours = describe(&[]);
    let (v, why) = judge(&t, &rule(Some(Order::Increasing)));
    assert_eq!(v, Verdict::Incomplete, "{why}");
}

#[test]
fn incomplete_on_empty_table_or_nothing_to_compare() {
    let empty = Table {
        columns: vec!["model.averaging_layer".to_owned()],
        rows: vec![],
    };
    assert_eq!(judge(&empty, &rule(None)).0, Verdict::Incomplete);
    let no_paper = layers([1.0, 2.0, 3.0], [None; 3]);
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
    let t = layers([87.0, 92.0, 97.5], PAPER);
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
fn direction_is_checked_in_every_slice() {
    // Complexity grid (paper-spec 8.4): FTPT should fall as the classifier widens, per focus width.
    let cols = vec!["focus".to_owned(), "classify".to_owned()];
    let mk = |rows: &[(&str, &str, f64)]| Table {
        columns: cols.clone(),
        rows: rows
            .iter()
            .map(|&(f, c, v)| row(&[f, c], stats(v), None))
            .collect(),
    };
    let rule = VerdictRule {
        metric: M.to_owned(),
        tolerance: 5.0,
        direction: Some(DirectionRule {
            axis: "classify".to_owned(),
            order: Order::Decreasing,
        }),
    };
    let good = mk(&[
        ("20", "10", 79.7),
        ("20", "300", 62.3),
        ("100", "10", 81.9),
        ("100", "300", 69.4),
    ]);
    let (v, why) = judge(&good, &rule);
    assert_eq!(v, Verdict::Reproduced, "{why}");
    assert!(why.contains("least change -12.50 in focus=100"), "{why}");
    let bad = mk(&[
        ("20", "10", 79.7),
        ("100", "10", 81.9),
        ("20", "300", 62.3),
        ("100", "300", 85.0),
    ]);
    let (v, why) = judge(&bad, &rule);
    assert_eq!(v, Verdict::NotReproduced, "{why}");
    assert!(
        why.contains("row in 1 of 2 slices (change +3.10 in focus=100)"),
        "{why}"
    );
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
fn rule_serde_defaults_and_names() {
    let r: VerdictRule = serde_json::from_str(r#"{"metric":"train.ftpt"}"#).unwrap();
    assert_eq!(r, rule(None));
    let r: VerdictRule = serde_json::from_str(
        r#"{"metric":"train.ftpt","tolerance":2.5,
            "direction":{"axis":"model.averaging_layer","order":"increasing"}}"#,
    )
    .unwrap();
    assert_eq!(r.tolerance, 2.5);
    assert_eq!(r.direction.unwrap().order, Order::Increasing);
    assert!(serde_json::from_str::<VerdictRule>(r#"{"metric":"x","tol":1}"#).is_err());
    assert_eq!(
        serde_json::to_string(&Verdict::DirectionReproduced).unwrap(),
        r#""direction-reproduced""#
    );
    assert_eq!(Verdict::NotReproduced.to_string(), "not reproduced");
}
