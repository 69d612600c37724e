//! Attention models for selective-dependence classification (SDC), on Burn.
//!
//! An [`AttentionModel`] scores each of the `m` segments of an input with a focus network `f`,
//! turns the scores into weights `alpha` with an [`AttentionMap`], averages the segments (or
//! their features at focus layer `k`) with those weights and classifies the average with a
//! classification network `g` (docs/paper-notes.md, Model).
//!
//! Burn 0.22 picks its backend at run time through [`burn::tensor::Device`], so every model
//! here is backend-agnostic: the same code runs on ndarray, wgpu or any other device.

mod attention;
mod budget;
mod conv;
mod error;
mod init;
pub mod kernels;
mod model;
mod nets;
mod readout;
mod replica;

pub use attention::AttentionMap;
pub use conv::{BatchStatNorm, ConvBlock, ConvLayerConfig, ImageShape};
pub use error::{InvalidValue, ModelError};
pub use init::{ClassifierInit, FocusInit, InitSeeding};
pub use model::{AttentionModel, AttentionOutput, ModelConfig};
pub use nets::{ClassifierConfig, ClassifierNet, FocusConfig, FocusNet};
pub use replica::{ReplicaDense, ReplicaModel, ReplicaOutput, select_replicas};
