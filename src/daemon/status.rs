//! The daemon's view of itself, served as `GET /status`, with its sync health (also the
//! `immuta_gitops_sync_healthy` gauge). `GET /readyz` does not read it: readiness means
//! "serving" (see [`super::server`]), so a failing sync never takes the pod out of the
//! Service while a webhook is what would fix it.
//!
//! Input: what the loop records after each cycle (plans, apply reports, errors). Output:
//! [`Status`] (serialized as JSON) and [`object_states`] for the `objects` gauge. Holds no
//! secret: error texts are redacted before they get here, plans are summarized as counts
//! and apply results carry keys, actions and redacted errors only — never a payload.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::apply::{ApplyReport, Outcome};
use crate::object::Kind;
use crate::plan::{Action, Plan, Summary};

/// The sync is unhealthy once this many cycles in a row failed.
pub const FAILURES_UNTIL_UNHEALTHY: u32 = 3;

/// How one cycle ended; also the `result` label of `immuta_gitops_reconcile_total`.
/// serde (`/status`) and strum (labels, logs) both spell it snake_case; a test pins both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[derive(strum::IntoStaticStr, strum::VariantArray)]
#[strum(serialize_all = "snake_case")]
pub enum CycleResult {
    /// Writes were sent and all succeeded.
    Applied,
    /// A plan was made and had nothing to write.
    InSync,
    /// Unchanged revision and no drift check due: nothing planned, no API call.
    Skipped,
    /// The plan had changes that were left alone (`--drift report` or `--mode plan-only`).
    Reported,
    /// Fetch, load, plan or some write failed.
    Failed,
    /// Shutdown stopped the apply before every object was written.
    Interrupted,
    /// The plan had changes and an apply window kept them back (issue 16).
    Blocked,
}

impl CycleResult {
    /// Every result, for zero-initialised metric series.
    pub const ALL: &'static [CycleResult] = <CycleResult as strum::VariantArray>::VARIANTS;

    /// The label / JSON value.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Whether the cycle counts as a successful sync for readiness.
    pub fn is_success(self) -> bool {
        !matches!(self, CycleResult::Failed | CycleResult::Interrupted)
    }
}

/// The state label of `immuta_gitops_objects`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[derive(strum::IntoStaticStr, strum::VariantArray)]
#[strum(serialize_all = "snake_case")]
pub enum ObjectState {
    /// Live equals Git (after this cycle's writes).
    InSync,
    /// Live differs from Git and was not written this cycle.
    Drifted,
    /// A write failed or was skipped.
    Failed,
}

impl ObjectState {
    /// Every state.
    pub const ALL: &'static [ObjectState] = <ObjectState as strum::VariantArray>::VARIANTS;

    /// The label value.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// Objects per (kind, state) after a plan and, when one ran, its apply. Every pair is
/// present (zeros included) so gauge series do not appear and vanish. Unmanaged live
/// objects, and objects this apply deleted, are not counted.
pub fn object_states(
    plan: &Plan,
    report: Option<&ApplyReport>,
) -> BTreeMap<(Kind, ObjectState), i64> {
    let mut out = BTreeMap::new();
    for &k in Kind::ALL {
        for &s in ObjectState::ALL {
            out.insert((k, s), 0);
        }
    }
    for c in &plan.changes {
        let state = match c.action {
            Action::Unmanaged => continue,
            Action::NoOp => ObjectState::InSync,
            Action::Refused => ObjectState::Failed,
            Action::Create | Action::Update | Action::Delete => match report {
                None => ObjectState::Drifted,
                Some(r) => match r
                    .results
                    .iter()
                    .find(|o| o.key == c.key)
                    .map(|o| &o.outcome)
                {
                    // A deleted object is gone: nothing left to count.
                    Some(Outcome::Applied { .. }) if c.action == Action::Delete => continue,
                    Some(Outcome::Applied { .. }) => ObjectState::InSync,
                    Some(Outcome::Failed { .. } | Outcome::Skipped { .. }) => ObjectState::Failed,
                    // Held for approval: live still differs from Git, and nothing failed.
                    Some(Outcome::Held { .. }) => ObjectState::Drifted,
                    None => ObjectState::Drifted,
                },
            },
        };
        *out.entry((c.key.kind, state)).or_insert(0) += 1;
    }
    out
}

/// RFC 3339 UTC, seconds precision. Times outside what RFC 3339 can write (before 1970
/// or after 9999, e.g. from a damaged state file) are clamped to its range: humantime's
/// `Display` fails on them, and `to_string` would panic.
pub fn timestamp(t: SystemTime) -> String {
    const LAST: Duration = Duration::from_secs(253_402_300_799); // 9999-12-31T23:59:59Z
    let since = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    let t = SystemTime::UNIX_EPOCH + since.min(LAST);
    humantime::format_rfc3339_seconds(t).to_string()
}

/// Where the manifests come from.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SourceStatus {
    /// Repository without credentials.
    pub origin: String,
    /// `--ref`, when pinned.
    pub reference: Option<String>,
    /// `--path`, when set.
    pub path: Option<String>,
    /// The revision seen by the last successful fetch.
    pub revision: Option<String>,
}

