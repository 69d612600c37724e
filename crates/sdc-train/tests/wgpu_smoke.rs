//! The wgpu backend against the ndarray reference (`--features wgpu`).
//!
//! Runs on any adapter wgpu finds, software ones included: on a CPU-only Debian machine
//! `apt-get install mesa-vulkan-drivers libvulkan1` provides lavapipe (Vulkan on llvmpipe),
//! which cubecl picks first; without Vulkan it falls back to Mesa's OpenGL llvmpipe (EGL), if
//! installed. Nothing is skipped: with no adapter at all the first wgpu tensor panics
//! ("Unable to acquire wgpu device: AdapterUnavailable") and both tests fail. Set
//! `XDG_RUNTIME_DIR` (any directory) to silence Mesa's harmless "XDG_RUNTIME_DIR is invalid".
//!
//! Both backends run f32 (Burn fixes a device's float type once per process, and both tests
//! here ask for f32). Models are built on the host from ChaCha streams, so the same seed gives
//! bit-identical initial weights on both devices; every difference below comes from the order
//! in which the GPU kernels sum floats (matmul tiling, reductions, softmax).

#![cfg(feature = "wgpu")]

use std::path::Path;

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Device, Tensor};
use sdc_data::{SdcBatcher, SdcDataset};
use sdc_model::AttentionModel;
use sdc_train::{
    BackendKind, ExperimentConfig, Precision, RunSummary, Silent, SplitMetrics, load_run_model,
    predict, read_rows, run_experiment,
};

/// Dataset 2, Architecture 2 (the embedded default), tiny, with `extra` overrides.
fn tiny(extra: &[&str]) -> ExperimentConfig {
    let mut overrides: Vec<String> = [
        "name=wgpu-smoke",
        "data.n_train=300",
        "data.n_test=300",
        "data.n_base=2000",
        "train.max_epochs=20",
        "train.batch_size=50",
        "train.checkpoint_every=0",
        // No early stop: both backends train exactly `max_epochs` epochs.
        "train.stop={ loss = 0.0 }",
        "train.precision=f32",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    overrides.extend(extra.iter().map(|s| s.to_string()));
    ExperimentConfig::default_with(&overrides).expect("valid config")
}

fn device(backend: BackendKind) -> Device {
    sdc_train::device(backend, Precision::F32)
        .unwrap_or_else(|e| panic!("{backend:?} f32 device: {e}"))
}

fn init(config: &ExperimentConfig, train: &SdcDataset, device: &Device) -> AttentionModel {
    config
        .model
        .init_for(
            train.segment_shape(),
            train.n_classes(),
            config.train.seed,
            device,
        )
        .expect("valid model")
}

fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.try_into_vec_as::<f32>().expect("f32 values")
}

/// Every float parameter of a module, flattened in visiting order.
fn params<M: Module>(module: &M) -> Vec<f32> {
    struct Values(Vec<f32>);
    impl ModuleVisitor for Values {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0.extend(to_vec(param.val()));
        }
    }
    let mut v = Values(Vec::new());
    module.visit(&mut v);
    v.0
}

/// Largest `|a - b| / max(1, |a|)`: absolute below 1, relative above.
fn max_diff(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len(), "same number of values");
    a.iter()
        .zip(b)
        .map(|(&x, &y)| f64::from((x - y).abs()) / f64::from(x.abs()).max(1.0))
        .fold(0.0, f64::max)
}

/// Forward outputs: alpha and logits agree within this (absolute for |x| <= 1, relative above).
/// f32 has a 6e-8 unit roundoff; a forward pass of these small networks sums a few dozen terms
/// per output, so reassociation moves results by ~1e-6 at most. 1e-4 leaves two decades.
const FORWARD_TOL: f64 = 1e-4;

