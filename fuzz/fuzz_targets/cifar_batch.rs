//! Any bytes as a CIFAR-10 batch: `Ok` with labels 0..=9, or an error naming the file.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("data_batch_1.bin");
    std::fs::write(&path, bytes).expect("write");
    match sdc_data::read_cifar10_batch(&path) {
        Ok(set) => assert!(set.labels.iter().all(|&l| l <= 9)),
        Err(e) => assert!(e.to_string().contains("data_batch_1.bin"), "{e}"),
    }
});
