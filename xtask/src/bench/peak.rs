//! The machine's single-core f32 matrix-product peak: the reference of the report's *limit*
//! column (how close each row's arithmetic rate comes to what one core does at its best).
//!
//! Measured through burn-flex's matrix product (the `gemm` crate: packed, SIMD micro-kernels
//! chosen for this CPU at run time) on square 512 x 512 matrices, large enough to run at the
//! kernel's full rate and small enough to stay in cache; the best of several products, in a
//! child process with one rayon thread, so that nothing else in the process competes.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, ensure};
use burn::tensor::{Distribution, Tensor};
use sdc_train::{BackendKind, Precision};
use serde::{Deserialize, Serialize};

/// Side of the square matrices.
const SIDE: usize = 512;
/// Products timed; the fastest counts.
const PRODUCTS: usize = 20;

/// What the peak child prints as one JSON line.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub(crate) struct Peak {
    /// Best single-core rate, in 10^9 floating-point operations per second.
    pub(crate) gflops: f64,
}

/// The peak child: times `PRODUCTS` products and prints the best rate.
pub(crate) fn child() -> Result<()> {
    let device = sdc_train::device(BackendKind::Flex, Precision::F32)?;
    let a = Tensor::<2>::random([SIDE, SIDE], Distribution::Default, &device);
    let b = Tensor::<2>::random([SIDE, SIDE], Distribution::Default, &device);
    let flops = 2.0 * (SIDE * SIDE * SIDE) as f64;
    let mut best = f64::INFINITY;
    let mut checksum = 0.0f64;
    for _ in 0..PRODUCTS {
        let start = Instant::now();
        let c = a.clone().matmul(b.clone());
        // Reading one value waits for the product (flex runs eagerly, but be explicit).
        let v = c
            .slice([0..1, 0..1])
            .try_into_vec_as::<f32>()
            .map_err(|e| anyhow::anyhow!("reading the product: {e:?}"))?;
        best = best.min(start.elapsed().as_secs_f64());
        checksum += f64::from(v[0]);
    }
    ensure!(checksum.is_finite(), "the products are not finite");
    println!(
        "{}",
        serde_json::to_string(&Peak {
            gflops: flops / best / 1e9
        })?
    );
    Ok(())
}

/// Runs the peak child of `exe` on one thread and reads its result.
pub(crate) fn measure(exe: &Path) -> Result<Peak> {
    let output = Command::new(exe)
        .args(["bench", "peak"])
        .env("RAYON_NUM_THREADS", "1")
        .output()
        .with_context(|| format!("starting {} bench peak", exe.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    ensure!(
        output.status.success(),
        "the peak measurement failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let line = stdout
        .lines()
        .rfind(|l| !l.trim().is_empty())
        .context("the peak measurement printed nothing")?;
    serde_json::from_str(line).with_context(|| format!("not a peak measurement: {line}"))
}
