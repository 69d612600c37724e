//! Statistics over repeats and the Markdown / CSV tables of the report.

use std::fmt::Write as _;

use sdc_interp::stats::{Spread, spread};
use sdc_train::BackendKind;

use super::child::Measurement;
use super::grid::Case;

/// Median, min and max of samples/s ([`sdc_interp::stats::spread`]), the largest peak RSS and
/// the operations per sample, of one framework at one case.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Stats {
    median: f64,
    min: f64,
    max: f64,
    peak_rss_mib: f64,
    flops_per_sample: Option<f64>,
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
            flops_per_sample: ms.iter().find_map(|m| m.flops_per_sample),
        })
    }

    /// Achieved 10^9 operations per second at the median rate.
    fn gflops(&self) -> Option<f64> {
        self.flops_per_sample.map(|f| f * self.median / 1e9)
    }
}

/// One line of the tables: a case, sdc on one backend and the baseline there.
pub(crate) struct Row {
    case: Case,
    backend: BackendKind,
    sdc: Option<Stats>,
    pytorch: Option<Stats>,
}

/// The [`Stats`] of sdc on each backend and of the baseline at each case, in the order of
/// `cases`, then `backends`.
pub(crate) fn summarise(
    cases: &[Case],
    backends: &[BackendKind],
    measurements: &[Measurement],
) -> Vec<Row> {
    cases
        .iter()
        .flat_map(|case| {
            let of = move |framework: &str, backend: Option<BackendKind>| {
                let ms: Vec<&Measurement> = measurements
                    .iter()
                    .filter(|m| {
                        m.framework == framework
                            && m.backend.as_deref() == backend.map(BackendKind::name)
                            && m.model == case.model.name()
                            && m.batch_size == case.batch_size
                            && m.threads == case.threads
                    })
                    .collect();
                Stats::of(&ms)
            };
            backends.iter().map(move |&backend| Row {
                case: *case,
                backend,
                sdc: of("sdc", Some(backend)),
                pytorch: of("pytorch", None),
            })
        })
        .collect()
}

/// `GFLOP/s (percent of peak)` of sdc, the operations per sample coming from sdc's children
/// (the same model in both frameworks).
fn limit(stats: Option<Stats>, flops_of: Option<Stats>, peak_gflops: f64) -> String {
    let per_sample = flops_of.and_then(|s| s.flops_per_sample);
    match (stats, per_sample) {
        (Some(s), Some(f)) => {
            let g = f * s.median / 1e9;
            format!("{g:.2} ({:.1}%)", 100.0 * g / peak_gflops)
        }
        _ => "–".into(),
    }
}

/// The Markdown table of `rows`, with the PyTorch columns and the ratio when `with_pytorch`;
/// the limit columns compare each rate with `peak_gflops`, one core's matrix-product peak.
pub(crate) fn markdown_table(rows: &[Row], with_pytorch: bool, peak_gflops: f64) -> String {
    let cell = |s: &Option<Stats>| match s {
        Some(s) => format!("{:.0} ({:.0}–{:.0})", s.median, s.min, s.max),
        None => "–".into(),
    };
    let rss = |s: &Option<Stats>| s.map_or("–".into(), |s| format!("{:.0}", s.peak_rss_mib));
    let mut out = String::new();
    if with_pytorch {
        out.push_str("| model | batch | threads | sdc backend | sdc samples/s median (min–max) | PyTorch samples/s median (min–max) | sdc / PyTorch | limit: sdc GFLOP/s (% of peak) | limit: PyTorch GFLOP/s (% of peak) | sdc peak RSS MiB | PyTorch peak RSS MiB |\n");
        out.push_str("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|\n");
    } else {
        out.push_str("| model | batch | threads | sdc backend | sdc samples/s median (min–max) | limit: sdc GFLOP/s (% of peak) | sdc peak RSS MiB |\n");
        out.push_str("|---|---:|---:|---|---:|---:|---:|\n");
    }
    for r in rows {
        let c = &r.case;
        let mut cells = vec![
            c.model.name().to_string(),
            c.batch_size.to_string(),
            c.threads.to_string(),
            r.backend.name().to_string(),
            cell(&r.sdc),
        ];
        if with_pytorch {
            let ratio = match (r.sdc, r.pytorch) {
                (Some(a), Some(b)) => format!("{:.2}×", a.median / b.median),
                _ => "–".into(),
            };
            cells.extend([
                cell(&r.pytorch),
                ratio,
                limit(r.sdc, r.sdc, peak_gflops),
                limit(r.pytorch, r.sdc, peak_gflops),
                rss(&r.sdc),
                rss(&r.pytorch),
            ]);
        } else {
            cells.extend([limit(r.sdc, r.sdc, peak_gflops), rss(&r.sdc)]);
        }
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    out
}

/// The CSV of `rows` (empty fields where a framework has no measurement); `peak_gflops` is one
/// core's matrix-product peak, repeated on every line.
pub(crate) fn csv_table(rows: &[Row], peak_gflops: f64) -> String {
    let mut out = String::from(
        "model,batch_size,threads,backend,sdc_median,sdc_min,sdc_max,pytorch_median,pytorch_min,pytorch_max,ratio,flops_per_sample,sdc_gflops,pytorch_gflops,peak_gflops,sdc_peak_rss_mib,pytorch_peak_rss_mib\n",
    );
    let num = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.1}"));
    let gflops = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.3}"));
    for r in rows {
        let (s, p) = (r.sdc, r.pytorch);
        let ratio = s.zip(p).map(|(s, p)| s.median / p.median);
        let flops = s.and_then(|s| s.flops_per_sample);
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{:.3},{},{}",
            r.case.model.name(),
            r.case.batch_size,
            r.case.threads,
            r.backend.name(),
            num(s.map(|s| s.median)),
            num(s.map(|s| s.min)),
            num(s.map(|s| s.max)),
            num(p.map(|s| s.median)),
            num(p.map(|s| s.min)),
            num(p.map(|s| s.max)),
            ratio.map_or(String::new(), |r| format!("{r:.3}")),
            num(flops),
            gflops(s.and_then(|s| s.gflops())),
            gflops(p.zip(flops).map(|(p, f)| p.median * f / 1e9)),
            peak_gflops,
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
            backend: (framework == "sdc").then(|| "flex".into()),
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
            flops_per_sample: (framework == "sdc").then_some(7000.0),
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
        let mut ndarray = m("sdc", 100.0, 1024);
        ndarray.backend = Some("ndarray".into());
        let ms = [m("sdc", 300.0, 2048), m("pytorch", 200.0, 4096), ndarray];
        let rows = summarise(&[case], &[BackendKind::Flex, BackendKind::Ndarray], &ms);
        // 300 samples/s of 7000 operations: 2.1 MFLOP/s, 0.21% of a 1 GFLOP/s peak.
        let table = markdown_table(&rows, true, 0.001);
        assert!(
            table.contains(
                "| synthetic-layer0 | 256 | 2 | flex | 300 (300–300) | 200 (200–200) | 1.50× | 0.00 (210.0%) | 0.00 (140.0%) | 2 | 4 |"
            ),
            "{table}"
        );
        assert!(
            table.contains(
                "| synthetic-layer0 | 256 | 2 | ndarray | 100 (100–100) | 200 (200–200) | 0.50× |"
            ),
            "{table}"
        );
        let csv = csv_table(&rows, 0.001);
        assert!(csv.contains(",flex,300.0,"), "{csv}");
        assert!(csv.contains(",1.500,7000.0,0.002,0.001,0.001,"), "{csv}");
    }
}
