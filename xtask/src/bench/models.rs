//! The models benchmarked: their experiment configs, training set sizes and default grids.

use anyhow::Result;
use clap::ValueEnum;
use sdc_train::ExperimentConfig;

/// `configs/mnist-mosaic.toml`, the mnist-mosaic model's experiment (embedded, as sdc-train
/// embeds the default experiment).
const MNIST_MOSAIC_TOML: &str = include_str!("../../../configs/mnist-mosaic.toml");

/// Training mosaics of the mnist-mosaic bench: a multiple of both default batch sizes, so every
/// step is a full batch, and few enough that one sdc measurement (warm-up, timed and final
/// epochs at some 30-50 mosaics/s on one core) stays under about a minute.
pub(crate) const MNIST_MOSAIC_TRAIN: usize = 512;

/// The models benchmarked. bench.py's `MODELS` knows each by the same name.
///
/// Extension point: a new model is a variant here (its [`BenchModel::base_config`], the data
/// it trains on under [`BenchModel::data_key`], its default epochs and batch sizes) and an
/// entry of the same name in bench.py's `MODELS`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum BenchModel {
    /// Dataset 2, Architecture 2 (focus 5-6-12-1, classifier 5-6-12-3), averaging at layer 0.
    SyntheticLayer0,
    /// The same with tanh features of focus layer 1 averaged (classifier 6-6-12-3).
    SyntheticLayer1,
    /// configs/mnist-mosaic.toml: 3x3 MNIST mosaics, focus and classifier CNNs (conv 8, conv
    /// 16 with BatchNorm, ReLU, max-pool; dense 32), averaging the raw tiles (layer 0).
    MnistMosaic,
}

impl BenchModel {
    pub(crate) const ALL: [Self; 3] = [
        Self::SyntheticLayer0,
        Self::SyntheticLayer1,
        Self::MnistMosaic,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::SyntheticLayer0 => "synthetic-layer0",
            Self::SyntheticLayer1 => "synthetic-layer1",
            Self::MnistMosaic => "mnist-mosaic",
        }
    }

    /// What the report says the model trains on.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Self::SyntheticLayer0 | Self::SyntheticLayer1 => {
                "Dataset 2 (9 segments of 5 values), MLP focus and classifier"
            }
            Self::MnistMosaic => {
                "configs/mnist-mosaic.toml: 3x3 mosaics of 28x28 MNIST tiles, focus and \
                 classifier CNNs, Adam lr 0.001"
            }
        }
    }

    /// Timed epochs when `--epochs` is not given: enough steps for a stable rate, few enough
    /// for a short measurement.
    pub(crate) fn default_epochs(self) -> usize {
        match self {
            Self::SyntheticLayer0 | Self::SyntheticLayer1 => 20,
            Self::MnistMosaic => 2,
        }
    }

    /// Batch sizes when `--batch-sizes` is not given (none above the training set).
    pub(crate) fn default_batch_sizes(self) -> &'static [usize] {
        match self {
            Self::SyntheticLayer0 | Self::SyntheticLayer1 => &[64, 256, 1024],
            Self::MnistMosaic => &[64, 256],
        }
    }

    /// The experiment before the bench's training settings.
    pub(crate) fn base_config(self) -> Result<ExperimentConfig> {
        let overrides: &[&str] = match self {
            Self::SyntheticLayer0 => &["model.averaging_layer=0"],
            Self::SyntheticLayer1 => &["model.averaging_layer=1"],
            // Only the data shrinks (same seed and classes); no mosaic cache under data/.
            Self::MnistMosaic => &["data.n_test=0", "data.cache=false"],
        };
        let mut overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
        Ok(match self {
            Self::SyntheticLayer0 | Self::SyntheticLayer1 => {
                ExperimentConfig::default_with(&overrides)?
            }
            Self::MnistMosaic => {
                overrides.push(format!("data.n_train={MNIST_MOSAIC_TRAIN}"));
                ExperimentConfig::from_toml_str(
                    MNIST_MOSAIC_TOML,
                    "<embedded configs/mnist-mosaic.toml>",
                    &overrides,
                )?
            }
        })
    }

    /// The experiment a measurement trains: `max_epochs = warmup + timed + 1`, no stop rule and
    /// evaluation only after the last (untimed) epoch, which `fit` always evaluates.
    pub(crate) fn config(
        self,
        batch_size: usize,
        warmup: usize,
        timed: usize,
    ) -> Result<ExperimentConfig> {
        let mut config = self.base_config()?;
        let t = &mut config.train;
        t.batch_size = batch_size;
        t.max_epochs = warmup + timed + 1;
        t.stop = None;
        t.eval_every = t.max_epochs;
        t.checkpoint_every = 0;
        config.validate().map_err(anyhow::Error::msg)?;
        Ok(config)
    }

    /// Folder (under the bench data directory) of the exported data this model trains on.
    pub(crate) fn data_key(self) -> &'static str {
        match self {
            Self::SyntheticLayer0 | Self::SyntheticLayer1 => "dataset2",
            Self::MnistMosaic => "mnist-mosaic",
        }
    }
}

#[cfg(test)]
mod tests {
    use sdc_data::{DataConfig, ImageSource};

    use super::*;

    #[test]
    fn bench_config_times_unevaluated_epochs() {
        let c = BenchModel::SyntheticLayer1.config(64, 1, 3).expect("valid");
        assert_eq!(c.train.max_epochs, 5);
        assert_eq!(c.train.eval_every, 5);
        assert!(c.train.stop.is_none());
        assert_eq!(c.model.averaging_layer, 1);
        assert_eq!(c.train.batch_size, 64);
    }

    #[test]
    fn mnist_mosaic_is_the_cnn_of_its_config_on_fewer_mosaics() {
        let c = BenchModel::MnistMosaic.config(64, 1, 3).expect("valid");
        assert_eq!((c.train.max_epochs, c.train.eval_every), (5, 5));
        assert_eq!(c.train.batch_size, 64);
        assert!(c.train.stop.is_none());
        assert_eq!(c.train.optimizer.lr(), 0.001);
        assert_eq!(c.model.averaging_layer, 0);
        // (channels, padding, pool) of every conv block; all 3x3 with BatchNorm.
        let (focus, classifier) = (&c.model.focus.conv, &c.model.classifier.conv);
        let blocks = focus.iter().chain(classifier);
        assert!(blocks.clone().all(|l| l.kernel == 3 && l.batch_norm));
        let blocks: Vec<_> = blocks.map(|l| (l.channels, l.padding, l.pool)).collect();
        assert_eq!(
            blocks,
            [(8, 0, 2), (16, 0, 2), (8, 1, 2), (16, 1, 2)],
            "focus, then classifier"
        );
        assert_eq!(c.model.focus.hidden, [32]);
        assert_eq!(c.model.classifier.hidden, [32]);
        let DataConfig::Images(data) = &c.data else {
            panic!("image data: {:?}", c.data);
        };
        assert_eq!(data.source, ImageSource::Mnist);
        assert_eq!(
            (data.mosaic.n_train, data.mosaic.n_test),
            (MNIST_MOSAIC_TRAIN, 0)
        );
        assert!(!data.cache, "the bench leaves data/mosaics alone");
        for &b in BenchModel::MnistMosaic.default_batch_sizes() {
            assert_eq!(MNIST_MOSAIC_TRAIN % b, 0, "full batches only");
        }
    }
}
