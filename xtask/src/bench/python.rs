//! The Python environments of the baselines: `bench/.venv` (PyTorch) and `bench/.venv-jax`
//! (JAX), each created on first use from its pinned requirements.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, ensure};

use super::args::Baseline;

impl Baseline {
    /// The venv, relative to the repository root.
    fn venv(self) -> &'static str {
        match self {
            Self::Pytorch => "bench/.venv",
            Self::Jax => "bench/.venv-jax",
        }
    }

    /// The script's directory (bench.py and requirements.txt), relative to the root.
    pub(crate) fn dir(self) -> &'static str {
        match self {
            Self::Pytorch => "bench/pytorch",
            Self::Jax => "bench/jax",
        }
    }

    /// What the install downloads, for the message before it.
    fn download(self) -> &'static str {
        match self {
            Self::Pytorch => "about 2.5 GB of wheels",
            Self::Jax => "about 135 MB of wheels",
        }
    }
}

/// `bench/.venv` with bench/pytorch/requirements.txt installed ([`ensure_baseline_venv`]).
pub(crate) fn ensure_venv(root: &Path) -> Result<PathBuf> {
    ensure_baseline_venv(root, Baseline::Pytorch)
}

/// The baseline's venv with its requirements.txt installed; (re)installs when the requirements
/// changed since the last install. Returns its python.
pub(crate) fn ensure_baseline_venv(root: &Path, baseline: Baseline) -> Result<PathBuf> {
    let venv = root.join(baseline.venv());
    let python = venv.join("bin").join("python");
    let requirements = root.join(baseline.dir()).join("requirements.txt");
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
    // --no-deps: requirements.txt pins every package the baseline needs to run on a CPU (see
    // there).
    eprintln!(
        "installing {} ({})",
        requirements.display(),
        baseline.download()
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
