//! Training objectives: soft attention (the paper's), hard attention, the latent-variable
//! marginal likelihood (LVML) and hybrids of soft with either (the paper's Sec. 7, 10).
//!
//! Each objective has a loss and a prediction rule; evaluation uses the rule of the objective
//! the model was trained with, so a hard-attention model is judged on the segment it picks.

use burn::tensor::{Int, Tensor, activation};
use sdc_model::{AttentionMap, AttentionModel};
use serde::{Deserialize, Serialize};

use crate::config_error::ConfigError;

/// Which loss trains the model, and how its outputs become a prediction (`train.objective`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "ObjectiveToml", into = "ObjectiveToml")]
pub enum Objective {
    /// Cross-entropy of `g(sum_j alpha_j phi(X_j))`, the paper's (docs/paper-notes.md, Model); predictions
    /// are the argmax of those logits.
    #[default]
    Soft,
    /// Hard attention: the expected per-segment loss `sum_j alpha_j CE(g(phi(X_j)), y)` over
    /// `j ~ alpha`, computed exactly (the score-function objective without sampling, m being
    /// small); predictions use the segment `argmax_j alpha_j` alone (the follow-up paper, ECAI 2023).
    Hard,
    /// Latent-variable marginal likelihood `-log sum_j alpha_j p(y | X_j)`, with
    /// `p(. | X_j) = softmax g(phi(X_j))`; predictions are `argmax_y sum_j alpha_j p(y | X_j)`
    /// (the follow-up paper, ECAI 2023).
    Lvml,
    /// `soft_weight * soft + (1 - soft_weight) * with`; predictions from the soft path
    /// (the follow-up paper, ECAI 2023: the follow-up's hybrid loss).
    Hybrid {
        /// Weight of the soft loss, in `[0, 1]` (default 0.5).
        soft_weight: f64,
        /// The other objective.
        with: HybridPartner,
    },
}

fn half() -> f64 {
    0.5
}

/// The TOML form of [`Objective`]: serde ignores unknown keys next to the tag of a unit variant,
/// so the variants without parameters are empty structs here, which refuse them.
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
enum ObjectiveToml {
    Soft {},
    Hard {},
    Lvml {},
    Hybrid {
        #[serde(default = "half")]
        soft_weight: f64,
        with: HybridPartner,
    },
}

impl From<ObjectiveToml> for Objective {
    fn from(t: ObjectiveToml) -> Self {
        match t {
            ObjectiveToml::Soft {} => Self::Soft,
            ObjectiveToml::Hard {} => Self::Hard,
            ObjectiveToml::Lvml {} => Self::Lvml,
            ObjectiveToml::Hybrid { soft_weight, with } => Self::Hybrid { soft_weight, with },
        }
    }
}

impl From<Objective> for ObjectiveToml {
    fn from(o: Objective) -> Self {
        match o {
            Objective::Soft => Self::Soft {},
            Objective::Hard => Self::Hard {},
            Objective::Lvml => Self::Lvml {},
            Objective::Hybrid { soft_weight, with } => Self::Hybrid { soft_weight, with },
        }
    }
}

/// The objective a hybrid mixes with the soft loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HybridPartner {
    /// Hard attention ([`Objective::Hard`]).
    Hard,
    /// The latent-variable marginal likelihood ([`Objective::Lvml`]).
    Lvml,
}

/// The tensors of one forward pass that an objective's loss and prediction rule need.
#[derive(Clone, Debug)]
pub struct ObjectivePass {
    /// Focus scores `[batch, m]`.
    pub scores: Tensor<2>,
    /// Attention weights `[batch, m]`.
    pub alpha: Tensor<2>,
    /// What the classifier computed, which depends on the objective.
    pub outputs: PassOutputs,
}

/// The classifier outputs of one forward pass, per objective: exactly what its loss and its
/// prediction rule read.
///
/// (One value per mini-batch, moved, never stored: boxing the larger variant would only add an
/// allocation per step; the size comes from the backend-dispatch tensor type.)
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum PassOutputs {
    /// [`Objective::Soft`]: logits of the soft average `[batch, classes]`.
    Soft {
        /// Logits of the soft average `[batch, classes]`.
        averaged_logits: Tensor<2>,
    },
    /// [`Objective::Hard`] and [`Objective::Lvml`]: every segment classified on its own.
    Segments(SegmentOutputs),
    /// [`Objective::Hybrid`]: the soft path and the partner's.
    Hybrid {
        /// Weight of the soft loss, in `[0, 1]`.
        soft_weight: f64,
        /// Logits of the soft average `[batch, classes]`.
        averaged_logits: Tensor<2>,
        /// The partner's outputs.
        with: SegmentOutputs,
    },
}