#[test]
fn the_same_model_gives_the_same_outputs_on_ndarray_and_wgpu() {
    let cpu = device(BackendKind::Ndarray);
    let gpu = device(BackendKind::Wgpu);
    // Every averaging layer: 0 averages raw segments, 1 and 2 hidden features of the focus net.
    for layer in 0..=2 {
        let config = tiny(&[&format!("model.averaging_layer={layer}")]);
        let train = config.data.load().expect("synthetic data").train;
        let (m_cpu, m_gpu) = (init(&config, &train, &cpu), init(&config, &train, &gpu));
        assert_eq!(params(&m_cpu), params(&m_gpu), "identical initial weights");

        let indices: Vec<usize> = (0..32).collect();
        let out_cpu = m_cpu.forward(SdcBatcher.batch_indices(&train, &indices, &cpu).inputs);
        let out_gpu = m_gpu.forward(SdcBatcher.batch_indices(&train, &indices, &gpu).inputs);
        let d_alpha = max_diff(&to_vec(out_cpu.alpha), &to_vec(out_gpu.alpha));
        let d_logits = max_diff(&to_vec(out_cpu.logits), &to_vec(out_gpu.logits));
        let d_scores = max_diff(&to_vec(out_cpu.scores), &to_vec(out_gpu.scores));
        println!(
            "forward, averaging layer {layer}: max diff alpha {d_alpha:.3e}, logits \
             {d_logits:.3e}, scores {d_scores:.3e}"
        );
        assert!(d_alpha <= FORWARD_TOL, "alpha differs by {d_alpha:e}");
        assert!(d_logits <= FORWARD_TOL, "logits differ by {d_logits:e}");
        assert!(d_scores <= FORWARD_TOL, "scores differ by {d_scores:e}");

        // The library's batched evaluation over the whole split (loss, argmax, readback).
        let objective = &config.train.objective;
        let p_cpu = predict(&m_cpu, objective, &train, 100, &cpu).expect("ndarray predict");
        let p_gpu = predict(&m_gpu, objective, &train, 100, &gpu).expect("wgpu predict");
        let d_alpha = max_diff(&p_cpu.alpha, &p_gpu.alpha);
        let d_loss = (p_cpu.loss - p_gpu.loss).abs();
        let flips = p_cpu
            .predictions
            .iter()
            .zip(&p_gpu.predictions)
            .filter(|(a, b)| a != b)
            .count();
        println!(
            "predict, averaging layer {layer}: max diff alpha {d_alpha:.3e}, loss {d_loss:.3e}, \
             {flips} of {} predictions differ",
            train.len()
        );
        assert!(d_alpha <= FORWARD_TOL, "alpha differs by {d_alpha:e}");
        assert!(d_loss <= FORWARD_TOL, "loss differs by {d_loss:e}");
        // An untrained model can have near-tied logits; a flip needs a gap below FORWARD_TOL.
        assert!(flips <= 1, "{flips} predictions differ");
    }
}

