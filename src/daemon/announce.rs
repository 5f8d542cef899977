//! What the daemon announces after each cycle (issue 16): turns a cycle's plan, apply
//! report, error and window verdict into [`track::Facts`], lets the tracker pick the
//! events that are news, and hands them to the [`Notifier`].
//!
//! Input: one [`Cycle`] summary per cycle. Output: queued notifications; it never waits
//! for a receiver and never fails the cycle.

use crate::apply::{ApplyReport, Outcome};
use crate::notify::track::{self, Facts, Tracker};
use crate::notify::{self, ChangeRef, Notice, Notifier, ObjectResult};
use crate::plan::{Action, Plan};
use crate::redact::Redactor;

use super::trigger::Trigger;

/// The planned action as the JSON plan writes it (`create`, `update`, `delete`, …).
fn action_name(a: Action) -> String {
    serde_json::to_value(a)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{a:?}").to_lowercase())
}

/// The writes (and refusals) of a plan.
pub fn pending(plan: &Plan) -> Vec<ChangeRef> {
    plan.changes
        .iter()
        .filter(|c| c.action.is_write() || c.action == Action::Refused)
        .map(|c| ChangeRef {
            key: c.key.to_string(),
            action: action_name(c.action),
            reason: None,
        })
        .collect()
}

/// The changes of a plan held for approval because they weaken data protection.
pub fn held(plan: &Plan) -> Vec<ChangeRef> {
    plan.held
        .iter()
        .map(|h| ChangeRef {
            key: h.key.to_string(),
            action: action_name(h.action),
            reason: Some(h.reason.clone()),
        })
        .collect()
}

/// The changes of `plan` that weaken data protection and that `report` applied.
pub fn weakening_applied(plan: &Plan, report: &ApplyReport) -> Vec<ChangeRef> {
    plan.weakening()
        .into_iter()
        .filter(|(c, _)| plan.held_of(c).is_none())
        .filter(|(c, _)| {
            report
                .results
                .iter()
                .any(|r| r.key == c.key && matches!(r.outcome, Outcome::Applied { .. }))
        })
        .map(|(c, a)| ChangeRef {
            key: c.key.to_string(),
            action: action_name(c.action),
            reason: Some(a.reason.clone()),
        })
        .collect()
}

/// Each object of an apply.
pub fn results(report: &ApplyReport) -> Vec<ObjectResult> {
    report
        .results
        .iter()
        .map(|r| {
            let (result, error) = super::status::outcome_words(&r.outcome);
            ObjectResult {
                key: r.key.to_string(),
                action: action_name(r.action),
                result: result.to_string(),
                error,
            }
        })
        .collect()
}

/// The trigger in a message's words: a timer cycle that re-planned an unchanged
/// revision is the drift check.
pub fn trigger(t: Trigger, drift_check: bool) -> notify::Trigger {
    match t {
        Trigger::Schedule | Trigger::Sweep if drift_check => notify::Trigger::DriftCheck,
        Trigger::Sweep => notify::Trigger::Interval,
        Trigger::Schedule => notify::Trigger::Interval,
        Trigger::Watch => notify::Trigger::FileChange,
        Trigger::Startup => notify::Trigger::Startup,
        Trigger::Hook => notify::Trigger::Webhook,
    }
}

/// One cycle, as announced.
#[derive(Debug, Clone)]
pub struct Cycle {
    /// Why it ran.
    pub trigger: notify::Trigger,
    /// The repository, without credentials.
    pub origin: String,
    /// The revision, when fetched.
    pub revision: Option<String>,
    /// The commit subject, when the revision is a commit.
    pub subject: Option<String>,
    /// What it found.
    pub facts: Facts,
}

/// The notifier and what it announced so far.
#[derive(Debug, Default)]
pub struct Announcer {
    notifier: Notifier,
    tracker: Tracker,
}

impl Announcer {
    /// Announces through `notifier`.
    pub fn new(notifier: Notifier) -> Self {
        Announcer {
            notifier,
            tracker: Tracker::new(),
        }
    }

    /// Queues the events of one cycle that are news; `redactor` knows every secret of
    /// the cycle (API key, Git token, templated values, receiver URLs).
    pub fn cycle(&mut self, c: Cycle, redactor: &Redactor) {
        if self.notifier.is_empty() {
            return;
        }
        let at = super::status::timestamp(std::time::SystemTime::now());
        for event in self.tracker.observe(c.facts) {
            let notice = Notice {
                event,
                trigger: c.trigger,
                origin: c.origin.clone(),
                revision: c.revision.clone(),
                subject: c.subject.clone(),
                at: at.clone(),
            };
            self.notifier.notify(&notice, redactor);
        }
    }

