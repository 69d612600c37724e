//! Training schedules, frozen networks, networks started from finished runs, and the
//! configuration keys behind them (`train.schedule`, `train.freeze`, `train.init_from`,
//! `train.objective`).
//!
//! (Long because every schedule, freeze and init_from key is tested end to end here, each with
//! its own small run.)

use std::path::Path;

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Device, Tensor};
use sdc_data::SdcDataset;
use sdc_model::AttentionModel;
use sdc_train::{
    ExperimentConfig, InterruptAfter, RunSummary, Silent, TrainError, eval_run, fit, run_experiment,
};

/// Dataset 2, Architecture 2, tiny: 200 training mosaics in batches of 50.
fn tiny(extra: &[&str]) -> ExperimentConfig {
    let mut overrides: Vec<String> = [
        "name=tiny",
        "data.n_train=200",
        "data.n_test=100",
        "data.n_base=2000",
        "train.max_epochs=4",
        "train.batch_size=50",
        "train.checkpoint_every=2",
        "train.stop={ loss = 0.0 }",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    overrides.extend(extra.iter().map(|s| s.to_string()));
    ExperimentConfig::default_with(&overrides).expect("valid config")
}

fn device(config: &ExperimentConfig) -> Device {
    sdc_train::device(config.train.backend, config.train.precision)
        .expect("ndarray is always available")
        .autodiff()
}

fn data(config: &ExperimentConfig) -> SdcDataset {
    config.data.load().expect("synthetic data").train
}

fn init(config: &ExperimentConfig, train: &SdcDataset, device: &Device) -> AttentionModel {
    config
        .model
        .init_for(
            train.segment_shape(),
            train.n_classes(),
            config.train.seed,
            device,
        )
        .expect("valid model")
}

/// Every float parameter of a module, flattened in visiting order.
fn values<M: Module>(module: &M) -> Vec<f32> {
    struct Values(Vec<f32>);
    impl ModuleVisitor for Values {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0
                .extend(param.val().try_into_vec_as::<f32>().expect("f32 values"));
        }
    }
    let mut v = Values(Vec::new());
    module.visit(&mut v);
    v.0
}

/// (focus, classifier) parameters after training `config` for exactly `epochs` epochs
/// (epochs = 0: the initialisation).
fn params_after(config: &ExperimentConfig, epochs: usize) -> (Vec<f32>, Vec<f32>) {
    let device = device(config);
    let train = data(config);
    let model = init(config, &train, &device);
    if epochs == 0 {
        return (values(&model.focus), values(&model.classifier));
    }
    let mut config = config.clone();
    config.train.max_epochs = epochs;
    let outcome = fit(&config, model, &train, None, &device, None, &mut Silent).expect("trains");
    assert_eq!(outcome.epochs, epochs);
    (
        values(&outcome.model.focus),
        values(&outcome.model.classifier),
    )
}

/// Which networks changed in each of epochs 1..=n: `(focus changed, classifier changed)`.
fn changes_per_epoch(config: &ExperimentConfig, n: usize) -> Vec<(bool, bool)> {
    let states: Vec<_> = (0..=n).map(|e| params_after(config, e)).collect();
    states
        .windows(2)
        .map(|w| (w[0].0 != w[1].0, w[0].1 != w[1].1))
        .collect()
}

const FOCUS: (bool, bool) = (true, false);
const CLASSIFIER: (bool, bool) = (false, true);
const BOTH: (bool, bool) = (true, true);
const NEITHER: (bool, bool) = (false, false);

#[test]
fn joint_training_updates_both_networks_every_epoch() {
    let config = tiny(&[]);
    assert_eq!(changes_per_epoch(&config, 2), vec![BOTH, BOTH]);
}

