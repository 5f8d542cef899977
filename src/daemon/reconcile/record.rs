//! What a cycle records: how an apply ended, the object gauges, the revisions checked
//! and applied, the state file, and the inventory warnings. Split from [`super`] along the "after the plan" seam.

use std::time::SystemTime;

use tokio_util::sync::CancellationToken;

use super::{refusals, Cycle, Ended, Failure, Mark};
use crate::apply::{ApplyReport, Outcome};
use crate::cycle;
use crate::daemon::announce;
use crate::daemon::decide::{self, ApplyEnd};
use crate::daemon::status::{self, ApplyStatus, CycleResult};
use crate::plan::Plan;
use crate::source::SourceId;
use crate::state::{applied, AppliedState};

impl Cycle {
    /// Records how an apply ended: `/status`, the object gauges, the marks; an
    /// incomplete apply fails the cycle with its first failure.
    pub(super) fn after_apply(
        &mut self,
        plan: &Plan,
        report: &ApplyReport,
        cancel: &CancellationToken,
    ) -> Ended {
        let rev = &plan.revision;
        let redactor = &self.secrets;
        // Each object's result was logged once by apply, as it landed.
        let mut st = ApplyStatus::from_report(rev, SystemTime::now(), report);
        for o in &mut st.results {
            o.error = o.error.as_deref().map(|e| redactor.redact(e));
        }
        self.cfg.shared.update_status(|s| s.last_apply = Some(st));
        self.set_objects(plan, Some(report));
        let (applied, failed, skipped) = report.counts();
        let done = announce::applied(plan, report).applied;
        match decide::apply_end(report.is_success_but_held(), failed, cancel.is_cancelled()) {
            ApplyEnd::Applied => {
                self.facts.applied = done;
                self.mark_checked(rev);
                self.mark_applied(rev);
                Ok(CycleResult::Applied)
            }
            ApplyEnd::Interrupted => {
                tracing::warn!(
                    applied,
                    skipped,
                    "apply stopped by shutdown; the next start converges"
                );
                Ok(CycleResult::Interrupted)
            }
            ApplyEnd::Incomplete => {
                // The error text is filled in when the cycle is recorded.
                self.facts.failed = done.map(|a| (String::new(), a.objects));
                let first = report
                    .results
                    .iter()
                    .find_map(|r| match &r.outcome {
                        Outcome::Failed { error } => {
                            Some(format!("{}: {}", r.key, redactor.redact(error)))
                        }
                        _ => None,
                    })
                    .or_else(|| (plan.summary().refused > 0).then(|| refusals(plan)));
                Err(Failure::Incomplete {
                    applied,
                    failed,
                    skipped,
                    first: first.unwrap_or_default(),
                })
            }
        }
    }

    pub(super) fn set_objects(&self, plan: &Plan, report: Option<&ApplyReport>) {
        self.cfg
            .shared
            .metrics
            .set_objects(&status::object_states(plan, report));
    }

    /// Forgets the remembered state when it belongs to another source.
    pub(super) fn adopt_saved(&mut self, source: &SourceId) {
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
            at: applied::from_unix(saved.applied_at),
        });
        self.checked = Some(Mark {
            revision: saved.revision,
            at: applied::from_unix(saved.checked_at),
        });
        self.sweep.seed(applied::from_unix(saved.checked_at));
    }

    pub(super) fn mark_checked(&mut self, rev: &str) {
        self.checked = Some(Mark {
            revision: rev.to_string(),
            at: SystemTime::now(),
        });
        self.persist();
    }

    pub(super) fn mark_applied(&mut self, rev: &str) {
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
    pub(super) fn persist(&self) {
        let (Some(dir), Some(applied)) = (self.cfg.reconciler.state(), &self.applied) else {
            return;
        };
        // When the last complete check started: a sweep or a plan that read everything.
        let checked_at = match (&self.checked, self.sweep.last_check()) {
            (Some(c), Some(at)) if c.revision == applied.revision => at,
            _ => applied.at,
        };
        let origin = self.cfg.shared.status().source.origin;
        let saved = AppliedState {
            version: applied::VERSION,
            origin,
            source: self.source.clone(),
            path: self.cfg.spec.path.clone(),
            revision: applied.revision.clone(),
            applied_at: applied::unix(applied.at),
            checked_at: applied::unix(checked_at),
        };
        if let Err(e) = dir.save_applied(&saved) {
            tracing::warn!(error = %e, "cannot remember the applied revision");
        }
    }
}

/// A failed inventory save is logged, not fatal: the next apply writes it again, and
/// until then nothing is deleted that the old inventory does not list.
pub(super) fn warn_inventory(applied: &cycle::Applied) {
    if let Some(e) = &applied.inventory_error {
        tracing::warn!(error = %e, "cannot save the inventory of managed objects");
    }
    if let Some(e) = &applied.digests_error {
        tracing::warn!(error = %e, "cannot save the credential digests: the next plan cannot compare them");
    }
}
