//! The report's mosaics figure for image experiments: a finished run's model re-run on the
//! first training mosaics, and a few of them drawn with their attention, focus true next to
//! focus false ([`Figure::Mosaics`]).

use std::path::Path;

use sdc_data::{DataConfig, SdcDataset};
use sdc_interp::{AlphaRows, Figure, MosaicPanel, argmax_first};

use sdc_train::{ExperimentConfig, TrainError, device, load_run_model, predict};

/// Training mosaics the model is run on to find examples.
const SCANNED: usize = 300;
/// Panels per group (focus true, focus false).
const PER_GROUP: usize = 3;

/// The mosaics figure of the run in `run_dir` (trained with `config`), or `None` when its data
/// are not images or no mosaic could be scored.
///
/// Picks up to [`PER_GROUP`] focus-true and focus-false mosaics among the first [`SCANNED`]
/// training mosaics, correctly predicted ones first: a focus-false mosaic predicted right is
/// the "accurate but not interpretable" case the paper is about.
pub(crate) fn mosaic_figure(
    config: &ExperimentConfig,
    run_dir: &Path,
    run_label: &str,
) -> Result<Option<Figure>, TrainError> {
    let DataConfig::Images(images) = &config.data else {
        return Ok(None);
    };
    let grid = images.mosaic.grid;
    let splits = config.data.load()?;
    let train = &splits.train;
    let &[channels, height, width] = train.segment_shape() else {
        return Err(TrainError::RunDir {
            path: run_dir.to_path_buf(),
            message: format!(
                "image tiles have shape {:?}; expected [channels, height, width]",
                train.segment_shape()
            ),
        });
    };
    if grid.checked_mul(grid) != Some(train.n_segments()) {
        return Err(TrainError::RunDir {
            path: run_dir.to_path_buf(),
            message: format!(
                "grid {grid} does not match the {} tiles of the mosaics",
                train.n_segments()
            ),
        });
    }
    let device = device(config.train.backend, config.train.precision)?;
    let model = load_run_model(config, run_dir, &device)?;
    let scanned: Vec<usize> = (0..train.len().min(SCANNED)).collect();
    let sample = train.subset(&scanned);
    let predictions = predict(
        &model,
        &config.train.objective,
        &sample,
        config.eval_batch_size(),
        &device,
    )?;
    let alpha = AlphaRows::new(&predictions.alpha, predictions.n_segments)?;
    let picked = pick(
        alpha,
        sample.fg_index(),
        sample.labels(),
        &predictions.predictions,
    );
    if picked.is_empty() {
        return Ok(None);
    }
    let panels = picked
        .into_iter()
        .map(|i| MosaicPanel {
            grid,
            channels,
            height,
            width,
            pixels: tile_bytes(&sample, i),
            alpha: alpha.row(i).iter().map(|&a| f64::from(a)).collect(),
            fg_index: sample.fg_index()[i] as usize,
            label: sample.labels()[i],
            prediction: predictions.predictions[i],
            caption: format!(
                "train #{i}, {}",
                cell(
                    argmax_first(alpha.row(i)) == sample.fg_index()[i] as usize,
                    predictions.predictions[i] == sample.labels()[i]
                )
            ),
        })
        .collect();
    Ok(Some(Figure::Mosaics {
        name: "mosaics".into(),
        title: format!("Attention on training mosaics ({run_label}): focus true left, false right"),
        panels,
    }))
}

/// FTPT, FFPT, FTPF or FFPF.
fn cell(focus_true: bool, correct: bool) -> &'static str {
    match (focus_true, correct) {
        (true, true) => "FTPT",
        (false, true) => "FFPT",
        (true, false) => "FTPF",
        (false, false) => "FFPF",
    }
}

/// Up to [`PER_GROUP`] focus-true then up to [`PER_GROUP`] focus-false sample indices; within
/// each group correct predictions first, then by index.
fn pick(alpha: AlphaRows<'_>, fg_index: &[u32], labels: &[u32], predictions: &[u32]) -> Vec<usize> {
    let mut order: Vec<(bool, bool, usize)> = (alpha.rows().enumerate())
        .map(|(i, row)| {
            let focus_true = argmax_first(row) == fg_index[i] as usize;
            (!focus_true, predictions[i] != labels[i], i)
        })
        .collect();
    order.sort_unstable();
    let group = |wrong_focus: bool| {
        (order.iter())
            .filter(move |o| o.0 == wrong_focus)
            .take(PER_GROUP)
            .map(|o| o.2)
    };
    group(false).chain(group(true)).collect()
}

