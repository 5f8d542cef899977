//! Stage 5: apply. Executes a [`Plan`] against Immuta and reports, per object, what
//! happened.
//!
//! Input: [`Plan`] + the [`DesiredSet`] it was made from. Output: [`ApplyReport`]
//! (its types and rendering are in `report.rs`).
//!
//! Guarantees:
//! 1. Only objects whose plan action writes (create, update, delete) are sent; no-op
//!    and unmanaged objects are never touched. Deletes exist in a plan only when prune
//!    allowed them (see `plan::prune`).
//! 2. Levels run in dependency order — purposes → data sources → policies → projects —
//!    and a level starts only after the previous one finished. Objects of one level are
//!    independent and run concurrently (bounded by the client).
//! 3. A failed object fails the run, but independent objects still apply. An object that
//!    names a failed one (a project listing a purpose or data source whose write failed,
//!    a policy restricting to a failed purpose) is skipped, not sent half-valid.
//! 4. Deletes run after every upsert, in reverse order — projects → policies → data
//!    sources → purposes — so a project stops naming a purpose before it goes, and only
//!    when every earlier write landed (a failed object may still name what would be
//!    deleted). An object already gone (404, e.g. a retried delete whose first attempt
//!    landed before the connection dropped) counts as deleted.
//! 5. When `cancel` is cancelled, objects not yet started are skipped; writes in flight
//!    finish, so no object is left half-written.
//! 6. A refused data-source change (it would remove data sources without leave, see
//!    `plan::tables`) is never sent; it is reported as skipped, like a failed object.
//!    So is a change held for approval because it weakens data protection
//!    (`plan::risk::hold`), reported as held: what names it is held with it, and no
//!    delete runs after it.
//!
//! 7. A rename (`moved` in `.immuta-gitops.yaml`, policies only) is one
//!    `PUT /policy/global/{id}` before the object's upsert, after checking that the id
//!    still holds the old key; if the upsert then fails, the next plan sees the new key
//!    live and updates it as usual.
//!
//! Assumptions: every V2 POST is a full-state upsert, so re-sending one is safe.

use std::collections::BTreeSet;

use futures::stream::{self, StreamExt};
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::client::Client;
use crate::manifest::DesiredSet;
use crate::object::{Kind, ObjectKey};
use crate::plan::{Action, Change, Plan};

mod depends;
mod report;
use depends::Failed;
pub use report::{ApplyReport, ObjectResult, Outcome};

/// Where apply reports how far it got, as it happens: the command line streams each
/// object's line and draws a progress bar from it. Called from the apply task; must
/// not block for long.
pub trait Observer: Send + Sync {
    /// A level starts: the writes (`deleting: false`) or the deletes of `kind`.
    fn level(&self, _kind: Kind, _deleting: bool) {}
    /// One object's result, the moment it is known (landed, failed or skipped).
    fn landed(&self, _result: &ObjectResult) {}
}

/// An [`Observer`] that ignores everything (the daemon, the demo, the tests).
#[derive(Debug, Clone, Copy, Default)]
pub struct Quiet;

impl Observer for Quiet {}

/// Applies `plan`. Never fails as a whole: every object gets an [`Outcome`].
pub async fn apply(
    client: &Client,
    plan: &Plan,
    desired: &DesiredSet,
    cancel: &CancellationToken,
) -> ApplyReport {
    apply_observed(client, plan, desired, cancel, &Quiet).await
}

