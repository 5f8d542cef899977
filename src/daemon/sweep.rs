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
//!    withheld ([`withhold_deletes`]) and left to the next plan of a revision (a commit,
//!    or a webhook).
//! 6. When `keys × spacing` exceeds the drift interval the sweep cannot fit: the caller
//!    warns once (with the estimate), and sweeps run back to back, at the budget.

use std::collections::{BTreeSet, VecDeque};
use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::schedule::DriftRule;
use super::status::timestamp;
use crate::client::Budget;
use crate::object::ObjectKey;
use crate::plan::{Action, Plan, NOTE_WOULD_PRUNE};

/// Turns every delete of a sweep chunk's plan into an unmanaged object that prune would
/// remove (rule 5); returns the keys. The inventory keeps them, so the next plan of a
/// revision deletes them.
pub fn withhold_deletes(plan: &mut Plan) -> Vec<ObjectKey> {
    let mut withheld = Vec::new();
    for c in plan
        .changes
        .iter_mut()
        .filter(|c| c.action == Action::Delete)
    {
        c.action = Action::Unmanaged;
        c.note = Some(NOTE_WOULD_PRUNE.into());
        withheld.push(c.key.clone());
    }
    withheld
}

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
mod tests {
    use super::*;
    use crate::object::Kind;

