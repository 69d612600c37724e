//! Stamps the commit that xtask is built from into `XTASK_GIT_COMMIT` (the bench report names
//! it), reading `.git` directly instead of spawning `git`: `HEAD`, then the branch's ref file or
//! `packed-refs`, following a worktree's `.git` file and `commondir`. Outside a checkout (or with
//! a layout this does not know) the value is `unknown`. Cargo reruns this script when `HEAD` or
//! the branch moves.

use std::fs;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let commit = manifest
        .parent()
        .and_then(head_commit)
        .map(|c| c.chars().take(12).collect::<String>())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=XTASK_GIT_COMMIT={commit}");
}

/// The commit `HEAD` of the checkout at `root` points at; registers the files it read.
fn head_commit(root: &Path) -> Option<String> {
    let dot_git = root.join(".git");
    // A worktree or submodule has a `.git` file naming its git directory.
    let git_dir = if dot_git.is_file() {
        watch(&dot_git);
        let text = fs::read_to_string(&dot_git).ok()?;
        let dir = PathBuf::from(text.strip_prefix("gitdir:")?.trim());
        if dir.is_absolute() {
            dir
        } else {
            root.join(dir)
        }
    } else {
        dot_git
    };
    // Refs live in the common directory, which a worktree names in `commondir`.
    let common = match fs::read_to_string(git_dir.join("commondir")) {
        Ok(rel) => git_dir.join(rel.trim()),
        Err(_) => git_dir.clone(),
    };
    let head = git_dir.join("HEAD");
    watch(&head);
    let head = fs::read_to_string(head).ok()?;
    let Some(reference) = head.trim().strip_prefix("ref:").map(str::trim) else {
        // A detached HEAD holds the commit itself.
        return is_commit(head.trim()).then(|| head.trim().to_string());
    };
    let loose = common.join(reference);
    let packed = common.join("packed-refs");
    // The loose ref when there is one; else its folder, where a commit on a packed branch
    // creates it.
    match loose.parent() {
        Some(folder) if !loose.exists() => watch(folder),
        _ => watch(&loose),
    }
    watch(&packed);
    if let Ok(text) = fs::read_to_string(&loose) {
        return Some(text.trim().to_string()).filter(|c| is_commit(c));
    }
    // `<hash> <ref>` lines; `#` and `^` lines are comments and peeled tags.
    fs::read_to_string(packed).ok()?.lines().find_map(|line| {
        let (hash, name) = line.split_once(' ')?;
        (name == reference && is_commit(hash)).then(|| hash.to_string())
    })
}

/// Reruns this script when `path` changes; a path that does not exist is not registered (cargo
/// would then rerun the script on every build).
fn watch(path: &Path) {
    if path.exists() {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}

/// A SHA-1 or SHA-256 object name.
fn is_commit(s: &str) -> bool {
    matches!(s.len(), 40 | 64) && s.bytes().all(|b| b.is_ascii_hexdigit())
}
