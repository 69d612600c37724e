//! Mean, spread and 95% confidence interval of a metric over repeated runs; median and range
//! of a measurement over repeats.
//!
//! The paper reports plain means over runs (paper-spec 8); we add the sample standard deviation
//! and a Student-t interval so a reader can see whether a gap to the paper's number is larger
//! than run-to-run noise.

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, StudentsT};

/// Mean, sample standard deviation and a 95% confidence interval (Student t, df = n-1) of a set of runs.
///
/// Non-finite fields serialise as JSON `null` and read back as NaN, so a [`Stats`] of zero runs
/// survives a JSON round trip.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Number of values described.
    pub n: usize,
    /// Arithmetic mean (NaN when `n == 0`).
    #[serde(with = "nan_as_null")]
    pub mean: f64,
    /// Sample standard deviation, divisor `n - 1` (0 when `n == 1`, NaN when `n == 0`).
    #[serde(with = "nan_as_null")]
    pub sd: f64,
    /// Lower end of the 95% confidence interval of the mean.
    #[serde(with = "nan_as_null")]
    pub ci95_low: f64,
    /// Upper end of the 95% confidence interval of the mean.
    #[serde(with = "nan_as_null")]
    pub ci95_high: f64,
}

impl Stats {
    /// Half-width of the 95% confidence interval.
    pub fn ci95_half_width(&self) -> f64 {
        (self.ci95_high - self.ci95_low) / 2.0
    }
}

/// Describes a set of runs: n = 0 gives NaN everywhere but `n`; n = 1 gives sd 0 and a point interval.
///
/// NaN values are not skipped: a NaN in the input makes mean, sd and interval NaN, so a diverged
/// run is visible in the report instead of silently dropped (the caller decides what a failed run
/// is and leaves it out).
pub fn describe(values: &[f64]) -> Stats {
    let n = values.len();
    if n == 0 {
        return Stats {
            n,
            mean: f64::NAN,
            sd: f64::NAN,
            ci95_low: f64::NAN,
            ci95_high: f64::NAN,
        };
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    if n == 1 {
        return Stats {
            n,
            mean,
            sd: 0.0,
            ci95_low: mean,
            ci95_high: mean,
        };
    }
    let ss = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>();
    let sd = (ss / (n - 1) as f64).sqrt();
    let half = t_975(n - 1) * sd / (n as f64).sqrt();
    Stats {
        n,
        mean,
        sd,
        ci95_low: mean - half,
        ci95_high: mean + half,
    }
}

/// Median, smallest and largest of a set of values (e.g. a throughput over repeats).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spread {
    /// The middle value; the mean of the two middle values for an even count.
    pub median: f64,
    /// The smallest value.
    pub min: f64,
    /// The largest value.
    pub max: f64,
}

/// The [`Spread`] of `values` (ordered by [`f64::total_cmp`], so NaN sorts last); `None` for no
/// values.
pub fn spread(values: &[f64]) -> Option<Spread> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = match n {
        0 => return None,
        _ if n % 2 == 1 => v[n / 2],
        _ => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    };
    Some(Spread {
        median,
        min: v[0],
        max: v[n - 1],
    })
}

/// The 0.975 quantile of Student's t with `df` degrees of freedom (NaN for `df == 0`).
pub fn t_975(df: usize) -> f64 {
    // StudentsT::new only rejects non-positive or NaN freedom, which df >= 1 is not.
    match StudentsT::new(0.0, 1.0, df as f64) {
        Ok(t) if df > 0 => t.inverse_cdf(0.975),
        _ => f64::NAN,
    }
}

/// Serde helpers writing non-finite floats as `null` (JSON has no NaN) and reading `null` as NaN.
pub(crate) mod nan_as_null {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes a finite value as a number, anything else as `null`.
    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_finite() {
            s.serialize_some(v)
        } else {
            s.serialize_none()
        }
    }

    /// Reads a number, or `null` as NaN.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
    }
}

/// Serde helpers for `(x, y)` point lists with the same `null` convention as [`nan_as_null`].
#[cfg(feature = "report")]
pub(crate) mod points_nan_as_null {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    fn opt(v: f64) -> Option<f64> {
        v.is_finite().then_some(v)
    }

