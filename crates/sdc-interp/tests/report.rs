//! End to end: a hand-made report rendered into a temporary directory.
//!
//! (Long because it is the one end-to-end test of the report renderer; each case builds its own
//! small report.)

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::Path;

use sdc_interp::{
    DirectionRule, DrawVerdict, ExperimentSection, Failure, Figure, MetricCell, MosaicPanel, Order,
    Report, ReportError, RunScope, Series, Table, TableRow, Verdict, VerdictRule, judge, render,
};

fn cell(name: &str, runs: &[f64], paper: Option<f64>) -> MetricCell {
    MetricCell::new(name, runs.to_vec(), paper)
}

/// Averaging layer on D2 (the paper's Sec. 8) with a made-up quick run.
fn avg_layer() -> ExperimentSection {
    let rows = [
        ("zeroth", [87.0, 88.0, 90.0], 88.51, 11.42),
        ("first", [92.0, 94.0, 95.0], 93.39, 6.58),
        ("second", [96.0, 97.0, 97.5], 96.75, 3.23),
    ];
    let table = Table {
        columns: vec!["model.averaging_layer".to_owned()],
        rows: rows
            .iter()
            .map(|(layer, ftpt, paper, ffpt_paper)| TableRow {
                point: vec![(*layer).to_owned()],
                n_runs: 3,
                n_failed: 0,
                n_dead: 0,
                metrics: vec![
                    cell("train.ftpt", ftpt, Some(*paper)),
                    cell("train.ffpt", &ftpt.map(|v| 100.0 - v), Some(*ffpt_paper)),
                    cell("train.simplex_distance", &[0.031, 0.036, 0.04], None),
                ],
            })
            .collect(),
    };
    let rule = VerdictRule {
        metric: "train.ftpt".to_owned(),
        tolerance: 5.0,
        direction: Some(DirectionRule {
            axis: "model.averaging_layer".to_owned(),
            order: Order::Increasing,
        }),
        runs: RunScope::All,
    };
    let (verdict, verdict_reason) = judge(&table, &rule);
    let stats_of = |i: usize| table.rows[i].metrics[0].ours;
    ExperimentSection {
        name: "avg-layer-d2".to_owned(),
        claim: "FTPT rises with the averaging layer: 88.5 < 93.4 < 96.8".to_owned(),
        source: "the paper's Sec. 8".to_owned(),
        verdict,
        verdict_reason,
        rule,
        figures: vec![
            Figure::Trend {
                name: "ftpt-by-layer".to_owned(),
                title: "FTPT by averaging layer".to_owned(),
                x_label: "averaging layer".to_owned(),
                y_label: "FTPT (%)".to_owned(),
                x_ticks: vec!["zeroth".into(), "first".into(), "second".into()],
                ours: vec![("FTPT".to_owned(), (0..3).map(stats_of).collect())],
                runs: vec![
                    (0..3)
                        .map(|i| table.rows[i].metrics[0].values.clone())
                        .collect(),
                ],
                paper: vec![(
                    "FTPT".to_owned(),
                    vec![Some(88.51), Some(93.39), Some(96.75)],
                )],
            },
            Figure::Lines {
                name: "ftpt-by-epoch".to_owned(),
                title: "FTPT <by> epoch & run".to_owned(),
                x_label: "epoch".to_owned(),
                y_label: "FTPT (%)".to_owned(),
                series: vec![
                    Series {
                        label: "zeroth".to_owned(),
                        points: vec![(0.0, 10.0), (1.0, 60.0), (2.0, f64::NAN), (3.0, 88.0)],
                    },
                    Series {
                        label: "second".to_owned(),
                        points: vec![(0.0, 12.0), (1.0, 80.0), (2.0, 95.0), (3.0, 97.0)],
                    },
                ],
            },
            Figure::Histograms {
                name: "alpha-at-true".to_owned(),
                title: "alpha at J".to_owned(),
                edges: vec![0.0, 0.25, 0.5, 0.75, 1.0],
                series: vec![
                    ("zeroth".to_owned(), vec![300, 200, 500, 2000]),
                    ("second".to_owned(), vec![50, 50, 100, 2800]),
                ],
            },
        ],
        table,
        failures: vec![],
        notes: vec!["Quick profile: 3 runs instead of 20.".to_owned()],
        draws: vec![],
    }
}

