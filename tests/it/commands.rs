//! The commands around the plan (issue 14): `--version`, `completions`, `man`,
//! `validate --strict` and offline, `apply FILE --detailed-exitcode` from any directory.

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

pub const PURPOSES: &[(&str, &str)] = &[
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

/// `validate --strict` makes an unknown field an error; the nearest known field is
/// suggested with or without it.
#[tokio::test]
async fn validate_strict_refuses_unknown_fields_and_suggests() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = write_tree(
        tmp.path(),
        "repo",
        &[("purpose/a.yaml", "name: Alpha\ndescripton: first\n")],
    );
    let dir = dir.to_string_lossy();
    let hint = "purpose/a.yaml:2:1: purpose Alpha: warning: field descripton is not modelled; it is sent unchanged (did you mean description?)";
    let lax = run(&["validate", &dir], &[]).await;
    let (stdout, _) = text(&lax);
    assert_eq!(lax.status.code(), Some(0), "{stdout}");
    assert_eq!(
        stdout,
        format!("{hint}\n1 object(s) valid, 1 warning(s).\n")
    );

    let strict = run(&["validate", "--strict", &dir], &[]).await;
    let (stdout, _) = text(&strict);
    assert_eq!(strict.status.code(), Some(1), "{stdout}");
    assert_eq!(
        stdout,
        format!("{}\n1 error(s).\n", hint.replace("warning: ", ""))
    );
}

/// `validate` needs no secrets: unset variables are named in one warning, malformed
/// placeholders are still errors, and `reconcile` still requires every variable.
#[tokio::test]
async fn validate_runs_without_secrets_but_reconcile_requires_them() {
    let tmp = tempfile::tempdir().unwrap();
    let data = "connectionKey: wh\nconnection:\n  handler: Snowflake\n  hostname: h\n  port: 443\n  database: DB\n  warehouse: W\n  authenticationMethod: userPassword\n  username: '${WH_USER}'\n  password: '{{EnvVar \"WH_PASSWORD\"}}'\nsources:\n  - all: true\n";
    let dir = write_tree(tmp.path(), "repo", &[("data/wh.yaml", data)]);
    let path = dir.to_string_lossy();
    let out = run(&["validate", &path], &[("WH_USER", "svc")]).await;
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert_eq!(
        stdout,
        "warning: 1 environment variable(s) not set, their values not checked (reconcile requires them): WH_PASSWORD\n1 object(s) valid, 1 warning(s).\n"
    );

    let bad = write_tree(
        tmp.path(),
        "bad",
        &[(
            "data/wh.yaml",
            &data.replace("{{EnvVar \"WH_PASSWORD\"}}", "{{EnvVar WH_PASSWORD}}"),
        )],
    );
    let out = run(&["validate", &bad.to_string_lossy()], &[]).await;
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("data/wh.yaml:10:"), "{stdout}");
    assert!(stdout.contains("unsupported template function"), "{stdout}");

    let emu = emulator(None).await;
    let out =
        crate::common::reconcile(&emu.url(), "--plan", &path, &[], &[("WH_USER", "svc")]).await;
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("environment variable WH_PASSWORD is not set"),
        "{stderr}"
    );
    assert_eq!(
        emu.emulator.write_log().len(),
        0,
        "no request for an invalid revision"
    );
}
