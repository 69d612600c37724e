//! The grid of measurements: models, then batch sizes, then thread counts, each with its timed
//! epochs; per-model defaults unless the command line overrides them.

use super::args::{Baseline, BenchArgs, JAX_REPLICA_BATCH};
use super::models::BenchModel;

/// One (model, batch size, threads) point of the grid, with the model's timed epochs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Case {
    pub(crate) model: BenchModel,
    pub(crate) batch_size: usize,
    pub(crate) threads: usize,
    pub(crate) epochs: usize,
}

impl Case {
    /// Whether the JAX vmap row is measured here: synthetic-layer0 at [`JAX_REPLICA_BATCH`].
    pub(crate) fn has_jax_replicas(&self) -> bool {
        self.model == BenchModel::SyntheticLayer0 && self.batch_size == JAX_REPLICA_BATCH
    }
}

impl BenchArgs {
    /// Timed epochs of `model`: `--epochs`, else the model's default.
    pub(crate) fn epochs_of(&self, model: BenchModel) -> usize {
        self.epochs.unwrap_or_else(|| model.default_epochs())
    }

    /// Batch sizes of `model`: `--batch-sizes`, else the model's defaults; with `--vs jax`,
    /// synthetic-layer0 also at [`JAX_REPLICA_BATCH`], where the JAX vmap row is measured.
    pub(crate) fn batch_sizes_of(&self, model: BenchModel) -> Vec<usize> {
        let mut sizes = if self.batch_sizes.is_empty() {
            model.default_batch_sizes().to_vec()
        } else {
            self.batch_sizes.clone()
        };
        if self.vs.contains(&Baseline::Jax)
            && model == BenchModel::SyntheticLayer0
            && !sizes.contains(&JAX_REPLICA_BATCH)
        {
            sizes.push(JAX_REPLICA_BATCH);
            sizes.sort_unstable();
        }
        sizes
    }

    /// The grid: models, then batch sizes, then thread counts.
    pub(crate) fn cases(&self, models: &[BenchModel]) -> Vec<Case> {
        models
            .iter()
            .flat_map(|&model| {
                self.batch_sizes_of(model)
                    .into_iter()
                    .flat_map(move |batch_size| {
                        self.threads.iter().map(move |&threads| Case {
                            model,
                            batch_size,
                            threads,
                            epochs: self.epochs_of(model),
                        })
                    })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs_and_batch_sizes_default_per_model_and_flags_override_them() {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            args: BenchArgs,
        }
        let parse = |argv: &[&str]| {
            <Cli as clap::Parser>::try_parse_from(
                std::iter::once("bench").chain(argv.iter().copied()),
            )
            .expect("parses")
            .args
        };
        let all = [BenchModel::SyntheticLayer0, BenchModel::MnistMosaic];
        let grid = |args: &BenchArgs| -> Vec<(&str, usize, usize, usize)> {
            args.cases(&all)
                .iter()
                .map(|c| (c.model.name(), c.batch_size, c.threads, c.epochs))
                .collect()
        };
        let defaults = parse(&["--threads", "1"]);
        assert_eq!(
            grid(&defaults),
            [
                ("synthetic-layer0", 64, 1, 20),
                ("synthetic-layer0", 256, 1, 20),
                ("synthetic-layer0", 1024, 1, 20),
                ("mnist-mosaic", 64, 1, 2),
                ("mnist-mosaic", 256, 1, 2),
            ]
        );
        let given = parse(&["--threads", "2", "--epochs", "4", "--batch-sizes", "32"]);
        assert_eq!(
            grid(&given),
            [("synthetic-layer0", 32, 2, 4), ("mnist-mosaic", 32, 2, 4)]
        );
        // --vs jax adds the vmap row's batch size to synthetic-layer0 only.
        let jax = parse(&[
            "--threads",
            "1",
            "--vs",
            "pytorch,jax",
            "--batch-sizes",
            "64,1024",
        ]);
        assert_eq!(
            grid(&jax),
            [
                ("synthetic-layer0", 64, 1, 20),
                ("synthetic-layer0", 250, 1, 20),
                ("synthetic-layer0", 1024, 1, 20),
                ("mnist-mosaic", 64, 1, 2),
                ("mnist-mosaic", 1024, 1, 2),
            ]
        );
        let marked: Vec<bool> = jax.cases(&all).iter().map(Case::has_jax_replicas).collect();
        assert_eq!(marked, [false, true, false, false, false]);
        assert_eq!(jax.baselines(), [Baseline::Pytorch, Baseline::Jax]);
        let models = parse(&["--models", "mnist-mosaic,synthetic-layer1"]).models;
        assert_eq!(
            models,
            [BenchModel::MnistMosaic, BenchModel::SyntheticLayer1]
        );
    }
}
