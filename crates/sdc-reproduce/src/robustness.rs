//! Dataset-draw robustness (beyond the paper, which drew one dataset): an experiment run again
//! on other draws of its dataset, each draw judged on its own by the same rule, so the report
//! can say on how many draws a claim holds.
//!
//! Draw 0 is the spec's own dataset (the paper's draw; its run directories are those of a
//! reproduction without draws); draw `d > 0` adds `d` to every run's resolved `data.seed` and
//! lives under `EXPERIMENT/data-d/` ([`ExperimentSpec::plan_draw`]). How many draws: `reproduce
//! --datasets N`, else the spec's `datasets` in the full profile, else 1.

use std::collections::BTreeMap;
use std::path::Path;

use sdc_interp::{DrawVerdict, Failure, judge};
use sdc_train::TrainError;

use crate::experiment::{ExperimentSpec, PlannedRun, Profile};
use crate::reproduce::{collect_points, results_table};

/// Dataset draws of `spec` under `profile`: `datasets` (the `--datasets` flag) when given, else
/// the spec's own ([`ExperimentSpec::datasets`]). A flag of 0 is an error.
pub fn draws(
    spec: &ExperimentSpec,
    profile: Profile,
    datasets: Option<usize>,
) -> Result<usize, TrainError> {
    match datasets {
        Some(0) => Err(TrainError::Config {
            origin: "--datasets".into(),
            message: "0 dataset draws: use 1 (the experiments' own datasets) or more".into(),
        }),
        Some(n) => Ok(n),
        None => Ok(spec.datasets(profile)),
    }
}