/// The CNN path (im2col convolutions, BatchNorm on batch statistics, max-pool, averaging at a
/// conv layer): the same outputs, and the same input gradients, on both backends.
#[test]
fn the_same_cnn_gives_the_same_outputs_and_gradients_on_ndarray_and_wgpu() {
    let model: sdc_model::ModelConfig = toml::from_str(
        r#"
        averaging_layer = 1
        [focus]
        conv = [
          { channels = 4, kernel = 3, batch_norm = true, pool = 2 },
          { channels = 6, kernel = 3, padding = 1, batch_norm = true },
        ]
        hidden = [8]
        [classifier]
        conv = [{ channels = 4, kernel = 3, padding = 1, batch_norm = true, pool = 2 }]
        hidden = [8]
        "#,
    )
    .expect("a CNN model config");
    let values: Vec<f32> = (0..4 * 9 * 100)
        .map(|i| ((i * 31 % 29) as f32 - 14.0) / 9.0)
        .collect();
    let coefficients: Vec<f32> = (0..4 * 3).map(|i| (i % 5) as f32 - 2.0).collect();
    let run = |device: Device| {
        let device = device.autodiff();
        let m = model
            .init_for(&[1, 10, 10], 3, 7, &device)
            .expect("valid CNN model");
        let x = Tensor::<3>::from_data(
            burn::tensor::TensorData::new(values.clone(), [4, 9, 100]),
            &device,
        )
        .require_grad();
        let out = m.forward(x.clone());
        let c = Tensor::<2>::from_data(
            burn::tensor::TensorData::new(coefficients.clone(), [4, 3]),
            &device,
        );
        let grads = (out.logits.clone() * c).sum().backward();
        let dx = x.grad(&grads).expect("input gradient");
        (
            to_vec(out.alpha),
            to_vec(out.logits),
            to_vec(dx),
            params(&m),
        )
    };
    let (a_cpu, l_cpu, g_cpu, p_cpu) = run(device(BackendKind::Ndarray));
    let (a_gpu, l_gpu, g_gpu, p_gpu) = run(device(BackendKind::Wgpu));
    assert_eq!(p_cpu, p_gpu, "identical initial weights");
    let (d_alpha, d_logits, d_grad) = (
        max_diff(&a_cpu, &a_gpu),
        max_diff(&l_cpu, &l_gpu),
        max_diff(&g_cpu, &g_gpu),
    );
    println!(
        "CNN: max diff alpha {d_alpha:.3e}, logits {d_logits:.3e}, input gradient {d_grad:.3e}"
    );
    assert!(d_alpha <= FORWARD_TOL, "alpha differs by {d_alpha:e}");
    assert!(d_logits <= FORWARD_TOL, "logits differ by {d_logits:e}");
    assert!(
        d_grad <= FORWARD_TOL,
        "input gradients differ by {d_grad:e}"
    );
}

/// Training: Adam steps carry the ~1e-7 per-step differences forward, and they grow once the
/// model starts to learn. On lavapipe (Mesa 22.3, 20 epochs) losses differed by under 1e-6
/// (relative) and weights by under 2e-5; the bounds leave a factor of 50 or more for other
/// adapters' summation orders. Discrete metrics (identical on lavapipe) may flip samples sitting
/// on a decision boundary, so each count may differ by at most `MAX_FLIPS` of 300 samples.
const LOSS_TOL: f64 = 1e-4;
const PARAM_TOL: f64 = 1e-3;
const MAX_FLIPS: usize = 3;
/// Epochs of the training run (`train.max_epochs` of [`tiny`]).
const EPOCHS: usize = 20;

fn train(config: &ExperimentConfig, dir: &Path) -> RunSummary {
    run_experiment(config, dir, &mut Silent)
        .unwrap_or_else(|e| panic!("{:?} training: {e}", config.train.backend))
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / a.abs().max(1.0)
}

fn compare_split(what: &str, a: &SplitMetrics, b: &SplitMetrics) {
    let (ca, cb) = (&a.summary.counts, &b.summary.counts);
    let cells = [
        ("FTPT", ca.ftpt, cb.ftpt),
        ("FFPT", ca.ffpt, cb.ffpt),
        ("FTPF", ca.ftpf, cb.ftpf),
        ("FFPF", ca.ffpf, cb.ffpf),
    ];
    println!(
        "{what}: loss {:.6} vs {:.6} (rel diff {:.3e}); accuracy {} vs {}; counts (ndarray, \
         wgpu) {:?}; mean alpha at true {:.6} vs {:.6}",
        a.loss,
        b.loss,
        rel(a.loss, b.loss),
        a.summary.accuracy,
        b.summary.accuracy,
        cells,
        a.summary.mean_alpha_at_true,
        b.summary.mean_alpha_at_true,
    );
    assert_eq!(a.summary.n_samples, b.summary.n_samples);
    assert!(
        rel(a.loss, b.loss) <= LOSS_TOL,
        "{what} loss {} vs {}",
        a.loss,
        b.loss
    );
    for (name, x, y) in cells {
        assert!(x.abs_diff(y) <= MAX_FLIPS, "{what} {name}: {x} vs {y}");
    }
    let acc = 100.0 * MAX_FLIPS as f64 / a.summary.n_samples as f64;
    assert!(
        (a.summary.accuracy - b.summary.accuracy).abs() <= acc + 1e-9,
        "{what} accuracy {} vs {}",
        a.summary.accuracy,
        b.summary.accuracy
    );
    let d = (a.summary.mean_alpha_at_true - b.summary.mean_alpha_at_true).abs();
    assert!(d <= LOSS_TOL, "{what} mean alpha at true differs by {d:e}");
}

