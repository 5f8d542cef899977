//! One daemon cycle: fetch; decide whether a plan is needed; load and plan; log the plan;
//! apply it, report drift, or do nothing; record the outcome in status, metrics and the
//! state dir.
//!
//! Input: a [`Trigger`] and the stop flag. Output: a [`CycleResult`]. Decisions:
//!
//! - An unchanged revision (already planned) with no drift check due and no forcing
//!   trigger is [`CycleResult::Skipped`]: no parsing, no Immuta API call.
//! - A plan with changes for a revision that was already applied is drift: with
//!   `--drift report` it is logged and counted, never written; with `--drift heal` it is
//!   applied. A new revision is always applied (unless `--mode plan-only`).
//! - Any error before the plan is complete means no write in this cycle (Flux's rule).
//! - A plan that would write while an apply window blocks writes (`--apply-window`) is
//!   [`CycleResult::Blocked`]: logged and reported, nothing written, and planned again on
//!   the next trigger (the revision is not marked as checked).
//! - Every cycle ends by telling the [`announce::Announcer`] what it found; the
//!   notifications are queued, never waited for.
//! - The rendered plan is logged at info before anything is applied.
//! - With `--prune`, deletes are planned from the inventory in `--state-dir`; a plan the
//!   prune guards refuse fails the cycle with the reason logged, and nothing is written.
//!   The inventory is updated only after a revision was applied (or found in sync).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use tracing::Instrument;

use super::announce::{self, Announcer};
use super::runner::Reconcile;
use super::schedule::DriftRule;
use super::server::Shared;
use super::state::{self, SavedState};
use super::status::{self, ApplyStatus, CycleResult, CycleStatus, PlanStatus};
use super::trigger::Trigger;
use super::{DriftPolicy, Mode};
use crate::apply::{deleted_keys, ApplyReport, Outcome};
use crate::client::Client;
use crate::config::{self, PruneFlags};
use crate::cycle;
use crate::manifest::{DesiredSet, ProcessEnv};
use crate::notify::track::{Blocked, Facts};
use crate::object::Kind;
use crate::plan::prune::{self, Inventory};
use crate::plan::{render, Plan};
use crate::redact::Redactor;
use crate::source::{SourceId, SourceSpec};

/// Everything a [`Cycle`] needs.
#[derive(Debug)]
pub struct CycleConfig {
    /// What to fetch.
    pub spec: SourceSpec,
    /// The Immuta client (its request counts feed the metrics).
    pub client: Client,
    /// `--mode`.
    pub mode: Mode,
    /// `--drift`.
    pub drift: DriftPolicy,
    /// When a drift check is due.
    pub drift_rule: DriftRule,
    /// `--prune`, `--allow-empty`, `--max-deletions`.
    pub prune: PruneFlags,
    /// `--state-dir`.
    pub state_dir: Option<PathBuf>,
    /// What the state dir remembered at start.
    pub saved: Option<SavedState>,
    /// Masks the API key, Git token and webhook secret in error texts.
    pub redactor: Redactor,
    /// Status and metrics (and the apply windows, `shared.gate`).
    pub shared: Arc<Shared>,
    /// Where notifications go.
    pub announcer: Announcer,
}

/// A revision and when something happened to it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Mark {
    revision: String,
    at: SystemTime,
}

/// The reconcile step of the daemon.
#[derive(Debug)]
pub struct Cycle {
    cfg: CycleConfig,
    /// The last revision planned completely, and when (drives "skip" and "drift due").
    checked: Option<Mark>,
    /// The last revision applied completely or found in sync (drives "drift").
    applied: Option<Mark>,
    /// The revision fetched by the running cycle.
    fetched: Option<String>,
    /// The inventory read from the state dir by the running cycle.
    inventory: Option<Inventory>,
    /// The canonical identity of the source last fetched (recorded in `state.json`).
    source: Option<SourceId>,
    /// What the running cycle found, for the notifications.
    facts: Facts,
    /// The commit subject of the running cycle's revision.
    subject: Option<String>,
    /// Whether the running cycle re-plans an unchanged revision on the timer.
    drift_check: bool,
    /// Every secret the running cycle knows (the daemon's and the revision's).
    cycle_redactor: Option<Redactor>,
}

