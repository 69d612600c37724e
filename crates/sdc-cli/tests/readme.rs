//! The README, walked in order: every shell line of its code blocks runs with the `sdc` built for
//! this test on the `PATH`, in one scratch directory holding a copy of `configs/` (so the lines
//! see each other's runs, as a reader's shell would). A line that cannot run here is listed in
//! [`NOT_RUN`] with the reason and where it is checked instead; a line neither run nor listed
//! fails the test, so a new README command cannot go untested silently.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Lines not run here, by prefix, and why.
const NOT_RUN: &[(&str, &str)] = &[
    ("cargo test", "the test command itself (CI runs it)"),
    (
        "cargo install",
        "a release build of the workspace (minutes); `cargo build` is the same code",
    ),
    (
        "cargo xtask bench",
        "a benchmark (minutes; writes bench/results.md)",
    ),
    (
        "cargo xtask",
        "project automation over the same library code as `sdc`",
    ),
    (
        "sdc fetch-data",
        "network; the fetchers are tested against a local server in sdc-data",
    ),
    (
        "pip ",
        "the Python package (.ci/python.sh builds and tests it)",
    ),
    (
        "python",
        "the Python package (.ci/python.sh builds and tests it)",
    ),
    (
        "maturin",
        "the Python package (.ci/python.sh builds and tests it)",
    ),
    ("sbatch", "a SLURM cluster"),
];

/// Lines of synopsis (placeholders such as `[--out DIR]` or `FILE`), shown for reference only.
fn is_synopsis(line: &str) -> bool {
    line.contains(" [") || line.contains(" FILE") || line.contains(" DIR") || line.contains("<")
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The shell lines of the README's ```sh blocks, without their trailing comments.
fn readme_lines() -> Vec<String> {
    let text = std::fs::read_to_string(repo().join("README.md")).expect("README.md");
    let mut lines = Vec::new();
    let mut in_sh = false;
    for line in text.lines() {
        if let Some(fence) = line.strip_prefix("```") {
            in_sh = !in_sh && fence.trim() == "sh";
            continue;
        }
        if !in_sh {
            continue;
        }
        let code = strip_comment(line).trim().to_string();
        if !code.is_empty() {
            lines.push(code);
        }
    }
    lines
}

/// `line` up to a `#` that starts a shell comment (outside quotes, after whitespace).
fn strip_comment(line: &str) -> &str {
    let (mut single, mut double, mut prev) = (false, false, ' ');
    for (i, c) in line.char_indices() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single && prev != '\\' => double = !double,
            '#' if !single && !double && prev.is_whitespace() => return &line[..i],
            _ => {}
        }
        prev = c;
    }
    line
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy");
    }
}

#[test]
fn every_readme_command_runs_in_order() {
    let scratch = tempfile::tempdir().expect("tempdir");
    copy_dir(&repo().join("configs"), &scratch.path().join("configs"));
    let bin = Path::new(env!("CARGO_BIN_EXE_sdc"))
        .parent()
        .expect("the binary's directory")
        .to_path_buf();
    let path = std::env::join_paths(std::iter::once(bin).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .expect("PATH");

    let (mut ran, mut skipped) = (0, 0);
    for line in readme_lines() {
        // The source-tree spelling of `sdc` is the same binary.
        let command = line.replace("cargo run --release -p sdc-cli --", "sdc");
        if is_synopsis(&command) {
            skipped += 1;
            continue;
        }
        if let Some((_, why)) = NOT_RUN
            .iter()
            .find(|(prefix, _)| command.starts_with(prefix))
        {
            eprintln!("not run: {line}  ({why})");
            skipped += 1;
            continue;
        }
        assert!(
            command.starts_with("sdc "),
            "README line neither run nor listed in NOT_RUN: {line}"
        );
        let started = std::time::Instant::now();
        let out = Command::new("bash")
            .args(["-euo", "pipefail", "-c", &command])
            .current_dir(scratch.path())
            .env("PATH", &path)
            .env("RUST_BACKTRACE", "0")
            .output()
            .expect("bash runs");
        assert!(
            out.status.success(),
            "README line failed: {line}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!("ran in {:.1} s: {line}", started.elapsed().as_secs_f64());
        ran += 1;
    }
    eprintln!("{ran} README lines ran, {skipped} not run");
    assert!(ran >= 5, "only {ran} README lines ran");
}

#[test]
fn comments_are_stripped_outside_quotes_only() {
    assert_eq!(strip_comment("sdc train   # the default"), "sdc train   ");
    assert_eq!(
        strip_comment("sdc train --set a=\"#x\" # c"),
        "sdc train --set a=\"#x\" "
    );
    assert_eq!(
        strip_comment("sdc train --set a=\\\"f64\\\" # c"),
        "sdc train --set a=\\\"f64\\\" "
    );
}
