//! Validation of [`SyntheticConfig`]: defaults, TOML spelling, and one test per refusal.

use super::*;

fn err(config: &SyntheticConfig) -> String {
    config.validate().expect_err("must be refused").to_string()
}

fn gaussian() -> SyntheticConfig {
    SyntheticConfig {
        means: Some(vec![vec![0.0, 0.0], vec![3.0, 0.0], vec![0.0, 3.0]]),
        std: Some(0.5),
        fg_classes: Some(vec![0]),
        ..SyntheticConfig::new(Distribution::Gaussian)
    }
}

#[test]
fn toml_with_only_distribution_gets_paper_defaults() {
    let config: SyntheticConfig = toml::from_str("distribution = \"type4\"").expect("parses");
    assert_eq!(config, SyntheticConfig::new(Distribution::Type4));
    let r = config.validate().expect("valid");
    assert_eq!(
        (r.n_segments, r.n_train, r.n_test, r.n_base),
        (9, 3000, 3000, 5000)
    );
    assert_eq!((r.dim, r.n_classes, r.n_base_classes), (2, 3, 10));
    assert_eq!(r.fg_classes, vec![0, 1, 2]);
    assert_eq!(r.bg_classes, vec![3, 4, 5, 6, 7, 8, 9]);
    assert_eq!(r.scheme, MosaicScheme::ClassUniform);
    let blobs = SyntheticConfig::new(Distribution::Blobs5d)
        .validate()
        .expect("valid");
    assert_eq!((blobs.dim, blobs.scheme), (5, MosaicScheme::Pool));
}

#[test]
fn toml_spells_enums_in_kebab_case_and_round_trips() {
    let text = r#"
        distribution = "gaussian"
        scheme = "class-uniform"
        n_segments = 4
        fg_classes = [2, 0]
        bg_classes = [1]
        seed = 42
        means = [[0.0], [1.0], [2.0]]
        std = 0.25
    "#;
    let config: SyntheticConfig = toml::from_str(text).expect("parses");
    assert_eq!(config.scheme, Some(MosaicScheme::ClassUniform));
    assert_eq!(config.dim(), Some(1));
    let again: SyntheticConfig =
        toml::from_str(&toml::to_string(&config).expect("serialises")).expect("parses");
    assert_eq!(again, config);
    let blobs: SyntheticConfig = toml::from_str("distribution = \"blobs5d\"").expect("parses");
    assert_eq!(blobs.distribution, Distribution::Blobs5d);
    assert_eq!(
        serde_json::to_value(MosaicScheme::Pool).expect("json"),
        "pool"
    );
}

#[test]
fn unknown_fields_and_values_are_refused() {
    let e = toml::from_str::<SyntheticConfig>("distribution = \"type4\"\nn_segment = 4")
        .expect_err("typo");
    assert!(e.to_string().contains("n_segment"), "{e}");
    let e = toml::from_str::<SyntheticConfig>("distribution = \"type5\"").expect_err("bad enum");
    assert!(e.to_string().contains("type4"), "{e}");
}

#[test]
fn class_out_of_range_names_field_value_and_range() {
    let config = SyntheticConfig {
        fg_classes: Some(vec![0, 12]),
        ..SyntheticConfig::new(Distribution::Type4)
    };
    assert_eq!(
        err(&config),
        "fg_classes: class 12 does not exist (distribution type4 has classes 0..=9)"
    );
    let config = SyntheticConfig {
        bg_classes: Some(vec![3]),
        ..gaussian()
    };
    assert_eq!(
        err(&config),
        "bg_classes: class 3 does not exist (distribution gaussian has classes 0..=2)"
    );
}

