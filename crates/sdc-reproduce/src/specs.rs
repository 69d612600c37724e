//! Where the experiment specs and the base configs they name come from: built into the binary
//! (the repository's `experiments/` and `configs/` as they were when it was compiled, so that an
//! installed `sdc reproduce` runs anywhere), or a directory of spec files.

use std::path::{Path, PathBuf};

use sdc_train::{ExperimentConfig, TrainError};

use crate::experiment::ExperimentSpec;

include!(concat!(env!("OUT_DIR"), "/builtin.rs"));

/// The source of the experiment specs of a reproduction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SpecSource {
    /// The specs built into the binary; their bases are the built-in configs.
    Builtin,
    /// Every `*.toml` in `experiments`. A spec's `base` is read from `root/<base>` when that file
    /// exists, else from the built-in config of the same path (`configs/<name>.toml`), so a
    /// spec written outside the repository can still name the shipped configs.
    Dir {
        /// The folder of spec files.
        experiments: PathBuf,
        /// The folder that `base` paths are relative to (the repository root for
        /// `cargo xtask`, the working directory for `sdc`).
        root: PathBuf,
    },
}

impl SpecSource {
    /// Every spec of this source, sorted by name; two specs of one name are an error.
    pub fn load(&self) -> Result<Vec<ExperimentSpec>, TrainError> {
        match self {
            SpecSource::Builtin => {
                let mut specs = BUILTIN_EXPERIMENTS
                    .iter()
                    .map(|(path, text)| ExperimentSpec::from_toml_str(text, &builtin_origin(path)))
                    .collect::<Result<Vec<_>, _>>()?;
                specs.sort_by(|a, b| a.name.cmp(&b.name));
                ExperimentSpec::check_unique(&specs, "the built-in experiments")?;
                Ok(specs)
            }
            SpecSource::Dir { experiments, .. } => ExperimentSpec::load_dir(experiments),
        }
    }

    /// The base config `base` of a spec, with `overrides` applied.
    pub fn load_base(
        &self,
        base: &Path,
        overrides: &[String],
    ) -> Result<ExperimentConfig, TrainError> {
        if let SpecSource::Dir { root, .. } = self {
            let path = root.join(base);
            if path.is_file() || builtin_config(base).is_none() {
                return ExperimentConfig::load(&path, overrides);
            }
        }
        let text = builtin_config(base).ok_or_else(|| TrainError::Config {
            origin: "built-in experiments".into(),
            message: format!(
                "base = {:?} is not a built-in config (built in: {})",
                base.display(),
                BUILTIN_CONFIGS
                    .iter()
                    .map(|(p, _)| *p)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })?;
        ExperimentConfig::from_toml_str(
            text,
            &builtin_origin(&base.display().to_string()),
            overrides,
        )
    }

    /// Where the specs come from, in words (`built-in specs`, `specs in DIR`).
    pub fn describe(&self) -> String {
        match self {
            SpecSource::Builtin => "the built-in experiment specs".into(),
            SpecSource::Dir { experiments, .. } => {
                format!("the experiment specs in {}", experiments.display())
            }
        }
    }
}

/// The text of a built-in config by its path relative to the repository root
/// (`configs/dataset1.toml`; a leading `./` is ignored).
pub fn builtin_config(path: &Path) -> Option<&'static str> {
    let wanted: PathBuf = path
        .components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect();
    BUILTIN_CONFIGS
        .iter()
        .find(|(p, _)| Path::new(p) == wanted)
        .map(|(_, text)| *text)
}

/// The built-in experiment specs: (path relative to the repository root, TOML text).
pub fn builtin_experiments() -> &'static [(&'static str, &'static str)] {
    BUILTIN_EXPERIMENTS
}

/// How errors name a built-in file.
fn builtin_origin(path: &str) -> String {
    format!("{path} (built in)")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::Profile;

    /// The repository root (the specs' `base` paths are relative to it).
    fn root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    #[test]
    fn the_built_in_files_are_the_repositorys() {
        let root = root();
        for (path, text) in BUILTIN_EXPERIMENTS.iter().chain(BUILTIN_CONFIGS) {
            let on_disk = std::fs::read_to_string(root.join(path)).expect("file in the checkout");
            assert_eq!(&on_disk, text, "{path}");
        }
        let on_disk = std::fs::read_dir(root.join("experiments"))
            .expect("experiments/")
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "toml"))
            })
            .count();
        assert_eq!(BUILTIN_EXPERIMENTS.len(), on_disk);
    }

    #[test]
    fn built_in_specs_plan_exactly_like_the_repositorys() {
        let builtin = SpecSource::Builtin;
        let dir = SpecSource::Dir {
            experiments: root().join("experiments"),
            root: root(),
        };
        let (a, b) = (builtin.load().expect("built in"), dir.load().expect("dir"));
        assert_eq!(a, b);
        for spec in a.iter().take(3) {
            let from_builtin = spec.plan(&builtin, Profile::Quick).expect("plan");
            let from_dir = spec.plan(&dir, Profile::Quick).expect("plan");
            assert_eq!(from_builtin, from_dir, "{}", spec.name);
        }
    }

    #[test]
    fn a_spec_directory_elsewhere_falls_back_to_the_built_in_configs() {
        let elsewhere = tempfile::tempdir().expect("tempdir");
        let source = SpecSource::Dir {
            experiments: elsewhere.path().to_path_buf(),
            root: elsewhere.path().to_path_buf(),
        };
        let config = source
            .load_base(
                Path::new("./configs/dataset1.toml"),
                &["train.seed=3".into()],
            )
            .expect("built-in base");
        assert_eq!(config.train.seed, 3);
        // A file in the root wins over the built-in one.
        std::fs::create_dir(elsewhere.path().join("configs")).expect("mkdir");
        std::fs::write(
            elsewhere.path().join("configs/dataset1.toml"),
            "name = \"broken",
        )
        .expect("write");
        let err = source
            .load_base(Path::new("configs/dataset1.toml"), &[])
            .expect_err("the local file is read")
            .to_string();
        assert!(
            err.contains(&elsewhere.path().display().to_string()),
            "{err}"
        );
        // An unknown base names the built-in ones.
        let err = SpecSource::Builtin
            .load_base(Path::new("configs/nope.toml"), &[])
            .expect_err("unknown")
            .to_string();
        assert!(
            err.contains("configs/nope.toml") && err.contains("configs/dataset1.toml"),
            "{err}"
        );
    }
}
