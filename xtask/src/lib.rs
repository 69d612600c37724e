//! Project automation behind `cargo xtask`: the tasks' logic, so that it can be tested; the
//! binary (`main.rs`) only parses arguments and calls it.

pub mod bench;
pub mod parity;

use std::path::PathBuf;

/// A command-line path made absolute against the directory xtask was started in (xtask then
/// works from the repository root), for clap's `value_parser`.
pub fn absolute_path(arg: &str) -> Result<PathBuf, std::io::Error> {
    std::path::absolute(arg)
}
