//! The cycle's side of the drift sweep ([`crate::daemon::sweep`]): what it logs when a
//! sweep starts and completes, how a plan's scope is logged, and the progress shown in
//! `/status` and the metrics.

use super::Cycle;
use crate::cycle::Planned;
use crate::daemon::sweep::{Completed, Start};
use crate::plan::PlanScope;

impl Cycle {
    /// Logs a sweep that starts, and warns (once) when it cannot fit the drift interval.
    pub(super) fn sweep_started(&self, st: Start) {
        let budget = self.sweep.budget();
        tracing::info!(
            objects = st.total,
            budget = %budget,
            estimated_seconds = st.estimate.as_secs_f64(),
            "drift sweep started"
        );
        if st.warn {
            tracing::warn!(
                objects = st.total,
                budget = %budget,
                estimated_seconds = st.estimate.as_secs_f64(),
                drift_interval_seconds = self.cfg.drift_rule.interval.as_secs_f64(),
                "the drift sweep takes longer than --drift-interval at --dry-run-budget: sweeps run back to back, at the budget"
            );
        }
    }

    /// Logs and counts a completed sweep.
    pub(super) fn sweep_completed(&self, done: Completed) {
        tracing::info!(
            objects = done.checked,
            drift_found = done.drift_found,
            seconds = done.duration.as_secs_f64(),
            "drift sweep complete"
        );
        self.cfg.shared.metrics.inc_sweeps_completed();
        // The state file remembers when the last complete check started.
        self.persist();
    }

    /// Shows the sweep's progress in `/status` and the gauges.
    pub(super) fn publish_sweep(&self) {
        let st = self.sweep.status();
        self.cfg
            .shared
            .metrics
            .set_sweep_progress(st.checked, st.total);
        self.cfg.shared.update_status(|s| s.drift_sweep = st);
    }

    /// Records what a plan that is not applied compared with Immuta (applying records the
    /// same). A failure costs only an extra comparison next time.
    pub(super) fn record_check(&self, planned: &Planned) {
        if let Err(e) = self.cfg.reconciler.record_check(planned) {
            tracing::warn!(error = %e, "cannot record the objects this plan checked");
        }
    }
}

/// Logs an incremental plan's counts at debug (a full plan that was asked to be
/// incremental is logged by the reconciler, with its reason, at info).
pub(super) fn log_scope(planned: &Planned) {
    if let PlanScope::Incremental {
        planned: n,
        carried,
        ..
    } = &planned.scope
    {
        tracing::debug!(planned = n, carried, "incremental plan");
    }
}
