//! Mutation fuzzing of every reader of user files (`.sdc`, IDX, CIFAR-10 batches), run in CI for a
//! fixed budget: valid files are flipped, truncated, extended and spliced, and a `.sdc` header is
//! rewritten with a recomputed CRC (so the mutation reaches the checks behind the checksum). Every
//! outcome must be `Ok` or an error naming the file: no panic, no abort, no allocation sized by
//! a damaged header.

use std::io::Write;
use std::path::Path;

use proptest::prelude::*;
use sdc_data::{SdcDataset, from_bytes, load, read_cifar10_batch, read_idx_pair, to_bytes};

/// Cases per property: a fixed budget, so CI time is bounded; `PROPTEST_CASES` raises it.
const CASES: u32 = 192;

/// One way to damage a file.
#[derive(Clone, Debug)]
enum Mutation {
    /// XOR one byte with a non-zero mask.
    Flip { at: usize, mask: u8 },
    /// Keep only the first `len` bytes.
    Truncate { len: usize },
    /// Append bytes.
    Extend { tail: Vec<u8> },
    /// Overwrite a little-endian or big-endian u32 at `at` (a size field, say).
    Word { at: usize, value: u32 },
}

fn mutations() -> impl Strategy<Value = Vec<Mutation>> {
    let one = prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(at, mask)| Mutation::Flip { at, mask }),
        any::<usize>().prop_map(|len| Mutation::Truncate { len }),
        proptest::collection::vec(any::<u8>(), 1..64).prop_map(|tail| Mutation::Extend { tail }),
        (
            any::<usize>(),
            prop_oneof![
                Just(0u32),
                Just(1),
                Just(u32::MAX),
                Just(1 << 31),
                any::<u32>()
            ]
        )
            .prop_map(|(at, value)| Mutation::Word { at, value }),
    ];
    proptest::collection::vec(one, 1..4)
}

fn apply(bytes: &mut Vec<u8>, mutations: &[Mutation], big_endian: bool) {
    for m in mutations {
        match m {
            Mutation::Flip { at, mask } if !bytes.is_empty() => {
                let i = at % bytes.len();
                bytes[i] ^= mask;
            }
            Mutation::Truncate { len } => bytes.truncate(len % (bytes.len() + 1)),
            Mutation::Extend { tail } => bytes.extend_from_slice(tail),
            Mutation::Word { at, value } if bytes.len() >= 4 => {
                let i = at % (bytes.len() - 3);
                let word = if big_endian {
                    value.to_be_bytes()
                } else {
                    value.to_le_bytes()
                };
                bytes[i..i + 4].copy_from_slice(&word);
            }
            _ => {}
        }
    }
}

fn valid_sdc() -> Vec<u8> {
    let ds = SdcDataset::new(
        3,
        2,
        2,
        (0..12).map(|v| v as f32 * 0.5).collect(),
        vec![1, 0],
        vec![2, 0],
    )
    .expect("valid");
    to_bytes(&ds, &serde_json::json!({"seed": 3})).expect("encodes")
}

/// The `.sdc` file with its JSON header replaced by `header` and a correct CRC.
fn sdc_with_header(header: &str, payload: &[u8]) -> Vec<u8> {
    let mut bytes = b"SDCDATA\0".to_vec();
    bytes.extend_from_slice(&1u32.to_le_bytes());
    bytes.extend_from_slice(&(header.len() as u32).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(payload);
    let crc = crc32fast::hash(&bytes);
    bytes.extend_from_slice(&crc.to_le_bytes());
    bytes
}

fn idx(magic: u32, dims: &[u32], payload: &[u8]) -> Vec<u8> {
    let mut bytes = magic.to_be_bytes().to_vec();
    for d in dims {
        bytes.extend_from_slice(&d.to_be_bytes());
    }
    bytes.extend_from_slice(payload);
    bytes
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).expect("encode");
    enc.finish().expect("finish")
}