#[test]
fn class_list_rules() {
    let base = SyntheticConfig::new(Distribution::Blobs5d);
    let with = |fg: Vec<u32>, bg: Option<Vec<u32>>| SyntheticConfig {
        fg_classes: Some(fg),
        bg_classes: bg,
        ..base.clone()
    };
    assert_eq!(
        err(&with(vec![0, 1], Some(vec![1, 5]))),
        "fg_classes and bg_classes: both contain class 1 (a class is either foreground or background)"
    );
    assert_eq!(
        err(&with(vec![0, 1, 0], None)),
        "fg_classes: class 0 is listed twice (each class at most once)"
    );
    assert_eq!(
        err(&with(vec![], None)),
        "fg_classes: is empty (at least one class is needed)"
    );
    assert!(err(&with(vec![0], Some(vec![]))).starts_with("bg_classes: is empty"));
    let all: Vec<u32> = (0..10).collect();
    assert!(err(&with(all, None)).contains("fg_classes takes them all"));
    let ok = with(vec![9, 3], Some(vec![0])).validate().expect("valid");
    assert_eq!(
        (ok.fg_classes, ok.bg_classes, ok.n_classes),
        (vec![9, 3], vec![0], 2)
    );
}

#[test]
fn sizes_are_checked() {
    let base = SyntheticConfig::new(Distribution::Type4);
    assert_eq!(
        err(&SyntheticConfig {
            n_segments: 0,
            ..base.clone()
        }),
        "n_segments: 0 is not accepted (at least 1)"
    );
    assert!(
        err(&SyntheticConfig {
            n_train: 0,
            ..base.clone()
        })
        .starts_with("n_train: 0")
    );
    assert_eq!(
        err(&SyntheticConfig {
            n_base: 9,
            ..base.clone()
        }),
        "n_base: 9 is not accepted (at least 10, one point per class of type4)"
    );
    assert!(
        err(&SyntheticConfig {
            n_train: usize::MAX / 2,
            ..base.clone()
        })
        .starts_with("n_train:")
    );
    let r = SyntheticConfig {
        n_test: 0,
        n_segments: 4,
        ..base
    }
    .validate()
    .expect("n_test = 0 ok");
    assert_eq!((r.n_test, r.n_segments), (0, 4));
}

#[test]
fn gaussian_rules() {
    let ok = gaussian().validate().expect("valid");
    assert_eq!(
        (ok.dim, ok.n_base_classes, ok.bg_classes.clone()),
        (2, 3, vec![1, 2])
    );
    assert_eq!(ok.scheme, MosaicScheme::Pool);

    assert!(
        err(&SyntheticConfig {
            means: None,
            ..gaussian()
        })
        .starts_with("means: required for distribution gaussian")
    );
    assert!(
        err(&SyntheticConfig {
            std: None,
            ..gaussian()
        })
        .starts_with("std: required")
    );
    assert!(
        err(&SyntheticConfig {
            fg_classes: None,
            ..gaussian()
        })
        .starts_with("fg_classes: required")
    );
    assert_eq!(
        err(&SyntheticConfig {
            std: Some(0.0),
            ..gaussian()
        }),
        "std: 0 is not accepted (a number > 0 and at most 1e30)"
    );
    assert!(
        err(&SyntheticConfig {
            std: Some(f64::NAN),
            ..gaussian()
        })
        .starts_with("std: NaN")
    );
    assert_eq!(
        err(&SyntheticConfig {
            means: Some(vec![vec![0.0, 0.0], vec![1.0]]),
            ..gaussian()
        }),
        "means: class 1 with 1 coordinates is not accepted (every mean with the 2 coordinates of class 0)"
    );
    assert!(
        err(&SyntheticConfig {
            means: Some(vec![]),
            ..gaussian()
        })
        .starts_with("means:")
    );
    assert!(
        err(&SyntheticConfig {
            means: Some(vec![vec![0.0], vec![f64::INFINITY]]),
            ..gaussian()
        })
        .contains("finite")
    );
    assert!(
        err(&SyntheticConfig {
            means: Some(vec![vec![0.0], vec![1e31]]),
            ..gaussian()
        })
        .contains("at most 1e30")
    );
}