/// The daemon's settings (no secret: only whether a webhook secret is configured).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Settings {
    /// `apply` or `plan-only`.
    pub mode: String,
    /// `report` or `heal`.
    pub drift: String,
    /// `hold` or `allow`: what happens to changes that weaken data protection.
    pub weakening: String,
    /// Poll interval.
    pub interval_seconds: f64,
    /// Drift-check interval.
    pub drift_interval_seconds: f64,
    /// Jitter, percent of the interval.
    pub jitter_percent: f64,
    /// Whether `POST /hook` is enabled.
    pub webhook: bool,
    /// Whether local file changes trigger cycles.
    pub watch: bool,
    /// How many `--notify` receivers are configured (their URLs are never shown).
    pub notify_receivers: usize,
}

/// The apply windows now (issue 16), computed when `/status` is read.
#[derive(Debug, Clone, Default, Serialize)]
pub struct WindowStatus {
    /// Every window as configured (`allow 0 22 * * 1-5 4h`).
    pub windows: Vec<String>,
    /// The time zone of their cron expressions.
    pub time_zone: String,
    /// Whether writes are blocked now.
    pub writes_blocked: bool,
    /// Why, when blocked.
    pub reason: Option<String>,
    /// When `writes_blocked` next changes (RFC 3339), if within about a year.
    pub next_change_at: Option<String>,
}

/// One change held for approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PendingStatus {
    /// `kind/name`.
    pub key: String,
    /// What apply would do.
    pub action: Action,
    /// Why it weakens data protection.
    pub reason: String,
}

impl PendingStatus {
    /// The status entry of a held change.
    pub fn from_held(h: &crate::plan::risk::Held) -> Self {
        PendingStatus {
            key: h.key.to_string(),
            action: h.action,
            reason: h.reason.clone(),
        }
    }
}

/// The last plan, as counts.
#[derive(Debug, Clone, Serialize)]
pub struct PlanStatus {
    /// The planned revision.
    pub revision: String,
    /// When it was made.
    pub at: String,
    /// Counts per action.
    pub summary: Summary,
    /// Writes planned per kind.
    pub changes_by_kind: BTreeMap<Kind, usize>,
    /// The revision was already applied, so the changes are drift made outside Git.
    pub drift: bool,
    /// When `drift`: the objects that differ from the applied revision (empty otherwise).
    pub drifted: Vec<DriftedObject>,
}

/// One object changed outside Git since its revision was applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DriftedObject {
    /// `kind/name`.
    pub key: String,
    /// What the plan would do to bring it back to Git.
    pub action: Action,
}

/// The objects of a drift plan: every write and every refused update (all of them
/// differ from Git), in plan order.
pub fn drifted_objects(plan: &Plan) -> Vec<DriftedObject> {
    plan.changes
        .iter()
        .filter(|c| c.action.is_write() || c.action == Action::Refused)
        .map(|c| DriftedObject {
            key: c.key.to_string(),
            action: c.action,
        })
        .collect()
}

