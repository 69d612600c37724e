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

/// Run directories under `cwd/runs`.
fn run_dirs(cwd: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(cwd.join("runs"))
        .map(|entries| {
            entries
                .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn default_run_directories_never_collide_and_a_failed_start_leaves_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let small = [
        "--quiet",
        "train",
        "--set",
        "data.n_train=100",
        "--set",
        "data.n_test=50",
        "--set",
        "train.max_epochs=2",
    ];
    // A backend this build lacks is refused before anything is written.
    let mut wgpu = small.to_vec();
    wgpu.extend(["--set", "train.backend=\"wgpu\""]);
    let failed = sdc(&wgpu, dir.path());
    if !failed.status.success() {
        assert!(
            !dir.path().join("runs").exists(),
            "{:?}",
            run_dirs(dir.path())
        );
    }

    let first = sdc(&small, dir.path());
    assert!(first.status.success(), "{}", stderr(&first));
    // The README's order: the default run, then the same run in f64.
    let mut f64_args = small.to_vec();
    f64_args.extend(["--set", "train.precision=\"f64\""]);
    let second = sdc(&f64_args, dir.path());
    assert!(second.status.success(), "{}", stderr(&second));
    let names = run_dirs(dir.path());
    let f32_names: Vec<&String> = names
        .iter()
        .filter(|n| n.starts_with("dataset2-arch2-k0-seed0-"))
        .collect();
    assert_eq!(
        f32_names.len(),
        2 + usize::from(failed.status.success()),
        "{names:?}"
    );
    for name in &names {
        let hash = name.rsplit('-').next().expect("a hash");
        assert!(
            hash.len() == 8 && hash.bytes().all(|b| b.is_ascii_hexdigit()),
            "{name}"
        );
        let provenance: serde_json::Value = serde_json::from_slice(
            &std::fs::read(dir.path().join("runs").join(name).join("provenance.json"))
                .expect("provenance.json"),
        )
        .expect("json");
        let session = &provenance["sessions"][0];
        assert_eq!(session["outcome"], "completed", "{provenance}");
        assert!(session["command_line"][1] == "--quiet" && session["ended_utc"].is_string());
        assert_eq!(provenance["sdc_version"], env!("CARGO_PKG_VERSION"));
    }
    // Rerunning the first command trains nothing and says where the run is.
    let again = sdc(&small, dir.path());
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(run_dirs(dir.path()), names);
}

#[test]
fn eval_figures_draw_curves_a_histogram_and_an_honest_gallery() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = sdc(
        &[
            "--quiet",
            "train",
            "--out",
            "run",
            "--set",
            "data.n_train=200",
            "--set",
            "data.n_test=100",
            "--set",
            "train.max_epochs=4",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = sdc(
        &["eval", "--run", "run", "--figures", "--gallery", "10"],
        dir.path(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let report = dir.path().join("run/eval/report");
    let md = std::fs::read_to_string(report.join("run-report.md")).expect("run-report.md");
    for needle in [
        "figures/curves.svg",
        "figures/alpha-at-true.svg",
        "drawn at random (seed 0) in proportion",
    ] {
        assert!(md.contains(needle), "`{needle}` not in {md}");
    }
    // One gallery row per sample, and its cells add up to the draw.
    let rows = md.lines().filter(|l| {
        l.starts_with("| ")
            && l.as_bytes()[2].is_ascii_digit()
            && ["| FTPT |", "| FFPT |", "| FTPF |", "| FFPF |"]
                .iter()
                .any(|c| l.contains(c))
    });
    assert_eq!(rows.count(), 10, "{md}");
    let svg = std::fs::read_to_string(report.join("figures/curves.svg")).expect("svg");
    assert!(svg.contains("train FTPT") && svg.contains("test accuracy"));
    assert!(report.join("run-report.html").is_file());

    // Chosen samples are labelled as chosen; one out of range is refused, naming it.
    let out = sdc(
        &["eval", "--run", "run", "--figures", "--index", "3,5"],
        dir.path(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let md = std::fs::read_to_string(report.join("run-report.md")).expect("run-report.md");
    assert!(md.contains("chosen by index"), "{md}");
    assert_clean_failure(
        &sdc(
            &["eval", "--run", "run", "--figures", "--index", "100"],
            dir.path(),
        ),
        &["gallery index 100", "100 samples"],
    );
}

#[test]
fn sdc_runs_itself_again_so_that_mimalloc_keeps_freed_memory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let var = "MIMALLOC_PURGE_DELAY";
    let run = |value: Option<&str>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_sdc"));
        command
            .args(["-vv", "data", "info", "no-such-file.sdc"])
            .current_dir(dir.path());
        match value {
            Some(v) => command.env(var, v),
            None => command.env_remove(var),
        };
        command.output().expect("sdc runs")
    };
    // Unset: the second start has the option, and the same arguments (the error names the file).
    let out = run(None);
    assert_clean_failure(&out, &["MIMALLOC_PURGE_DELAY=-1", "no-such-file.sdc"]);
    // The user's own value is kept.
    let out = run(Some("10"));
    assert_clean_failure(&out, &["MIMALLOC_PURGE_DELAY=10", "no-such-file.sdc"]);
}