/// [`apply`], telling `observer` about each level and each object's result as it lands.
pub async fn apply_observed(
    client: &Client,
    plan: &Plan,
    desired: &DesiredSet,
    cancel: &CancellationToken,
    observer: &dyn Observer,
) -> ApplyReport {
    let mut report = ApplyReport::default();
    let mut failed = Failed::default();
    for &kind in Kind::ALL {
        let level: Vec<&Change> = plan
            .changes
            .iter()
            .filter(|c| {
                c.key.kind == kind
                    && c.action.is_write()
                    && c.action != Action::Delete
                    && plan.held_of(c).is_none()
            })
            .collect();
        if !level.is_empty() {
            observer.level(kind, false);
        }
        let mut results = run_level(client, level, desired, &failed, cancel, observer).await;
        // A refused or held change is not sent: it is reported as skipped (or held), so
        // the run is not a success, its dependents are skipped (or held) and no delete
        // runs after it.
        results.extend(
            plan.changes
                .iter()
                .filter(|c| c.key.kind == kind && c.action == Action::Refused)
                .map(|c| ObjectResult {
                    key: c.key.clone(),
                    action: c.action,
                    outcome: Outcome::Skipped {
                        reason: crate::plan::refusal_reason(c),
                    },
                })
                .inspect(|r| observer.landed(r)),
        );
        results.extend(held(plan, kind, |c| c.action != Action::Delete, observer));
        results.sort_by(|a, b| a.key.cmp(&b.key));
        for r in &results {
            if !matches!(r.outcome, Outcome::Applied { .. }) {
                failed.record(r, plan);
            }
        }
        report.results.extend(results);
    }
    for &kind in Kind::ALL.iter().rev() {
        let level: Vec<&Change> = plan
            .changes
            .iter()
            .filter(|c| c.key.kind == kind && c.action == Action::Delete)
            .filter(|c| plan.held_of(c).is_none())
            .collect();
        if !level.is_empty() {
            observer.level(kind, true);
        }
        let held_deletes = held(plan, kind, |c| c.action == Action::Delete, observer);
        let blocker = report
            .results
            .iter()
            .find(|r| !matches!(r.outcome, Outcome::Applied { .. } | Outcome::Held { .. }))
            .or_else(|| {
                report
                    .results
                    .iter()
                    .find(|r| matches!(r.outcome, Outcome::Held { .. }))
            })
            .map(|r| (r.key.clone(), matches!(r.outcome, Outcome::Held { .. })));
        let results = match blocker {
            // An object that failed may still name what would be deleted: keep it.
            Some((b, held)) => level
                .into_iter()
                .map(|c| ObjectResult {
                    key: c.key.clone(),
                    action: c.action,
                    outcome: if held {
                        Outcome::Held {
                            reason: format!(
                                "deletes run only after every other write landed, and {b} is held for approval"
                            ),
                        }
                    } else {
                        Outcome::Skipped {
                            reason: format!(
                                "deletes run only after every other write landed, and {b} did not"
                            ),
                        }
                    },
                })
                .inspect(|r| observer.landed(r))
                .collect(),
            None => run_level(client, level, desired, &failed, cancel, observer).await,
        };
        report.results.extend(results);
        report.results.extend(held_deletes);
    }
    report
}

/// Held results for the held changes of one kind that `which` selects.
fn held(
    plan: &Plan,
    kind: Kind,
    which: impl Fn(&Change) -> bool,
    observer: &dyn Observer,
) -> Vec<ObjectResult> {
    plan.changes
        .iter()
        .filter(|c| c.key.kind == kind && which(c))
        .filter_map(|c| {
            plan.held_of(c).map(|h| ObjectResult {
                key: c.key.clone(),
                action: c.action,
                outcome: Outcome::Held {
                    reason: format!("{}: {}", crate::plan::risk::HELD_PREFIX, h.reason),
                },
            })
        })
        .inspect(|r| {
            if let Outcome::Held { reason } = &r.outcome {
                log_held(&r.key, r.action, reason);
            }
            observer.landed(r);
        })
        .collect()
}

/// Runs one level's writes concurrently (bounded by the client), telling `observer`
/// about each result as it lands; results in key order.
async fn run_level(
    client: &Client,
    level: Vec<&Change>,
    desired: &DesiredSet,
    failed: &Failed,
    cancel: &CancellationToken,
    observer: &dyn Observer,
) -> Vec<ObjectResult> {
    let mut results: Vec<ObjectResult> = stream::iter(level)
        .map(|c| async move {
            let outcome = if cancel.is_cancelled() {
                Outcome::Skipped {
                    reason: "shutdown requested before this object started".into(),
                }
            } else {
                let span = tracing::info_span!("object", key = %c.key, action = %c.action);
                apply_one(client, c, desired, failed).instrument(span).await
            };
            log_outcome(c, &outcome);
            ObjectResult {
                key: c.key.clone(),
                action: c.action,
                outcome,
            }
        })
        .buffer_unordered(client.concurrency())
        .inspect(|r| observer.landed(r))
        .collect()
        .await;
    results.sort_by(|a, b| a.key.cmp(&b.key));
    results
}

/// The one log event per object, as its result lands: `key` and `action` (the JSON
/// plan's words), and the error (already redacted) or the reason it was skipped.
fn log_outcome(c: &Change, outcome: &Outcome) {
    match outcome {
        Outcome::Applied { .. } => {
            tracing::info!(key = %c.key, action = %c.action, result = "applied", "applied");
        }
        Outcome::Failed { error } => {
            tracing::warn!(key = %c.key, action = %c.action, result = "failed", error = %error, "write failed");
        }
        Outcome::Skipped { reason } => {
            tracing::warn!(key = %c.key, action = %c.action, result = "skipped", reason = %reason, "skipped");
        }
        Outcome::Held { reason } => log_held(&c.key, c.action, reason),
    }
}

/// The log event of an object held for approval (or waiting for one that is).
fn log_held(key: &ObjectKey, action: Action, reason: &str) {
    tracing::warn!(key = %key, action = %action, result = "held", reason = %reason, "held for approval");
}