#[test]
fn means_and_std_are_refused_for_presets() {
    let config = SyntheticConfig {
        std: Some(1.0),
        ..SyntheticConfig::new(Distribution::Type4)
    };
    assert_eq!(
        err(&config),
        "std: not accepted for distribution type4 (only for gaussian; remove it)"
    );
    let config = SyntheticConfig {
        means: Some(vec![vec![0.0]]),
        ..SyntheticConfig::new(Distribution::Blobs5d)
    };
    assert!(err(&config).starts_with("means: not accepted for distribution blobs5d"));
}

#[test]
fn error_modes_get_the_papers_defaults() {
    // the paper's Sec. 5: 1200 base points for dist_1 and dist_2, 2100 for dist_4; fg every class
    // but the last, bg the last; the fg class drawn uniformly.
    for (name, distribution, n_base, fg, bg) in [
        ("em1", Distribution::Em1, 1200, vec![0, 1, 2], vec![3]),
        ("em2", Distribution::Em2, 1200, vec![0, 1, 2], vec![3]),
        (
            "em3",
            Distribution::Em3,
            2100,
            vec![0, 1, 2, 3, 4, 5],
            vec![6],
        ),
    ] {
        let config: SyntheticConfig =
            toml::from_str(&format!("distribution = \"{name}\"")).expect("parses");
        assert_eq!(config, SyntheticConfig::new(distribution));
        assert_eq!(config.distribution.to_string(), name);
        assert_eq!(config.dim(), Some(2));
        let r = config.validate().expect("valid");
        assert_eq!((r.n_base, r.dim, r.n_segments), (n_base, 2, 9), "{name}");
        assert_eq!(r.n_classes, fg.len(), "{name}");
        assert_eq!(r.n_base_classes, fg.len() + 1, "{name}");
        assert_eq!((r.fg_classes, r.bg_classes), (fg, bg), "{name}");
        assert_eq!(r.scheme, MosaicScheme::ClassUniform, "{name}");
    }
}

#[test]
fn error_mode_defaults_can_be_overridden_and_round_trip() {
    let text = r#"
        distribution = "em3"
        n_base = 700
        n_train = 3000
        n_test = 1000
        fg_classes = [0, 2, 4]
        scheme = "pool"
    "#;
    let config: SyntheticConfig = toml::from_str(text).expect("parses");
    let r = config.validate().expect("valid");
    assert_eq!((r.n_base, r.n_train, r.n_test), (700, 3000, 1000));
    assert_eq!(
        (r.fg_classes, r.bg_classes),
        (vec![0, 2, 4], vec![1, 3, 5, 6])
    );
    assert_eq!(r.scheme, MosaicScheme::Pool);
    // What a run directory records (n_base written out) reads back as the same config.
    let written = toml::to_string(&config).expect("serialises");
    assert!(written.contains("n_base = 700"), "{written}");
    let again: SyntheticConfig = toml::from_str(&written).expect("parses");
    assert_eq!(again, config);
    // A type4 file that leaves n_base out keeps the old default.
    let type4: SyntheticConfig = toml::from_str("distribution = \"type4\"").expect("parses");
    assert_eq!(type4.n_base, 5000);
}

#[test]
fn error_modes_refuse_gaussian_fields_and_unknown_classes() {
    let config = SyntheticConfig {
        std: Some(0.1),
        ..SyntheticConfig::new(Distribution::Em1)
    };
    assert_eq!(
        err(&config),
        "std: not accepted for distribution em1 (only for gaussian; remove it)"
    );
    let config = SyntheticConfig {
        fg_classes: Some(vec![0, 4]),
        ..SyntheticConfig::new(Distribution::Em2)
    };
    assert_eq!(
        err(&config),
        "fg_classes: class 4 does not exist (distribution em2 has classes 0..=3)"
    );
    assert_eq!(
        err(&SyntheticConfig {
            n_base: 6,
            ..SyntheticConfig::new(Distribution::Em3)
        }),
        "n_base: 6 is not accepted (at least 7, one point per class of em3)"
    );
    let e = toml::from_str::<SyntheticConfig>("distribution = \"em4\"").expect_err("bad enum");
    assert!(e.to_string().contains("em3"), "{e}");
}
