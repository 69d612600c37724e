//! Networks started from the final model of a finished run (`train.init_from`): with
//! `train.freeze`, the paper's "cheating network" grid of random or pretrained, trained or frozen
//! networks (docs/paper-notes.md, Training, 6.2).

use std::path::{Path, PathBuf};

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Device, Tensor};
use sdc_data::SdcDataset;
use sdc_model::AttentionModel;
use tracing::info;

use crate::config::{ExperimentConfig, InitFrom, Network};
use crate::error::TrainError;
use crate::run_dir::{CONFIG_FILE, MANIFEST_FILE, MODEL_FILE, RunDir};

/// Replaces the networks named in `train.init_from` by those of the finished runs' models.
pub(super) fn init_from_runs(
    init: &InitFrom,
    mut model: AttentionModel,
    train: &SdcDataset,
    device: &Device,
) -> Result<AttentionModel, TrainError> {
    for (network, dir) in init.entries() {
        let key = format!("train.init_from.{}", network.name());
        let other = load_run_model(dir, &key, train, device)?;
        let shape_error = |ours: Vec<Vec<usize>>, theirs: Vec<Vec<usize>>| TrainError::RunDir {
            path: dir.join(MODEL_FILE),
            message: format!(
                "{key}: the run's {} network has parameter shapes {theirs:?}, this model's has \
                 {ours:?}; the two configurations must build the same {} network",
                network.name(),
                network.name()
            ),
        };
        match network {
            Network::Focus => {
                let (ours, theirs) = (param_shapes(&model.focus), param_shapes(&other.focus));
                if ours != theirs {
                    return Err(shape_error(ours, theirs));
                }
                model.focus = other.focus;
            }
            Network::Classifier => {
                let (ours, theirs) = (
                    param_shapes(&model.classifier),
                    param_shapes(&other.classifier),
                );
                if ours != theirs {
                    return Err(shape_error(ours, theirs));
                }
                model.classifier = other.classifier;
            }
        }
        info!(network = network.name(), dir = %dir.display(), "network loaded from a finished run");
    }
    Ok(model)
}

/// The final model of the finished run in `dir`, built from that run's `config.toml` for data
/// shaped like `train`. Errors name the file and the `key` that pointed there.
fn load_run_model(
    dir: &Path,
    key: &str,
    train: &SdcDataset,
    device: &Device,
) -> Result<AttentionModel, TrainError> {
    let err = |path: PathBuf, message: String| TrainError::RunDir {
        path,
        message: format!("{key}: {message}"),
    };
    let config_path = dir.join(CONFIG_FILE);
    if !config_path.is_file() {
        return Err(err(
            config_path,
            "no such file; expected the directory of a finished run (config.toml, model.bpk)"
                .into(),
        ));
    }
    let config = ExperimentConfig::load(&config_path, &[]).map_err(|e| {
        let message = match e {
            // Its origin is the file, which the error names already.
            TrainError::Config { message, .. } => message,
            other => other.to_string(),
        };
        err(config_path.clone(), message)
    })?;
    let model_path = dir.join(MODEL_FILE);
    // The model is read only from a finished run, checked against its manifest.
    let manifest = RunDir::open(dir)
        .and_then(|run| run.finished(Some(&config)))
        .map_err(|e| err(dir.to_path_buf(), e.to_string()))?;
    let Some(manifest) = manifest else {
        return Err(err(
            model_path,
            format!("not the model of a finished run (no {MANIFEST_FILE}); has that run finished?"),
        ));
    };
    let bytes = manifest
        .read_verified(dir, MODEL_FILE)
        .map_err(|e| err(model_path.clone(), e.to_string()))?;
    let model = config
        .model
        .init_for(
            train.segment_shape(),
            train.n_classes(),
            config.train.seed,
            device,
        )
        .map_err(|e| {
            err(
                config_path,
                format!("its model does not fit these data: {e}"),
            )
        })?;
    model
        .load_bytes(bytes, &model_path)
        .map_err(|e| err(model_path, e.to_string()))
}

/// Shapes of a module's float parameters, in visiting order.
fn param_shapes<M: Module>(module: &M) -> Vec<Vec<usize>> {
    struct Shapes(Vec<Vec<usize>>);
    impl ModuleVisitor for Shapes {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0.push(param.val().dims().to_vec());
        }
    }
    let mut shapes = Shapes(Vec::new());
    module.visit(&mut shapes);
    shapes.0
}
