//! Statistics over repeats and the Markdown / CSV tables of the report.

use std::fmt::Write as _;

use sdc_interp::stats::{Spread, spread};
use sdc_train::BackendKind;

use super::args::{Baseline, JAX_REPLICAS};
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

/// One line of the tables: a case, sdc on one backend, the baselines there (one model each)
/// and the JAX vmap rate where it was measured.
pub(crate) struct Row {
    case: Case,
    backend: BackendKind,
    sdc: Option<Stats>,
    /// Each baseline of `--vs` (in [`BenchArgs::baselines`] order) and its stats here; none
    /// where it does not implement the model.
    ///
    /// [`BenchArgs::baselines`]: super::args::BenchArgs::baselines
    baselines: Vec<(Baseline, Option<Stats>)>,
    /// JAX training [`JAX_REPLICAS`] models at once, summed over them.
    jax_replicas: Option<Stats>,
    /// sdc on this backend training [`JAX_REPLICAS`] seeds as one replica batch, summed.
    sdc_replicas: Option<Stats>,
}

impl Row {
    fn baseline(&self, baseline: Baseline) -> Option<Stats> {
        self.baselines
            .iter()
            .find(|(b, _)| *b == baseline)
            .and_then(|(_, s)| *s)
    }
}

/// The [`Stats`] of sdc on each backend and of the baselines at each case, in the order of
/// `cases`, then `backends`.
pub(crate) fn summarise(
    cases: &[Case],
    backends: &[BackendKind],
    baselines: &[Baseline],
    measurements: &[Measurement],
) -> Vec<Row> {
    cases
        .iter()
        .flat_map(|case| {
            let of = move |framework: &str, backend: Option<BackendKind>, replicas: usize| {
                let ms: Vec<&Measurement> = measurements
                    .iter()
                    .filter(|m| {
                        m.framework == framework
                            && m.backend.as_deref() == backend.map(BackendKind::name)
                            && m.model == case.model.name()
                            && m.batch_size == case.batch_size
                            && m.threads == case.threads
                            && m.replicas.unwrap_or(1) == replicas
                    })
                    .collect();
                Stats::of(&ms)
            };
            backends.iter().map(move |&backend| Row {
                case: *case,
                backend,
                sdc: of("sdc", Some(backend), 1),
                baselines: baselines
                    .iter()
                    .map(|&b| (b, of(b.name(), None, 1)))
                    .collect(),
                jax_replicas: of(Baseline::Jax.name(), None, JAX_REPLICAS),
                sdc_replicas: of("sdc", Some(backend), JAX_REPLICAS),
            })
        })
        .collect()
}

/// `GFLOP/s (percent of peak)` of sdc, the operations per sample coming from sdc's children
/// (the same model in both frameworks); GFLOP/s alone when `peak_gflops` is none (a GPU row:
/// the peak is one CPU core's).
fn limit(stats: Option<Stats>, flops_of: Option<Stats>, peak_gflops: Option<f64>) -> String {
    let per_sample = flops_of.and_then(|s| s.flops_per_sample);
    match (stats, per_sample, peak_gflops) {
        (Some(s), Some(f), Some(peak)) => {
            let g = f * s.median / 1e9;
            format!("{g:.2} ({:.1}%)", 100.0 * g / peak)
        }
        (Some(s), Some(f), None) => {
            let g = f * s.median / 1e9;
            if g < 10.0 {
                format!("{g:.2} (GPU)")
            } else {
                format!("{g:.0} (GPU)")
            }
        }
        _ => "–".into(),
    }
}

