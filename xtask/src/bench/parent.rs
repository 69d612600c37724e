//! The parent process: exports the data, runs one child per measurement (repeats outermost,
//! frameworks alternating) and writes the report.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, ensure};
use indicatif::{ProgressBar, ProgressStyle};

use super::args::{Baseline, BenchArgs};
use super::child::{Measurement, measure, pytorch_command, sdc_command};
use super::data::export_data;
use super::environment::{load_average, notes, preamble};
use super::models::BenchModel;
use super::python::ensure_venv;
use super::tables::{csv_table, markdown_table, summarise};

/// Runs the whole bench of `args`; `root` is the repository root.
pub(crate) fn parent(args: &BenchArgs, root: &Path) -> Result<()> {
    ensure!(
        args.repeats >= 1 && args.epochs != Some(0),
        "--repeats and --epochs must be >= 1"
    );
    ensure!(
        args.threads
            .iter()
            .chain(&args.batch_sizes)
            .all(|&n| n >= 1),
        "thread counts and batch sizes must be >= 1"
    );
    let models = if args.models.is_empty() {
        BenchModel::ALL.to_vec()
    } else {
        args.models.clone()
    };
    let load_before = load_average();
    let bench_dir = root.join("target").join("bench");
    let mut data_dirs = BTreeMap::new();
    for model in &models {
        if !data_dirs.contains_key(model.data_key()) {
            let dir = bench_dir.join("data").join(model.data_key());
            export_data(*model, &dir)?;
            data_dirs.insert(model.data_key(), dir);
        }
    }
    let python = match (args.vs, &args.python) {
        (None, _) => None,
        (Some(Baseline::Pytorch), Some(python)) => Some(python.clone()),
        (Some(Baseline::Pytorch), None) => Some(ensure_venv(root)?),
    };
    let script = root.join("bench").join("pytorch").join("bench.py");
    let exe = std::env::current_exe().context("locating the xtask binary")?;

    let cases = args.cases(&models);
    let per_case = if python.is_some() { 2 } else { 1 };
    let bar = ProgressBar::new((cases.len() * args.repeats * per_case) as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "bench {pos}/{len} [{elapsed_precise}<{eta_precise}] {wide_bar} {msg}",
        )
        .context("progress template")?,
    );
    let mut measurements: Vec<Measurement> = Vec::new();
    // Repeats are the outer loop and the two frameworks swap order every time, so slow drift
    // of the machine (thermal, other load) spreads over both.
    for repeat in 0..args.repeats {
        for (i, case) in cases.iter().enumerate() {
            let sdc_first = (repeat + i) % 2 == 0;
            let data = &data_dirs[case.model.data_key()];
            let mut order: Vec<Option<&PathBuf>> = vec![None];
            if let Some(python) = &python {
                order.insert(usize::from(sdc_first), Some(python));
            }
            for framework in order {
                let name = if framework.is_some() {
                    "pytorch"
                } else {
                    "sdc"
                };
                bar.set_message(format!(
                    "{} batch {} threads {} {name}",
                    case.model.name(),
                    case.batch_size,
                    case.threads
                ));
                let command = match framework {
                    None => sdc_command(&exe, case, args.warmup_epochs, data),
                    Some(python) => {
                        pytorch_command(python, &script, case, args.warmup_epochs, data)
                    }
                };
                measurements.push(measure(command, case, name)?);
                bar.inc(1);
            }
        }
    }
    bar.finish_and_clear();

    let raw: String = measurements
        .iter()
        .map(|m| serde_json::to_string(m).map(|s| s + "\n"))
        .collect::<Result<_, _>>()?;
    sdc_io::write_atomic(&bench_dir.join("measurements.jsonl"), raw.as_bytes())?;
    let rows = summarise(&cases, &measurements);
    let table = markdown_table(&rows, python.is_some());
    println!("{table}");
    let out = root.join(&args.out);
    let load = format!("{load_before} at the start, {} at the end", load_average());
    let report = format!(
        "{}\n{table}\n{}",
        preamble(args, root, &models, &measurements, &load),
        notes(&measurements, &load_before)
    );
    sdc_io::write_atomic(&out, report.as_bytes())?;
    sdc_io::write_atomic(&out.with_extension("csv"), csv_table(&rows).as_bytes())?;
    println!(
        "written: {} (and .csv), raw: {}",
        out.display(),
        bench_dir.join("measurements.jsonl").display()
    );
    Ok(())
}
