//! Training objectives: soft attention (the paper's), hard attention, the latent-variable
//! marginal likelihood (LVML) and hybrids of soft with either (paper-spec 7, 10).
//!
//! Each objective has a loss and a prediction rule; evaluation uses the rule of the objective
//! the model was trained with, so a hard-attention model is judged on the segment it picks.

use burn::tensor::{Int, Tensor, activation};
use sdc_model::{AttentionMap, AttentionModel};
use serde::{Deserialize, Serialize};

/// Which loss trains the model, and how its outputs become a prediction (`train.objective`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "ObjectiveToml", into = "ObjectiveToml")]
pub enum Objective {
    /// Cross-entropy of `g(sum_j alpha_j phi(X_j))`, the paper's (paper-spec 2); predictions
    /// are the argmax of those logits.
    #[default]
    Soft,
    /// Hard attention: the expected per-segment loss `sum_j alpha_j CE(g(phi(X_j)), y)` over
    /// `j ~ alpha`, computed exactly (the score-function objective without sampling, m being
    /// small); predictions use the segment `argmax_j alpha_j` alone (paper-spec 10).
    Hard,
    /// Latent-variable marginal likelihood `-log sum_j alpha_j p(y | X_j)`, with
    /// `p(. | X_j) = softmax g(phi(X_j))`; predictions are `argmax_y sum_j alpha_j p(y | X_j)`
    /// (paper-spec 10).
    Lvml,
    /// `soft_weight * soft + (1 - soft_weight) * with`; predictions from the soft path
    /// (paper-spec 10: the follow-up's hybrid loss).
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
    /// `log alpha` `[batch, m]` (LVML only): `-inf`-free, see [`log_attention`].
    pub log_alpha: Option<Tensor<2>>,
    /// Logits of the soft average `[batch, classes]` (soft and hybrid).
    pub averaged_logits: Option<Tensor<2>>,
    /// Logits of every segment on its own `[batch, m, classes]` (hard, LVML and hybrid).
    pub segment_logits: Option<Tensor<3>>,
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
    pub fn validate(&self) -> Result<(), String> {
        if let Self::Hybrid { soft_weight, .. } = self
            && !(0.0..=1.0).contains(soft_weight)
        {
            return Err(format!(
                "train.objective.soft_weight = {soft_weight}: must be in [0, 1]"
            ));
        }
        Ok(())
    }

    fn needs_average(&self) -> bool {
        matches!(self, Self::Soft | Self::Hybrid { .. })
    }

    fn needs_segments(&self) -> bool {
        !matches!(self, Self::Soft)
    }

    fn needs_log_alpha(&self) -> bool {
        matches!(
            self,
            Self::Lvml
                | Self::Hybrid {
                    with: HybridPartner::Lvml,
                    ..
                }
        )
    }

    /// Runs `model` on inputs `[batch, m, d]`, computing what this objective needs (the focus
    /// network runs once; the classifier once on the average and/or once on all segments).
    pub fn forward(&self, model: &AttentionModel, inputs: Tensor<3>) -> ObjectivePass {
        let (scores, features) = model.scores_and_features(inputs);
        let alpha = model.attention.apply(scores.clone());
        let log_alpha = self
            .needs_log_alpha()
            .then(|| log_attention(&model.attention, scores.clone(), alpha.clone()));
        let averaged_logits = self
            .needs_average()
            .then(|| model.averaged_logits(alpha.clone(), features.clone()));
        let segment_logits = self
            .needs_segments()
            .then(|| model.segment_logits(features));
        ObjectivePass {
            scores,
            alpha,
            log_alpha,
            averaged_logits,
            segment_logits,
        }
    }

    /// The data term of the loss (no regulariser), averaged over the batch; what evaluation
    /// reports and the stop rule compares. `labels` `[batch]`.
    pub fn data_loss(&self, pass: &ObjectivePass, labels: Tensor<1, Int>) -> Tensor<1> {
        match self {
            Self::Soft => cross_entropy(averaged(pass), labels),
            Self::Hard => hard_attention_loss(pass.alpha.clone(), segments(pass), labels),
            Self::Lvml => lvml_loss(log_alpha(pass), segments(pass), labels),
            Self::Hybrid { soft_weight, with } => {
                let soft = cross_entropy(averaged(pass), labels.clone());
                let other = match with {
                    HybridPartner::Hard => {
                        hard_attention_loss(pass.alpha.clone(), segments(pass), labels)
                    }
                    HybridPartner::Lvml => lvml_loss(log_alpha(pass), segments(pass), labels),
                };
                soft.mul_scalar(*soft_weight) + other.mul_scalar(1.0 - soft_weight)
            }
        }
    }