/// The Markdown table of `rows`, with each baseline's columns and sdc's ratio to it; the limit
/// columns compare each CPU rate with `peak_gflops`, one core's matrix-product peak (sdc on
/// wgpu, and PyTorch when `torch_on_gpu`, ran on the GPU).
pub(crate) fn markdown_table(
    rows: &[Row],
    baselines: &[Baseline],
    peak_gflops: f64,
    torch_on_gpu: bool,
) -> String {
    let mut out =
        String::from("| model | batch | threads | sdc backend | sdc samples/s median (min–max) |");
    for b in baselines {
        let t = b.title();
        let _ = write!(out, " {t} samples/s median (min–max) | sdc / {t} |");
    }
    out.push_str(" limit: sdc GFLOP/s (% of peak) |");
    for b in baselines {
        let _ = write!(out, " limit: {} GFLOP/s (% of peak) |", b.title());
    }
    out.push_str(" sdc peak RSS MiB |");
    for b in baselines {
        let _ = write!(out, " {} peak RSS MiB |", b.title());
    }
    out.push_str("\n|---|---:|---:|---|---:|");
    out.push_str(&"---:|---:|".repeat(baselines.len()));
    out.push_str("---:|");
    out.push_str(&"---:|".repeat(2 * baselines.len() + 1));
    out.push('\n');
    for r in rows {
        let c = &r.case;
        let mut cells = vec![
            c.model.name().to_string(),
            c.batch_size.to_string(),
            c.threads.to_string(),
            r.backend.name().to_string(),
            cell(&r.sdc),
        ];
        for &b in baselines {
            let s = r.baseline(b);
            cells.push(cell(&s));
            cells.push(ratio(r.sdc, s));
        }
        let sdc_peak = (r.backend != BackendKind::Wgpu).then_some(peak_gflops);
        cells.push(limit(r.sdc, r.sdc, sdc_peak));
        for &b in baselines {
            let on_gpu = torch_on_gpu && b == Baseline::Pytorch;
            cells.push(limit(
                r.baseline(b),
                r.sdc,
                (!on_gpu).then_some(peak_gflops),
            ));
        }
        cells.push(rss(&r.sdc));
        for &b in baselines {
            cells.push(rss(&r.baseline(b)));
        }
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    out
}

/// `median (min–max)` of samples/s.
fn cell(s: &Option<Stats>) -> String {
    match s {
        Some(s) => format!("{:.0} ({:.0}–{:.0})", s.median, s.min, s.max),
        None => "–".into(),
    }
}

/// The ratio of the medians, `a / b`.
fn ratio(a: Option<Stats>, b: Option<Stats>) -> String {
    match (a, b) {
        (Some(a), Some(b)) => format!("{:.2}×", a.median / b.median),
        _ => "–".into(),
    }
}

/// Peak RSS in MiB.
fn rss(s: &Option<Stats>) -> String {
    s.map_or("–".into(), |s| format!("{:.0}", s.peak_rss_mib))
}

/// The table of the JAX vmap rows (empty when none was measured): at each case where JAX trained
/// [`JAX_REPLICAS`] models at once, that rate summed over them and per model, next to sdc on
/// each backend and JAX training one model, each compared with sdc on the first backend.
pub(crate) fn replica_table(rows: &[Row]) -> String {
    let mut out = String::new();
    for (i, r) in rows.iter().enumerate() {
        let has_rows = |r: &Row| r.jax_replicas.is_some() || r.sdc_replicas.is_some();
        if !has_rows(r) {
            continue;
        }
        // The first backend's row of this case carries the rows of every backend.
        if i > 0 && has_rows(&rows[i - 1]) && same_case(&rows[i - 1].case, &r.case) {
            continue;
        }
        if out.is_empty() {
            out.push_str("| model | batch | threads | trainer | samples/s median (min–max) | per model | vs sdc | peak RSS MiB |\n");
            out.push_str("|---|---:|---:|---|---:|---:|---:|---:|\n");
        }
        let c = &r.case;
        let same: Vec<&Row> = rows[i..]
            .iter()
            .take_while(|o| same_case(&o.case, c))
            .collect();
        let mut lines: Vec<(String, Option<Stats>, usize)> = same
            .iter()
            .map(|o| (format!("sdc {}, one model", o.backend.name()), o.sdc, 1))
            .collect();
        lines.extend(same.iter().filter(|o| o.sdc_replicas.is_some()).map(|o| {
            (
                format!("sdc {} x{JAX_REPLICAS} replicas, summed", o.backend.name()),
                o.sdc_replicas,
                JAX_REPLICAS,
            )
        }));
        if r.baseline(Baseline::Jax).is_some() || r.jax_replicas.is_some() {
            lines.push(("JAX, one model".into(), r.baseline(Baseline::Jax), 1));
            lines.push((
                format!("JAX vmap x{JAX_REPLICAS}, summed"),
                r.jax_replicas,
                JAX_REPLICAS,
            ));
        }
        for (trainer, s, models) in lines {
            let per_model = s.map_or("–".into(), |s| format!("{:.0}", s.median / models as f64));
            let _ = writeln!(
                out,
                "| {} | {} | {} | {trainer} | {} | {per_model} | {} | {} |",
                c.model.name(),
                c.batch_size,
                c.threads,
                cell(&s),
                ratio(s, r.sdc),
                rss(&s),
            );
        }
    }
    out
}

fn same_case(a: &Case, b: &Case) -> bool {
    (a.model, a.batch_size, a.threads) == (b.model, b.batch_size, b.threads)
}

/// The CSV of `rows` (empty fields where a framework has no measurement); `peak_gflops` is one
/// core's matrix-product peak, repeated on every line. The PyTorch columns come first (`ratio`
/// is sdc / PyTorch), then JAX's (one model, then [`JAX_REPLICAS`] at once, summed).
pub(crate) fn csv_table(rows: &[Row], peak_gflops: f64) -> String {
    let mut out = String::from(
        "model,batch_size,threads,backend,sdc_median,sdc_min,sdc_max,pytorch_median,pytorch_min,pytorch_max,ratio,flops_per_sample,sdc_gflops,pytorch_gflops,peak_gflops,sdc_peak_rss_mib,pytorch_peak_rss_mib,jax_median,jax_min,jax_max,jax_ratio,jax_gflops,jax_peak_rss_mib,jax_vmap20_median,jax_vmap20_min,jax_vmap20_max,jax_vmap20_peak_rss_mib,sdc_replicas20_median,sdc_replicas20_min,sdc_replicas20_max,sdc_replicas20_peak_rss_mib\n",
    );
    let num = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.1}"));
    let gflops = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.3}"));
    for r in rows {
        let (s, p, j, v, sr) = (
            r.sdc,
            r.baseline(Baseline::Pytorch),
            r.baseline(Baseline::Jax),
            r.jax_replicas,
            r.sdc_replicas,
        );
        let ratio = |b: Option<Stats>| {
            s.zip(b).map_or(String::new(), |(s, b)| {
                format!("{:.3}", s.median / b.median)
            })
        };
        let flops = s.and_then(|s| s.flops_per_sample);
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{:.3},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
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
            ratio(p),
            num(flops),
            gflops(s.and_then(|s| s.gflops())),
            gflops(p.zip(flops).map(|(p, f)| p.median * f / 1e9)),
            peak_gflops,
            num(s.map(|s| s.peak_rss_mib)),
            num(p.map(|s| s.peak_rss_mib)),
            num(j.map(|s| s.median)),
            num(j.map(|s| s.min)),
            num(j.map(|s| s.max)),
            ratio(j),
            gflops(j.zip(flops).map(|(j, f)| j.median * f / 1e9)),
            num(j.map(|s| s.peak_rss_mib)),
            num(v.map(|s| s.median)),
            num(v.map(|s| s.min)),
            num(v.map(|s| s.max)),
            num(v.map(|s| s.peak_rss_mib)),
            num(sr.map(|s| s.median)),
            num(sr.map(|s| s.min)),
            num(sr.map(|s| s.max)),
            num(sr.map(|s| s.peak_rss_mib)),
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
            replicas: None,
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
        let rows = summarise(
            &[case],
            &[BackendKind::Flex, BackendKind::Ndarray],
            &[Baseline::Pytorch],
            &ms,
        );
        // 300 samples/s of 7000 operations: 2.1 MFLOP/s, 0.21% of a 1 GFLOP/s peak.
        let table = markdown_table(&rows, &[Baseline::Pytorch], 0.001, false);
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
        assert!(replica_table(&rows).is_empty());
        let none = markdown_table(&rows, &[], 0.001, false);
        assert!(none.starts_with("| model | batch | threads | sdc backend | sdc samples/s median (min–max) | limit: sdc GFLOP/s (% of peak) | sdc peak RSS MiB |\n|---|---:|---:|---|---:|---:|---:|\n"), "{none}");
    }

    #[test]
    fn gpu_rows_give_gflops_without_a_share_of_the_cpu_peak() {
        let case = Case {
            model: BenchModel::SyntheticLayer0,
            batch_size: 256,
            threads: 2,
            epochs: 1,
        };
        let mut wgpu = m("sdc", 3.0e6, 1024);
        wgpu.backend = Some("wgpu".into());
        let ms = [m("sdc", 300.0, 2048), m("pytorch", 6.0e6, 4096), wgpu];
        let rows = summarise(
            &[case],
            &[BackendKind::Flex, BackendKind::Wgpu],
            &[Baseline::Pytorch],
            &ms,
        );
        // PyTorch on CUDA: 6e6 samples/s of 7000 operations is 42 GFLOP/s, on the GPU; sdc on
        // wgpu 21; sdc on flex stays a share of the CPU core's peak.
        let table = markdown_table(&rows, &[Baseline::Pytorch], 0.001, true);
        assert!(
            table.contains("| flex | 300 (300–300) | 6000000 (6000000–6000000) | 0.00× | 0.00 (210.0%) | 42 (GPU) |"),
            "{table}"
        );
        assert!(
            table.contains("| wgpu | 3000000 (3000000–3000000) | 6000000 (6000000–6000000) | 0.50× | 21 (GPU) | 42 (GPU) |"),
            "{table}"
        );
    }

    #[test]
    fn jax_columns_and_the_vmap_row() {
        let case = Case {
            model: BenchModel::SyntheticLayer0,
            batch_size: 250,
            threads: 1,
            epochs: 1,
        };
        let mut vmap = [m("jax", 900.0, 2048), m("jax", 1100.0, 3072)];
        for v in &mut vmap {
            v.replicas = Some(JAX_REPLICAS);
        }
        let mut single = m("jax", 400.0, 1024);
        single.replicas = Some(1);
        let mut sdc_batch = m("sdc", 1400.0, 2048);
        sdc_batch.replicas = Some(JAX_REPLICAS);
        let mut ms = [
            m("sdc", 200.0, 1024),
            m("pytorch", 100.0, 4096),
            single,
            vmap[0].clone(),
            vmap[1].clone(),
            sdc_batch,
        ];
        for m in &mut ms {
            (m.batch_size, m.threads) = (250, 1);
        }
        let both = [Baseline::Pytorch, Baseline::Jax];
        let rows = summarise(&[case], &[BackendKind::Flex], &both, &ms);
        let table = markdown_table(&rows, &both, 1.0, false);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3, "{table}");
        assert!(lines[0].contains("| PyTorch samples/s median (min–max) | sdc / PyTorch | JAX samples/s median (min–max) | sdc / JAX | limit: sdc"), "{table}");
        assert_eq!(
            lines[1].matches('|').count(),
            lines[0].matches('|').count(),
            "{table}"
        );
        // The single-model JAX rate, not the vmap one, sits in the main table.
        assert!(
            lines[2].starts_with(
                "| synthetic-layer0 | 250 | 1 | flex | 200 (200–200) | 100 (100–100) | 2.00× | 400 (400–400) | 0.50× |"
            ),
            "{table}"
        );
        let replicas = replica_table(&rows);
        assert!(replicas.contains("| synthetic-layer0 | 250 | 1 | sdc flex, one model | 200 (200–200) | 200 | 1.00× | 1 |"), "{replicas}");
        assert!(
            replicas.contains(
                "| synthetic-layer0 | 250 | 1 | JAX, one model | 400 (400–400) | 400 | 2.00× | 1 |"
            ),
            "{replicas}"
        );
        assert!(replicas.contains("| synthetic-layer0 | 250 | 1 | JAX vmap x20, summed | 1000 (900–1100) | 50 | 5.00× | 3 |"), "{replicas}");
        // sdc's replica batch: its own row, not mixed into the single model's median.
        assert!(replicas.contains("| synthetic-layer0 | 250 | 1 | sdc flex x20 replicas, summed | 1400 (1400–1400) | 70 | 7.00× | 2 |"), "{replicas}");
        let csv = csv_table(&rows, 1.0);
        let line = csv.lines().nth(1).expect("one row");
        assert!(
            line.ends_with(
                ",400.0,400.0,400.0,0.500,0.003,1.0,1000.0,900.0,1100.0,3.0,1400.0,1400.0,1400.0,2.0"
            ),
            "{csv}"
        );
        assert_eq!(
            line.matches(',').count(),
            csv.lines().next().expect("header").matches(',').count()
        );
    }
}
