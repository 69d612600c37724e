//! Mean, spread and a bootstrap 95% interval of a metric over repeated runs; median and range
//! of a measurement over repeats; the bootstrap distribution of a difference of two means.
//!
//! The paper reports plain means over runs (Pandey et al. 2022, Sec. 8 tables); we add the
//! sample standard deviation and a percentile bootstrap interval of the mean, so a reader can see
//! whether a gap to the paper's number is larger than run-to-run noise. Run outcomes here are
//! bounded (rates in [0, 100]) and often bimodal (most seeds interpretable, a few not, an
//! occasional dead start), so a Student-t interval, which assumes a normal mean and can reach
//! past 100, is the wrong tool; a percentile bootstrap interval of the mean lies between the
//! smallest and the largest run by construction (the approach of Agarwal et al., NeurIPS 2021,
//! "Deep RL at the Edge of the Statistical Precipice").
//!
//! Resampling is deterministic: a fixed generator ([`BOOTSTRAP_SEED`]) seeded afresh for every
//! interval, so the same runs always give the same interval and reports are byte-stable.

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};
use statrs::statistics::{Data, OrderStatistics};

/// Bootstrap resamples per interval.
pub const BOOTSTRAP_RESAMPLES: usize = 4000;
/// Seed of the resampling generator (fixed: intervals are a function of the data only).
pub const BOOTSTRAP_SEED: u64 = 2022;

/// Mean, sample standard deviation and a 95% percentile bootstrap interval of the mean of a set
/// of runs.
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
    /// Lower end of the 95% bootstrap interval of the mean (2.5% quantile of resampled means).
    #[serde(with = "nan_as_null")]
    pub ci95_low: f64,
    /// Upper end of the 95% bootstrap interval of the mean (97.5% quantile of resampled means).
    #[serde(with = "nan_as_null")]
    pub ci95_high: f64,
}

impl Stats {
    /// Half-width of the 95% interval (the interval need not be symmetric about the mean).
    pub fn ci95_half_width(&self) -> f64 {
        (self.ci95_high - self.ci95_low) / 2.0
    }

    /// Whether `x` lies in the closed 95% interval.
    pub fn ci95_contains(&self, x: f64) -> bool {
        self.ci95_low <= x && x <= self.ci95_high
    }
}

fn mean_of(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// Describes a set of runs: n = 0 gives NaN everywhere but `n`; n = 1 gives sd 0 and a point
/// interval; otherwise the interval is the 2.5% and 97.5% quantiles of [`BOOTSTRAP_RESAMPLES`]
/// resampled means, which never leave `[min, max]` of the values.
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
    let mean = mean_of(values);
    if n == 1 || !mean.is_finite() {
        let sd = if n == 1 { 0.0 } else { f64::NAN };
        return Stats {
            n,
            mean,
            sd,
            ci95_low: mean,
            ci95_high: mean,
        };
    }
    let ss = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>();
    let sd = (ss / (n - 1) as f64).sqrt();
    let mut means = Data::new(bootstrap_means(values));
    Stats {
        n,
        mean,
        sd,
        ci95_low: means.quantile(0.025),
        ci95_high: means.quantile(0.975),
    }
}

/// A fresh resampling generator: every interval starts from the same state.
fn resampler() -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(BOOTSTRAP_SEED)
}

/// The mean of one resample (with replacement) of `values`.
fn resampled_mean(values: &[f64], rng: &mut ChaCha8Rng) -> f64 {
    let n = values.len();
    (0..n).map(|_| values[rng.random_range(0..n)]).sum::<f64>() / n as f64
}

/// [`BOOTSTRAP_RESAMPLES`] means of resamples of `values` (non-empty), in drawing order.
pub fn bootstrap_means(values: &[f64]) -> Vec<f64> {
    let mut rng = resampler();
    (0..BOOTSTRAP_RESAMPLES)
        .map(|_| resampled_mean(values, &mut rng))
        .collect()
}

/// The bootstrap distribution of `mean(second) - mean(first)`, each group resampled on its own
/// ([`BOOTSTRAP_RESAMPLES`] draws); both groups must be non-empty.
pub fn bootstrap_differences(first: &[f64], second: &[f64]) -> Vec<f64> {
    let mut rng = resampler();
    (0..BOOTSTRAP_RESAMPLES)
        .map(|_| {
            let a = resampled_mean(first, &mut rng);
            resampled_mean(second, &mut rng) - a
        })
        .collect()
}

/// The `tau` quantile of `values` (statrs' estimator, R type 8); NaN for no values.
pub fn quantile(values: &[f64], tau: f64) -> f64 {
    Data::new(values.to_vec()).quantile(tau)
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
        // mean 2.5; squares 2.25+0.25+0.25+2.25 = 5, /3 -> sd 1.29099.
        let s = describe(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(s.n, 4);
        assert!(close(s.mean, 2.5, 1e-12));
        assert!(close(s.sd, 1.290_994, 1e-6));
        // The resampled mean has sd 1.118/sqrt(4) = 0.559: the interval is about 2.5 ± 1.1,
        // inside the data's range.
        assert!((1.0..=1.75).contains(&s.ci95_low), "{s:?}");
        assert!((3.25..=4.0).contains(&s.ci95_high), "{s:?}");
        assert!(s.ci95_contains(2.5));
    }

    #[test]
    fn a_rate_interval_never_leaves_the_range() {
        // Three seeds of a bimodal rate: Student t gives about [-47, 162] here.
        let s = describe(&[100.0, 100.0, 8.6]);
        assert!(s.ci95_low >= 8.6 && s.ci95_high <= 100.0, "{s:?}");
        assert_eq!(s.ci95_high, 100.0);
        // All resampled means lie between the smallest and the largest run.
        let values = [0.0, 0.0, 100.0, 100.0, 100.0, 37.5];
        let means = bootstrap_means(&values);
        assert_eq!(means.len(), BOOTSTRAP_RESAMPLES);
        assert!(means.iter().all(|m| (0.0..=100.0).contains(m)));
        let s = describe(&values);
        assert!(s.ci95_low > 0.0 && s.ci95_high < 100.0, "{s:?}");
    }

    #[test]
    fn intervals_are_deterministic() {
        let v = [91.0, 100.0, 100.0, 66.0, 100.0, 34.0, 97.5];
        assert_eq!(describe(&v), describe(&v));
        assert_eq!(
            bootstrap_differences(&v, &v[..4]),
            bootstrap_differences(&v, &v[..4])
        );
    }

    #[test]
    fn differences_centre_on_the_difference_of_means() {
        let first = [10.0, 12.0, 14.0, 16.0];
        let second = [20.0, 22.0, 24.0, 26.0];
        let d = bootstrap_differences(&first, &second);
        let mid = quantile(&d, 0.5);
        assert!(close(mid, 10.0, 0.6), "{mid}");
        assert!(quantile(&d, 0.05) > 5.0 && quantile(&d, 0.95) < 15.0);
        assert!(quantile(&[], 0.5).is_nan());
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
