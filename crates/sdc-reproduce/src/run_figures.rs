//! The figures of one finished run (`sdc eval --figures`): training curves from its
//! `metrics.csv`, the alpha-at-true histogram and an attention gallery of one split, as a
//! Markdown and a self-contained HTML report beside the run.
//!
//! The gallery is honest about how its samples were chosen: drawn at random in proportion to
//! the split's four cells (so a model at 4% FTPT shows FTPT panels about 4% of the time), or
//! the indices the user chose, labelled as chosen.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use rand::seq::SliceRandom;
use sdc_data::{DataConfig, SdcDataset};
use sdc_interp::report::{RenderedRun, RunReport, render_run};
use sdc_interp::{AlphaRows, Figure, MosaicPanel, Series, alpha_at_true_histogram, argmax_first};
use sdc_train::{
    ExperimentConfig, METRICS_FILE, RunDir, TrainError, device, evaluate, finished_run,
    load_run_model, read_rows,
};

use crate::mosaic_figure::tile_bytes;

/// Samples in a gallery when none are chosen.
pub const DEFAULT_GALLERY: usize = 12;
/// At most this many gallery samples (one figure stays readable).
pub const MAX_GALLERY: usize = 48;

/// Which samples the gallery shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Gallery {
    /// `n` samples drawn at random (seeded) in proportion to the split's four cells.
    Sampled {
        /// How many.
        n: usize,
        /// The draw's seed.
        seed: u64,
    },
    /// Exactly these sample indices.
    Chosen(Vec<usize>),
}

/// What to draw for a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunFigures {
    /// The split the histogram and the gallery show: `train` or `test`.
    pub split: String,
    /// The gallery's samples.
    pub gallery: Gallery,
}

impl Default for RunFigures {
    fn default() -> Self {
        Self {
            split: "test".into(),
            gallery: Gallery::Sampled {
                n: DEFAULT_GALLERY,
                seed: 0,
            },
        }
    }
}

/// FTPT, FFPT, FTPF or FFPF.
fn cell(focus_true: bool, correct: bool) -> usize {
    match (focus_true, correct) {
        (true, true) => 0,
        (false, true) => 1,
        (true, false) => 2,
        (false, false) => 3,
    }
}
const CELLS: [&str; 4] = ["FTPT", "FFPT", "FTPF", "FFPF"];

