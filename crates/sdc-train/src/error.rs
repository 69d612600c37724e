//! Errors of configuration, training and run directories.

use std::path::PathBuf;

/// What can go wrong while configuring, training or evaluating a run.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The configuration file could not be read.
    #[error("{path}: cannot read: {source}")]
    ReadConfig {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The configuration is not valid TOML or does not match the schema.
    #[error("{origin}: {message}")]
    Config {
        /// Where the configuration came from (a file, or `--set`).
        origin: String,
        /// What is wrong, naming the key.
        message: String,
    },
    /// A `--set key=value` override is malformed.
    #[error("--set {raw}: {message}")]
    Override {
        /// The override as given.
        raw: String,
        /// What is wrong.
        message: String,
    },
    /// The data configuration or a dataset file is invalid.
    #[error(transparent)]
    Data(#[from] sdc_data::DataError),
    /// The model configuration or a checkpoint is invalid.
    #[error(transparent)]
    Model(#[from] sdc_model::ModelError),
    /// A metric could not be computed (inconsistent shapes).
    #[error(transparent)]
    Interp(#[from] sdc_interp::InterpError),
    /// The requested backend or precision is not available.
    #[error("{0}")]
    Device(String),
    /// Reading or writing a run directory failed.
    #[error("{path}: {message}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The run directory does not hold what was expected.
    #[error("{path}: {message}")]
    RunDir {
        /// The run directory or file.
        path: PathBuf,
        /// What is missing or inconsistent.
        message: String,
    },
    /// The observer asked training to stop; a checkpoint was saved.
    #[error("interrupted after epoch {epoch}; run the same command again to resume")]
    Interrupted {
        /// The last completed epoch.
        epoch: usize,
    },
    /// Training diverged (a non-finite loss).
    #[error(
        "epoch {epoch}: the training loss is {loss}; lower the learning rate or check the data"
    )]
    Diverged {
        /// The epoch (1-based).
        epoch: usize,
        /// The loss value.
        loss: f64,
    },
}

impl TrainError {
    /// An I/O error on `path`.
    pub(crate) fn io(path: impl Into<PathBuf>, err: impl std::fmt::Display) -> Self {
        Self::Io {
            path: path.into(),
            message: err.to_string(),
        }
    }
}
