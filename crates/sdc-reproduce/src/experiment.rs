//! Declarative experiment specs (`experiments/*.toml`): what the paper claims, which grid of
//! configurations tests it, how many seeds, and the paper's numbers to compare against.
//!
//! (About 520 lines: the code is about 400; the rest are its tests, which plan every shipped spec.)

use std::path::{Path, PathBuf};

use sdc_interp::VerdictRule;
use serde::{Deserialize, Serialize};

use sdc_train::{ExperimentConfig, TrainError};

use crate::specs::SpecSource;

/// One axis of an experiment's grid: a config key and the values it takes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Axis {
    /// Dotted config key, e.g. `model.averaging_layer`.
    pub key: String,
    /// Short label for tables and directory names (default: the key's last part).
    #[serde(default)]
    pub label: Option<String>,
    /// The values, in the order the report shows them.
    pub values: Vec<toml::Value>,
}

impl Axis {
    /// The label used in tables and run directory names.
    pub fn label(&self) -> &str {
        self.label
            .as_deref()
            .unwrap_or_else(|| self.key.rsplit('.').next().unwrap_or(&self.key))
    }
}

/// A paper number for one grid point.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reference {
    /// The grid point: one value per axis, in axis order.
    pub at: Vec<toml::Value>,
    /// Metric name (`train.ftpt`, `train.accuracy`, ...) to the paper's value.
    pub values: toml::Table,
}

/// Settings of the quick profile that differ from the full one.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuickProfile {
    /// Seeds in the quick profile.
    #[serde(default)]
    pub seeds: Option<usize>,
    /// Extra overrides (e.g. fewer epochs), applied after the spec's own.
    #[serde(default)]
    pub set: toml::Table,
    /// Smaller value lists for some axes, by key.
    #[serde(default)]
    pub values: toml::Table,
}

/// An experiment spec file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentSpec {
    /// Unique name (`avg-layer-d2`); also the output directory.
    pub name: String,
    /// The claim under test, in one sentence.
    pub claim: String,
    /// Where the claim and its numbers come from: the paper's section, table or figure.
    pub source: String,
    /// The base experiment config, relative to the repository root.
    pub base: PathBuf,
    /// Overrides applied to the base for every run.
    #[serde(default)]
    pub set: toml::Table,
    /// The grid: every combination of the axes' values is run.
    #[serde(default)]
    pub axis: Vec<Axis>,
    /// Seeds per grid point (the full profile).
    pub seeds: usize,
    /// Dataset draws in the full profile (default 1: the base config's own dataset only). Draw
    /// `d > 0` runs the same grid and seeds with `d` added to the resolved `data.seed`, under
    /// `NAME/data-d/`; the quick profile draws one unless `reproduce --datasets` says otherwise.
    #[serde(default)]
    pub datasets: Option<usize>,
    /// Config keys that receive the seed (default: `train.seed`).
    #[serde(default = "default_seed_keys")]
    pub seed_keys: Vec<String>,
    /// Metrics shown in the table.
    #[serde(default = "default_metrics")]
    pub metrics: Vec<String>,
    /// The quick profile.
    #[serde(default)]
    pub quick: QuickProfile,
    /// When the claim counts as reproduced.
    pub verdict: VerdictRule,
    /// The paper's numbers.
    #[serde(default)]
    pub reference: Vec<Reference>,
}

fn default_seed_keys() -> Vec<String> {
    vec!["train.seed".into()]
}

fn default_metrics() -> Vec<String> {
    [
        "train.accuracy",
        "train.ftpt",
        "train.ffpt",
        "train.ftpf",
        "train.ffpf",
        "test.accuracy",
        "test.ftpt",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Which profile a reproduction runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Profile {
    /// Fewer seeds, epochs and grid points.
    Quick,
    /// The paper's seeds and epochs.
    Full,
}

impl Profile {
    /// `quick` or `full`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Quick => "quick",
            Self::Full => "full",
        }
    }
}

