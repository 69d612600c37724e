//! Any bytes given to the `.sdc` decoder and to the streaming file reader: `Ok` or an error,
//! never a panic, and both agree.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let decoded = sdc_data::from_bytes(bytes, std::path::Path::new("fuzz.sdc"));
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("fuzz.sdc");
    std::fs::write(&path, bytes).expect("write");
    let loaded = sdc_data::load(&path);
    assert_eq!(decoded.is_ok(), loaded.is_ok());
});
