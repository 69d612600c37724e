//! The parent process: exports the data, runs one child per measurement (repeats outermost,
//! frameworks alternating) and writes the report.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, ensure};
use indicatif::{ProgressBar, ProgressStyle};
use sdc_train::BackendKind;

use super::args::{Baseline, BenchArgs, JAX_REPLICAS, TorchDevice};
use super::child::{Measurement, baseline_command, measure, sdc_command};
use super::data::{Provenance, export_data};
use super::environment::{load_average, notes, preamble};
use super::grid::Case;
use super::models::BenchModel;
use super::peak::measure as measure_peak;
use super::python::ensure_baseline_venv;
use super::tables::{csv_table, markdown_table, replica_table, summarise};

/// Who trains one measurement.
#[derive(Clone, Copy)]
enum Contender<'a> {
    /// sdc on this backend, training this many seeds at once (replica-batched).
    Sdc(BackendKind, usize),
    /// A baseline with this python, training this many models at once.
    Baseline(Baseline, &'a PathBuf, usize),
}

/// Who trains at `case`: sdc on each backend, each baseline that implements the model (one
/// model), and where the case has the replica rows, sdc's replica batch and JAX's vmap of
/// [`JAX_REPLICAS`] models.
fn contenders<'a>(
    case: &Case,
    backends: &[BackendKind],
    baselines: &'a [(Baseline, PathBuf)],
) -> Vec<Contender<'a>> {
    let mut order: Vec<Contender> = backends.iter().map(|&b| Contender::Sdc(b, 1)).collect();
    if case.has_jax_replicas() {
        order.extend(backends.iter().map(|&b| Contender::Sdc(b, JAX_REPLICAS)));
    }
    for (baseline, python) in baselines {
        if baseline.supports(case.model) {
            order.push(Contender::Baseline(*baseline, python, 1));
            if *baseline == Baseline::Jax && case.has_jax_replicas() {
                order.push(Contender::Baseline(*baseline, python, JAX_REPLICAS));
            }
        }
    }
    order
}

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
    let mut stand_ins = Vec::new();
    for model in &models {
        if !data_dirs.contains_key(model.data_key()) {
            let dir = bench_dir.join("data").join(model.data_key());
            let stand_in = bench_dir.join("stand-in");
            if export_data(*model, &dir, &stand_in, args.train_mosaics)? == Provenance::StandIn {
                stand_ins.push(*model);
            }
            data_dirs.insert(model.data_key(), dir);
        }
    }
    let baselines = args.baselines();
    let pythons: Vec<(Baseline, PathBuf)> = baselines
        .iter()
        .map(|&b| {
            let given = match b {
                Baseline::Pytorch => &args.python,
                Baseline::Jax => &args.jax_python,
            };
            Ok((
                b,
                given
                    .clone()
                    .map_or_else(|| ensure_baseline_venv(root, b), Ok)?,
            ))
        })
        .collect::<Result<_>>()?;
    let exe = std::env::current_exe().context("locating the xtask binary")?;

    let cases = args.cases(&models);
    let backends = args.backends();
    eprintln!("measuring the single-core matrix-product peak");
    let peak = measure_peak(&exe)?;
    let per_repeat: usize = cases
        .iter()
        .map(|c| contenders(c, &backends, &pythons).len())
        .sum();
    let bar = ProgressBar::new((per_repeat * args.repeats) as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "bench {pos}/{len} [{elapsed_precise}<{eta_precise}] {wide_bar} {msg}",
        )
        .context("progress template")?,
    );
    let mut measurements: Vec<Measurement> = Vec::new();
    // Repeats are the outer loop and the order of the contenders (sdc on each backend, the
    // baseline) rotates every time, so slow drift of the machine (thermal, other load) spreads
    // over all of them.
    for repeat in 0..args.repeats {
        for (i, case) in cases.iter().enumerate() {
            let data = &data_dirs[case.model.data_key()];
            let mut order = contenders(case, &backends, &pythons);
            let shift = (repeat + i) % order.len();
            order.rotate_left(shift);
            for contender in order {
                let (name, replicas) = match contender {
                    Contender::Sdc(_, replicas) => ("sdc", replicas),
                    Contender::Baseline(b, _, replicas) => (b.name(), replicas),
                };
                bar.set_message(format!(
                    "{} batch {} threads {} {}",
                    case.model.name(),
                    case.batch_size,
                    case.threads,
                    match contender {
                        Contender::Sdc(backend, 1) => format!("sdc {backend}"),
                        Contender::Sdc(backend, r) => format!("sdc {backend} x{r}"),
                        Contender::Baseline(b, _, 1) => b.name().into(),
                        Contender::Baseline(b, _, r) => format!("{} x{r}", b.name()),
                    }
                ));
                let command = match contender {
                    Contender::Sdc(backend, replicas) => {
                        sdc_command(&exe, case, backend, args.warmup_epochs, data, replicas)
                    }
                    Contender::Baseline(b, python, replicas) => baseline_command(
                        b,
                        python,
                        &root.join(b.dir()).join("bench.py"),
                        case,
                        args.warmup_epochs,
                        data,
                        replicas,
                        args.torch_device,
                    ),
                };
                measurements.push(measure(command, case, name, replicas)?);
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
    let rows = summarise(&cases, &backends, &baselines, &measurements);
    let torch_on_gpu = args.torch_device == TorchDevice::Cuda;
    let mut table = markdown_table(&rows, &baselines, peak.gflops, torch_on_gpu);
    let replicas = replica_table(&rows);
    if !replicas.is_empty() {
        table = format!(
            "{table}\nTraining {JAX_REPLICAS} independently initialised models at once, as a \
             sweep over seeds does: sdc's replica batch (`sdc_train::replica`, seeds \
             0..{JAX_REPLICAS}, each with its own initialisation, shuffle order and optimiser \
             state; what `reproduce` trains by default on flex) and JAX's `jax.vmap` of the \
             jitted step (seeds 0..{JAX_REPLICAS}, the same mini-batches); samples/s summed over \
             the models, next to one model in each trainer; *vs sdc*: the ratio to sdc's one \
             model on the first backend.\n\n{replicas}"
        );
    }
    println!("{table}");
    let out = root.join(&args.out);
    let load = format!("{load_before} at the start, {} at the end", load_average());
    let report = format!(
        "{}\n{table}\n{}",
        preamble(
            args,
            root,
            &models,
            &measurements,
            &load,
            peak.gflops,
            &stand_ins
        ),
        notes(&measurements, &load_before)
    );
    sdc_io::write_atomic(&out, report.as_bytes())?;
    sdc_io::write_atomic(
        &out.with_extension("csv"),
        csv_table(&rows, peak.gflops).as_bytes(),
    )?;
    println!(
        "written: {} (and .csv), raw: {}",
        out.display(),
        bench_dir.join("measurements.jsonl").display()
    );
    Ok(())
}
