//! Which events a cycle announces: a pure function of what the cycle found and what was
//! announced before, so a state that lasts is announced once, not every cycle.
//!
//! Input: one [`Facts`] per cycle. Output: the [`Event`]s to send, in order.
//!
//! Rules:
//! - `applied`: every cycle whose apply wrote every object (each apply is news).
//! - `failed`: when a cycle fails and the previous one did not, or fails with another
//!   error text; a failure that repeats unchanged (the backoff retrying) is not resent.
//! - `drift_detected`: when drift is reported and the drifted objects differ from what
//!   was last announced.
//! - `held`: when changes are held for approval and the held set differs from the last
//!   announced one.
//! - `window_blocked`: when a window blocks writes and the blocked revision or pending
//!   set differs from the last announced one.
//! - `recovered`: when a cycle completes after a failure, or a plan finds no more drift;
//!   it names what cleared (`failed`, `drift`).
//!
//! A cycle that planned nothing (unchanged revision, no drift check due) changes nothing.
//! A failed cycle says nothing about drift, holds or windows, so it keeps their state.

use super::{ChangeRef, Event, ObjectResult};

/// What one cycle found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// The cycle planned (false: unchanged revision, no drift check due, nothing known).
    pub planned: bool,
    /// The revision planned.
    pub revision: Option<String>,
    /// An apply ran and wrote every object.
    pub applied: Option<AppliedFacts>,
    /// The cycle failed (the redacted error) and, when an apply ran, its results.
    pub failed: Option<(String, Vec<ObjectResult>)>,
    /// Drift was found and left alone.
    pub drift: Vec<ChangeRef>,
    /// Changes that weaken data protection, kept pending.
    pub held: Vec<ChangeRef>,
    /// A window blocked the writes of this plan.
    pub blocked: Option<Blocked>,
}

/// A successful apply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppliedFacts {
    /// Each object written.
    pub objects: Vec<ObjectResult>,
    /// The written changes that weaken data protection.
    pub weakening: Vec<ChangeRef>,
}

/// Writes blocked by a window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Blocked {
    /// Why.
    pub reason: String,
    /// When writes are next allowed.
    pub next_change_at: Option<String>,
    /// What waits.
    pub pending: Vec<ChangeRef>,
}

/// What was announced last, per lasting state.
#[derive(Debug, Clone, Default)]
pub struct Tracker {
    failed: Option<String>,
    drift: Option<Vec<String>>,
    held: Option<Vec<String>>,
    blocked: Option<(Option<String>, Vec<String>)>,
}

/// The identity of a set of changes: sorted `action key` lines.
fn fingerprint(changes: &[ChangeRef]) -> Vec<String> {
    let mut v: Vec<String> = changes
        .iter()
        .map(|c| format!("{} {}", c.action, c.key))
        .collect();
    v.sort();
    v
}

impl Tracker {
    /// A tracker that has announced nothing.
    pub fn new() -> Self {
        Tracker::default()
    }

    /// The events of one cycle, updating what was announced.
    pub fn observe(&mut self, f: Facts) -> Vec<Event> {
        let mut out = Vec::new();
        if let Some((error, objects)) = f.failed {
            if self.failed.as_deref() != Some(error.as_str()) {
                self.failed = Some(error.clone());
                out.push(Event::Failed { error, objects });
            }
            return out;
        }
        let mut cleared = Vec::new();
        if self.failed.take().is_some() {
            cleared.push("failed");
        }
        if !f.planned {
            push_recovered(&mut out, cleared);
            return out;
        }
        if f.drift.is_empty() && self.drift.take().is_some() {
            cleared.push("drift");
        }
        push_recovered(&mut out, cleared);
        if let Some(a) = f.applied {
            out.push(Event::Applied {
                objects: a.objects,
                weakening: a.weakening,
            });
        }
        if !f.drift.is_empty() {
            let fp = fingerprint(&f.drift);
            if self.drift.as_ref() != Some(&fp) {
                self.drift = Some(fp);
                out.push(Event::DriftDetected { objects: f.drift });
            }
        }
        if f.held.is_empty() {
            self.held = None;
        } else {
            let fp = fingerprint(&f.held);
            if self.held.as_ref() != Some(&fp) {
                self.held = Some(fp);
                out.push(Event::Held { changes: f.held });
            }
        }
        match f.blocked {
            None => self.blocked = None,
            Some(b) => {
                let fp = (f.revision, fingerprint(&b.pending));
                if self.blocked.as_ref() != Some(&fp) {
                    self.blocked = Some(fp);
                    out.push(Event::WindowBlocked {
                        reason: b.reason,
                        next_change_at: b.next_change_at,
                        pending: b.pending,
                    });
                }
            }
        }
        out
    }
}

