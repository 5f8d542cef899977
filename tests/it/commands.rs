//! The commands around the plan (issue 14): `--version`, `completions`, `man`.

use crate::common::{run, text};

#[tokio::test]
async fn version_names_the_commit_it_was_built_from() {
    let out = run(&["--version"], &[]).await;
    assert!(out.status.success());
    let (stdout, _) = text(&out);
    let line = stdout.trim();
    let expected = format!("immuta-gitops {} (commit ", env!("CARGO_PKG_VERSION"));
    assert!(line.starts_with(&expected), "{line}");
    let commit = line
        .strip_prefix(&expected)
        .and_then(|r| r.strip_suffix(')'))
        .unwrap();
    // The test tree is a Git checkout; a tarball build says `unknown` instead.
    assert!(
        commit == "unknown"
            || (commit.len() == 12 && commit.chars().all(|c| c.is_ascii_hexdigit())),
        "{commit}"
    );
    if let Ok(git) = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
    {
        if git.status.success() && commit != "unknown" {
            // Built from some commit of this checkout (HEAD may have moved since).
            let ok = std::process::Command::new("git")
                .args(["cat-file", "-e", &format!("{commit}^{{commit}}")])
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .status()
                .unwrap();
            assert!(ok.success(), "{commit} is not a commit of this repository");
        }
    }
}

#[tokio::test]
async fn completions_cover_every_subcommand_and_flag() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = run(&["completions", shell], &[]).await;
        assert!(out.status.success(), "{shell}");
        let (stdout, _) = text(&out);
        // fish spells a long flag `-l detailed-exitcode`: look for the name alone.
        for word in [
            "reconcile",
            "validate",
            "apply",
            "detailed-exitcode",
            "state-dir",
        ] {
            assert!(stdout.contains(word), "{shell} completion lacks {word}");
        }
    }
    let bad = run(&["completions", "cmd.exe"], &[]).await;
    assert_eq!(bad.status.code(), Some(2), "clap's usage error");
}

#[tokio::test]
async fn man_page_is_roff_with_the_subcommands() {
    let out = run(&["man"], &[]).await;
    assert!(out.status.success());
    let (stdout, _) = text(&out);
    assert!(
        stdout.starts_with(".ie") || stdout.contains(".TH immuta-gitops"),
        "{}",
        &stdout[..200.min(stdout.len())]
    );
    assert!(stdout.contains(".TH immuta-gitops 1"));
    for word in ["reconcile", "validate", "completions", "SUBCOMMANDS"] {
        assert!(stdout.contains(word), "man page lacks {word}");
    }
}
