//! Tests of the model and of its configuration.

use burn::tensor::TensorData;

use super::*;
use crate::conv::ConvLayerConfig;

#[allow(deprecated)] // ndarray is this crate's reference CPU backend
fn device() -> Device {
    Device::ndarray()
}

fn inputs(batch: usize, m: usize, d: usize, device: &Device) -> Tensor<3> {
    let values: Vec<f32> = (0..batch * m * d)
        .map(|i| ((i * 37 % 23) as f32 - 11.0) / 7.0)
        .collect();
    Tensor::from_data(TensorData::new(values, [batch, m, d]), device)
}

#[test]
fn shapes_follow_the_averaging_layer() {
    let device = device();
    for k in 0..=2 {
        let config = ModelConfig {
            averaging_layer: k,
            ..ModelConfig::default()
        };
        let model = config.init(5, 3, 0, &device).expect("valid");
        let out = model.forward(inputs(4, 9, 5, &device));
        assert_eq!(out.logits.dims(), [4, 3]);
        assert_eq!(out.alpha.dims(), [4, 9]);
        assert_eq!(out.scores.dims(), [4, 9]);
        let (_, features) = model.scores_and_features(inputs(4, 9, 5, &device));
        assert_eq!(features.dims()[2], [5, 6, 12][k]);
    }
}

#[test]
fn alpha_rows_sum_to_one() {
    let device = device();
    let model = ModelConfig::default()
        .init(5, 3, 1, &device)
        .expect("valid");
    let alpha = model.forward(inputs(3, 7, 5, &device)).alpha;
    let sums = alpha.sum_dim(1).try_into_vec_as::<f32>().expect("f32");
    for s in sums {
        assert!((s - 1.0).abs() < 1e-5, "row sum {s}");
    }
}

#[test]
fn functionally_zero_focus_gives_uniform_attention() {
    let device = device();
    let mut config = ModelConfig::default();
    config.focus.init = FocusInit::FunctionallyZero;
    config.focus.bias = false;
    let model = config.init(5, 3, 4, &device).expect("valid");
    let out = model.forward(inputs(2, 9, 5, &device));
    let scores = out.scores.try_into_vec_as::<f32>().expect("f32");
    assert!(scores.iter().all(|s| s.abs() < 1e-6), "{scores:?}");
    let alpha = out.alpha.try_into_vec_as::<f32>().expect("f32");
    assert!(alpha.iter().all(|a| (a - 1.0 / 9.0).abs() < 1e-6));
}

#[test]
fn weighted_average_matches_a_hand_computation() {
    let device = device();
    let alpha = Tensor::<2>::from_data(TensorData::new(vec![0.25f32, 0.75], [1, 2]), &device);
    let features = Tensor::<3>::from_data(
        TensorData::new(vec![1.0f32, 2.0, 3.0, 6.0], [1, 2, 2]),
        &device,
    );
    let z = weighted_average(alpha, features)
        .try_into_vec_as::<f32>()
        .expect("f32");
    assert_eq!(z, vec![0.25 + 2.25, 0.5 + 4.5]);
}

#[test]
fn layer_k_features_are_tanh_of_the_pre_activation() {
    let device = device();
    let config = ModelConfig {
        averaging_layer: 1,
        ..ModelConfig::default()
    };
    let model = config.init(5, 3, 2, &device).expect("valid");
    let x = inputs(1, 3, 5, &device);
    let (_, features) = model.scores_and_features(x.clone());
    let pre = model.focus.hidden[0].forward(x.reshape([3, 5]));
    let expected = pre.tanh().try_into_vec_as::<f32>().expect("f32");
    let got = features.try_into_vec_as::<f32>().expect("f32");
    for (g, e) in got.iter().zip(&expected) {
        assert!((g - e).abs() < 1e-6, "{got:?} != tanh {expected:?}");
    }
    assert!(
        got.iter().any(|&v| v < 0.0),
        "tanh, not ReLU, keeps negative values"
    );
}

/// The default model (Architecture 2 for 5-D segments, 3 classes) drawn from `seed`.
fn default_model(seed: u64, device: &Device) -> AttentionModel {
    ModelConfig::default()
        .init(5, 3, seed, device)
        .expect("valid")
}

/// The logits of `model` on `x`, read back.
fn logits(model: &AttentionModel, x: Tensor<3>) -> Vec<f32> {
    model
        .forward(x)
        .logits
        .try_into_vec_as::<f32>()
        .expect("f32")
}

#[test]
fn same_seed_same_model() {
    let device = device();
    let a = default_model(9, &device);
    let b = default_model(9, &device);
    let c = default_model(10, &device);
    let x = inputs(2, 9, 5, &device);
    let la = logits(&a, x.clone());
    let lb = logits(&b, x.clone());
    let lc = logits(&c, x);
    assert_eq!(la, lb);
    assert_ne!(la, lc);
}