/// How a cycle ended, before it is recorded.
type Ended = Result<CycleResult, String>;

impl Cycle {
    /// A step that has seen nothing yet except what the state dir remembered.
    pub fn new(cfg: CycleConfig) -> Self {
        Cycle {
            cfg,
            checked: None,
            applied: None,
            fetched: None,
            inventory: None,
            source: None,
            facts: Facts::default(),
            subject: None,
            drift_check: false,
            cycle_redactor: None,
        }
    }

    /// The announcer, to drain its queue at shutdown.
    pub fn into_announcer(self) -> Announcer {
        self.cfg.announcer
    }

    async fn run(&mut self, trigger: Trigger, stop: Arc<AtomicBool>) -> CycleResult {
        let started = Instant::now();
        self.fetched = None;
        self.facts = Facts::default();
        self.subject = None;
        self.drift_check = false;
        self.cycle_redactor = None;
        let span =
            tracing::info_span!("reconcile", rev = tracing::field::Empty, trigger = %trigger);
        let ended = self
            .cycle(trigger, &stop, &span)
            .instrument(span.clone())
            .await;
        let took = started.elapsed();
        let (result, error) = match ended {
            Ok(r) => (r, None),
            Err(e) => (CycleResult::Failed, Some(e)),
        };
        span.in_scope(|| match &error {
            Some(e) => tracing::warn!(result = result.as_str(), error = %e, "cycle failed"),
            None if result == CycleResult::Skipped => {
                tracing::debug!(
                    result = result.as_str(),
                    "revision unchanged, no drift check due"
                )
            }
            None => tracing::info!(
                result = result.as_str(),
                seconds = took.as_secs_f64(),
                "cycle done"
            ),
        });
        let shared = &self.cfg.shared;
        shared.metrics.observe_cycle(result, took);
        let c = CycleStatus {
            trigger: trigger.as_str().to_string(),
            revision: self.fetched.take(),
            at: status::timestamp(SystemTime::now()),
            duration_seconds: took.as_secs_f64(),
            result,
        };
        let revision = c.revision.clone();
        shared.update_status(|s| s.record_cycle(c, error.clone()));
        self.announce(trigger, revision, error);
        result
    }

    /// Hands what this cycle found to the announcer.
    fn announce(&mut self, trigger: Trigger, revision: Option<String>, error: Option<String>) {
        let mut facts = std::mem::take(&mut self.facts);
        // An incomplete apply left its results here; the error text is the cycle's.
        let objects = facts.failed.take().map(|(_, o)| o).unwrap_or_default();
        facts.failed = error.map(|e| (e, objects));
        let redactor = self
            .cycle_redactor
            .take()
            .unwrap_or_else(|| self.cfg.redactor.clone());
        let c = announce::Cycle {
            trigger: announce::trigger(trigger, self.drift_check),
            origin: self.cfg.shared.status().source.origin,
            revision,
            subject: self.subject.take(),
            facts,
        };
        self.cfg.announcer.cycle(c, &redactor);
    }

