//! Build script: records the commit and the target triple for `cruddur-db --version`, so that
//! a binary from a wheel, a tarball or `cargo install` says exactly what it is.

use std::path::Path;
use std::process::Command;

fn main() {
    // NOTE: CRUDDUR_DB_COMMIT wins over git: a build from a source archive (no .git) or a
    // release job that has the commit at hand sets it; otherwise the checkout's HEAD.
    println!("cargo:rerun-if-env-changed=CRUDDUR_DB_COMMIT");
    let commit = std::env::var("CRUDDUR_DB_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(git_commit)
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=CRUDDUR_DB_COMMIT={}", commit.trim());
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".to_string());
    println!("cargo:rustc-env=CRUDDUR_DB_TARGET={target}");
}

/// The short hash of HEAD, when this is a git checkout with git on PATH; and the files whose
/// change means a new commit, so that the next build asks again.
fn git_commit() -> Option<String> {
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git").args(args).output().ok()?;
        if !out.status.success() {
            return None;
        }
        Some(String::from_utf8(out.stdout).ok()?.trim().to_string())
    };
    let head = git(&["rev-parse", "--git-path", "HEAD"])?;
    if Path::new(&head).exists() {
        println!("cargo:rerun-if-changed={head}");
    }
    if let Some(reference) = git(&["symbolic-ref", "-q", "HEAD"]) {
        if let Some(path) = git(&["rev-parse", "--git-path", &reference]) {
            if Path::new(&path).exists() {
                println!("cargo:rerun-if-changed={path}");
            }
        }
        if let Some(packed) = git(&["rev-parse", "--git-path", "packed-refs"]) {
            if Path::new(&packed).exists() {
                println!("cargo:rerun-if-changed={packed}");
            }
        }
    }
    git(&["rev-parse", "--short=12", "HEAD"]).filter(|c| !c.is_empty())
}
