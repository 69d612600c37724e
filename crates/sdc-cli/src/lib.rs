//! What `sdc` and `cargo xtask` share: the allocator setting they start with ([`allocator`]), and
//! the commands `reproduce` (the paper's experiments and their report) and `fetch-data` (the
//! image datasets). Each command is an argument struct and a `run` function over the library
//! crates, so both binaries parse the same options and behave alike; only their defaults differ
//! ([`reproduce::Home`]).

pub mod allocator;
pub mod fetch;
pub mod reproduce;

use std::path::PathBuf;

/// A command-line path made absolute against the working directory, for clap's `value_parser`
/// (`cargo xtask` then works from the repository root).
pub fn absolute_path(arg: &str) -> Result<PathBuf, std::io::Error> {
    std::path::absolute(arg)
}