    async fn cycle(
        &mut self,
        trigger: Trigger,
        stop: &Arc<AtomicBool>,
        span: &tracing::Span,
    ) -> Ended {
        let snapshot = cycle::fetch(&self.cfg.spec)
            .await
            .map_err(|e| self.redact(&e, None))?;
        span.record("rev", snapshot.revision.as_str());
        self.fetched = Some(snapshot.revision.clone());
        self.subject = snapshot.subject.clone();
        self.adopt_saved(&snapshot.id);
        self.source = Some(snapshot.id.clone());
        let (origin, revision) = (snapshot.origin.clone(), snapshot.revision.clone());
        self.cfg.shared.update_status(|s| {
            s.source.origin = origin;
            s.source.revision = Some(revision);
        });

        let planned_before = self
            .checked
            .as_ref()
            .is_some_and(|c| c.revision == snapshot.revision);
        let since = self
            .checked
            .as_ref()
            .and_then(|c| SystemTime::now().duration_since(c.at).ok());
        if planned_before && !self.cfg.drift_rule.is_due(since) && !trigger.forces_plan() {
            return Ok(CycleResult::Skipped);
        }
        self.drift_check = planned_before && trigger == Trigger::Schedule;

        let settings =
            config::repo_settings(&snapshot).map_err(|e| self.cfg.redactor.redact(&e))?;
        let desired = cycle::load(&snapshot, &ProcessEnv).map_err(|e| self.redact(&e, None))?;
        let mut known = self.cfg.redactor.clone();
        known.extend(&desired.redactor);
        self.cycle_redactor = Some(known);
        for w in &desired.warnings {
            tracing::warn!(warning = %self.cfg.redactor.redact(&w.to_string()), "manifest warning");
        }
        let prune = self
            .cfg
            .prune
            .options(&settings)
            .map_err(|e| e.to_string())?;
        self.inventory = self.load_inventory();
        let client = self.cfg.client.clone().with_secrets(&desired.redactor);
        let (_live, plan, notes) =
            cycle::plan_with_prune(&client, &desired, &prune, self.inventory.as_ref())
                .await
                .map_err(|e| self.redact(&e, Some(&desired)))?;
        for n in &notes {
            if n.starts_with(prune::DISABLED) {
                tracing::warn!(note = %n, "prune");
            } else {
                tracing::info!(note = %n, "prune");
            }
        }
        self.after_plan(&client, &plan, &desired, stop).await
    }

    /// Logs the plan, then applies, reports or records it.
    async fn after_plan(
        &mut self,
        client: &Client,
        plan: &Plan,
        desired: &DesiredSet,
        stop: &Arc<AtomicBool>,
    ) -> Ended {
        let rev = plan.revision.clone();
        self.facts.planned = true;
        self.facts.revision = Some(rev.clone());
        let drift = plan.has_changes() && self.applied.as_ref().is_some_and(|a| a.revision == rev);
        self.log_plan(plan, drift, desired);
        let plan_status = PlanStatus {
            revision: rev.clone(),
            at: status::timestamp(SystemTime::now()),
            summary: plan.summary(),
            changes_by_kind: writes_by_kind(plan),
            drift,
        };
        self.cfg.shared.update_status(|s| {
            s.last_plan = Some(plan_status);
            if drift {
                s.drift_detected += 1;
            }
        });
        if drift {
            self.cfg.shared.metrics.inc_drift();
            tracing::warn!(
                revision = %rev,
                policy = self.cfg.drift.as_str(),
                "drift: the tenant was changed outside Git"
            );
        }

        if !plan.has_changes() && plan.summary().refused > 0 {
            // Not in sync and not applied: re-planned on every trigger until allowed.
            self.set_objects(plan, None);
            return Err(refusals(plan));
        }
        if !plan.has_changes() {
            self.set_objects(plan, None);
            self.mark_checked(&rev);
            if self.cfg.mode == Mode::Apply {
                self.save_inventory(desired, None);
                self.mark_applied(&rev);
            }
            return Ok(CycleResult::InSync);
        }
        let write = self.cfg.mode == Mode::Apply && (!drift || self.cfg.drift == DriftPolicy::Heal);
        if drift && !write {
            self.facts.drift = announce::pending(plan);
        }
        if !write {
            self.set_objects(plan, None);
            if plan.summary().refused > 0 {
                return Err(refusals(plan));
            }
            self.mark_checked(&rev);
            return Ok(CycleResult::Reported);
        }
        if stop.load(Ordering::SeqCst) {
            return Ok(CycleResult::Interrupted);
        }
        let verdict = self.cfg.shared.gate.verdict();
        if let Some(reason) = verdict.reason {
            self.set_objects(plan, None);
            let next = verdict.next_change.map(super::window::timestamp);
            tracing::warn!(
                revision = %rev,
                reason = %reason,
                next_change_at = next.as_deref().unwrap_or("unknown"),
                "apply window: writes blocked; the plan waits"
            );
            self.facts.blocked = Some(Blocked {
                reason,
                next_change_at: next,
                pending: announce::pending(plan),
            });
            return Ok(CycleResult::Blocked);
        }
        let report = cycle::apply(client, plan, desired, Some(stop.clone())).await;
        self.after_apply(plan, desired, &report, stop)
    }

