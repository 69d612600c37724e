//! The one error type of the crate.

/// Why an interpretability metric could not be computed from the given arrays.
///
/// Every variant carries the offending values so that a caller's message points at the bad
/// input without a debugger.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum InterpError {
    /// Attention rows must have at least one segment.
    #[error("attention rows must have at least one segment (n_segments = 0)")]
    ZeroSegments,
    /// The flat attention buffer does not split into whole rows.
    #[error("attention buffer of length {len} is not a multiple of n_segments = {n_segments}")]
    RaggedAlpha {
        /// Length of the flat buffer.
        len: usize,
        /// Requested row length.
        n_segments: usize,
    },
    /// A per-sample slice does not have one entry per sample.
    #[error("{what} has length {got}, expected {expected} (one per sample)")]
    LengthMismatch {
        /// Which slice was wrong (e.g. "labels").
        what: &'static str,
        /// Number of samples in the attention rows.
        expected: usize,
        /// Length actually given.
        got: usize,
    },
    /// A foreground index points past the end of its attention row.
    #[error("sample {sample}: foreground index {index} out of range for {n_segments} segments")]
    IndexOutOfRange {
        /// Sample whose index is bad.
        sample: usize,
        /// The bad foreground index.
        index: u32,
        /// Number of segments per row.
        n_segments: usize,
    },
    /// A summary of zero samples was requested.
    #[error("cannot summarise an empty evaluation set")]
    Empty,
    /// An attention weight is NaN or infinite.
    #[error("alpha[{sample}, {segment}] is {value}: attention weights must be finite")]
    NonFiniteAlpha {
        /// Row of the weight.
        sample: usize,
        /// Column (segment) of the weight.
        segment: usize,
        /// The weight.
        value: f32,
    },
    /// An attention weight is negative.
    #[error("alpha[{sample}, {segment}] is {value}: attention weights must be >= 0")]
    NegativeAlpha {
        /// Row of the weight.
        sample: usize,
        /// Column (segment) of the weight.
        segment: usize,
        /// The weight.
        value: f32,
    },
    /// An attention row does not sum to 1.
    #[error(
        "alpha row {sample} sums to {sum}, not 1 (within {tol}): rows must lie on the simplex (normalise them, e.g. with a softmax)"
    )]
    OffSimplex {
        /// The row.
        sample: usize,
        /// Its sum.
        sum: f64,
        /// The accepted distance from 1.
        tol: f32,
    },
    /// A histogram needs at least one bin.
    #[error("histogram needs at least one bin (n_bins = 0)")]
    BadBins,
    /// A focus threshold outside `[0, 1)` would make the criterion constant (or NaN).
    #[error("focus threshold {t} must be finite and in [0, 1)")]
    BadThreshold {
        /// The rejected threshold.
        t: f32,
    },
}
