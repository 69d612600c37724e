//! `sdc reproduce` as an installed binary uses it: run from a folder outside the repository
//! (the specs and configs are built in), and sharded across a simulated Slurm array whose merged
//! report equals the unsharded one.

use std::path::Path;
use std::process::{Command, Output};

mod common;

/// `sdc --quiet reproduce ARGS` in `cwd`, outside any Slurm job.
fn sdc(cwd: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sdc"));
    command
        .current_dir(cwd)
        .arg("--quiet")
        .arg("reproduce")
        .args(args);
    for var in sdc_reproduce::sweep::SLURM_VARS {
        command.env_remove(var);
    }
    command
}

fn ok(output: Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The table lines of a report.
fn tables(dir: &Path) -> Vec<String> {
    let text =
        std::fs::read_to_string(dir.join("report/report.md")).expect("report.md was written");
    let lines: Vec<String> = text
        .lines()
        .filter(|l| l.starts_with('|'))
        .map(str::to_string)
        .collect();
    assert!(!lines.is_empty(), "no table in {text}");
    lines
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

#[test]
fn the_built_in_experiments_list_outside_the_repository() {
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let out = ok(sdc(elsewhere.path(), &["--list", "--quick"])
        .output()
        .expect("sdc runs"));
    for name in ["error-modes", "avg-layer-d2", "mnist-mosaic"] {
        assert!(out.contains(name), "{name} missing from\n{out}");
    }
    let err = sdc(elsewhere.path(), &["--list", "--only", "nope"])
        .output()
        .expect("sdc runs");
    assert!(!err.status.success());
    assert!(
        String::from_utf8_lossy(&err.stderr).contains("no experiment named `nope`; known:"),
        "{}",
        String::from_utf8_lossy(&err.stderr)
    );
}

#[test]
fn a_slurm_array_of_three_shards_merges_into_the_unsharded_report() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cwd = dir.path();
    std::fs::create_dir(cwd.join("specs")).expect("mkdir");
    std::fs::write(cwd.join("specs/tiny.toml"), common::tiny_spec("tiny")).expect("write");
    let common = ["--experiments", "specs", "--jobs", "2"];

    ok(sdc(cwd, &[&common[..], &["--out", "whole"]].concat())
        .output()
        .expect("sdc runs"));

    // `sbatch --array=4-6`: task ids 4, 5, 6 are shards 1, 2, 3 of 3.
    for id in ["4", "5", "6"] {
        let out = ok(sdc(
            cwd,
            &[
                &common[..],
                &["--shard", "slurm", "--out", &format!("task-{id}")],
            ]
            .concat(),
        )
        .env("SLURM_ARRAY_TASK_ID", id)
        .env("SLURM_ARRAY_TASK_COUNT", "3")
        .env("SLURM_ARRAY_TASK_MIN", "4")
        .output()
        .expect("sdc runs"));
        let index = id.parse::<usize>().expect("id") - 3;
        assert!(out.contains(&format!("shard {index}/3")), "{out}");
    }
    // Runs k, k+3, ... belong to shard k+1: 4 runs split 2, 1, 1.
    let runs = |d: &str| {
        walk(&cwd.join(d).join("runs"))
            .iter()
            .filter(|p| p.ends_with("summary.json"))
            .count()
    };
    assert_eq!([runs("task-4"), runs("task-5"), runs("task-6")], [2, 1, 1]);

    for id in ["4", "5", "6"] {
        copy_tree(
            &cwd.join(format!("task-{id}/runs")),
            &cwd.join("merged/runs"),
        );
    }
    let out = ok(sdc(
        cwd,
        &[&common[..], &["--out", "merged", "--report-only"]].concat(),
    )
    .output()
    .expect("sdc runs"));
    assert!(out.contains("report:"), "{out}");
    assert_eq!(tables(&cwd.join("merged")), tables(&cwd.join("whole")));
    // A lone shard's report differs: it lacks the other shards' runs.
    assert_ne!(tables(&cwd.join("task-5")), tables(&cwd.join("whole")));

    // Outside an array job, `--shard slurm` says what is missing.
    let output = sdc(
        cwd,
        &[&common[..], &["--shard", "slurm", "--out", "x"]].concat(),
    )
    .output()
    .expect("sdc runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("SLURM_ARRAY_TASK_ID is not set"),
        "{stderr}"
    );
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn two_dataset_draws_double_the_runs_and_the_report_counts_the_draws_the_claim_holds_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cwd = dir.path();
    std::fs::create_dir(cwd.join("specs")).expect("mkdir");
    std::fs::write(cwd.join("specs/tiny.toml"), common::tiny_spec("tiny")).expect("write");
    let common = ["--experiments", "specs", "--jobs", "2"];

    let listed = ok(
        sdc(cwd, &[&common[..], &["--list", "--datasets", "3"]].concat())
            .output()
            .expect("sdc runs"),
    );
    assert!(
        listed.contains("12 runs (full, 3 dataset draws)"),
        "{listed}"
    );
    let zero = sdc(cwd, &[&common[..], &["--datasets", "0"]].concat())
        .output()
        .expect("sdc runs");
    assert!(!zero.status.success());
    assert!(
        String::from_utf8_lossy(&zero.stderr).contains("--datasets"),
        "{}",
        String::from_utf8_lossy(&zero.stderr)
    );

    ok(sdc(cwd, &[&common[..], &["--out", "one"]].concat())
        .output()
        .expect("sdc runs"));
    let out = ok(sdc(
        cwd,
        &[&common[..], &["--out", "two", "--datasets", "2"]].concat(),
    )
    .output()
    .expect("sdc runs"));
    assert!(out.contains("8 of 8 planned runs"), "{out}");

    // Draw 0 in today's directories, draw 1 under data-1 with the next data.seed.
    let finished = |d: &str| -> Vec<String> {
        let root = cwd.join(d).join("runs");
        let mut dirs: Vec<String> = walk(&root)
            .iter()
            .filter(|p| p.ends_with("summary.json"))
            .map(|p| {
                let dir = p
                    .parent()
                    .expect("run dir")
                    .strip_prefix(&root)
                    .expect("under runs");
                dir.display().to_string()
            })
            .collect();
        dirs.sort();
        dirs
    };
    let (one, two) = (finished("one"), finished("two"));
    assert_eq!(one.len(), 4);
    assert_eq!(two.len(), 8);
    assert!(one.iter().all(|d| two.contains(d)), "{one:?} in {two:?}");
    assert!(
        two.contains(&"tiny/data-1/k=0/seed-00".to_string()),
        "{two:?}"
    );
    let seed_line = |run: &str| {
        let config = std::fs::read_to_string(cwd.join("two/runs").join(run).join("config.toml"))
            .expect("config.toml");
        let data = &config[config.find("[data]").expect("a [data] table")..];
        data.lines()
            .find(|l| l.starts_with("seed = "))
            .expect("data.seed")
            .to_string()
    };
    assert_eq!(seed_line("tiny/k=0/seed-00"), "seed = 0");
    assert_eq!(seed_line("tiny/data-1/k=0/seed-00"), "seed = 1");

    // Draw 0's results are today's, byte for byte; the report adds the draws.
    let table = |d: &str| std::fs::read(cwd.join(d).join("report/tables/tiny.csv")).expect("csv");
    assert_eq!(table("one"), table("two"));
    let report =
        |d: &str| std::fs::read_to_string(cwd.join(d).join("report/report.md")).expect("report.md");
    let (plain, drawn) = (report("one"), report("two"));
    assert!(!plain.contains("Dataset draws"), "{plain}");
    assert!(
        drawn.contains("| Experiment | Verdict | holds on k of N datasets | Claim | Source |"),
        "{drawn}"
    );
    // Two seeds per grid point cannot decide: both draws are undecided, and say so.
    assert!(
        drawn.contains("**Dataset draws:** holds on 0 of 2, 2 inconclusive (draw 0: inconclusive, draw 1: inconclusive)"),
        "{drawn}"
    );
    assert!(
        drawn.contains("- Draw 1 (data.seed 1, 4 of 4 runs finished): *inconclusive*."),
        "{drawn}"
    );
    assert!(drawn.contains("--datasets 2"), "{drawn}");

    // The plan counts the draws (costs recorded from the runs just made: no calibration).
    let planned = ok(sdc(
        cwd,
        &[&common[..], &["--out", "two", "--datasets", "2", "--plan"]].concat(),
    )
    .output()
    .expect("sdc runs"));
    assert!(planned.contains("total: 8 runs"), "{planned}");
    assert!(planned.contains("recorded (8 runs)"), "{planned}");
    // Without runs, the cost is calibrated on draw 0, whose calibration an earlier plan without
    // draws may already have made.
    let fresh = [&common[..], &["--out", "fresh", "--plan"]].concat();
    let planned = ok(sdc(cwd, &fresh).output().expect("sdc runs"));
    assert!(planned.contains("total: 4 runs"), "{planned}");
    let planned = ok(sdc(cwd, &[&fresh[..], &["--datasets", "2"]].concat())
        .output()
        .expect("sdc runs"));
    assert!(planned.contains("total: 8 runs"), "{planned}");
    assert!(planned.contains("measured (2 x 2 epochs)"), "{planned}");
}
