//! Any bytes as an IDX image file and an IDX label file: `Ok` or an error naming a file.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (&[u8], &[u8])| {
    let (images, labels) = input;
    let dir = tempfile::tempdir().expect("tempdir");
    let (ip, lp) = (
        dir.path().join("images-idx3-ubyte"),
        dir.path().join("labels-idx1-ubyte"),
    );
    std::fs::write(&ip, images).expect("write");
    std::fs::write(&lp, labels).expect("write");
    if let Err(e) = sdc_data::read_idx_pair(&ip, &lp) {
        let text = e.to_string();
        assert!(
            text.contains("idx3-ubyte") || text.contains("idx1-ubyte"),
            "{text}"
        );
    }
});
