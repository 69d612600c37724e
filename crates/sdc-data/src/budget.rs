//! Dataset sizes checked against the machine's memory before anything is generated or tiled:
//! `data.n_train = 1e12` is a clear error naming the key and the bytes it would need, not an
//! allocation failure that aborts the process.

use sdc_io::{Budget, TooLarge};

use crate::{MosaicConfig, ResolvedSynthetic};

/// Bytes of one stored segment value (f32).
const VALUE_BYTES: u64 = 4;

/// Checks that `n_train` training and `n_test` test mosaics of `m` segments of `d` values fit,
/// each and together; returns their bytes. `m` is `None` when it overflowed.
fn splits(
    budget: Budget,
    (n_train, n_test): (usize, usize),
    m: Option<usize>,
    d: usize,
) -> Result<u64, TooLarge> {
    let mut total = Some(0u64);
    for (key, n, what) in [
        ("data.n_train", n_train, "the training mosaics"),
        ("data.n_test", n_test, "the test mosaics"),
    ] {
        let values = m.and_then(|m| (n as u64).checked_mul(m as u64)?.checked_mul(d as u64));
        let what = match m {
            Some(m) => format!("{what} ({n} x {m} segments x {d} values, 4 bytes each)"),
            None => what.to_string(),
        };
        let bytes = budget.check(key, n, &what, values, VALUE_BYTES)?;
        total = total.and_then(|t| t.checked_add(bytes));
    }
    budget.check("data.n_train", n_train, "both splits together", total, 1)
}

impl ResolvedSynthetic {
    /// Checks that the base set and both splits fit in `budget` together.
    pub fn check_memory(&self, budget: Budget) -> Result<(), TooLarge> {
        let m = Some(self.n_segments);
        let base = budget.check(
            "data.n_base",
            self.n_base,
            &format!(
                "the base set ({} points x {} values)",
                self.n_base, self.dim
            ),
            (self.n_base as u64).checked_mul(self.dim as u64),
            VALUE_BYTES,
        )?;
        let mosaics = splits(budget, (self.n_train, self.n_test), m, self.dim)?;
        budget.check(
            "data.n_segments",
            self.n_segments,
            "the base set and both splits together",
            base.checked_add(mosaics),
            1,
        )?;
        Ok(())
    }
}

impl MosaicConfig {
    /// Checks that both splits of tiles of `values_per_tile` values fit in `budget`.
    pub fn check_memory(&self, values_per_tile: usize, budget: Budget) -> Result<(), TooLarge> {
        let m = self.n_segments();
        if m.is_none() {
            budget.check("data.grid", self.grid, "grid x grid segments", None, 1)?;
        }
        splits(budget, (self.n_train, self.n_test), m, values_per_tile)?;
        Ok(())
    }
}

impl crate::DataConfig {
    /// Checks that the datasets this config builds fit in `budget` (before anything is built).
    pub fn check_memory(&self, budget: Budget) -> Result<(), crate::DataError> {
        match self {
            crate::DataConfig::Synthetic(config) => config.validate()?.check_memory(budget)?,
            crate::DataConfig::Images(data) => {
                let (c, h, w) = data.source.shape();
                data.mosaic.check_memory(c * h * w, budget)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Distribution, SyntheticConfig};

    #[test]
    fn a_trillion_mosaics_is_named_before_any_allocation() {
        let mut config = SyntheticConfig::new(Distribution::Type4);
        let resolved = config.validate().expect("defaults are valid");
        resolved
            .check_memory(Budget::of(1 << 30))
            .expect("the default dataset is small");
        config.n_train = 1_000_000_000_000;
        let err = config
            .validate()
            .expect("only sizes are wrong")
            .check_memory(Budget::of(1 << 34))
            .expect_err("terabytes");
        let text = err.to_string();
        assert!(
            text.starts_with("data.n_train = 1000000000000 needs"),
            "{text}"
        );
        assert!(text.contains("TiB"), "{text}");
    }

    #[test]
    fn a_huge_grid_is_named() {
        let config = MosaicConfig {
            grid: 65_535,
            ..MosaicConfig::default()
        };
        let err = config
            .check_memory(784, Budget::of(1 << 34))
            .expect_err("grid 65535");
        assert!(err.to_string().starts_with("data.n_train = "), "{err}");
    }
}
