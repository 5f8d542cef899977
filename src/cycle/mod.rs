//! One reconcile, composed from the stages: fetch → repository settings → load → prune
//! options → inventory → client with this revision's secrets → live → plan → prune, and
//! apply → inventory. [`Reconciler`] is the one place that sequences them: the CLI, the
//! daemon and the demo only decide when to call it and how to show the result.
//!
//! Input: [`Settings`] once, then a [`Snapshot`] per revision. Output: [`Planned`] (or an
//! [`Error`]) and, when asked, [`Applied`].
//!
//! Rules:
//! - Any error before the plan is complete means no write (Flux's rule).
//! - A project naming a purpose or data source that neither Git nor the tenant has is
//!   such an error, found after the live read ([`plan::references`]).
//! - Prune without a state directory is refused when the reconciler is built: without an
//!   inventory nothing that left Git could ever be deleted, so `--prune` would silently
//!   do nothing.
//! - An inventory that cannot be read deletes nothing (a warning note says why); the next
//!   apply writes a fresh one.
//! - [`Reconciler::apply`] records the inventory after every apply (or in-sync plan) it
//!   is given, whether or not every write landed: keys whose delete did not land stay in
//!   it, so a later run can still delete them. It records the digests of the data-source
//!   credentials it applied too (issue 13), so the next plan can say whether one changed.
//! - [`Reconciler::plan_scoped`] with [`Scope::Changed`] or [`Scope::Recheck`] reads from
//!   Immuta only what changed since the records of `objects.json` ([`scope`], issue 15);
//!   when the records cannot be trusted the plan is full and a [`Note::FullPlan`] says
//!   why. An incremental plan never deletes. Apply and [`Reconciler::record_check`]
//!   update the records of what the plan compared; carried objects keep theirs.

use std::collections::BTreeSet;

use tokio_util::sync::CancellationToken;

use crate::apply::{self, ApplyReport};
use crate::client::Client;
use crate::config::{self, RepoSettings};
use crate::live::{self, LiveSet, Refresh};
use crate::manifest::{self, DesiredSet, Diagnostic, Env};
use crate::object::Kind;
use crate::object::ObjectKey;
use crate::plan::prune::{self, PruneOptions, Refusal};
use crate::plan::{self, Plan, PlanScope};
use crate::source::{self, Snapshot, SourceSpec};
use crate::state::{self, Inventory, SecretDigests, StateDir};

mod adopt;
mod note;
mod records;
pub mod scope;
pub mod target;
#[cfg(test)]
mod tests;

pub use adopt::{AdoptError, Adopted};
pub use note::Note;
pub use scope::Scope;
pub use target::Targets;

/// Why a reconcile stopped before it could apply.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Prune was asked for without a state directory.
    #[error("--prune needs --state-dir: deletes are planned only for objects this tool applied, which the inventory in the state directory records; without it nothing that left Git could ever be deleted")]
    PruneNeedsStateDir,
    /// The source could not be fetched.
    #[error(transparent)]
    Source(#[from] source::Error),
    /// `.immuta-gitops.yaml` is invalid.
    #[error("{0}")]
    RepoSettings(String),
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

impl Error {
    /// Whether Immuta rejected the API key (401) while reading live state.
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, Error::Live(live::Error::Client(c)) if c.is_unauthorized())
    }
}

fn render_diagnostics(ds: &[Diagnostic]) -> String {
    ds.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// What prune may do, as the flags say (`--prune`, `--allow-empty`, `--max-deletions`);
/// the repository's `.immuta-gitops.yaml` adds its excludes per revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PruneSettings {
    /// Kinds for which deletes are allowed (empty: prune off).
    pub kinds: BTreeSet<Kind>,
    /// Allow a kind's desired set to be empty while it has managed live objects.
    pub allow_empty: bool,
    /// Refuse the plan when it holds more deletes than this.
    pub max_deletions: usize,
}

impl Default for PruneSettings {
    fn default() -> Self {
        let o = PruneOptions::default();
        PruneSettings {
            kinds: o.kinds,
            allow_empty: o.allow_empty,
            max_deletions: o.max_deletions,
        }
    }
}

impl PruneSettings {
    /// The options in effect for a revision with these repository settings.
    pub fn options(&self, repo: &RepoSettings) -> PruneOptions {
        PruneOptions {
            kinds: self.kinds.clone(),
            allow_empty: self.allow_empty,
            max_deletions: self.max_deletions,
            exclude: repo.prune.exclude.clone(),
            allow_table_removal: repo
                .data_sources
                .iter()
                .filter(|(_, d)| d.allow_table_removal)
                .map(|(k, _)| k.clone())
                .collect(),
        }
    }
}

