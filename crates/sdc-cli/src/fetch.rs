//! `sdc fetch-data`: put image datasets under the data directory, SHA-256-verified.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use sdc_data::ImageSource;

use crate::absolute_path;

/// Options of `fetch-data`.
#[derive(Args, Debug)]
pub struct FetchDataArgs {
    /// Datasets: mnist, fashion-mnist, cifar10.
    #[arg(required = true, value_name = "DATASET")]
    pub datasets: Vec<ImageSource>,
    /// The data directory (default: $SDC_DATA, else data/ in the working directory).
    #[arg(long, value_parser = absolute_path)]
    pub data_dir: Option<PathBuf>,
}

/// Fetches (or verifies) each dataset in turn; prints where its files are.
pub fn run(args: &FetchDataArgs) -> Result<()> {
    let dir = sdc_data::data_dir(args.data_dir.as_deref());
    for &source in &args.datasets {
        let files = sdc_data::fetch(source, &dir)
            .with_context(|| format!("fetching {source} into {}", dir.display()))?;
        println!(
            "{source}: {} files verified in {}",
            files.len(),
            source.dir(&dir).display()
        );
    }
    Ok(())
}
