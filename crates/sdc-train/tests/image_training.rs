//! End-to-end on image mosaics: CNN focus and classification networks trained through the same
//! configs, run directories and metrics as the synthetic data, on image files the test writes
//! in the real formats (IDX for MNIST, binary batches for CIFAR-10).

use std::path::Path;

use sdc_train::{ExperimentConfig, Silent, eval_run, run_experiment};

/// Image `i` of class `c`: a bright `side/4`-square whose position encodes the class, plus
/// deterministic low-level texture, so a small CNN can tell the classes apart.
fn image(c: u8, i: usize, channels: usize, side: usize) -> Vec<u8> {
    let mut px = vec![0u8; channels * side * side];
    let q = side / 4;
    let (r0, c0) = ((c as usize / 4) * q, (c as usize % 4) * q);
    for ch in 0..channels {
        for r in 0..side {
            for col in 0..side {
                let texture = ((r * 7 + col * 13 + i * 31 + ch * 5) % 23) as u8;
                let bright = (r0..r0 + q).contains(&r) && (c0..c0 + q).contains(&col);
                px[(ch * side + r) * side + col] = if bright { 230 - texture } else { texture };
            }
        }
    }
    px
}

/// Writes MNIST-style raw IDX files (`n` images per split, classes cycling 0-9).
fn write_mnist(dir: &Path, n_train: usize, n_test: usize) {
    let mnist = dir.join("mnist");
    std::fs::create_dir_all(&mnist).expect("mkdir");
    for (prefix, n) in [("train", n_train), ("t10k", n_test)] {
        let mut images = Vec::new();
        for word in [0x0803u32, n as u32, 28, 28] {
            images.extend_from_slice(&word.to_be_bytes());
        }
        let mut labels = Vec::new();
        for word in [0x0801u32, n as u32] {
            labels.extend_from_slice(&word.to_be_bytes());
        }
        for i in 0..n {
            let c = (i % 10) as u8;
            images.extend(image(c, i, 1, 28));
            labels.push(c);
        }
        std::fs::write(mnist.join(format!("{prefix}-images-idx3-ubyte")), images).expect("w");
        std::fs::write(mnist.join(format!("{prefix}-labels-idx1-ubyte")), labels).expect("w");
    }
}

/// Writes CIFAR-10-format batches: `per_batch` records in each of the six files.
fn write_cifar(dir: &Path, per_batch: usize) {
    let cifar = dir.join("cifar-10-batches-bin");
    std::fs::create_dir_all(&cifar).expect("mkdir");
    let names = [
        "data_batch_1.bin",
        "data_batch_2.bin",
        "data_batch_3.bin",
        "data_batch_4.bin",
        "data_batch_5.bin",
        "test_batch.bin",
    ];
    for (b, name) in names.iter().enumerate() {
        let mut bytes = Vec::new();
        for i in 0..per_batch {
            let c = ((i + b) % 10) as u8;
            bytes.push(c);
            bytes.extend(image(c, i + 1000 * b, 3, 32));
        }
        std::fs::write(cifar.join(name), bytes).expect("write batch");
    }
}

/// A small CNN config on `source` images in `data_dir`.
fn config(source: &str, data_dir: &Path, extra: &[&str]) -> ExperimentConfig {
    let text = format!(
        r#"
name = "image-test"
[data]
source = "{source}"
data_dir = "{dir}"
n_train = 80
n_test = 20
seed = 3
[model]
averaging_layer = 0
[model.focus]
conv = [{{ channels = 4, batch_norm = true, pool = 2 }}, {{ channels = 8, batch_norm = true, pool = 2 }}]
hidden = [8]
[model.classifier]
conv = [{{ channels = 4, padding = 1, batch_norm = true, pool = 2 }}]
global_pool = false
hidden = [8]
[train]
optimizer = {{ kind = "adam", lr = 0.003 }}
batch_size = 40
max_epochs = 2
checkpoint_every = 1
"#,
        dir = data_dir.display()
    );
    let overrides: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    ExperimentConfig::from_toml_str(&text, "<test>", &overrides).expect("valid image config")
}

