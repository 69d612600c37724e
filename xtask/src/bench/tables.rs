//! Statistics over repeats and the Markdown / CSV tables of the report.

use std::fmt::Write as _;

use sdc_interp::stats::{Spread, spread};

use super::child::Measurement;
use super::grid::Case;

/// Median, min and max of samples/s ([`sdc_interp::stats::spread`]), and the largest peak RSS,
/// of one framework at one case.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Stats {
    median: f64,
    min: f64,
    max: f64,
    peak_rss_mib: f64,
}

impl Stats {
    fn of(ms: &[&Measurement]) -> Option<Self> {
        let rates: Vec<f64> = ms.iter().map(|m| m.samples_per_second).collect();
        let Spread { median, min, max } = spread(&rates)?;
        let rss = ms.iter().map(|m| m.peak_rss_kib).max().unwrap_or(0);
        Some(Self {
            median,
            min,
            max,
            peak_rss_mib: rss as f64 / 1024.0,
        })
    }
}

/// One line of the tables: a case and each framework's numbers there.
pub(crate) struct Row {
    case: Case,
    sdc: Option<Stats>,
    pytorch: Option<Stats>,
}

/// The [`Stats`] of each framework at each case, in the order of `cases`.
pub(crate) fn summarise(cases: &[Case], measurements: &[Measurement]) -> Vec<Row> {
    cases
        .iter()
        .map(|case| {
            let of = |framework: &str| {
                let ms: Vec<&Measurement> = measurements
                    .iter()
                    .filter(|m| {
                        m.framework == framework
                            && m.model == case.model.name()
                            && m.batch_size == case.batch_size
                            && m.threads == case.threads
                    })
                    .collect();
                Stats::of(&ms)
            };
            Row {
                case: *case,
                sdc: of("sdc"),
                pytorch: of("pytorch"),
            }
        })
        .collect()
}

/// The Markdown table of `rows`, with the PyTorch columns and the ratio when `with_pytorch`.
pub(crate) fn markdown_table(rows: &[Row], with_pytorch: bool) -> String {
    let cell = |s: &Option<Stats>| match s {
        Some(s) => format!("{:.0} ({:.0}–{:.0})", s.median, s.min, s.max),
        None => "–".into(),
    };
    let rss = |s: &Option<Stats>| s.map_or("–".into(), |s| format!("{:.0}", s.peak_rss_mib));
    let mut out = String::new();
    if with_pytorch {
        out.push_str("| model | batch | threads | sdc samples/s median (min–max) | PyTorch samples/s median (min–max) | sdc / PyTorch | sdc peak RSS MiB | PyTorch peak RSS MiB |\n");
        out.push_str("|---|---:|---:|---:|---:|---:|---:|---:|\n");
    } else {
        out.push_str(
            "| model | batch | threads | sdc samples/s median (min–max) | sdc peak RSS MiB |\n",
        );
        out.push_str("|---|---:|---:|---:|---:|\n");
    }
    for r in rows {
        let c = &r.case;
        let mut cells = vec![
            c.model.name().to_string(),
            c.batch_size.to_string(),
            c.threads.to_string(),
            cell(&r.sdc),
        ];
        if with_pytorch {
            let ratio = match (r.sdc, r.pytorch) {
                (Some(a), Some(b)) => format!("{:.2}×", a.median / b.median),
                _ => "–".into(),
            };
            cells.extend([cell(&r.pytorch), ratio, rss(&r.sdc), rss(&r.pytorch)]);
        } else {
            cells.push(rss(&r.sdc));
        }
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    out
}

/// The CSV of `rows` (empty fields where a framework has no measurement).
pub(crate) fn csv_table(rows: &[Row]) -> String {
    let mut out = String::from(
        "model,batch_size,threads,sdc_median,sdc_min,sdc_max,pytorch_median,pytorch_min,pytorch_max,ratio,sdc_peak_rss_mib,pytorch_peak_rss_mib\n",
    );
    let num = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.1}"));
    for r in rows {
        let (s, p) = (r.sdc, r.pytorch);
        let ratio = s.zip(p).map(|(s, p)| s.median / p.median);
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{},{}",
            r.case.model.name(),
            r.case.batch_size,
            r.case.threads,
            num(s.map(|s| s.median)),
            num(s.map(|s| s.min)),
            num(s.map(|s| s.max)),
            num(p.map(|s| s.median)),
            num(p.map(|s| s.min)),
            num(p.map(|s| s.max)),
            ratio.map_or(String::new(), |r| format!("{r:.3}")),
            num(s.map(|s| s.peak_rss_mib)),
            num(p.map(|s| s.peak_rss_mib)),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::bench::models::BenchModel;

    fn m(framework: &str, sps: f64, rss: u64) -> Measurement {
        Measurement {
            framework: framework.into(),
            model: "synthetic-layer0".into(),
            batch_size: 256,
            threads: 2,
            epochs: 1,
            warmup_epochs: 1,
            steps: 12,
            samples: 3000,
            seconds: 3000.0 / sps,
            samples_per_second: sps,
            peak_rss_kib: rss,
            threads_seen: 1,
            final_mean_loss: 1.0,
            versions: BTreeMap::new(),
        }
    }

    #[test]
    fn stats_take_the_median_and_the_largest_rss() {
        let (a, b, c) = (
            m("sdc", 300.0, 2048),
            m("sdc", 100.0, 4096),
            m("sdc", 200.0, 1024),
        );
        let s = Stats::of(&[&a, &b, &c]).expect("three values");
        assert_eq!((s.median, s.min, s.max), (200.0, 100.0, 300.0));
        assert_eq!(s.peak_rss_mib, 4.0);
        let s = Stats::of(&[&a, &b]).expect("two values");
        assert_eq!(s.median, 200.0);
        assert!(Stats::of(&[]).is_none());
    }

    #[test]
    fn table_has_the_ratio_of_medians() {
        let case = Case {
            model: BenchModel::SyntheticLayer0,
            batch_size: 256,
            threads: 2,
            epochs: 1,
        };
        let ms = [m("sdc", 300.0, 2048), m("pytorch", 200.0, 4096)];
        let rows = summarise(&[case], &ms);
        let table = markdown_table(&rows, true);
        assert!(
            table.contains(
                "| synthetic-layer0 | 256 | 2 | 300 (300–300) | 200 (200–200) | 1.50× | 2 | 4 |"
            ),
            "{table}"
        );
        assert!(csv_table(&rows).contains(",1.500,"));
    }
}