    /// Writes each point as `[x, y]` with non-finite coordinates as `null`.
    pub fn serialize<S: Serializer>(points: &[(f64, f64)], s: S) -> Result<S::Ok, S::Error> {
        let pts: Vec<_> = points.iter().map(|&(x, y)| (opt(x), opt(y))).collect();
        pts.serialize(s)
    }

    /// Reads `[x, y]` pairs, `null` as NaN.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(f64, f64)>, D::Error> {
        let pts = Vec::<(Option<f64>, Option<f64>)>::deserialize(d)?;
        Ok(pts
            .into_iter()
            .map(|(x, y)| (x.unwrap_or(f64::NAN), y.unwrap_or(f64::NAN)))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn four_values_by_hand() {
        // mean 2.5; squares 2.25+0.25+0.25+2.25 = 5, /3 -> sd 1.29099;
        // half-width t(3) 3.18245 * 1.29099 / 2 = 2.05426.
        let s = describe(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(s.n, 4);
        assert!(close(s.mean, 2.5, 1e-12));
        assert!(close(s.sd, 1.290_994, 1e-6));
        assert!(close(s.ci95_half_width(), 2.054_26, 1e-4));
        assert!(close(s.ci95_low, 2.5 - 2.054_26, 1e-4));
        assert!(close(s.ci95_high, 2.5 + 2.054_26, 1e-4));
    }

    #[test]
    fn t_quantiles_match_tables() {
        for (df, want) in [
            (1, 12.706),
            (2, 4.303),
            (4, 2.776),
            (9, 2.262),
            (19, 2.093),
            (30, 2.042),
        ] {
            assert!(close(t_975(df), want, 5e-4), "df {df}: {}", t_975(df));
        }
        // Large df tends to the normal quantile 1.95996.
        assert!(close(t_975(100_000), 1.959_96, 1e-4));
        assert!(t_975(0).is_nan());
    }

    #[test]
    fn empty_is_nan_but_counts_zero() {
        let s = describe(&[]);
        assert_eq!(s.n, 0);
        assert!(s.mean.is_nan() && s.sd.is_nan() && s.ci95_low.is_nan() && s.ci95_high.is_nan());
    }

    #[test]
    fn single_value_is_a_point_interval() {
        let s = describe(&[78.5]);
        assert_eq!(
            s,
            Stats {
                n: 1,
                mean: 78.5,
                sd: 0.0,
                ci95_low: 78.5,
                ci95_high: 78.5
            }
        );
    }

    #[test]
    fn nan_in_gives_nan_out() {
        let s = describe(&[1.0, f64::NAN, 3.0]);
        assert_eq!(s.n, 3);
        assert!(s.mean.is_nan() && s.sd.is_nan() && s.ci95_low.is_nan());
    }

    #[test]
    fn constant_runs_have_zero_width() {
        let s = describe(&[5.0; 6]);
        assert_eq!(
            (s.mean, s.sd, s.ci95_low, s.ci95_high),
            (5.0, 0.0, 5.0, 5.0)
        );
    }

    #[test]
    fn spread_is_the_median_and_the_range() {
        let s = spread(&[300.0, 100.0, 200.0]).unwrap();
        assert_eq!((s.median, s.min, s.max), (200.0, 100.0, 300.0));
        assert_eq!(spread(&[300.0, 100.0]).unwrap().median, 200.0);
        assert!(spread(&[]).is_none());
    }

    #[test]
    fn json_round_trip_keeps_nan_as_null() {
        let empty = describe(&[]);
        let text = serde_json::to_string(&empty).unwrap();
        assert_eq!(
            text,
            r#"{"n":0,"mean":null,"sd":null,"ci95_low":null,"ci95_high":null}"#
        );
        let back: Stats = serde_json::from_str(&text).unwrap();
        assert_eq!(back.n, 0);
        assert!(back.mean.is_nan());
        let full = describe(&[1.0, 2.0, 3.0, 4.0]);
        let back: Stats = serde_json::from_str(&serde_json::to_string(&full).unwrap()).unwrap();
        assert_eq!(back, full);
    }
}
