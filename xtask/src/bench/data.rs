//! The data each model trains on, exported once per bench run to the `.sdc` files both
//! frameworks read.

use std::path::Path;

use anyhow::{Context, Result};
use sdc_data::{DataConfig, ImageSource};

use super::models::BenchModel;

/// Writes the data `model` trains on to `dir` (train.sdc, test.sdc), from its config's seed.
/// Image mosaics are tiled from the data directory ([`sdc_data::data_dir`]: `$SDC_DATA`, else
/// `data/` in the working directory, which xtask sets to the repository root), whose files are
/// verified and fetched when missing first.
pub(crate) fn export_data(model: BenchModel, dir: &Path) -> Result<()> {
    let mut config = model.base_config()?;
    if let DataConfig::Images(images) = &mut config.data {
        let data_dir = sdc_data::data_dir(None);
        ensure_images(images.source, &data_dir)?;
        images.data_dir = Some(data_dir);
    }
    let splits = config
        .data
        .load()
        .with_context(|| format!("building the {} bench data", model.name()))?;
    let meta = serde_json::to_value(&config.data)?;
    sdc_data::save_splits(&splits, &meta, dir)
        .with_context(|| format!("exporting the bench data to {}", dir.display()))
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