    const S: Duration = Duration::from_secs(1);

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs)
    }

    fn keys(n: usize) -> Vec<ObjectKey> {
        (0..n)
            .map(|i| ObjectKey::new(Kind::Data, format!("conn-{i:03}")))
            .collect()
    }

    fn sweep(budget: &str, interval: Duration) -> Sweep {
        let rule = DriftRule {
            interval,
            slack: Duration::ZERO,
        };
        Sweep::new(budget.parse().unwrap(), rule)
    }

    const UNCHANGED: Facts = Facts {
        new_revision: false,
        forced: false,
    };

    fn chunk(s: &mut Sweep, now: SystemTime) -> (BTreeSet<ObjectKey>, Option<Start>) {
        match s.step(UNCHANGED, now) {
            Step::Chunk { keys, start } => (keys, start),
            other => panic!("expected a chunk, got {other:?}"),
        }
    }

    #[test]
    fn a_sweep_runs_in_sorted_chunks_of_the_budget_count_and_completes() {
        let mut s = sweep("3/min", 3600 * S);
        s.revision_planned(keys(7).into_iter().rev().collect(), true, at(0));
        assert_eq!(s.step(UNCHANGED, at(10)), Step::Skip, "checked at 0");
        assert!(!s.wants_follow_up(at(10)));
        let (first, start) = chunk(&mut s, at(3600));
        assert_eq!(
            start,
            Some(Start {
                total: 7,
                estimate: 140 * S,
                warn: false
            })
        );
        let names: Vec<&str> = first.iter().map(|k| k.name.as_str()).collect();
        assert_eq!(names, ["conn-000", "conn-001", "conn-002"]);
        assert_eq!(s.status().state, "running");
        assert_eq!(
            s.status().started_at.as_deref(),
            Some("2027-01-15T09:00:00Z")
        );
        // The chunk failed before its plan was complete: the same keys run again.
        let (again, start) = chunk(&mut s, at(3601));
        assert_eq!((again.clone(), start), (first.clone(), None));
        assert_eq!(s.chunk_planned(&first, [], false, at(3660)), None);
        assert_eq!(s.progress(), (3, 7));
        assert!(s.wants_follow_up(at(3660)));
        let (second, _) = chunk(&mut s, at(3660));
        assert_eq!(second.len(), 3);
        assert!(second.iter().all(|k| !first.contains(k)));
        s.chunk_planned(&second, ["policy/P".to_string()], false, at(3720));
        let (last, _) = chunk(&mut s, at(3720));
        assert_eq!(last.len(), 1, "at most the rest");
        let done = s.chunk_planned(&last, ["policy/P".to_string()], false, at(3740));
        assert_eq!(
            done,
            Some(Completed {
                checked: 7,
                drift_found: 1,
                duration: 140 * S
            })
        );
        let st = s.status();
        assert_eq!(
            (st.state, st.checked, st.total, st.drift_found),
            ("idle", 7, 7, 1)
        );
        assert_eq!(st.last_duration_seconds, Some(140.0));
        assert_eq!(st.budget, "3/min");
        assert_eq!(st.estimated_seconds, 140.0);
        assert_eq!(s.completed(), 1);
    }

    #[test]
    fn the_next_sweep_starts_one_interval_after_this_one_started() {
        let mut s = sweep("300/min", 600 * S);
        s.revision_planned(keys(2), false, at(0));
        // Never checked: due at once.
        let (k, start) = chunk(&mut s, at(0));
        assert_eq!(start.map(|s| s.total), Some(2));
        assert!(s.chunk_planned(&k, [], false, at(50)).is_some());
        assert_eq!(s.last_check(), Some(at(0)), "its start, not its end");
        assert_eq!(s.step(UNCHANGED, at(599)), Step::Skip);
        assert!(!s.wants_follow_up(at(599)));
        assert!(s.is_due(at(600)));
        assert!(matches!(
            s.step(UNCHANGED, at(600)),
            Step::Chunk { start: Some(_), .. }
        ));
        // A clock that went backwards makes the check due rather than never.
        let mut back = sweep("300/min", 600 * S);
        back.seed(at(100));
        assert!(back.is_due(at(50)));
    }

    #[test]
    fn an_empty_key_list_still_takes_one_chunk_for_policies_and_purposes() {
        let mut s = sweep("300/min", 60 * S);
        s.revision_planned(Vec::new(), false, at(0));
        let (k, start) = chunk(&mut s, at(0));
        assert!(k.is_empty());
        assert_eq!(start.map(|s| s.total), Some(0));
        assert!(s.is_running());
        assert!(s.chunk_planned(&k, [], false, at(1)).is_some());
        assert!(!s.is_running());
    }

    #[test]
    fn a_new_revision_or_a_hook_pre_empts_the_next_chunk_and_keeps_what_is_left() {
        let mut s = sweep("2/min", 3600 * S);
        s.revision_planned(keys(6), false, at(0));
        let (first, _) = chunk(&mut s, at(0));
        s.chunk_planned(&first, [], false, at(60));
        let new = Facts {
            new_revision: true,
            forced: false,
        };
        assert_eq!(s.step(new, at(61)), Step::Revision);
        let hook = Facts {
            new_revision: false,
            forced: true,
        };
        assert_eq!(s.step(hook, at(61)), Step::Revision);
        assert!(s.is_running(), "the sweep waits, it is not dropped");
        // The new revision removed conn-003 and added conn-100: the sweep goes on with
        // the keys it still has (conn-100 was just planned as new).
        let mut next = keys(6);
        next.retain(|k| k.name != "conn-003");
        next.push(ObjectKey::new(Kind::Project, "conn-100"));
        s.revision_planned(next, false, at(62));
        assert_eq!(s.progress(), (2, 5));
        let (second, start) = chunk(&mut s, at(62));
        assert_eq!(start, None);
        let names: Vec<&str> = second.iter().map(|k| k.name.as_str()).collect();
        assert_eq!(names, ["conn-002", "conn-004"]);
    }

    #[test]
    fn a_plan_that_read_everything_completes_the_check() {
        let mut s = sweep("1/min", 3600 * S);
        s.revision_planned(keys(3), false, at(0));
        let (first, _) = chunk(&mut s, at(0));
        assert_eq!(first.len(), 1);
        // The next revision's plan fell back to a full plan: everything was read.
        s.revision_planned(keys(3), true, at(100));
        assert!(!s.is_running());
        assert_eq!(s.last_check(), Some(at(100)));
        assert_eq!(s.step(UNCHANGED, at(200)), Step::Skip);
        // A chunk whose own plan fell back to full completes its sweep.
        let (k, _) = chunk(&mut s, at(3700));
        let done = s.chunk_planned(&k, [], true, at(3710)).unwrap();
        assert_eq!(done.checked, 3);
    }

    #[test]
    fn a_sweep_that_cannot_fit_the_interval_warns_once_with_the_estimate() {
        // 10 keys at 1/min: 10 minutes, against a 5-minute interval.
        let mut s = sweep("1/min", 300 * S);
        s.revision_planned(keys(10), false, at(0));
        let (_, start) = chunk(&mut s, at(0));
        assert_eq!(
            start,
            Some(Start {
                total: 10,
                estimate: 600 * S,
                warn: true
            })
        );
        for i in 0..10 {
            let (k, _) = chunk(&mut s, at(60 * i));
            s.chunk_planned(&k, [], false, at(60 * i + 60));
        }
        assert!(!s.is_running());
        // Back to back: the next one is due at once, and says nothing again.
        assert!(s.wants_follow_up(at(600)));
        let (_, start) = chunk(&mut s, at(600));
        assert_eq!(start.map(|s| s.warn), Some(false));
    }

    #[test]
    fn a_chunk_plan_keeps_no_delete() {
        use crate::plan::Change;
        let change = |name: &str, action| Change {
            key: ObjectKey::new(Kind::Policy, name),
            action,
            fields: Vec::new(),
            data: None,
            id: None,
            note: None,
            moved_from: None,
        };
        let mut plan = Plan {
            origin: "o".into(),
            revision: "r".into(),
            changes: vec![
                change("gone", Action::Delete),
                change("edited", Action::Update),
                change("same", Action::NoOp),
            ],
            held: Vec::new(),
            scope: Default::default(),
        };
        let withheld = withhold_deletes(&mut plan);
        assert_eq!(withheld, [ObjectKey::new(Kind::Policy, "gone")]);
        let s = plan.summary();
        assert_eq!((s.destroy, s.change, s.prunable), (0, 1, 1));
        assert!(plan.changes.iter().all(|c| c.action != Action::Delete));
    }

    #[test]
    fn keys_are_learned_from_a_plan_before_the_first_sweep() {
        let mut s = sweep("300/min", 60 * S);
        assert_eq!(s.step(UNCHANGED, at(0)), Step::Revision);
        assert!(!s.wants_follow_up(at(0)), "nothing to sweep yet");
        assert_eq!(
            s.status(),
            SweepStatus {
                state: "idle",
                budget: "300/min".into(),
                ..Default::default()
            }
        );
        s.revision_planned(keys(1), false, at(0));
        assert!(s.wants_follow_up(at(0)));
    }

    /// A sweep of 25 connections at 5/s, every key of a chunk sent at once (as the live
    /// read does, up to `--concurrency`): the shared pacer keeps any one-second window at
    /// `count + 1` dry-run starts or fewer, across chunk boundaries too.
    #[tokio::test(start_paused = true)]
    async fn the_budget_holds_across_chunks_on_a_paused_clock() {
        use crate::client::Pacer;
        use tokio::time::Instant;

        let budget: Budget = "5/s".parse().unwrap();
        let pacer = Pacer::new(budget);
        let mut s = Sweep::new(
            budget,
            DriftRule {
                interval: 3600 * S,
                slack: Duration::ZERO,
            },
        );
        s.revision_planned(keys(25), false, at(0));
        let origin = Instant::now();
        let mut starts = Vec::new();
        let mut chunks = 0;
        while let Step::Chunk { keys, .. } = s.step(UNCHANGED, at(chunks)) {
            chunks += 1;
            let runs: Vec<_> = keys
                .iter()
                .map(|_| {
                    let p = pacer.clone();
                    tokio::spawn(async move {
                        p.wait().await;
                        Instant::now() - origin
                    })
                })
                .collect();
            for r in runs {
                starts.push(r.await.unwrap());
            }
            if s.chunk_planned(&keys, [], false, at(chunks)).is_some() {
                break;
            }
        }
        assert_eq!(chunks, 5, "25 keys in chunks of 5");
        assert_eq!(starts.len(), 25);
        starts.sort();
        for from in &starts {
            let within = starts
                .iter()
                .filter(|t| **t >= *from && **t < *from + budget.per())
                .count();
            assert!(
                within <= budget.count() as usize + 1,
                "{within} dry runs in one window from {from:?}"
            );
        }
        // Paced, not merely bounded: 25 starts take 24 spacings.
        assert_eq!(starts.last().copied(), Some(budget.time_for(24)));
    }
}
