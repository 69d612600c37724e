//! Generation: base-set layout and moments, mosaic structure, determinism.

use std::collections::HashMap;

use super::*;
use crate::config::Distribution;
use crate::distributions::{
    BLOBS5D_ELONGATED_AXIS, BLOBS5D_MEANS, EM1_BOXES, EM2_BOXES, EM3_BOXES, TYPE4_MEANS, UniformBox,
};

fn resolved(config: &SyntheticConfig) -> ResolvedSynthetic {
    config.validate().expect("valid config")
}

/// Base class of every base point, keyed by the bit pattern of its coordinates.
fn class_by_point(base: &BaseSet) -> HashMap<Vec<u32>, u32> {
    (0..base.len())
        .map(|i| {
            (
                base.point(i).iter().map(|v| v.to_bits()).collect(),
                base.classes[i],
            )
        })
        .collect()
}

/// Asserts every mosaic: segment J is a base point of class fg_classes[label], every other
/// segment a base point of a bg class. Returns the count of each J.
fn check_mosaics(r: &ResolvedSynthetic, ds: &SdcDataset) -> Vec<usize> {
    let base = generate_base(r);
    let lookup = class_by_point(&base);
    let mut j_counts = vec![0; r.n_segments];
    for i in 0..ds.len() {
        let s = ds.sample(i);
        assert!((s.label as usize) < r.n_classes);
        j_counts[s.fg_index as usize] += 1;
        for (slot, seg) in s.segments.chunks(r.dim).enumerate() {
            let key: Vec<u32> = seg.iter().map(|v| v.to_bits()).collect();
            let class = *lookup.get(&key).expect("every segment is a base point");
            if slot == s.fg_index as usize {
                assert_eq!(class, r.fg_classes[s.label as usize], "mosaic {i}");
            } else {
                assert!(
                    r.bg_classes.contains(&class),
                    "mosaic {i} slot {slot}: class {class}"
                );
            }
        }
    }
    j_counts
}

fn assert_roughly_uniform(counts: &[usize], what: &str) {
    let n: usize = counts.iter().sum();
    let expected = n as f64 / counts.len() as f64;
    for (k, &c) in counts.iter().enumerate() {
        // Binomial sd is < sqrt(expected); 5 sd keeps the test stable, catches a biased draw.
        assert!(
            (c as f64 - expected).abs() < 5.0 * expected.sqrt(),
            "{what} {k}: {c} of {n} (expected {expected})"
        );
    }
}

#[test]
fn type4_mosaics_follow_the_class_uniform_scheme() {
    let config = SyntheticConfig {
        n_train: 2000,
        n_test: 100,
        seed: 3,
        ..SyntheticConfig::new(Distribution::Type4)
    };
    let r = resolved(&config);
    let splits = generate(&config).expect("generates");
    assert_eq!((splits.train.len(), splits.test.len()), (2000, 100));
    assert_eq!(
        (
            splits.train.n_segments(),
            splits.train.dim(),
            splits.train.n_classes()
        ),
        (9, 2, 3)
    );
    let j_counts = check_mosaics(&r, &splits.train);
    assert_roughly_uniform(&j_counts, "J");
    let mut label_counts = vec![0; 3];
    for &l in splits.train.labels() {
        label_counts[l as usize] += 1;
    }
    assert_roughly_uniform(&label_counts, "label");

    // The fg segment lies nearer its label's mean than any bg mean (std 0.1, means >= 1.5 apart).
    let dist = |p: &[f32], c: usize| {
        let m = TYPE4_MEANS[c];
        (f64::from(p[0]) - m[0]).hypot(f64::from(p[1]) - m[1])
    };
    for i in 0..splits.train.len() {
        let s = splits.train.sample(i);
        let fg = &s.segments[s.fg_index as usize * 2..][..2];
        let own = dist(fg, s.label as usize);
        assert!(own < 0.6, "mosaic {i}: {own}");
        for bg in 3..10 {
            assert!(own < dist(fg, bg), "mosaic {i}: nearer bg class {bg}");
        }
    }
}

