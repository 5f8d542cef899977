//! One reconcile cycle, composed from the stages: source → manifest → live → plan, and
//! optionally apply. The one-shot CLI, the demo and the daemon all go through here, so
//! they behave the same.
//!
//! Rule (Flux's): any error before the plan is complete means no write in this cycle.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crate::apply::{self, ApplyReport};
use crate::client::Client;
use crate::live::{self, LiveSet, Refresh};
use crate::manifest::{self, DesiredSet, Diagnostic, Env};
use crate::plan::prune::{self, Inventory, PruneOptions, Refusal};
use crate::plan::secrets::SecretDigests;
use crate::plan::{self, Plan};
use crate::source::{self, Snapshot, SourceSpec};

/// Why a cycle stopped before it could apply.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The source could not be fetched.
    #[error(transparent)]
    Source(#[from] source::Error),
    /// The manifests are invalid: every problem, one per line.
    #[error("{} invalid manifest(s):\n{}", .0.iter().filter(|d| d.severity == manifest::Severity::Error).count(), render_diagnostics(.0))]
    Manifest(Vec<Diagnostic>),
    /// Reading the tenant failed.
    #[error("reading live state failed: {0}")]
    Live(#[from] live::Error),
    /// The prune guards refused the plan: nothing is applied.
    #[error("plan refused: {0}")]
    Refused(#[from] Refusal),
    /// A blocking task panicked or was cancelled.
    #[error("internal error: {0}")]
    Internal(String),
}

fn render_diagnostics(ds: &[Diagnostic]) -> String {
    ds.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Fetches the source (on a blocking thread: git2 and file reads block).
///
/// # Errors
/// [`Error::Source`].
pub async fn fetch(spec: &SourceSpec) -> Result<Snapshot, Error> {
    let spec = spec.clone();
    tokio::task::spawn_blocking(move || source::fetch(&spec))
        .await
        .map_err(|e| Error::Internal(e.to_string()))?
        .map_err(Error::from)
}

/// Parses, templates and validates a snapshot.
///
/// # Errors
/// [`Error::Manifest`] with every diagnostic.
pub fn load(snapshot: &Snapshot, env: &dyn Env) -> Result<DesiredSet, Error> {
    manifest::load(snapshot, env).map_err(Error::Manifest)
}

/// Reads live state for `desired` and diffs.
///
/// # Errors
/// [`Error::Live`].
pub async fn plan(client: &Client, desired: &DesiredSet) -> Result<(LiveSet, Plan), Error> {
    let (live, plan, _) = plan_with_prune(client, desired, &PruneOptions::default(), None).await?;
    Ok((live, plan))
}

/// Reads live state, diffs, and adds the deletes prune allows. Returns notes for the log
/// (why something was not deleted).
///
/// # Errors
/// [`Error::Live`], or [`Error::Refused`] when a prune guard trips.
pub async fn plan_with_prune(
    client: &Client,
    desired: &DesiredSet,
    prune: &PruneOptions,
    inventory: Option<&Inventory>,
) -> Result<(LiveSet, Plan, Vec<String>), Error> {
    plan_with(client, desired, prune, inventory, Refresh::Changed, None).await
}

/// [`plan_with_prune`] with the data-source V1 reads chosen by `refresh`
/// (`--refresh=full`, the daemon's drift check), and the credentials of data sources
/// compared with the digests of what was last applied (`None`: nothing recorded, so
/// they cannot be compared; see [`crate::plan::secrets`]).
///
/// # Errors
/// As [`plan_with_prune`].
pub async fn plan_with(
    client: &Client,
    desired: &DesiredSet,
    prune: &PruneOptions,
    inventory: Option<&Inventory>,
    refresh: Refresh,
    secrets: Option<&SecretDigests>,
) -> Result<(LiveSet, Plan, Vec<String>), Error> {
    let probe: Vec<_> = if prune.kinds.is_empty() {
        Vec::new()
    } else {
        inventory
            .map(|i| i.keys.iter().cloned().collect())
            .unwrap_or_default()
    };
    let live = live::read_live_with(client, desired, &probe, refresh).await?;
    let mut plan = plan::diff(desired, &live);
    SecretDigests::annotate(&mut plan, desired, secrets);
    let notes = prune::add_deletes(&mut plan, desired, &live, inventory, prune)?;
    Ok((live, plan, notes))
}

/// Applies a plan made from `desired`.
pub async fn apply(
    client: &Client,
    plan: &Plan,
    desired: &DesiredSet,
    stop: Option<Arc<AtomicBool>>,
) -> ApplyReport {
    apply::apply(client, plan, desired, stop).await
}