/// Refuses the revision when a project names a purpose or data source that neither Git
/// nor the tenant has.
fn check_references(desired: &DesiredSet, live: &LiveSet) -> Result<(), Error> {
    let diags = plan::references::check(desired, live);
    if diags.is_empty() {
        Ok(())
    } else {
        Err(Error::Manifest(diags))
    }
}

/// What a [`Reconciler`] is built from.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The Immuta client (each revision adds its own secrets to a copy).
    pub client: Client,
    /// Prune flags.
    pub prune: PruneSettings,
    /// `--state-dir`: the inventory of managed objects.
    pub state: Option<StateDir>,
}

/// A complete plan and everything it was made from.
#[derive(Debug)]
pub struct Planned {
    /// The desired state of the revision.
    pub desired: DesiredSet,
    /// The live state read for it.
    pub live: LiveSet,
    /// The plan (prune's deletes included). A caller applying a saved plan replaces it
    /// after checking that it is not stale.
    pub plan: Plan,
    /// Notes for the log.
    pub notes: Vec<Note>,
    /// `.immuta-gitops.yaml` of the revision.
    pub repo: RepoSettings,
    /// The prune options in effect.
    pub prune: PruneOptions,
    /// Objects the plan writes although Git did not change them since the last apply:
    /// edited (or deleted) outside Git. Empty without a state directory.
    pub drift: Vec<state::Drifted>,
    /// The inventory read for this plan (`None`: absent or unreadable).
    inventory: Option<Inventory>,
    /// The per-object records read for this plan.
    objects: Option<state::AppliedObjects>,
    /// The credential digests read for this plan (`None`: absent or unreadable).
    secrets: Option<SecretDigests>,
    /// How the data sources were read (a saved plan is re-checked the same way).
    pub refresh: Refresh,
    /// Which objects were read from Immuta, after any fallback (also on the plan).
    pub scope: PlanScope,
    /// The desired objects carried as in sync without a read (empty for a full plan).
    carried: BTreeSet<ObjectKey>,
    /// Keyed digests of the state directory (`None`: no directory, or no key yet).
    fingerprints: Option<state::objects::Fingerprints>,
    /// The client, knowing this revision's secrets.
    client: Client,
}

impl Planned {
    /// The client used for this plan (it masks this revision's secrets).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The desired keys a drift sweep re-reads one by one (data sources and projects;
    /// policies and purposes come whole from the bulk lists every plan), sorted.
    pub fn sweepable(&self) -> Vec<ObjectKey> {
        self.desired
            .objects
            .keys()
            .filter(|k| matches!(k.kind, Kind::Data | Kind::Project))
            .cloned()
            .collect()
    }

    /// The desired objects carried as in sync from their record, without a read.
    pub fn carried(&self) -> &BTreeSet<ObjectKey> {
        &self.carried
    }
}

/// The outcome of [`Reconciler::apply`].
#[derive(Debug)]
pub struct Applied {
    /// One outcome per object written (empty when the plan had no changes).
    pub report: ApplyReport,
    /// The inventory recorded (`None` without a state directory).
    pub inventory: Option<Inventory>,
    /// Why the inventory could not be saved, if it could not.
    pub inventory_error: Option<state::Error>,
    /// Why the per-object records (`objects.json`) could not be saved, if they could not.
    pub objects_error: Option<state::Error>,
    /// Why the credential digests could not be saved, if they could not (the next plan
    /// then cannot compare those credentials, or compares them with older digests).
    pub digests_error: Option<state::Error>,
}

/// The pipeline, built once from [`Settings`].
#[derive(Debug, Clone)]
pub struct Reconciler {
    settings: Settings,
    targets: Targets,
}

impl Reconciler {
    /// A reconciler.
    ///
    /// # Errors
    /// [`Error::PruneNeedsStateDir`] when prune is on without a state directory.
    pub fn new(settings: Settings) -> Result<Reconciler, Error> {
        if !settings.prune.kinds.is_empty() && settings.state.is_none() {
            return Err(Error::PruneNeedsStateDir);
        }
        Ok(Reconciler {
            settings,
            targets: Targets::default(),
        })
    }

    /// Plans only the objects `targets` select and their dependencies (`--target`).
    #[must_use]
    pub fn with_targets(mut self, targets: Targets) -> Reconciler {
        self.targets = targets;
        self
    }

    /// The `--target` patterns in effect.
    pub fn targets(&self) -> &Targets {
        &self.targets
    }

    /// The client (without any revision's secrets).
    pub fn client(&self) -> &Client {
        &self.settings.client
    }

