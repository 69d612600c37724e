//! Mutation fuzzing of the readers of config files and of run directories (checkpoints and
//! finished runs), run in CI for a fixed budget. A mutated file gives a clear error naming it,
//! or (when the mutation changed nothing that matters) the original content: never a panic, and
//! never a silent resume from damaged state.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use proptest::prelude::*;
use sdc_train::{
    EpochRecord, ExperimentConfig, RunDir, TrainError, TrainObserver, finished_run, run_experiment,
};

const CASES: u32 = 96;

fn config() -> ExperimentConfig {
    ExperimentConfig::default_with(&[
        "data.n_train=60".into(),
        "data.n_test=30".into(),
        "train.batch_size=30".into(),
        "train.max_epochs=4".into(),
        "train.checkpoint_every=1".into(),
    ])
    .expect("a valid config")
}

/// Stops after epoch 2, leaving a checkpoint.
struct StopAfterTwo(usize);
impl TrainObserver for StopAfterTwo {
    fn on_epoch(&mut self, record: &EpochRecord) {
        self.0 = record.epoch;
    }
    fn should_stop(&mut self) -> bool {
        self.0 >= 2
    }
}

/// A run directory with a checkpoint, and one of a finished run; made once.
fn templates() -> &'static (tempfile::TempDir, PathBuf, PathBuf) {
    static DIRS: OnceLock<(tempfile::TempDir, PathBuf, PathBuf)> = OnceLock::new();
    DIRS.get_or_init(|| {
        let root = tempfile::tempdir().expect("tempdir");
        let (interrupted, finished) = (
            root.path().join("interrupted"),
            root.path().join("finished"),
        );
        let err = run_experiment(&config(), &interrupted, &mut StopAfterTwo(0))
            .expect_err("stopped after epoch 2");
        assert!(matches!(err, TrainError::Interrupted { epoch: 2 }), "{err}");
        run_experiment(&config(), &finished, &mut sdc_train::Silent).expect("trains");
        (root, interrupted, finished)
    })
}

/// Every file below `dir`, relative paths.
fn files(dir: &Path, base: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            files(&path, base, out);
        } else if !path.ends_with(".sdc.lock") {
            out.push(path.strip_prefix(base).expect("below").to_path_buf());
        }
    }
}

fn copy(from: &Path, to: &Path) -> Vec<PathBuf> {
    let mut list = Vec::new();
    files(from, from, &mut list);
    list.sort();
    for rel in &list {
        let target = to.join(rel);
        std::fs::create_dir_all(target.parent().expect("parent")).expect("mkdir");
        std::fs::copy(from.join(rel), target).expect("copy");
    }
    list
}

/// Damages `bytes`: a flipped byte, a truncation, or appended garbage.
fn damage(bytes: &mut Vec<u8>, kind: u8, at: usize, mask: u8) {
    match kind % 3 {
        0 if !bytes.is_empty() => {
            let i = at % bytes.len();
            bytes[i] ^= mask.max(1);
        }
        1 => bytes.truncate(at % (bytes.len() + 1)),
        _ => bytes.extend_from_slice(&[mask, b'}', b'\n']),
    }
}

/// A copy of `template` in a fresh directory with one file damaged: the file is the
/// `pick`-th of those under `only` (all when empty). Returns the directory, the damaged file's
/// relative path, and whether its bytes actually changed.
fn damaged_copy(
    template: &Path,
    only: &str,
    (pick, kind, at, mask): (usize, u8, usize, u8),
) -> (tempfile::TempDir, PathBuf, bool) {
    let dir = tempfile::tempdir().expect("tempdir");
    let list: Vec<PathBuf> = copy(template, dir.path())
        .into_iter()
        .filter(|p| only.is_empty() || p.starts_with(only))
        .collect();
    let victim = list[pick % list.len()].clone();
    let path = dir.path().join(&victim);
    let mut bytes = std::fs::read(&path).expect("read");
    let original = bytes.clone();
    damage(&mut bytes, kind, at, mask);
    std::fs::write(&path, &bytes).expect("write");
    (dir, victim, bytes != original)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn a_damaged_checkpoint_is_named_never_resumed(
        pick in any::<usize>(), kind in any::<u8>(), at in any::<usize>(), mask in any::<u8>(),
    ) {
        let (_, template, _) = templates();
        let (dir, victim, changed) = damaged_copy(template, "checkpoint", (pick, kind, at, mask));
        let victim = &victim;

        let run = RunDir::lock(dir.path()).expect("lock");
        match run.latest_checkpoint(&config()) {
            Ok(Some(checkpoint)) => {
                // Only a manifest whose meaning survived may still verify; every file read
                // back is the original.
                for name in ["model.bpk", "optim-focus.bpk", "optim-classifier.bpk"] {
                    let read = checkpoint.read(name).expect("verified");
                    prop_assert_eq!(&read, &std::fs::read(template.join(victim.parent().expect("gen")).join(name)).expect("template"));
                }
                prop_assert_eq!(checkpoint.state.epoch, 2);
                prop_assert!(victim.ends_with("manifest.json") || !changed);
            }
            // A manifest damaged into an incomplete generation: no checkpoint, a fresh start.
            Ok(None) => prop_assert!(victim.ends_with("manifest.json")),
            Err(e) => {
                let text = e.to_string();
                let name = victim.file_name().expect("name").to_string_lossy().into_owned();
                prop_assert!(text.contains(&name), "{} does not name {}", text, name);
            }
        }
    }

    #[test]
    fn a_damaged_finished_run_is_named_never_reported(
        pick in any::<usize>(), kind in any::<u8>(), at in any::<usize>(), mask in any::<u8>(),
    ) {
        let (_, _, template) = templates();
        let (dir, victim, changed) = damaged_copy(template, "", (pick, kind, at, mask));
        let name = victim.file_name().expect("name").to_string_lossy().into_owned();
        match finished_run(dir.path(), Some(&config())) {
            Ok(Some(_)) => prop_assert!(!changed || name == "manifest.json"),
            Ok(None) => prop_assert!(false, "a damaged run passed as unfinished"),
            Err(e) => prop_assert!(e.to_string().contains(&name), "{} does not name {}", e, name),
        }
    }

    #[test]
    fn mutated_config_text_parses_or_fails_cleanly(
        at in any::<usize>(),
        replacement in prop_oneof![
            Just(String::new()),
            Just("=".to_string()),
            Just("[".to_string()),
            Just("18446744073709551615".to_string()),
            Just("-1".to_string()),
            Just("1e308".to_string()),
            Just("nan".to_string()),
            Just("\"x\"".to_string()),
            "[a-z_.=0-9\\[\\] \"\n]{0,12}",
        ],
        span in 0usize..12,
    ) {
        let text = sdc_train::DEFAULT_CONFIG_TOML;
        let mut start = at % (text.len() + 1);
        while !text.is_char_boundary(start) {
            start -= 1;
        }
        let mut end = (start + span).min(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let mutated = format!("{}{}{}", &text[..start], replacement, &text[end..]);
        // Either a config (which then also serialises and re-reads to itself) or an error.
        if let Ok(config) = ExperimentConfig::from_toml_str(&mutated, "fuzz.toml", &[]) {
            let again = ExperimentConfig::from_toml_str(&config.to_toml(), "again", &[])
                .expect("a resolved config re-reads");
            prop_assert_eq!(again, config);
        }
    }
}
