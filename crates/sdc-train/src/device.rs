//! Backend and precision: the one place where sdc picks concrete devices.

use burn::tensor::{Device, DeviceError, FloatDType};
use serde::{Deserialize, Serialize};

use crate::error::TrainError;

/// Which Burn backend runs the tensors.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BackendKind {
    /// The ndarray CPU backend (deterministic; selectable and tested, no longer the default).
    Ndarray,
    /// Burn's flex CPU backend, the default: gemm-crate matrix products, faster than ndarray on
    /// every bench model (bench/results.md), and deterministic.
    #[default]
    Flex,
    /// The wgpu GPU backend (needs the `wgpu` cargo feature).
    Wgpu,
}

impl BackendKind {
    /// Whether it computes on the CPU (flex, ndarray), where a second thread is a second core's
    /// work; a GPU backend's work queues on the one device.
    pub fn on_cpu(self) -> bool {
        !matches!(self, Self::Wgpu)
    }

    /// The name configs and command lines use (`train.backend = "flex"`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Ndarray => "ndarray",
            Self::Flex => "flex",
            Self::Wgpu => "wgpu",
        }
    }
}

impl std::fmt::Display for BackendKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for BackendKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ndarray" => Ok(Self::Ndarray),
            "flex" => Ok(Self::Flex),
            "wgpu" => Ok(Self::Wgpu),
            other => Err(format!(
                "unknown backend `{other}`: expected ndarray, flex or wgpu"
            )),
        }
    }
}

/// Floating-point precision of parameters and activations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Precision {
    /// 32-bit floats (the default).
    #[default]
    F32,
    /// 64-bit floats, as the paper's code (docs/paper-notes.md).
    F64,
}

impl Precision {
    fn dtype(self) -> FloatDType {
        match self {
            Self::F32 => FloatDType::F32,
            Self::F64 => FloatDType::F64,
        }
    }
}

/// The device for `backend`, with its default float type set to `precision`.
///
/// Burn fixes a device's default dtype the first time it is used, process-wide; asking for a
/// second precision on the same backend in one process is an error rather than a silent mix.
pub fn device(backend: BackendKind, precision: Precision) -> Result<Device, TrainError> {
    let mut device = base_device(backend)?;
    match device.configure(precision.dtype()) {
        Ok(()) => {}
        Err(DeviceError::AlreadyInitialized { .. }) => {
            let current = device.settings().float_dtype;
            if current != precision.dtype() {
                return Err(TrainError::Device(format!(
                    "precision {precision:?} requested, but this process already runs {current:?} on \
                     {backend:?}; run different precisions in separate processes"
                )));
            }
        }
        Err(e) => {
            return Err(TrainError::Device(format!(
                "{backend:?} cannot run precision {precision:?}: {e}"
            )));
        }
    }
    Ok(device)
}

#[allow(deprecated)] // burn 0.22 deprecates ndarray in favour of flex; ndarray is our reference CPU backend
fn base_device(backend: BackendKind) -> Result<Device, TrainError> {
    match backend {
        BackendKind::Ndarray => Ok(Device::ndarray()),
        BackendKind::Flex => Ok(Device::flex()),
        #[cfg(feature = "wgpu")]
        BackendKind::Wgpu => Ok(Device::wgpu(burn::tensor::DeviceKind::DefaultDevice)),
        #[cfg(not(feature = "wgpu"))]
        BackendKind::Wgpu => Err(TrainError::Device(
            "backend wgpu: this build has no GPU support; rebuild with `--features wgpu`".into(),
        )),
    }
}
