//! Commands that move data and results between sdc and other tools: datasets to and from
//! NumPy, scoring any model's attention weights, weights for PyTorch.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use sdc_interp::FocusCriterion;
use sdc_train::score::{ScoreReport, ScoreSources, score};

/// File formats `sdc data export` writes.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ExportFormat {
    /// NumPy `.npz`: segments, labels, fg_index, segment_shape, n_classes, meta_json.
    Npz,
}

/// `sdc data export`.
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// The output format.
    #[arg(long, value_enum, default_value = "npz")]
    pub format: ExportFormat,
    /// A `.sdc` dataset file.
    pub file: PathBuf,
    /// Output file (default: FILE with the format's extension).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// `sdc data import`.
#[derive(Args, Debug)]
pub struct ImportArgs {
    /// An `.npz` dataset (arrays segments, labels, fg_index; see docs/python.md).
    pub file: PathBuf,
    /// Output `.sdc` file (default: FILE with extension .sdc).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// `sdc score`.
#[derive(Args, Debug)]
pub struct ScoreArgs {
    /// Attention weights [n, m]: .npz (array `alpha`), .npy, or .csv (columns alpha_0..).
    #[arg(long)]
    pub alpha: PathBuf,
    /// Predicted classes [n] (array `predictions` / column `prediction`); default: the alpha file.
    #[arg(long)]
    pub predictions: Option<PathBuf>,
    /// The dataset (.sdc or .npz) whose labels and foreground positions to score against.
    #[arg(long, conflicts_with_all = ["labels", "fg_index"])]
    pub data: Option<PathBuf>,
    /// Labels [n] (array `labels` / column `label`); default: the alpha file.
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// Foreground positions J [n] (array / column `fg_index`); default: the labels file.
    #[arg(long)]
    pub fg_index: Option<PathBuf>,
    /// Focus is true when alpha at J exceeds T (default: when argmax alpha is J).
    #[arg(long, value_name = "T")]
    pub threshold: Option<f32>,
    /// Bins of the alpha-at-true histogram.
    #[arg(long, default_value_t = sdc_train::score::ALPHA_BINS)]
    pub bins: usize,
    /// Output directory (predictions.csv, summary.json, alpha_at_true.json).
    #[arg(long, default_value = "score")]
    pub out: PathBuf,
}

/// `sdc export-weights`.
#[derive(Args, Debug)]
pub struct ExportWeightsArgs {
    /// The run directory.
    #[arg(long)]
    pub run: PathBuf,
    /// Output file (default: RUN/model.safetensors).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

fn with_extension(file: &Path, out: Option<&PathBuf>, ext: &str) -> Result<PathBuf> {
    let out = out.cloned().unwrap_or_else(|| file.with_extension(ext));
    if out == file {
        bail!(
            "{}: the output would overwrite the input; give --out",
            file.display()
        );
    }
    Ok(out)
}

/// Writes a `.sdc` dataset as `.npz`.
pub fn export(args: &ExportArgs) -> Result<()> {
    let ExportFormat::Npz = args.format;
    let out = with_extension(&args.file, args.out.as_ref(), "npz")?;
    let (dataset, meta) = sdc_data::load(&args.file)?;
    sdc_data::save_npz(&dataset, &meta, &out)?;
    println!(
        "wrote {} ({} mosaics, segments {:?})",
        out.display(),
        dataset.len(),
        [
            &[dataset.len(), dataset.n_segments()][..],
            dataset.segment_shape()
        ]
        .concat()
    );
    Ok(())
}

/// Writes an `.npz` dataset as `.sdc`.
pub fn import(args: &ImportArgs) -> Result<()> {
    let out = with_extension(&args.file, args.out.as_ref(), "sdc")?;
    let (dataset, meta) = sdc_data::load_npz(&args.file)?;
    sdc_data::save(&dataset, &meta, &out)?;
    println!(
        "wrote {} ({} mosaics, m = {}, d = {}, {} classes)",
        out.display(),
        dataset.len(),
        dataset.n_segments(),
        dataset.dim(),
        dataset.n_classes()
    );
    Ok(())
}

/// Scores any model's attention weights and predictions; the caller prints the summary.
pub fn score_outputs(args: &ScoreArgs) -> Result<ScoreReport> {
    let sources = ScoreSources {
        alpha: args.alpha.clone(),
        predictions: args.predictions.clone(),
        data: args.data.clone(),
        labels: args.labels.clone(),
        fg_index: args.fg_index.clone(),
    };
    let criterion = match args.threshold {
        Some(t) => FocusCriterion::Threshold { t },
        None => FocusCriterion::Argmax,
    };
    let inputs = sources.read()?;
    Ok(score(&inputs, criterion, args.bins, &args.out)?)
}

/// Writes a run's final model as safetensors.
pub fn export_weights(args: &ExportWeightsArgs) -> Result<()> {
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| args.run.join("model.safetensors"));
    let tensors = sdc_train::export::export_weights(&args.run, &out)
        .with_context(|| format!("exporting {}", args.run.display()))?;
    for t in &tensors {
        println!("{:<40} {:?}", t.name, t.shape);
    }
    println!("wrote {} ({} tensors)", out.display(), tensors.len());
    Ok(())
}
