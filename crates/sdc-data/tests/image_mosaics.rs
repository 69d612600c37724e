//! The image mosaic builder on images whose pixel values encode their class and split: the tile
//! at J is of the labelled fg class, every other tile of a bg class, train mosaics use train
//! images only, test mosaics test images only, and the same config gives the same bytes.

use sdc_data::images::scale_pixel;
use sdc_data::{ImageSet, MosaicConfig, SdcDataset, build_mosaics, mosaic_image};

/// Pixel value of every pixel of an image of `class` in a split: train 10*class, test 10*class+5.
fn code(class: u8, test: bool) -> u8 {
    10 * class + if test { 5 } else { 0 }
}

/// `per_class` grey 2x2 images of each class in `classes`, every pixel = `code(class, test)`.
fn images(classes: &[u8], per_class: usize, test: bool) -> ImageSet {
    let mut labels = Vec::new();
    for _ in 0..per_class {
        labels.extend_from_slice(classes);
    }
    let pixels = labels
        .iter()
        .flat_map(|&c| std::iter::repeat_n(code(c, test), 4))
        .collect();
    ImageSet {
        n: labels.len(),
        channels: 1,
        height: 2,
        width: 2,
        pixels,
        labels,
    }
}

/// Class and split of a segment, decoded from its (constant) value.
fn decode(segment: &[f32]) -> (u8, bool) {
    let byte = ((segment[0] + 1.0) * 127.5).round() as u8;
    assert!(segment.iter().all(|&v| v == segment[0]), "tile is constant");
    (byte / 10, byte % 10 == 5)
}

fn config(n_train: usize, n_test: usize, seed: u64) -> MosaicConfig {
    MosaicConfig {
        grid: 3,
        fg_classes: vec![2, 0, 7],
        bg_classes: None,
        n_train,
        n_test,
        seed,
    }
}

/// Checks every mosaic of `ds`: tile J of class fg_classes[label], the others of `bg`, all from
/// the expected split.
fn check(ds: &SdcDataset, fg: &[u8], bg: &[u8], test: bool) {
    for i in 0..ds.len() {
        let s = ds.sample(i);
        for (slot, seg) in s.segments.chunks_exact(ds.dim()).enumerate() {
            let (class, from_test) = decode(seg);
            assert_eq!(from_test, test, "mosaic {i} slot {slot}: wrong split");
            if slot == s.fg_index as usize {
                assert_eq!(class, fg[s.label as usize], "mosaic {i}: fg tile");
            } else {
                assert!(
                    bg.contains(&class),
                    "mosaic {i} slot {slot}: class {class} not bg"
                );
            }
        }
    }
}

#[test]
fn tiles_follow_label_and_position() {
    let all: Vec<u8> = (0..10).collect();
    let (train, test) = build_mosaics(
        &config(500, 200, 4),
        &images(&all, 3, false),
        &images(&all, 2, true),
    )
    .expect("builds");
    assert_eq!((train.len(), test.len()), (500, 200));
    assert_eq!(
        (train.n_segments(), train.dim(), train.n_classes()),
        (9, 4, 3)
    );
    let bg = [1, 3, 4, 5, 6, 8, 9];
    check(&train, &[2, 0, 7], &bg, false);
    check(&test, &[2, 0, 7], &bg, true);
    // Values are the scaled bytes.
    assert!(
        train
            .segments()
            .iter()
            .all(|v| (0..10).any(|c| *v == scale_pixel(code(c, false))))
    );
}

#[test]
fn positions_and_labels_are_uniform() {
    let all: Vec<u8> = (0..10).collect();
    let n = 9000;
    let (train, _) = build_mosaics(
        &config(n, 0, 11),
        &images(&all, 2, false),
        &images(&all, 1, true),
    )
    .expect("builds");
    let mut by_j = [0usize; 9];
    let mut by_label = [0usize; 3];
    for i in 0..n {
        by_j[train.fg_index()[i] as usize] += 1;
        by_label[train.labels()[i] as usize] += 1;
    }
    // Expected 1000 and 3000; 5 standard deviations is about 150 and 225.
    assert!(by_j.iter().all(|&c| (850..1150).contains(&c)), "{by_j:?}");
    assert!(
        by_label.iter().all(|&c| (2775..3225).contains(&c)),
        "{by_label:?}"
    );
}

#[test]
fn same_config_same_bytes_and_streams_differ() {
    let all: Vec<u8> = (0..10).collect();
    let (tr, te) = (images(&all, 3, false), images(&all, 3, true));
    let a = build_mosaics(&config(50, 50, 9), &tr, &te).expect("builds");
    let b = build_mosaics(&config(50, 50, 9), &tr, &te).expect("builds");
    assert_eq!(a, b);
    let c = build_mosaics(&config(50, 50, 10), &tr, &te).expect("builds");
    assert_ne!(a.0.fg_index(), c.0.fg_index());
    // Train and test draw from different streams, not the same choices.
    assert_ne!(a.0.fg_index(), a.1.fg_index());
    // Changing n_train leaves the test set unchanged.
    let d = build_mosaics(&config(7, 50, 9), &tr, &te).expect("builds");
    assert_eq!(d.1, a.1);
    assert_eq!(d.0.fg_index(), &a.0.fg_index()[..7]);
}

