//! A run's final model as a `.safetensors` file, so that PyTorch (or any framework) can load
//! networks sdc trained.
//!
//! Tensor names are the module paths of [`sdc_model::AttentionModel`]: `focus.hidden.0.weight`,
//! `focus.output.bias`, `classifier.convs.0.conv.weight`, ... Linear weights are stored in
//! PyTorch's `[out_features, in_features]` layout (Burn keeps `[in, out]`), so each loads into
//! a `torch.nn.Linear` as it is. The run's `config.toml` travels in the metadata (`sdc_config`):
//! the attention map and the averaging layer are settings, not tensors.

use std::path::Path;

use burn::store::{BurnToPyTorchAdapter, ModuleSnapshot, SafetensorsStore};

use crate::device::{BackendKind, Precision, device};
use crate::error::TrainError;
use crate::run::load_run_model;
use crate::run_dir::{CONFIG_FILE, RunDir, write_atomic};

/// Name and shape of one exported tensor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportedTensor {
    /// The module path, e.g. `focus.hidden.0.weight`.
    pub name: String,
    /// The shape, in PyTorch's layout.
    pub shape: Vec<usize>,
}

/// Writes the final model of the run in `run_dir` to `out` as safetensors (float32) and
/// returns the tensors written, sorted by name.
pub fn export_weights(run_dir: &Path, out: &Path) -> Result<Vec<ExportedTensor>, TrainError> {
    let run = RunDir::open(run_dir)?;
    let config = run
        .read_config()?
        .expect("RunDir::open checked config.toml");
    // Weights are read on the CPU in float32 whatever the run trained on: no GPU needed.
    let cpu = device(BackendKind::Ndarray, Precision::F32)?;
    let model = load_run_model(&config, run_dir, &cpu)?;
    let config_path = run.file(CONFIG_FILE);
    let config_toml =
        std::fs::read_to_string(&config_path).map_err(|e| TrainError::io(&config_path, e))?;
    let mut store = SafetensorsStore::from_bytes(None)
        .with_to_adapter(BurnToPyTorchAdapter)
        .metadata("sdc_version", env!("CARGO_PKG_VERSION"))
        .metadata("sdc_config", config_toml);
    let export_error = |e: &dyn std::fmt::Display| TrainError::io(out, e.to_string());
    model.save_into(&mut store).map_err(|e| export_error(&e))?;
    let bytes = store.get_bytes().map_err(|e| export_error(&e))?;
    let tensors = list_tensors(&bytes).map_err(|e| export_error(&e))?;
    write_atomic(out, &bytes)?;
    Ok(tensors)
}

/// Names and shapes of the tensors in safetensors `bytes`, sorted by name.
fn list_tensors(bytes: &[u8]) -> Result<Vec<ExportedTensor>, safetensors::SafeTensorError> {
    let file = safetensors::SafeTensors::deserialize(bytes)?;
    let mut tensors: Vec<ExportedTensor> = file
        .tensors()
        .into_iter()
        .map(|(name, view)| ExportedTensor {
            name,
            shape: view.shape().to_vec(),
        })
        .collect();
    tensors.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(tensors)
}
