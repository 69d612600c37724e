//! Why a configuration is refused: every variant names the key and the value, and says what
//! would be accepted. [`ExperimentConfig::validate`](crate::ExperimentConfig::validate) and the
//! `validate` of each section return it; the TOML reader wraps it with the file it read.

use sdc_data::DataError;
use sdc_model::ModelError;

/// A configuration value serde accepted but the experiment cannot use.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A value outside its accepted range.
    #[error("{key} = {value}: must be {accepted}")]
    OutOfRange {
        /// The dotted key, e.g. `train.optimizer.lr`.
        key: String,
        /// The value given.
        value: String,
        /// What would be accepted, e.g. `a finite number > 0`.
        accepted: &'static str,
    },
    /// A value that breaks a rule a range cannot say.
    #[error("{key} = {value}: {reason}")]
    Invalid {
        /// The dotted key, e.g. `name`.
        key: String,
        /// The value given.
        value: String,
        /// What is wrong and what would be accepted.
        reason: &'static str,
    },
    /// A list entry given more than once.
    #[error("{key} = \"{value}\": listed twice")]
    Duplicate {
        /// The key of the second occurrence, e.g. `train.freeze[1]`.
        key: String,
        /// The repeated value.
        value: String,
    },
    /// Two keys that exclude each other.
    #[error("{key} and {other}: {reason}")]
    Conflict {
        /// The first key.
        key: String,
        /// The key it conflicts with.
        other: String,
        /// Why they cannot both be set.
        reason: &'static str,
    },
    /// The data section does not describe usable data.
    #[error("data: {0}")]
    Data(DataError),
    /// The datasets the config builds would not fit in memory.
    #[error(transparent)]
    TooLarge(DataError),
    /// The model does not fit the data.
    #[error(transparent)]
    Model(#[from] ModelError),
}

impl ConfigError {
    /// `key = value: must be accepted`.
    pub fn range(
        key: impl Into<String>,
        value: impl std::fmt::Display,
        accepted: &'static str,
    ) -> Self {
        Self::OutOfRange {
            key: key.into(),
            value: value.to_string(),
            accepted,
        }
    }
}
