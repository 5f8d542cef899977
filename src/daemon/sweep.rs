//! The paced drift sweep (issue 15): the full comparison of an applied revision with the
//! tenant, spread over cycles so a tenant of thousands of connections never sends a burst
//! of warehouse queries.
//!
//! Input: the keys a sweep must re-read (data sources and projects, from the last plan),
//! the [`Budget`] of data-source dry runs, the [`DriftRule`] and the times the caller
//! passes in. Output: a [`Step`] per cycle and the progress for `/status` and metrics.
//! This module never sleeps, never reads a clock and never does I/O; the cycle
//! ([`super::reconcile`]) carries its steps out through a reconciler whose client waits
//! for one [`crate::client::Pacer`] shared by every chunk.
//!
//! Rules:
//! 1. A new revision (or a forced plan, or a re-plan a blocked chunk left behind) is
//!    planned before the next chunk: a commit waits at most one chunk.
//! 2. A sweep starts when one is due: `--drift-interval` after the last complete check
//!    **started** (a sweep, or a plan that read every object). It covers the keys of the
//!    last plan, sorted, in chunks of `budget.count()` keys (what the budget allows in
//!    about one window), at least one chunk: policies and purposes come whole from the
//!    bulk lists in every chunk, so an empty key list still needs one.
//! 3. A chunk counts once its plan is complete; a chunk whose plan failed runs again.
//! 4. A new revision planned mid-sweep keeps the remaining keys it still has (its new and
//!    changed objects were just planned); a plan that read every object completes the
//!    check, and the running sweep is dropped.
//! 5. A chunk never deletes: a chunk plan that fell back to a full one may hold prune's
//!    deletes (a managed key that left Git, whose delete did not land); they are
//!    withheld by the reconciler ([`crate::plan::prune::withhold_deletes`]) and left to
//!    the next plan of a revision (a commit, or a webhook).
//! 6. An incremental plan of a new revision trusts a record for one sweep period
//!    ([`Sweep::record_max_age`]): the sweep, not the commit, renews old records.
//! 7. When `keys × spacing` exceeds the drift interval the sweep cannot fit: the caller
//!    warns once (with the estimate), and sweeps run back to back, at the budget.

use std::collections::{BTreeSet, VecDeque};
use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::schedule::DriftRule;
use super::status::timestamp;
use crate::client::Budget;
use crate::object::ObjectKey;

/// What the cycle knows before it decides what to plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts {
    /// The fetched revision was not planned completely before (or must be planned again).
    pub new_revision: bool,
    /// The trigger forces a plan (a webhook).
    pub forced: bool,
}

/// What a cycle plans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Nothing is due: no plan, no API call.
    Skip,
    /// Plan the revision incrementally (`Scope::Changed`).
    Revision,
    /// Plan the next chunk of the running sweep (`Scope::Recheck`).
    Chunk {
        /// The keys re-read from Immuta in this chunk.
        keys: BTreeSet<ObjectKey>,
        /// Set when this chunk starts a sweep.
        start: Option<Start>,
    },
}

/// A sweep that starts now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Start {
    /// Keys to re-read.
    pub total: usize,
    /// The least time the sweep takes at the budget.
    pub estimate: Duration,
    /// The sweep cannot fit the drift interval and this was not said before: warn.
    pub warn: bool,
}

/// A sweep that just completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Completed {
    /// Keys re-read.
    pub checked: usize,
    /// Distinct objects found drifted.
    pub drift_found: usize,
    /// From its start to its last chunk.
    pub duration: Duration,
}

#[derive(Debug, Clone)]
struct Run {
    started_at: SystemTime,
    remaining: VecDeque<ObjectKey>,
    checked: usize,
    chunks: usize,
    drifted: BTreeSet<String>,
}

#[derive(Debug, Clone, Copy)]
struct Done {
    at: SystemTime,
    duration: Duration,
    drift_found: usize,
}

