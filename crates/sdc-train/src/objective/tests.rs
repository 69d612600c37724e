//! Tests of the objectives: losses and prediction rules by hand on tiny tensors, gradients
//! reaching the focus network.

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

/// The pass `objective` reads, from the tiny tensors (the scores are alpha itself).
fn pass(t: &Tiny, map: &AttentionMap, objective: &Objective) -> ObjectivePass {
    let segments = |partner: HybridPartner| {
        let segment_logits = t.segment_logits.clone();
        match partner {
            HybridPartner::Hard => SegmentOutputs::Hard { segment_logits },
            HybridPartner::Lvml => SegmentOutputs::Lvml {
                log_alpha: map.log_weights(t.alpha.clone(), t.alpha.clone()),
                segment_logits,
            },
        }
    };
    let averaged_logits = t.averaged_logits.clone();
    let outputs = match objective {
        Objective::Soft => PassOutputs::Soft { averaged_logits },
        Objective::Hard => PassOutputs::Segments(segments(HybridPartner::Hard)),
        Objective::Lvml => PassOutputs::Segments(segments(HybridPartner::Lvml)),
        Objective::Hybrid { soft_weight, with } => PassOutputs::Hybrid {
            soft_weight: *soft_weight,
            averaged_logits,
            with: segments(*with),
        },
    };
    ObjectivePass {
        scores: t.alpha.clone(),
        alpha: t.alpha.clone(),
        outputs,
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
    let got =
        scalar(Objective::Soft.data_loss(&pass(&t, &SPARSE, &Objective::Soft), t.labels.clone()));
    close(got, (nll([0.0, 1.0], 0) + nll([1.0, 0.0], 1)) / 2.0);
}

#[test]
fn hard_loss_is_the_alpha_weighted_segment_loss() {
    let device = device();
    let t = tiny(&device);
    let got =
        scalar(Objective::Hard.data_loss(&pass(&t, &SPARSE, &Objective::Hard), t.labels.clone()));
    let s0 = 0.25 * nll([0.0, 0.0], 0) + 0.75 * nll([2.0, 0.0], 0);
    let s1 = 1.0 * nll([1.0, 0.0], 1) + 0.0 * nll([0.0, 3.0], 1);
    close(got, (s0 + s1) / 2.0);
}

#[test]
fn lvml_loss_is_the_negative_log_marginal_with_zero_weights_ignored() {
    let device = device();
    let t = tiny(&device);
    let got =
        scalar(Objective::Lvml.data_loss(&pass(&t, &SPARSE, &Objective::Lvml), t.labels.clone()));
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
    let log_alpha = map.log_weights(scores, alpha);
    let logits = t3(&[0.0, 0.0, 2.0, 0.0], [1, 2, 2], &device);
    let got = scalar(lvml_loss(log_alpha, logits, labels(&[0], &device)));
    let a1 = 1f32.exp() / (1.0 + 1f32.exp());
    close(got, -((1.0 - a1) * 0.5 + a1 * p([2.0, 0.0], 0)).ln());
}

#[test]
fn hybrid_mixes_soft_with_its_partner() {
    let device = device();
    let t = tiny(&device);
    let value = |o: &Objective| scalar(o.data_loss(&pass(&t, &SPARSE, o), t.labels.clone()));
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
    let pass = pass(&t, &SPARSE, &Objective::Hard);
    let data = scalar(Objective::Hard.data_loss(&pass, t.labels.clone()));
    let h = (-(0.25f32 * 0.25f32.ln() + 0.75 * 0.75f32.ln())) / 2.0;
    let got = scalar(Objective::Hard.loss(&SPARSE, 0.1, &pass, t.labels.clone()));
    close(got, 0.9 * data + 0.1 * h);
}

#[test]
fn each_objective_predicts_by_its_own_rule() {
    let device = device();
    let t = tiny(&device);
    let pass = |o: &Objective| pass(&t, &SPARSE, o);
    let argmax = |o: Objective| {
        o.class_scores(&pass(&o))
            .argmax(1)
            .try_into_vec_as::<i64>()
            .expect("i64")
    };
    // Soft: the averaged logits (0, 1) and (1, 0).
    assert_eq!(argmax(Objective::Soft), vec![1, 0]);
    // Hard: segment 1 of sample 0 (2, 0) and segment 0 of sample 1 (1, 0).
    assert_eq!(argmax(Objective::Hard), vec![0, 0]);
    let hard = Objective::Hard
        .class_scores(&pass(&Objective::Hard))
        .try_into_vec_as::<f32>()
        .expect("f32");
    assert_eq!(hard, vec![2.0, 0.0, 1.0, 0.0]);
    // LVML: sample 0 mixes 0.25 (1/2, 1/2) + 0.75 (0.88, 0.12) -> class 0.
    let lvml = Objective::Lvml
        .class_scores(&pass(&Objective::Lvml))
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
        assert!(
            err.to_string().contains("train.objective.soft_weight"),
            "{err}"
        );
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

mod gradient_tests {
    use super::super::*;
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