/// At most this many names go into the drift warning's `objects` field; the rest are
/// counted (`/status` lists all).
pub const DRIFT_NAMES_LOGGED: usize = 20;

/// The JSON plan's word for an action.
fn action_word(a: Action) -> &'static str {
    match a {
        Action::Create => "create",
        Action::Update => "update",
        Action::NoOp => "no-op",
        Action::Unmanaged => "unmanaged",
        Action::Delete => "delete",
        Action::Refused => "refused",
    }
}

/// The drift warning's `objects` field: `kind/name (action)`, comma-separated, at most
/// [`DRIFT_NAMES_LOGGED`] of them, then `and N more`.
pub fn drift_summary(drifted: &[DriftedObject]) -> String {
    let mut parts: Vec<String> = drifted
        .iter()
        .take(DRIFT_NAMES_LOGGED)
        .map(|d| format!("{} ({})", d.key, action_word(d.action)))
        .collect();
    if drifted.len() > DRIFT_NAMES_LOGGED {
        parts.push(format!("and {} more", drifted.len() - DRIFT_NAMES_LOGGED));
    }
    parts.join(", ")
}

/// One object of the last apply.
#[derive(Debug, Clone, Serialize)]
pub struct ObjectStatus {
    /// `kind/name`.
    pub key: String,
    /// The planned action.
    pub action: Action,
    /// `applied`, `failed` or `skipped`.
    pub result: &'static str,
    /// Immuta's message (redacted) or why it was skipped.
    pub error: Option<String>,
}

/// The last apply.
#[derive(Debug, Clone, Serialize)]
pub struct ApplyStatus {
    /// The applied revision.
    pub revision: String,
    /// When it finished.
    pub at: String,
    /// Whether every write succeeded.
    pub success: bool,
    /// One entry per write.
    pub results: Vec<ObjectStatus>,
}

/// One write's outcome as `/status` and notifications name it (`applied`, `failed`,
/// `skipped`, `held`) with the error or reason beside it.
pub(crate) fn outcome_words(outcome: &Outcome) -> (&'static str, Option<String>) {
    match outcome {
        Outcome::Applied { .. } => ("applied", None),
        Outcome::Failed { error } => ("failed", Some(error.clone())),
        Outcome::Skipped { reason } => ("skipped", Some(reason.clone())),
        Outcome::Held { reason } => ("held", Some(reason.clone())),
    }
}

impl ApplyStatus {
    /// Summarizes a report (errors in reports are already redacted by the client).
    pub fn from_report(revision: &str, at: SystemTime, report: &ApplyReport) -> Self {
        let results = report
            .results
            .iter()
            .map(|r| {
                let (result, error) = outcome_words(&r.outcome);
                ObjectStatus {
                    key: r.key.to_string(),
                    action: r.action,
                    result,
                    error,
                }
            })
            .collect();
        ApplyStatus {
            revision: revision.to_string(),
            at: timestamp(at),
            success: report.is_success(),
            results,
        }
    }
}

/// The last cycle.
#[derive(Debug, Clone, Serialize)]
pub struct CycleStatus {
    /// What started it.
    pub trigger: String,
    /// The revision it fetched (`None` when the fetch failed).
    pub revision: Option<String>,
    /// When it finished.
    pub at: String,
    /// How long it took.
    pub duration_seconds: f64,
    /// How it ended.
    pub result: CycleResult,
}