#[test]
fn a_fixed_seed_run_trains_alike_on_ndarray_and_wgpu() {
    let cpu_dir = tempfile::tempdir().expect("tempdir");
    let gpu_dir = tempfile::tempdir().expect("tempdir");
    let cpu_config = tiny(&["train.backend=ndarray"]);
    let gpu_config = tiny(&["train.backend=wgpu"]);
    let cpu = train(&cpu_config, cpu_dir.path());
    let gpu = train(&gpu_config, gpu_dir.path());
    assert_eq!(gpu.backend, BackendKind::Wgpu);
    assert_eq!(
        (cpu.epochs, gpu.epochs),
        (EPOCHS, EPOCHS),
        "both train every epoch"
    );
    println!(
        "training seconds: ndarray {:.2}, wgpu {:.2}",
        cpu.train_seconds, gpu.train_seconds
    );

    // The running (mini-batch) loss of every epoch.
    let rows_cpu = read_rows(&cpu_dir.path().join("metrics.csv")).expect("ndarray metrics.csv");
    let rows_gpu = read_rows(&gpu_dir.path().join("metrics.csv")).expect("wgpu metrics.csv");
    assert_eq!(rows_cpu.len(), rows_gpu.len());
    for (a, b) in rows_cpu.iter().zip(&rows_gpu) {
        let d = rel(a.running_loss, b.running_loss);
        println!(
            "epoch {}: running loss {:.7} vs {:.7} (rel diff {d:.3e})",
            a.epoch, a.running_loss, b.running_loss
        );
        assert!(
            d <= LOSS_TOL,
            "epoch {} running loss differs by {d:e}",
            a.epoch
        );
    }

    compare_split("train", &cpu.train, &gpu.train);
    compare_split(
        "test",
        cpu.test.as_ref().expect("ndarray test metrics"),
        gpu.test.as_ref().expect("wgpu test metrics"),
    );

    // The trained weights themselves, both read back onto the CPU.
    let host = device(BackendKind::Ndarray);
    let m_cpu = load_run_model(&cpu_config, cpu_dir.path(), &host).expect("ndarray model");
    let m_gpu = load_run_model(&gpu_config, gpu_dir.path(), &host).expect("wgpu model");
    let d = max_diff(&params(&m_cpu.classifier), &params(&m_gpu.classifier));
    println!("trained classifier: max diff {d:.3e}");
    assert!(d <= PARAM_TOL, "trained classifier differs by {d:e}");
    let (f_cpu, f_gpu) = (&m_cpu.focus, &m_gpu.focus);
    let d = max_diff(&params(&f_cpu.convs), &params(&f_gpu.convs))
        .max(max_diff(&params(&f_cpu.hidden), &params(&f_gpu.hidden)))
        .max(max_diff(
            &to_vec(f_cpu.output.weight.val()),
            &to_vec(f_gpu.output.weight.val()),
        ));
    println!("trained focus, output bias aside: max diff {d:.3e}");
    assert!(d <= PARAM_TOL, "trained focus differs by {d:e}");
    // The focus output bias shifts every score of a mosaic alike, which softmax ignores: its
    // gradient is zero up to rounding, and Adam scales that noise to steps of up to `lr`. It
    // may wander by `lr` per step on either backend, without changing any output.
    let bias = |m: &AttentionModel| m.focus.output.bias.as_ref().map(|b| to_vec(b.val()));
    let (b_cpu, b_gpu) = (bias(&m_cpu), bias(&m_gpu));
    println!("focus output bias: ndarray {b_cpu:?}, wgpu {b_gpu:?}");
    if let (Some(a), Some(b)) = (b_cpu, b_gpu) {
        let steps = (EPOCHS * 300).div_ceil(50) as f64;
        let d = max_diff(&a, &b);
        assert!(d <= 0.01 * steps, "focus output bias differs by {d:e}");
    }
}