async fn apply_one(client: &Client, c: &Change, desired: &DesiredSet, failed: &Failed) -> Outcome {
    if c.action == Action::Delete {
        return delete_one(client, c, desired).await;
    }
    let Some(m) = desired.objects.get(&c.key) else {
        return Outcome::Skipped {
            reason: "not in the desired set".into(),
        };
    };
    if let Some((dep, held)) = failed.blocking(&m.body, c.key.kind) {
        if held {
            return Outcome::Held {
                reason: format!("depends on {dep}, which is held for approval"),
            };
        }
        return Outcome::Skipped {
            reason: format!("depends on {dep}, which was not applied"),
        };
    }
    if let Some(from) = &c.moved_from {
        if let Err(error) = rename(client, c, from).await {
            tracing::warn!(error = %error, "rename failed");
            return Outcome::Failed {
                error: desired.redactor.redact(&error),
            };
        }
    }
    match client.upsert(&c.key, &m.body, false).await {
        Ok(response) => Outcome::Applied {
            response: summarize(&response),
        },
        Err(e) => Outcome::Failed {
            error: desired.redactor.redact(&e.to_string()),
        },
    }
}

/// Renames the live policy `from` to the change's key through `PUT /policy/global/{id}`
/// (the policy object as `GET /policy/global/{id}` answers it, with the new `policyKey`),
/// so the upsert that follows updates it, keeping its id (issue 13). Only policies have
/// such a call; the plan refuses other renames.
async fn rename(client: &Client, c: &Change, from: &ObjectKey) -> Result<(), String> {
    let Some(id) = c.id else {
        return Err(format!("no Immuta id known to rename {from}"));
    };
    if c.key.kind != Kind::Policy {
        return Err(format!("{from} cannot be renamed: only policy keys can"));
    }
    let mut v1 = client
        .get_policy(from, id)
        .await
        .map_err(|e| format!("reading {from} (policy {id}) to rename it: {e}"))?;
    // The id must still be the object the plan saw under the old key.
    let at_id = v1.get("policyKey").and_then(Value::as_str);
    if at_id != Some(from.name.as_str()) {
        return Err(format!(
            "policy {id} is no longer {from} (it is {}); plan again",
            at_id.map_or_else(|| "unnamed".to_string(), |k| format!("{k:?}"))
        ));
    }
    if let Some(o) = v1.as_object_mut() {
        o.insert("policyKey".into(), Value::String(c.key.name.clone()));
    }
    client
        .put_policy(from, id, &v1)
        .await
        .map_err(|e| format!("renaming {from} to {}: {e}", c.key))?;
    tracing::info!(from = %from, "renamed");
    Ok(())
}

async fn delete_one(client: &Client, c: &Change, desired: &DesiredSet) -> Outcome {
    let result = match (c.key.kind, c.id) {
        (Kind::Data, _) => client.delete_data(&c.key, false).await,
        (Kind::Project, _) => client.delete_project(&c.key).await,
        (Kind::Policy, Some(id)) => client.delete_policy(&c.key, id).await,
        (Kind::Purpose, Some(id)) => client.delete_purpose(&c.key, id).await,
        (Kind::Policy | Kind::Purpose, None) => {
            return Outcome::Skipped {
                reason: "no Immuta id known for the delete".into(),
            };
        }
    };
    match result {
        Ok(response) => Outcome::Applied {
            response: summarize(&response),
        },
        Err(e) if e.is_not_found() => Outcome::Applied {
            response: Value::String("already absent".into()),
        },
        Err(e) => Outcome::Failed {
            error: desired.redactor.redact(&e.to_string()),
        },
    }
}

/// Keys no longer in Immuta after `report`: deletes that landed, and the old keys of
/// renames that landed (the inventory follows a rename, issue 13).
pub fn deleted_keys(report: &ApplyReport, plan: &Plan) -> BTreeSet<ObjectKey> {
    let applied = |r: &&ObjectResult| matches!(r.outcome, Outcome::Applied { .. });
    let renamed = report
        .results
        .iter()
        .filter(applied)
        .filter_map(|r| plan.changes.iter().find(|c| c.key == r.key))
        .filter_map(|c| c.moved_from.clone());
    report
        .results
        .iter()
        .filter(applied)
        .filter(|r| r.action == Action::Delete)
        .map(|r| r.key.clone())
        .chain(renamed)
        .collect()
}

/// Keeps the ids, flags and name lists of an answer; drops anything else.
fn summarize(response: &Value) -> Value {
    let Value::Object(map) = response else {
        return Value::Null;
    };
    let keep = [
        "dryRun",
        "creating",
        "updating",
        "deleting",
        "noChange",
        "policyId",
        "projectId",
        "purposeId",
        "numberOfDataSourcesAdded",
        "numberOfDataSourcesRemoved",
    ];
    Value::Object(
        map.iter()
            .filter(|(k, _)| keep.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn summaries_keep_ids_only() {
        let s = summarize(
            &json!({"dryRun":false,"creating":true,"policyId":4,"connectionString":"u@h"}),
        );
        assert_eq!(s, json!({"dryRun":false,"creating":true,"policyId":4}));
    }
}
