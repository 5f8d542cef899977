//! One daemon cycle: fetch; decide whether a plan is needed; load and plan; log the plan;
//! apply it, report drift, or do nothing; record the outcome in status, metrics and the
//! state dir.
//!
//! Input: a [`Trigger`] and the shutdown token. Output: a [`CycleResult`]. The pipeline
//! itself is [`Reconciler`]'s; the decisions are [`super::decide`]'s:
//!
//! - An unchanged revision (already planned) with no drift sweep running or due and no
//!   forcing trigger is [`CycleResult::Skipped`]: no parsing, no Immuta API call.
//! - A new revision (or a forced one) is planned with `Scope::Changed` (issue 15): only
//!   objects whose fingerprint changed since their record, new ones, and ones whose
//!   record is older than `--drift-interval` or out of sync; the reconciler falls back to
//!   a full plan when the records cannot be trusted, and the reason is logged.
//! - The drift check is a paced sweep ([`super::sweep`]): one chunk of keys per cycle,
//!   re-read with `Scope::Recheck` through a client whose dry runs wait for the
//!   `--dry-run-budget` pacer; the next chunk follows at once (`Trigger::Sweep`) unless
//!   another trigger is pending. A chunk never deletes.
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
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::announce::{self, Announcer};
use super::decide::{self, Decision, PlanFacts};
use super::hold::Holds;
use super::runner::Reconcile;
use super::schedule::DriftRule;
use super::server::Shared;
use super::status::{self, CycleResult, CycleStatus, PlanStatus};
use super::sweep::{self, Step, Sweep};
use super::trigger::Trigger;
use super::{DriftPolicy, Mode, WeakeningPolicy};
use crate::client::Budget;
use crate::cycle::{self, Planned, Reconciler, Scope};
use crate::live::Refresh;
use crate::manifest::ProcessEnv;
use crate::notify::track::{Blocked, Facts};
use crate::object::Kind;
use crate::plan::{Plan, PlanScope};
use crate::redact::Redactor;
use crate::source::{SourceId, SourceSpec};
use crate::state::AppliedState;

mod record;
mod sweeping;

use record::warn_inventory;
use sweeping::log_scope;

/// Everything a [`Cycle`] needs.
#[derive(Debug)]
pub struct CycleConfig {
    /// What to fetch.
    pub spec: SourceSpec,
    /// The pipeline: client, prune settings and state directory.
    pub reconciler: Reconciler,
    /// The same pipeline for drift-sweep chunks: its client's data-source dry runs wait
    /// for the one pacer of `--dry-run-budget` the daemon keeps for its whole life.
    pub sweeper: Reconciler,
    /// `--dry-run-budget`.
    pub budget: Budget,
    /// `--mode`.
    pub mode: Mode,
    /// `--drift`.
    pub drift: DriftPolicy,
    /// `--weakening`.
    pub weakening: WeakeningPolicy,
    /// When a drift check is due.
    pub drift_rule: DriftRule,
    /// `--interval`: how late a due sweep may start.
    pub poll: std::time::Duration,
    /// What the state dir remembered at start.
    pub saved: Option<AppliedState>,
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

/// Why a cycle failed; rendered (and redacted) only when it is logged and recorded.
#[derive(Debug)]
pub enum Failure {
    /// The pipeline stopped before the plan was complete: nothing was written.
    Cycle(cycle::Error),
    /// The plan holds refused data-source changes and nothing else could be written.
    Refused(String),
    /// The apply did not land every write.
    Incomplete {
        /// Writes that landed.
        applied: usize,
        /// Writes that failed.
        failed: usize,
        /// Objects skipped.
        skipped: usize,
        /// The first failure (or the refusals).
        first: String,
    },
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Cycle(e) => e.fmt(f),
            Failure::Refused(r) => f.write_str(r),
            Failure::Incomplete {
                applied,
                failed,
                skipped,
                first,
            } => write!(
                f,
                "apply incomplete: {applied} applied, {failed} failed, {skipped} skipped; first failure: {first}"
            ),
        }
    }
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
    /// The secrets known to the running cycle (the daemon's plus its revision's).
    secrets: Redactor,
    /// The canonical identity of the source last fetched (recorded in `state.json`).
    source: Option<SourceId>,
    /// Approval uses of weakening changes (`--weakening hold`).
    holds: Holds,
    /// What the running cycle found, for the notifications.
    facts: Facts,
    /// The commit subject of the running cycle's revision.
    subject: Option<String>,
    /// Whether the running cycle is a drift-sweep chunk.
    drift_check: bool,
    /// The drift sweep: when it is due, its chunks, its progress.
    sweep: Sweep,
    /// A sweep chunk found drift a blocked apply window kept from healing: the revision
    /// is planned again (incrementally: the records say what is out of sync) first.
    replan: bool,
    /// The objects the running cycle's plan found drifted (`kind/name`).
    found: Vec<String>,
}

