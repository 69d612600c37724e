//! The check that attention weights from outside sdc are weights: finite, non-negative rows
//! summing to 1. sdc's own models produce such rows by construction; any other model's output
//! is checked once before it is scored.

use crate::InterpError;
use crate::alpha::AlphaRows;

/// How far a row sum may be from 1, and a weight below 0, and still count as on the simplex:
/// float32 rounding of a softmax stays far inside it; an unnormalised row does not.
pub const SIMPLEX_TOL: f32 = 1e-3;

/// Fails on the first row of `alpha` that holds a NaN or infinite weight, a weight below
/// `-tol`, or whose sum is more than `tol` away from 1.
pub fn check_simplex(alpha: AlphaRows<'_>, tol: f32) -> Result<(), InterpError> {
    for (sample, row) in alpha.rows().enumerate() {
        if let Some((segment, &value)) = row.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(InterpError::NonFiniteAlpha {
                sample,
                segment,
                value,
            });
        }
        if let Some((segment, &value)) = row.iter().enumerate().find(|&(_, &v)| v < -tol) {
            return Err(InterpError::NegativeAlpha {
                sample,
                segment,
                value,
            });
        }
        let sum: f64 = row.iter().map(|&v| f64::from(v)).sum();
        if (sum - 1.0).abs() > f64::from(tol) {
            return Err(InterpError::OffSimplex { sample, sum, tol });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_rounded_rows_and_names_the_bad_one() {
        let ok = [0.2, 0.3, 0.5, 1.0, 0.0, 0.0, 0.3333, 0.3333, 0.3334];
        assert_eq!(
            check_simplex(AlphaRows::new(&ok, 3).unwrap(), SIMPLEX_TOL),
            Ok(())
        );

        let off = [0.5, 0.5, 0.0, 0.5, 0.6, 0.0];
        let err = check_simplex(AlphaRows::new(&off, 3).unwrap(), SIMPLEX_TOL).unwrap_err();
        assert!(
            matches!(err, InterpError::OffSimplex { sample: 1, .. }),
            "{err}"
        );
        assert!(
            err.to_string().starts_with("alpha row 1 sums to 1.1"),
            "{err}"
        );

        let nan = [0.5, f32::NAN, 0.5];
        let err = check_simplex(AlphaRows::new(&nan, 3).unwrap(), SIMPLEX_TOL).unwrap_err();
        assert_eq!(
            err.to_string(),
            "alpha[0, 1] is NaN: attention weights must be finite"
        );

        let neg = [1.5, -0.5, 0.0];
        let err = check_simplex(AlphaRows::new(&neg, 3).unwrap(), SIMPLEX_TOL).unwrap_err();
        assert_eq!(
            err,
            InterpError::NegativeAlpha {
                sample: 0,
                segment: 1,
                value: -0.5
            }
        );
    }
}
