//! `exp` of `f32` values, vectorised, with the bits of the C library's `expf`.
//!
//! The tanh kernel spends most of its time in `expf`, one library call per element. glibc's
//! `expf` (from Arm's optimized-routines, in the build x86-64 machines with FMA run,
//! `__expf_fma`) is a short, branch-free computation in `f64` for every finite `|x| < 88`:
//! `x N / ln 2 = k + r` with `N = 32`, `2^(k/N)` from a 32-entry table, `2^(r/N)` from a cubic,
//! one rounding to `f32` at the end. [`exp_in_place`] runs the same operations, the same fused
//! multiply-adds (the ones that build contracts, read from its machine code), in the same order
//! with the same constants, so each result is the same bits; and it runs them over a whole
//! slice at once, in the widest SIMD the CPU offers (`pulp`'s run-time dispatch, which compiles
//! the loop for AVX2 with FMA on x86-64). Inputs outside that range (`|x| >= 88`, infinities,
//! NaN) go to the library's `expf` itself.
//!
//! A fused multiply-add is exactly specified, so the results do not depend on the CPU: where
//! there is no FMA unit, `f64::mul_add` computes the same value in software (slower). The test
//! below compares against the library on a spread of inputs; an ignored one compares every
//! `f32` in `(-88, 88)` (`cargo test --release -p sdc-model exp_equals_the_library_everywhere
//! -- --ignored`).

/// `2^(i/N)` for `i` in `0..N`, as glibc's `__exp2f_data.tab` keeps it: the bits of the
/// double, minus `i << (52 - 5)`, so that adding `k << 47` back scales by `2^(k/N)`.
const TABLE: [u64; 32] = [
    0x3ff0000000000000,
    0x3fefd9b0d3158574,
    0x3fefb5586cf9890f,
    0x3fef9301d0125b51,
    0x3fef72b83c7d517b,
    0x3fef54873168b9aa,
    0x3fef387a6e756238,
    0x3fef1e9df51fdee1,
    0x3fef06fe0a31b715,
    0x3feef1a7373aa9cb,
    0x3feedea64c123422,
    0x3feece086061892d,
    0x3feebfdad5362a27,
    0x3feeb42b569d4f82,
    0x3feeab07dd485429,
    0x3feea47eb03a5585,
    0x3feea09e667f3bcd,
    0x3fee9f75e8ec5f74,
    0x3feea11473eb0187,
    0x3feea589994cce13,
    0x3feeace5422aa0db,
    0x3feeb737b0cdc5e5,
    0x3feec49182a3f090,
    0x3feed503b23e255d,
    0x3feee89f995ad3ad,
    0x3feeff76f2fb5e47,
    0x3fef199bdd85529c,
    0x3fef3720dcef9069,
    0x3fef5818dcfba487,
    0x3fef7c97337b9b5f,
    0x3fefa4afa2a490da,
    0x3fefd0765b6e4540,
];
/// `N / ln 2`.
const INV_LN2_N: f64 = f64::from_bits(0x40471547652b82fe);
/// `1.5 * 2^52`: adding it rounds to an integer, kept in the low bits.
const SHIFT: f64 = f64::from_bits(0x4338000000000000);
/// The cubic for `2^(r/N)`, scaled: `C0 r^3 + C1 r^2 + C2 r + 1`.
const C0: f64 = f64::from_bits(0x3ebc6af84b912394);
const C1: f64 = f64::from_bits(0x3f2ebfce50fac4f3);
const C2: f64 = f64::from_bits(0x3f962e42ff0c52d6);

/// Whether the library's `expf` takes its special path for `x`: `|x| >= 88`, an infinity or NaN
/// (the top 12 bits of `|x|` at least those of 88).
#[inline(always)]
fn special(x: f32) -> bool {
    (x.to_bits() >> 20) & 0x7ff > 0x42a
}