/// A complexity grid with a failed run, hostile strings and a grid point without runs.
fn complexity() -> ExperimentSection {
    let row = |f: &str, c: &str, runs: &[f64], failed: usize, paper: Option<f64>| TableRow {
        point: vec![f.to_owned(), c.to_owned()],
        n_runs: runs.len() + failed,
        n_failed: failed,
        n_dead: 0,
        metrics: vec![cell("train.ftpt", runs, paper)],
    };
    let table = Table {
        columns: vec![
            "model.focus_hidden".to_owned(),
            "model.classify|hidden".to_owned(),
        ],
        rows: vec![
            row("100", "10", &[80.0, 84.0], 1, Some(81.9)),
            row("100", "300", &[], 2, Some(69.4)),
        ],
    };
    let rule = VerdictRule {
        metric: "train.ftpt".to_owned(),
        tolerance: 5.0,
        direction: None,
        runs: RunScope::All,
    };
    let (verdict, verdict_reason) = judge(&table, &rule);
    ExperimentSection {
        name: "complexity-type4".to_owned(),
        claim: "FTPT falls as the classifier widens | focus 100: 82 -> 69".to_owned(),
        source: "the paper's Sec. 6".to_owned(),
        verdict,
        verdict_reason,
        rule,
        table,
        figures: vec![],
        failures: vec![
            Failure {
                run: "f100-c300-seed0".to_owned(),
                error: "loss is NaN at epoch 3\n<script>alert(1)</script> ``` | x".to_owned(),
            },
            Failure {
                run: "f100-c300-seed1".to_owned(),
                error: "out of memory".to_owned(),
            },
        ],
        notes: vec![],
        draws: vec![],
    }
}

fn report() -> Report {
    Report {
        title: "sdc reproduction report".to_owned(),
        profile: "quick".to_owned(),
        generated_by: "sdc 0.1.0 (test)".to_owned(),
        experiments: vec![avg_layer(), complexity()],
    }
}

/// Every file under `dir`, relative path -> bytes.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

#[test]
fn verdicts_of_the_fixtures() {
    let r = report();
    // Three runs per grid point agree with the paper and rise in its order, but three runs
    // decide nothing either way.
    assert_eq!(r.experiments[0].verdict, Verdict::Inconclusive);
    assert!(
        r.experiments[0].verdict_reason.contains("10 runs"),
        "{}",
        r.experiments[0].verdict_reason
    );
    assert_eq!(r.experiments[1].verdict, Verdict::Incomplete);
}

#[test]
fn renders_every_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = render(&report(), dir.path()).unwrap();
    let names: Vec<String> = files(dir.path()).into_keys().collect();
    assert_eq!(
        names,
        [
            "figures/avg-layer-d2-alpha-at-true.svg",
            "figures/avg-layer-d2-ftpt-by-epoch.svg",
            "figures/avg-layer-d2-ftpt-by-layer.svg",
            "report.html",
            "report.md",
            "tables/avg-layer-d2.csv",
            "tables/avg-layer-d2.json",
            "tables/complexity-type4.csv",
            "tables/complexity-type4.json",
        ]
    );
    assert_eq!(out.markdown, dir.path().join("report.md"));
    assert_eq!(out.html, dir.path().join("report.html"));
    assert_eq!(out.figures.len(), 3);
    assert_eq!(out.tables.len(), 4);
    for f in &out.figures {
        let svg = std::fs::read_to_string(f).unwrap();
        assert!(svg.starts_with("<svg "), "{}", f.display());
        assert!(svg.trim_end().ends_with("</svg>"), "{}", f.display());
        assert_eq!(svg.matches("<text").count(), svg.matches("</text>").count());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&out.html).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o644);
    }
}

