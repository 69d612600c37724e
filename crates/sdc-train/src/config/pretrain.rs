//! `train.pretrain`: networks pretrained inside the run before the attention training (the
//! paper's "cheating" networks, docs/paper-notes.md, Training, 6.2); the training itself is in
//! `training/pretrain.rs`.

use serde::{Deserialize, Serialize};

use super::init_from::InitFrom;
use super::schedule::Network;
use crate::config_error::ConfigError;

/// Which networks are pretrained before the attention model is trained (`train.pretrain`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pretrain {
    /// The focus network as a foreground-vs-background classifier of single segments: its score
    /// is the logit of "foreground" (binary cross-entropy against `j == J` for every segment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub focus: Option<PretrainStage>,
    /// The classification network on the foreground segment alone: attention one-hot on `J`
    /// (at averaging layer `k >= 1`, the focus network's layer-`k` features of that segment).
    /// Runs after the focus stage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classifier: Option<PretrainStage>,
}

/// One pretraining stage: the run's optimiser kind, on the training split.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PretrainStage {
    /// Passes over the training split, `>= 1`.
    pub epochs: usize,
    /// Learning rate (default: `train.optimizer.lr`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lr: Option<f64>,
}

impl Pretrain {
    /// Whether nothing is pretrained.
    pub fn is_empty(&self) -> bool {
        self.focus.is_none() && self.classifier.is_none()
    }

    /// The stages to run, focus first.
    pub(crate) fn stages(&self) -> impl Iterator<Item = (Network, &PretrainStage)> {
        [
            (Network::Focus, self.focus.as_ref()),
            (Network::Classifier, self.classifier.as_ref()),
        ]
        .into_iter()
        .filter_map(|(n, s)| s.map(|s| (n, s)))
    }

    /// Checks the ranges, and that a network is not both pretrained here and loaded from a
    /// run (`init_from`, the run's `train.init_from`); names the key.
    pub fn validate(&self, init_from: &InitFrom) -> Result<(), ConfigError> {
        for (network, stage) in self.stages() {
            let key = format!("train.pretrain.{}", network.name());
            if stage.epochs == 0 {
                return Err(ConfigError::range(format!("{key}.epochs"), 0, ">= 1"));
            }
            if let Some(lr) = stage.lr
                && !(lr.is_finite() && lr > 0.0)
            {
                return Err(ConfigError::range(
                    format!("{key}.lr"),
                    lr,
                    "a finite number > 0",
                ));
            }
            if init_from.entries().any(|(n, _)| n == network) {
                return Err(ConfigError::Conflict {
                    key,
                    other: format!("train.init_from.{}", network.name()),
                    reason: "a network is either pretrained in the run or loaded from another, \
                             not both",
                });
            }
        }
        Ok(())
    }
}
