//! [`DataConfig`]: the `[data]` section of an experiment, synthetic or image mosaics.
//!
//! A section without `source` (or with `source = "synthetic"`) is a [`SyntheticConfig`]; one
//! with `source = "mnist" | "fashion-mnist" | "cifar10"` builds image mosaics ([`ImageData`]):
//! the source's files are read from the data directory and tiled by a [`MosaicConfig`] whose
//! fields sit in the same section.

use std::path::{Path, PathBuf};

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use sha2::{Digest, Sha256};

use crate::images::{self, ImageSource, MosaicConfig, Split};
use crate::{DataError, Splits, SyntheticConfig, generate, load_splits, save_splits};

/// Environment variable naming the data directory (default `data/`).
pub const DATA_DIR_ENV: &str = "SDC_DATA";
/// Folder of the data directory that caches built mosaics.
pub const MOSAIC_CACHE_DIR: &str = "mosaics";

/// Where an experiment's mosaics come from.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum DataConfig {
    /// Generated from a class-conditional distribution (the paper's Sec. 8 datasets, 4.2, 4.4).
    Synthetic(SyntheticConfig),
    /// Tiled from real images (the paper's Sec. 8 datasets).
    Images(ImageData),
}

/// Image mosaics: the image source, where its files are, and how to tile them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ImageData {
    /// The image dataset.
    pub source: ImageSource,
    /// The data directory; default `$SDC_DATA`, else `data`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// Keep built mosaics under `<data_dir>/mosaics/` and reuse them (default true).
    pub cache: bool,
    /// Grid, classes, counts and seed of the mosaics.
    #[serde(flatten)]
    pub mosaic: MosaicConfig,
}

impl<'de> Deserialize<'de> for DataConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut table = toml::Table::deserialize(deserializer)?;
        let source = match table.remove("source") {
            None => None,
            Some(toml::Value::String(s)) if s == "synthetic" => None,
            Some(toml::Value::String(s)) => Some(s.parse::<ImageSource>().map_err(|_| {
                D::Error::custom(format!(
                    "source = {s:?}: expected synthetic, mnist, fashion-mnist or cifar10"
                ))
            })?),
            Some(other) => {
                return Err(D::Error::custom(format!(
                    "source = {other}: expected a string (synthetic, mnist, fashion-mnist or cifar10)"
                )));
            }
        };
        let Some(source) = source else {
            return SyntheticConfig::deserialize(toml::Value::Table(table))
                .map(DataConfig::Synthetic)
                .map_err(D::Error::custom);
        };
        let data_dir = match table.remove("data_dir") {
            None => None,
            Some(toml::Value::String(s)) => Some(PathBuf::from(s)),
            Some(other) => {
                return Err(D::Error::custom(format!(
                    "data_dir = {other}: expected a path string"
                )));
            }
        };
        let cache = match table.remove("cache") {
            None => true,
            Some(toml::Value::Boolean(b)) => b,
            Some(other) => {
                return Err(D::Error::custom(format!(
                    "cache = {other}: expected true or false"
                )));
            }
        };
        let mosaic = MosaicConfig::deserialize(toml::Value::Table(table)).map_err(|e| {
            D::Error::custom(format!("{e} (image data: source, data_dir, cache and the mosaic fields grid, fg_classes, bg_classes, n_train, n_test, seed)"))
        })?;
        Ok(DataConfig::Images(ImageData {
            source,
            data_dir,
            cache,
            mosaic,
        }))
    }
}

impl From<SyntheticConfig> for DataConfig {
    fn from(config: SyntheticConfig) -> Self {
        DataConfig::Synthetic(config)
    }
}

/// The data directory: `explicit`, else `$SDC_DATA`, else `data`.
pub fn data_dir(explicit: Option<&Path>) -> PathBuf {
    explicit
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os(DATA_DIR_ENV).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("data"))
}

impl DataConfig {
    /// Checks what can be checked without reading images, and returns the shape of a segment
    /// and the number of labels K.
    pub fn shape_and_classes(&self) -> Result<(Vec<usize>, usize), DataError> {
        match self {
            DataConfig::Synthetic(config) => {
                let resolved = config.validate()?;
                Ok((vec![resolved.dim], resolved.n_classes))
            }
            DataConfig::Images(data) => {
                data.mosaic.validate()?;
                let (c, h, w) = data.source.shape();
                Ok((vec![c, h, w], data.mosaic.fg_classes.len()))
            }
        }
    }

    /// The seed of every random choice of the data.
    pub fn seed(&self) -> u64 {
        match self {
            DataConfig::Synthetic(config) => config.seed,
            DataConfig::Images(data) => data.mosaic.seed,
        }
    }

