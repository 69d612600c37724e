//! Experiment configuration: TOML files, `--set key=value` overrides, validation at the boundary.
//!
//! Every section of `[train]` is a type here or in a file below (`config/`): the schedule,
//! `init_from` and `pretrain`; the training loop (`training.rs`) reads them and never the
//! other way round.

mod init_from;
mod pretrain;
mod schedule;

use std::path::Path;

use sdc_data::DataConfig;
use sdc_interp::FocusCriterion;
use sdc_model::ModelConfig;
use serde::{Deserialize, Serialize};

use crate::config_error::ConfigError;
use crate::device::{BackendKind, Precision};
use crate::error::TrainError;
use crate::objective::Objective;

pub use init_from::InitFrom;
pub use pretrain::{Pretrain, PretrainStage};
pub use schedule::{Network, Schedule};

/// One experiment: data, model, training and evaluation settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentConfig {
    /// A short name for run directories and reports.
    #[serde(default = "default_name")]
    pub name: String,
    /// The SDC data: synthetic, or mosaics of real images.
    pub data: DataConfig,
    /// The attention model.
    pub model: ModelConfig,
    /// The training procedure.
    pub train: TrainConfig,
    /// How runs are evaluated.
    #[serde(default)]
    pub eval: EvalConfig,
}

fn default_name() -> String {
    "experiment".into()
}

/// The optimiser (the same for both networks; each network has its own instance).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum OptimizerConfig {
    /// Adam with PyTorch's defaults (betas 0.9/0.999, eps 1e-8).
    Adam {
        /// Learning rate.
        lr: f64,
        /// Numerical-stability term.
        #[serde(default = "adam_eps")]
        eps: f64,
    },
    /// SGD, with optional (PyTorch-style, undampened) momentum.
    Sgd {
        /// Learning rate.
        lr: f64,
        /// Momentum factor; 0 for plain SGD.
        #[serde(default)]
        momentum: f64,
    },
}

fn adam_eps() -> f64 {
    1e-8
}

impl OptimizerConfig {
    /// The learning rate.
    pub fn lr(&self) -> f64 {
        match self {
            Self::Adam { lr, .. } | Self::Sgd { lr, .. } => *lr,
        }
    }
}

/// When training stops before `max_epochs`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StopRule {
    /// Stop once the training loss, re-evaluated over the whole training set after an epoch,
    /// is at most this value (docs/paper-notes.md, Training).
    pub loss: f64,
    /// Divide the summed batch losses by `n_batches - 1` instead of `n_batches`, as the paper's
    /// code did (docs/paper-notes.md, Training, the `/i` quirk).
    #[serde(default)]
    pub paper_quirk: bool,
}

/// The training procedure.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// The optimiser.
    pub optimizer: OptimizerConfig,
    /// Mini-batch size.
    #[serde(default = "default_batch")]
    pub batch_size: usize,
    /// Upper bound on the number of epochs.
    pub max_epochs: usize,
    /// Weight `k` of the entropy regulariser: the loss is `(1 - k) CE + k mean H(alpha)`
    /// (the paper's Sec. 7); 0 trains on cross-entropy alone.
    #[serde(default)]
    pub entropy: f64,
    /// Early stop on the training loss; none trains for `max_epochs`.
    #[serde(default)]
    pub stop: Option<StopRule>,
    /// Seed of the model initialisation and of the per-epoch shuffles.
    #[serde(default)]
    pub seed: u64,
    /// Float precision.
    #[serde(default)]
    pub precision: Precision,
    /// Backend.
    #[serde(default)]
    pub backend: BackendKind,
    /// Evaluate (and log) every this many epochs; the last epoch is always evaluated.
    #[serde(default = "one")]
    pub eval_every: usize,
    /// Save a resumable checkpoint every this many epochs (0: only at the end).
    #[serde(default = "default_checkpoint_every")]
    pub checkpoint_every: usize,
    /// The loss and its prediction rule: soft attention (the paper's), hard, LVML or a hybrid.
    #[serde(default)]
    pub objective: Objective,
    /// Which network each epoch updates: joint (the paper's default) or alternating.
    #[serde(default)]
    pub schedule: Schedule,
    /// Networks that are never updated (`["focus"]`, `["classifier"]`). With both frozen the
    /// (initial, loaded or pretrained) model is evaluated once: one epoch, no steps.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub freeze: Vec<Network>,
    /// Networks that start from the final model of a finished run.
    #[serde(default, skip_serializing_if = "InitFrom::is_empty")]
    pub init_from: InitFrom,
    /// Networks pretrained in this run before the attention training (the "cheating" focus
    /// and classification networks).
    #[serde(default, skip_serializing_if = "Pretrain::is_empty")]
    pub pretrain: Pretrain,
}