#[test]
fn save_then_load_is_identity() {
    let device = device();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("model.bpk");
    let a = default_model(5, &device);
    a.save(&path).expect("save");
    let b = default_model(6, &device).load(&path).expect("load");
    let x = inputs(2, 9, 5, &device);
    let la = logits(&a, x.clone());
    let lb = logits(&b, x);
    assert_eq!(la, lb);
}

#[test]
fn loading_a_missing_or_corrupt_checkpoint_is_an_error() {
    let device = device();
    let dir = tempfile::tempdir().expect("tempdir");
    let model = default_model(5, &device);
    let missing = dir.path().join("nope.bpk");
    let err = model.clone().load(&missing).expect_err("missing");
    assert!(err.to_string().contains("nope.bpk"), "{err}");
    let corrupt = dir.path().join("bad.bpk");
    std::fs::write(&corrupt, b"not a checkpoint").expect("write");
    let err = model.load(&corrupt).expect_err("corrupt");
    assert!(err.to_string().contains("bad.bpk"), "{err}");
}

#[test]
fn averaging_layer_outside_the_network_is_refused_by_name() {
    let config = ModelConfig {
        averaging_layer: 3,
        ..ModelConfig::default()
    };
    let err = config
        .validate(5, 3)
        .expect_err("k = 3 with two hidden layers");
    let text = err.to_string();
    assert!(text.contains("model.averaging_layer"), "{text}");
    assert!(text.contains("0..=2"), "{text}");
}

fn cnn_config(k: usize) -> ModelConfig {
    let block = |channels, pool| ConvLayerConfig {
        channels,
        kernel: 3,
        padding: 0,
        batch_norm: true,
        pool,
        pool_padding: 0,
    };
    let mut config = ModelConfig {
        averaging_layer: k,
        ..ModelConfig::default()
    };
    config.focus.conv = vec![block(4, 2), block(8, 2)];
    config.focus.hidden = vec![16];
    config.classifier.conv = vec![block(8, 0)];
    config.classifier.global_pool = true;
    config.classifier.hidden = vec![];
    config
}

#[test]
fn cnn_layers_count_convolutions_first() {
    // 1x14x14 -> conv 4x12x12 -> pool 6 -> conv 8x4x4 -> pool 2 -> dense 16.
    let shape = [1, 14, 14];
    assert_eq!(
        cnn_config(0).averaged_shape(&shape).expect("k0"),
        vec![1, 14, 14]
    );
    assert_eq!(
        cnn_config(1).averaged_shape(&shape).expect("k1"),
        vec![4, 12, 12]
    );
    assert_eq!(
        cnn_config(2).averaged_shape(&shape).expect("k2"),
        vec![8, 4, 4]
    );
    for k in 0..=2 {
        cnn_config(k).validate_for(&shape, 3).expect("valid");
    }
    // At k = 3 the averaged vector is a dense width: the conv classifier cannot read it.
    let err = cnn_config(3)
        .validate_for(&shape, 3)
        .expect_err("dense at k3");
    assert!(err.to_string().contains("model.classifier.conv"), "{err}");
    let err = cnn_config(4).validate_for(&shape, 3).expect_err("k4");
    assert!(err.to_string().contains("0..=3"), "{err}");
}

#[test]
fn convolutions_on_flat_segments_are_refused() {
    let err = cnn_config(0).validate_for(&[5], 3).expect_err("flat");
    assert!(err.to_string().contains("model.focus.conv"), "{err}");
}

#[test]
fn functionally_zero_needs_an_even_last_layer() {
    let mut config = ModelConfig::default();
    config.focus.init = FocusInit::FunctionallyZero;
    config.focus.hidden = vec![6, 7];
    let text = config.validate(5, 3).expect_err("odd width").to_string();
    assert!(
        text.contains("model.focus.init") && text.contains('7'),
        "{text}"
    );
    config.focus.hidden = vec![6, 12];
    config.validate(5, 3).expect("even width is fine");
}

#[test]
fn averaged_width_follows_the_layer() {
    let mut config = ModelConfig::default();
    assert_eq!(config.averaged_width(5), 5);
    config.averaging_layer = 1;
    assert_eq!(config.averaged_width(5), 6);
    config.averaging_layer = 2;
    assert_eq!(config.averaged_width(5), 12);
}

#[test]
fn unknown_keys_are_refused() {
    let err = toml::from_str::<ModelConfig>(
        "averaging_layr = 1\n[focus]\nhidden=[2]\n[classifier]\nhidden=[]\n",
    )
    .expect_err("typo");
    assert!(err.to_string().contains("averaging_layr"), "{err}");
}