#[test]
fn markdown_content() {
    let dir = tempfile::tempdir().unwrap();
    render(&report(), dir.path()).unwrap();
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    // Summary first, with verdict words and the tally.
    let summary = md.find("## Summary").unwrap();
    assert!(summary < md.find("## avg-layer-d2").unwrap());
    assert!(
        md.contains("| [avg-layer-d2](#avg-layer-d2) | **inconclusive** |"),
        "{md}"
    );
    assert!(
        md.contains("| [complexity-type4](#complexity-type4) | **incomplete** |"),
        "{md}"
    );
    assert!(md.contains(
        "Verdicts: 0 reproduced, 0 direction reproduced, 1 inconclusive, 0 not reproduced, \
         1 incomplete (of 2)."
    ));
    assert!(md.contains("## How verdicts are decided"));
    // The verdict's tests: zeroth layer FTPT runs 87, 88, 90 -> mean 88.33, bootstrap
    // interval inside [87, 90] (never a Student-t interval past the runs).
    assert!(
        md.contains(
            "| model.averaging_layer=zeroth | 3 | 88.33 [87.00, 90.00] | 88.51 | -0.18 | \
             undecided (too few runs) | 10 |"
        ),
        "{md}"
    );
    assert!(
        md.contains("| all rows | zeroth → second | 3 → 3 | +8.50 [+7.17, +9.83] | holds (too few runs) | 10 |"),
        "{md}"
    );
    // One column per metric, the paper's number beside ours.
    assert!(
        md.contains(
            "| model.averaging_layer | runs | train.ftpt | train.ffpt | train.simplex_distance |"
        ),
        "{md}"
    );
    assert!(
        md.contains("| zeroth | 3 | 88.33 [87.00, 90.00]; paper 88.51 |"),
        "{md}"
    );
    assert!(!md.contains(" ± "), "no mean ± sd [Student t] cells: {md}");
    // Simplex distance has no paper value and small values: 3 decimals.
    assert!(md.contains("0.036 [0.031, 0.040]"), "{md}");
    // `|` in values and headers is escaped; failed runs are counted.
    assert!(md.contains(r"model.classify\|hidden"), "{md}");
    assert!(
        md.contains(r"| 100 | 10 | 3 (1 failed) | 82.00 [80.00, 84.00] (n=2); paper 81.90 |"),
        "{md}"
    );
    assert!(
        md.contains("| 100 | 300 | 2 (2 failed) | no runs; paper 69.40 |"),
        "{md}"
    );
    assert!(
        md.contains(r"falls as the classifier widens \| focus 100"),
        "{md}"
    );
    // Figures are linked, failures listed with their errors in a fence longer than any inside.
    assert!(md.contains("![FTPT by averaging layer](figures/avg-layer-d2-ftpt-by-layer.svg)"));
    assert!(md.contains("### Failures (2)"));
    assert!(
        md.contains("  ````text\n  loss is NaN at epoch 3\n"),
        "{md}"
    );
    assert!(md.contains("- Quick profile: 3 runs instead of 20."));
    assert!(
        md.contains("**Verdict: incomplete.** No successful runs of train.ftpt at"),
        "{md}"
    );
    assert!(
        md.ends_with("No failed runs.\n") || md.ends_with("```\n"),
        "{md}"
    );
}

/// The avg-layer fixture run on three dataset draws: draw 0 is its own verdict.
fn report_with_draws() -> Report {
    let mut r = report();
    let e = &mut r.experiments[0];
    let draw = |draw: usize, verdict: Verdict, reason: &str| DrawVerdict {
        draw,
        data_seed: Some(draw as u64),
        verdict,
        reason: reason.to_owned(),
        runs: 9,
        planned: 9,
    };
    e.draws = vec![
        draw(0, e.verdict, &e.verdict_reason.clone()),
        draw(1, Verdict::DirectionReproduced, "The trend holds."),
        draw(
            2,
            Verdict::Incomplete,
            "No successful runs of train.ftpt at k=0.",
        ),
    ];
    r
}