/// The sweep's state for one daemon.
#[derive(Debug, Clone)]
pub struct Sweep {
    budget: Budget,
    rule: DriftRule,
    /// The keys of the last complete plan (`None`: nothing planned by this process yet).
    keys: Option<Vec<ObjectKey>>,
    run: Option<Run>,
    /// When the last complete check started.
    last_start: Option<SystemTime>,
    last: Option<Done>,
    completed: u64,
    warned: bool,
}

/// `drift_sweep` in `/status`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SweepStatus {
    /// `idle` or `running`.
    pub state: &'static str,
    /// When the running sweep started (RFC 3339).
    pub started_at: Option<String>,
    /// Keys the running sweep has re-read (the last sweep's count when idle).
    pub checked: usize,
    /// Keys the running sweep covers (the last plan's count when idle).
    pub total: usize,
    /// `--dry-run-budget`.
    pub budget: String,
    /// The least time a sweep of `total` keys takes at the budget.
    pub estimated_seconds: f64,
    /// When the last sweep completed.
    pub last_completed_at: Option<String>,
    /// How long it took.
    pub last_duration_seconds: Option<f64>,
    /// Distinct objects found drifted by the running sweep (the last one's when idle).
    pub drift_found: usize,
}

impl Sweep {
    /// An idle sweep with no check yet.
    pub fn new(budget: Budget, rule: DriftRule) -> Sweep {
        Sweep {
            budget,
            rule,
            keys: None,
            run: None,
            last_start: None,
            last: None,
            completed: 0,
            warned: false,
        }
    }

    /// Remembers when the last complete check started (from the state file).
    pub fn seed(&mut self, last_check: SystemTime) {
        self.last_start = Some(last_check);
    }

    /// The budget.
    pub fn budget(&self) -> Budget {
        self.budget
    }

    /// Whether a sweep is in progress.
    pub fn is_running(&self) -> bool {
        self.run.is_some()
    }

    /// Sweeps completed since start.
    pub fn completed(&self) -> u64 {
        self.completed
    }

    /// When the last complete check started.
    pub fn last_check(&self) -> Option<SystemTime> {
        self.last_start
    }

    /// Whether a new sweep is due at `now` (none runs, and the interval since the last
    /// check's start is over; a clock that went backwards makes it due).
    pub fn is_due(&self, now: SystemTime) -> bool {
        self.run.is_none()
            && self
                .rule
                .is_due(self.last_start.and_then(|s| now.duration_since(s).ok()))
    }

    /// Whether the cycle after this one should run at once: a sweep is running or due
    /// (and the keys it covers are known).
    pub fn wants_follow_up(&self, now: SystemTime) -> bool {
        self.run.is_some() || (self.keys.is_some() && self.is_due(now))
    }

    /// How old an object's record may be and still be carried by an incremental plan of
    /// a new revision: the drift interval, plus the sweep's own time at the budget, plus
    /// one poll (a due sweep starts on the next tick). A sweep renews every record once
    /// per that period; a shorter limit would make commits re-read, unpaced, the objects
    /// the running sweep has not reached yet.
    pub fn record_max_age(&self, poll: Duration) -> Duration {
        let keys = self.keys.as_ref().map_or(0, Vec::len);
        self.rule
            .interval
            .saturating_add(self.budget.time_for(keys))
            .saturating_add(poll)
    }

    /// How many keys a chunk re-reads: what the budget allows in one window.
    pub fn chunk_size(&self) -> usize {
        usize::try_from(self.budget.count())
            .unwrap_or(usize::MAX)
            .max(1)
    }

    /// What this cycle plans (rule 1 and 2). Starting a sweep is part of the step.
    pub fn step(&mut self, f: Facts, now: SystemTime) -> Step {
        let check_due = self.run.is_some() || self.is_due(now);
        if !super::decide::needs_plan(!f.new_revision, check_due, f.forced) {
            return Step::Skip;
        }
        if f.new_revision || f.forced {
            return Step::Revision;
        }
        if self.run.is_none() && self.is_due(now) {
            let Some(keys) = self.keys.clone() else {
                // Nothing planned by this process yet: learn the keys first.
                return Step::Revision;
            };
            let estimate = self.budget.time_for(keys.len());
            let fits = estimate <= self.rule.interval;
            let warn = !fits && !self.warned;
            self.warned |= warn;
            let total = keys.len();
            self.run = Some(Run {
                started_at: now,
                remaining: keys.into(),
                checked: 0,
                chunks: 0,
                drifted: BTreeSet::new(),
            });
            return Step::Chunk {
                keys: self.next_keys(),
                start: Some(Start {
                    total,
                    estimate,
                    warn,
                }),
            };
        }
        if self.run.is_some() {
            return Step::Chunk {
                keys: self.next_keys(),
                start: None,
            };
        }
        Step::Skip
    }