#[test]
fn alternating_schedules_update_exactly_the_scheduled_network() {
    // docs/paper-notes.md, Training, with e = epoch - 1: focus-first updates the focus when e mod 2n < n.
    let every_1_focus =
        tiny(&["train.schedule={ kind = \"alternating\", every = 1, first = \"focus\" }"]);
    assert_eq!(
        changes_per_epoch(&every_1_focus, 4),
        vec![FOCUS, CLASSIFIER, FOCUS, CLASSIFIER]
    );
    let every_2_classifier =
        tiny(&["train.schedule={ kind = \"alternating\", every = 2, first = \"classifier\" }"]);
    assert_eq!(
        changes_per_epoch(&every_2_classifier, 4),
        vec![CLASSIFIER, CLASSIFIER, FOCUS, FOCUS]
    );
}

#[test]
fn frozen_networks_never_change() {
    let focus_frozen = tiny(&["train.freeze=[\"focus\"]"]);
    assert_eq!(changes_per_epoch(&focus_frozen, 2), vec![CLASSIFIER; 2]);
    let classifier_frozen = tiny(&[
        "train.freeze=[\"classifier\"]",
        "train.objective={ kind = \"hard\" }",
    ]);
    assert_eq!(changes_per_epoch(&classifier_frozen, 2), vec![FOCUS; 2]);
    // Freezing the scheduled network leaves an epoch with nothing to update.
    let both = tiny(&[
        "train.freeze=[\"classifier\"]",
        "train.schedule={ kind = \"alternating\", every = 1, first = \"focus\" }",
    ]);
    assert_eq!(changes_per_epoch(&both, 2), vec![FOCUS, NEITHER]);
}

fn train_into(config: &ExperimentConfig, dir: &Path) -> RunSummary {
    run_experiment(config, dir, &mut Silent).expect("training succeeds")
}

fn path_override(key: &str, dir: &Path) -> String {
    // A TOML basic string; the temporary directories hold no quotes or backslashes.
    format!("{key}=\"{}\"", dir.display())
}

#[test]
fn init_from_starts_networks_from_a_finished_run() {
    let pretrained = tempfile::tempdir().expect("tempdir");
    let source = tiny(&["train.seed=3", "train.max_epochs=3"]);
    let source_summary = train_into(&source, pretrained.path());

    // The finished run's model, as saved.
    let device = device(&source);
    let train = data(&source);
    let saved = init(&source, &train, &device)
        .load(&pretrained.path().join("model.bpk"))
        .expect("model.bpk");

    // Both networks loaded and frozen: the run reproduces the source's final model and metrics,
    // whatever its own seed.
    let both = tiny(&[
        "train.seed=9",
        "train.max_epochs=1",
        "train.freeze=[\"focus\", \"classifier\"]",
        &path_override("train.init_from.focus", pretrained.path()),
        &path_override("train.init_from.classifier", pretrained.path()),
    ]);
    let model = init(&both, &train, &device);
    assert_ne!(values(&model.focus), values(&saved.focus), "another seed");
    let outcome = fit(&both, model, &train, None, &device, None, &mut Silent).expect("trains");
    assert_eq!(values(&outcome.model.focus), values(&saved.focus));
    assert_eq!(values(&outcome.model.classifier), values(&saved.classifier));
    let copy = tempfile::tempdir().expect("tempdir");
    let copied = train_into(&both, copy.path());
    assert_eq!(copied.train, source_summary.train);

    // The focus alone: a pretrained, frozen focus with a fresh classifier that trains.
    let focus_only = tiny(&[
        "train.seed=9",
        "train.max_epochs=2",
        "train.freeze=[\"focus\"]",
        &path_override("train.init_from.focus", pretrained.path()),
    ]);
    let fresh = init(&focus_only, &train, &device);
    let fresh_classifier = values(&fresh.classifier);
    let outcome =
        fit(&focus_only, fresh, &train, None, &device, None, &mut Silent).expect("trains");
    assert_eq!(values(&outcome.model.focus), values(&saved.focus));
    assert_ne!(values(&outcome.model.classifier), fresh_classifier);
    assert_ne!(values(&outcome.model.classifier), values(&saved.classifier));
}