#[test]
fn mnist_format_mosaics_train_end_to_end_and_reproducibly() {
    let data = tempfile::tempdir().expect("tempdir");
    write_mnist(data.path(), 200, 60);
    for k in [0, 1, 2] {
        let cfg = config(
            "mnist",
            data.path(),
            &[&format!("model.averaging_layer={k}")],
        );
        let a = tempfile::tempdir().expect("tempdir");
        let sa = run_experiment(&cfg, a.path(), &mut Silent).expect("trains");
        assert_eq!(sa.epochs, 2);
        let rates = sa.train.summary.rates;
        let sum = rates.ftpt + rates.ffpt + rates.ftpf + rates.ffpf;
        assert!((sum - 100.0).abs() < 1e-9, "k={k}: rates sum to {sum}");
        assert!(sa.test.is_some(), "k={k}: test split evaluated");
        assert!(a.path().join("model.bpk").is_file());
        if k == 0 {
            // ndarray, same seed: the same metrics, bit for bit.
            let b = tempfile::tempdir().expect("tempdir");
            let sb = run_experiment(&cfg, b.path(), &mut Silent).expect("trains");
            assert_eq!(sa.train, sb.train);
        }
        // flex, same seed: the same metrics, bit for bit, whatever the averaging layer.
        let mut flex = cfg.clone();
        flex.train.backend = sdc_train::BackendKind::Flex;
        let runs: Vec<_> = (0..2)
            .map(|_| {
                let dir = tempfile::tempdir().expect("tempdir");
                run_experiment(&flex, dir.path(), &mut Silent).expect("trains on flex")
            })
            .collect();
        assert_eq!(runs[0].train, runs[1].train, "k={k} on flex");
        assert_eq!(runs[0].test, runs[1].test, "k={k} on flex");
    }
    // The mosaics were cached under the data directory and are reused.
    let cache = data.path().join("mosaics");
    assert!(
        std::fs::read_dir(&cache).expect("cache dir").count() >= 1,
        "no cached mosaics"
    );
}

#[test]
fn an_image_run_resumes_and_evaluates_from_its_directory() {
    let data = tempfile::tempdir().expect("tempdir");
    write_mnist(data.path(), 150, 40);
    let cfg = config("mnist", data.path(), &[]);
    let whole = tempfile::tempdir().expect("tempdir");
    let full = run_experiment(&cfg, whole.path(), &mut Silent).expect("trains");

    /// Stops after the first epoch, like Ctrl-C would.
    struct StopOnce(bool);
    impl sdc_train::TrainObserver for StopOnce {
        fn should_stop(&mut self) -> bool {
            !std::mem::replace(&mut self.0, true)
        }
    }
    let split = tempfile::tempdir().expect("tempdir");
    let err = run_experiment(&cfg, split.path(), &mut StopOnce(false)).expect_err("interrupted");
    assert!(err.to_string().contains("interrupted"), "{err}");
    let resumed = run_experiment(&cfg, split.path(), &mut Silent).expect("resumes");
    assert_eq!(
        resumed.train, full.train,
        "resume gives the uninterrupted result"
    );

    let reports = eval_run(split.path(), None, None).expect("eval");
    assert_eq!(reports.len(), 2);
    assert_eq!(reports[0].metrics.summary, full.train.summary);
}

#[test]
fn cifar_format_batches_train_end_to_end() {
    let data = tempfile::tempdir().expect("tempdir");
    write_cifar(data.path(), 40);
    let cfg = config("cifar10", data.path(), &["model.averaging_layer=2"]);
    let out = tempfile::tempdir().expect("tempdir");
    let summary = run_experiment(&cfg, out.path(), &mut Silent).expect("trains");
    assert_eq!(summary.epochs, 2);
    assert!(summary.train.summary.accuracy.is_finite());
}

#[test]
fn missing_image_files_fail_before_training_and_say_where_to_put_them() {
    let data = tempfile::tempdir().expect("tempdir");
    let cfg = config("cifar10", data.path(), &[]);
    let out = tempfile::tempdir().expect("tempdir");
    let err = run_experiment(&cfg, out.path(), &mut Silent)
        .expect_err("no files")
        .to_string();
    assert!(
        err.contains("data_batch_1.bin") && err.contains("cifar-10-batches-bin"),
        "{err}"
    );
}

#[test]
fn the_papers_cifar_config_builds_with_the_documented_shapes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for k in [0, 3, 6] {
        let cfg = ExperimentConfig::load(
            &root.join("configs/cifar10-mosaic.toml"),
            &[format!("model.averaging_layer={k}")],
        )
        .expect("valid");
        let shape = cfg.model.averaged_shape(&[3, 32, 32]).expect("shape");
        let expected: &[usize] = match k {
            0 => &[3, 32, 32],
            3 => &[64, 12, 12],
            _ => &[256, 3, 3],
        };
        assert_eq!(shape, expected, "k = {k}");
    }
}
