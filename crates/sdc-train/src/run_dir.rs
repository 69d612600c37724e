//! Run directories: the resolved config, per-epoch metrics, the summary and checkpoints, each
//! file written atomically, checksummed in a manifest, and the directory locked while written.
//!
//! Layout of a run directory:
//! - `config.toml`: the resolved experiment configuration;
//! - `metrics.csv`: one row per evaluated epoch, deterministic columns only (the same config
//!   gives the same bytes);
//! - `metrics.jsonl`: the same epochs as JSON lines, with every metric of both splits
//!   (deterministic too);
//! - `timing.csv`: wall-clock seconds per evaluated epoch (not deterministic, kept apart);
//! - `summary.json`: the final metrics (or the record of a diverged run); `timing.json`: the
//!   run's wall-clock numbers;
//! - `model.bpk`: the final model, loadable by `sdc eval`;
//! - `manifest.json`: written last, the SHA-256 of every file above. Its presence marks a
//!   finished run, and every read of a finished run verifies it;
//! - `checkpoint/epoch-NNNNNN/`: the latest resumable state (model, both optimisers), valid only
//!   with its own `manifest.json`, written last, which records the epoch, the configuration's
//!   checksum and each file's checksum;
//! - `.sdc.lock`: the lock a writer holds (see [`sdc_io::DirLock`]).
//!
//! (About 600 lines: the code is under 470; the rest are the tests of the crash-consistency
//! protocol, which belong beside it.)

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sdc_io::DirLock;
use serde::{Deserialize, Serialize};

use crate::config::ExperimentConfig;
use crate::error::TrainError;

/// File names inside a run directory.
pub const CONFIG_FILE: &str = "config.toml";
/// Per-epoch metrics (deterministic columns).
pub const METRICS_FILE: &str = "metrics.csv";
/// Per-epoch metrics as JSON lines (every metric of both splits; deterministic).
pub const METRICS_JSONL_FILE: &str = "metrics.jsonl";
/// Per-epoch wall-clock seconds.
pub const TIMING_FILE: &str = "timing.csv";
/// Final summary.
pub const SUMMARY_FILE: &str = "summary.json";
/// Wall-clock numbers of the whole run.
pub const RUN_TIMING_FILE: &str = "timing.json";
/// Final model parameters.
pub const MODEL_FILE: &str = "model.bpk";
/// What the pretraining stages reached (`train.pretrain`), when there were any.
pub const PRETRAIN_FILE: &str = "pretrain.json";
/// Checksums of a finished run's files (or of a checkpoint's), written last.
pub const MANIFEST_FILE: &str = "manifest.json";
/// Resumable state.
pub const CHECKPOINT_DIR: &str = "checkpoint";

/// Writes `bytes` to `path` atomically (see [`sdc_io::write_atomic`]), creating its directory.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| TrainError::io(dir, e))?;
    }
    Ok(sdc_io::write_atomic(path, bytes)?)
}

/// The SHA-256 of a configuration's resolved TOML: what a checkpoint and a finished run are
/// bound to.
pub fn config_sha256(config: &ExperimentConfig) -> String {
    sdc_io::sha256_hex(config.to_toml().as_bytes())
}

/// The checksums of a set of files in one directory, written after them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The SHA-256 of the configuration these files were made with.
    pub config_sha256: String,
    /// The checkpoint's state (checkpoints only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<CheckpointState>,
    /// File name -> SHA-256 (hex).
    pub files: BTreeMap<String, String>,
    /// The SHA-256 of the fields above (as compact JSON, this field empty): a damaged manifest
    /// is noticed too, not read as another epoch or another file list.
    #[serde(default)]
    pub sha256: String,
}

impl Manifest {
    /// Hashes the files `names` of `dir`.
    fn of(dir: &Path, config_sha256: String, names: &[&str]) -> Result<Self, TrainError> {
        let mut files = BTreeMap::new();
        for name in names {
            files.insert(name.to_string(), sdc_io::sha256_file(&dir.join(name))?);
        }
        Ok(Self {
            config_sha256,
            state: None,
            files,
            sha256: String::new(),
        })
    }

