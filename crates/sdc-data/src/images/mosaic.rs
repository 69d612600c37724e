//! Mosaics of real images (the paper's Sec. 8 datasets): a `grid x grid` arrangement of tiles, one from a
//! foreground class at a uniform position J, the others from the background pool.
//!
//! Each tile becomes one segment of the [`SdcDataset`], its `[c, h, w]` pixels flattened into
//! `dim = c*h*w` values scaled to [-1, 1], so the `[n, m, d]` layout and the batcher work as
//! they are; a CNN reshapes `d` back to `[c, h, w]`.
//!
//! Train mosaics draw from ChaCha8 stream 1 of the seed and from the train images only, test
//! mosaics from stream 2 and the test images only. (The paper's CIFAR test mosaics reuse the
//! training images, the paper's Sec. 8 datasets; here the test set is held out.)

use rand::RngExt;
use rand::rngs::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::ImageSet;
use crate::generate::stream;
use crate::{DataError, SdcDataset};

/// ChaCha stream of the train mosaics.
const STREAM_TRAIN: u64 = 1;
/// ChaCha stream of the test mosaics.
const STREAM_TEST: u64 = 2;

/// How to build image mosaics, as written in a config file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MosaicConfig {
    /// Tiles per side; the mosaic has `m = grid * grid` segments (3, so m = 9, in the paper).
    #[serde(default = "default_grid")]
    pub grid: usize,
    /// Foreground classes; label y means image class `fg_classes[y]` (the paper's Sec. 8 datasets: 0, 1, 2).
    #[serde(default = "default_fg_classes")]
    pub fg_classes: Vec<u8>,
    /// Background classes; default every class of the images not in `fg_classes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bg_classes: Option<Vec<u8>>,
    /// Training mosaics (at least 1; 30000 in the paper).
    #[serde(default = "default_n_train")]
    pub n_train: usize,
    /// Test mosaics (0 allowed; 10000 in the paper).
    #[serde(default = "default_n_test")]
    pub n_test: usize,
    /// Seed of every random choice.
    #[serde(default)]
    pub seed: u64,
}

fn default_grid() -> usize {
    3
}
fn default_fg_classes() -> Vec<u8> {
    vec![0, 1, 2]
}
fn default_n_train() -> usize {
    30_000
}
fn default_n_test() -> usize {
    10_000
}

impl Default for MosaicConfig {
    /// The paper's CIFAR setting: 3x3, fg {0, 1, 2}, 30000 train and 10000 test mosaics, seed 0.
    fn default() -> Self {
        Self {
            grid: default_grid(),
            fg_classes: default_fg_classes(),
            bg_classes: None,
            n_train: default_n_train(),
            n_test: default_n_test(),
            seed: 0,
        }
    }
}

impl MosaicConfig {
    /// Segments per mosaic, `grid * grid` (None if that overflows).
    pub fn n_segments(&self) -> Option<usize> {
        self.grid.checked_mul(self.grid)
    }

    /// Checks the fields that need no images; errors name the field, the value and what is
    /// accepted.
    pub fn validate(&self) -> Result<(), DataError> {
        let m = self.n_segments().filter(|&m| m <= u32::MAX as usize);
        if self.grid == 0 || m.is_none() {
            return Err(DataError::InvalidValue {
                field: "grid",
                value: self.grid.to_string(),
                accepted: "at least 1, with grid * grid segments fitting in u32".into(),
            });
        }
        if self.n_train == 0 {
            return Err(DataError::InvalidValue {
                field: "n_train",
                value: "0".into(),
                accepted: "at least 1".into(),
            });
        }
        check_class_list("fg_classes", &self.fg_classes)?;
        if let Some(bg) = &self.bg_classes {
            check_class_list("bg_classes", bg)?;
            if let Some(&class) = bg.iter().find(|c| self.fg_classes.contains(c)) {
                return Err(DataError::OverlappingClasses {
                    class: class.into(),
                });
            }
        }
        Ok(())
    }
}

/// Refuses an empty list or a repeated class.
fn check_class_list(field: &'static str, classes: &[u8]) -> Result<(), DataError> {
    if classes.is_empty() {
        return Err(DataError::EmptyClasses { field, hint: "" });
    }
    for (i, &c) in classes.iter().enumerate() {
        if classes[..i].contains(&c) {
            return Err(DataError::DuplicateClass {
                field,
                class: c.into(),
            });
        }
    }
    Ok(())
}

/// The value a pixel byte becomes in a segment: `x / 127.5 - 1`, in [-1, 1] (the paper's Sec. 8 datasets,
/// `Normalize(0.5, 0.5)` after `ToTensor`).
pub fn scale_pixel(x: u8) -> f32 {
    f32::from(x) / 127.5 - 1.0
}