/// Draws `n` of the samples whose cells are `cells`, in proportion to the cells' sizes
/// (largest remainder), at random within each cell; sorted by cell, then index.
fn proportional_sample(cells: &[usize], n: usize, seed: u64) -> Vec<usize> {
    let n = n.min(cells.len());
    let mut members: [Vec<usize>; 4] = Default::default();
    for (i, &c) in cells.iter().enumerate() {
        members[c].push(i);
    }
    let total = cells.len().max(1) as f64;
    let exact: Vec<f64> = members
        .iter()
        .map(|m| n as f64 * m.len() as f64 / total)
        .collect();
    let mut quota: Vec<usize> = exact.iter().map(|q| q.floor() as usize).collect();
    let mut by_remainder: Vec<usize> = (0..4).collect();
    by_remainder.sort_by(|&a, &b| {
        let (ra, rb) = (exact[a] - exact[a].floor(), exact[b] - exact[b].floor());
        rb.total_cmp(&ra).then(a.cmp(&b))
    });
    for &c in by_remainder
        .iter()
        .cycle()
        .take(n.saturating_sub(quota.iter().sum()))
    {
        quota[c] += 1;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut picked = Vec::with_capacity(n);
    for (c, m) in members.iter_mut().enumerate() {
        m.shuffle(&mut rng);
        let mut take: Vec<usize> = m.iter().copied().take(quota[c]).collect();
        take.sort_unstable();
        picked.extend(take);
    }
    picked
}

fn damaged(path: &Path, message: String) -> TrainError {
    TrainError::RunDir {
        path: path.to_path_buf(),
        message,
    }
}

/// Renders the figures of the finished run in `run_dir` into `out_dir` (`run-report.md`,
/// `run-report.html`, `figures/`). The run is verified against its manifest first.
pub fn render_run_figures(
    run_dir: &Path,
    out_dir: &Path,
    what: &RunFigures,
) -> Result<RenderedRun, TrainError> {
    if finished_run(run_dir, None)?.is_none() {
        return Err(damaged(run_dir, "the run has not finished".into()));
    }
    let run = RunDir::open(run_dir)?;
    let config = run
        .read_config()?
        .ok_or_else(|| damaged(run_dir, "no config.toml".into()))?;
    let curves = curves(&run.file(METRICS_FILE))?;

    let splits = config.data.load()?;
    let dataset = match what.split.as_str() {
        "train" => &splits.train,
        "test" => &splits.test,
        other => {
            return Err(damaged(
                run_dir,
                format!("split `{other}`: expected train or test"),
            ));
        }
    };
    if dataset.is_empty() {
        return Err(damaged(
            run_dir,
            format!("the {} split holds no samples", what.split),
        ));
    }
    let device = device(config.train.backend, config.train.precision)?;
    let model = load_run_model(&config, run_dir, &device)?;
    let (predictions, metrics) = evaluate(
        &model,
        &config.train.objective,
        dataset,
        config.eval_batch_size(),
        config.eval.focus,
        &device,
    )?;
    let alpha = AlphaRows::new(&predictions.alpha, predictions.n_segments)?;
    let fg = dataset.fg_index();
    let cells: Vec<usize> = alpha
        .rows()
        .enumerate()
        .map(|(i, row)| {
            cell(
                argmax_first(row) == fg[i] as usize,
                predictions.predictions[i] == dataset.labels()[i],
            )
        })
        .collect();

    let (indices, how) = match &what.gallery {
        Gallery::Sampled { n, seed } => {
            let n = (*n).min(MAX_GALLERY);
            let picked = proportional_sample(&cells, n, *seed);
            let mut counts = [0usize; 4];
            for &i in &picked {
                counts[cells[i]] += 1;
            }
            let r = &metrics.summary.rates;
            let how = format!(
                "{} samples of the {} split drawn at random (seed {seed}) in proportion to its \
                 four cells (FTPT {:.1}%, FFPT {:.1}%, FTPF {:.1}%, FFPF {:.1}%): {}.",
                picked.len(),
                what.split,
                r.ftpt,
                r.ffpt,
                r.ftpf,
                r.ffpf,
                (0..4)
                    .map(|c| format!("{} {}", counts[c], CELLS[c]))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            (picked, how)
        }
        Gallery::Chosen(indices) => {
            if indices.len() > MAX_GALLERY {
                return Err(damaged(
                    run_dir,
                    format!("{} gallery indices; at most {MAX_GALLERY}", indices.len()),
                ));
            }
            if let Some(&bad) = indices.iter().find(|&&i| i >= dataset.len()) {
                return Err(damaged(
                    run_dir,
                    format!(
                        "gallery index {bad}: the {} split has {} samples (0 to {})",
                        what.split,
                        dataset.len(),
                        dataset.len() - 1
                    ),
                ));
            }
            let how = format!(
                "{} samples of the {} split chosen by index (not a random draw: they need not \
                 represent the split).",
                indices.len(),
                what.split
            );
            (indices.clone(), how)
        }
    };

    let mut table = String::from(
        "| sample | cell | label | prediction | J | argmax alpha | alpha at J | max alpha | alpha |\n\
         |---:|---|---:|---:|---:|---:|---:|---:|---|\n",
    );
    for &i in &indices {
        let row = alpha.row(i);
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let all: Vec<String> = row.iter().map(|a| format!("{a:.2}")).collect();
        let _ = writeln!(
            table,
            "| {i} | {} | {} | {} | {} | {} | {:.3} | {:.3} | {} |",
            CELLS[cells[i]],
            dataset.labels()[i],
            predictions.predictions[i],
            fg[i],
            argmax_first(row),
            row[fg[i] as usize],
            max,
            all.join(" ")
        );
    }
    let mut extra = Vec::new();
    if let Some(figure) = mosaics(
        &config,
        dataset,
        alpha,
        &predictions.predictions,
        &indices,
        &cells,
    )? {
        extra.push(figure);
    }
    let histogram = alpha_at_true_histogram(alpha, fg, sdc_train::ALPHA_BINS)?;
    let report = RunReport {
        title: format!("Run {}", run_dir.display()),
        splits: vec![(what.split.clone(), metrics.summary.clone())],
        alpha_at_true: Some(histogram),
        curves,
        extra,
        notes: vec![
            "## Gallery".into(),
            how,
            table,
            "J is the true (foreground) segment; focus is true when argmax alpha = J (ties go to \
             the lowest index). Curves: training and test accuracy and FTPT per evaluated epoch, \
             from `metrics.csv`."
                .into(),
        ],
    };
    std::fs::create_dir_all(out_dir).map_err(|e| TrainError::io(out_dir, e))?;
    render_run(&report, out_dir).map_err(|e| damaged(out_dir, e.to_string()))
}

/// Train and test accuracy and FTPT per evaluated epoch.
fn curves(metrics: &Path) -> Result<Vec<Series>, TrainError> {
    let rows = read_rows(metrics)?;
    type Pick = fn(&sdc_train::MetricsRow) -> Option<f64>;
    let columns: [(&str, Pick); 4] = [
        ("train accuracy", |r| r.train_accuracy),
        ("train FTPT", |r| r.train_ftpt),
        ("test accuracy", |r| r.test_accuracy),
        ("test FTPT", |r| r.test_ftpt),
    ];
    Ok(columns
        .iter()
        .map(|(label, pick)| Series {
            label: (*label).into(),
            points: rows
                .iter()
                .filter_map(|r| pick(r).map(|v| (r.epoch as f64, v)))
                .collect(),
        })
        .filter(|s| !s.points.is_empty())
        .collect())
}

/// The gallery as image mosaics, for image data.
fn mosaics(
    config: &ExperimentConfig,
    dataset: &SdcDataset,
    alpha: AlphaRows<'_>,
    predictions: &[u32],
    indices: &[usize],
    cells: &[usize],
) -> Result<Option<Figure>, TrainError> {
    let DataConfig::Images(images) = &config.data else {
        return Ok(None);
    };
    let &[channels, height, width] = dataset.segment_shape() else {
        return Ok(None);
    };
    if indices.is_empty() {
        return Ok(None);
    }
    let panels = indices
        .iter()
        .map(|&i| MosaicPanel {
            grid: images.mosaic.grid,
            channels,
            height,
            width,
            pixels: tile_bytes(dataset, i),
            alpha: alpha.row(i).iter().map(|&a| f64::from(a)).collect(),
            fg_index: dataset.fg_index()[i] as usize,
            label: dataset.labels()[i],
            prediction: predictions[i],
            caption: format!("#{i}, {}", CELLS[cells[i]]),
        })
        .collect();
    Ok(Some(Figure::Mosaics {
        name: "gallery".into(),
        title: "Attention on the gallery's mosaics".into(),
        panels,
    }))
}

/// The default output directory of a run's figures.
pub fn default_figures_dir(run_dir: &Path) -> PathBuf {
    run_dir.join("eval").join("report")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gallery_is_drawn_in_proportion_to_the_cells() {
        // 100 samples: 4 FTPT, 90 FFPT, 6 FFPF.
        let cells: Vec<usize> = (0..100)
            .map(|i| match i {
                0..4 => 0,
                4..94 => 1,
                _ => 3,
            })
            .collect();
        let picked = proportional_sample(&cells, 12, 7);
        let count = |c| picked.iter().filter(|&&i| cells[i] == c).count();
        // 0.48, 10.8, 0, 0.72 -> floors 0, 10, 0, 0; two more by largest remainder: FFPF, FFPT.
        assert_eq!([count(0), count(1), count(2), count(3)], [0, 11, 0, 1]);
        assert_eq!(picked.len(), 12);
        assert_eq!(picked, proportional_sample(&cells, 12, 7), "seeded");
        assert_ne!(picked, proportional_sample(&cells, 12, 8), "by the seed");
        assert_eq!(
            proportional_sample(&cells[..3], 12, 7).len(),
            3,
            "at most all"
        );
    }
}
