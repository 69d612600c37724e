//! Errors raised while building or loading a model.

/// What can go wrong when a model is configured, built or loaded.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A configuration value is out of its accepted range.
    #[error("model.{field}: {message}")]
    Invalid {
        /// Dotted path of the offending field below `model`.
        field: &'static str,
        /// What is wrong and what would be accepted.
        message: String,
    },
    /// The configured widths would need more memory than the machine has.
    #[error(transparent)]
    TooLarge(#[from] sdc_io::TooLarge),
    /// A checkpoint could not be read or does not match the configured architecture.
    #[error("checkpoint {path}: {message}")]
    Checkpoint {
        /// The checkpoint file.
        path: String,
        /// What went wrong.
        message: String,
    },
}

/// A configuration value outside what is accepted: names the key, the value and what would be.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{key} = {value}: must be {accepted}")]
pub struct InvalidValue {
    /// The key, e.g. `attention.temperature`.
    pub key: String,
    /// The value given, as written in the configuration.
    pub value: String,
    /// What would be accepted, e.g. `a finite number > 0`.
    pub accepted: &'static str,
}

impl InvalidValue {
    /// `key = value: must be accepted`.
    pub fn new(
        key: impl Into<String>,
        value: impl std::fmt::Display,
        accepted: &'static str,
    ) -> Self {
        Self {
            key: key.into(),
            value: value.to_string(),
            accepted,
        }
    }
}