#[test]
fn dataset_draws_get_a_summary_column_and_a_line_only_when_there_are_some() {
    let dir = tempfile::tempdir().unwrap();
    render(&report_with_draws(), dir.path()).unwrap();
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(
        md.contains("| Experiment | Verdict | holds on k of N datasets | Claim | Source |"),
        "{md}"
    );
    // avg-layer-d2: draw 0 inconclusive, draw 1 holds, draw 2 incomplete; complexity has one draw.
    assert!(
        md.contains(
            "| [avg-layer-d2](#avg-layer-d2) | **inconclusive** | 1 of 3, 1 inconclusive, \
             1 incomplete |"
        ),
        "{md}"
    );
    assert!(
        md.contains("| [complexity-type4](#complexity-type4) | **incomplete** | — |"),
        "{md}"
    );
    assert!(
        md.contains(
            "**Dataset draws:** holds on 1 of 3, 1 inconclusive, 1 incomplete (draw 0: \
             inconclusive, draw 1: direction reproduced, draw 2: incomplete); 2 undecided \
             draw(s) count neither for nor against the claim. The verdict above is draw 0's, \
             the paper's dataset."
        ),
        "{md}"
    );
    assert!(
        md.contains(
            "- Draw 1 (data.seed 1, 9 of 9 runs finished): *direction reproduced*. The trend holds."
        ),
        "{md}"
    );
    assert!(md.contains("**Dataset draws** (beyond the paper"), "{md}");
    // The experiment's verdict is still draw 0's.
    assert!(md.contains("**Verdict: inconclusive.**"), "{md}");

    // Without draws: no column, no line, no rule paragraph.
    let plain = tempfile::tempdir().unwrap();
    render(&report(), plain.path()).unwrap();
    let md = std::fs::read_to_string(plain.path().join("report.md")).unwrap();
    assert!(
        md.contains("| Experiment | Verdict | Claim | Source |"),
        "{md}"
    );
    assert!(
        !md.contains("datasets") && !md.contains("Dataset draws"),
        "{md}"
    );
}

#[test]
fn report_json_with_draws_round_trips_and_old_json_still_reads() {
    let r = report_with_draws();
    let text = serde_json::to_string_pretty(&r).unwrap();
    assert!(
        text.contains(r#""verdict": "direction-reproduced""#),
        "{text}"
    );
    let back: Report = serde_json::from_str(&text).unwrap();
    // (Not `back == r`: the fixture's missing statistics are NaN, unequal to themselves.)
    assert_eq!(back.experiments[0].draws, r.experiments[0].draws);
    assert_eq!(serde_json::to_string_pretty(&back).unwrap(), text);
    // A report written before draws existed has no `draws` key: it reads with none, and a
    // report without draws writes none.
    let old = serde_json::to_string_pretty(&report()).unwrap();
    assert!(!old.contains("draws"), "{old}");
    let back: Report = serde_json::from_str(&old).unwrap();
    assert!(back.experiments.iter().all(|e| e.draws.is_empty()));
}

#[test]
fn html_is_self_contained_and_escaped() {
    let dir = tempfile::tempdir().unwrap();
    render(&report(), dir.path()).unwrap();
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert_eq!(html.matches("<svg ").count(), 3);
    assert!(!html.contains("<script"), "unescaped error text");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("FTPT &lt;by&gt; epoch &amp; run"));
    assert!(html.contains("<span class=\"verdict v-inconclusive\">inconclusive</span>"));
    assert!(
        html.contains("<td style=\"text-align: right\">88.33 [87.00, 90.00]; paper 88.51</td>")
    );
    // Rendered from the Markdown: the summary's links reach the experiments' headings.
    assert!(
        html.contains("<a href=\"#avg-layer-d2\">avg-layer-d2</a>"),
        "{html}"
    );
    assert!(
        html.contains("<h2 id=\"avg-layer-d2\">avg-layer-d2</h2>"),
        "{html}"
    );
    // No external resources: the only URL is the SVG namespace.
    for bad in ["<link", "src=", "@import", "url("] {
        assert!(!html.contains(bad), "{bad}");
    }
    let urls = html.matches("http").count();
    assert_eq!(urls, html.matches("http://www.w3.org/2000/svg").count());
    assert_eq!(
        html.matches("<table>").count(),
        html.matches("</table>").count()
    );
}

