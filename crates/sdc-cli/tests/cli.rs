//! The `sdc` binary on bad input: clear errors naming the problem, never a panic.

use std::path::Path;
use std::process::{Command, Output};

fn sdc(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sdc"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("sdc runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn assert_clean_failure(out: &Output, needles: &[&str]) {
    let err = stderr(out);
    assert!(
        !out.status.success(),
        "expected failure, got success: {err}"
    );
    assert!(
        !err.contains("panicked"),
        "panic instead of an error: {err}"
    );
    for needle in needles {
        assert!(err.contains(needle), "`{needle}` not in: {err}");
    }
}

#[test]
fn bad_configs_are_refused_with_the_key_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases: &[(&[&str], &[&str])] = &[
        (&["train", "--set", "data.n_segments=0"], &["n_segments"]),
        (
            &["train", "--set", "model.averaging_layer=3"],
            &["model.averaging_layer", "0..=2"],
        ),
        (
            &["train", "--set", "data.fg_classes=[0, 1, 17]"],
            &["fg_classes", "17"],
        ),
        (&["train", "--set", "train.max_epoch=5"], &["max_epoch"]),
        (
            &["train", "--set", "train.batch_size=\"big\""],
            &["train.batch_size"],
        ),
        (&["train", "--config", "missing.toml"], &["missing.toml"]),
    ];
    for (args, needles) in cases {
        let out = sdc(args, dir.path());
        assert_clean_failure(&out, needles);
    }
    std::fs::write(dir.path().join("broken.toml"), "[data\ndistribution = ").expect("write");
    assert_clean_failure(
        &sdc(&["train", "--config", "broken.toml"], dir.path()),
        &["broken.toml"],
    );
}

#[test]
fn corrupt_dataset_files_are_refused_with_the_file_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let generated = sdc(
        &[
            "data",
            "gen",
            "--set",
            "data.n_train=20",
            "--set",
            "data.n_test=10",
            "--out",
            "d",
        ],
        dir.path(),
    );
    assert!(generated.status.success(), "{}", stderr(&generated));
    let file = dir.path().join("d/train.sdc");
    let info = sdc(&["data", "info", "d/train.sdc"], dir.path());
    assert!(info.status.success(), "{}", stderr(&info));
    assert!(String::from_utf8_lossy(&info.stdout).contains("20 mosaics"));

    let bytes = std::fs::read(&file).expect("read");
    std::fs::write(&file, &bytes[..bytes.len() / 2]).expect("truncate");
    assert_clean_failure(
        &sdc(&["data", "info", "d/train.sdc"], dir.path()),
        &["train.sdc", "truncated"],
    );

    let mut flipped = bytes.clone();
    let mid = flipped.len() - 40;
    flipped[mid] ^= 0x55;
    std::fs::write(&file, &flipped).expect("flip");
    assert_clean_failure(
        &sdc(&["data", "info", "d/train.sdc"], dir.path()),
        &["train.sdc"],
    );

    std::fs::write(&file, b"hello").expect("garbage");
    assert_clean_failure(
        &sdc(&["data", "info", "d/train.sdc"], dir.path()),
        &["train.sdc"],
    );
}

#[test]
fn train_then_eval_on_a_saved_dataset() {
    let dir = tempfile::tempdir().expect("tempdir");
    let common = [
        "--set",
        "data.n_train=200",
        "--set",
        "data.n_test=100",
        "--set",
        "train.max_epochs=3",
    ];
    let mut train_args = vec!["--quiet", "train", "--out", "run"];
    train_args.extend(common);
    let out = sdc(&train_args, dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("FTPT") && stdout.contains("test"),
        "{stdout}"
    );

    let mut gen_args = vec!["data", "gen", "--out", "d"];
    gen_args.extend(common);
    assert!(sdc(&gen_args, dir.path()).status.success());
    let out = sdc(
        &["eval", "--run", "run", "--data", "d/test.sdc"],
        dir.path(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let csv =
        std::fs::read_to_string(dir.path().join("run/eval/test/predictions.csv")).expect("csv");
    assert_eq!(csv.lines().count(), 101, "header + one row per mosaic");

    // A dataset of the wrong shape is refused, naming the mismatch.
    let generated = sdc(
        &["data", "gen", "--config", "../type4.toml", "--out", "t"],
        dir.path(),
    );
    assert!(!generated.status.success());
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/dataset1.toml");
    let generated = sdc(
        &[
            "data",
            "gen",
            "--config",
            root.to_str().expect("utf8"),
            "--set",
            "data.n_train=10",
            "--set",
            "data.n_test=10",
            "--out",
            "t",
        ],
        dir.path(),
    );
    assert!(generated.status.success(), "{}", stderr(&generated));
    assert_clean_failure(
        &sdc(
            &["eval", "--run", "run", "--data", "t/test.sdc"],
            dir.path(),
        ),
        &["dimension 2", "expects 5"],
    );
}