/// Everything `GET /status` shows.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Status {
    /// The source.
    pub source: SourceStatus,
    /// The settings.
    pub settings: Settings,
    /// Whether the sync is healthy: one successful cycle seen, and fewer than
    /// [`FAILURES_UNTIL_UNHEALTHY`] failures in a row since.
    pub sync_healthy: bool,
    /// Cycles run since start.
    pub cycles: u64,
    /// The last cycle.
    pub last_cycle: Option<CycleStatus>,
    /// The last plan.
    pub last_plan: Option<PlanStatus>,
    /// The last apply that sent anything.
    pub last_apply: Option<ApplyStatus>,
    /// The last revision applied completely (or found in sync), possibly from the state dir.
    pub last_applied_revision: Option<String>,
    /// When it was applied.
    pub last_applied_at: Option<String>,
    /// When the last cycle succeeded.
    pub last_success_at: Option<String>,
    /// The last failure (redacted); cleared by a success.
    pub last_error: Option<String>,
    /// Failed cycles in a row.
    pub consecutive_failures: u32,
    /// Drift detections since start.
    pub drift_detected: u64,
    /// Changes that weaken data protection, held until a commit approves them (as of
    /// the last plan).
    pub pending_weakening: Vec<PendingStatus>,
    /// When the next scheduled cycle runs (webhooks and file changes may come sooner).
    pub next_run_at: Option<String>,
    /// The apply windows, when any is configured.
    pub window: Option<WindowStatus>,
    /// The client's adaptive concurrency, read when `/status` is served.
    pub concurrency: Option<crate::client::ConcurrencyStatus>,
    /// The drift sweep's progress (issue 15).
    pub drift_sweep: super::sweep::SweepStatus,
}

impl Status {
    /// Whether the sync is healthy: one successful sync seen, and fewer than
    /// [`FAILURES_UNTIL_UNHEALTHY`] failures in a row since.
    pub fn is_sync_healthy(&self) -> bool {
        self.last_success_at.is_some() && self.consecutive_failures < FAILURES_UNTIL_UNHEALTHY
    }