/// An error must name the file it is about.
fn names(err: &impl std::fmt::Display, file: &str) -> bool {
    err.to_string().contains(file)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn mutated_sdc_files_load_or_fail_by_name(ms in mutations()) {
        let original = valid_sdc();
        let mut bytes = original.clone();
        apply(&mut bytes, &ms, false);
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("m.sdc");
        std::fs::write(&path, &bytes).expect("write");
        match load(&path) {
            // Only an unchanged file (or a mutation that undid itself) loads.
            Ok(_) => prop_assert_eq!(&bytes, &original),
            Err(e) => prop_assert!(names(&e, "m.sdc"), "{}", e),
        }
        // The in-memory decoder agrees with the streaming reader.
        prop_assert_eq!(from_bytes(&bytes, Path::new("m.sdc")).is_ok(), bytes == original);
    }

    #[test]
    fn sdc_headers_with_a_valid_crc_are_checked_field_by_field(
        n in prop_oneof![Just(0u64), Just(1), Just(2), Just(u64::MAX), Just(1 << 62), any::<u64>()],
        m in prop_oneof![Just(0u64), Just(1), Just(3), Just(u64::MAX), Just(1 << 62), any::<u64>()],
        d in prop_oneof![Just(0u64), Just(1), Just(2), Just(u64::MAX), Just(1 << 40), any::<u64>()],
        k in prop_oneof![Just(0u64), Just(2), Just(1 << 31), Just(u64::MAX), any::<u64>()],
        shape in proptest::option::of(proptest::collection::vec(any::<u64>(), 0..4)),
        payload in proptest::collection::vec(any::<u8>(), 0..96),
    ) {
        let mut header = serde_json::json!({
            "n_samples": n, "n_segments": m, "dim": d, "n_classes": k, "meta": null
        });
        if let Some(shape) = shape {
            header["segment_shape"] = serde_json::json!(shape);
        }
        let bytes = sdc_with_header(&header.to_string(), &payload);
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("h.sdc");
        std::fs::write(&path, &bytes).expect("write");
        if let Err(e) = load(&path) {
            prop_assert!(names(&e, "h.sdc"), "{}", e);
        }
    }

    #[test]
    fn mutated_idx_pairs_read_or_fail_by_name(
        ms_images in mutations(),
        ms_labels in mutations(),
        gzipped in any::<bool>(),
    ) {
        let mut images = idx(0x0803, &[3, 4, 4], &(0..48).collect::<Vec<u8>>());
        let mut labels = idx(0x0801, &[3], &[1, 7, 9]);
        apply(&mut images, &ms_images, true);
        apply(&mut labels, &ms_labels, true);
        let dir = tempfile::tempdir().expect("tempdir");
        let (ip, lp) = (dir.path().join("img-idx3-ubyte"), dir.path().join("lab-idx1-ubyte"));
        let (ib, lb) = if gzipped { (gzip(&images), gzip(&labels)) } else { (images, labels) };
        std::fs::write(&ip, ib).expect("write");
        std::fs::write(&lp, lb).expect("write");
        if let Err(e) = read_idx_pair(&ip, &lp) {
            prop_assert!(names(&e, "img-idx3-ubyte") || names(&e, "lab-idx1-ubyte"), "{}", e);
        }
    }

    #[test]
    fn mutated_cifar_batches_read_or_fail_by_name(ms in mutations()) {
        let mut bytes = Vec::new();
        for label in [3u8, 9] {
            bytes.push(label);
            bytes.extend(std::iter::repeat_n(label, 3072));
        }
        apply(&mut bytes, &ms, false);
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("data_batch_1.bin");
        std::fs::write(&path, &bytes).expect("write");
        match read_cifar10_batch(&path) {
            Ok(set) => prop_assert!(set.labels.iter().all(|&l| l <= 9)),
            Err(e) => prop_assert!(names(&e, "data_batch_1.bin"), "{}", e),
        }
    }
}
