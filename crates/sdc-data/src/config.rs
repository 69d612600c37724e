//! [`SyntheticConfig`]: what a synthetic SDC dataset is made of, as a user writes it (TOML), and
//! [`ResolvedSynthetic`]: the same with every default filled in and every rule checked.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::DataError;
use crate::distributions::ClassModel;

/// Which class-conditional distribution the base points come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Distribution {
    /// Dataset 1, 2-D, fg inside the convex hull of bg (the paper's Sec. 8 datasets).
    Type4,
    /// Dataset 2, 5-D elliptical blobs (the paper's Sec. 8 datasets).
    Blobs5d,
    /// Isotropic Gaussians with user-given means and std.
    Gaussian,
    /// Error mode 1, 2-D uniform boxes, fg all on one side of bg (the paper's Sec. 5 dist_1).
    Em1,
    /// Error mode 2, 2-D uniform boxes, fg on both sides of bg (the paper's Sec. 5 dist_2).
    Em2,
    /// Error mode 3, 2-D uniform boxes, 6 fg classes and a near-constant bg (the paper's Sec. 5 dist_4).
    Em3,
}

impl Distribution {
    /// Whether this is one of the error-mode box distributions (the paper's Sec. 5).
    pub fn is_error_mode(self) -> bool {
        matches!(self, Self::Em1 | Self::Em2 | Self::Em3)
    }
}

impl fmt::Display for Distribution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Distribution::Type4 => "type4",
            Distribution::Blobs5d => "blobs5d",
            Distribution::Gaussian => "gaussian",
            Distribution::Em1 => "em1",
            Distribution::Em2 => "em2",
            Distribution::Em3 => "em3",
        })
    }
}

/// How mosaics draw their segments from the base set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MosaicScheme {
    /// Uniform over the fg pool and the bg pool (Dataset 2, type4 v1; the paper's Sec. 8 datasets, 4.2).
    Pool,
    /// Label uniform, then a point of that class; bg class uniform, then a point (type4 v2).
    ClassUniform,
}

/// A synthetic dataset as written in a config file; [`SyntheticConfig::validate`] resolves it.
///
/// Deserialised through a private mirror with an optional `n_base`, so that each left-out
/// field gets its default, including the per-distribution `n_base`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(from = "SyntheticConfigFile")]
pub struct SyntheticConfig {
    /// The class-conditional distribution.
    pub distribution: Distribution,
    /// Segments per mosaic (m); 9 in the paper.
    pub n_segments: usize,
    /// Training mosaics (at least 1).
    pub n_train: usize,
    /// Test mosaics (0 allowed).
    pub n_test: usize,
    /// Size of the base point set the mosaics are drawn from. Default 5000; 1200 for em1 and
    /// em2, 2100 for em3 (the paper's Sec. 5).
    pub n_base: usize,
    /// Foreground classes; label y is `fg_classes[y]`. Default `[0, 1, 2]`; every class but the
    /// last for the error modes (required for gaussian).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fg_classes: Option<Vec<u32>>,
    /// Background classes. Default: every class not in fg_classes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bg_classes: Option<Vec<u32>>,
    /// Mosaic scheme. Default: class-uniform for type4 and the error modes, pool otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheme: Option<MosaicScheme>,
    /// Seed of every random choice.
    pub seed: u64,
    /// Class means `[n_classes][dim]`; gaussian only (required there).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub means: Option<Vec<Vec<f64>>>,
    /// Isotropic standard deviation; gaussian only (required there).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub std: Option<f64>,
}

/// [`SyntheticConfig`] as a file spells it. It exists because the default of `n_base` depends on
/// `distribution`, which a serde field default cannot see.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SyntheticConfigFile {
    distribution: Distribution,
    #[serde(default = "default_n_segments")]
    n_segments: usize,
    #[serde(default = "default_n_mosaics")]
    n_train: usize,
    #[serde(default = "default_n_mosaics")]
    n_test: usize,
    #[serde(default)]
    n_base: Option<usize>,
    #[serde(default)]
    fg_classes: Option<Vec<u32>>,
    #[serde(default)]
    bg_classes: Option<Vec<u32>>,
    #[serde(default)]
    scheme: Option<MosaicScheme>,
    #[serde(default)]
    seed: u64,
    #[serde(default)]
    means: Option<Vec<Vec<f64>>>,
    #[serde(default)]
    std: Option<f64>,
}

impl From<SyntheticConfigFile> for SyntheticConfig {
    fn from(file: SyntheticConfigFile) -> Self {
        Self {
            distribution: file.distribution,
            n_segments: file.n_segments,
            n_train: file.n_train,
            n_test: file.n_test,
            n_base: file
                .n_base
                .unwrap_or_else(|| default_n_base(file.distribution)),
            fg_classes: file.fg_classes,
            bg_classes: file.bg_classes,
            scheme: file.scheme,
            seed: file.seed,
            means: file.means,
            std: file.std,
        }
    }
}

