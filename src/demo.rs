//! `immuta-gitops demo`: the whole flow in one command, with no network and no
//! configuration. Starts the emulator in-process seeded with `examples/demo/live/`,
//! commits `examples/demo/desired/` to a temporary Git repository (read back through
//! git2 like any remote), prints the plan, applies it, and plans again to show that the
//! tenant converged.

//!
//! Without the `emulator` feature only [`commit_dir`] remains (the tests use it).

use std::path::Path;

#[cfg(feature = "emulator")]
use std::{io::Write, path::PathBuf};

#[cfg(feature = "emulator")]
use immuta_emulator as emulator;

#[cfg(feature = "emulator")]
use crate::client::{Client, ClientConfig};
#[cfg(feature = "emulator")]
use crate::cycle::{PruneSettings, Reconciler, Settings};
#[cfg(feature = "emulator")]
use crate::manifest::Env;
#[cfg(feature = "emulator")]
use crate::plan::render;
#[cfg(feature = "emulator")]
use crate::redact::Secret;
#[cfg(feature = "emulator")]
use crate::source::SourceSpec;
#[cfg(feature = "emulator")]
use tokio_util::sync::CancellationToken;

/// Why the demo could not run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `examples/demo` is not where the demo looks.
    #[error(
        "examples/demo (with desired/ and live/) not found: run the demo from the repository root"
    )]
    NoExamples,
    /// A file or directory could not be read or written.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The temporary Git repository could not be written.
    #[error("git: {0}")]
    Git(#[from] git2::Error),
    /// The emulator did not start.
    #[cfg(feature = "emulator")]
    #[error("cannot start the emulator: {0}")]
    Emulator(#[from] emulator::Error),
    /// The client could not be built.
    #[cfg(feature = "emulator")]
    #[error(transparent)]
    Client(#[from] crate::client::Error),
    /// Planning failed (kept as the source, so a caller can find the diagnostics).
    #[cfg(feature = "emulator")]
    #[error("{0}")]
    Cycle(#[from] crate::cycle::Error),
    /// The apply did not complete.
    #[error("apply did not complete")]
    Incomplete,
    /// The output could not be written.
    #[error("cannot write the demo's output: {0}")]
    Output(#[from] std::io::Error),
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let what = what.into();
    move |source| Error::Io { what, source }
}

type Result<T> = std::result::Result<T, Error>;

/// Placeholder values for the demo's `{{EnvVar}}` secrets: a real variable wins, else
/// a made-up value (the emulator accepts any password).
#[cfg(feature = "emulator")]
struct DemoEnv;

#[cfg(feature = "emulator")]
impl Env for DemoEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name)
            .ok()
            .or_else(|| Some(format!("demo-{}", name.to_lowercase())))
    }
}

/// Finds `examples/demo` next to the working directory or the crate sources.
#[cfg(feature = "emulator")]
fn demo_dir() -> Result<PathBuf> {
    let candidates = [
        PathBuf::from("examples/demo"),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo"),
    ];
    candidates
        .into_iter()
        .find(|p| p.join("desired").is_dir() && p.join("live").is_dir())
        .ok_or(Error::NoExamples)
}

/// Commits every file under `src` into a new repository at `dst`; returns the commit id.
///
/// # Errors
/// Any file or git2 error.
pub fn commit_dir(src: &Path, dst: &Path, message: &str) -> Result<String> {
    let repo = git2::Repository::init(dst)?;
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
    let cannot_read = || format!("cannot read {}", src.display());
    for entry in std::fs::read_dir(src).map_err(io(cannot_read()))? {
        let entry = entry.map_err(io(cannot_read()))?;
        let to = dst.join(entry.file_name());
        let write = || format!("cannot write {}", to.display());
        if entry.file_type().map_err(io(cannot_read()))?.is_dir() {
            std::fs::create_dir_all(&to).map_err(io(write()))?;
            copy_tree(&entry.path(), &to)?;
        } else {
            std::fs::copy(entry.path(), &to).map_err(io(write()))?;
        }
    }
    Ok(())
}

/// Runs the demo, writing everything to `out`. Returns whether the tenant converged.
///
/// # Errors
/// Setup failures (missing examples, emulator, Git), a failed plan or apply, or a
/// failed write to `out`.
#[cfg(feature = "emulator")]
pub async fn run(out: &mut dyn Write) -> Result<bool> {
    let dir = demo_dir()?;
    let work = tempfile::tempdir().map_err(io("cannot create a temporary directory"))?;
    let repo_dir = work.path().join("repo");
    std::fs::create_dir_all(&repo_dir).map_err(io("cannot create the demo repository"))?;
    let sha = commit_dir(&dir.join("desired"), &repo_dir, "Desired Immuta state")?;

    let key = format!("demo-{}", rand::random::<u64>());
    let emu = emulator::spawn(emulator::Options {
        api_key: key.clone(),
        seed: Some(dir.join("live")),
        ..Default::default()
    })
    .await?;
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
    let reconciler = Reconciler::new(Settings {
        client: Client::new(ClientConfig::new(emu.url(), Secret::new(key)))?,
        prune: PruneSettings::default(),
        state: None,
    })?;
    let snapshot = Reconciler::fetch(&spec).await?;

    writeln!(out, "\n== 1. Plan (reconcile --plan)\n")?;
    let planned = reconciler.plan(&snapshot, &DemoEnv).await?;
    render::text(&planned.plan, out)?;

    writeln!(out, "\n== 2. Apply (reconcile --apply)\n")?;
    let applied = reconciler.apply(&planned, CancellationToken::new()).await;
    applied.report.render_text(out)?;

    writeln!(out, "\n== 3. Plan again: the tenant has converged\n")?;
    let again = reconciler.plan(&snapshot, &DemoEnv).await?;
    render::text(&again.plan, out)?;
    emu.shutdown().await;
    if !applied.report.is_success() {
        return Err(Error::Incomplete);
    }
    Ok(!again.plan.has_changes())
}
