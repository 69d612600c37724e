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

    // ----- image files (MNIST / Fashion-MNIST IDX, CIFAR-10 batches) --------------------------
    /// A gzipped file's stream is corrupt or cut short.
    #[error("{}: corrupt gzip stream ({source}); delete the file and fetch it again", path.display())]
    Gzip {
        /// The `.gz` file.
        path: PathBuf,
        /// The decoder's error.
        source: std::io::Error,
    },
    /// An IDX file does not start with the expected magic number.
    #[error("{}: not an IDX {kind} file: magic {found:#010x}, expected {expected:#010x}{hint}", path.display())]
    IdxMagic {
        /// The file.
        path: PathBuf,
        /// `images` or `labels`.
        kind: &'static str,
        /// The magic number in the file.
        found: u32,
        /// The magic number of that kind of IDX file.
        expected: u32,
        /// A hint when the file is recognisably something else (e.g. the other kind of IDX file).
        hint: &'static str,
    },
    /// An image file's header is malformed (too short, a zero or oversized dimension).
    #[error("{}: bad header: {message}", path.display())]
    ImageHeader {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// An IDX file's length does not match what its header announces.
    #[error("{}: {what}: header says {contents} = {payload} bytes after the {header_len}-byte header, file has {actual}{after_gunzip}", path.display(), after_gunzip = if *gzipped { " after gunzip" } else { "" })]
    IdxLength {
        /// The file.
        path: PathBuf,
        /// `truncated` or `trailing bytes`.
        what: &'static str,
        /// The contents in words, e.g. `60000 images of 28x28`.
        contents: String,
        /// Bytes of pixels or labels the header announces.
        payload: u64,
        /// Bytes of header (magic and dimensions).
        header_len: usize,
        /// Bytes in the file (after gunzip for a `.gz` file), header included.
        actual: u64,
        /// Whether the file was gzipped.
        gzipped: bool,
    },
    /// A CIFAR-10 batch is empty or does not hold a whole number of records.
    #[error("{}: {message} (a CIFAR-10 batch is records of 3073 bytes: 1 label byte + 3072 pixel bytes)", path.display())]
    CifarLength {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the sizes.
        message: String,
    },
    /// A CIFAR-10 record's label is not a CIFAR-10 class.
    #[error("{}: record {record}: label {label} out of range (CIFAR-10 labels are 0..=9)", path.display())]
    CifarLabel {
        /// The file.
        path: PathBuf,
        /// Index of the record in the file.
        record: usize,
        /// The offending label byte.
        label: u8,
    },
    /// An IDX image file and its label file hold different numbers of items.
    #[error("{} holds {n_images} images but {} holds {n_labels} labels (a pair must hold the same number)", images.display(), labels.display())]
    ImageCountMismatch {
        /// The image file.
        images: PathBuf,
        /// The label file.
        labels: PathBuf,
        /// Images in the image file.
        n_images: usize,
        /// Labels in the label file.
        n_labels: usize,
    },
    /// Image files that a dataset needs are not in the data directory.
    #[error("{}: missing {missing}; {hint}", dir.display(), missing = missing.join(", "))]
    MissingImageFiles {
        /// The directory the files belong in.
        dir: PathBuf,
        /// The names of the missing files.
        missing: Vec<String>,
        /// How to get them.
        hint: String,
    },
    /// A file's SHA-256 differs from the pinned value.
    #[error("{}: SHA-256 {actual}, expected {expected} ({hint})", path.display())]
    HashMismatch {
        /// The file.
        path: PathBuf,
        /// The pinned hash (lower-case hex).
        expected: &'static str,
        /// The file's hash (lower-case hex).
        actual: String,
        /// What was hashed and what to do.
        hint: &'static str,
    },
    /// A file that `fetch` checks is not what it should be (wrong size, wrong class counts).
    #[error("{}: {message}", path.display())]
    BadDataFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// No source of a dataset yielded its files (each attempt says which source and why).
    #[error("could not fetch {what} from any source:\n  - {}", attempts.join("\n  - "))]
    Fetch {
        /// The dataset.
        what: String,
        /// One line per source tried: the source, then why it failed.
        attempts: Vec<String>,
    },
    /// A mosaic class is absent from the images a split draws from.
    #[error(
        "{field}: class {class} has no image in the {split} images ({n_images} images, classes present: {present})"
    )]
    ClassNotInImages {
        /// `fg_classes` or `bg_classes`.
        field: &'static str,
        /// The missing class.
        class: u8,
        /// `train` or `test`.
        split: &'static str,
        /// Number of images of that split.
        n_images: usize,
        /// The classes that do have images, e.g. `0, 1, 2`.
        present: String,
    },
    /// Train and test images (or images and a requested drawing) differ in shape.
    #[error("{what}: shapes differ: {left} vs {right} (channels x height x width)")]
    ImageShapeMismatch {
        /// What was compared.
        what: &'static str,
        /// First shape, e.g. `1x28x28`.
        left: String,
        /// Second shape.
        right: String,
    },

    // ----- NumPy interchange (feature `npz`) ---------------------------------------------------
    /// An array of an `.npz`, `.npy` or `.csv` file is missing, has the wrong type or shape, or
    /// holds a value that is not accepted.
    #[error("{}: {field}: {message}", path.display())]
    Array {
        /// The file.
        path: PathBuf,
        /// The array (or CSV column) at fault.
        field: String,
        /// What is wrong and what would be accepted.
        message: String,
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
    /// A size from a config or a file header would need more memory than the machine has.
    #[error(transparent)]
    OverBudget(#[from] sdc_io::TooLarge),
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

impl From<sdc_io::IoError> for DataError {
    fn from(e: sdc_io::IoError) -> Self {
        Self::Io {
            path: e.path,
            source: e.source,
        }
    }
}