    /// Records how a cycle ended and refreshes `sync_healthy`.
    pub fn record_cycle(&mut self, c: CycleStatus, error: Option<String>) {
        self.cycles += 1;
        if c.result.is_success() {
            self.consecutive_failures = 0;
            self.last_success_at = Some(c.at.clone());
            self.last_error = None;
        } else if c.result == CycleResult::Failed {
            self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        }
        if error.is_some() {
            self.last_error = error;
        }
        self.last_cycle = Some(c);
        self.sync_healthy = self.is_sync_healthy();
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::apply::ObjectResult;
    use crate::object::ObjectKey;
    use crate::plan::Change;

    /// A change with no fields, dry run, id, note or rename.
    pub(in crate::daemon) fn change(kind: Kind, name: &str, action: Action) -> Change {
        Change {
            key: ObjectKey::new(kind, name),
            action,
            fields: Vec::new(),
            data: None,
            id: None,
            note: None,
            moved_from: None,
        }
    }

    fn cycle(result: CycleResult) -> CycleStatus {
        CycleStatus {
            trigger: "schedule".into(),
            revision: None,
            at: "2026-01-01T00:00:00Z".into(),
            duration_seconds: 0.1,
            result,
        }
    }

    #[test]
    fn object_states_count_per_kind_and_outcome() {
        let plan = Plan {
            changes: vec![
                change(Kind::Purpose, "a", Action::NoOp),
                change(Kind::Purpose, "b", Action::Update),
                change(Kind::Policy, "p", Action::Create),
                change(Kind::Project, "x", Action::Unmanaged),
            ],
            ..Default::default()
        };
        let drifted = object_states(&plan, None);
        assert_eq!(drifted.len(), 12, "every kind × state present");
        assert_eq!(drifted[&(Kind::Purpose, ObjectState::InSync)], 1);
        assert_eq!(drifted[&(Kind::Purpose, ObjectState::Drifted)], 1);
        assert_eq!(drifted[&(Kind::Policy, ObjectState::Drifted)], 1);
        assert_eq!(drifted.values().sum::<i64>(), 3, "unmanaged not counted");

        let report = ApplyReport {
            results: vec![
                ObjectResult {
                    key: ObjectKey::new(Kind::Purpose, "b"),
                    action: Action::Update,
                    outcome: Outcome::Applied {
                        response: serde_json::json!({}),
                    },
                },
                ObjectResult {
                    key: ObjectKey::new(Kind::Policy, "p"),
                    action: Action::Create,
                    outcome: Outcome::Failed {
                        error: "boom".into(),
                    },
                },
            ],
        };
        let applied = object_states(&plan, Some(&report));
        assert_eq!(applied[&(Kind::Purpose, ObjectState::InSync)], 2);
        assert_eq!(applied[&(Kind::Policy, ObjectState::Failed)], 1);
        assert_eq!(applied[&(Kind::Purpose, ObjectState::Drifted)], 0);

        let st = ApplyStatus::from_report("r1", SystemTime::UNIX_EPOCH, &report);
        assert!(!st.success);
        assert_eq!(st.results[1].key, "policy/p");
        assert_eq!(st.results[1].result, "failed");
        assert_eq!(st.results[1].error.as_deref(), Some("boom"));
        assert_eq!(st.at, "1970-01-01T00:00:00Z");
    }

    #[test]
    fn drift_names_the_objects_and_bounds_the_log_line() {
        let mut plan = Plan {
            changes: vec![
                change(Kind::Purpose, "a", Action::NoOp),
                change(Kind::Purpose, "b", Action::Update),
                change(Kind::Project, "x", Action::Unmanaged),
                change(Kind::Policy, "p", Action::Delete),
                change(Kind::Project, "r", Action::Refused),
            ],
            ..Default::default()
        };
        let d = drifted_objects(&plan);
        let keys: Vec<&str> = d.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(keys, ["purpose/b", "policy/p", "project/r"]);
        assert_eq!(
            drift_summary(&d),
            "purpose/b (update), policy/p (delete), project/r (refused)"
        );
        for i in 0..30 {
            plan.changes
                .push(change(Kind::Purpose, &format!("n{i}"), Action::Create));
        }
        let d = drifted_objects(&plan);
        assert_eq!(d.len(), 33);
        let line = drift_summary(&d);
        assert!(line.ends_with(", and 13 more"), "{line}");
        assert_eq!(line.matches(" (").count(), DRIFT_NAMES_LOGGED);
    }

    #[test]
    fn sync_health_needs_one_success_and_fewer_than_three_failures() {
        let mut s = Status::default();
        assert!(!s.is_sync_healthy());
        s.record_cycle(cycle(CycleResult::Failed), Some("e1".into()));
        assert!(!s.sync_healthy, "never synced");
        s.record_cycle(cycle(CycleResult::InSync), None);
        assert!(s.sync_healthy);
        assert_eq!(s.last_error, None);
        s.record_cycle(cycle(CycleResult::Failed), Some("e".into()));
        s.record_cycle(cycle(CycleResult::Failed), Some("e".into()));
        assert!(s.sync_healthy, "two failures in a row: still healthy");
        s.record_cycle(cycle(CycleResult::Failed), Some("e3".into()));
        assert!(!s.sync_healthy, "three failures in a row");
        assert_eq!(s.last_error.as_deref(), Some("e3"));
        s.record_cycle(cycle(CycleResult::Skipped), None);
        assert!(s.sync_healthy);
        assert_eq!(s.cycles, 6);
    }

    #[test]
    fn timestamps_of_any_time_are_written_without_panicking() {
        use crate::state::applied::from_unix;
        assert_eq!(timestamp(from_unix(0)), "1970-01-01T00:00:00Z");
        assert_eq!(timestamp(from_unix(1_700_000_000)), "2023-11-14T22:13:20Z");
        // A damaged state.json (`applied_at` far past year 9999) must not stop the daemon.
        assert_eq!(timestamp(from_unix(u64::MAX)), "9999-12-31T23:59:59Z");
        assert_eq!(
            timestamp(from_unix(253_402_300_800)),
            "9999-12-31T23:59:59Z"
        );
        let before_epoch = SystemTime::UNIX_EPOCH - Duration::from_secs(5);
        assert_eq!(timestamp(before_epoch), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn result_labels_are_stable() {
        let labels: Vec<_> = CycleResult::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(
            labels,
            [
                "applied",
                "in_sync",
                "skipped",
                "reported",
                "failed",
                "interrupted",
                "blocked"
            ]
        );
        assert!(
            CycleResult::Blocked.is_success(),
            "a window is not a failure"
        );
        assert!(!CycleResult::Interrupted.is_success());
        // `/status` (serde) spells every result as the metrics label does.
        for &r in CycleResult::ALL {
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
        }
        let states: Vec<_> = ObjectState::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(states, ["in_sync", "drifted", "failed"]);
        for &s in ObjectState::ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
    }
}