#[test]
fn tables_as_csv_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let r = report();
    render(&r, dir.path()).unwrap();
    let csv = std::fs::read_to_string(dir.path().join("tables/complexity-type4.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "model.focus_hidden,model.classify|hidden,n_runs,n_failed,train.ftpt.n,train.ftpt.mean,\
         train.ftpt.sd,train.ftpt.ci95_low,train.ftpt.ci95_high,train.ftpt.paper"
    );
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("100,10,3,1,2,82,2.8284271247461903,")
    );
    assert_eq!(lines.next().unwrap(), "100,300,2,2,0,NaN,NaN,NaN,NaN,69.4");
    let json = std::fs::read_to_string(dir.path().join("tables/avg-layer-d2.json")).unwrap();
    let back: Table = serde_json::from_str(&json).unwrap();
    assert_eq!(back, r.experiments[0].table);
    // An empty metric survives the trip as null -> NaN.
    let json = std::fs::read_to_string(dir.path().join("tables/complexity-type4.json")).unwrap();
    let back: Table = serde_json::from_str(&json).unwrap();
    assert_eq!(back.rows[1].metrics[0].ours.n, 0);
    assert!(back.rows[1].metrics[0].ours.mean.is_nan());
}

#[test]
fn rendering_is_deterministic() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    render(&report(), a.path()).unwrap();
    render(&report(), b.path()).unwrap();
    let first = files(a.path());
    assert_eq!(first, files(b.path()));
    // Rendering again over the same directory changes nothing and leaves no temp files.
    render(&report(), a.path()).unwrap();
    assert_eq!(first, files(a.path()));
}

