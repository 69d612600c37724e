//! The Python environment of the PyTorch baseline: `bench/.venv`, created on first use.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, ensure};

/// `bench/.venv` with bench/pytorch/requirements.txt installed; (re)installs when the
/// requirements changed since the last install. Returns its python.
pub(crate) fn ensure_venv(root: &Path) -> Result<PathBuf> {
    let venv = root.join("bench").join(".venv");
    let python = venv.join("bin").join("python");
    let requirements = root.join("bench").join("pytorch").join("requirements.txt");
    let wanted = std::fs::read_to_string(&requirements)
        .with_context(|| format!("reading {}", requirements.display()))?;
    let stamp = venv.join("installed-requirements.txt");
    if python.is_file() && std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str())
    {
        return Ok(python);
    }
    if !python.is_file() {
        eprintln!("creating {} (python3 -m venv)", venv.display());
        run_checked(Command::new("python3").arg("-m").arg("venv").arg(&venv))?;
    }
    // --no-deps: requirements.txt pins every package torch needs to run on a CPU (see there).
    eprintln!(
        "installing {} (about 2.5 GB of wheels)",
        requirements.display()
    );
    run_checked(
        Command::new(venv.join("bin").join("pip"))
            .args(["install", "--disable-pip-version-check", "--no-deps", "-r"])
            .arg(&requirements),
    )?;
    std::fs::write(&stamp, wanted).with_context(|| format!("writing {}", stamp.display()))?;
    Ok(python)
}

/// Runs `command`, failing unless it exits successfully.
fn run_checked(command: &mut Command) -> Result<()> {
    let status = command
        .status()
        .with_context(|| format!("starting {command:?}"))?;
    ensure!(status.success(), "{command:?} failed: {status}");
    Ok(())
}
