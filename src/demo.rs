//! `immuta-gitops demo`: the whole flow in one command, with no network and no
//! configuration. Starts the emulator in-process seeded with `examples/demo/live/`,
//! commits `examples/demo/desired/` to a temporary Git repository (read back through
//! git2 like any remote), prints the plan, applies it, and plans again to show that the
//! tenant converged.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::client::{Client, ClientConfig};
use crate::cycle;
use crate::emulator;
use crate::manifest::Env;
use crate::plan::render;
use crate::redact::Secret;
use crate::source::SourceSpec;

/// Placeholder values for the demo's `{{EnvVar}}` secrets: a real variable wins, else
/// a made-up value (the emulator accepts any password).
struct DemoEnv;

impl Env for DemoEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name)
            .ok()
            .or_else(|| Some(format!("demo-{}", name.to_lowercase())))
    }
}

/// Finds `examples/demo` next to the working directory or the crate sources.
fn demo_dir() -> Result<PathBuf> {
    let candidates = [
        PathBuf::from("examples/demo"),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo"),
    ];
    candidates
        .into_iter()
        .find(|p| p.join("desired").is_dir() && p.join("live").is_dir())
        .context("examples/demo (with desired/ and live/) not found: run the demo from the repository root")
}

/// Commits every file under `src` into a new repository at `dst`; returns the commit id.
///
/// # Errors
/// Any file or git2 error.
pub fn commit_dir(src: &Path, dst: &Path, message: &str) -> Result<String> {
    let repo = git2::Repository::init(dst).context("git init")?;
    copy_tree(src, dst)?;
    let mut index = repo.index()?;
    index.add_all(["*"].iter(), git2::IndexAddOption::DEFAULT, None)?;
    index.write()?;
    let tree = repo.find_tree(index.write_tree()?)?;
    let sig = git2::Signature::now("immuta-gitops demo", "demo@example.invalid")?;
    let parent = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
    let parents: Vec<&git2::Commit> = parent.iter().collect();
    let id = repo.commit(Some("HEAD"), &sig, &sig, message, &tree, &parents)?;
    Ok(id.to_string())
}

fn copy_tree(src: &Path, dst: &Path) -> Result<()> {
    for entry in std::fs::read_dir(src).with_context(|| format!("cannot read {}", src.display()))? {
        let entry = entry?;
        let to = dst.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            std::fs::create_dir_all(&to)?;
            copy_tree(&entry.path(), &to)?;
        } else {
            std::fs::copy(entry.path(), &to)?;
        }
    }
    Ok(())
}

/// Runs the demo, writing everything to `out`. Returns whether the tenant converged.
///
/// # Errors
/// Setup failures (missing examples, emulator, Git).
pub async fn run(out: &mut dyn Write) -> Result<bool> {
    let dir = demo_dir()?;
    let work = tempfile::tempdir().context("cannot create a temporary directory")?;
    let repo_dir = work.path().join("repo");
    std::fs::create_dir_all(&repo_dir)?;
    let sha = commit_dir(&dir.join("desired"), &repo_dir, "Desired Immuta state")?;

    let key = format!("demo-{}", rand::random::<u64>());
    let emu = emulator::spawn(emulator::Options {
        api_key: key.clone(),
        seed: Some(dir.join("live")),
        ..Default::default()
    })
    .await
    .context("cannot start the emulator")?;
    writeln!(
        out,
        "== Immuta emulator on {} (seeded from {})",
        emu.url(),
        dir.join("live").display()
    )?;
    writeln!(
        out,
        "== Git repository {} at commit {}",
        repo_dir.display(),
        &sha[..12.min(sha.len())]
    )?;

    let spec = SourceSpec {
        repo: format!("file://{}", repo_dir.display()),
        reference: None,
        path: None,
        cache_dir: work.path().join("cache"),
        auth: Default::default(),
        limits: Default::default(),
    };
    let snapshot = cycle::fetch(&spec).await?;
    let desired = cycle::load(&snapshot, &DemoEnv)?;
    let client = Client::new(ClientConfig::new(emu.url(), Secret::new(key)))?
        .with_secrets(&desired.redactor);

    writeln!(out, "\n== 1. Plan (reconcile --plan)\n")?;
    let (_, plan) = cycle::plan(&client, &desired).await?;
    render::text(&plan, out)?;

    writeln!(out, "\n== 2. Apply (reconcile --apply)\n")?;
    let report = cycle::apply(&client, &plan, &desired, None).await;
    report.render_text(out)?;

    writeln!(out, "\n== 3. Plan again: the tenant has converged\n")?;
    let (_, again) = cycle::plan(&client, &desired).await?;
    render::text(&again, out)?;
    emu.shutdown().await;
    if !report.is_success() {
        bail!("apply did not complete");
    }
    Ok(!again.has_changes())
}