fn push_recovered(out: &mut Vec<Event>, cleared: Vec<&'static str>) {
    if !cleared.is_empty() {
        out.push(Event::Recovered { cleared });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(key: &str) -> ChangeRef {
        ChangeRef {
            key: key.into(),
            action: "update".into(),
            reason: None,
        }
    }

    fn planned(rev: &str) -> Facts {
        Facts {
            planned: true,
            revision: Some(rev.into()),
            ..Facts::default()
        }
    }

    fn names(events: &[Event]) -> Vec<&'static str> {
        events.iter().map(Event::name).collect()
    }

    #[test]
    fn a_lasting_failure_is_announced_once_and_its_end_as_recovered() {
        let mut t = Tracker::new();
        let fail = |e: &str| Facts {
            failed: Some((e.into(), vec![])),
            ..Facts::default()
        };
        assert_eq!(names(&t.observe(fail("boom"))), ["failed"]);
        assert!(t.observe(fail("boom")).is_empty(), "unchanged error");
        assert_eq!(names(&t.observe(fail("other"))), ["failed"]);
        // An unplanned (skipped) cycle after a failure still means the fetch works again.
        let ev = t.observe(Facts::default());
        assert_eq!(
            ev,
            [Event::Recovered {
                cleared: vec!["failed"]
            }]
        );
        assert!(t.observe(planned("r1")).is_empty());
    }

    #[test]
    fn drift_is_announced_when_it_changes_and_cleared_once() {
        let mut t = Tracker::new();
        let drift = |keys: &[&str]| Facts {
            drift: keys.iter().map(|k| change(k)).collect(),
            ..planned("r1")
        };
        assert_eq!(names(&t.observe(drift(&["purpose/a"]))), ["drift_detected"]);
        assert!(t.observe(drift(&["purpose/a"])).is_empty());
        assert!(
            t.observe(Facts::default()).is_empty(),
            "skipped: nothing known"
        );
        assert_eq!(
            names(&t.observe(drift(&["purpose/b", "purpose/a"]))),
            ["drift_detected"]
        );
        // A failure in between says nothing about drift.
        t.observe(Facts {
            failed: Some(("x".into(), vec![])),
            ..Facts::default()
        });
        let ev = t.observe(planned("r1"));
        assert_eq!(
            ev,
            [Event::Recovered {
                cleared: vec!["failed", "drift"]
            }]
        );
        assert!(t.observe(planned("r1")).is_empty());
    }

    #[test]
    fn a_blocked_window_is_announced_per_revision_and_applies_always() {
        let mut t = Tracker::new();
        let blocked = |rev: &str| Facts {
            blocked: Some(Blocked {
                reason: "outside every allow window".into(),
                next_change_at: Some("2026-12-01T22:00:00Z".into()),
                pending: vec![change("purpose/a")],
            }),
            ..planned(rev)
        };
        assert_eq!(names(&t.observe(blocked("r1"))), ["window_blocked"]);
        assert!(t.observe(blocked("r1")).is_empty());
        assert_eq!(names(&t.observe(blocked("r2"))), ["window_blocked"]);
        let applied = Facts {
            applied: Some(AppliedFacts {
                objects: vec![],
                weakening: vec![],
            }),
            ..planned("r2")
        };
        assert_eq!(names(&t.observe(applied.clone())), ["applied"]);
        assert_eq!(names(&t.observe(applied)), ["applied"]);
        assert_eq!(
            names(&t.observe(blocked("r2"))),
            ["window_blocked"],
            "a new block after an open window is news"
        );
    }

    #[test]
    fn held_changes_are_announced_when_the_set_changes() {
        let mut t = Tracker::new();
        let held = |keys: &[&str]| Facts {
            held: keys.iter().map(|k| change(k)).collect(),
            applied: Some(AppliedFacts::default()),
            ..planned("r1")
        };
        assert_eq!(names(&t.observe(held(&["policy/a"]))), ["applied", "held"]);
        assert_eq!(names(&t.observe(held(&["policy/a"]))), ["applied"]);
        assert_eq!(names(&t.observe(held(&[]))), ["applied"]);
        assert_eq!(names(&t.observe(held(&["policy/a"]))), ["applied", "held"]);
    }
}