/// Builds the train mosaics from `train_images` and the test mosaics from `test_images`.
///
/// Each mosaic: a uniformly drawn image of the fg pool (label = its class's position in
/// `fg_classes`) at a uniform position J, and uniformly drawn bg-pool images in the other
/// `m - 1` tiles. Segment `dim = channels * height * width`. Same config and images give the
/// same datasets.
pub fn build_mosaics(
    config: &MosaicConfig,
    train_images: &ImageSet,
    test_images: &ImageSet,
) -> Result<(SdcDataset, SdcDataset), DataError> {
    config.validate()?;
    config.check_memory(
        train_images.channels * train_images.height * train_images.width,
        sdc_io::Budget::machine(),
    )?;
    train_images.check()?;
    test_images.check()?;
    let shape = |s: &ImageSet| (s.channels, s.height, s.width);
    if shape(train_images) != shape(test_images) {
        return Err(DataError::ImageShapeMismatch {
            what: "train and test images",
            left: train_images.shape_string(),
            right: test_images.shape_string(),
        });
    }
    let bg_classes = match &config.bg_classes {
        Some(bg) => bg.clone(),
        None => {
            let train = train_images.class_counts();
            let test = test_images.class_counts();
            (0..=u8::MAX)
                .filter(|c| {
                    !config.fg_classes.contains(c)
                        && (train[*c as usize] > 0 || test[*c as usize] > 0)
                })
                .collect()
        }
    };
    let train = Pools::new(config, &bg_classes, train_images, "train", config.n_train)?;
    let test = Pools::new(config, &bg_classes, test_images, "test", config.n_test)?;
    Ok((
        train.mosaics(
            config,
            config.n_train,
            &mut stream(config.seed, STREAM_TRAIN),
        )?,
        test.mosaics(config, config.n_test, &mut stream(config.seed, STREAM_TEST))?,
    ))
}

/// The images of one split, grouped into the fg and bg pools.
struct Pools<'a> {
    images: &'a ImageSet,
    /// Indices of images of a fg class, in image order.
    fg: Vec<usize>,
    /// Indices of images of a bg class, in image order.
    bg: Vec<usize>,
    /// Label of each image class: its position in fg_classes.
    label_of: [Option<u32>; 256],
}