/// `expf(x)` for `|x| < 88`, finite: the library's operations in its order.
#[inline(always)]
fn expf_core(x: f32) -> f32 {
    let xd = f64::from(x);
    // k + SHIFT in one fused operation; k is in the low bits.
    let shifted = INV_LN2_N.mul_add(xd, SHIFT);
    let ki = shifted.to_bits();
    let kd = shifted - SHIFT;
    let r = INV_LN2_N.mul_add(xd, -kd);
    let s = f64::from_bits(TABLE[(ki & 31) as usize].wrapping_add(ki << 47));
    let z = C0.mul_add(r, C1);
    let r2 = r * r;
    let y = C2.mul_add(r, 1.0);
    let y = z.mul_add(r2, y);
    (y * s) as f32
}

/// `values[i] = expf(values[i])`, with the C library's `expf` bits (module docs).
pub(crate) fn exp_in_place(values: &mut [f32]) {
    if values.iter().any(|&x| special(x)) {
        for v in values.iter_mut() {
            *v = if special(*v) { v.exp() } else { expf_core(*v) };
        }
        return;
    }
    pulp::Arch::new().dispatch(|| {
        for v in values.iter_mut() {
            *v = expf_core(*v);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether the library's `expf` is the FMA build this module reproduces: on an x86-64
    /// machine without FMA, glibc runs a build that rounds the products separately, whose last
    /// bit can differ.
    fn library_is_the_fma_build() -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            std::arch::is_x86_feature_detected!("fma")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    }

    /// Panics at the first input whose result is not the library's, bit for bit (any NaN
    /// matches a NaN).
    fn check(xs: &[f32]) {
        let mut ours = xs.to_vec();
        exp_in_place(&mut ours);
        for (&x, &y) in xs.iter().zip(&ours) {
            let library = x.exp();
            assert!(
                y.to_bits() == library.to_bits() || (y.is_nan() && library.is_nan()),
                "exp({x:e}) = {y:e} ({:#x}), the library's {library:e} ({:#x})",
                y.to_bits(),
                library.to_bits()
            );
        }
    }

    #[test]
    fn exp_equals_the_library_on_a_spread_of_inputs() {
        // Every 4,093rd f32 bit pattern (positive and negative, specials included), every f32
        // in [-1e-3, 1e-3]'s neighbourhood of 0 and the tanh kernel's range ends.
        let mut xs: Vec<f32> = (0..=u32::MAX).step_by(4093).map(f32::from_bits).collect();
        xs.extend((-20_000..20_000).map(|i| i as f32 * 1e-7));
        xs.extend([
            -40.0,
            40.0,
            -0.0,
            0.0,
            88.0,
            -88.0,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            f32::MIN_POSITIVE,
        ]);
        if library_is_the_fma_build() {
            check(&xs);
        } else {
            eprintln!("skipped: this machine's expf is not the FMA build");
        }
        // Specials give the library's answers wherever they are in a slice.
        let mut mixed = [1.0, f32::NAN, 100.0, -200.0, f32::INFINITY, 2.0];
        exp_in_place(&mut mixed);
        assert_eq!(mixed[2], f32::INFINITY);
        assert_eq!(mixed[3], 0.0);
        assert!(mixed[1].is_nan());
        assert_eq!(mixed[4], f32::INFINITY);
        assert_eq!(mixed[5].to_bits(), expf_core(2.0).to_bits());
    }

    /// Every f32 in (-88, 88): about 2.2e9 values, ~20 s in release.
    #[test]
    #[ignore = "exhaustive: run in release with --ignored"]
    fn exp_equals_the_library_everywhere() {
        assert!(library_is_the_fma_build(), "needs the FMA build of expf");
        let top = 88.0f32.to_bits();
        let mut chunk = Vec::with_capacity(1 << 20);
        for sign in [0u32, 0x8000_0000] {
            for bits in 0..top {
                chunk.push(f32::from_bits(sign | bits));
                if chunk.len() == chunk.capacity() {
                    check(&chunk);
                    chunk.clear();
                }
            }
        }
        check(&chunk);
    }
}