fn fit_error(config: &ExperimentConfig) -> String {
    let device = device(config);
    let train = data(config);
    let model = init(config, &train, &device);
    fit(config, model, &train, None, &device, None, &mut Silent)
        .expect_err("init_from must fail")
        .to_string()
}

#[test]
fn init_from_errors_name_the_key_and_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("no-such-run");
    let err = fit_error(&tiny(&[&path_override("train.init_from.focus", &missing)]));
    assert!(
        err.contains("train.init_from.focus")
            && err.contains("no-such-run")
            && err.contains("config.toml"),
        "{err}"
    );

    // A run directory without a final model (never finished).
    let unfinished = dir.path().join("unfinished");
    std::fs::create_dir_all(&unfinished).expect("mkdir");
    std::fs::write(unfinished.join("config.toml"), tiny(&[]).to_toml()).expect("write");
    let err = fit_error(&tiny(&[&path_override(
        "train.init_from.classifier",
        &unfinished,
    )]));
    assert!(
        err.contains("train.init_from.classifier") && err.contains("model.bpk"),
        "{err}"
    );

    // A finished run whose focus network has another shape.
    let wide = dir.path().join("wide");
    train_into(
        &tiny(&["train.max_epochs=1", "model.focus.hidden=[10, 20]"]),
        &wide,
    );
    let err = fit_error(&tiny(&[&path_override("train.init_from.focus", &wide)]));
    assert!(
        err.contains("train.init_from.focus")
            && err.contains("shapes")
            && err.contains("model.bpk"),
        "{err}"
    );
    // Its classifier has the same shape (averaging at layer 0 feeds g the raw 5-d segments).
    let device = device(&tiny(&[]));
    let config = tiny(&[
        "train.max_epochs=1",
        &path_override("train.init_from.classifier", &wide),
    ]);
    let train = data(&config);
    fit(
        &config,
        init(&config, &train, &device),
        &train,
        None,
        &device,
        None,
        &mut Silent,
    )
    .expect("same classifier shape loads");
}

#[test]
fn runs_with_a_frozen_or_idle_network_resume_to_the_same_result() {
    // The focus optimiser never steps before the checkpoint at epoch 2 (classifier-first,
    // every 2), and the frozen classifier's never does: both states must survive a resume.
    for extra in [
        [
            "train.schedule={ kind = \"alternating\", every = 2, first = \"classifier\" }",
            "train.objective={ kind = \"lvml\" }",
        ],
        [
            "train.freeze=[\"classifier\"]",
            "train.objective={ kind = \"hard\" }",
        ],
    ] {
        let config = tiny(&[extra[0], extra[1], "train.max_epochs=6"]);
        let whole = tempfile::tempdir().expect("tempdir");
        let uninterrupted = train_into(&config, whole.path());
        let split = tempfile::tempdir().expect("tempdir");
        let err = run_experiment(&config, split.path(), &mut InterruptAfter::new(3))
            .expect_err("interrupted");
        assert!(matches!(err, TrainError::Interrupted { epoch: 3 }), "{err}");
        let resumed = train_into(&config, split.path());
        assert_eq!(resumed.train, uninterrupted.train, "{extra:?}");
        assert_eq!(resumed.test, uninterrupted.test, "{extra:?}");
    }
}

#[test]
fn eval_scores_a_run_by_its_objectives_prediction_rule() {
    for objective in ["hard", "lvml"] {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = tiny(&[&format!("train.objective={{ kind = \"{objective}\" }}")]);
        let summary = train_into(&config, dir.path());
        let reports = eval_run(dir.path(), None, None).expect("eval");
        assert_eq!(reports[0].split, "train");
        assert_eq!(reports[0].metrics, summary.train, "{objective}");
    }
}

fn config_error(overrides: &[&str]) -> String {
    let o: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    ExperimentConfig::default_with(&o)
        .expect_err("invalid")
        .to_string()
}

