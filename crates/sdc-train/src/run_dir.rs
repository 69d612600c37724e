//! Run directories: the resolved config, per-epoch metrics, the summary and checkpoints.
//!
//! Layout of a run directory:
//! - `config.toml`: the resolved experiment configuration;
//! - `metrics.csv`: one row per evaluated epoch;
//! - `summary.json`: the final metrics, written last (its presence marks a finished run);
//! - `model.bpk`: the final model, loadable by `sdc eval`;
//! - `checkpoint/`: the latest resumable state (model, both optimisers, `state.json`).

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::ExperimentConfig;
use crate::error::TrainError;

/// File names inside a run directory.
pub const CONFIG_FILE: &str = "config.toml";
/// Per-epoch metrics.
pub const METRICS_FILE: &str = "metrics.csv";
/// Final summary.
pub const SUMMARY_FILE: &str = "summary.json";
/// Final model parameters.
pub const MODEL_FILE: &str = "model.bpk";
/// What the pretraining stages reached (`train.pretrain`), when there were any.
pub const PRETRAIN_FILE: &str = "pretrain.json";
/// Resumable state.
pub const CHECKPOINT_DIR: &str = "checkpoint";

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, renamed into
/// place, so readers never see a half-written file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| TrainError::io(dir, e))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| TrainError::io(dir, e))?;
    tmp.write_all(bytes).map_err(|e| TrainError::io(path, e))?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| TrainError::io(path, e))?;
    tmp.persist(path)
        .map_err(|e| TrainError::io(path, e.error))?;
    Ok(())
}

/// Where a resumable checkpoint stands.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckpointState {
    /// The last completed epoch (1-based).
    pub epoch: usize,
    /// Wall-clock seconds of training so far.
    pub train_seconds: f64,
}

/// A run directory on disk.
#[derive(Clone, Debug)]
pub struct RunDir {
    path: PathBuf,
}

impl RunDir {
    /// Opens (creating if needed) the directory at `path`.
    pub fn create(path: &Path) -> Result<Self, TrainError> {
        std::fs::create_dir_all(path).map_err(|e| TrainError::io(path, e))?;
        Ok(Self {
            path: path.to_path_buf(),
        })
    }

    /// Opens an existing run directory; it must hold a `config.toml`.
    pub fn open(path: &Path) -> Result<Self, TrainError> {
        let dir = Self {
            path: path.to_path_buf(),
        };
        if !dir.file(CONFIG_FILE).is_file() {
            return Err(TrainError::RunDir {
                path: path.to_path_buf(),
                message: format!("not a run directory: no {CONFIG_FILE}"),
            });
        }
        Ok(dir)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A file inside the directory.
    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// The resolved configuration recorded in the directory, if any.
    pub fn read_config(&self) -> Result<Option<ExperimentConfig>, TrainError> {
        let path = self.file(CONFIG_FILE);
        if !path.is_file() {
            return Ok(None);
        }
        ExperimentConfig::load(&path, &[]).map(Some)
    }

    /// Records the resolved configuration.
    pub fn write_config(&self, config: &ExperimentConfig) -> Result<(), TrainError> {
        write_atomic(&self.file(CONFIG_FILE), config.to_toml().as_bytes())
    }

    /// Whether the run finished (its summary exists).
    pub fn is_finished(&self) -> bool {
        self.file(SUMMARY_FILE).is_file()
    }

    /// Writes `value` as pretty JSON to `name`, atomically.
    pub fn write_json<T: Serialize>(&self, name: &str, value: &T) -> Result<(), TrainError> {
        let text = serde_json::to_string_pretty(value).expect("summaries serialise to JSON");
        write_atomic(&self.file(name), text.as_bytes())
    }

    /// Reads JSON from `name`.
    pub fn read_json<T: for<'de> Deserialize<'de>>(&self, name: &str) -> Result<T, TrainError> {
        let path = self.file(name);
        let text = std::fs::read_to_string(&path).map_err(|e| TrainError::io(&path, e))?;
        serde_json::from_str(&text).map_err(|e| TrainError::RunDir {
            path,
            message: e.to_string(),
        })
    }

    /// The checkpoint directory.
    pub fn checkpoint_dir(&self) -> PathBuf {
        self.path.join(CHECKPOINT_DIR)
    }

    /// The state of the latest checkpoint, if one exists.
    pub fn checkpoint_state(&self) -> Result<Option<CheckpointState>, TrainError> {
        let path = self.checkpoint_dir().join("state.json");
        if !path.is_file() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path).map_err(|e| TrainError::io(&path, e))?;
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| TrainError::RunDir {
                path,
                message: format!("corrupt checkpoint state: {e}"),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_content_and_leaves_no_temporaries() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a.json");
        write_atomic(&path, b"one").expect("write");
        write_atomic(&path, b"two").expect("write");
        assert_eq!(std::fs::read(&path).expect("read"), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).expect("ls").count(), 1);
    }

    #[test]
    fn open_refuses_a_directory_without_config() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = RunDir::open(dir.path()).expect_err("empty dir").to_string();
        assert!(err.contains("config.toml"), "{err}");
    }
}