#[test]
fn report_json_round_trip() {
    let r = report();
    let text = serde_json::to_string_pretty(&r).unwrap();
    assert!(text.contains(r#""kind": "trend""#));
    assert!(text.contains(r#""verdict": "inconclusive""#));
    let back: Report = serde_json::from_str(&text).unwrap();
    assert_eq!(serde_json::to_string_pretty(&back).unwrap(), text);
}

#[test]
fn invalid_reports_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut r = report();
    r.experiments[0].name = "../escape".to_owned();
    let e = render(&r, &out).unwrap_err();
    assert!(
        matches!(
            e,
            ReportError::BadName {
                what: "experiment",
                ..
            }
        ),
        "{e}"
    );

    let mut r = report();
    r.experiments[1].table.rows[0].point.pop();
    let e = render(&r, &out).unwrap_err();
    assert!(
        e.to_string()
            .contains("complexity-type4.csv: row 1 has 1 values for 2 columns"),
        "{e}"
    );

    let mut r = report();
    if let Figure::Histograms { edges, .. } = &mut r.experiments[0].figures[2] {
        edges.pop();
    }
    let e = render(&r, &out).unwrap_err();
    assert!(
        e.to_string().contains("avg-layer-d2-alpha-at-true.svg"),
        "{e}"
    );
    assert!(e.to_string().contains("4 counts for 4 bin edges"), "{e}");

    // `a` + figure `b-c` and `a-b` + figure `c` would share a file.
    let mut r = report();
    r.experiments[0].name = "a".to_owned();
    r.experiments[0].figures.truncate(1);
    if let Figure::Trend { name, .. } = &mut r.experiments[0].figures[0] {
        *name = "b-c".to_owned();
    }
    let mut second = r.experiments[0].clone();
    second.name = "a-b".to_owned();
    if let Figure::Trend { name, .. } = &mut second.figures[0] {
        *name = "c".to_owned();
    }
    r.experiments.push(second);
    let e = render(&r, &out).unwrap_err();
    assert!(matches!(e, ReportError::Duplicate { .. }), "{e}");

    assert!(!out.exists(), "an invalid report must not create files");
}

/// A 28x28 grey tile: a bright bar whose position and slant depend on `seed` (a stand-in digit).
fn tile(seed: usize) -> Vec<u8> {
    let mut px = vec![0u8; 28 * 28];
    for y in 4..24 {
        let x = 6 + (seed * 5 + y * (seed % 3)) % 16;
        for dx in 0..4 {
            px[y * 28 + x + dx] = 255;
        }
    }
    px
}

/// 3x3 mosaic `seed` with alpha mostly on tile `focus`; its foreground is tile 4.
fn mosaic_panel(seed: usize, focus: usize, prediction: u32) -> MosaicPanel {
    let mut alpha = vec![0.01; 9];
    alpha[focus] = 0.92;
    MosaicPanel {
        grid: 3,
        channels: 1,
        height: 28,
        width: 28,
        pixels: (0..9).flat_map(|t| tile(seed + t)).collect(),
        alpha,
        fg_index: 4,
        label: 2,
        prediction,
        caption: format!("train #{seed}"),
    }
}

/// Two focus-false panels listed first, then two focus-true ones.
fn mosaics() -> ExperimentSection {
    let mut e = complexity();
    e.name = "mnist-mosaic".to_owned();
    e.figures = vec![Figure::Mosaics {
        name: "mosaics".to_owned(),
        title: "Attention on MNIST mosaics".to_owned(),
        panels: vec![
            mosaic_panel(10, 0, 2),
            mosaic_panel(20, 8, 1),
            mosaic_panel(0, 4, 2),
            mosaic_panel(30, 4, 0),
        ],
    }];
    e
}

fn mosaic_report() -> Report {
    Report {
        experiments: vec![mosaics()],
        ..report()
    }
}

#[test]
fn mosaics_render_as_png_with_a_caption_table() {
    let dir = tempfile::tempdir().unwrap();
    let out = render(&mosaic_report(), dir.path()).unwrap();
    let png_path = dir.path().join("figures/mnist-mosaic-mosaics.png");
    assert_eq!(out.figures, vec![png_path.clone()]);
    let bytes = std::fs::read(&png_path).unwrap();
    let reader = png::Decoder::new(std::io::Cursor::new(&bytes[..]))
        .read_info()
        .unwrap();
    let info = reader.info();
    // 28-pixel tiles x3 = 84; cell 84 + 2 * 10 = 104 wide, + 8 for the bar = 112 high; a panel
    // is 3 cells + 2 gaps of 4 = 320 x 344, its slot 12 more each side = 344 x 368. Two groups
    // of two slots with 24 between; 10 above for the strips.
    assert_eq!((info.width, info.height), (4 * 344 + 24, 10 + 368));
    assert_eq!(info.color_type, png::ColorType::Rgb);

    let md = std::fs::read_to_string(&out.markdown).unwrap();
    assert!(
        md.contains("![Attention on MNIST mosaics](figures/mnist-mosaic-mosaics.png)"),
        "{md}"
    );
    assert!(md.contains("focus true (argmax α = J)"), "{md}");
    // Focus-true panels come first, then focus-false ones, each in input order.
    assert!(
        md.contains(
            "| panel | focus | mosaic | label | prediction | J | argmax | α0 | α1 | α2 | α3 | α4 |"
        ),
        "{md}"
    );
    assert!(
        md.contains(
            "| 1 | true | train #0 | 2 | 2 | 4 | 4 | 0.01 | 0.01 | 0.01 | 0.01 | 0.92 | 0.01 |"
        ),
        "{md}"
    );
    assert!(
        md.contains("| 2 | true | train #30 | 2 | 0 | 4 | 4 |"),
        "{md}"
    );
    assert!(
        md.contains("| 3 | false | train #10 | 2 | 2 | 4 | 0 | 0.92 | 0.01 |"),
        "{md}"
    );
    assert!(
        md.contains("| 4 | false | train #20 | 2 | 1 | 4 | 8 |"),
        "{md}"
    );

    // The HTML inlines the very same PNG; the only `src=` is that data URI.
    let html = std::fs::read_to_string(&out.html).unwrap();
    let prefix = "src=\"data:image/png;base64,";
    assert_eq!(html.matches("src=").count(), 1);
    let start = html.find(prefix).unwrap() + prefix.len();
    let len = html[start..].find('"').unwrap();
    use base64::Engine as _;
    let inlined = base64::engine::general_purpose::STANDARD
        .decode(&html[start..start + len])
        .unwrap();
    assert_eq!(inlined, bytes);
    assert!(
        html.contains("<td style=\"text-align: right\">0.92</td>"),
        "{html}"
    );
    assert!(html.contains("alt=\"Attention on MNIST mosaics\""));
}

#[test]
fn mosaics_are_deterministic_and_round_trip() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    render(&mosaic_report(), a.path()).unwrap();
    render(&mosaic_report(), b.path()).unwrap();
    assert_eq!(files(a.path()), files(b.path()));
    let r = mosaic_report();
    let text = serde_json::to_string(&r).unwrap();
    assert!(text.contains(r#""kind":"mosaics""#));
    // Compared as text: the fixture's empty cells hold NaN, which is not equal to itself.
    let back: Report = serde_json::from_str(&text).unwrap();
    assert!(
        serde_json::to_string(&back).unwrap() == text,
        "round trip changed the report"
    );
}

#[test]
fn where_attention_goes_changes_the_picture() {
    let picture = |focus: usize| {
        let dir = tempfile::tempdir().unwrap();
        let mut r = mosaic_report();
        if let Figure::Mosaics { panels, .. } = &mut r.experiments[0].figures[0] {
            *panels = vec![mosaic_panel(0, focus, 2)];
        }
        render(&r, dir.path()).unwrap();
        let bytes = std::fs::read(dir.path().join("figures/mnist-mosaic-mosaics.png")).unwrap();
        let mut reader = png::Decoder::new(std::io::Cursor::new(bytes))
            .read_info()
            .unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        (info.width as usize, buf)
    };
    let (width, on_j) = picture(4);
    let (_, elsewhere) = picture(0);
    let rgb = |buf: &[u8], x: usize, y: usize| {
        let at = (y * width + x) * 3;
        [buf[at], buf[at + 1], buf[at + 2]]
    };
    // Tile 4's pixels start at panel (12, 22) + cell (104 + 4, 112 + 4) + margin 10; one pixel
    // to their left lies the alpha band: nearly opaque orange at 0.92, none (the panel's grey
    // card) at 0.01.
    let (x, y) = (12 + 108 + 10 - 1, 22 + 116 + 10 + 40);
    let [r, g, b] = rgb(&on_j, x, y);
    assert!(
        r >= 250 && (127..150).contains(&g) && (14..40).contains(&b),
        "{r} {g} {b}"
    );
    assert_eq!(rgb(&elsewhere, x, y), [242, 242, 242]);
    // A focus-true panel sits under the green strip, a focus-false one under the red.
    assert_eq!(rgb(&on_j, 20, 5), [44, 160, 44]);
    assert_eq!(rgb(&elsewhere, 20, 5), [214, 39, 40]);
}

#[test]
fn bad_mosaic_panels_name_the_png() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = mosaic_report();
    if let Figure::Mosaics { panels, .. } = &mut r.experiments[0].figures[0] {
        panels[1].alpha.pop();
    }
    let e = render(&r, dir.path()).unwrap_err().to_string();
    assert!(e.contains("mnist-mosaic-mosaics.png"), "{e}");
    assert!(
        e.contains("mosaic panel 2: 8 alpha values for 9 tiles"),
        "{e}"
    );
}
