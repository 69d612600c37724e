//! The README, walked in order: every shell line of its code blocks runs with the `sdc` built for
//! this test on the `PATH`, in one scratch directory holding a copy of `configs/` (so the lines
//! see each other's runs, as a reader's shell would). A line that cannot run here is listed in
//! [`NOT_RUN`] with the reason and where it is checked instead; a line neither run nor listed
//! fails the test, so a new README command cannot go untested silently. Fetching needs the
//! network, so `data/mnist` holds synthetic IDX files of MNIST's format instead (the fetchers
//! have their own tests). `sdc reproduce` lines run on one tiny spec named like the README's
//! examples (`--experiments` appended, except to `--list`), inside a simulated one-task Slurm
//! array: the same code paths as the real sweep, at a size CI can afford.

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;

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

/// The shell lines of the README's ```sh blocks, without their trailing comments; a line ending
/// in `\\` continues on the next.
fn readme_lines() -> Vec<String> {
    let text = std::fs::read_to_string(repo().join("README.md")).expect("README.md");
    let text = text.replace("\\\n", " ");
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

/// MNIST-format IDX files under `dir`: `n` images per split, classes cycling 0-9, each class a
/// bright 7x7 square at its own place.
fn write_mnist(dir: &Path, n: usize) {
    std::fs::create_dir_all(dir).expect("mkdir");
    for prefix in ["train", "t10k"] {
        let header =
            |words: &[u32]| -> Vec<u8> { words.iter().flat_map(|w| w.to_be_bytes()).collect() };
        let mut images = header(&[0x0803, n as u32, 28, 28]);
        let mut labels = header(&[0x0801, n as u32]);
        for i in 0..n {
            let c = i % 10;
            let (r0, c0) = ((c / 4) * 7, (c % 4) * 7);
            images.extend((0..28 * 28).map(|k| {
                let (r, col) = (k / 28, k % 28);
                let bright = (r0..r0 + 7).contains(&r) && (c0..c0 + 7).contains(&col);
                if bright { 230 } else { ((k + i) % 17) as u8 }
            }));
            labels.push(c as u8);
        }
        std::fs::write(dir.join(format!("{prefix}-images-idx3-ubyte")), images).expect("write");
        std::fs::write(dir.join(format!("{prefix}-labels-idx1-ubyte")), labels).expect("write");
    }
}

#[test]
fn every_readme_command_runs_in_order() {
    let scratch = tempfile::tempdir().expect("tempdir");
    copy_dir(&repo().join("configs"), &scratch.path().join("configs"));
    write_mnist(&scratch.path().join("data/mnist"), 1000);
    let tiny = scratch.path().join("tiny-experiments");
    std::fs::create_dir_all(&tiny).expect("mkdir");
    std::fs::write(
        tiny.join("avg-layer-d2.toml"),
        common::tiny_spec("avg-layer-d2"),
    )
    .expect("spec");
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
        let mut command = line.replace("cargo run --release -p sdc-cli --", "sdc");
        if command.starts_with("sdc reproduce") && !command.contains("--list") {
            command.push_str(" --experiments tiny-experiments");
        }
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
            command.starts_with("sdc ") || command.starts_with("cp "),
            "README line neither run nor listed in NOT_RUN: {line}"
        );
        let started = std::time::Instant::now();
        let out = Command::new("bash")
            .args(["-euo", "pipefail", "-c", &command])
            .current_dir(scratch.path())
            .env("PATH", &path)
            .env("RUST_BACKTRACE", "0")
            .env_remove("SDC_DATA")
            .env("SLURM_ARRAY_TASK_ID", "1")
            .env("SLURM_ARRAY_TASK_COUNT", "1")
            .env("SLURM_ARRAY_TASK_MIN", "1")
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