/// Mosaic `i`'s tiles back as pixel bytes, inverting `x / 127.5 - 1` with rounding.
pub(crate) fn tile_bytes(dataset: &SdcDataset, i: usize) -> Vec<u8> {
    (dataset.sample_segments(i).iter())
        .map(|&v| ((v + 1.0) * 127.5).round().clamp(0.0, 255.0) as u8)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_focus_true_then_false_correct_first() {
        // 3 segments; J = 0 everywhere. Rows: focus on 0 (true) or elsewhere (false).
        let alpha = [
            0.1, 0.8, 0.1, // 0: false, wrong
            0.9, 0.1, 0.0, // 1: true, wrong
            0.2, 0.2, 0.6, // 2: false, right
            0.5, 0.5, 0.0, // 3: tie -> 0: true, right
            0.0, 1.0, 0.0, // 4: false, right
            0.7, 0.3, 0.0, // 5: true, right
            1.0, 0.0, 0.0, // 6: true, right (a fourth: left out)
            0.3, 0.3, 0.4, // 7: false, right (a fourth: left out)
        ];
        let rows = AlphaRows::new(&alpha, 3).expect("whole rows");
        let fg = [0; 8];
        let labels = [1; 8];
        let predictions = [0, 0, 1, 1, 1, 1, 1, 1];
        assert_eq!(
            pick(rows, &fg, &labels, &predictions),
            vec![3, 5, 6, 2, 4, 7]
        );
        // Fewer than three of a kind: take what there is.
        let rows = AlphaRows::new(&alpha[..6], 3).expect("whole rows");
        assert_eq!(
            pick(rows, &fg[..2], &labels[..2], &predictions[..2]),
            vec![1, 0]
        );
    }

    #[test]
    fn tile_bytes_invert_the_pixel_scaling() {
        let bytes: Vec<u8> = (0..8).map(|k| k * 36 + 3).collect();
        let segments = bytes
            .iter()
            .map(|&b| sdc_data::images::scale_pixel(b))
            .collect();
        let dataset = SdcDataset::new(4, 2, 2, segments, vec![0], vec![1]).expect("valid");
        assert_eq!(tile_bytes(&dataset, 0), bytes);
    }

    /// MNIST-format IDX files under `dir/mnist`: `n` images per split, classes cycling 0-9, each
    /// class a bright 7x7 square at its own place.
    fn write_mnist(dir: &Path, n: usize) {
        let mnist = dir.join("mnist");
        std::fs::create_dir_all(&mnist).expect("mkdir");
        for prefix in ["train", "t10k"] {
            let mut images: Vec<u8> = [0x0803u32, n as u32, 28, 28]
                .iter()
                .flat_map(|w| w.to_be_bytes())
                .collect();
            let mut labels: Vec<u8> = [0x0801u32, n as u32]
                .iter()
                .flat_map(|w| w.to_be_bytes())
                .collect();
            for i in 0..n {
                let c = i % 10;
                let (r0, c0) = ((c / 4) * 7, (c % 4) * 7);
                images.extend((0..28 * 28).map(|k| {
                    let (r, col) = (k / 28, k % 28);
                    let bright = (r0..r0 + 7).contains(&r) && (c0..c0 + 7).contains(&col);
                    if bright { 230 } else { ((k + i) % 17) as u8 }
                }));
                labels.push(c as u8);
            }
            std::fs::write(mnist.join(format!("{prefix}-images-idx3-ubyte")), images).expect("w");
            std::fs::write(mnist.join(format!("{prefix}-labels-idx1-ubyte")), labels).expect("w");
        }
    }

    #[test]
    fn a_trained_image_run_gives_a_figure_of_its_mosaics() {
        let data = tempfile::tempdir().expect("tempdir");
        write_mnist(data.path(), 100);
        let text = format!(
            r#"
name = "mosaic-figure-test"
[data]
source = "mnist"
data_dir = "{}"
n_train = 40
n_test = 10
[model.focus]
conv = [{{ channels = 2, pool = 2 }}]
hidden = [4]
[model.classifier]
conv = [{{ channels = 2, pool = 2 }}]
hidden = [4]
[train]
optimizer = {{ kind = "adam", lr = 0.003 }}
batch_size = 20
max_epochs = 1
"#,
            data.path().display()
        );
        let config = ExperimentConfig::from_toml_str(&text, "<test>", &[]).expect("valid");
        let run = tempfile::tempdir().expect("tempdir");
        sdc_train::run_experiment(&config, run.path(), &mut sdc_train::Silent).expect("trains");

        let figure = mosaic_figure(&config, run.path(), "test").expect("draws");
        let Some(Figure::Mosaics { panels, .. }) = &figure else {
            panic!("expected mosaics, got {figure:?}");
        };
        // 40 mosaics hold at least one of each group or six of one.
        assert!(
            (1..=2 * PER_GROUP).contains(&panels.len()),
            "{}",
            panels.len()
        );
        let mut seen_false = false;
        for p in panels {
            assert_eq!((p.grid, p.channels, p.height, p.width), (3, 1, 28, 28));
            assert_eq!(p.pixels.len(), 9 * 28 * 28);
            assert!((p.alpha.iter().sum::<f64>() - 1.0).abs() < 1e-4);
            // Focus-true panels come first.
            seen_false |= !p.focus_true();
            assert!(!(seen_false && p.focus_true()), "groups out of order");
        }
        // The pixels are the data's, back as bytes: the bright squares survive.
        assert!(panels[0].pixels.contains(&230));
    }

    #[test]
    fn synthetic_data_give_no_figure() {
        let config =
            ExperimentConfig::from_toml_str(sdc_train::DEFAULT_CONFIG_TOML, "<default>", &[])
                .expect("valid");
        // Nothing is read: the directory does not exist.
        let figure = mosaic_figure(&config, Path::new("/nonexistent"), "x").expect("no error");
        assert_eq!(figure, None);
    }

    #[test]
    fn cells_are_named_like_the_paper() {
        assert_eq!(cell(true, true), "FTPT");
        assert_eq!(cell(false, true), "FFPT");
        assert_eq!(cell(true, false), "FTPF");
        assert_eq!(cell(false, false), "FFPF");
    }
}
