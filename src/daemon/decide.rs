//! The daemon's decision table, as pure functions of literal facts: whether a cycle
//! plans at all, what it does with a plan, and how an apply ended. [`super::reconcile`]
//! gathers the facts and carries the decisions out; nothing here does I/O.
//!
//! | facts                                                   | decision          |
//! |---------------------------------------------------------|-------------------|
//! | revision planned before, no drift sweep running or due, not forced | skip   |
//! | no changes, refused data-source changes                 | fail (refused)    |
//! | no changes                                              | in sync (+ record applied in `apply` mode) |
//! | changes, `plan-only`                                    | report (fail when refused) |
//! | changes, revision already applied, `--drift report`     | report (drift)    |
//! | changes, new revision or `--drift heal`, `apply`, an apply window blocks writes | blocked |
//! | changes, new revision or `--drift heal`, `apply`        | apply             |

use super::{DriftPolicy, Mode};

/// Whether a cycle plans: not when this revision was planned before, no drift check is
/// due and the trigger does not force a plan (only a webhook does).
pub fn needs_plan(planned_before: bool, drift_due: bool, forced: bool) -> bool {
    !planned_before || drift_due || forced
}

/// What a cycle knows once its plan is complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanFacts {
    /// The plan has writes.
    pub changes: bool,
    /// The plan holds refused data-source changes.
    pub refused: bool,
    /// This revision was applied completely (or found in sync) before.
    pub applied_before: bool,
    /// `--mode`.
    pub mode: Mode,
    /// `--drift`.
    pub drift: DriftPolicy,
    /// An apply window blocks writes now (`--apply-window`, issue 16).
    pub window_blocked: bool,
}

impl PlanFacts {
    /// Drift: changes for a revision that was already applied (the tenant changed outside
    /// Git).
    pub fn is_drift(&self) -> bool {
        self.changes && self.applied_before
    }
}

/// What a cycle does with a complete plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Fail with the refusals; record nothing (re-planned on every trigger until allowed).
    Refused,
    /// In sync: record the revision as checked, and with `record_applied` (apply mode)
    /// also as applied, with its inventory.
    InSync {
        /// Record the revision as applied and save the inventory.
        record_applied: bool,
    },
    /// Log the plan and record the revision as checked; write nothing.
    Report,
    /// Apply the plan.
    Apply,
    /// Would apply, but an apply window blocks writes: write nothing and record nothing
    /// (planned again on the next trigger, so the window's opening applies it).
    Blocked,
}

/// The decision for a complete plan.
pub fn decide(f: PlanFacts) -> Decision {
    if !f.changes {
        if f.refused {
            return Decision::Refused;
        }
        return Decision::InSync {
            record_applied: f.mode == Mode::Apply,
        };
    }
    let write = f.mode == Mode::Apply && (!f.is_drift() || f.drift == DriftPolicy::Heal);
    match (write, f.refused) {
        (true, _) if f.window_blocked => Decision::Blocked,
        (true, _) => Decision::Apply,
        (false, true) => Decision::Refused,
        (false, false) => Decision::Report,
    }
}

/// How an apply ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplyEnd {
    /// Every write landed.
    Applied,
    /// Shutdown stopped it before every object started; nothing failed.
    Interrupted,
    /// Something failed or was skipped: the cycle fails.
    Incomplete,
}

/// The end of an apply from its counts and whether shutdown was requested.
pub fn apply_end(success: bool, failed: usize, cancelled: bool) -> ApplyEnd {
    if success {
        ApplyEnd::Applied
    } else if failed == 0 && cancelled {
        ApplyEnd::Interrupted
    } else {
        ApplyEnd::Incomplete
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use DriftPolicy::{Heal, Report};
    use Mode::{Apply, PlanOnly};

    #[test]
    fn a_cycle_plans_unless_nothing_new_is_due() {
        // (planned before, drift due, forced) → plans
        let table = [
            (false, false, false, true),
            (true, false, false, false),
            (true, true, false, true),
            (true, false, true, true),
            (false, true, true, true),
        ];
        for (before, due, forced, want) in table {
            assert_eq!(
                needs_plan(before, due, forced),
                want,
                "{before} {due} {forced}"
            );
        }
    }

    #[test]
    fn the_decision_table() {
        let f = |changes, refused, applied_before, mode, drift| PlanFacts {
            changes,
            refused,
            applied_before,
            mode,
            drift,
            window_blocked: false,
        };
        let in_sync = |record_applied| Decision::InSync { record_applied };
        // (changes, refused, applied before, mode, drift) → decision
        let table = [
            (f(false, false, false, Apply, Report), in_sync(true)),
            (f(false, false, true, Apply, Heal), in_sync(true)),
            (f(false, false, true, PlanOnly, Report), in_sync(false)),
            (f(false, true, false, Apply, Report), Decision::Refused),
            (f(false, true, true, PlanOnly, Heal), Decision::Refused),
            (f(true, false, false, Apply, Report), Decision::Apply),
            (f(true, true, false, Apply, Report), Decision::Apply),
            (f(true, false, true, Apply, Report), Decision::Report),
            (f(true, true, true, Apply, Report), Decision::Refused),
            (f(true, false, true, Apply, Heal), Decision::Apply),
            (f(true, false, false, PlanOnly, Heal), Decision::Report),
            (f(true, true, false, PlanOnly, Report), Decision::Refused),
            (f(true, false, true, PlanOnly, Heal), Decision::Report),
        ];
        for (facts, want) in table {
            assert_eq!(decide(facts), want, "{facts:?}");
        }
    }

    #[test]
    fn a_blocking_window_stops_only_what_would_write() {
        let f = |changes, refused, applied_before, mode, drift| PlanFacts {
            changes,
            refused,
            applied_before,
            mode,
            drift,
            window_blocked: true,
        };
        let table = [
            (f(true, false, false, Apply, Report), Decision::Blocked),
            (f(true, true, false, Apply, Report), Decision::Blocked),
            (f(true, false, true, Apply, Heal), Decision::Blocked),
            (f(true, false, true, Apply, Report), Decision::Report),
            (f(true, false, false, PlanOnly, Report), Decision::Report),
            (
                f(false, false, false, Apply, Report),
                Decision::InSync {
                    record_applied: true,
                },
            ),
            (f(false, true, false, Apply, Report), Decision::Refused),
        ];
        for (facts, want) in table {
            assert_eq!(decide(facts), want, "{facts:?}");
        }
    }

    #[test]
    fn drift_is_changes_to_an_applied_revision() {
        let f = |changes, applied_before| PlanFacts {
            changes,
            refused: false,
            applied_before,
            mode: Apply,
            drift: Report,
            window_blocked: false,
        };
        assert!(f(true, true).is_drift());
        assert!(!f(true, false).is_drift());
        assert!(!f(false, true).is_drift());
    }

    #[test]
    fn how_an_apply_ends() {
        assert_eq!(apply_end(true, 0, false), ApplyEnd::Applied);
        assert_eq!(apply_end(true, 0, true), ApplyEnd::Applied);
        assert_eq!(apply_end(false, 0, true), ApplyEnd::Interrupted);
        assert_eq!(apply_end(false, 1, true), ApplyEnd::Incomplete);
        assert_eq!(apply_end(false, 0, false), ApplyEnd::Incomplete);
    }
}
