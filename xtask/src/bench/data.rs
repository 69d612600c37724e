//! The data each model trains on, exported once per bench run to the `.sdc` files both
//! frameworks read.

use std::path::Path;

use anyhow::{Context, Result};
use rand::rngs::ChaCha8Rng;
use rand::{Rng, SeedableRng};
use sdc_data::images::{CIFAR_RECORD_LEN, CIFAR_TEST_FILES, CIFAR_TRAIN_FILES};
use sdc_data::{DataConfig, ImageSource};

use super::models::BenchModel;

/// Records in each stand-in CIFAR-10 batch file: 10,000 training images in all, of which about
/// 3,000 are foreground, enough for the bench's mosaics.
const STAND_IN_RECORDS: usize = 2_000;

/// Where the data of `model` came from, for the report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Provenance {
    /// Generated from the config's seed (synthetic models) or tiled from the real image files.
    Real,
    /// CIFAR-10 is in no package registry: tiles of random pixels in its format
    /// ([`write_cifar_stand_in`]). The timing is that of the real model on real-sized data;
    /// the loss means nothing.
    StandIn,
}

/// Writes the data `model` trains on to `dir` (train.sdc, test.sdc), from its config's seed.
/// Image mosaics are tiled from the data directory ([`sdc_data::data_dir`]: `$SDC_DATA`, else
/// `data/` in the working directory, which xtask sets to the repository root), whose files are
/// verified and fetched when missing first. CIFAR-10, which no registry holds, is replaced by
/// stand-in images under `stand_in_root` when its files are missing. `train_mosaics` replaces an
/// image model's number of training mosaics.
pub(crate) fn export_data(
    model: BenchModel,
    dir: &Path,
    stand_in_root: &Path,
    train_mosaics: Option<usize>,
) -> Result<Provenance> {
    let mut config = model.base_config()?;
    let mut provenance = Provenance::Real;
    if let DataConfig::Images(images) = &mut config.data {
        if let Some(n) = train_mosaics {
            anyhow::ensure!(n >= 1, "--train-mosaics must be >= 1");
            images.mosaic.n_train = n;
        }
        let mut data_dir = sdc_data::data_dir(None);
        let cifar_dir = ImageSource::Cifar10.dir(&data_dir);
        // Stand-in images only where there are no CIFAR-10 files at all: damaged or partial
        // files are the verifier's error, as for any other source.
        if images.source == ImageSource::Cifar10
            && CIFAR_TRAIN_FILES
                .iter()
                .chain(&CIFAR_TEST_FILES)
                .all(|name| !cifar_dir.join(name).exists())
        {
            eprintln!(
                "no CIFAR-10 files in {}: {} trains on stand-in images of random pixels \
                 (timing only)",
                cifar_dir.display(),
                model.name()
            );
            write_cifar_stand_in(&ImageSource::Cifar10.dir(stand_in_root))?;
            data_dir = stand_in_root.to_path_buf();
            provenance = Provenance::StandIn;
        } else {
            ensure_images(images.source, &data_dir)?;
        }
        images.data_dir = Some(data_dir);
    }
    let splits = config
        .data
        .load()
        .with_context(|| format!("building the {} bench data", model.name()))?;
    let meta = serde_json::to_value(&config.data)?;
    sdc_data::save_splits(&splits, &meta, dir)
        .with_context(|| format!("exporting the bench data to {}", dir.display()))?;
    Ok(provenance)
}

/// Writes CIFAR-10-format batch files to `dir` ([`STAND_IN_RECORDS`] records each): labels
/// cycling through the 10 classes, pixels uniform bytes from a fixed seed, so every bench run
/// trains on the same stand-in.
pub(crate) fn write_cifar_stand_in(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    for name in CIFAR_TRAIN_FILES.iter().chain(&CIFAR_TEST_FILES) {
        let mut bytes = vec![0u8; STAND_IN_RECORDS * CIFAR_RECORD_LEN];
        for (i, record) in bytes.chunks_exact_mut(CIFAR_RECORD_LEN).enumerate() {
            rng.fill_bytes(&mut record[1..]);
            record[0] = (i % 10) as u8;
        }
        sdc_io::write_atomic(&dir.join(name), &bytes)?;
    }
    Ok(())
}

/// Verifies the files of `source` in `data_dir`; when some are missing or differ, fetches them
/// as `cargo xtask fetch-data` does (the same code), or fails naming that command.
fn ensure_images(source: ImageSource, data_dir: &Path) -> Result<()> {
    let Err(missing) = sdc_data::images::verify(source, data_dir) else {
        return Ok(());
    };
    eprintln!("{missing}\nfetching {source} as `cargo xtask fetch-data {source}` does");
    sdc_data::fetch(source, data_dir).with_context(|| {
        format!(
            "the bench needs {source} in {}: run `cargo xtask fetch-data {source}` (or point \
             ${} at a data directory that has it)",
            source.dir(data_dir).display(),
            sdc_data::DATA_DIR_ENV
        )
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use sdc_data::images::{Split, read_cifar10};

    use super::*;

    #[test]
    fn the_cifar_stand_in_reads_as_cifar_and_is_the_same_every_time() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = dir.path().join("a");
        let second = dir.path().join("b");
        write_cifar_stand_in(&first).expect("written");
        write_cifar_stand_in(&second).expect("written");
        for name in CIFAR_TRAIN_FILES.iter().chain(&CIFAR_TEST_FILES) {
            let a = std::fs::read(first.join(name)).expect("read");
            assert_eq!(a, std::fs::read(second.join(name)).expect("read"), "{name}");
        }
        let train = read_cifar10(&first, Split::Train).expect("a CIFAR-10 training set");
        assert_eq!(train.n, 5 * STAND_IN_RECORDS);
        assert!(
            train
                .labels
                .iter()
                .take(20)
                .copied()
                .eq((0..20).map(|i| i % 10))
        );
        // Uniform bytes: an image uses most of the 256 values.
        let distinct: std::collections::BTreeSet<u8> =
            train.pixels[..3072].iter().copied().collect();
        assert!(
            distinct.len() > 200,
            "{} distinct pixel values",
            distinct.len()
        );
    }
}
