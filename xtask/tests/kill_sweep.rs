//! A sweep killed with `kill -9` at arbitrary moments, then restarted, ends with the same runs,
//! byte for byte, as one that was never interrupted: each run resumes from its last whole
//! checkpoint and no finished run is trained again.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SPEC: &str = r#"
name = "killed"
claim = "A sweep survives kill -9."
source = "test"
base = "configs/dataset2-arch2.toml"
seeds = 2
set = { "data.n_train" = 200, "data.n_test" = 60, "train.max_epochs" = 60, "train.batch_size" = 50, "train.checkpoint_every" = 1, "train.stop.loss" = 0.0 }

[[axis]]
key = "model.averaging_layer"
label = "k"
values = [0, 1]

[verdict]
metric = "train.ftpt"
"#;

fn reproduce(experiments: &Path, out: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_xtask"));
    command
        .args(["reproduce", "--jobs", "2", "--experiments"])
        .arg(experiments)
        .arg("--out")
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

fn files(dir: &Path, name: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.extend(files(&path, name));
        } else if path.file_name().is_some_and(|n| n == name) {
            out.push(path);
        }
    }
    out.sort();
    out
}

#[test]
fn a_sweep_killed_repeatedly_finishes_with_the_uninterrupted_results() {
    let dir = tempfile::tempdir().expect("tempdir");
    let experiments = dir.path().join("experiments");
    std::fs::create_dir_all(&experiments).expect("mkdir");
    std::fs::write(experiments.join("killed.toml"), SPEC).expect("write");

    let whole = dir.path().join("whole");
    assert!(
        reproduce(&experiments, &whole)
            .status()
            .expect("runs")
            .success()
    );

    let killed = dir.path().join("killed");
    let mut kills = 0;
    let mut finished = false;
    for i in 0..300u64 {
        let mut child = reproduce(&experiments, &killed).spawn().expect("spawn");
        // Kill points 20-180 ms after each start: a fixed pseudo-random sequence.
        let delay = Duration::from_millis(20 + (i * 7919 + 5) % 161);
        let started = Instant::now();
        while started.elapsed() < delay {
            if let Some(status) = child.try_wait().expect("wait") {
                assert!(status.success(), "a restarted sweep failed: {status:?}");
                finished = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        if finished {
            break;
        }
        child.kill().expect("kill -9");
        child.wait().expect("reap");
        kills += 1;
    }
    assert!(finished, "the sweep never finished");
    assert!(kills >= 20, "only {kills} kills landed mid-sweep");
    for name in ["metrics.csv", "summary.json"] {
        let (a, b) = (files(&whole, name), files(&killed, name));
        assert_eq!(a.len(), 4, "{name}: one per run");
        assert_eq!(a.len(), b.len(), "{name}");
        for (x, y) in a.iter().zip(&b) {
            assert!(
                std::fs::read(x).expect("read") == std::fs::read(y).expect("read"),
                "{} differs after {kills} kills",
                y.display()
            );
        }
    }
}
