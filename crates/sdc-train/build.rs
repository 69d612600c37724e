//! Stamps the git commit the crate is built from into `SDC_GIT_COMMIT` (empty outside a git
//! checkout), for the provenance of every run. Reads `.git` directly: no `git` process, so a
//! build from a source archive or without git installed works the same.

use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let commit = manifest
        .ancestors()
        .find_map(git_dir)
        .and_then(|git| head_commit(&git))
        .unwrap_or_default();
    println!("cargo:rustc-env=SDC_GIT_COMMIT={commit}");
}

/// The git directory of a checkout rooted at `dir`: `.git` itself, or where a worktree's `.git`
/// file points.
fn git_dir(dir: &Path) -> Option<PathBuf> {
    let dot_git = dir.join(".git");
    if dot_git.is_dir() {
        return Some(dot_git);
    }
    let text = std::fs::read_to_string(&dot_git).ok()?;
    let target = text.strip_prefix("gitdir:")?.trim();
    Some(dir.join(target))
}

/// The commit HEAD names, following one symbolic ref through loose and packed refs; every file
/// read is watched so a new commit rebuilds the stamp.
fn head_commit(git: &Path) -> Option<String> {
    let watch = |p: &Path| println!("cargo:rerun-if-changed={}", p.display());
    let head_path = git.join("HEAD");
    watch(&head_path);
    let head = std::fs::read_to_string(&head_path).ok()?;
    let head = head.trim();
    let Some(name) = head.strip_prefix("ref:").map(str::trim) else {
        return is_commit(head).then(|| head.to_string());
    };
    // A worktree keeps its HEAD but shares the refs of the main repository.
    let common = std::fs::read_to_string(git.join("commondir"))
        .map(|c| git.join(c.trim()))
        .unwrap_or_else(|_| git.to_path_buf());
    for base in [git, common.as_path()] {
        let loose = base.join(name);
        watch(&loose);
        if let Ok(text) = std::fs::read_to_string(&loose) {
            let text = text.trim();
            if is_commit(text) {
                return Some(text.to_string());
            }
        }
    }
    let packed = common.join("packed-refs");
    watch(&packed);
    std::fs::read_to_string(&packed)
        .ok()?
        .lines()
        .find_map(|line| {
            let (hash, reference) = line.split_once(' ')?;
            (reference == name && is_commit(hash)).then(|| hash.to_string())
        })
}

fn is_commit(text: &str) -> bool {
    text.len() == 40 && text.bytes().all(|b| b.is_ascii_hexdigit())
}