    /// The training loss: `(1 - k) data + k mean H(alpha)` for entropy weight `k` (paper-spec 7;
    /// the regulariser applies to every objective).
    pub fn loss(
        &self,
        map: &AttentionMap,
        entropy_weight: f64,
        pass: &ObjectivePass,
        labels: Tensor<1, Int>,
    ) -> Tensor<1> {
        regularised(
            self.data_loss(pass, labels),
            map,
            entropy_weight,
            pass.scores.clone(),
            pass.alpha.clone(),
        )
    }

    /// Per-class scores `[batch, classes]` whose argmax is this objective's prediction: the
    /// soft logits (soft, hybrid), the logits of the segment `argmax_j alpha_j` (hard, first
    /// index on ties as the backend's argmax gives it), or `log sum_j alpha_j p(y | X_j)` (LVML).
    pub fn class_scores(&self, pass: &ObjectivePass) -> Tensor<2> {
        match self {
            Self::Soft | Self::Hybrid { .. } => averaged(pass),
            Self::Hard => focused_logits(pass.alpha.clone(), segments(pass)),
            Self::Lvml => lvml_log_marginal(log_alpha(pass), segments(pass)),
        }
    }
}

fn averaged(pass: &ObjectivePass) -> Tensor<2> {
    pass.averaged_logits
        .clone()
        .expect("Objective::forward computes the averaged logits for soft and hybrid")
}

fn segments(pass: &ObjectivePass) -> Tensor<3> {
    pass.segment_logits
        .clone()
        .expect("Objective::forward computes segment logits for every objective but soft")
}

fn log_alpha(pass: &ObjectivePass) -> Tensor<2> {
    pass.log_alpha
        .clone()
        .expect("Objective::forward computes log alpha for LVML")
}

