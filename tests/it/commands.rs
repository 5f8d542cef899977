//! The commands around the plan (issue 14): `--version`, `completions`, `man`.

use std::path::Path;

use crate::common::{emulator, real_writes, run, text, write_tree, KEY};

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

/// Runs the binary in `dir` with the test emulator's key (IMMUTA_* of the caller dropped).
pub async fn run_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_immuta-gitops"));
    cmd.args(args).current_dir(dir);
    for (k, _) in std::env::vars() {
        if k.starts_with("IMMUTA") {
            cmd.env_remove(k);
        }
    }
    cmd.env("IMMUTA_API_KEY", KEY);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.kill_on_drop(true);
    cmd.output().await.expect("binary runs")
}

const PURPOSES: &[(&str, &str)] = &[
    ("purpose/a.yaml", "name: Alpha\ndescription: first\n"),
    ("purpose/b.yaml", "name: Beta\ndescription: second\n"),
];

/// A saved plan made with a relative `--repo` applies from another directory, and
/// `apply --detailed-exitcode` says whether anything was applied.
#[tokio::test(flavor = "multi_thread")]
async fn a_saved_plan_applies_from_any_directory_with_detailed_exitcode() {
    let emu = emulator(None).await;
    let tmp = tempfile::tempdir().unwrap();
    write_tree(tmp.path(), "repo", PURPOSES);
    let elsewhere = tmp.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let url = emu.url();
    let plan = |name: &'static str| {
        let url = url.clone();
        let dir = tmp.path().to_path_buf();
        async move {
            let out = run_in(
                &dir,
                &[
                    "reconcile",
                    "--plan",
                    "--repo",
                    "repo",
                    "--immuta-url",
                    &url,
                    "--out",
                    name,
                ],
                &[],
            )
            .await;
            assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
            dir.join(name)
        }
    };
    let first = plan("first.json").await;
    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(&first).unwrap()).unwrap();
    let repo = saved["source"]["repo"].as_str().unwrap();
    assert!(Path::new(repo).is_absolute(), "{repo}");

    let apply = |file: std::path::PathBuf| {
        let url = url.clone();
        let elsewhere = elsewhere.clone();
        async move {
            run_in(
                &elsewhere,
                &[
                    "apply",
                    &file.to_string_lossy(),
                    "--immuta-url",
                    &url,
                    "--detailed-exitcode",
                ],
                &[],
            )
            .await
        }
    };
    let out = apply(first).await;
    assert_eq!(
        out.status.code(),
        Some(2),
        "changes applied: {:?}",
        text(&out)
    );
    assert!(text(&out).0.contains("Apply complete!"), "{:?}", text(&out));
    assert_eq!(real_writes(&emu), 2);

    let second = plan("second.json").await;
    let out = apply(second).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "nothing to apply: {:?}",
        text(&out)
    );
    assert_eq!(real_writes(&emu), 2);
}
