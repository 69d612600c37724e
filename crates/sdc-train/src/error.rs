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
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A file sdc wrote was changed or damaged since: its checksum no longer matches, or it no
    /// longer parses.
    #[error("{}: {message}", path.display())]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What does not match.
        message: String,
    },
    /// Writing or reading a file failed (names the file and what was being done).
    #[error(transparent)]
    File(#[from] sdc_io::IoError),
    /// Another process writes this directory.
    #[error(transparent)]
    Locked(#[from] sdc_io::LockError),
    /// A size from the configuration would need more memory than the machine has.
    #[error(transparent)]
    OverBudget(#[from] sdc_io::TooLarge),
    /// The run directory does not hold what was expected.
    #[error("{}: {message}", path.display())]
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
    /// The backend could not compute or read back a training step (on a GPU: a buffer it could
    /// not allocate, a lost device). The step is not applied; the last checkpoint stands.
    #[error(
        "epoch {epoch}: the backend failed to compute a training step (on a GPU, a smaller \
         train.batch_size needs smaller buffers): {message}"
    )]
    Backend {
        /// The epoch (1-based).
        epoch: usize,
        /// The backend's error.
        message: String,
    },
    /// Training diverged: a non-finite loss, or a loss far above its start at chance accuracy.
    /// The run directory records it (`summary.json` with `"status": "diverged"`).
    #[error("diverged at epoch {epoch}: {reason}; lower the learning rate or check the data")]
    Diverged {
        /// The epoch (1-based).
        epoch: usize,
        /// What was seen.
        reason: String,
    },
}

impl TrainError {
    /// An I/O (or CSV, or serialisation) error on `path`, keeping the error as its source.
    pub fn io(
        path: impl Into<PathBuf>,
        err: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self::Io {
            path: path.into(),
            source: err.into(),
        }
    }
}