    /// Lets queued messages go out for at most `wait`.
    pub async fn close(self, wait: std::time::Duration) {
        self.notifier.close(wait).await;
    }
}

/// Facts of a cycle that applied everything (but what was held for approval).
pub fn applied(plan: &Plan, report: &ApplyReport) -> Facts {
    Facts {
        planned: true,
        revision: Some(plan.revision.clone()),
        applied: Some(track::AppliedFacts {
            objects: results(report),
            weakening: weakening_applied(plan, report),
        }),
        held: held(plan),
        ..Facts::default()
    }
}

#[cfg(test)]
mod tests {
    use super::super::status::tests::change;
    use super::*;
    use crate::object::{Kind, ObjectKey};
    use crate::plan::Change;

    #[test]
    fn pending_lists_writes_and_refusals_only() {
        let plan = Plan {
            origin: "o".into(),
            revision: "r".into(),
            changes: vec![
                change(Kind::Purpose, "A", Action::Create),
                change(Kind::Purpose, "B", Action::NoOp),
                change(Kind::Data, "c", Action::Refused),
                change(Kind::Policy, "d", Action::Unmanaged),
                change(Kind::Project, "e", Action::Delete),
            ],
            held: Vec::new(),
            scope: Default::default(),
        };
        let keys: Vec<String> = pending(&plan)
            .into_iter()
            .map(|c| format!("{} {}", c.action, c.key))
            .collect();
        assert_eq!(
            keys,
            ["create purpose/A", "refused data/c", "delete project/e"]
        );
    }

    #[test]
    fn held_and_written_weakening_changes_are_told_apart() {
        use crate::apply::ObjectResult as Result_;
        use crate::plan::FieldChange;
        let unack = |name: &str| Change {
            fields: vec![FieldChange {
                path: "acknowledgement".into(),
                before: Some(serde_json::json!("I will be careful.")),
                after: None,
                sensitive: false,
                note: None,
            }],
            ..change(Kind::Purpose, name, Action::Update)
        };
        let mut plan = Plan {
            origin: "o".into(),
            revision: "r".into(),
            changes: vec![unack("A"), unack("B")],
            held: Vec::new(),
            scope: Default::default(),
        };
        let key_a = ObjectKey::new(Kind::Purpose, "A");
        let held = crate::plan::risk::hold(&mut plan, &mut |c, _| c.key == key_a);
        assert_eq!(held.len(), 1);
        let report = ApplyReport {
            results: vec![
                Result_ {
                    key: key_a.clone(),
                    action: Action::Update,
                    outcome: Outcome::Applied {
                        response: serde_json::json!({}),
                    },
                },
                Result_ {
                    key: ObjectKey::new(Kind::Purpose, "B"),
                    action: Action::Update,
                    outcome: Outcome::Held {
                        reason: "held".into(),
                    },
                },
            ],
        };
        let facts = applied(&plan, &report);
        let keys = |c: &[ChangeRef]| c.iter().map(|c| c.key.clone()).collect::<Vec<_>>();
        assert_eq!(keys(&facts.held), ["purpose/B"]);
        let a = facts.applied.unwrap();
        assert_eq!(keys(&a.weakening), ["purpose/A"]);
        assert!(a.weakening[0].reason.is_some());
        assert_eq!(a.objects[1].result, "held");
    }

    #[test]
    fn triggers_in_the_words_of_a_message() {
        assert_eq!(
            trigger(Trigger::Schedule, true),
            notify::Trigger::DriftCheck
        );
        assert_eq!(trigger(Trigger::Schedule, false), notify::Trigger::Interval);
        assert_eq!(trigger(Trigger::Watch, false), notify::Trigger::FileChange);
        assert_eq!(trigger(Trigger::Hook, true), notify::Trigger::Webhook);
        // A sweep chunk is a drift check; a chunk's cycle that found a new revision
        // planned it on the timer's behalf.
        assert_eq!(trigger(Trigger::Sweep, true), notify::Trigger::DriftCheck);
        assert_eq!(trigger(Trigger::Sweep, false), notify::Trigger::Interval);
    }
}
