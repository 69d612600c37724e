//! Faults a run must survive without lying: `kill -9` at any moment, a second writer on the same
//! directory, a diverging learning rate, absurd sizes, damaged files. Each ends in the correct
//! result or a clear error; never a panic, an abort, or a wrong result with exit 0.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A small run that trains for a while (no loss-based stop) with a checkpoint every epoch.
const RUN: &[&str] = &[
    "--set",
    "data.n_train=200",
    "--set",
    "data.n_test=100",
    "--set",
    "train.batch_size=50",
    "--set",
    "train.max_epochs=300",
    "--set",
    "train.stop.loss=0",
    "--set",
    "train.checkpoint_every=1",
];

fn sdc() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sdc"));
    command.arg("--quiet");
    command
}

fn train(out: &Path, extra: &[&str]) -> Command {
    let mut command = sdc();
    command
        .arg("train")
        .args(RUN)
        .args(extra)
        .arg("--out")
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

fn output(command: &mut Command) -> Output {
    command.output().expect("sdc runs")
}

fn assert_clean_failure(out: &Output, needles: &[&str]) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "expected failure, got success: {err}"
    );
    assert!(
        !err.contains("panicked") && out.status.code().is_some(),
        "panic or abort instead of an error ({:?}): {err}",
        out.status
    );
    for needle in needles {
        assert!(err.contains(needle), "`{needle}` not in: {err}");
    }
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The deterministic files of a finished run (`model.bpk` holds the same values, but Burn's
/// parameter ids in it differ from process to process).
const DETERMINISTIC: [&str; 3] = ["metrics.csv", "metrics.jsonl", "summary.json"];

#[test]
fn kill_9_at_any_moment_resumes_to_the_uninterrupted_result() {
    let dir = tempfile::tempdir().expect("tempdir");
    let whole = dir.path().join("whole");
    let out = output(&mut train(&whole, &[]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Kill points spread over 15-135 ms after each start (a fixed pseudo-random sequence, so
    // a failure can be replayed) until KILLS kills landed mid-run; each restart resumes from the
    // last whole checkpoint, and one last start runs to the end.
    const KILLS: usize = 30;
    let killed = dir.path().join("killed");
    let mut kills = 0;
    let mut i = 0u64;
    while kills < KILLS {
        let mut child: Child = train(&killed, &[]).spawn().expect("spawn");
        let delay = Duration::from_millis(15 + (i * 7919 + 13) % 121);
        i += 1;
        let started = Instant::now();
        let mut exited = None;
        while started.elapsed() < delay {
            exited = child.try_wait().expect("wait");
            if exited.is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        match exited {
            Some(status) => {
                let mut err = String::new();
                use std::io::Read;
                if let Some(mut stderr) = child.stderr.take() {
                    let _ = stderr.read_to_string(&mut err);
                }
                assert!(status.success(), "a restart failed: {err}");
                break;
            }
            None => {
                child.kill().expect("kill -9");
                child.wait().expect("reap");
                kills += 1;
            }
        }
    }
    assert!(
        kills >= 20,
        "only {kills} kills landed before the run finished"
    );
    let last = output(&mut train(&killed, &[]));
    assert!(
        last.status.success(),
        "{}",
        String::from_utf8_lossy(&last.stderr)
    );
    for file in DETERMINISTIC {
        assert!(
            read(&whole.join(file)) == read(&killed.join(file)),
            "{file} differs after {kills} kills"
        );
    }
    assert!(
        !killed.join("checkpoint").exists(),
        "checkpoints removed at the end"
    );
}

/// Lines in `path` (0 while it does not exist).
fn lines(path: &Path) -> usize {
    std::fs::read(path).map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count())
}

#[test]
fn sigint_and_sigterm_checkpoint_then_resume_to_the_uninterrupted_result() {
    let dir = tempfile::tempdir().expect("tempdir");
    let whole = dir.path().join("whole");
    let no_scheduled_checkpoint = ["--set", "train.checkpoint_every=0"];
    let out = output(&mut train(&whole, &no_scheduled_checkpoint));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let stopped = dir.path().join("stopped");
    for signal in ["-INT", "-TERM"] {
        let mut child = train(&stopped, &no_scheduled_checkpoint)
            .spawn()
            .expect("spawn");
        // Signal once a few more epochs have been logged (polling the run's own progress).
        let target = lines(&stopped.join("metrics.csv")) + 3;
        while lines(&stopped.join("metrics.csv")) < target {
            assert!(
                child.try_wait().expect("wait").is_none(),
                "finished before the signal"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        let pid = child.id().to_string();
        let kill = Command::new("kill")
            .args([signal, &pid])
            .status()
            .expect("kill");
        assert!(kill.success());
        let out = child.wait_with_output().expect("exits");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(130), "{signal}: {err}");
        assert!(
            err.contains("checkpoint saved") && !err.contains("panicked"),
            "{err}"
        );
        let generations = std::fs::read_dir(stopped.join("checkpoint")).expect("a checkpoint");
        assert_eq!(generations.count(), 1, "one complete checkpoint");
        assert!(!stopped.join("manifest.json").exists(), "not finished");
    }
    let out = output(&mut train(&stopped, &no_scheduled_checkpoint));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for file in DETERMINISTIC {
        assert!(
            read(&whole.join(file)) == read(&stopped.join(file)),
            "{file} differs after the signals"
        );
    }
    let provenance: serde_json::Value =
        serde_json::from_slice(&read(&stopped.join("provenance.json"))).expect("json");
    let outcomes: Vec<&str> = provenance["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .map(|s| s["outcome"].as_str().expect("an outcome"))
        .collect();
    assert_eq!(outcomes.len(), 3, "{provenance}");
    assert!(
        outcomes[0].starts_with("interrupted") && outcomes[2] == "completed",
        "{outcomes:?}"
    );
    assert!(provenance["sessions"][2]["first_epoch"].as_u64() > Some(1));
}

#[test]
fn a_second_trainer_on_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = dir.path().join("run");
    let mut first = train(&run, &[]).spawn().expect("spawn");
    // Wait until the first holds the lock and has logged an epoch.
    let started = Instant::now();
    while !run.join("metrics.csv").is_file() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the first trainer never started"
        );
        if let Some(status) = first.try_wait().expect("wait") {
            panic!("the first trainer ended early: {status:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let second = output(&mut train(&run, &[]));
    assert_clean_failure(&second, &["in use by another sdc process", "pid"]);
    assert!(first.wait().expect("first").success());
    let reference = dir.path().join("reference");
    assert!(output(&mut train(&reference, &[])).status.success());
    assert!(
        read(&run.join("metrics.csv")) == read(&reference.join("metrics.csv")),
        "nothing duplicated"
    );
}

#[test]
fn a_diverging_run_is_recorded_and_fails_every_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = dir.path().join("run");
    let args = [
        "--set",
        "data.n_train=300",
        "--set",
        "train.batch_size=300",
        "--set",
        "train.max_epochs=1",
        "--set",
        "train.optimizer.lr=1e30",
    ];
    let mut command = sdc();
    command.arg("train").args(args).arg("--out").arg(&run);
    assert_clean_failure(&output(&mut command), &["diverged at epoch 1"]);
    let summary = String::from_utf8(read(&run.join("summary.json"))).expect("utf-8");
    assert!(summary.contains("\"status\": \"diverged\""), "{summary}");
    assert!(!summary.contains("null"), "{summary}");
    // No row of non-finite numbers is logged (here epoch 1 diverged: no row at all).
    let metrics = std::fs::read_to_string(run.join("metrics.csv")).unwrap_or_default();
    assert!(
        !metrics.contains("NaN") && !metrics.contains("inf"),
        "{metrics}"
    );
    // Rerunning gives the same answer, not a parse error or a silent success.
    assert_clean_failure(&output(&mut command), &["diverged at epoch 1"]);

    // A learning rate that blows the loss up without a NaN is caught at the end.
    let blown = dir.path().join("blown");
    let mut command = sdc();
    command
        .arg("train")
        .args(["--set", "data.n_train=300", "--set", "train.max_epochs=20"])
        .args(["--set", "train.optimizer.lr=1e6", "--out"])
        .arg(&blown);
    assert_clean_failure(&output(&mut command), &["diverged"]);
}

#[test]
fn sizes_are_checked_before_anything_is_allocated() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases: &[(&str, &[&str])] = &[
        (
            "model.classifier.hidden=[9223372036854775807]",
            &["model.classifier.hidden", "needs"],
        ),
        (
            "model.focus.hidden=[1000000000]",
            &["model.focus.hidden", "needs"],
        ),
        (
            "data.n_train=1000000000000",
            &["data.n_train = 1000000000000 needs", "TiB"],
        ),
        ("data.n_test=1000000000000", &["data.n_test", "needs"]),
        ("data.n_segments=4000000000", &["data.n_", "needs"]),
        ("data.n_base=100000000000000", &["data.n_base", "needs"]),
        ("name=\"../../escape\"", &["name", "one directory name"]),
    ];
    for (set, needles) in cases {
        let mut command = sdc();
        command
            .current_dir(dir.path())
            .args(["train", "--set", set]);
        assert_clean_failure(&output(&mut command), needles);
    }
    assert!(!dir.path().join("runs").exists(), "nothing was written");
}

#[cfg(target_os = "linux")]
#[test]
fn data_info_reads_only_what_a_header_promises() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut command = sdc();
    command.args(["data", "info", "/dev/zero"]);
    assert_clean_failure(&output(&mut command), &["/dev/zero", "magic"]);

    // A valid-CRC file whose header claims 2^62 segments (and no samples, so the length fits).
    let header = br#"{"n_samples":0,"n_segments":4611686018427387904,"dim":1,"n_classes":2147483648,"meta":null}"#;
    let mut bytes = b"SDCDATA\0".to_vec();
    bytes.extend_from_slice(&1u32.to_le_bytes());
    bytes.extend_from_slice(&(header.len() as u32).to_le_bytes());
    bytes.extend_from_slice(header);
    let crc = crc32fast::hash(&bytes);
    bytes.extend_from_slice(&crc.to_le_bytes());
    let path = dir.path().join("huge.sdc");
    std::fs::write(&path, &bytes).expect("write");
    let mut command = sdc();
    command.args(["data", "info"]).arg(&path);
    assert_clean_failure(&output(&mut command), &["huge.sdc", "n_segments"]);
}

#[test]
fn a_finished_run_that_was_edited_or_damaged_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = dir.path().join("run");
    let quick = ["--set", "data.n_train=200", "--set", "train.max_epochs=3"];
    let mut command = sdc();
    command.arg("train").args(quick).arg("--out").arg(&run);
    assert!(output(&mut command).status.success());

    // Edit config.toml and rerun the edited config: not "already finished".
    let config = run.join("config.toml");
    let original = read(&config);
    let edited = String::from_utf8(original.clone())
        .expect("utf-8")
        .replace("max_epochs = 3", "max_epochs = 4");
    std::fs::write(&config, &edited).expect("edit");
    let mut rerun = sdc();
    rerun
        .args(["train", "--config"])
        .arg(&config)
        .arg("--out")
        .arg(&run);
    assert_clean_failure(&output(&mut rerun), &["config.toml", "SHA-256"]);
    std::fs::write(&config, &original).expect("restore");

    // One flipped byte in the final model: eval names the file instead of scoring it.
    let model = run.join("model.bpk");
    let mut bytes = read(&model);
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(&model, &bytes).expect("flip");
    let mut eval = sdc();
    eval.args(["eval", "--run"]).arg(&run);
    assert_clean_failure(&output(&mut eval), &["model.bpk", "SHA-256"]);
    assert_clean_failure(&output(&mut command), &["model.bpk", "SHA-256"]);
}

#[test]
fn evaluating_an_empty_dataset_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = dir.path().join("run");
    let mut command = sdc();
    command
        .arg("train")
        .args(["--set", "data.n_train=200", "--set", "train.max_epochs=2"])
        .arg("--out")
        .arg(&run);
    assert!(output(&mut command).status.success());
    let data = dir.path().join("data");
    let mut generate = sdc();
    generate
        .args([
            "data",
            "gen",
            "--set",
            "data.n_test=0",
            "--set",
            "data.n_train=10",
            "--out",
        ])
        .arg(&data);
    let generated = output(&mut generate);
    if !generated.status.success() {
        // n_test = 0 refused at generation is a clean refusal too.
        assert_clean_failure(&generated, &["n_test"]);
        return;
    }
    let mut eval = sdc();
    eval.args(["eval", "--run"])
        .arg(&run)
        .arg("--data")
        .arg(data.join("test.sdc"));
    assert_clean_failure(&output(&mut eval), &["test.sdc", "no samples"]);
}