    /// The checksum of everything but the checksum itself.
    fn own_sha256(&self) -> String {
        let body = Self {
            sha256: String::new(),
            ..self.clone()
        };
        sdc_io::sha256_hex(&serde_json::to_vec(&body).expect("a manifest serialises to JSON"))
    }

    /// Reads the manifest of `dir`, if it has one.
    fn read(dir: &Path) -> Result<Option<Self>, TrainError> {
        let path = dir.join(MANIFEST_FILE);
        if !path.is_file() {
            return Ok(None);
        }
        let bytes = sdc_io::read_bounded(&path, 1 << 20)?;
        let manifest: Self = serde_json::from_slice(&bytes).map_err(|e| TrainError::Damaged {
            path: path.clone(),
            message: format!("not a manifest: {e}"),
        })?;
        if manifest.sha256 != manifest.own_sha256() {
            return Err(TrainError::Damaged {
                path,
                message: "changed or damaged after it was written (its own SHA-256 differs)".into(),
            });
        }
        Ok(Some(manifest))
    }

    fn write(&self, dir: &Path) -> Result<(), TrainError> {
        let sealed = Self {
            sha256: self.own_sha256(),
            ..self.clone()
        };
        let text = serde_json::to_string_pretty(&sealed).expect("a manifest serialises to JSON");
        write_atomic(&dir.join(MANIFEST_FILE), text.as_bytes())
    }

    /// Reads file `name` of `dir` and checks it against its recorded checksum.
    pub fn read_verified(&self, dir: &Path, name: &str) -> Result<Vec<u8>, TrainError> {
        let path = dir.join(name);
        let Some(expected) = self.files.get(name) else {
            return Err(TrainError::Damaged {
                path: dir.join(MANIFEST_FILE),
                message: format!("does not list {name}"),
            });
        };
        let bytes = std::fs::read(&path).map_err(|e| TrainError::Damaged {
            message: if e.kind() == std::io::ErrorKind::NotFound {
                format!("missing, though {MANIFEST_FILE} lists it")
            } else {
                format!("cannot read: {e}")
            },
            path: path.clone(),
        })?;
        if &sdc_io::sha256_hex(&bytes) != expected {
            return Err(TrainError::Damaged {
                path,
                message: format!(
                    "changed or damaged after it was written (its SHA-256 differs from {MANIFEST_FILE})"
                ),
            });
        }
        Ok(bytes)
    }

    /// Checks every listed file of `dir`.
    pub fn verify(&self, dir: &Path) -> Result<(), TrainError> {
        for name in self.files.keys() {
            self.read_verified(dir, name)?;
        }
        Ok(())
    }
}

/// Where a resumable checkpoint stands.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointState {
    /// The last completed epoch (1-based).
    pub epoch: usize,
    /// Wall-clock seconds of training so far.
    pub train_seconds: f64,
    /// The first mini-batch loss of the run (the divergence check compares against it).
    pub start_loss: f64,
}

/// A verified checkpoint: its state and the files it holds.
#[derive(Debug)]
pub struct Checkpoint {
    /// The state it was saved at.
    pub state: CheckpointState,
    dir: PathBuf,
    manifest: Manifest,
}

impl Checkpoint {
    /// File `name` of the checkpoint, checked against its checksum.
    pub fn read(&self, name: &str) -> Result<Vec<u8>, TrainError> {
        self.manifest.read_verified(&self.dir, name)
    }

    /// The checkpoint's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// A run directory on disk: a locked one to write, or an opened one to read.
#[derive(Debug)]
pub struct RunDir {
    path: PathBuf,
    _lock: Option<DirLock>,
}

impl RunDir {
    /// Creates (if needed) and locks the directory at `path` for writing; a directory another
    /// process writes is refused, naming that process.
    pub fn lock(path: &Path) -> Result<Self, TrainError> {
        let lock = DirLock::acquire(path, "training a run")?;
        Ok(Self {
            path: path.to_path_buf(),
            _lock: Some(lock),
        })
    }

