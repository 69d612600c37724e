//! `train.init_from`: networks started from the final model of a finished run.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::schedule::Network;
use crate::config_error::ConfigError;

/// Networks started from the final model of a finished run (`train.init_from`) instead of
/// their initialisation: the directory of a run (its `config.toml` and `model.bpk`), relative
/// to the working directory. The rest of the run's model is ignored.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InitFrom {
    /// Run directory whose focus network this run starts from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub focus: Option<PathBuf>,
    /// Run directory whose classification network this run starts from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classifier: Option<PathBuf>,
}

impl InitFrom {
    /// Whether no network is loaded.
    pub fn is_empty(&self) -> bool {
        self.focus.is_none() && self.classifier.is_none()
    }

    /// The networks to load and their run directories.
    pub fn entries(&self) -> impl Iterator<Item = (Network, &Path)> {
        [
            (Network::Focus, self.focus.as_deref()),
            (Network::Classifier, self.classifier.as_deref()),
        ]
        .into_iter()
        .filter_map(|(n, dir)| dir.map(|d| (n, d)))
    }

    /// Checks the paths are not empty, naming the key (`train.init_from.*`); whether they hold
    /// a finished run is checked when training starts.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match self.entries().find(|(_, dir)| dir.as_os_str().is_empty()) {
            Some((network, _)) => Err(ConfigError::range(
                format!("train.init_from.{}", network.name()),
                "\"\"",
                "the directory of a finished run",
            )),
            None => Ok(()),
        }
    }
}
