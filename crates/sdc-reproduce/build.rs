//! Builds the repository's experiment specs (`experiments/*.toml`) and the configs they name
//! (`configs/*.toml`) into the library, so that an installed `sdc reproduce` needs no checkout.
//! Writes `$OUT_DIR/builtin.rs`: two sorted lists of (path relative to the repository root,
//! `include_str!` of the file).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest.join("../..");
    let mut code = String::new();
    for (name, dir) in [
        ("BUILTIN_EXPERIMENTS", "experiments"),
        ("BUILTIN_CONFIGS", "configs"),
    ] {
        let folder = root.join(dir);
        // A directory: cargo reruns this script when any file in it changes.
        println!("cargo:rerun-if-changed={}", folder.display());
        let files = toml_files(&folder);
        writeln!(
            code,
            "/// `{dir}/*.toml` as built in: (path, contents), sorted by path."
        )
        .expect("write to a String");
        writeln!(code, "pub(crate) static {name}: &[(&str, &str)] = &[").expect("write");
        for file in files {
            let name = file
                .file_name()
                .and_then(|n| n.to_str())
                .expect("spec and config file names are UTF-8");
            let absolute = file.canonicalize().expect("a listed file exists");
            writeln!(
                code,
                "    ({:?}, include_str!({:?})),",
                format!("{dir}/{name}"),
                absolute
            )
            .expect("write");
        }
        writeln!(code, "];").expect("write");
    }
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo")).join("builtin.rs");
    std::fs::write(&out, code).expect("writing builtin.rs");
}

/// The `*.toml` files of `dir`, sorted.
fn toml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e} (the repository's spec folders)", dir.display()))
        .map(|entry| entry.expect("a readable directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}