    fn next_keys(&self) -> BTreeSet<ObjectKey> {
        self.run
            .as_ref()
            .map(|r| {
                r.remaining
                    .iter()
                    .take(self.chunk_size())
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A plan of the revision completed (rule 4): `keys` is what a sweep of it covers,
    /// `full` whether it read every object. `started` is when that plan began.
    pub fn revision_planned(&mut self, keys: Vec<ObjectKey>, full: bool, started: SystemTime) {
        let mut keys = keys;
        keys.sort();
        keys.dedup();
        if full {
            self.run = None;
            self.last_start = Some(started);
        } else if let Some(run) = &mut self.run {
            let now: BTreeSet<&ObjectKey> = keys.iter().collect();
            run.remaining.retain(|k| now.contains(k));
        }
        self.keys = Some(keys);
    }

    /// Counts objects the running sweep found drifted (`kind/name`; each once).
    pub fn note_drift(&mut self, drifted: impl IntoIterator<Item = String>) {
        if let Some(run) = &mut self.run {
            run.drifted.extend(drifted);
        }
    }

    /// The plan of the chunk `keys` completed (rule 3); `drifted` names what it found
    /// changed outside Git, `full` says the plan read every object (the check is then
    /// complete). Returns the sweep when this was its last chunk.
    pub fn chunk_planned(
        &mut self,
        keys: &BTreeSet<ObjectKey>,
        drifted: impl IntoIterator<Item = String>,
        full: bool,
        now: SystemTime,
    ) -> Option<Completed> {
        let run = self.run.as_mut()?;
        let before = run.remaining.len();
        run.remaining.retain(|k| !keys.contains(k));
        run.checked += before - run.remaining.len();
        run.chunks += 1;
        run.drifted.extend(drifted);
        if full {
            run.checked += run.remaining.len();
            run.remaining.clear();
        }
        if !run.remaining.is_empty() {
            return None;
        }
        let run = self.run.take()?;
        let duration = now.duration_since(run.started_at).unwrap_or_default();
        self.last_start = Some(run.started_at);
        self.completed += 1;
        self.last = Some(Done {
            at: now,
            duration,
            drift_found: run.drifted.len(),
        });
        Some(Completed {
            checked: run.checked,
            drift_found: run.drifted.len(),
            duration,
        })
    }

    /// `(checked, total)` of the running sweep, or of the last one when idle.
    pub fn progress(&self) -> (usize, usize) {
        match &self.run {
            Some(r) => (r.checked, r.checked + r.remaining.len()),
            None => {
                let total = self.keys.as_ref().map_or(0, Vec::len);
                (if self.last.is_some() { total } else { 0 }, total)
            }
        }
    }

    /// The progress for `/status`.
    pub fn status(&self) -> SweepStatus {
        let (checked, total) = self.progress();
        SweepStatus {
            state: if self.run.is_some() {
                "running"
            } else {
                "idle"
            },
            started_at: self.run.as_ref().map(|r| timestamp(r.started_at)),
            checked,
            total,
            budget: self.budget.to_string(),
            estimated_seconds: self.budget.time_for(total).as_secs_f64(),
            last_completed_at: self.last.map(|d| timestamp(d.at)),
            last_duration_seconds: self.last.map(|d| d.duration.as_secs_f64()),
            drift_found: match &self.run {
                Some(r) => r.drifted.len(),
                None => self.last.map_or(0, |d| d.drift_found),
            },
        }
    }
}

#[cfg(test)]
mod tests;