/// How a cycle ended, before it is recorded.
type Ended = Result<CycleResult, Failure>;

impl Cycle {
    /// A step that has seen nothing yet except what the state dir remembered.
    pub fn new(cfg: CycleConfig) -> Self {
        let secrets = cfg.redactor.clone();
        Cycle {
            checked: None,
            applied: None,
            fetched: None,
            secrets,
            source: None,
            holds: Holds::default(),
            facts: Facts::default(),
            subject: None,
            drift_check: false,
            sweep: Sweep::new(cfg.budget, cfg.drift_rule),
            replan: false,
            found: Vec::new(),
            cfg,
        }
    }

    /// The announcer, to drain its queue at shutdown.
    pub fn into_announcer(self) -> Announcer {
        self.cfg.announcer
    }

    async fn run(&mut self, trigger: Trigger, cancel: CancellationToken) -> CycleResult {
        let started = Instant::now();
        self.fetched = None;
        self.secrets = self.cfg.redactor.clone();
        self.facts = Facts::default();
        self.subject = None;
        self.drift_check = false;
        self.found.clear();
        let span =
            tracing::info_span!("reconcile", rev = tracing::field::Empty, trigger = %trigger);
        let ended = self
            .cycle(trigger, &cancel, &span)
            .instrument(span.clone())
            .await;
        let took = started.elapsed();
        let (result, error) = match ended {
            Ok(r) => (r, None),
            Err(e) => (
                CycleResult::Failed,
                Some(self.secrets.redact(&e.to_string())),
            ),
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
        let st = shared.status();
        shared
            .metrics
            .set_sync(st.sync_healthy, st.consecutive_failures);
        self.announce(trigger, revision, error);
        // A running (or due) sweep goes on at once; any other pending trigger wins the
        // queue over it. Not after a failure (the backoff waits) or a blocked window.
        let healthy = result.is_success() && result != CycleResult::Blocked;
        if healthy && self.sweep.wants_follow_up(SystemTime::now()) {
            self.cfg.shared.triggers.request(Trigger::Sweep);
        }
        result
    }

    /// Hands what this cycle found to the announcer.
    fn announce(&mut self, trigger: Trigger, revision: Option<String>, error: Option<String>) {
        let mut facts = std::mem::take(&mut self.facts);
        // An incomplete apply left its results here; the error text is the cycle's.
        let objects = facts.failed.take().map(|(_, o)| o).unwrap_or_default();
        facts.failed = error.map(|e| (e, objects));
        let c = announce::Cycle {
            trigger: announce::trigger(trigger, self.drift_check),
            origin: self.cfg.shared.status().source.origin,
            revision,
            subject: self.subject.take(),
            facts,
        };
        self.cfg.announcer.cycle(c, &self.secrets);
    }

    async fn cycle(
        &mut self,
        trigger: Trigger,
        cancel: &CancellationToken,
        span: &tracing::Span,
    ) -> Ended {
        let snapshot = Reconciler::fetch(&self.cfg.spec)
            .await
            .map_err(Failure::Cycle)?;
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
        let started = SystemTime::now();
        let facts = sweep::Facts {
            new_revision: !planned_before || self.replan,
            forced: trigger.forces_plan(),
        };
        let step = self.sweep.step(facts, started);
        // A new revision is planned from what changed since the records of the last
        // check; a sweep chunk re-reads its keys from Immuta, every data source through V1
        // too (a change the dry run does not report still shows, issue 13), its dry runs
        // paced by the budget.
        let (reconciler, scope, refresh, chunk) = match step {
            Step::Skip => return Ok(CycleResult::Skipped),
            Step::Revision => (
                &self.cfg.reconciler,
                Scope::Changed {
                    max_age: self.sweep.record_max_age(self.cfg.poll),
                },
                Refresh::Changed,
                None,
            ),
            Step::Chunk { keys, start } => {
                if let Some(st) = start {
                    self.sweep_started(st);
                }
                (
                    &self.cfg.sweeper,
                    Scope::Recheck { keys: keys.clone() },
                    Refresh::Full,
                    Some(keys),
                )
            }
        };
        self.drift_check = chunk.is_some();
        self.publish_sweep();
        let mut planned = reconciler
            .plan_scoped(&snapshot, &ProcessEnv, refresh, scope)
            .await
            .map_err(Failure::Cycle)?;
        log_scope(&planned);
        self.secrets.extend(&planned.desired.redactor);
        for w in &planned.desired.warnings {
            tracing::warn!(warning = %self.secrets.redact(&w.to_string()), "manifest warning");
        }
        // A full plan's reason (`cycle::Note::FullPlan`) was logged by the reconciler.
        for n in planned
            .notes
            .iter()
            .filter(|n| !matches!(n, cycle::Note::FullPlan(_)))
        {
            let text = self.secrets.redact(&n.to_string());
            if n.is_warning() {
                tracing::warn!(note = %text, "prune");
            } else {
                tracing::info!(note = %text, "prune");
            }
        }
        let held = if self.cfg.mode == Mode::Apply && self.cfg.weakening == WeakeningPolicy::Hold {
            let since = self.applied.as_ref().map(|a| a.revision.clone());
            let state = self.cfg.reconciler.state();
            self.holds
                .hold(
                    state,
                    &snapshot.id,
                    snapshot.history(),
                    since,
                    &mut planned.plan,
                )
                .await
        } else {
            Vec::new()
        };
        self.record_pending(&held);
        let ended = self.after_plan(&planned, cancel).await;
        // The plan was complete: what it compared counts, whatever the apply did.
        let full = matches!(planned.scope, PlanScope::Full { .. });
        match chunk {
            None => {
                self.replan &= matches!(ended, Ok(CycleResult::Blocked));
                self.sweep
                    .revision_planned(planned.sweepable(), full, started);
                if full {
                    // A plan that read every object is a complete check.
                    self.persist();
                }
            }
            Some(keys) => {
                // Drift a blocked window kept from healing is planned again first.
                self.replan |= matches!(ended, Ok(CycleResult::Blocked));
                let found = std::mem::take(&mut self.found);
                let done = self
                    .sweep
                    .chunk_planned(&keys, found, full, SystemTime::now());
                if let Some(done) = done {
                    self.sweep_completed(done);
                }
            }
        }
        self.publish_sweep();
        ended
    }

    /// Shows the held changes in `/status` and the metric (as of this plan).
    fn record_pending(&self, held: &[crate::plan::risk::Held]) {
        let pending: Vec<status::PendingStatus> =
            held.iter().map(status::PendingStatus::from_held).collect();
        self.cfg.shared.metrics.set_pending_weakening(pending.len());
        self.cfg
            .shared
            .update_status(|s| s.pending_weakening = pending);
    }

    /// Logs the plan, then applies, reports or records it.
    async fn after_plan(&mut self, planned: &Planned, cancel: &CancellationToken) -> Ended {
        let plan = &planned.plan;
        let rev = plan.revision.clone();
        self.facts.planned = true;
        self.facts.revision = Some(rev.clone());
        self.facts.held = announce::held(plan);
        let verdict = self.cfg.shared.gate.verdict();
        let facts = PlanFacts {
            // Held changes wait for an approval: they are neither work left nor drift.
            changes: plan.has_unheld_changes(),
            refused: plan.summary().refused > 0,
            applied_before: self.applied.as_ref().is_some_and(|a| a.revision == rev),
            mode: self.cfg.mode,
            drift: self.cfg.drift,
            window_blocked: verdict.blocked,
        };
        let drift = facts.is_drift();
        self.log_plan(plan, drift);
        let plan_status = PlanStatus {
            revision: rev.clone(),
            at: status::timestamp(SystemTime::now()),
            summary: plan.summary(),
            changes_by_kind: writes_by_kind(plan),
            drift,
            drifted: if drift {
                status::drifted_objects(plan)
            } else {
                Vec::new()
            },
        };
        let drifted = plan_status.drifted.len();
        self.found = plan_status.drifted.iter().map(|d| d.key.clone()).collect();
        let names = status::drift_summary(&plan_status.drifted);
        if self.drift_check {
            // Shown with the plan that found it, in the same `/status` update.
            self.sweep.note_drift(self.found.iter().cloned());
        }
        let sweep = self.sweep.status();
        self.cfg.shared.update_status(|s| {
            s.last_plan = Some(plan_status);
            s.drift_sweep = sweep;
            if drift {
                s.drift_detected += 1;
            }
        });
        if drift {
            self.cfg.shared.metrics.inc_drift();
            tracing::warn!(
                revision = %rev,
                policy = self.cfg.drift.as_str(),
                drifted,
                objects = %self.secrets.redact(&names),
                "drift: the tenant was changed outside Git: {}",
                self.secrets.redact(&names)
            );
        }

        match decide::decide(facts) {
            Decision::Refused => {
                // Not in sync and not applied: re-planned on every trigger until allowed.
                self.set_objects(plan, None);
                self.record_check(planned);
                Err(Failure::Refused(refusals(plan)))
            }
            Decision::InSync { record_applied } => {
                self.set_objects(plan, None);
                self.mark_checked(&rev);
                if !record_applied {
                    self.record_check(planned);
                }
                if record_applied {
                    let applied = self
                        .cfg
                        .reconciler
                        .apply(planned, CancellationToken::new())
                        .await;
                    warn_inventory(&applied);
                    self.mark_applied(&rev);
                }
                Ok(CycleResult::InSync)
            }
            Decision::Report => {
                if drift {
                    self.facts.drift = announce::pending(plan);
                }
                self.set_objects(plan, None);
                self.record_check(planned);
                self.mark_checked(&rev);
                Ok(CycleResult::Reported)
            }
            Decision::Blocked => {
                self.set_objects(plan, None);
                self.record_check(planned);
                let reason = verdict.reason.unwrap_or_default();
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
                Ok(CycleResult::Blocked)
            }
            Decision::Apply => {
                if cancel.is_cancelled() {
                    return Ok(CycleResult::Interrupted);
                }
                let applied = self.cfg.reconciler.apply(planned, cancel.clone()).await;
                warn_inventory(&applied);
                self.after_apply(plan, &applied.report, cancel)
            }
        }
    }

    /// The plan as structured events: the counts, then one event per change.
    fn log_plan(&self, plan: &Plan, drift: bool) {
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
            weakening = s.weakening,
            held = s.held,
            writes.purpose = n(Kind::Purpose),
            writes.data = n(Kind::Data),
            writes.policy = n(Kind::Policy),
            writes.project = n(Kind::Project),
            refused = s.refused,
            drift,
            "plan"
        );
        plan.log_changes();
    }
}

impl Reconcile for Cycle {
    fn reconcile(
        &mut self,
        trigger: Trigger,
        cancel: CancellationToken,
    ) -> impl std::future::Future<Output = CycleResult> {
        self.run(trigger, cancel)
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
