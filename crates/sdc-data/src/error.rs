//! The one error type of this crate: every variant names the field or file and the value at fault.

use std::path::PathBuf;

/// Everything that can go wrong while building, generating, saving or loading SDC data.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    // ----- in-memory dataset shape -------------------------------------------------------------
    /// A dimension of a dataset (`n_segments`, `dim` or `n_classes`) is zero.
    #[error("{field}: must be at least 1, got 0")]
    ZeroDimension {
        /// The dimension's name.
        field: &'static str,
    },
    /// A buffer's length does not match the dataset's shape.
    #[error("{field}: expected {expected} values ({shape}), got {actual}")]
    LengthMismatch {
        /// The buffer's name (`segments`, `fg_index`).
        field: &'static str,
        /// The length the shape implies.
        expected: usize,
        /// The buffer's actual length.
        actual: usize,
        /// The shape in words, e.g. `3 samples x 9 segments x 2 dims`.
        shape: String,
    },
    /// `n_samples x n_segments x dim` does not fit in memory addresses.
    #[error(
        "dataset too large: {n_samples} samples x {n_segments} segments x {dim} dims overflows usize"
    )]
    TooLarge {
        /// Number of samples.
        n_samples: usize,
        /// Segments per sample.
        n_segments: usize,
        /// Dimension of a segment.
        dim: usize,
    },
    /// A label is not below `n_classes`.
    #[error("labels[{sample}]: label {label} out of range (n_classes = {n_classes}, so 0..={max})", max = n_classes.saturating_sub(1))]
    LabelOutOfRange {
        /// Index of the sample.
        sample: usize,
        /// The offending label.
        label: u32,
        /// Number of classes of the dataset.
        n_classes: usize,
    },
    /// A foreground index J is not below `n_segments`.
    #[error("fg_index[{sample}]: segment {fg_index} out of range (n_segments = {n_segments}, so 0..={max})", max = n_segments.saturating_sub(1))]
    FgIndexOutOfRange {
        /// Index of the sample.
        sample: usize,
        /// The offending foreground index.
        fg_index: u32,
        /// Segments per sample.
        n_segments: usize,
    },
    /// A segment coordinate is NaN or infinite.
    #[error(
        "segments: sample {sample}, segment {segment}, coordinate {coord} is {value} (only finite values are accepted)"
    )]
    NonFinite {
        /// Index of the sample.
        sample: usize,
        /// Index of the segment within the sample.
        segment: usize,
        /// Coordinate within the segment.
        coord: usize,
        /// The offending value.
        value: f32,
    },

    // ----- synthetic configuration -------------------------------------------------------------
    /// A config field has a value outside what is accepted.
    #[error("{field}: {value} is not accepted ({accepted})")]
    InvalidValue {
        /// The field's name.
        field: &'static str,
        /// The value, formatted.
        value: String,
        /// What would be accepted.
        accepted: String,
    },
    /// A config field is required by the chosen distribution but missing.
    #[error("{field}: required for distribution {distribution} ({hint})")]
    MissingField {
        /// The field's name.
        field: &'static str,
        /// The distribution that needs it.
        distribution: String,
        /// What to write there.
        hint: &'static str,
    },
    /// A config field is set but the chosen distribution does not use it.
    #[error("{field}: not accepted for distribution {distribution} (only for gaussian; remove it)")]
    FieldNotAllowed {
        /// The field's name.
        field: &'static str,
        /// The distribution that refuses it.
        distribution: String,
    },
    /// A class list names a class the distribution does not have.
    #[error("{field}: class {class} does not exist (distribution {distribution} has classes 0..={max})", max = n_classes.saturating_sub(1))]
    UnknownClass {
        /// `fg_classes` or `bg_classes`.
        field: &'static str,
        /// The offending class.
        class: u32,
        /// The distribution's name.
        distribution: String,
        /// Number of base classes of the distribution.
        n_classes: usize,
    },
    /// A class list names the same class twice.
    #[error("{field}: class {class} is listed twice (each class at most once)")]
    DuplicateClass {
        /// `fg_classes` or `bg_classes`.
        field: &'static str,
        /// The repeated class.
        class: u32,
    },
    /// A class list is empty.
    #[error("{field}: is empty (at least one class is needed{hint})")]
    EmptyClasses {
        /// `fg_classes` or `bg_classes`.
        field: &'static str,
        /// Why the list ended up empty, if it was defaulted.
        hint: &'static str,
    },
    /// A class is both foreground and background.
    #[error(
        "fg_classes and bg_classes: both contain class {class} (a class is either foreground or background)"
    )]
    OverlappingClasses {
        /// The shared class.
        class: u32,
    },
    /// The seeded base set holds no point of a class that the mosaics need.
    #[error(
        "n_base: {n_base} base points (seed {seed}) hold no point of class {class}; raise n_base"
    )]
    EmptyBaseClass {
        /// The missing class.
        class: u32,
        /// Size of the base set.
        n_base: usize,
        /// The seed that produced it.
        seed: u64,
    },

    // ----- files ------------------------------------------------------------------------------
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file does not start with the sdc magic bytes.
    #[error("{}: not an sdc dataset (expected the magic bytes \"SDCDATA\\0\" at the start)", path.display())]
    BadMagic {
        /// The file.
        path: PathBuf,
    },
    /// The file's format version is not one this build reads.
    #[error("{}: unsupported format version {version} (this build reads version {supported})", path.display())]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// The version in the file.
        version: u32,
        /// The version this build reads.
        supported: u32,
    },
    /// The header (or the fixed prefix before it) is malformed.
    #[error("{}: bad header: {message}", path.display())]
    BadHeader {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The file length does not match the size that the header announces.
    #[error("{}: {what}: header says {n_samples} samples x {n_segments} segments x {dim} dims = {payload} bytes of payload ({expected} bytes in all), file has {actual}", path.display())]
    FileLength {
        /// The file.
        path: PathBuf,
        /// `truncated` or `trailing bytes`.
        what: &'static str,
        /// Samples per the header.
        n_samples: usize,
        /// Segments per the header.
        n_segments: usize,
        /// Dims per the header.
        dim: usize,
        /// Bytes of segments, labels and fg_index.
        payload: usize,
        /// Expected total file length.
        expected: usize,
        /// Actual file length.
        actual: usize,
    },
    /// The trailing CRC32 does not match the file's bytes.
    #[error("{}: checksum mismatch: stored CRC32 {stored:#010x}, computed {computed:#010x} (the file is corrupt)", path.display())]
    Checksum {
        /// The file.
        path: PathBuf,
        /// CRC stored in the file.
        stored: u32,
        /// CRC of the bytes read.
        computed: u32,
    },
    /// The file is well formed but its content is not a valid dataset.
    #[error("{}: {source}", path.display())]
    Content {
        /// The file.
        path: PathBuf,
        /// What is wrong with the content.
        source: Box<DataError>,
    },
}