    /// The state directory, if any.
    pub fn state(&self) -> Option<&StateDir> {
        self.settings.state.as_ref()
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

    /// Reads the repository settings, loads the manifests, reads the inventory and the
    /// live state, and plans (with prune's deletes). Writes nothing.
    ///
    /// # Errors
    /// Any [`Error`] but [`Error::Source`] and [`Error::PruneNeedsStateDir`].
    pub async fn plan(&self, snapshot: &Snapshot, env: &dyn Env) -> Result<Planned, Error> {
        self.plan_with(snapshot, env, Refresh::Changed).await
    }

    /// [`Reconciler::plan`], with the data sources read through V1 as `refresh` says
    /// (`--refresh=full`, the daemon's drift check). The credentials of data sources are
    /// compared with the digests of what was last applied ([`crate::plan::secrets`]).
    /// Every object is read: [`Reconciler::plan_scoped`] with [`Scope::Full`].
    ///
    /// # Errors
    /// As [`Reconciler::plan`].
    pub async fn plan_with(
        &self,
        snapshot: &Snapshot,
        env: &dyn Env,
        refresh: Refresh,
    ) -> Result<Planned, Error> {
        self.plan_scoped(snapshot, env, refresh, Scope::Full).await
    }

    /// [`Reconciler::plan_with`], reading from Immuta only what `scope` selects
    /// ([`scope`]); an incremental plan that is not possible is full, with a
    /// [`Note::FullPlan`] (also logged) saying why. An incremental plan never deletes.
    ///
    /// # Errors
    /// As [`Reconciler::plan`].
    pub async fn plan_scoped(
        &self,
        snapshot: &Snapshot,
        env: &dyn Env,
        refresh: Refresh,
        scope: Scope,
    ) -> Result<Planned, Error> {
        let repo = config::repo_settings(snapshot).map_err(Error::RepoSettings)?;
        let mut desired = manifest::load(snapshot, env).map_err(Error::Manifest)?;
        let moves = repo.moves().map_err(Error::RepoSettings)?;
        plan::moves::attach(&mut desired, moves).map_err(Error::RepoSettings)?;
        let prune = self.settings.prune.options(&repo);
        let mut notes = Vec::new();
        let inventory = match self.settings.state.as_ref().map(StateDir::load_inventory) {
            Some(Ok(inv)) => inv,
            Some(Err(e)) => {
                notes.push(Note::InventoryUnreadable(e));
                None
            }
            None => None,
        };
        let loaded = self.settings.state.as_ref().map(StateDir::load_objects);
        let fingerprints = self
            .settings
            .state
            .as_ref()
            .and_then(|d| d.fingerprints().ok().flatten());
        let chosen = self.choose(
            &scope,
            &desired,
            loaded.as_ref(),
            fingerprints.as_ref(),
            inventory.as_ref(),
            &prune,
        );
        let (chosen, plan_scope) = match chosen {
            Ok(Some(c)) => {
                let s = PlanScope::Incremental {
                    planned: c.planned,
                    carried: c.selection.carried.len(),
                    oldest_check: c.oldest_check,
                };
                (Some(c), s)
            }
            Ok(None) => (None, PlanScope::default()),
            Err(fallback) => {
                if fallback.is_warning {
                    tracing::warn!(reason = %fallback.reason, "incremental plan not possible: every object is read");
                } else {
                    tracing::info!(reason = %fallback.reason, "incremental plan not possible: every object is read");
                }
                let s = PlanScope::Full {
                    fallback: Some(fallback.reason.clone()),
                };
                notes.push(Note::FullPlan(fallback));
                (None, s)
            }
        };
        let client = self.settings.client.clone().with_secrets(&desired.redactor);
        let probe: Vec<_> = if prune.kinds.is_empty() {
            Vec::new()
        } else {
            inventory
                .as_ref()
                .map(|i| i.keys.iter().cloned().collect())
                .unwrap_or_default()
        };
        let selection = chosen.as_ref().map(|c| &c.selection);
        let live = live::read_live_selected(&client, &desired, &probe, refresh, selection).await?;
        let mut plan_scope = plan_scope;
        if let PlanScope::Incremental {
            planned, carried, ..
        } = &mut plan_scope
        {
            // Carried connections the data-source list showed changed were read after all.
            *planned += live.uncarried.len();
            *carried = carried.saturating_sub(live.uncarried.len());
        }
        check_references(&desired, &live)?;
        let mut plan = plan::diff(&desired, &live);
        plan.scope = plan_scope.clone();
        let secrets = match self
            .settings
            .state
            .as_ref()
            .map(StateDir::load_secret_digests)
        {
            Some(Ok(d)) => d,
            Some(Err(e)) => {
                notes.push(Note::DigestsUnreadable(e));
                None
            }
            None => None,
        };
        plan::secrets::annotate(&mut plan, &desired, secrets.as_ref());
        let prune_notes =
            prune::add_deletes(&mut plan, &desired, &live, inventory.as_ref(), &prune)?;
        notes.extend(prune_notes.into_iter().map(Note::Prune));
        if chosen.is_some()
            && plan
                .changes
                .iter()
                .any(|c| c.action == plan::Action::Delete)
        {
            // The selection rules leave no delete to an incremental plan (a managed key
            // that left Git makes it full); should one appear, the plan is refused and
            // nothing is written.
            return Err(Error::Internal(
                "an incremental plan holds a delete; plan with --refresh=all".into(),
            ));
        }
        if matches!(scope, Scope::Recheck { .. }) {
            for key in prune::withhold_deletes(&mut plan) {
                tracing::info!(object = %key, "a drift sweep never deletes: left to the next plan of a revision");
            }
        }
        if !self.targets.is_empty() {
            notes.extend(
                self.targets
                    .unmatched(&plan)
                    .into_iter()
                    .map(Note::TargetUnmatched),
            );
            self.targets.cut(&mut plan, &desired, &live);
            notes.push(Note::Targeted(
                self.targets.patterns().map(str::to_string).collect(),
            ));
        }
        // Unreadable records cost only the drift section (and the incremental plan),
        // never the plan.
        let objects = loaded.and_then(Result::ok).flatten();
        let drift = objects
            .as_ref()
            .map(|o| state::objects::drifted(o, &desired, &plan))
            .unwrap_or_default();
        let mut carried = chosen.map(|c| c.carried()).unwrap_or_default();
        carried.retain(|k| !live.uncarried.contains(k));
        Ok(Planned {
            desired,
            live,
            plan,
            notes,
            repo,
            prune,
            drift,
            inventory,
            objects,
            secrets,
            refresh,
            scope: plan_scope,
            carried,
            fingerprints,
            client,
        })
    }

    /// Applies `planned.plan` (nothing is sent when it has no changes) and records the
    /// inventory in the state directory: every desired key, plus managed keys whose
    /// delete did not land. Objects not yet started when `cancel` fires are skipped.
    pub async fn apply(&self, planned: &Planned, cancel: CancellationToken) -> Applied {
        self.apply_observed(planned, cancel, &apply::Quiet).await
    }

    /// [`Reconciler::apply`], telling `observer` about each object as it lands.
    pub async fn apply_observed(
        &self,
        planned: &Planned,
        cancel: CancellationToken,
        observer: &dyn apply::Observer,
    ) -> Applied {
        let report = if planned.plan.has_changes() {
            apply::apply_observed(
                &planned.client,
                &planned.plan,
                &planned.desired,
                &cancel,
                observer,
            )
            .await
        } else {
            ApplyReport::default()
        };
        let Some(dir) = &self.settings.state else {
            return Applied {
                report,
                inventory: None,
                inventory_error: None,
                objects_error: None,
                digests_error: None,
            };
        };
        // Only what this plan covered becomes managed: a plan cut by `--target` never
        // records the objects it left out.
        let in_plan: BTreeSet<&crate::object::ObjectKey> =
            planned.plan.changes.iter().map(|c| &c.key).collect();
        let covered;
        let desired = if planned.desired.objects.keys().all(|k| in_plan.contains(k)) {
            &planned.desired
        } else {
            let mut d = planned.desired.clone();
            d.objects.retain(|k, _| in_plan.contains(k));
            covered = d;
            &covered
        };
        let inv = state::next_inventory(
            &planned.desired.revision,
            desired,
            planned.inventory.as_ref(),
            &apply::deleted_keys(&report, &planned.plan),
        );
        let inventory_error = dir.save_inventory(&inv).err();
        let objects_error = self
            .next_records(dir, planned, Some(&report))
            .and_then(|records| dir.save_objects(&records))
            .err();
        let mut digests_error = None;
        if report.results.iter().any(|r| r.key.kind == Kind::Data) {
            let digests = match planned.secrets.clone() {
                Some(d) => Ok(d),
                None => dir.new_secret_digests(),
            };
            digests_error = digests
                .and_then(|mut d| {
                    d.record(&planned.desired, &report);
                    dir.save_secret_digests(&d)
                })
                .err();
        }
        Applied {
            report,
            inventory: Some(inv),
            inventory_error,
            objects_error,
            digests_error,
        }
    }
}