impl TrainConfig {
    /// Whether the attention training updates neither network (both frozen): the run evaluates
    /// its initial, loaded or pretrained model once.
    pub fn trains_nothing(&self) -> bool {
        self.freeze.contains(&Network::Focus) && self.freeze.contains(&Network::Classifier)
    }
}

fn default_batch() -> usize {
    250
}
fn one() -> usize {
    1
}
fn default_checkpoint_every() -> usize {
    100
}

/// How predictions are scored.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalConfig {
    /// Focus-true criterion: argmax (the paper's) or a threshold on alpha at J.
    #[serde(default)]
    pub focus: FocusCriterion,
    /// Evaluation batch size; 0 means the training batch size.
    #[serde(default)]
    pub batch_size: usize,
}

/// The embedded default experiment: Dataset 2, Architecture 2, averaging at layer 0
/// (`configs/dataset2-arch2.toml`).
pub const DEFAULT_CONFIG_TOML: &str = include_str!("../../../configs/dataset2-arch2.toml");

impl ExperimentConfig {
    /// The embedded default experiment with `overrides` applied.
    pub fn default_with(overrides: &[String]) -> Result<Self, TrainError> {
        Self::from_toml_str(
            DEFAULT_CONFIG_TOML,
            "<embedded default: configs/dataset2-arch2.toml>",
            overrides,
        )
    }

    /// Reads a TOML file and applies `--set key=value` overrides, then validates.
    pub fn load(path: &Path, overrides: &[String]) -> Result<Self, TrainError> {
        // A config is a few KiB: a bounded read refuses a device or a mistaken huge file.
        let text = sdc_io::read_bounded(path, 16 << 20)
            .and_then(|bytes| {
                String::from_utf8(bytes).map_err(|e| {
                    sdc_io::IoError::new(
                        path,
                        "read",
                        std::io::Error::new(std::io::ErrorKind::InvalidData, e),
                    )
                })
            })
            .map_err(|e| TrainError::ReadConfig {
                path: path.to_path_buf(),
                source: e.source,
            })?;
        Self::from_toml_str(&text, &path.display().to_string(), overrides)
    }

