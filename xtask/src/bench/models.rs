//! The models benchmarked: their experiment configs, training set sizes and default grids.

use anyhow::Result;
use clap::ValueEnum;
use sdc_train::ExperimentConfig;

/// `configs/mnist-mosaic.toml`, the mnist-mosaic model's experiment (embedded, as sdc-train
/// embeds the default experiment).
const MNIST_MOSAIC_TOML: &str = include_str!("../../../configs/mnist-mosaic.toml");
/// `configs/cifar10-mosaic.toml`, the paper's CIFAR-10 CNNs (Sec. 8).
const CIFAR10_MOSAIC_TOML: &str = include_str!("../../../configs/cifar10-mosaic.toml");

/// Training mosaics of the mnist-mosaic bench: a multiple of both default batch sizes, so every
/// step is a full batch, and few enough that one sdc measurement (warm-up, timed and final
/// epochs at some 30-50 mosaics/s on one core) stays under about a minute.
pub(crate) const MNIST_MOSAIC_TRAIN: usize = 512;

/// Training mosaics of the cifar10-mosaic bench: 20 steps at the config's batch of 250, a sixth
/// of the paper's 30,000-mosaic epoch. Its CNNs take about 6 GFLOP per mosaic forward and
/// backward ([`super::flops`]), so this is a GPU measurement: on one CPU core an epoch of it
/// takes minutes.
pub(crate) const CIFAR10_MOSAIC_TRAIN: usize = 5_000;

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
    /// configs/cifar10-mosaic.toml: 3x3 mosaics of 3x32x32 tiles, the paper's six-convolution
    /// focus and classifier CNNs (32-256 and 128-512 channels), SGD; averaging the raw tiles.
    /// Measured only when named (`--models cifar10-mosaic`): it is sized for a GPU. Without the
    /// CIFAR-10 files it trains on stand-in images ([`super::data`]).
    Cifar10Mosaic,
}

impl BenchModel {
    /// The models measured when `--models` is not given (not cifar10-mosaic, a GPU model).
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
            Self::Cifar10Mosaic => "cifar10-mosaic",
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
            Self::Cifar10Mosaic => {
                "configs/cifar10-mosaic.toml: 3x3 mosaics of 3x32x32 CIFAR-10 tiles, the \
                 paper's six-convolution focus and classifier CNNs, SGD lr 0.01 momentum 0.9"
            }
        }
    }

    /// Timed epochs when `--epochs` is not given: enough steps for a stable rate, few enough
    /// for a short measurement.
    pub(crate) fn default_epochs(self) -> usize {
        match self {
            Self::SyntheticLayer0 | Self::SyntheticLayer1 => 20,
            Self::MnistMosaic => 2,
            Self::Cifar10Mosaic => 1,
        }
    }

    /// Batch sizes when `--batch-sizes` is not given (none above the training set).
    pub(crate) fn default_batch_sizes(self) -> &'static [usize] {
        match self {
            Self::SyntheticLayer0 | Self::SyntheticLayer1 => &[64, 256, 1024],
            Self::MnistMosaic => &[64, 256],
            Self::Cifar10Mosaic => &[250],
        }
    }

    /// The experiment before the bench's training settings.
    pub(crate) fn base_config(self) -> Result<ExperimentConfig> {
        let overrides: &[&str] = match self {
            Self::SyntheticLayer0 => &["model.averaging_layer=0"],
            Self::SyntheticLayer1 => &["model.averaging_layer=1"],
            // Only the data shrinks (same seed and classes); no mosaic cache under data/.
            Self::MnistMosaic | Self::Cifar10Mosaic => &["data.n_test=0", "data.cache=false"],
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
            Self::Cifar10Mosaic => {
                overrides.push(format!("data.n_train={CIFAR10_MOSAIC_TRAIN}"));
                ExperimentConfig::from_toml_str(
                    CIFAR10_MOSAIC_TOML,
                    "<embedded configs/cifar10-mosaic.toml>",
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
            Self::Cifar10Mosaic => "cifar10-mosaic",
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

    #[test]
    fn cifar10_mosaic_is_the_papers_cnn_pair_measured_only_when_named() {
        assert!(!BenchModel::ALL.contains(&BenchModel::Cifar10Mosaic));
        let c = BenchModel::Cifar10Mosaic.config(250, 1, 1).expect("valid");
        assert_eq!(c.train.batch_size, 250);
        assert_eq!(c.train.optimizer.lr(), 0.01);
        let DataConfig::Images(data) = &c.data else {
            panic!("image data: {:?}", c.data);
        };
        assert_eq!(data.source, ImageSource::Cifar10);
        assert_eq!(
            (data.mosaic.n_train, data.mosaic.n_test),
            (CIFAR10_MOSAIC_TRAIN, 0)
        );
        assert_eq!(CIFAR10_MOSAIC_TRAIN % 250, 0, "full batches only");
        // The parameters of configs/cifar10-mosaic.toml, counted by hand: the focus CNN without
        // biases (convs 864 + 18,432 + 36,864 + 73,728 + 294,912 + 589,824, BatchNorm 64 + 128 +
        // 512, dense 256-64-32-10-1: 18,762) is 1,034,090; the classifier with biases (convs
        // 3,584 + 147,584 + 295,168 + 590,080 + 1,180,160 + 2,359,808, BatchNorm 256 + 512 +
        // 1,024, dense 512-128-3: 65,664 + 387) is 4,644,227. bench/pytorch/bench.py's
        // `cifar10_mosaic` builds the same 5,678,317.
        use burn::module::Module;
        #[allow(deprecated)] // ndarray: the reference CPU backend, cheap to initialise on
        let device = burn::tensor::Device::ndarray();
        let model = c
            .model
            .init_for(&[3, 32, 32], 3, c.train.seed, &device)
            .expect("fits CIFAR tiles");
        assert_eq!(model.focus.num_params(), 1_034_090);
        assert_eq!(model.num_params(), 5_678_317);
    }
}