    fn after_apply(
        &mut self,
        plan: &Plan,
        desired: &DesiredSet,
        report: &ApplyReport,
        stop: &AtomicBool,
    ) -> Ended {
        let rev = &plan.revision;
        let mut redactor = self.cfg.redactor.clone();
        redactor.extend(&desired.redactor);
        for r in &report.results {
            match &r.outcome {
                Outcome::Applied { .. } => {
                    tracing::info!(key = %r.key, action = ?r.action, "applied")
                }
                Outcome::Failed { error } => {
                    tracing::warn!(key = %r.key, action = ?r.action, error = %redactor.redact(error), "write failed")
                }
                Outcome::Skipped { reason } => {
                    tracing::warn!(key = %r.key, action = ?r.action, reason = %reason, "skipped")
                }
            }
        }
        let mut st = ApplyStatus::from_report(rev, SystemTime::now(), report);
        for o in &mut st.results {
            o.error = o.error.as_deref().map(|e| redactor.redact(e));
        }
        self.cfg.shared.update_status(|s| s.last_apply = Some(st));
        self.set_objects(plan, Some(report));
        self.save_inventory(desired, Some(report));
        let facts = announce::applied(rev, report);
        if report.is_success() {
            self.facts.applied = facts.applied;
            self.mark_checked(rev);
            self.mark_applied(rev);
            return Ok(CycleResult::Applied);
        }
        // The error text is filled in when the cycle is recorded.
        self.facts.failed = facts.applied.map(|a| (String::new(), a.objects));
        let (applied, failed, skipped) = report.counts();
        if failed == 0 && stop.load(Ordering::SeqCst) {
            tracing::warn!(
                applied,
                skipped,
                "apply stopped by shutdown; the next start converges"
            );
            return Ok(CycleResult::Interrupted);
        }
        let first = report
            .results
            .iter()
            .find_map(|r| match &r.outcome {
                Outcome::Failed { error } => Some(format!("{}: {}", r.key, redactor.redact(error))),
                _ => None,
            })
            .or_else(|| (plan.summary().refused > 0).then(|| refusals(plan)));
        Err(format!(
            "apply incomplete: {applied} applied, {failed} failed, {skipped} skipped; first failure: {}",
            first.unwrap_or_default()
        ))
    }

    fn log_plan(&self, plan: &Plan, drift: bool, desired: &DesiredSet) {
        let mut buf = Vec::new();
        let text = match render::text(plan, &mut buf) {
            Ok(()) => String::from_utf8_lossy(&buf).into_owned(),
            Err(e) => format!("(plan could not be rendered: {e})"),
        };
        let mut redactor = self.cfg.redactor.clone();
        redactor.extend(&desired.redactor);
        let text = redactor.redact(&text);
        let s = plan.summary();
        let by_kind = writes_by_kind(plan);
        let n = |k: Kind| by_kind.get(&k).copied().unwrap_or(0);
        tracing::info!(
            revision = %plan.revision,
            add = s.add,
            change = s.change,
            destroy = s.destroy,
            unchanged = s.unchanged,
            unmanaged = s.unmanaged,
            writes.purpose = n(Kind::Purpose),
            writes.data = n(Kind::Data),
            writes.policy = n(Kind::Policy),
            writes.project = n(Kind::Project),
            drift,
            "plan\n{text}"
        );
    }

    fn set_objects(&self, plan: &Plan, report: Option<&ApplyReport>) {
        self.cfg
            .shared
            .metrics
            .set_objects(&status::object_states(plan, report));
    }

    /// Forgets the remembered state when it belongs to another source.
    fn adopt_saved(&mut self, source: &SourceId) {
        let Some(saved) = self.cfg.saved.take() else {
            return;
        };
        if !saved.is_for(source) {
            tracing::info!(state = ?saved.source, source = %source, "state file is for another source; ignoring it");
            self.cfg.shared.update_status(|s| {
                s.last_applied_revision = None;
                s.last_applied_at = None;
            });
            return;
        }
        self.applied = Some(Mark {
            revision: saved.revision.clone(),
            at: state::from_unix(saved.applied_at),
        });
        self.checked = Some(Mark {
            revision: saved.revision,
            at: state::from_unix(saved.checked_at),
        });
    }