/// Largest accepted |mean| and std: points are stored as f32 (max 3.4e38), so a draw must not
/// overflow it.
const MAX_MAGNITUDE: f64 = 1e30;

fn default_n_segments() -> usize {
    9
}
fn default_n_mosaics() -> usize {
    3000
}
fn default_n_base(distribution: Distribution) -> usize {
    match distribution {
        // the paper's Sec. 5: dist_1 and dist_2 draw 1200 points, dist_4 2100.
        Distribution::Em1 | Distribution::Em2 => 1200,
        Distribution::Em3 => 2100,
        Distribution::Type4 | Distribution::Blobs5d | Distribution::Gaussian => 5000,
    }
}

/// A validated [`SyntheticConfig`] with every default filled in.
#[derive(Clone, Debug, PartialEq)]
pub struct ResolvedSynthetic {
    /// The distribution's name, for messages.
    pub distribution: Distribution,
    /// The class-conditional sampler.
    pub model: ClassModel,
    /// The mosaic scheme.
    pub scheme: MosaicScheme,
    /// Segments per mosaic (m).
    pub n_segments: usize,
    /// Dimension of a segment (d).
    pub dim: usize,
    /// Number of labels K = `fg_classes.len()`.
    pub n_classes: usize,
    /// Number of base classes of the distribution.
    pub n_base_classes: usize,
    /// Training mosaics.
    pub n_train: usize,
    /// Test mosaics.
    pub n_test: usize,
    /// Size of the base set.
    pub n_base: usize,
    /// Foreground classes; label y means base class `fg_classes[y]`.
    pub fg_classes: Vec<u32>,
    /// Background classes.
    pub bg_classes: Vec<u32>,
    /// Seed of every random choice.
    pub seed: u64,
}

impl SyntheticConfig {
    /// A config with the defaults of a config file that names only `distribution`.
    pub fn new(distribution: Distribution) -> Self {
        Self {
            distribution,
            n_segments: default_n_segments(),
            n_train: default_n_mosaics(),
            n_test: default_n_mosaics(),
            n_base: default_n_base(distribution),
            fg_classes: None,
            bg_classes: None,
            scheme: None,
            seed: 0,
            means: None,
            std: None,
        }
    }

    /// Dimension of a segment; `None` for a gaussian config without means.
    pub fn dim(&self) -> Option<usize> {
        match self.distribution {
            Distribution::Type4 | Distribution::Em1 | Distribution::Em2 | Distribution::Em3 => {
                Some(2)
            }
            Distribution::Blobs5d => Some(5),
            Distribution::Gaussian => self.means.as_ref()?.first().map(Vec::len),
        }
    }

    /// Checks every rule and fills in the defaults; errors name the field, the value and what is
    /// accepted.
    pub fn validate(&self) -> Result<ResolvedSynthetic, DataError> {
        let name = self.distribution.to_string();
        let model = self.class_model()?;
        let n_base_classes = model.n_classes();
        let dim = model.dim();

        let at_least_one = |field, value: usize| {
            if value == 0 {
                Err(DataError::InvalidValue {
                    field,
                    value: "0".into(),
                    accepted: "at least 1".into(),
                })
            } else {
                Ok(())
            }
        };
        at_least_one("n_segments", self.n_segments)?;
        at_least_one("n_train", self.n_train)?;
        if self.n_base < n_base_classes {
            return Err(DataError::InvalidValue {
                field: "n_base",
                value: self.n_base.to_string(),
                accepted: format!("at least {n_base_classes}, one point per class of {name}"),
            });
        }
        for (field, n) in [("n_train", self.n_train), ("n_test", self.n_test)] {
            let fits = n
                .checked_mul(self.n_segments)
                .and_then(|v| v.checked_mul(dim))
                .and_then(|v| v.checked_mul(size_of::<f32>()))
                .is_some_and(|bytes| bytes <= isize::MAX as usize);
            if !fits {
                return Err(DataError::InvalidValue {
                    field,
                    value: n.to_string(),
                    accepted: format!("{field} x n_segments x dim must fit in memory"),
                });
            }
        }

        let fg_classes = match (&self.fg_classes, self.distribution) {
            (Some(fg), _) => fg.clone(),
            (None, Distribution::Gaussian) => {
                return Err(DataError::MissingField {
                    field: "fg_classes",
                    distribution: name,
                    hint: "e.g. fg_classes = [0, 1, 2]",
                });
            }
            // the paper's Sec. 5: every error-mode class but the last is fg.
            (None, d) if d.is_error_mode() => (0..n_base_classes as u32 - 1).collect(),
            (None, _) => vec![0, 1, 2],
        };
        check_classes("fg_classes", &fg_classes, &name, n_base_classes, "")?;
        let bg_classes = match &self.bg_classes {
            Some(bg) => bg.clone(),
            None => (0..n_base_classes as u32)
                .filter(|c| !fg_classes.contains(c))
                .collect(),
        };
        let bg_hint = if self.bg_classes.is_none() {
            "; by default every class not in fg_classes, and fg_classes takes them all"
        } else {
            ""
        };
        check_classes("bg_classes", &bg_classes, &name, n_base_classes, bg_hint)?;
        if let Some(&class) = fg_classes.iter().find(|c| bg_classes.contains(c)) {
            return Err(DataError::OverlappingClasses { class });
        }

        let scheme = self.scheme.unwrap_or(match self.distribution {
            // the paper's Sec. 8 datasets: the AAAI type4 tables use the class-uniform generator v2; 4.4: the
            // error-mode scripts draw the fg class with randint(0, K), then a point of it.
            Distribution::Type4 | Distribution::Em1 | Distribution::Em2 | Distribution::Em3 => {
                MosaicScheme::ClassUniform
            }
            // the paper's Sec. 8 datasets: Dataset 2 draws from the fg and bg pools.
            Distribution::Blobs5d | Distribution::Gaussian => MosaicScheme::Pool,
        });

        Ok(ResolvedSynthetic {
            distribution: self.distribution,
            model,
            scheme,
            n_segments: self.n_segments,
            dim,
            n_classes: fg_classes.len(),
            n_base_classes,
            n_train: self.n_train,
            n_test: self.n_test,
            n_base: self.n_base,
            fg_classes,
            bg_classes,
            seed: self.seed,
        })
    }