    /// Opens an existing run directory to read; it must hold a `config.toml`.
    pub fn open(path: &Path) -> Result<Self, TrainError> {
        let dir = Self {
            path: path.to_path_buf(),
            _lock: None,
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

    /// Whether the run finished (its manifest exists; [`RunDir::finished`] verifies it).
    pub fn is_finished(&self) -> bool {
        self.file(MANIFEST_FILE).is_file()
    }

    /// The manifest of a finished run, verified: every file it lists matches its checksum and
    /// `config`, when given, is the configuration the run was made with. `None` when the run has
    /// not finished.
    pub fn finished(
        &self,
        config: Option<&ExperimentConfig>,
    ) -> Result<Option<Manifest>, TrainError> {
        let Some(manifest) = Manifest::read(&self.path)? else {
            return Ok(None);
        };
        manifest.verify(&self.path)?;
        if let Some(config) = config
            && manifest.config_sha256 != config_sha256(config)
        {
            return Err(TrainError::RunDir {
                path: self.path.clone(),
                message: "holds a finished run of a different configuration; choose another output directory"
                    .into(),
            });
        }
        Ok(Some(manifest))
    }

    /// Marks the run finished: writes the manifest of `names` (which must exist) last.
    pub fn finish(&self, config: &ExperimentConfig, names: &[&str]) -> Result<(), TrainError> {
        let mut names: Vec<&str> = names.to_vec();
        names.push(CONFIG_FILE);
        if self.file(PRETRAIN_FILE).is_file() {
            names.push(PRETRAIN_FILE);
        }
        Manifest::of(&self.path, config_sha256(config), &names)?.write(&self.path)
    }

    /// Removes the manifest (and with it the finished state), before a run is written again.
    pub fn unfinish(&self) -> Result<(), TrainError> {
        let path = self.file(MANIFEST_FILE);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(TrainError::io(&path, e)),
            _ => Ok(()),
        }
    }

    /// Writes `value` as pretty JSON to `name`, atomically.
    pub fn write_json<T: Serialize>(&self, name: &str, value: &T) -> Result<(), TrainError> {
        let text = serde_json::to_string_pretty(value).expect("summaries serialise to JSON");
        write_atomic(&self.file(name), text.as_bytes())
    }

    /// Reads JSON from `name` (bounded: these files are small).
    pub fn read_json<T: for<'de> Deserialize<'de>>(&self, name: &str) -> Result<T, TrainError> {
        let path = self.file(name);
        let bytes = sdc_io::read_bounded(&path, 64 << 20)?;
        parse_json(&path, &bytes)
    }

    /// The checkpoint directory.
    pub fn checkpoint_dir(&self) -> PathBuf {
        self.path.join(CHECKPOINT_DIR)
    }

    /// The latest complete checkpoint, verified, if there is one. Incomplete ones (a crash
    /// before their manifest) are removed; a complete one whose files do not match their
    /// checksums, or that was made for another configuration, is an error naming the file.
    pub fn latest_checkpoint(
        &self,
        config: &ExperimentConfig,
    ) -> Result<Option<Checkpoint>, TrainError> {
        let root = self.checkpoint_dir();
        let mut generations = checkpoint_generations(&root)?;
        generations.sort_by_key(|(epoch, _)| std::cmp::Reverse(*epoch));
        let mut found = None;
        for (_, dir) in generations {
            match (&found, Manifest::read(&dir)?) {
                (None, Some(manifest)) => found = Some((dir, manifest)),
                // Older or incomplete generations are left-overs of a crash.
                _ => remove_dir(&dir)?,
            }
        }
        let Some((dir, manifest)) = found else {
            return Ok(None);
        };
        if manifest.config_sha256 != config_sha256(config) {
            return Err(TrainError::RunDir {
                path: dir,
                message:
                    "a checkpoint of a different configuration; choose another output directory"
                        .into(),
            });
        }
        let state = match &manifest.state {
            Some(state) if dir.ends_with(generation_name(state.epoch)) => state.clone(),
            _ => {
                return Err(TrainError::Damaged {
                    path: dir.join(MANIFEST_FILE),
                    message: "a checkpoint manifest without the state of its epoch".into(),
                });
            }
        };
        manifest.verify(&dir)?;
        Ok(Some(Checkpoint {
            state,
            dir,
            manifest,
        }))
    }

    /// Saves a checkpoint of `files` at `state`: into a fresh `epoch-NNNNNN/`, its manifest
    /// last, then older generations removed. A crash at any point leaves the previous
    /// checkpoint or this one, whole.
    pub fn save_checkpoint(
        &self,
        config: &ExperimentConfig,
        files: &[(&str, Vec<u8>)],
        state: &CheckpointState,
    ) -> Result<(), TrainError> {
        let root = self.checkpoint_dir();
        let dir = root.join(generation_name(state.epoch));
        if dir.exists() {
            remove_dir(&dir)?;
        }
        for (name, bytes) in files {
            write_atomic(&dir.join(name), bytes)?;
        }
        let names: Vec<&str> = files.iter().map(|(n, _)| *n).collect();
        let mut manifest = Manifest::of(&dir, config_sha256(config), &names)?;
        manifest.state = Some(state.clone());
        manifest.write(&dir)?;
        for (epoch, old) in checkpoint_generations(&root)? {
            if epoch != state.epoch {
                remove_dir(&old)?;
            }
        }
        Ok(())
    }

    /// Removes every checkpoint (the final model supersedes them).
    pub fn remove_checkpoints(&self) -> Result<(), TrainError> {
        let root = self.checkpoint_dir();
        if root.is_dir() {
            std::fs::remove_dir_all(&root).map_err(|e| TrainError::io(&root, e))?;
        }
        Ok(())
    }
}

/// Parses JSON read from `path`; a damaged file is an error naming it.
pub(crate) fn parse_json<T: for<'de> Deserialize<'de>>(
    path: &Path,
    bytes: &[u8],
) -> Result<T, TrainError> {
    serde_json::from_slice(bytes).map_err(|e| TrainError::Damaged {
        path: path.to_path_buf(),
        message: format!("not the JSON sdc wrote: {e}"),
    })
}

/// The directory name of the checkpoint after `epoch`.
fn generation_name(epoch: usize) -> String {
    format!("epoch-{epoch:06}")
}

/// The `epoch-NNNNNN` directories under `root`, with their epochs.
fn checkpoint_generations(root: &Path) -> Result<Vec<(usize, PathBuf)>, TrainError> {
    if !root.is_dir() {
        return Ok(Vec::new());
    }
    let entries = std::fs::read_dir(root).map_err(|e| TrainError::io(root, e))?;
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| TrainError::io(root, e))?;
        let name = entry.file_name();
        let epoch = name
            .to_str()
            .and_then(|n| n.strip_prefix("epoch-"))
            .and_then(|n| n.parse::<usize>().ok());
        match epoch {
            Some(epoch) => out.push((epoch, entry.path())),
            // Anything else in checkpoint/ (an older layout's files) is not a checkpoint.
            None => remove_path(&entry.path())?,
        }
    }
    Ok(out)
}