/// Outputs of the objectives that classify every segment on its own (hard attention, LVML).
///
/// (One value per mini-batch, moved, never stored: boxing the larger variant would only add an
/// allocation per step; the size comes from the backend-dispatch tensor type.)
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum SegmentOutputs {
    /// Hard attention.
    Hard {
        /// Logits of every segment on its own `[batch, m, classes]`.
        segment_logits: Tensor<3>,
    },
    /// The latent-variable marginal likelihood.
    Lvml {
        /// `log alpha` `[batch, m]`, `-inf`-free ([`AttentionMap::log_weights`]).
        log_alpha: Tensor<2>,
        /// Logits of every segment on its own `[batch, m, classes]`.
        segment_logits: Tensor<3>,
    },
}

impl SegmentOutputs {
    /// The partner's loss, averaged over the batch; `alpha` `[batch, m]`, `labels` `[batch]`.
    fn data_loss(&self, alpha: Tensor<2>, labels: Tensor<1, Int>) -> Tensor<1> {
        match self {
            Self::Hard { segment_logits } => {
                hard_attention_loss(alpha, segment_logits.clone(), labels)
            }
            Self::Lvml {
                log_alpha,
                segment_logits,
            } => lvml_loss(log_alpha.clone(), segment_logits.clone(), labels),
        }
    }
}

impl ObjectivePass {
    /// The data term of the loss (no regulariser), averaged over the batch. `labels` `[batch]`.
    pub fn data_loss(&self, labels: Tensor<1, Int>) -> Tensor<1> {
        match &self.outputs {
            PassOutputs::Soft { averaged_logits } => cross_entropy(averaged_logits.clone(), labels),
            PassOutputs::Segments(segments) => segments.data_loss(self.alpha.clone(), labels),
            PassOutputs::Hybrid {
                soft_weight,
                averaged_logits,
                with,
            } => {
                let soft = cross_entropy(averaged_logits.clone(), labels.clone());
                let other = with.data_loss(self.alpha.clone(), labels);
                soft.mul_scalar(*soft_weight) + other.mul_scalar(1.0 - soft_weight)
            }
        }
    }

    /// Per-class scores `[batch, classes]` whose argmax is the objective's prediction: the
    /// soft logits (soft, hybrid), the logits of the segment `argmax_j alpha_j` (hard, first
    /// index on ties as the backend's argmax gives it), or `log sum_j alpha_j p(y | X_j)` (LVML).
    pub fn class_scores(&self) -> Tensor<2> {
        match &self.outputs {
            PassOutputs::Soft { averaged_logits }
            | PassOutputs::Hybrid {
                averaged_logits, ..
            } => averaged_logits.clone(),
            PassOutputs::Segments(SegmentOutputs::Hard { segment_logits }) => {
                focused_logits(self.alpha.clone(), segment_logits.clone())
            }
            PassOutputs::Segments(SegmentOutputs::Lvml {
                log_alpha,
                segment_logits,
            }) => lvml_log_marginal(log_alpha.clone(), segment_logits.clone()),
        }
    }
}

impl Objective {
    /// Short name for logs and tables (`soft`, `hard`, `lvml`, `hybrid-hard`, `hybrid-lvml`).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Soft => "soft",
            Self::Hard => "hard",
            Self::Lvml => "lvml",
            Self::Hybrid {
                with: HybridPartner::Hard,
                ..
            } => "hybrid-hard",
            Self::Hybrid {
                with: HybridPartner::Lvml,
                ..
            } => "hybrid-lvml",
        }
    }

    /// Checks the parameters, naming the key (`train.objective.*`).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Self::Hybrid { soft_weight, .. } = self
            && !(0.0..=1.0).contains(soft_weight)
        {
            return Err(ConfigError::range(
                "train.objective.soft_weight",
                soft_weight,
                "in [0, 1]",
            ));
        }
        Ok(())
    }

    /// Runs `model` on inputs `[batch, m, d]`, computing what this objective needs (the focus
    /// network runs once; the classifier once on the average and/or once on all segments).
    pub fn forward(&self, model: &AttentionModel, inputs: Tensor<3>) -> ObjectivePass {
        let (scores, features) = model.scores_and_features(inputs);
        let alpha = model.attention.apply(scores.clone());
        let segments = |partner: HybridPartner| {
            let segment_logits = model.segment_logits(features.clone());
            match partner {
                HybridPartner::Hard => SegmentOutputs::Hard { segment_logits },
                HybridPartner::Lvml => SegmentOutputs::Lvml {
                    log_alpha: model.attention.log_weights(scores.clone(), alpha.clone()),
                    segment_logits,
                },
            }
        };
        let averaged = || model.averaged_logits(alpha.clone(), features.clone());
        let outputs = match self {
            Self::Soft => PassOutputs::Soft {
                averaged_logits: averaged(),
            },
            Self::Hard => PassOutputs::Segments(segments(HybridPartner::Hard)),
            Self::Lvml => PassOutputs::Segments(segments(HybridPartner::Lvml)),
            Self::Hybrid { soft_weight, with } => PassOutputs::Hybrid {
                soft_weight: *soft_weight,
                averaged_logits: averaged(),
                with: segments(*with),
            },
        };
        ObjectivePass {
            scores,
            alpha,
            outputs,
        }
    }

    /// The data term of the loss (no regulariser) of a pass this objective's
    /// [`forward`](Self::forward) computed, averaged over the batch; what evaluation reports
    /// and the stop rule compares. `labels` `[batch]`.
    pub fn data_loss(&self, pass: &ObjectivePass, labels: Tensor<1, Int>) -> Tensor<1> {
        pass.data_loss(labels)
    }

    /// The training loss: `(1 - k) data + k mean H(alpha)` for entropy weight `k` (the paper's Sec. 7;
    /// the regulariser applies to every objective).
    pub fn loss(
        &self,
        map: &AttentionMap,
        entropy_weight: f64,
        pass: &ObjectivePass,
        labels: Tensor<1, Int>,
    ) -> Tensor<1> {
        let data = pass.data_loss(labels);
        if entropy_weight == 0.0 {
            return data;
        }
        let entropy = map.mean_entropy(pass.scores.clone(), pass.alpha.clone());
        data.mul_scalar(1.0 - entropy_weight) + entropy.mul_scalar(entropy_weight)
    }

    /// Per-class scores `[batch, classes]` whose argmax is this objective's prediction, of a
    /// pass this objective's [`forward`](Self::forward) computed ([`ObjectivePass::class_scores`]).
    pub fn class_scores(&self, pass: &ObjectivePass) -> Tensor<2> {
        pass.class_scores()
    }
}