/// Mean cross-entropy of `logits` `[batch, classes]` against integer `labels` `[batch]`,
/// computed from log-softmax for stability.
pub fn cross_entropy(logits: Tensor<2>, labels: Tensor<1, Int>) -> Tensor<1> {
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
pub fn hard_attention_loss(
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
pub fn lvml_loss(
    log_alpha: Tensor<2>,
    segment_logits: Tensor<3>,
    labels: Tensor<1, Int>,
) -> Tensor<1> {
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

/// `log alpha` `[batch, m]`: `log_softmax` of the scores for softmax (stable); otherwise the
/// logarithm of alpha clamped at the smallest positive float, since sparse maps put exactly 0
/// on some segments (their terms then vanish from sums weighted by alpha).
pub fn log_attention(map: &AttentionMap, scores: Tensor<2>, alpha: Tensor<2>) -> Tensor<2> {
    match map {
        AttentionMap::Softmax { temperature } => {
            activation::log_softmax(scores.div_scalar(*temperature), 1)
        }
        _ => alpha.clamp_min(f32::MIN_POSITIVE as f64).log(),
    }
}

/// Mean attention entropy (natural log) over the batch, the paper's regulariser (paper-spec 7).
///
/// For softmax it is computed from `log_softmax` of the scores, which is stable; for the other
/// maps from `alpha` with `0 log 0 = 0` (entries outside the support contribute nothing).
pub fn attention_entropy(map: &AttentionMap, scores: Tensor<2>, alpha: Tensor<2>) -> Tensor<1> {
    // Clamping only the logarithm keeps alpha * log alpha at exactly 0 where alpha is 0.
    let log_alpha = log_attention(map, scores, alpha.clone());
    (alpha * log_alpha).sum_dim(1).mean().neg()
}

/// `(1 - k) data + k mean H(alpha)`; `data` alone when `k = 0`.
fn regularised(
    data: Tensor<1>,
    map: &AttentionMap,
    entropy_weight: f64,
    scores: Tensor<2>,
    alpha: Tensor<2>,
) -> Tensor<1> {
    if entropy_weight == 0.0 {
        return data;
    }
    data.mul_scalar(1.0 - entropy_weight)
        + attention_entropy(map, scores, alpha).mul_scalar(entropy_weight)
}

/// The soft objective from its logits: `(1 - k) CE + k mean H(alpha)` for entropy weight `k`
/// (0: plain CE).
pub fn objective(
    map: &AttentionMap,
    entropy_weight: f64,
    logits: Tensor<2>,
    labels: Tensor<1, Int>,
    scores: Tensor<2>,
    alpha: Tensor<2>,
) -> Tensor<1> {
    regularised(
        cross_entropy(logits, labels),
        map,
        entropy_weight,
        scores,
        alpha,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    #[allow(deprecated)] // ndarray is the reference CPU backend
    fn device() -> Device {
        Device::ndarray()
    }

    fn t2(values: &[f32], shape: [usize; 2], device: &Device) -> Tensor<2> {
        Tensor::from_data(TensorData::new(values.to_vec(), shape), device)
    }

    fn t3(values: &[f32], shape: [usize; 3], device: &Device) -> Tensor<3> {
        Tensor::from_data(TensorData::new(values.to_vec(), shape), device)
    }

    fn labels(values: &[i64], device: &Device) -> Tensor<1, Int> {
        Tensor::from_data(TensorData::new(values.to_vec(), [values.len()]), device)
    }

    fn scalar(t: Tensor<1>) -> f32 {
        t.into_scalar::<f32>()
    }

    fn close(got: f32, want: f32) {
        assert!((got - want).abs() < 1e-5, "{got} vs {want}");
    }

    /// Two samples, m = 2 segments, 2 classes.
    /// Sample 0 (label 0): alpha (0.25, 0.75); segment logits (0, 0) and (2, 0).
    /// Sample 1 (label 1): alpha (1, 0); segment logits (1, 0) and (0, 3).
    struct Tiny {
        alpha: Tensor<2>,
        segment_logits: Tensor<3>,
        averaged_logits: Tensor<2>,
        labels: Tensor<1, Int>,
    }

    fn tiny(device: &Device) -> Tiny {
        Tiny {
            alpha: t2(&[0.25, 0.75, 1.0, 0.0], [2, 2], device),
            segment_logits: t3(&[0.0, 0.0, 2.0, 0.0, 1.0, 0.0, 0.0, 3.0], [2, 2, 2], device),
            averaged_logits: t2(&[0.0, 1.0, 1.0, 0.0], [2, 2], device),
            labels: labels(&[0, 1], device),
        }
    }

    /// `-log softmax(logits)[y]` for two logits.
    fn nll(logits: [f32; 2], y: usize) -> f32 {
        let lse = (logits[0].exp() + logits[1].exp()).ln();
        lse - logits[y]
    }

    fn p(logits: [f32; 2], y: usize) -> f32 {
        (-nll(logits, y)).exp()
    }

    fn pass(t: &Tiny, map: &AttentionMap) -> ObjectivePass {
        ObjectivePass {
            scores: t.alpha.clone(),
            alpha: t.alpha.clone(),
            log_alpha: Some(log_attention(map, t.alpha.clone(), t.alpha.clone())),
            averaged_logits: Some(t.averaged_logits.clone()),
            segment_logits: Some(t.segment_logits.clone()),
        }
    }

    const SPARSE: AttentionMap = AttentionMap::Sparsemax { temperature: 1.0 };

    #[test]
    fn cross_entropy_matches_a_hand_computation() {
        let device = device();
        let logits = t2(&[0.0, 0.0, 2.0, 0.0], [2, 2], &device);
        let loss = scalar(cross_entropy(logits, labels(&[0, 1], &device)));
        // ln 2 for the uniform row, ln(1 + e^2) for the confident wrong row.
        close(loss, (2f32.ln() + (1.0 + 2f32.exp()).ln()) / 2.0);
    }

    #[test]
    fn soft_loss_is_cross_entropy_of_the_average() {
        let device = device();
        let t = tiny(&device);
        let got = scalar(Objective::Soft.data_loss(&pass(&t, &SPARSE), t.labels.clone()));
        close(got, (nll([0.0, 1.0], 0) + nll([1.0, 0.0], 1)) / 2.0);
    }

    #[test]
    fn hard_loss_is_the_alpha_weighted_segment_loss() {
        let device = device();
        let t = tiny(&device);
        let got = scalar(Objective::Hard.data_loss(&pass(&t, &SPARSE), t.labels.clone()));
        let s0 = 0.25 * nll([0.0, 0.0], 0) + 0.75 * nll([2.0, 0.0], 0);
        let s1 = 1.0 * nll([1.0, 0.0], 1) + 0.0 * nll([0.0, 3.0], 1);
        close(got, (s0 + s1) / 2.0);
    }

    #[test]
    fn lvml_loss_is_the_negative_log_marginal_with_zero_weights_ignored() {
        let device = device();
        let t = tiny(&device);
        let got = scalar(Objective::Lvml.data_loss(&pass(&t, &SPARSE), t.labels.clone()));
        let s0 = -(0.25 * p([0.0, 0.0], 0) + 0.75 * p([2.0, 0.0], 0)).ln();
        // alpha = 0 on segment 1: only segment 0 counts, although it is the worse one.
        let s1 = -(p([1.0, 0.0], 1)).ln();
        close(got, (s0 + s1) / 2.0);
    }

    #[test]
    fn lvml_with_softmax_uses_log_softmax_of_the_scores() {
        let device = device();
        let scores = t2(&[0.0, 1.0], [1, 2], &device);
        let map = AttentionMap::default();
        let alpha = map.apply(scores.clone());
        let log_alpha = log_attention(&map, scores, alpha);
        let logits = t3(&[0.0, 0.0, 2.0, 0.0], [1, 2, 2], &device);
        let got = scalar(lvml_loss(log_alpha, logits, labels(&[0], &device)));
        let a1 = 1f32.exp() / (1.0 + 1f32.exp());
        close(got, -((1.0 - a1) * 0.5 + a1 * p([2.0, 0.0], 0)).ln());
    }

    #[test]
    fn hybrid_mixes_soft_with_its_partner() {
        let device = device();
        let t = tiny(&device);
        let pass = pass(&t, &SPARSE);
        let value = |o: &Objective| scalar(o.data_loss(&pass, t.labels.clone()));
        let soft = value(&Objective::Soft);
        for (with, other) in [
            (HybridPartner::Hard, value(&Objective::Hard)),
            (HybridPartner::Lvml, value(&Objective::Lvml)),
        ] {
            let hybrid = Objective::Hybrid {
                soft_weight: 0.3,
                with,
            };
            close(value(&hybrid), 0.3 * soft + 0.7 * other);
        }
    }

    #[test]
    fn entropy_regularises_every_objective() {
        let device = device();
        let t = tiny(&device);
        let pass = pass(&t, &SPARSE);
        let data = scalar(Objective::Hard.data_loss(&pass, t.labels.clone()));
        let h = (-(0.25f32 * 0.25f32.ln() + 0.75 * 0.75f32.ln())) / 2.0;
        let got = scalar(Objective::Hard.loss(&SPARSE, 0.1, &pass, t.labels.clone()));
        close(got, 0.9 * data + 0.1 * h);
    }

    #[test]
    fn each_objective_predicts_by_its_own_rule() {
        let device = device();
        let t = tiny(&device);
        let pass = pass(&t, &SPARSE);
        let argmax = |o: Objective| {
            o.class_scores(&pass)
                .argmax(1)
                .try_into_vec_as::<i64>()
                .expect("i64")
        };
        // Soft: the averaged logits (0, 1) and (1, 0).
        assert_eq!(argmax(Objective::Soft), vec![1, 0]);
        // Hard: segment 1 of sample 0 (2, 0) and segment 0 of sample 1 (1, 0).
        assert_eq!(argmax(Objective::Hard), vec![0, 0]);
        let hard = Objective::Hard
            .class_scores(&pass)
            .try_into_vec_as::<f32>()
            .expect("f32");
        assert_eq!(hard, vec![2.0, 0.0, 1.0, 0.0]);
        // LVML: sample 0 mixes 0.25 (1/2, 1/2) + 0.75 (0.88, 0.12) -> class 0.
        let lvml = Objective::Lvml
            .class_scores(&pass)
            .try_into_vec_as::<f32>()
            .expect("f32");
        close(
            lvml[0],
            (0.25 * p([0.0, 0.0], 0) + 0.75 * p([2.0, 0.0], 0)).ln(),
        );
        close(lvml[3], p([1.0, 0.0], 1).ln());
        assert_eq!(argmax(Objective::Lvml), vec![0, 0]);
        // Hybrids predict from the soft path.
        let hybrid = Objective::Hybrid {
            soft_weight: 0.5,
            with: HybridPartner::Hard,
        };
        assert_eq!(argmax(hybrid), vec![1, 0]);
    }

    #[test]
    fn hybrid_soft_weight_outside_the_unit_interval_is_refused_by_key() {
        for w in [-0.1, 1.5, f64::NAN] {
            let err = Objective::Hybrid {
                soft_weight: w,
                with: HybridPartner::Lvml,
            }
            .validate()
            .expect_err("out of range");
            assert!(err.contains("train.objective.soft_weight"), "{err}");
        }
        for w in [0.0, 1.0] {
            Objective::Hybrid {
                soft_weight: w,
                with: HybridPartner::Hard,
            }
            .validate()
            .expect("endpoints are allowed");
        }
    }

    #[test]
    fn objectives_parse_from_toml_and_refuse_unknown_kinds() {
        let parse = |s: &str| {
            toml::from_str::<toml::Table>(&format!("o = {s}")).expect("toml")["o"]
                .clone()
                .try_into::<Objective>()
        };
        assert_eq!(parse("{ kind = \"soft\" }").expect("soft"), Objective::Soft);
        assert_eq!(parse("{ kind = \"lvml\" }").expect("lvml"), Objective::Lvml);
        assert_eq!(
            parse("{ kind = \"hybrid\", with = \"hard\" }").expect("hybrid"),
            Objective::Hybrid {
                soft_weight: 0.5,
                with: HybridPartner::Hard
            }
        );
        assert!(parse("{ kind = \"reinforce\" }").is_err());
        assert!(parse("{ kind = \"hybrid\", with = \"soft\" }").is_err());
        assert!(parse("{ kind = \"hard\", soft_weight = 0.5 }").is_err());
    }
}

#[cfg(test)]
mod entropy_tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    #[allow(deprecated)] // ndarray is the reference CPU backend
    fn device() -> Device {
        Device::ndarray()
    }

    #[test]
    fn uniform_softmax_has_entropy_ln_m() {
        let device = device();
        let scores = Tensor::<2>::zeros([2, 4], &device);
        let alpha = activation::softmax(scores.clone(), 1);
        let h = attention_entropy(&AttentionMap::default(), scores, alpha).into_scalar::<f32>();
        assert!((h - 4f32.ln()).abs() < 1e-6, "{h}");
    }

    #[test]
    fn sparse_rows_count_zero_entries_as_nothing() {
        let device = device();
        let alpha = Tensor::<2>::from_data(
            TensorData::new(vec![0.5f32, 0.5, 0.0, 1.0, 0.0, 0.0], [2, 3]),
            &device,
        );
        let map = AttentionMap::Sparsemax { temperature: 1.0 };
        let h = attention_entropy(&map, alpha.clone(), alpha).into_scalar::<f32>();
        // Row 1: ln 2; row 2: 0.
        assert!((h - 2f32.ln() / 2.0).abs() < 1e-6, "{h}");
    }
}

#[cfg(test)]
mod gradient_tests {
    use super::*;
    use burn::module::{Module, ModuleVisitor, Param};
    use burn::optim::GradientsParams;
    use burn::tensor::{Device, TensorData};
    use sdc_model::ModelConfig;

    /// Sums `|gradient|` over a module's float parameters.
    struct GradMass<'a> {
        grads: &'a GradientsParams,
        total: f64,
        missing: usize,
    }

    impl ModuleVisitor for GradMass<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            match self.grads.get::<D>(param.id) {
                Some(g) => self.total += g.abs().sum().into_scalar::<f64>(),
                None => self.missing += 1,
            }
        }
    }

    #[allow(deprecated)] // ndarray is the reference CPU backend
    fn device() -> Device {
        Device::ndarray().autodiff()
    }

    /// `(|grad| over focus parameters, parameters without a gradient)` after one backward pass.
    fn focus_gradient(objective: &Objective, map: AttentionMap) -> (f64, usize) {
        let device = device();
        let config = ModelConfig {
            attention: map,
            ..ModelConfig::default()
        };
        let model = config.init(5, 3, 11, &device).expect("valid");
        let values: Vec<f32> = (0..4 * 9 * 5)
            .map(|i| ((i * 31 % 19) as f32 - 9.0) / 4.0)
            .collect();
        let inputs = Tensor::<3>::from_data(TensorData::new(values, [4, 9, 5]), &device);
        let labels =
            Tensor::<1, Int>::from_data(TensorData::new(vec![0i64, 1, 2, 1], [4]), &device);
        let pass = objective.forward(&model, inputs);
        let loss = objective.loss(&model.attention, 0.0, &pass, labels);
        let mut grads = loss.backward();
        let grads = GradientsParams::from_module(&mut grads, &model.focus);
        let mut mass = GradMass {
            grads: &grads,
            total: 0.0,
            missing: 0,
        };
        model.focus.visit(&mut mass);
        (mass.total, mass.missing)
    }

    #[test]
    fn hard_and_lvml_gradients_reach_the_focus_network() {
        for objective in [
            Objective::Hard,
            Objective::Lvml,
            Objective::Hybrid {
                soft_weight: 0.5,
                with: HybridPartner::Lvml,
            },
        ] {
            for map in [
                AttentionMap::default(),
                AttentionMap::Sparsemax { temperature: 1.0 },
            ] {
                let (total, missing) = focus_gradient(&objective, map.clone());
                assert_eq!(missing, 0, "{objective:?} {map:?}");
                assert!(
                    total.is_finite() && total > 1e-6,
                    "{objective:?} {map:?}: {total}"
                );
            }
        }
    }
}