/// The verdict of every dataset draw of `spec`, draw 0 (`paper`, the paper's dataset) first,
/// each judged on its own results table; and the failed runs of the other draws (`others`).
pub(crate) fn draw_verdicts(
    spec: &ExperimentSpec,
    profile: Profile,
    paper: &[PlannedRun],
    others: &[PlannedRun],
    root: &Path,
) -> Result<(Vec<DrawVerdict>, Vec<Failure>), TrainError> {
    let mut by_draw: BTreeMap<usize, Vec<PlannedRun>> = BTreeMap::new();
    for run in paper.iter().chain(others) {
        by_draw.entry(run.draw).or_default().push(run.clone());
    }
    let mut verdicts = Vec::with_capacity(by_draw.len());
    let mut failures = Vec::new();
    for (draw, runs) in by_draw {
        let points = collect_points(spec, profile, &runs, root)?;
        let table = results_table(spec, profile, &points, root);
        let (verdict, reason) = judge(&table, &spec.verdict);
        let seeds: Vec<u64> = runs.iter().map(|r| r.config.data.seed()).collect();
        verdicts.push(DrawVerdict {
            draw,
            data_seed: seeds
                .first()
                .copied()
                .filter(|s| seeds.iter().all(|t| t == s)),
            verdict,
            reason,
            runs: points.iter().map(|p| p.summaries.len()).sum(),
            planned: runs.len(),
        });
        if draw > 0 {
            failures.extend(points.into_iter().flat_map(|p| p.failures));
        }
    }
    Ok((verdicts, failures))
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::reproduce::{ReproduceOptions, plan};
    use crate::specs::SpecSource;

    const SPEC: &str = r#"
name = "t"
claim = "c"
source = "s"
base = "configs/dataset2-arch2.toml"
seeds = 2
datasets = 4
[[axis]]
key = "model.averaging_layer"
label = "k"
values = [0, 2]
[verdict]
metric = "train.ftpt"
direction = { axis = "k", order = "increasing" }
"#;

    fn options(profile: Profile, datasets: Option<usize>) -> ReproduceOptions {
        ReproduceOptions {
            specs: SpecSource::Builtin,
            out: PathBuf::from("unused"),
            profile,
            only: Vec::new(),
            jobs: 1,
            shard: None,
            backend: None,
            train: false,
            datasets,
            replicas: None,
        }
    }

    #[test]
    fn draws_multiply_the_plan_and_leave_draw_0_as_it_was() {
        let spec = ExperimentSpec::from_toml_str(SPEC, "test").expect("spec");
        let specs = [spec.clone()];
        let base = spec
            .plan(&SpecSource::Builtin, Profile::Quick)
            .expect("plan");
        assert_eq!(base.len(), 4);
        let three = plan(&specs, &options(Profile::Quick, Some(3))).expect("plan");
        assert_eq!(three.len(), 3 * base.len());
        // Draw 0 is the plan without draws, run for run: same directories, same configs.
        assert_eq!(&three[..base.len()], &base[..]);
        let base_seed = base[0].config.data.seed();
        for (i, run) in three.iter().enumerate() {
            let draw = i / base.len();
            let same = &base[i % base.len()];
            assert_eq!(run.draw, draw);
            assert_eq!(run.config.data.seed(), base_seed + draw as u64, "{i}");
            assert_eq!(run.config.train.seed, same.config.train.seed);
            assert_eq!(
                run.config.model.averaging_layer,
                same.config.model.averaging_layer
            );
            if draw > 0 {
                let expected = Path::new("t")
                    .join(format!("data-{draw}"))
                    .join(same.rel_dir.strip_prefix("t").expect("under t"));
                assert_eq!(run.rel_dir, expected);
            }
        }
        assert_eq!(three[4].rel_dir, PathBuf::from("t/data-1/k=0/seed-00"));
        // The spec's datasets apply to the full profile only; the flag overrides either.
        assert_eq!(draws(&spec, Profile::Full, None).expect("draws"), 4);
        assert_eq!(draws(&spec, Profile::Quick, None).expect("draws"), 1);
        assert_eq!(draws(&spec, Profile::Full, Some(2)).expect("draws"), 2);
        let full = plan(&specs, &options(Profile::Full, None)).expect("plan");
        assert_eq!(full.len(), 4 * 4);
        let err = plan(&specs, &options(Profile::Full, Some(0)))
            .expect_err("no draws")
            .to_string();
        assert!(
            err.contains("--datasets") && err.contains("0 dataset draws"),
            "{err}"
        );
    }

    #[test]
    fn a_draw_offsets_the_seed_the_spec_set() {
        let text = SPEC.replace("datasets = 4", "set = { \"data.seed\" = 40 }");
        let spec = ExperimentSpec::from_toml_str(&text, "test").expect("spec");
        let runs = plan(&[spec], &options(Profile::Quick, Some(2))).expect("plan");
        let seeds: Vec<u64> = runs.iter().map(|r| r.config.data.seed()).collect();
        assert_eq!(seeds, [40, 40, 40, 40, 41, 41, 41, 41]);
    }

    #[test]
    fn the_headline_claims_ask_for_five_draws_in_the_full_profile_only() {
        let source = SpecSource::Builtin;
        let specs = source.load().expect("the built-in experiments");
        let headline = [
            "avg-layer-d1",
            "avg-layer-d2",
            "complexity-type4",
            "error-modes",
            "sparsemax-d2",
        ];
        for spec in &specs {
            let expected = if headline.contains(&spec.name.as_str()) {
                5
            } else {
                1
            };
            assert_eq!(spec.datasets(Profile::Full), expected, "{}", spec.name);
            assert_eq!(spec.datasets(Profile::Quick), 1, "{}", spec.name);
            // The last draw resolves, one data.seed above draw 0's.
            let last = expected - 1;
            if last > 0 {
                let first = spec.plan(&source, Profile::Full).expect("draw 0");
                let runs = spec
                    .plan_draw(&source, Profile::Full, last)
                    .expect("last draw");
                assert_eq!(runs.len(), first.len(), "{}", spec.name);
                for (a, b) in first.iter().zip(&runs) {
                    assert_eq!(b.config.data.seed(), a.config.data.seed() + last as u64);
                }
            }
        }
    }

    #[test]
    fn bad_dataset_counts_are_refused_by_name() {
        let err = ExperimentSpec::from_toml_str(
            &SPEC.replace("datasets = 4", "datasets = 0"),
            "zero.toml",
        )
        .expect_err("0 draws")
        .to_string();
        assert!(
            err.contains("zero.toml") && err.contains("datasets"),
            "{err}"
        );
        let err = ExperimentSpec::from_toml_str(
            &SPEC.replace("datasets = 4", "datasets = 4\nseed_keys = [\"data.seed\"]"),
            "clash.toml",
        )
        .expect_err("seeds already draw datasets")
        .to_string();
        assert!(err.contains("seed_keys"), "{err}");
    }
}