#[test]
fn blobs5d_base_is_balanced_and_matches_the_spec_moments() {
    let config = SyntheticConfig {
        n_base: 50_003,
        seed: 11,
        ..SyntheticConfig::new(Distribution::Blobs5d)
    };
    let base = generate_base(&resolved(&config));
    let mut counts = [0usize; 10];
    for &c in &base.classes {
        counts[c as usize] += 1;
    }
    // 50_003 = 10 x 5000 + 3: the remainder goes to the first classes.
    assert_eq!(
        counts,
        [5001, 5001, 5001, 5000, 5000, 5000, 5000, 5000, 5000, 5000]
    );
    // Shuffled: the first 100 points are not all of class 0.
    assert!(base.classes[..100].iter().any(|&c| c != 0));
    for class in 0..10u32 {
        let pts: Vec<&[f32]> = (0..base.len())
            .filter(|&i| base.classes[i] == class)
            .map(|i| base.point(i))
            .collect();
        let n = pts.len() as f64;
        let k = BLOBS5D_ELONGATED_AXIS[class as usize];
        for axis in 0..5 {
            let mean = pts.iter().map(|p| f64::from(p[axis])).sum::<f64>() / n;
            let var = pts
                .iter()
                .map(|p| (f64::from(p[axis]) - mean).powi(2))
                .sum::<f64>()
                / (n - 1.0);
            // Standard error of the mean along the long axis: 4 / sqrt(5000) = 0.057.
            assert!(
                (mean - BLOBS5D_MEANS[class as usize][axis]).abs() < 0.3,
                "c{class} axis {axis}: {mean}"
            );
            let want = if axis == k { 16.0 } else { 1.0 };
            assert!(
                (var - want).abs() < 0.1 * want,
                "c{class} axis {axis}: var {var}"
            );
        }
    }
}

#[test]
fn blobs5d_pool_scheme_uses_pools_and_label_positions() {
    // fg listed out of order: the label is the position in fg_classes, not the class.
    let config = SyntheticConfig {
        n_train: 1500,
        n_test: 0,
        fg_classes: Some(vec![7, 2]),
        bg_classes: Some(vec![0, 9]),
        seed: 5,
        ..SyntheticConfig::new(Distribution::Blobs5d)
    };
    let r = resolved(&config);
    assert_eq!(r.scheme, MosaicScheme::Pool);
    let splits = generate(&config).expect("generates");
    assert!(splits.test.is_empty());
    assert_eq!(splits.train.n_classes(), 2);
    let j_counts = check_mosaics(&r, &splits.train);
    assert_roughly_uniform(&j_counts, "J");
}

#[test]
fn four_segments_and_a_custom_gaussian_work() {
    let config = SyntheticConfig {
        n_segments: 4,
        n_train: 800,
        n_test: 50,
        n_base: 400,
        fg_classes: Some(vec![3, 1]),
        scheme: Some(MosaicScheme::ClassUniform),
        means: Some(vec![
            vec![0.0; 3],
            vec![5.0; 3],
            vec![-5.0; 3],
            vec![10.0, 0.0, 0.0],
        ]),
        std: Some(0.3),
        ..SyntheticConfig::new(Distribution::Gaussian)
    };
    let r = resolved(&config);
    assert_eq!(r.bg_classes, vec![0, 2]);
    let splits = generate(&config).expect("generates");
    assert_eq!(
        (
            splits.train.n_segments(),
            splits.train.dim(),
            splits.train.segments().len()
        ),
        (4, 3, 800 * 4 * 3)
    );
    let j_counts = check_mosaics(&r, &splits.train);
    assert_roughly_uniform(&j_counts, "J");
    check_mosaics(&r, &splits.test);
}

#[test]
fn generation_is_deterministic_and_streams_are_independent() {
    let config = SyntheticConfig {
        n_train: 50,
        n_test: 40,
        n_base: 300,
        seed: 9,
        ..SyntheticConfig::new(Distribution::Blobs5d)
    };
    let a = generate(&config).expect("generates");
    assert_eq!(a, generate(&config).expect("generates"));
    let other_seed = generate(&SyntheticConfig {
        seed: 10,
        ..config.clone()
    })
    .expect("generates");
    assert_ne!(a.train, other_seed.train);
    assert_ne!(a.test, other_seed.test);
    // A different n_train changes neither the base set nor the test mosaics.
    let more_train = generate(&SyntheticConfig {
        n_train: 70,
        ..config.clone()
    })
    .expect("generates");
    assert_eq!(a.test, more_train.test);
    assert_eq!(
        a.train,
        more_train.train.subset(&(0..50).collect::<Vec<_>>())
    );
}

