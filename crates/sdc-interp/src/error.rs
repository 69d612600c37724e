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
