//! Shared test harness: an emulator on 127.0.0.1:0, temporary Git repositories made
//! with git2, and a runner for the real binary that captures its output.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;

use immuta_gitops::emulator::{self, Handle, Options};

/// The API key every test emulator expects.
pub const KEY: &str = "test-key-5f2b9c1e";

/// Starts an emulator, optionally seeded.
pub async fn emulator(seed: Option<&Path>) -> Handle {
    emulator::spawn(Options {
        api_key: KEY.into(),
        seed: seed.map(Path::to_path_buf),
        ..Default::default()
    })
    .await
    .expect("emulator starts")
}

/// The crate root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Commits `src` into a fresh repository under `tmp`; returns its `file://` URL.
pub fn git_repo(src: &Path, tmp: &Path) -> String {
    let dst = tmp.join("repo");
    std::fs::create_dir_all(&dst).unwrap();
    immuta_gitops::demo::commit_dir(src, &dst, "test commit").unwrap();
    format!("file://{}", dst.display())
}

/// Writes files (relative path → content) into a new directory under `tmp`.
pub fn write_tree(tmp: &Path, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = tmp.join(name);
    for (rel, content) in files {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
    dir
}

/// Runs the binary with `args` and extra env vars; never inherits IMMUTA_* from the caller.
pub async fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_immuta-gitops"));
    cmd.args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("IMMUTA") {
            cmd.env_remove(k);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.kill_on_drop(true);
    cmd.output().await.expect("binary runs")
}

/// Runs `reconcile` against an emulator with the right key.
pub async fn reconcile(
    url: &str,
    mode: &str,
    repo: &str,
    extra: &[&str],
    env: &[(&str, &str)],
) -> Output {
    let cache = tempfile::tempdir().unwrap();
    let mut args = vec![
        "reconcile",
        mode,
        "--repo",
        repo,
        "--immuta-url",
        url,
        "--cache-dir",
    ];
    let cache_path = cache.path().to_string_lossy().to_string();
    args.push(&cache_path);
    args.extend_from_slice(extra);
    let mut all_env = vec![("IMMUTA_API_KEY", KEY)];
    all_env.extend_from_slice(env);
    let out = run(&args, &all_env).await;
    drop(cache);
    out
}

/// Stdout and stderr as text.
pub fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Writes that changed the emulator's state (dry runs and failures excluded).
pub fn real_writes(h: &Handle) -> usize {
    h.emulator
        .write_log()
        .iter()
        .filter(|w| !w.dry_run && w.status < 300)
        .count()
}