/// One run of a sweep: where it goes and what it trains.
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedRun {
    /// The experiment it belongs to.
    pub experiment: String,
    /// Its dataset draw: 0 is the base config's dataset, `d > 0` adds `d` to `data.seed`.
    pub draw: usize,
    /// Index of its grid point (in [`ExperimentSpec::points`] order).
    pub point: usize,
    /// The seed.
    pub seed: u64,
    /// Path of the run directory relative to the sweep root.
    pub rel_dir: PathBuf,
    /// The resolved configuration.
    pub config: ExperimentConfig,
}

/// A value as shown in tables and directory names: `6x12` for arrays, bare strings unquoted.
pub(crate) fn display_value(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => s.clone(),
        // An empty list (e.g. no hidden layers: a linear network) must still name itself.
        toml::Value::Array(items) if items.is_empty() => "none".into(),
        toml::Value::Array(items) => items
            .iter()
            .map(display_value)
            .collect::<Vec<_>>()
            .join("x"),
        // An empty table (e.g. nothing pretrained) also names itself.
        toml::Value::Table(t) if t.is_empty() => "none".into(),
        // `{ kind = "sparsemax" }` reads as `sparsemax`.
        toml::Value::Table(t) if t.len() == 1 && t.contains_key("kind") => {
            display_value(&t["kind"])
        }
        toml::Value::Table(t) => t
            .iter()
            .map(|(k, v)| format!("{k}-{}", display_value(v)))
            .collect::<Vec<_>>()
            .join("_"),
        other => other.to_string(),
    }
}

fn override_string(key: &str, value: &toml::Value) -> String {
    format!("{key}={}", toml_inline(value))
}

/// A value in TOML inline syntax, which `--set` parses back into the same value.
fn toml_inline(value: &toml::Value) -> String {
    match value {
        toml::Value::Table(t) => {
            let fields: Vec<String> = t
                .iter()
                .map(|(k, v)| format!("{k} = {}", toml_inline(v)))
                .collect();
            format!("{{ {} }}", fields.join(", "))
        }
        toml::Value::Array(items) => format!(
            "[{}]",
            items.iter().map(toml_inline).collect::<Vec<_>>().join(", ")
        ),
        other => other.to_string(),
    }
}