#[test]
fn explicit_bg_classes_are_the_only_background() {
    let all: Vec<u8> = (0..10).collect();
    let cfg = MosaicConfig {
        bg_classes: Some(vec![9, 4]),
        ..config(300, 10, 1)
    };
    let (train, test) =
        build_mosaics(&cfg, &images(&all, 2, false), &images(&all, 2, true)).expect("builds");
    check(&train, &[2, 0, 7], &[9, 4], false);
    check(&test, &[2, 0, 7], &[9, 4], true);
}

#[test]
fn missing_classes_and_shapes_are_named() {
    let err = |r: Result<(SdcDataset, SdcDataset), sdc_data::DataError>| {
        r.expect_err("must fail").to_string()
    };
    let some: Vec<u8> = vec![0, 1, 2, 3];
    assert_eq!(
        err(build_mosaics(
            &config(5, 5, 0),
            &images(&some, 1, false),
            &images(&some, 1, true)
        )),
        "fg_classes: class 7 has no image in the train images (4 images, classes present: 0, 1, 2, 3)"
    );
    let cfg = MosaicConfig {
        fg_classes: vec![0, 1],
        bg_classes: Some(vec![3, 8]),
        ..config(5, 5, 0)
    };
    let with8: Vec<u8> = vec![0, 1, 3, 8];
    assert_eq!(
        err(build_mosaics(
            &cfg,
            &images(&with8, 1, false),
            &images(&some, 1, true)
        )),
        "bg_classes: class 8 has no image in the test images (4 images, classes present: 0, 1, 2, 3)"
    );
    // No test mosaics: the test images need not hold anything.
    let cfg0 = MosaicConfig { n_test: 0, ..cfg };
    let (_, test) = build_mosaics(&cfg0, &images(&with8, 1, false), &images(&[], 0, true))
        .expect("n_test = 0 needs no test images");
    assert!(test.is_empty());
    // Only fg classes in the images: no background.
    let fg_only = MosaicConfig {
        fg_classes: vec![0, 1],
        ..config(5, 0, 0)
    };
    assert!(
        err(build_mosaics(
            &fg_only,
            &images(&[0, 1], 1, false),
            &images(&[0, 1], 1, true)
        ))
        .starts_with("bg_classes: is empty")
    );
    // grid 1 needs no background at all.
    let one = MosaicConfig { grid: 1, ..fg_only };
    let (train, _) = build_mosaics(&one, &images(&[0, 1], 1, false), &images(&[0, 1], 1, true))
        .expect("a single tile is the fg tile");
    assert!(train.fg_index().iter().all(|&j| j == 0));
    let mut rgb = images(&some, 1, true);
    rgb.channels = 3;
    rgb.pixels = rgb.pixels.repeat(3);
    assert_eq!(
        err(build_mosaics(
            &config(5, 5, 0),
            &images(&some, 1, false),
            &rgb
        )),
        "train and test images: shapes differ: 1x2x2 vs 3x2x2 (channels x height x width)"
    );
    let mut broken = images(&some, 1, false);
    broken.pixels.pop();
    assert_eq!(
        err(build_mosaics(
            &config(5, 5, 0),
            &broken,
            &images(&some, 1, true)
        )),
        "pixels: expected 16 values (4 images of 1x2x2), got 15"
    );
}

#[test]
fn mosaic_image_draws_tiles_in_place() {
    // RGB 2x3 tiles; image k has pixel (c, y, x) = 100*c + 10*y + x + k (k < 10).
    let n = 10;
    let (c, h, w) = (3, 2, 3);
    let mut pixels = Vec::new();
    for k in 0..n {
        for ch in 0..c {
            for y in 0..h {
                for x in 0..w {
                    pixels.push((100 * ch + 10 * y + x + k) as u8);
                }
            }
        }
    }
    let labels: Vec<u8> = (0..n as u8).collect();
    let set = ImageSet {
        n,
        channels: c,
        height: h,
        width: w,
        pixels,
        labels,
    };
    let cfg = MosaicConfig {
        grid: 2,
        fg_classes: vec![0],
        bg_classes: None,
        n_train: 3,
        n_test: 0,
        seed: 5,
    };
    let (train, _) = build_mosaics(&cfg, &set, &set).expect("builds");
    let img = mosaic_image(&train, 1, 2, c, h, w).expect("draws");
    assert_eq!(img.len(), (2 * h) * (2 * w) * c);
    let segs = train.sample_segments(1);
    for t in 0..4 {
        // Which image sits in tile t: pixel (0, 0, 0) holds k.
        let k = ((segs[t * c * h * w] + 1.0) * 127.5).round() as usize;
        for ch in 0..c {
            for y in 0..h {
                for x in 0..w {
                    let (row, col) = ((t / 2) * h + y, (t % 2) * w + x);
                    assert_eq!(
                        img[(row * 2 * w + col) * c + ch] as usize,
                        100 * ch + 10 * y + x + k,
                        "tile {t} ({ch}, {y}, {x})"
                    );
                }
            }
        }
    }
    let fg_tile = train.fg_index()[1] as usize;
    assert_eq!(
        ((segs[fg_tile * c * h * w] + 1.0) * 127.5).round(),
        0.0,
        "fg is image 0"
    );
    let e = mosaic_image(&train, 0, 3, c, h, w).expect_err("grid 3 != 4 segments");
    assert!(e.to_string().starts_with("mosaic drawing"));
    let e = mosaic_image(&train, 3, 2, c, h, w).expect_err("only 3 mosaics");
    assert_eq!(
        e.to_string(),
        "i: 3 is not accepted (a mosaic index below 3)"
    );
}