    /// The sampler, from `distribution`, `means` and `std`.
    fn class_model(&self) -> Result<ClassModel, DataError> {
        let name = self.distribution.to_string();
        let preset = match self.distribution {
            Distribution::Type4 => Some(ClassModel::Type4),
            Distribution::Blobs5d => Some(ClassModel::Blobs5d),
            Distribution::Em1 => Some(ClassModel::Em1),
            Distribution::Em2 => Some(ClassModel::Em2),
            Distribution::Em3 => Some(ClassModel::Em3),
            Distribution::Gaussian => None,
        };
        if let Some(model) = preset {
            for (field, set) in [("means", self.means.is_some()), ("std", self.std.is_some())] {
                if set {
                    return Err(DataError::FieldNotAllowed {
                        field,
                        distribution: name,
                    });
                }
            }
            return Ok(model);
        }
        let means = self.means.clone().ok_or_else(|| DataError::MissingField {
            field: "means",
            distribution: name.clone(),
            hint: "one mean per class, e.g. means = [[0.0, 0.0], [3.0, 0.0]]",
        })?;
        let std = self.std.ok_or(DataError::MissingField {
            field: "std",
            distribution: name,
            hint: "the isotropic standard deviation, e.g. std = 0.1",
        })?;
        let dim = means.first().map_or(0, Vec::len);
        if means.is_empty() || dim == 0 {
            return Err(DataError::InvalidValue {
                field: "means",
                value: format!("{means:?}"),
                accepted: "at least one mean of at least one coordinate".into(),
            });
        }
        if means.len() > u32::MAX as usize {
            return Err(DataError::InvalidValue {
                field: "means",
                value: format!("{} classes", means.len()),
                accepted: "at most 2^32 - 1 classes".into(),
            });
        }
        for (class, mean) in means.iter().enumerate() {
            if mean.len() != dim {
                return Err(DataError::InvalidValue {
                    field: "means",
                    value: format!("class {class} with {} coordinates", mean.len()),
                    accepted: format!("every mean with the {dim} coordinates of class 0"),
                });
            }
            if let Some(v) = mean.iter().find(|v| v.is_nan() || v.abs() > MAX_MAGNITUDE) {
                return Err(DataError::InvalidValue {
                    field: "means",
                    value: format!("class {class} coordinate {v}"),
                    accepted: format!("finite numbers of magnitude at most {MAX_MAGNITUDE:e}"),
                });
            }
        }
        if std.is_nan() || std <= 0.0 || std > MAX_MAGNITUDE {
            return Err(DataError::InvalidValue {
                field: "std",
                value: std.to_string(),
                accepted: format!("a number > 0 and at most {MAX_MAGNITUDE:e}"),
            });
        }
        Ok(ClassModel::Gaussian { means, std })
    }
}

/// Non-empty, no repeats, every class below `n_classes`.
fn check_classes(
    field: &'static str,
    classes: &[u32],
    distribution: &str,
    n_classes: usize,
    empty_hint: &'static str,
) -> Result<(), DataError> {
    if classes.is_empty() {
        return Err(DataError::EmptyClasses {
            field,
            hint: empty_hint,
        });
    }
    for (i, &class) in classes.iter().enumerate() {
        if class as usize >= n_classes {
            return Err(DataError::UnknownClass {
                field,
                class,
                distribution: distribution.to_string(),
                n_classes,
            });
        }
        if classes[..i].contains(&class) {
            return Err(DataError::DuplicateClass { field, class });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
