//! What several of the `sdc` binary's tests share.

/// Two grid points x two seeds of a small synthetic experiment named `name`, on a built-in base
/// config: the sweep, report and verdict code paths at a size a test can afford.
pub fn tiny_spec(name: &str) -> String {
    format!(
        r#"
name = "{name}"
claim = "Deeper averaging raises FTPT."
source = "test"
base = "configs/dataset2-arch2.toml"
seeds = 2
set = {{ "data.n_train" = 120, "data.n_test" = 60, "data.n_base" = 500, "train.max_epochs" = 3, "train.batch_size" = 40 }}

[[axis]]
key = "model.averaging_layer"
label = "k"
values = [0, 2]

[verdict]
metric = "train.ftpt"
direction = {{ axis = "k", order = "increasing" }}
"#
    )
}
