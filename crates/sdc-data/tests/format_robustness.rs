//! End-to-end properties of the `.sdc` format: save-then-load is identity, every corruption is an
//! `Err` (never a panic), and generated files are byte-for-byte reproducible.

use std::path::Path;

use proptest::prelude::*;
use sdc_data::{
    Distribution, SdcDataset, SyntheticConfig, from_bytes, generate, load, save, save_splits,
    to_bytes,
};
use serde_json::json;

/// Datasets of up to 6 mosaics, 1-4 segments, 1-3 dims, 1-4 classes, any finite values.
fn datasets() -> impl Strategy<Value = SdcDataset> {
    (0usize..6, 1usize..5, 1usize..4, 1usize..5).prop_flat_map(|(n, m, d, k)| {
        (
            proptest::collection::vec(-1e30f32..1e30f32, n * m * d),
            proptest::collection::vec(0..k as u32, n),
            proptest::collection::vec(0..m as u32, n),
        )
            .prop_map(move |(segments, labels, fg)| {
                SdcDataset::new(m, d, k, segments, labels, fg).expect("valid by construction")
            })
    })
}

fn small_file() -> Vec<u8> {
    let ds = SdcDataset::new(
        2,
        2,
        3,
        vec![0.5, -1.0, 2.0, 3.5, 4.0, 5.0, -6.0, 7.25],
        vec![2, 0],
        vec![1, 0],
    )
    .expect("valid");
    to_bytes(&ds, &json!({"distribution": "type4", "seed": 1})).expect("encodes")
}

proptest! {
    #[test]
    fn save_then_load_is_identity(ds in datasets(), seed in any::<u64>(), note in "[a-z ]{0,12}") {
        let meta = json!({"seed": seed, "note": note});
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("d.sdc");
        save(&ds, &meta, &path).expect("saves");
        let (loaded, loaded_meta) = load(&path).expect("loads");
        // Bit-exact, not just ==: -0.0 and subnormals survive.
        let bits = |d: &SdcDataset| d.segments().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        prop_assert_eq!(bits(&loaded), bits(&ds));
        prop_assert_eq!(loaded, ds);
        prop_assert_eq!(loaded_meta, meta);
    }

    #[test]
    fn arbitrary_bytes_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..200), prefixed in any::<bool>()) {
        let mut bytes = if prefixed { b"SDCDATA\0\x01\0\0\0".to_vec() } else { Vec::new() };
        bytes.extend(tail);
        prop_assert!(from_bytes(&bytes, Path::new("fuzz.sdc")).is_err());
    }
}

#[test]
fn flipping_any_single_byte_is_an_error() {
    let good = small_file();
    assert!(from_bytes(&good, Path::new("good.sdc")).is_ok());
    for i in 0..good.len() {
        for mask in [0x01u8, 0x80, 0xff] {
            let mut bad = good.clone();
            bad[i] ^= mask;
            let err =
                from_bytes(&bad, Path::new("bad.sdc")).expect_err(&format!("byte {i} ^ {mask:#x}"));
            assert!(err.to_string().starts_with("bad.sdc: "), "{err}");
        }
    }
}

#[test]
fn truncating_at_every_length_is_an_error() {
    let good = small_file();
    for len in 0..good.len() {
        let err =
            from_bytes(&good[..len], Path::new("cut.sdc")).expect_err(&format!("length {len}"));
        assert!(err.to_string().starts_with("cut.sdc: "), "{err}");
    }
}

#[test]
fn same_config_gives_identical_files_and_another_seed_does_not() {
    let config = SyntheticConfig {
        n_train: 40,
        n_test: 20,
        n_base: 200,
        seed: 17,
        ..SyntheticConfig::new(Distribution::Blobs5d)
    };
    let write = |config: &SyntheticConfig| {
        let dir = tempfile::tempdir().expect("tempdir");
        let splits = generate(config).expect("generates");
        let meta = serde_json::to_value(config).expect("config serialises");
        save_splits(&splits, &meta, dir.path()).expect("saves");
        let read = |name: &str| std::fs::read(dir.path().join(name)).expect("file exists");
        (read("train.sdc"), read("test.sdc"))
    };
    let a = write(&config);
    assert_eq!(a, write(&config));
    let b = write(&SyntheticConfig {
        seed: 18,
        ..config.clone()
    });
    assert_ne!(a.0, b.0);
    assert_ne!(a.1, b.1);

    // The meta says where the file came from.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("train.sdc");
    std::fs::write(&path, &a.0).expect("writes");
    let (ds, meta) = load(&path).expect("loads");
    assert_eq!(ds.len(), 40);
    let back: SyntheticConfig = serde_json::from_value(meta).expect("meta is the config");
    assert_eq!(back, config);
}