impl ExperimentSpec {
    /// Reads and checks a spec file.
    pub fn load(path: &Path) -> Result<Self, TrainError> {
        let text = std::fs::read_to_string(path).map_err(|source| TrainError::ReadConfig {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml_str(&text, &path.display().to_string())
    }

    /// Parses and checks a spec's TOML text; `origin` names it in errors.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Self, TrainError> {
        let config_error = |message: String| TrainError::Config {
            origin: origin.to_string(),
            message,
        };
        let de = toml::Deserializer::parse(text).map_err(|e| config_error(e.to_string()))?;
        let spec: Self = serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            config_error(format!("{key}: {}", e.into_inner()))
        })?;
        spec.check().map_err(config_error)?;
        Ok(spec)
    }

    /// Every spec in `dir` (`*.toml`), sorted by name.
    pub fn load_dir(dir: &Path) -> Result<Vec<Self>, TrainError> {
        let entries = std::fs::read_dir(dir).map_err(|e| TrainError::io(dir, e))?;
        let mut specs = Vec::new();
        for entry in entries {
            let path = entry.map_err(|e| TrainError::io(dir, e))?.path();
            if path.extension().is_some_and(|e| e == "toml") {
                specs.push(Self::load(&path)?);
            }
        }
        specs.sort_by(|a, b| a.name.cmp(&b.name));
        Self::check_unique(&specs, &dir.display().to_string())?;
        Ok(specs)
    }

    /// Refuses two specs of one name in `specs` (sorted by name); `origin` names where they are.
    pub(crate) fn check_unique(specs: &[Self], origin: &str) -> Result<(), TrainError> {
        match specs.windows(2).find(|w| w[0].name == w[1].name) {
            Some(w) => Err(TrainError::Config {
                origin: origin.to_string(),
                message: format!("two specs are named `{}`", w[0].name),
            }),
            None => Ok(()),
        }
    }

    fn check(&self) -> Result<(), String> {
        if self.seeds == 0 || self.quick.seeds == Some(0) {
            return Err("seeds: must be >= 1".into());
        }
        if self.datasets == Some(0) {
            return Err("datasets: must be >= 1 (1: the base config's dataset only)".into());
        }
        if self.datasets.is_some_and(|n| n > 1) && self.seed_keys.iter().any(|k| k == "data.seed") {
            return Err(
                "datasets: seed_keys already gives every seed its own data.seed, so dataset \
                 draws would repeat other seeds' datasets; drop `datasets` or `data.seed`"
                    .into(),
            );
        }
        for (i, axis) in self.axis.iter().enumerate() {
            if axis.values.is_empty() {
                return Err(format!("axis[{i}] ({}): no values", axis.key));
            }
        }
        for key in self.quick.values.keys() {
            if !self.axis.iter().any(|a| &a.key == key) {
                return Err(format!(
                    "quick.values.{key}: not an axis of this experiment"
                ));
            }
        }
        for (i, r) in self.reference.iter().enumerate() {
            if r.at.len() != self.axis.len() {
                return Err(format!(
                    "reference[{i}].at has {} value(s) but the grid has {} axis/axes",
                    r.at.len(),
                    self.axis.len()
                ));
            }
            for (value, axis) in r.at.iter().zip(&self.axis) {
                if !axis.values.contains(value) {
                    return Err(format!(
                        "reference[{i}].at: {value} is not a value of axis {}",
                        axis.key
                    ));
                }
            }
        }
        for metric in self.metrics.iter().chain([&self.verdict.metric]) {
            if !sdc_train::is_known_metric(metric) {
                return Err(format!(
                    "metric `{metric}` is unknown: use train.* or test.* with loss, accuracy, ftpt, ffpt, \
                     ftpf, ffpf, max_ge_half, sparsity, simplex_distance, entropy, alpha_at_true; or epochs"
                ));
            }
        }
        for (i, r) in self.reference.iter().enumerate() {
            if let Some(bad) = r.values.keys().find(|k| !sdc_train::is_known_metric(k)) {
                return Err(format!("reference[{i}].values: unknown metric `{bad}`"));
            }
        }
        let labels: Vec<&str> = self.axis.iter().map(Axis::label).collect();
        if let Some(dir) = &self.verdict.direction
            && !labels.contains(&dir.axis.as_str())
        {
            return Err(format!(
                "verdict.direction.axis = {}: not an axis label ({labels:?})",
                dir.axis
            ));
        }
        Ok(())
    }

    /// The axes of `profile`, with the quick profile's smaller value lists applied.
    pub fn axes(&self, profile: Profile) -> Vec<Axis> {
        self.axis
            .iter()
            .map(|axis| {
                let mut axis = axis.clone();
                if profile == Profile::Quick
                    && let Some(toml::Value::Array(values)) = self.quick.values.get(&axis.key)
                {
                    axis.values = values.clone();
                }
                axis
            })
            .collect()
    }

    /// Seeds of `profile`.
    pub fn seeds(&self, profile: Profile) -> usize {
        match profile {
            Profile::Quick => self.quick.seeds.unwrap_or(self.seeds),
            Profile::Full => self.seeds,
        }
    }

    /// Dataset draws of `profile`: the spec's `datasets` in the full profile, 1 in the quick one.
    pub fn datasets(&self, profile: Profile) -> usize {
        match profile {
            Profile::Quick => 1,
            Profile::Full => self.datasets.unwrap_or(1),
        }
    }

    /// The grid points of `profile` (cartesian product, first axis slowest).
    pub fn points(&self, profile: Profile) -> Vec<Vec<toml::Value>> {
        self.axes(profile)
            .iter()
            .fold(vec![Vec::new()], |acc, axis| {
                acc.into_iter()
                    .flat_map(|prefix| {
                        axis.values.iter().map(move |v| {
                            let mut p = prefix.clone();
                            p.push(v.clone());
                            p
                        })
                    })
                    .collect()
            })
    }

    /// Expands the grid x seeds into runs, resolving each configuration against the base
    /// (read through `specs`: a file, or a built-in config). These are dataset draw 0's runs.
    pub fn plan(
        &self,
        specs: &SpecSource,
        profile: Profile,
    ) -> Result<Vec<PlannedRun>, TrainError> {
        self.plan_draw(specs, profile, 0)
    }

    /// The runs of dataset draw `draw`: [`Self::plan`]'s, with `draw` added to each resolved
    /// `data.seed` and the run directories under `NAME/data-<draw>/` (draw 0 is `plan` itself).
    pub fn plan_draw(
        &self,
        specs: &SpecSource,
        profile: Profile,
        draw: usize,
    ) -> Result<Vec<PlannedRun>, TrainError> {
        let config_error = |message: String| TrainError::Config {
            origin: format!("experiment {}", self.name),
            message,
        };
        let axes = self.axes(profile);
        let mut runs = Vec::new();
        for (index, point) in self.points(profile).into_iter().enumerate() {
            for seed in 0..self.seeds(profile) as u64 {
                let mut overrides: Vec<String> = self
                    .set
                    .iter()
                    .map(|(k, v)| override_string(k, v))
                    .collect();
                if profile == Profile::Quick {
                    overrides.extend(self.quick.set.iter().map(|(k, v)| override_string(k, v)));
                }
                overrides.extend(
                    axes.iter()
                        .zip(&point)
                        .map(|(a, v)| override_string(&a.key, v)),
                );
                overrides.extend(self.seed_keys.iter().map(|k| format!("{k}={seed}")));
                overrides.push(format!("name=\"{}\"", self.name));
                let mut config = specs
                    .load_base(&self.base, &overrides)
                    .map_err(|e| config_error(e.to_string()))?;
                if draw > 0 {
                    // Offset from the seed this run would have, whatever set it (base, spec, axis).
                    let base_seed = config.data.seed();
                    let seed = u64::try_from(draw)
                        .ok()
                        .and_then(|d| base_seed.checked_add(d))
                        .ok_or_else(|| {
                            config_error(format!(
                                "dataset draw {draw}: data.seed {base_seed} + {draw} overflows"
                            ))
                        })?;
                    overrides.push(format!("data.seed={seed}"));
                    config = specs
                        .load_base(&self.base, &overrides)
                        .map_err(|e| config_error(format!("dataset draw {draw}: {e}")))?;
                }
                let point_dir: String = if point.is_empty() {
                    "default".into()
                } else {
                    axes.iter()
                        .zip(&point)
                        .map(|(a, v)| format!("{}={}", a.label(), display_value(v)))
                        .collect::<Vec<_>>()
                        .join(",")
                };
                // Draw 0 keeps the directories of a reproduction without draws.
                let mut rel_dir = PathBuf::from(&self.name);
                if draw > 0 {
                    rel_dir.push(format!("data-{draw}"));
                }
                runs.push(PlannedRun {
                    experiment: self.name.clone(),
                    draw,
                    point: index,
                    seed,
                    rel_dir: rel_dir.join(point_dir).join(format!("seed-{seed:02}")),
                    config,
                });
            }
        }
        Ok(runs)
    }

    /// The paper's value of `metric` at grid point `point`, if the spec gives one.
    pub fn reference_value(&self, point: &[toml::Value], metric: &str) -> Option<f64> {
        self.reference
            .iter()
            .find(|r| r.at == point)
            .and_then(|r| r.values.get(metric))
            .and_then(|v| v.as_float().or_else(|| v.as_integer().map(|i| i as f64)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(text: &str) -> ExperimentSpec {
        let spec: ExperimentSpec = toml::from_str(text).expect("spec parses");
        spec.check().expect("spec is consistent");
        spec
    }

    const SPEC: &str = r#"
name = "t"
claim = "c"
source = "s"
base = "configs/dataset2-arch2.toml"
seeds = 3
set = { "train.max_epochs" = 2 }
[[axis]]
key = "model.averaging_layer"
label = "k"
values = [0, 1, 2]
[[axis]]
key = "model.classifier.hidden"
values = [[6, 12], [50]]
[quick]
seeds = 1
values = { "model.averaging_layer" = [0, 2] }
[verdict]
metric = "train.ftpt"
direction = { axis = "k", order = "increasing" }
[[reference]]
at = [0, [6, 12]]
values = { "train.ftpt" = 88.51 }
"#;

    #[test]
    fn grid_expands_to_the_cartesian_product_times_seeds() {
        let s = spec(SPEC);
        assert_eq!(s.points(Profile::Full).len(), 6);
        assert_eq!(s.points(Profile::Quick).len(), 4);
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let source = SpecSource::Dir {
            experiments: root.join("experiments"),
            root,
        };
        let full = s.plan(&source, Profile::Full).expect("plan");
        assert_eq!(full.len(), 18);
        let quick = s.plan(&source, Profile::Quick).expect("plan");
        assert_eq!(quick.len(), 4);
        // First axis slowest, seeds innermost; every directory distinct.
        assert_eq!(full[0].rel_dir, PathBuf::from("t/k=0,hidden=6x12/seed-00"));
        assert_eq!(full[1].seed, 1);
        assert_eq!(full[3].rel_dir, PathBuf::from("t/k=0,hidden=50/seed-00"));
        let mut dirs: Vec<_> = full.iter().map(|r| r.rel_dir.clone()).collect();
        dirs.sort();
        dirs.dedup();
        assert_eq!(dirs.len(), 18);
        // The overrides reached the configs.
        assert_eq!(full[3].config.model.classifier.hidden, vec![50]);
        assert_eq!(full[17].config.model.averaging_layer, 2);
        assert_eq!(full[17].config.train.seed, 2);
        assert_eq!(full[0].config.train.max_epochs, 2);
        assert_eq!(full[0].config.name, "t");
    }

    #[test]
    fn display_values_are_short() {
        let v: toml::Value = toml::from_str::<toml::Table>("v = { kind = \"sparsemax\" }")
            .expect("toml")["v"]
            .clone();
        assert_eq!(display_value(&v), "sparsemax");
        let v: toml::Value =
            toml::from_str::<toml::Table>("v = [6, 12]").expect("toml")["v"].clone();
        assert_eq!(display_value(&v), "6x12");
        let v: toml::Value = toml::from_str::<toml::Table>("v = {}").expect("toml")["v"].clone();
        assert_eq!(display_value(&v), "none");
        assert_eq!(display_value(&toml::Value::Array(Vec::new())), "none");
    }

    #[test]
    fn references_are_found_by_grid_point() {
        let s = spec(SPEC);
        let point = vec![
            toml::Value::Integer(0),
            toml::Value::Array(vec![6.into(), 12.into()]),
        ];
        assert_eq!(s.reference_value(&point, "train.ftpt"), Some(88.51));
        assert_eq!(s.reference_value(&point, "train.ffpt"), None);
    }

    #[test]
    fn inconsistent_specs_are_refused_by_name() {
        let bad = SPEC.replace("at = [0, [6, 12]]", "at = [7, [6, 12]]");
        let s: ExperimentSpec = toml::from_str(&bad).expect("parses");
        let err = s.check().expect_err("7 is not a value");
        assert!(err.contains("reference[0]") && err.contains('7'), "{err}");
        let bad = SPEC.replace("axis = \"k\"", "axis = \"layer\"");
        let s: ExperimentSpec = toml::from_str(&bad).expect("parses");
        assert!(s.check().expect_err("no such axis").contains("layer"));
    }

    #[test]
    fn every_shipped_experiment_plans() {
        let source = SpecSource::Builtin;
        let specs = source.load().expect("the built-in experiments");
        assert!(specs.len() >= 4);
        for s in &specs {
            assert!(
                !s.plan(&source, Profile::Quick)
                    .expect("quick plan")
                    .is_empty(),
                "{}",
                s.name
            );
            assert!(
                !s.plan(&source, Profile::Full)
                    .expect("full plan")
                    .is_empty(),
                "{}",
                s.name
            );
        }
    }
}
