//! Records the commit the binary is built from, for `--version`.
//!
//! `IMMUTA_GITOPS_COMMIT` in the build environment wins (a container build from a tarball
//! can pass it); else `git rev-parse` in the source tree; else `unknown` (a tarball
//! without `.git`, or no `git` on the build machine). The build never fails for it.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=IMMUTA_GITOPS_COMMIT");
    let commit = std::env::var("IMMUTA_GITOPS_COMMIT")
        .ok()
        .filter(|c| is_commit(c))
        .or_else(git_head)
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=IMMUTA_GITOPS_COMMIT={commit}");
}

/// The short HEAD commit, and the files whose change means HEAD may have moved.
fn git_head() -> Option<String> {
    let head = git(&["rev-parse", "--short=12", "HEAD"]).filter(|c| is_commit(c))?;
    for name in ["HEAD", "packed-refs"] {
        if let Some(path) = git(&["rev-parse", "--git-path", name]) {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        if let Some(path) = git(&["rev-parse", "--git-path", &branch]) {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    Some(head)
}

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    Some(text.trim().to_string()).filter(|t| !t.is_empty())
}

/// A hex commit id (short or full): nothing else reaches `--version`.
fn is_commit(c: &str) -> bool {
    (4..=40).contains(&c.len()) && c.chars().all(|ch| ch.is_ascii_hexdigit())
}