/// Removes a checkpoint generation: its manifest first, so that a crash half-way leaves an
/// incomplete generation (ignored) rather than a damaged complete one.
fn remove_dir(dir: &Path) -> Result<(), TrainError> {
    let manifest = dir.join(MANIFEST_FILE);
    if manifest.is_file() {
        std::fs::remove_file(&manifest).map_err(|e| TrainError::io(&manifest, e))?;
        sdc_io::sync_dir(dir)?;
    }
    std::fs::remove_dir_all(dir).map_err(|e| TrainError::io(dir, e))
}

fn remove_path(path: &Path) -> Result<(), TrainError> {
    if path.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    }
    .map_err(|e| TrainError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> ExperimentConfig {
        ExperimentConfig::default_with(&[]).expect("the default config")
    }

    #[test]
    fn open_refuses_a_directory_without_config() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = RunDir::open(dir.path()).expect_err("empty dir").to_string();
        assert!(err.contains("config.toml"), "{err}");
    }

    #[test]
    fn a_second_writer_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let _first = RunDir::lock(dir.path()).expect("free");
        let err = RunDir::lock(dir.path()).expect_err("held").to_string();
        assert!(err.contains("in use by another sdc process"), "{err}");
    }

    fn state(epoch: usize) -> CheckpointState {
        CheckpointState {
            epoch,
            train_seconds: 1.0,
            start_loss: 1.1,
        }
    }

    #[test]
    fn checkpoints_are_whole_or_absent() {
        let dir = tempfile::tempdir().expect("tempdir");
        let run = RunDir::lock(dir.path()).expect("lock");
        let config = config();
        assert!(run.latest_checkpoint(&config).expect("none").is_none());
        run.save_checkpoint(
            &config,
            &[("a.bpk", vec![1, 2]), ("b.bpk", vec![3])],
            &state(3),
        )
        .expect("save");
        // A crash while writing epoch 4: its files are there, its manifest is not.
        let torn = run.checkpoint_dir().join("epoch-000004");
        std::fs::create_dir_all(&torn).expect("mkdir");
        std::fs::write(torn.join("a.bpk"), [9]).expect("write");
        let latest = run
            .latest_checkpoint(&config)
            .expect("epoch 3")
            .expect("some");
        assert_eq!(latest.state, state(3));
        assert_eq!(latest.read("a.bpk").expect("verified"), vec![1, 2]);
        assert!(!torn.exists(), "the incomplete generation is removed");

        // A newer complete one replaces it, and the old one goes.
        run.save_checkpoint(
            &config,
            &[("a.bpk", vec![5]), ("b.bpk", vec![6])],
            &state(5),
        )
        .expect("save");
        let gens = checkpoint_generations(&run.checkpoint_dir()).expect("ls");
        assert_eq!(gens.len(), 1);
        assert_eq!(
            run.latest_checkpoint(&config)
                .expect("ok")
                .expect("some")
                .state
                .epoch,
            5
        );
    }

    #[test]
    fn a_damaged_or_swapped_checkpoint_file_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let run = RunDir::lock(dir.path()).expect("lock");
        let config = config();
        run.save_checkpoint(
            &config,
            &[("a.bpk", vec![1, 2]), ("b.bpk", vec![3, 4])],
            &state(2),
        )
        .expect("save");
        let generation = run.checkpoint_dir().join("epoch-000002");
        // Swap the two files.
        let (a, b) = (generation.join("a.bpk"), generation.join("b.bpk"));
        let (ba, bb) = (std::fs::read(&a).expect("a"), std::fs::read(&b).expect("b"));
        std::fs::write(&a, bb).expect("write");
        std::fs::write(&b, ba).expect("write");
        let err = run
            .latest_checkpoint(&config)
            .expect_err("swapped")
            .to_string();
        assert!(err.contains("a.bpk") && err.contains("SHA-256"), "{err}");

        // Another configuration may not resume it.
        let other = ExperimentConfig::default_with(&["train.seed=9".into()]).expect("config");
        let err = run
            .latest_checkpoint(&other)
            .expect_err("other config")
            .to_string();
        assert!(err.contains("different configuration"), "{err}");
    }

    #[test]
    fn a_finished_run_is_verified_on_every_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let run = RunDir::lock(dir.path()).expect("lock");
        let config = config();
        run.write_config(&config).expect("config");
        run.write_json(SUMMARY_FILE, &serde_json::json!({"x": 1}))
            .expect("summary");
        assert!(run.finished(Some(&config)).expect("not yet").is_none());
        run.finish(&config, &[SUMMARY_FILE]).expect("finish");
        run.finished(Some(&config))
            .expect("intact")
            .expect("finished");

        // An edited config.toml is noticed, even when the new text would parse.
        let edited = ExperimentConfig::default_with(&["train.seed=4".into()]).expect("config");
        run.write_config(&edited).expect("edit");
        let err = run.finished(Some(&edited)).expect_err("edited").to_string();
        assert!(
            err.contains("config.toml") && err.contains("SHA-256"),
            "{err}"
        );

        run.write_config(&config).expect("restore");
        std::fs::remove_file(run.file(SUMMARY_FILE)).expect("rm");
        let err = run.finished(None).expect_err("deleted").to_string();
        assert!(
            err.contains("summary.json") && err.contains("missing"),
            "{err}"
        );
    }
}