    fn mark_checked(&mut self, rev: &str) {
        self.checked = Some(Mark {
            revision: rev.to_string(),
            at: SystemTime::now(),
        });
        self.persist();
    }

    fn mark_applied(&mut self, rev: &str) {
        let now = SystemTime::now();
        self.applied = Some(Mark {
            revision: rev.to_string(),
            at: now,
        });
        self.cfg.shared.metrics.set_revision(rev);
        let (r, at) = (rev.to_string(), status::timestamp(now));
        self.cfg.shared.update_status(|s| {
            s.last_applied_revision = Some(r);
            s.last_applied_at = Some(at);
        });
        self.persist();
    }

    /// Writes the state file (when `--state-dir` is set and something was applied). A
    /// write failure is logged, not fatal: the cost is one extra plan after a restart.
    fn persist(&self) {
        let (Some(dir), Some(applied)) = (&self.cfg.state_dir, &self.applied) else {
            return;
        };
        let checked_at = match &self.checked {
            Some(c) if c.revision == applied.revision => c.at,
            _ => applied.at,
        };
        let origin = self.cfg.shared.status().source.origin;
        let saved = SavedState {
            version: state::VERSION,
            origin,
            source: self.source.clone(),
            path: self.cfg.spec.path.clone(),
            revision: applied.revision.clone(),
            applied_at: state::unix(applied.at),
            checked_at: state::unix(checked_at),
        };
        if let Err(e) = state::save(dir, &saved) {
            tracing::warn!(error = %e, "cannot remember the applied revision");
        }
    }

    /// Reads `inventory.json` from the state dir. Unreadable or absent: `None`, which
    /// means nothing is deleted this cycle (fail safe).
    fn load_inventory(&self) -> Option<Inventory> {
        let dir = self.cfg.state_dir.as_deref()?;
        match prune::load_inventory(dir) {
            Ok(inv) => inv,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the inventory: nothing will be deleted");
                None
            }
        }
    }

    /// Records what this revision's apply manages: every desired key, plus earlier
    /// managed keys whose delete did not land. Only called once a revision was written
    /// (or found in sync) in apply mode.
    fn save_inventory(&mut self, desired: &DesiredSet, report: Option<&ApplyReport>) {
        let Some(dir) = self.cfg.state_dir.as_deref() else {
            return;
        };
        let deleted = report.map(deleted_keys).unwrap_or_default();
        let inv = prune::next_inventory(
            &desired.revision,
            desired,
            self.inventory.as_ref(),
            &deleted,
        );
        if let Err(e) = prune::save_inventory(dir, &inv) {
            tracing::warn!(error = %e, "cannot save the inventory of managed objects");
        }
        self.inventory = Some(inv);
    }

    /// An error's text with every known secret masked.
    fn redact(&self, e: &cycle::Error, desired: Option<&DesiredSet>) -> String {
        let mut r = self.cfg.redactor.clone();
        if let Some(d) = desired {
            r.extend(&d.redactor);
        }
        r.redact(&e.to_string())
    }
}

impl Reconcile for Cycle {
    fn reconcile(
        &mut self,
        trigger: Trigger,
        stop: Arc<AtomicBool>,
    ) -> impl std::future::Future<Output = CycleResult> {
        self.run(trigger, stop)
    }
}

/// The refused data-source changes of a plan, one message.
fn refusals(plan: &Plan) -> String {
    plan.refused()
        .map(|c| format!("{} {}", c.key, crate::plan::refusal_reason(c)))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Planned writes per kind.
fn writes_by_kind(plan: &Plan) -> BTreeMap<Kind, usize> {
    let mut m: BTreeMap<Kind, usize> = Kind::ALL.iter().map(|k| (*k, 0)).collect();
    for c in plan.changes.iter().filter(|c| c.action.is_write()) {
        *m.entry(c.key.kind).or_insert(0) += 1;
    }
    m
}
