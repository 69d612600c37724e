//! Tests of the experiment configuration: overrides, errors that name the key, shipped configs.

use super::*;

const BASE: &str = r#"
name = "t"
[data]
distribution = "blobs5d"
n_train = 300
n_test = 100
[model]
averaging_layer = 0
[model.focus]
hidden = [6, 12]
[model.classifier]
hidden = [6, 12]
[train]
optimizer = { kind = "adam", lr = 0.01 }
max_epochs = 10
"#;

fn load(overrides: &[&str]) -> Result<ExperimentConfig, TrainError> {
    let o: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    ExperimentConfig::from_toml_str(BASE, "base.toml", &o)
}

#[test]
fn overrides_set_nested_values_with_their_types() {
    let c = load(&[
        "train.optimizer.lr=1e-3",
        "model.focus.hidden=[10, 20]",
        "data.seed=7",
    ])
    .expect("valid");
    assert_eq!(c.train.optimizer.lr(), 1e-3);
    assert_eq!(c.model.focus.hidden, vec![10, 20]);
    assert_eq!(c.data.seed(), 7);
}

#[test]
fn unknown_key_is_named() {
    let err = load(&["train.learning_rate=0.1"])
        .expect_err("unknown")
        .to_string();
    assert!(err.contains("learning_rate"), "{err}");
}

#[test]
fn wrong_type_is_named() {
    let err = load(&["train.max_epochs=\"many\""])
        .expect_err("type")
        .to_string();
    assert!(err.contains("train.max_epochs"), "{err}");
}

#[test]
fn impossible_values_are_named() {
    let err = load(&["data.n_segments=0"]).expect_err("m = 0").to_string();
    assert!(err.contains("n_segments"), "{err}");
    let err = load(&["model.averaging_layer=5"])
        .expect_err("k")
        .to_string();
    assert!(err.contains("averaging_layer"), "{err}");
    let err = load(&["data.fg_classes=[0, 1, 42]"])
        .expect_err("class")
        .to_string();
    assert!(err.contains("fg_classes") && err.contains("42"), "{err}");
    let err = load(&["train.optimizer.lr=-1"])
        .expect_err("lr")
        .to_string();
    assert!(err.contains("train.optimizer.lr"), "{err}");
}

#[test]
fn malformed_override_is_explained() {
    let err = load(&["train.max_epochs"]).expect_err("no =").to_string();
    assert!(err.contains("key=value"), "{err}");
    let err = load(&["name.x=1"]).expect_err("not a table").to_string();
    assert!(err.contains("`name` is a value"), "{err}");
}

#[test]
fn embedded_default_is_valid_and_is_the_papers_default() {
    let c = ExperimentConfig::default_with(&[]).expect("valid");
    assert_eq!(c.model.focus.hidden, vec![6, 12]);
    assert_eq!(c.model.averaging_layer, 0);
    assert!(matches!(&c.data, DataConfig::Synthetic(d) if d.n_train == 3000));
}

#[test]
fn every_shipped_config_is_valid() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("configs/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            ExperimentConfig::load(&path, &[]).unwrap_or_else(|e| panic!("{e}"));
            n += 1;
        }
    }
    assert!(n >= 4, "found {n} configs");
}

#[test]
fn resolved_config_round_trips_through_toml() {
    let c = load(&[]).expect("valid");
    let again = ExperimentConfig::from_toml_str(&c.to_toml(), "resolved", &[]).expect("valid");
    assert_eq!(c, again);
}