#[test]
fn base_set_without_a_needed_class_is_refused() {
    // 10 points over 10 uniform classes: most seeds miss a class.
    let messages: Vec<String> = (0..10)
        .filter_map(|seed| {
            let config = SyntheticConfig {
                n_base: 10,
                n_train: 5,
                seed,
                ..SyntheticConfig::new(Distribution::Type4)
            };
            generate(&config).err().map(|e| e.to_string())
        })
        .collect();
    assert!(!messages.is_empty());
    for m in &messages {
        assert!(
            m.starts_with("n_base: 10 base points (seed ") && m.ends_with("; raise n_base"),
            "{m}"
        );
    }
}

/// Whether `p` lies in `bounds` (compared in f32, the storage type: rounding is monotone).
fn inside(p: &[f32], bounds: &UniformBox) -> bool {
    p.iter()
        .zip(bounds)
        .all(|(&v, &[lo, hi])| (lo as f32..=hi as f32).contains(&v))
}

#[test]
fn error_mode_points_lie_in_their_class_boxes() {
    for (distribution, boxes, k) in [
        (Distribution::Em1, &EM1_BOXES[..], 3),
        (Distribution::Em2, &EM2_BOXES[..], 3),
        (Distribution::Em3, &EM3_BOXES[..], 6),
    ] {
        let config = SyntheticConfig {
            n_train: 1200,
            n_test: 200,
            seed: 4,
            ..SyntheticConfig::new(distribution)
        };
        let r = resolved(&config);
        let base = generate_base(&r);
        assert_eq!(base.len(), r.n_base);
        let mut class_counts = vec![0; boxes.len()];
        for i in 0..base.len() {
            let class = base.classes[i] as usize;
            class_counts[class] += 1;
            assert!(
                inside(base.point(i), &boxes[class]),
                "{distribution}: point {i} of class {class} at {:?}",
                base.point(i)
            );
        }
        // the paper's Sec. 5: each base point's class is randint(0, n_classes).
        assert_roughly_uniform(&class_counts, &format!("{distribution} base class"));

        let splits = generate(&config).expect("generates");
        assert_eq!(
            (splits.train.n_segments(), splits.train.dim()),
            (9, 2),
            "{distribution}"
        );
        assert_eq!(splits.train.n_classes(), k, "{distribution}");
        for ds in [&splits.train, &splits.test] {
            check_mosaics(&r, ds);
            for i in 0..ds.len() {
                let s = ds.sample(i);
                assert!((s.label as usize) < k);
                for (slot, seg) in s.segments.chunks(2).enumerate() {
                    // Label y is base class y; every other slot is the bg class, the last one.
                    let class = if slot == s.fg_index as usize {
                        s.label as usize
                    } else {
                        k
                    };
                    assert!(
                        inside(seg, &boxes[class]),
                        "{distribution} mosaic {i} slot {slot}"
                    );
                }
            }
        }
        let j_counts = check_mosaics(&r, &splits.train);
        assert_roughly_uniform(&j_counts, &format!("{distribution} J"));
        let mut label_counts = vec![0; k];
        for &l in splits.train.labels() {
            label_counts[l as usize] += 1;
        }
        assert_roughly_uniform(&label_counts, &format!("{distribution} label"));
    }
}

#[test]
fn error_mode_generation_is_deterministic() {
    for distribution in [Distribution::Em1, Distribution::Em2, Distribution::Em3] {
        let config = SyntheticConfig {
            n_train: 60,
            n_test: 30,
            seed: 8,
            ..SyntheticConfig::new(distribution)
        };
        let a = generate(&config).expect("generates");
        assert_eq!(a, generate(&config).expect("generates"), "{distribution}");
        let b = generate(&SyntheticConfig {
            seed: 9,
            ..config.clone()
        })
        .expect("generates");
        assert_ne!(a.train, b.train, "{distribution}");
        assert_ne!(a.test, b.test, "{distribution}");
    }
    // The three distributions differ even with the same seed.
    let em = |d| {
        generate(&SyntheticConfig {
            n_train: 20,
            n_test: 0,
            ..SyntheticConfig::new(d)
        })
        .expect("generates")
        .train
    };
    assert_ne!(em(Distribution::Em1), em(Distribution::Em2));
}