impl<'a> Pools<'a> {
    /// Groups `images`; when `n` mosaics are wanted, every listed class must have an image.
    fn new(
        config: &MosaicConfig,
        bg_classes: &[u8],
        images: &'a ImageSet,
        split: &'static str,
        n: usize,
    ) -> Result<Self, DataError> {
        let counts = images.class_counts();
        let mut label_of = [None; 256];
        for (label, &c) in config.fg_classes.iter().enumerate() {
            label_of[c as usize] = Some(label as u32);
        }
        let m = config.n_segments().unwrap_or(usize::MAX);
        if n > 0 {
            let mut lists: Vec<(&'static str, &[u8])> = vec![("fg_classes", &config.fg_classes)];
            if let (true, Some(bg)) = (m > 1, &config.bg_classes) {
                lists.push(("bg_classes", bg));
            }
            for (field, classes) in lists {
                if let Some(&class) = classes.iter().find(|&&c| counts[c as usize] == 0) {
                    return Err(DataError::ClassNotInImages {
                        field,
                        class,
                        split,
                        n_images: images.n,
                        present: present_classes(&counts),
                    });
                }
            }
            if m > 1 && bg_classes.iter().all(|&c| counts[c as usize] == 0) {
                return Err(DataError::EmptyClasses {
                    field: "bg_classes",
                    hint: "; by default every class of the images not in fg_classes, and the images hold none",
                });
            }
        }
        let is_bg = |c: u8| bg_classes.contains(&c);
        let fg = (0..images.n)
            .filter(|&i| label_of[images.labels[i] as usize].is_some())
            .collect();
        let bg = (0..images.n).filter(|&i| is_bg(images.labels[i])).collect();
        Ok(Self {
            images,
            fg,
            bg,
            label_of,
        })
    }

    /// `n` mosaics drawn with `rng`.
    fn mosaics(
        &self,
        config: &MosaicConfig,
        n: usize,
        rng: &mut ChaCha8Rng,
    ) -> Result<SdcDataset, DataError> {
        let m = config.n_segments().unwrap_or(usize::MAX);
        let dim = self.images.image_len();
        let len = n
            .checked_mul(m)
            .and_then(|v| v.checked_mul(dim))
            .filter(|v| {
                v.checked_mul(size_of::<f32>())
                    .is_some_and(|b| b <= isize::MAX as usize)
            })
            .ok_or(DataError::TooLarge {
                n_samples: n,
                n_segments: m,
                dim,
            })?;
        let table: Vec<f32> = (0..=u8::MAX).map(scale_pixel).collect();
        let mut segments = Vec::with_capacity(len);
        let mut labels = Vec::with_capacity(n);
        let mut fg_index = Vec::with_capacity(n);
        for _ in 0..n {
            let fg = pick(&self.fg, rng);
            let label = self.label_of[self.images.labels[fg] as usize]
                .expect("the fg pool holds only images of fg classes");
            let j = rng.random_range(0..m);
            for slot in 0..m {
                let image = if slot == j { fg } else { pick(&self.bg, rng) };
                segments.extend(self.images.image(image).iter().map(|&x| table[x as usize]));
            }
            labels.push(label);
            fg_index.push(j as u32);
        }
        let images = self.images;
        SdcDataset::new(m, dim, config.fg_classes.len(), segments, labels, fg_index)?
            .with_segment_shape(vec![images.channels, images.height, images.width])
    }
}

/// A uniformly chosen element of a non-empty list.
fn pick(list: &[usize], rng: &mut ChaCha8Rng) -> usize {
    list[rng.random_range(0..list.len())]
}

/// The classes with at least one image, e.g. `0, 1, 2`, or `none`.
fn present_classes(counts: &[usize; 256]) -> String {
    let present: Vec<String> = (0..256)
        .filter(|&c| counts[c] > 0)
        .map(|c| c.to_string())
        .collect();
    if present.is_empty() {
        "none".into()
    } else {
        present.join(", ")
    }
}

/// Draws mosaic `i` of `dataset` back as one image of `(grid*height) x (grid*width)` pixels,
/// row-major with interleaved channels (`[grid*h, grid*w, channels]`: grey or RGB, ready for a
/// PNG); tile `t` sits at row `t / grid`, column `t % grid`.
pub fn mosaic_image(
    dataset: &SdcDataset,
    i: usize,
    grid: usize,
    channels: usize,
    height: usize,
    width: usize,
) -> Result<Vec<u8>, DataError> {
    let tile = channels
        .checked_mul(height)
        .and_then(|v| v.checked_mul(width));
    let m = grid.checked_mul(grid);
    if m != Some(dataset.n_segments()) || tile != Some(dataset.dim()) {
        return Err(DataError::ImageShapeMismatch {
            what: "mosaic drawing (segments x segment dim)",
            left: format!(
                "{} segments of {channels}x{height}x{width} (grid {grid})",
                grid.saturating_mul(grid)
            ),
            right: format!(
                "{} segments of dim {} in the dataset",
                dataset.n_segments(),
                dataset.dim()
            ),
        });
    }
    if i >= dataset.len() {
        return Err(DataError::InvalidValue {
            field: "i",
            value: i.to_string(),
            accepted: format!("a mosaic index below {}", dataset.len()),
        });
    }
    let (rows, cols) = (grid * height, grid * width);
    let mut out = vec![0u8; rows * cols * channels];
    let segments = dataset.sample_segments(i);
    for (t, seg) in segments.chunks_exact(tile.unwrap_or(1)).enumerate() {
        let (tile_row, tile_col) = (t / grid, t % grid);
        for c in 0..channels {
            for y in 0..height {
                for x in 0..width {
                    let v = seg[(c * height + y) * width + x];
                    let byte = ((v + 1.0) * 127.5).round().clamp(0.0, 255.0) as u8;
                    let (r, col) = (tile_row * height + y, tile_col * width + x);
                    out[(r * cols + col) * channels + c] = byte;
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_pixel_maps_bytes_onto_minus_one_to_one() {
        assert_eq!(scale_pixel(0), -1.0);
        assert_eq!(scale_pixel(255), 1.0);
        assert!((scale_pixel(128) - 0.003_921_569).abs() < 1e-7);
        // The inverse used by mosaic_image recovers every byte.
        for x in 0..=u8::MAX {
            let back = ((scale_pixel(x) + 1.0) * 127.5).round() as u8;
            assert_eq!(back, x);
        }
    }

    #[test]
    fn config_defaults_are_the_papers() {
        let config: MosaicConfig = toml::from_str("").expect("all fields have defaults");
        assert_eq!(config, MosaicConfig::default());
        assert_eq!(config.n_segments(), Some(9));
        assert_eq!(config.fg_classes, vec![0, 1, 2]);
        assert_eq!((config.n_train, config.n_test), (30_000, 10_000));
    }

    #[test]
    fn config_validation_names_the_field() {
        let err = |c: MosaicConfig| c.validate().expect_err("must fail").to_string();
        let base = MosaicConfig::default();
        assert!(
            err(MosaicConfig {
                grid: 0,
                ..base.clone()
            })
            .starts_with("grid: 0 is not accepted")
        );
        assert_eq!(
            err(MosaicConfig {
                n_train: 0,
                ..base.clone()
            }),
            "n_train: 0 is not accepted (at least 1)"
        );
        assert!(
            err(MosaicConfig {
                fg_classes: vec![],
                ..base.clone()
            })
            .starts_with("fg_classes: is empty")
        );
        assert_eq!(
            err(MosaicConfig {
                fg_classes: vec![1, 4, 1],
                ..base.clone()
            }),
            "fg_classes: class 1 is listed twice (each class at most once)"
        );
        assert!(
            err(MosaicConfig {
                bg_classes: Some(vec![5, 2]),
                ..base.clone()
            })
            .starts_with("fg_classes and bg_classes: both contain class 2")
        );
        let unknown = toml::from_str::<MosaicConfig>("grids = 3").expect_err("unknown field");
        assert!(
            unknown.to_string().contains("unknown field `grids`"),
            "{unknown}"
        );
    }
}