#[test]
fn new_keys_are_validated_by_name() {
    let err =
        config_error(&["train.schedule={ kind = \"alternating\", every = 0, first = \"focus\" }"]);
    assert!(err.contains("train.schedule.every"), "{err}");
    let err = config_error(&["train.schedule={ kind = \"alternating\", every = 2 }"]);
    assert!(
        err.contains("train.schedule") && err.contains("first"),
        "{err}"
    );
    let err = config_error(&["train.schedule={ kind = \"round-robin\" }"]);
    assert!(
        err.contains("train.schedule") && err.contains("round-robin"),
        "{err}"
    );
    let err = config_error(&[
        "train.objective={ kind = \"hybrid\", soft_weight = 1.5, with = \"hard\" }",
    ]);
    assert!(
        err.contains("train.objective.soft_weight") && err.contains("1.5"),
        "{err}"
    );
    let err = config_error(&["train.objective={ kind = \"reinforce\" }"]);
    assert!(
        err.contains("train.objective") && err.contains("reinforce"),
        "{err}"
    );
    let err = config_error(&["train.objective={ kind = \"hybrid\", with = \"soft\" }"]);
    assert!(
        err.contains("train.objective") && err.contains("soft"),
        "{err}"
    );
    let err = config_error(&["train.freeze=[\"focus\", \"focus\"]"]);
    assert!(err.contains("train.freeze[1]"), "{err}");
    let err = config_error(&["train.freeze=[\"attention\"]"]);
    assert!(
        err.contains("train.freeze") && err.contains("attention"),
        "{err}"
    );
    let err = config_error(&["train.init_from.focus=\"\""]);
    assert!(err.contains("train.init_from.focus"), "{err}");
    let err = config_error(&["train.init_from.where=\"runs/a\""]);
    assert!(
        err.contains("train.init_from") && err.contains("where"),
        "{err}"
    );

    // Allowed: entropy with any objective, a pure soft or pure partner hybrid.
    for ok in [
        ["train.objective={ kind = \"hard\" }", "train.entropy=0.01"],
        [
            "train.objective={ kind = \"hybrid\", soft_weight = 0.0, with = \"lvml\" }",
            "train.entropy=0",
        ],
        [
            "train.objective={ kind = \"hybrid\", soft_weight = 1, with = \"hard\" }",
            "train.freeze=[]",
        ],
    ] {
        let o: Vec<String> = ok.iter().map(|s| s.to_string()).collect();
        ExperimentConfig::default_with(&o).unwrap_or_else(|e| panic!("{ok:?}: {e}"));
    }
}

#[test]
fn new_keys_round_trip_through_the_resolved_config() {
    let config = tiny(&[
        "train.objective={ kind = \"hybrid\", soft_weight = 0.25, with = \"lvml\" }",
        "train.schedule={ kind = \"alternating\", every = 5, first = \"classifier\" }",
        "train.freeze=[\"focus\"]",
        "train.init_from.focus=\"runs/pretrained\"",
    ]);
    let text = config.to_toml();
    let again = ExperimentConfig::from_toml_str(&text, "resolved", &[]).expect("valid");
    assert_eq!(again, config);
    // The defaults are recorded explicitly; empty freeze and init_from are left out.
    let plain = tiny(&[]).to_toml();
    assert!(
        plain.contains("kind = \"soft\"") && plain.contains("kind = \"joint\""),
        "{plain}"
    );
    assert!(
        !plain.contains("freeze") && !plain.contains("init_from"),
        "{plain}"
    );
}

/// The reports a run wrote to `pretrain.json`: `(network, loss, accuracy)`.
fn pretrain_reports(dir: &Path) -> Vec<(String, f64, f64)> {
    let text = std::fs::read_to_string(dir.join("pretrain.json")).expect("pretrain.json");
    let reports: Vec<serde_json::Value> = serde_json::from_str(&text).expect("JSON");
    reports
        .iter()
        .map(|r| {
            (
                r["network"].as_str().expect("network").to_string(),
                r["loss"].as_f64().expect("loss"),
                r["accuracy"].as_f64().expect("accuracy"),
            )
        })
        .collect()
}