/// Mean cross-entropy of `logits` `[batch, classes]` against integer `labels` `[batch]`,
/// computed from log-softmax for stability.
pub(crate) fn cross_entropy(logits: Tensor<2>, labels: Tensor<1, Int>) -> Tensor<1> {
    let log_p = activation::log_softmax(logits, 1);
    log_p.gather(1, labels.unsqueeze_dim::<2>(1)).mean().neg()
}

/// `log p(y | X_j)` of the true label for every segment: segment logits `[batch, m, classes]`,
/// labels `[batch]` -> `[batch, m]`.
fn segment_log_likelihood(segment_logits: Tensor<3>, labels: Tensor<1, Int>) -> Tensor<2> {
    let [batch, m, _] = segment_logits.dims();
    let index = labels.reshape([batch, 1, 1]).repeat_dim(1, m);
    activation::log_softmax(segment_logits, 2)
        .gather(2, index)
        .reshape([batch, m])
}

/// Hard-attention loss `mean_b sum_j alpha_j CE(g(phi(X_j)), y)`: alpha `[batch, m]`, segment
/// logits `[batch, m, classes]`, labels `[batch]`. Its gradient in the scores is the exact
/// score-function (REINFORCE) gradient of `E_{j ~ alpha} CE_j`.
fn hard_attention_loss(
    alpha: Tensor<2>,
    segment_logits: Tensor<3>,
    labels: Tensor<1, Int>,
) -> Tensor<1> {
    let nll = segment_log_likelihood(segment_logits, labels).neg();
    (alpha * nll).sum_dim(1).mean()
}

/// `log sum_i exp(x_i)` along `dim`, shifted by the (detached) maximum for stability.
fn log_sum_exp<const D: usize>(x: Tensor<D>, dim: usize) -> Tensor<D> {
    let max = x.clone().max_dim(dim).detach();
    (x - max.clone()).exp().sum_dim(dim).log() + max
}

/// LVML loss `-mean_b log sum_j alpha_j p(y | X_j)`, from `log alpha` `[batch, m]`, segment
/// logits `[batch, m, classes]` and labels `[batch]`, by log-sum-exp.
fn lvml_loss(log_alpha: Tensor<2>, segment_logits: Tensor<3>, labels: Tensor<1, Int>) -> Tensor<1> {
    let joint = log_alpha + segment_log_likelihood(segment_logits, labels);
    log_sum_exp(joint, 1).mean().neg()
}

/// `log sum_j alpha_j p(y | X_j)` for every class: `[batch, m]`, `[batch, m, classes]` ->
/// `[batch, classes]`.
fn lvml_log_marginal(log_alpha: Tensor<2>, segment_logits: Tensor<3>) -> Tensor<2> {
    let [batch, _, n_classes] = segment_logits.dims();
    let joint = log_alpha.unsqueeze_dim::<3>(2) + activation::log_softmax(segment_logits, 2);
    log_sum_exp(joint, 1).reshape([batch, n_classes])
}

/// The logits of the segment with the largest weight: `[batch, m]`, `[batch, m, classes]` ->
/// `[batch, classes]`.
fn focused_logits(alpha: Tensor<2>, segment_logits: Tensor<3>) -> Tensor<2> {
    let [batch, _, n_classes] = segment_logits.dims();
    let index = alpha
        .argmax(1)
        .reshape([batch, 1, 1])
        .repeat_dim(2, n_classes);
    segment_logits.gather(1, index).reshape([batch, n_classes])
}

#[cfg(test)]
mod tests;
