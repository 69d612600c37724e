//! The `.sdc` layout byte by byte, and one test per refusal message.

use serde_json::json;

use super::*;

/// 2 mosaics x 1 segment x 2 dims.
fn tiny() -> SdcDataset {
    SdcDataset::new(1, 2, 2, vec![1.0, -2.0, 0.5, 3.0], vec![1, 0], vec![0, 0]).expect("valid")
}

fn msg(bytes: &[u8]) -> String {
    from_bytes(bytes, Path::new("data/train.sdc"))
        .expect_err("must be refused")
        .to_string()
}

/// Rewrites the CRC so that only the edit under test is wrong.
fn reseal(bytes: &mut [u8]) {
    let n = bytes.len() - 4;
    let crc = crc32fast::hash(&bytes[..n]);
    bytes[n..].copy_from_slice(&crc.to_le_bytes());
}

/// Replaces the JSON header, keeps the payload, fixes the length field and the CRC.
fn with_header(bytes: &[u8], header: &str) -> Vec<u8> {
    let old_len = read_u32(bytes, 12) as usize;
    let mut out = bytes[..8 + 4].to_vec();
    out.extend_from_slice(&(header.len() as u32).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(&bytes[16 + old_len..]);
    reseal(&mut out);
    out
}

#[test]
fn layout_is_as_documented() {
    let bytes = to_bytes(&tiny(), &json!({"seed": 7})).expect("encodes");
    assert_eq!(&bytes[..8], b"SDCDATA\0");
    assert_eq!(read_u32(&bytes, 8), 1);
    let h = read_u32(&bytes, 12) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[16..16 + h]).expect("json");
    assert_eq!(
        header,
        json!({"n_samples": 2, "n_segments": 1, "dim": 2, "n_classes": 2, "meta": {"seed": 7}})
    );
    let payload = &bytes[16 + h..];
    // 4 f32 + 2 labels + 2 fg_index + CRC.
    assert_eq!(payload.len(), 4 * 4 + 2 * 4 + 2 * 4 + 4);
    assert_eq!(&payload[4..8], &(-2.0f32).to_le_bytes());
    assert_eq!(&payload[16..20], &1u32.to_le_bytes());
    assert_eq!(
        read_u32(&bytes, bytes.len() - 4),
        crc32fast::hash(&bytes[..bytes.len() - 4])
    );
    let (ds, meta) = from_bytes(&bytes, Path::new("x")).expect("decodes");
    assert_eq!((ds, meta), (tiny(), json!({"seed": 7})));
}

#[test]
fn refusals_name_the_file_and_the_problem() {
    let good = to_bytes(&tiny(), &json!(null)).expect("encodes");

    assert_eq!(
        msg(b"PK\x03\x04 a zip file"),
        "data/train.sdc: not an sdc dataset (expected the magic bytes \"SDCDATA\\0\" at the start)"
    );
    assert!(msg(b"SDCD").contains("truncated: 4 bytes"));
    assert!(msg(b"").contains("truncated: 0 bytes"));

    let mut v2 = good.clone();
    v2[8] = 2;
    assert_eq!(
        msg(&v2),
        "data/train.sdc: unsupported format version 2 (this build reads version 1)"
    );

    let mut long = good.clone();
    long[12..16].copy_from_slice(&(MAX_HEADER_LEN + 1).to_le_bytes());
    assert!(msg(&long).contains("header length 1048577 exceeds the limit"));
    let mut past_end = good.clone();
    past_end[12..16].copy_from_slice(&10_000u32.to_le_bytes());
    assert!(msg(&past_end).contains("runs past the end of the file"));

    assert!(
        msg(&with_header(&good, "{not json"))
            .starts_with("data/train.sdc: bad header: not valid JSON")
    );
    let missing = r#"{"n_samples":2,"n_segments":1,"n_classes":2,"meta":null}"#;
    assert!(msg(&with_header(&good, missing)).contains("missing field `dim`"));
    let zero = r#"{"n_samples":2,"n_segments":1,"dim":0,"n_classes":2,"meta":null}"#;
    assert!(msg(&with_header(&good, zero)).contains("dim is 0 (at least 1)"));
    let huge =
        r#"{"n_samples":18446744073709551615,"n_segments":9,"dim":5,"n_classes":2,"meta":null}"#;
    assert!(msg(&with_header(&good, huge)).contains("overflows the addressable size"));

    let h = read_u32(&good, 12) as usize;
    assert_eq!(
        msg(&good[..good.len() - 3]),
        format!(
            "data/train.sdc: truncated: header says 2 samples x 1 segments x 2 dims = 32 bytes of payload ({} bytes in all), file has {}",
            16 + h + 36,
            16 + h + 33
        )
    );
    let mut trailing = good.clone();
    trailing.push(0);
    assert!(msg(&trailing).contains(": trailing bytes: header says"));

    let mut flipped = good.clone();
    flipped[16 + h] ^= 1;
    assert!(msg(&flipped).contains("checksum mismatch"));

    // Label 5 with n_classes 2, sealed with a valid CRC: only content validation catches it.
    let mut label = good.clone();
    let at = 16 + h + 16;
    label[at..at + 4].copy_from_slice(&5u32.to_le_bytes());
    reseal(&mut label);
    assert_eq!(
        msg(&label),
        "data/train.sdc: labels[0]: label 5 out of range (n_classes = 2, so 0..=1)"
    );
    let mut j = good.clone();
    let at = 16 + h + 28;
    j[at..at + 4].copy_from_slice(&1u32.to_le_bytes());
    reseal(&mut j);
    assert!(msg(&j).contains("fg_index[1]: segment 1 out of range"));
}

#[test]
fn oversized_meta_is_refused_on_save() {
    let meta = json!("x".repeat(MAX_HEADER_LEN as usize));
    let err = to_bytes(&tiny(), &meta).expect_err("too big").to_string();
    assert!(
        err.starts_with("meta: ") && err.contains("at most 1048576 bytes"),
        "{err}"
    );
}

#[test]
fn save_and_load_through_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let splits = Splits {
        train: tiny(),
        test: tiny().subset(&[1]),
    };
    let out = dir.path().join("nested/run");
    save_splits(&splits, &json!({"distribution": "type4"}), &out).expect("saves");
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["test.sdc", "train.sdc"],
        "no temp files left behind"
    );
    let (loaded, meta) = load_splits(&out).expect("loads");
    assert_eq!(loaded, splits);
    assert_eq!(meta["distribution"], "type4");

    let missing = dir.path().join("absent.sdc");
    let err = load(&missing).expect_err("no file").to_string();
    assert!(
        err.starts_with(&format!("{}: ", missing.display())),
        "{err}"
    );
}