    /// Builds the train and test mosaics: generated, or tiled from the image files (read from
    /// the mosaic cache when it holds them).
    pub fn load(&self) -> Result<Splits, DataError> {
        match self {
            DataConfig::Synthetic(config) => generate(config),
            DataConfig::Images(data) => data.load(),
        }
    }
}

impl ImageData {
    /// The data directory this config reads.
    pub fn dir(&self) -> PathBuf {
        data_dir(self.data_dir.as_deref())
    }

    /// Where the mosaics of this config are cached: a folder named by a hash of the source and
    /// the mosaic config, so any change builds new mosaics.
    pub fn cache_dir(&self) -> PathBuf {
        let key = serde_json::json!({
            "source": self.source,
            "mosaic": self.mosaic,
            "format": crate::FORMAT_VERSION,
        });
        let digest = Sha256::digest(key.to_string().as_bytes());
        let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        self.dir()
            .join(MOSAIC_CACHE_DIR)
            .join(format!("{}-{hex}", self.source))
    }

    /// Builds (or reads from the cache) the train and test mosaics.
    pub fn load(&self) -> Result<Splits, DataError> {
        self.mosaic.validate()?;
        let cache = self.cache_dir();
        if self.cache && cache.join(crate::TEST_FILE).is_file() {
            let (splits, _) = load_splits(&cache)?;
            return Ok(splits);
        }
        let dir = self.dir();
        let train_images = images::load(self.source, &dir, Split::Train)?;
        let test_images = images::load(self.source, &dir, Split::Test)?;
        let (train, test) = images::build_mosaics(&self.mosaic, &train_images, &test_images)?;
        let splits = Splits { train, test };
        if self.cache {
            let meta = serde_json::json!({ "source": self.source, "mosaic": self.mosaic });
            save_splits(&splits, &meta, &cache)?;
        }
        Ok(splits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<DataConfig, String> {
        toml::from_str::<DataConfig>(text).map_err(|e| e.to_string())
    }

    #[test]
    fn a_section_without_source_is_synthetic() {
        let config = parse("distribution = \"blobs5d\"\nseed = 3\n").expect("synthetic");
        assert!(matches!(config, DataConfig::Synthetic(ref c) if c.seed == 3));
        let explicit = parse("source = \"synthetic\"\ndistribution = \"type4\"\n").expect("ok");
        assert!(matches!(explicit, DataConfig::Synthetic(_)));
    }

    #[test]
    fn an_image_section_reads_the_mosaic_fields() {
        let config = parse(
            "source = \"mnist\"\ndata_dir = \"/tmp/d\"\ncache = false\ngrid = 2\nfg_classes = [3, 4]\nn_train = 10\nn_test = 5\n",
        )
        .expect("images");
        let DataConfig::Images(data) = &config else {
            panic!("expected images, got {config:?}");
        };
        assert_eq!(data.source, ImageSource::Mnist);
        assert_eq!(data.dir(), PathBuf::from("/tmp/d"));
        assert!(!data.cache);
        assert_eq!(data.mosaic.grid, 2);
        assert_eq!(
            config.shape_and_classes().expect("valid"),
            (vec![1, 28, 28], 2)
        );
    }

    #[test]
    fn serialising_then_parsing_is_identity() {
        for text in [
            "distribution = \"blobs5d\"\n",
            "source = \"cifar10\"\nn_train = 7\nn_test = 0\nseed = 2\n",
        ] {
            let config = parse(text).expect("valid");
            let back = toml::to_string(&config).expect("serialises");
            assert_eq!(parse(&back).expect("reparses"), config, "{back}");
        }
    }

    #[test]
    fn errors_name_the_field() {
        let err = parse("source = \"mnst\"\n").expect_err("typo");
        assert!(
            err.contains("mnst") && err.contains("fashion-mnist"),
            "{err}"
        );
        let err = parse("source = \"mnist\"\ngird = 3\n").expect_err("typo");
        assert!(err.contains("gird"), "{err}");
        let err = parse("distribution = \"blobs5d\"\ngrid = 3\n").expect_err("mixed");
        assert!(err.contains("grid"), "{err}");
    }

    #[test]
    fn missing_images_say_where_to_put_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = DataConfig::Images(ImageData {
            source: ImageSource::Cifar10,
            data_dir: Some(dir.path().to_path_buf()),
            cache: true,
            mosaic: MosaicConfig::default(),
        });
        let err = config.load().expect_err("no files").to_string();
        assert!(err.contains("cifar-10-batches-bin"), "{err}");
    }
}