    /// Parses TOML text (`origin` names it in errors), applies overrides, validates.
    pub fn from_toml_str(
        text: &str,
        origin: &str,
        overrides: &[String],
    ) -> Result<Self, TrainError> {
        let mut table: toml::Table =
            text.parse()
                .map_err(|e: toml::de::Error| TrainError::Config {
                    origin: origin.into(),
                    message: e.to_string(),
                })?;
        for raw in overrides {
            apply_override(&mut table, raw)?;
        }
        let origin = if overrides.is_empty() {
            origin.to_string()
        } else {
            format!("{origin} (with --set)")
        };
        let config: Self =
            serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
                let path = e.path().to_string();
                TrainError::Config {
                    origin: origin.clone(),
                    message: format!("{path}: {}", e.into_inner()),
                }
            })?;
        config.validate().map_err(|e| TrainError::Config {
            origin,
            message: e.to_string(),
        })?;
        Ok(config)
    }

    /// The configuration as TOML (what a run directory records).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("an ExperimentConfig always serialises to TOML")
    }

    /// Checks values serde cannot: ranges and cross-field consistency. Names the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_name(&self.name)?;
        let (segment_shape, n_classes) =
            self.data.shape_and_classes().map_err(ConfigError::Data)?;
        self.data
            .check_memory(sdc_io::Budget::machine())
            .map_err(ConfigError::TooLarge)?;
        self.model.validate_for(&segment_shape, n_classes)?;
        let t = &self.train;
        let lr = t.optimizer.lr();
        if !(lr.is_finite() && lr > 0.0) {
            return Err(ConfigError::range(
                "train.optimizer.lr",
                lr,
                "a finite number > 0",
            ));
        }
        match &t.optimizer {
            OptimizerConfig::Adam { eps, .. } if !(eps.is_finite() && *eps > 0.0) => {
                return Err(ConfigError::range(
                    "train.optimizer.eps",
                    eps,
                    "a finite number > 0",
                ));
            }
            OptimizerConfig::Sgd { momentum, .. } if !(0.0..1.0).contains(momentum) => {
                return Err(ConfigError::range(
                    "train.optimizer.momentum",
                    momentum,
                    "in [0, 1)",
                ));
            }
            _ => {}
        }
        if !(0.0..1.0).contains(&t.entropy) {
            return Err(ConfigError::range("train.entropy", t.entropy, "in [0, 1)"));
        }
        for (key, value) in [
            ("train.batch_size", t.batch_size),
            ("train.max_epochs", t.max_epochs),
            ("train.eval_every", t.eval_every),
        ] {
            if value == 0 {
                return Err(ConfigError::range(key, 0, ">= 1"));
            }
        }
        t.objective.validate()?;
        t.schedule.validate()?;
        if let Some((i, n)) = t
            .freeze
            .iter()
            .enumerate()
            .find(|(i, n)| t.freeze[..*i].contains(n))
        {
            return Err(ConfigError::Duplicate {
                key: format!("train.freeze[{i}]"),
                value: n.name().into(),
            });
        }
        t.init_from.validate()?;
        t.pretrain.validate(&t.init_from)?;
        if let Some(stop) = &t.stop
            && !(stop.loss.is_finite() && stop.loss >= 0.0)
        {
            return Err(ConfigError::range(
                "train.stop.loss",
                stop.loss,
                "a finite number >= 0",
            ));
        }
        if let FocusCriterion::Threshold { t } = self.eval.focus
            && !(0.0..1.0).contains(&t)
        {
            return Err(ConfigError::range("eval.focus.t", t, "in [0, 1)"));
        }
        Ok(())
    }

    /// Evaluation batch size.
    pub fn eval_batch_size(&self) -> usize {
        if self.eval.batch_size == 0 {
            self.train.batch_size
        } else {
            self.eval.batch_size
        }
    }
}

/// Sets `a.b.c = value` in `table`; the value is parsed as a TOML value (`1e-3`, `[6, 12]`,
/// `"adam"`, `{ kind = "sgd", lr = 0.01 }`), and taken as a bare string when it is not one.
fn apply_override(table: &mut toml::Table, raw: &str) -> Result<(), TrainError> {
    let err = |message: String| TrainError::Override {
        raw: raw.into(),
        message,
    };
    let (key, value) = raw
        .split_once('=')
        .ok_or_else(|| err("expected key=value, e.g. train.optimizer.lr=0.001".into()))?;
    let key = key.trim();
    let value = value.trim();
    let parsed: toml::Value = format!("v = {value}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.to_string()));
    let parts: Vec<&str> = key.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(err(format!("`{key}` is not a dotted key")));
    }
    let (last, parents) = parts
        .split_last()
        .expect("split on '.' yields at least one part");
    let mut node = table;
    for (depth, part) in parents.iter().enumerate() {
        let entry = node
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        node = entry.as_table_mut().ok_or_else(|| {
            err(format!(
                "`{}` is a value, not a table",
                parts[..=depth].join(".")
            ))
        })?;
    }
    node.insert(last.to_string(), parsed);
    Ok(())
}

/// A run's name becomes a directory name (`runs/NAME-...`): one path component of letters,
/// digits, `-`, `_` and `.`, not starting with `.`, so no name escapes `runs/`.
fn check_name(name: &str) -> Result<(), ConfigError> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(ConfigError::Invalid {
            key: "name".into(),
            value: format!("{name:?}"),
            reason: "a run name is one directory name of letters, digits, '-', '_' and '.', not \
                     starting with '.'",
        })
    }
}

#[cfg(test)]
mod tests;