#[test]
fn pretraining_trains_each_network_on_its_own_task() {
    let frozen = "train.freeze=[\"focus\", \"classifier\"]";
    let config = |pretrain: &str| {
        tiny(&[
            "train.optimizer={ kind = \"adam\", lr = 0.01 }",
            "train.max_epochs=5",
            frozen,
            pretrain,
        ])
    };
    let device_of = |c: &ExperimentConfig| device(c);

    // The focus alone: it learns to find the foreground; the classifier keeps its initialisation.
    let focus = config("train.pretrain={ focus = { epochs = 15 } }");
    let train = data(&focus);
    let device = device_of(&focus);
    let initial = init(&focus, &train, &device);
    let dir = tempfile::tempdir().expect("tempdir");
    let summary = train_into(&focus, dir.path());
    assert_eq!(summary.epochs, 1, "both frozen: one evaluation epoch");
    let saved = init(&focus, &train, &device)
        .load(&dir.path().join("model.bpk"))
        .expect("model.bpk");
    assert_ne!(values(&saved.focus), values(&initial.focus));
    assert_eq!(values(&saved.classifier), values(&initial.classifier));
    let reports = pretrain_reports(dir.path());
    assert_eq!(reports.len(), 1);
    let (network, _, located) = &reports[0];
    assert_eq!(network, "focus");
    assert!(
        *located > 60.0,
        "the pretrained focus puts the foreground first in {located}% of mosaics (chance 11%)"
    );
    let ftpt = summary.train.summary.rates.ftpt;
    assert!(
        ftpt + summary.train.summary.rates.ftpf > 60.0,
        "the frozen pretrained focus attends to the foreground (FTPT {ftpt})"
    );

    // The classifier alone, on the foreground segment: accurate on it, the focus untouched.
    let classifier = config("train.pretrain={ classifier = { epochs = 15 } }");
    let dir = tempfile::tempdir().expect("tempdir");
    train_into(&classifier, dir.path());
    let saved = init(&classifier, &train, &device)
        .load(&dir.path().join("model.bpk"))
        .expect("model.bpk");
    assert_eq!(values(&saved.focus), values(&initial.focus));
    assert_ne!(values(&saved.classifier), values(&initial.classifier));
    let reports = pretrain_reports(dir.path());
    let (network, _, accuracy) = &reports[0];
    assert_eq!(network, "classifier");
    assert!(
        *accuracy > 80.0,
        "the classifier labels {accuracy}% of foreground segments (chance 33%)"
    );

    // Deterministic: the same config pretrains to the same networks.
    let again = tempfile::tempdir().expect("tempdir");
    train_into(&classifier, again.path());
    let repeat = init(&classifier, &train, &device)
        .load(&again.path().join("model.bpk"))
        .expect("model.bpk");
    assert_eq!(values(&repeat.classifier), values(&saved.classifier));
}

#[test]
fn pretrain_errors_name_the_key() {
    let invalid = |set: &str| {
        ExperimentConfig::default_with(&[set.to_string()])
            .expect_err("invalid")
            .to_string()
    };
    let err = invalid("train.pretrain={ focus = { epochs = 0 } }");
    assert!(err.contains("train.pretrain.focus.epochs = 0"), "{err}");
    let err = invalid("train.pretrain={ classifier = { epochs = 2, lr = -1.0 } }");
    assert!(err.contains("train.pretrain.classifier.lr = -1"), "{err}");
    let err = invalid("train.pretrain={ focus = { epochs = 2, rate = 1.0 } }");
    assert!(err.contains("rate"), "{err}");
    let both = ExperimentConfig::default_with(&[
        "train.pretrain={ focus = { epochs = 2 } }".to_string(),
        "train.init_from.focus=\"runs/x\"".to_string(),
    ])
    .expect_err("conflict")
    .to_string();
    assert!(
        both.contains("train.pretrain.focus") && both.contains("train.init_from.focus"),
        "{both}"
    );
}
