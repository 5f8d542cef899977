//! Saved plans: `reconcile --plan --out plan.json`, then `apply plan.json`.
//!
//! A saved plan records where its manifests came from (repository, ref, path, the
//! revision it resolved to) and a fingerprint of the live state of every object in it.
//! Applying it re-reads both; if the ref now resolves to another revision, or any
//! object's live state changed, the plan is stale and is refused as a whole — the user
//! re-plans and reviews again (Terraform's rule). The file never holds a secret: plan
//! values are masked when the plan is built, fingerprints are digests, and manifests
//! are re-read (with their `{{EnvVar}}` values) at apply time.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{canonical, Plan};
use crate::live::LiveSet;
use crate::object::{Kind, ObjectKey};
use crate::source::SourceId;

/// Version of the saved-plan file format.
pub const SAVED_FORMAT_VERSION: u32 = 2;

/// Where the manifests of a saved plan came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedSource {
    /// `--repo` without credentials; a local path is stored absolute, so the plan reads
    /// the same repository from any working directory.
    pub repo: String,
    /// `--ref` as given.
    pub reference: Option<String>,
    /// `--path` as given.
    pub path: Option<String>,
}

/// A plan file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedPlan {
    /// [`SAVED_FORMAT_VERSION`].
    pub format_version: u32,
    /// Source of the manifests.
    pub source: SavedSource,
    /// The source, canonically: apply refuses the plan when it reads another one.
    #[serde(default)]
    pub source_id: Option<SourceId>,
    /// The revision the plan was made from.
    pub revision: String,
    /// Whether prune was on and for which kinds, so apply recomputes the same plan.
    pub prune_kinds: Vec<Kind>,
    /// The `--target` patterns the plan was cut with, so apply recomputes the same cut.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
    /// Object → digest of its live state when the plan was made (written `kind/name`).
    #[serde(with = "crate::object::key_map")]
    pub fingerprints: BTreeMap<ObjectKey, String>,
    /// Made with `--refresh=full`: apply reads the data sources the same way, so it
    /// recomputes the same plan (absent in files written before issue 13: `false`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub refresh_full: bool,
    /// Made with `--refresh=changed` (issue 15): apply recomputes it from the same
    /// state directory with the same record age, and refuses it when it would not carry
    /// exactly the same objects (absent: a full plan).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incremental: Option<SavedIncremental>,
    /// The plan itself (masked values only).
    pub plan: Plan,
}

/// How an incremental saved plan was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedIncremental {
    /// `--drift-interval` in seconds: how old a record could be and still be trusted.
    pub max_age_secs: u64,
    /// The objects carried as in sync from their records, without a read.
    pub carried: Vec<ObjectKey>,
}

/// Why a saved plan cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Stale {
    /// The ref moved.
    #[error("plan is stale: the source is now at revision {now}, the plan was made at {then}; run reconcile --plan again")]
    Revision {
        /// Revision in the plan.
        then: String,
        /// Revision now.
        now: String,
    },
    /// An object changed in Immuta since.
    #[error("plan is stale: {key} changed in Immuta since the plan was made; run reconcile --plan again")]
    Live {
        /// The object.
        key: ObjectKey,
    },
    /// The source read now is not the one the plan was made from.
    #[error(
        "plan is stale: it was made from {then}, this run reads {now}; run reconcile --plan again"
    )]
    Source {
        /// The source in the plan.
        then: String,
        /// The source read now.
        now: String,
    },
    /// The recomputed plan differs for another reason (e.g. a changed env value).
    #[error("plan is stale: the plan computed now differs from the saved one ({detail}); run reconcile --plan again")]
    Plan {
        /// What differs.
        detail: Difference,
    },
    /// Unsupported file.
    #[error("unsupported plan file format version {0} (expected {SAVED_FORMAT_VERSION})")]
    Version(u32),
    /// An incremental plan recomputed now carries other objects than it did.
    #[error("plan is stale: it was made with --refresh=changed and carried {then} object(s) as in sync from the state directory's records; recomputed now it carries {now} (the records changed since, aged past --drift-interval, or --state-dir is another directory); run reconcile --plan again")]
    Carried {
        /// Objects carried when the plan was made.
        then: usize,
        /// Objects carried now.
        now: usize,
    },
}

/// Where a recomputed plan first differs from the saved one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Difference {
    /// The change for this object differs.
    #[error("first difference at {0}")]
    At(ObjectKey),
    /// Every change both have is the same, but one has more.
    #[error("{now} objects now, {saved} saved")]
    Count {
        /// Changes in the plan computed now.
        now: usize,
        /// Changes in the saved plan.
        saved: usize,
    },
}

/// Digest of every planned object's live state.
pub fn fingerprints(plan: &Plan, live: &LiveSet) -> BTreeMap<ObjectKey, String> {
    plan.changes
        .iter()
        .map(|c| {
            let state = match c.key.kind {
                Kind::Data => match live.data_bodies.get(&c.key) {
                    // What the V1 reads showed (issue 13), when they were read.
                    Some(b) => serde_json::to_value((
                        live.data.get(&c.key),
                        live.data_orphans.get(&c.key),
                        canonical(Kind::Data, b),
                    )),
                    None => serde_json::to_value((live.data.get(&c.key), live.data_orphans.get(&c.key))),
                }
                .unwrap_or_default(),
                kind => live
                    .objects
                    .get(&c.key)
                    .map(|o| serde_json::json!({"id": o.id, "body": o.body.as_ref().map(|b| canonical(kind, b))}))
                    .unwrap_or_default(),
            };
            let digest = Sha256::digest(serde_json::to_vec(&state).unwrap_or_default());
            (c.key.clone(), hex::encode(digest))
        })
        .collect()
}

/// Checks that an incremental saved plan, recomputed now, carries the same objects.
///
/// # Errors
/// [`Stale::Carried`].
pub fn check_carried(
    saved: &SavedPlan,
    carried_now: &std::collections::BTreeSet<ObjectKey>,
) -> Result<(), Stale> {
    let then: std::collections::BTreeSet<&ObjectKey> = saved
        .incremental
        .as_ref()
        .map(|i| i.carried.iter().collect())
        .unwrap_or_default();
    if then.len() == carried_now.len() && carried_now.iter().all(|k| then.contains(k)) {
        Ok(())
    } else {
        Err(Stale::Carried {
            then: then.len(),
            now: carried_now.len(),
        })
    }
}

/// Checks a saved plan against the state now.
///
/// # Errors
/// A [`Stale`] reason.
pub fn check(
    saved: &SavedPlan,
    source_now: &SourceId,
    revision_now: &str,
    plan_now: &Plan,
    live_now: &LiveSet,
) -> Result<(), Stale> {
    if saved.format_version != SAVED_FORMAT_VERSION {
        return Err(Stale::Version(saved.format_version));
    }
    if saved.source_id.as_ref() != Some(source_now) {
        return Err(Stale::Source {
            then: saved
                .source_id
                .as_ref()
                .map_or_else(|| "an unknown source".to_string(), ToString::to_string),
            now: source_now.to_string(),
        });
    }
    if saved.revision != revision_now {
        return Err(Stale::Revision {
            then: saved.revision.clone(),
            now: revision_now.to_string(),
        });
    }
    let now = fingerprints(&saved.plan, live_now);
    for (key, then) in &saved.fingerprints {
        if now.get(key) != Some(then) {
            return Err(Stale::Live { key: key.clone() });
        }
    }
    // Credential lines come from the state directory, not from the tenant (a plan saved
    // with --state-dir may be applied without it): they do not make a plan stale.
    let without_credentials = |p: &Plan| -> Vec<super::Change> {
        p.changes
            .iter()
            .cloned()
            .map(|mut c| {
                c.fields.retain(|f| f.note.is_none());
                c
            })
            .collect()
    };
    let (now_changes, saved_changes) = (
        without_credentials(plan_now),
        without_credentials(&saved.plan),
    );
    if now_changes != saved_changes {
        let detail = now_changes
            .iter()
            .zip(&saved_changes)
            .find(|(a, b)| a != b)
            .map_or(
                Difference::Count {
                    now: plan_now.changes.len(),
                    saved: saved.plan.changes.len(),
                },
                |(a, _)| Difference::At(a.key.clone()),
            );
        return Err(Stale::Plan { detail });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::LiveObject;
    use crate::plan::{Action, Change};
    use serde_json::json;

    fn src(location: &str) -> SourceId {
        SourceId {
            location: location.into(),
            path: String::new(),
        }
    }

    fn setup() -> (SavedPlan, LiveSet) {
        let key = ObjectKey::new(Kind::Purpose, "P");
        let mut live = LiveSet::default();
        live.objects.insert(
            key.clone(),
            LiveObject {
                key: key.clone(),
                id: Some(1),
                system: false,
                body: Some(json!({"name":"P","description":"a"})),
            },
        );
        let plan = Plan {
            origin: "o".into(),
            revision: "r1".into(),
            changes: vec![Change {
                key,
                action: Action::Update,
                fields: vec![],
                data: None,
                id: Some(1),
                note: None,
                moved_from: None,
            }],
            held: Vec::new(),
            scope: Default::default(),
        };
        let saved = SavedPlan {
            targets: Vec::new(),
            format_version: SAVED_FORMAT_VERSION,
            source: SavedSource {
                repo: "o".into(),
                reference: None,
                path: None,
            },
            source_id: Some(src("/srv/o")),
            revision: "r1".into(),
            prune_kinds: vec![],
            fingerprints: fingerprints(&plan, &live),
            refresh_full: false,
            incremental: None,
            plan,
        };
        (saved, live)
    }

    #[test]
    fn fresh_plan_passes_and_any_change_makes_it_stale() {
        let (saved, mut live) = setup();
        let o = src("/srv/o");
        assert_eq!(check(&saved, &o, "r1", &saved.plan, &live), Ok(()));
        assert!(matches!(
            check(&saved, &o, "r2", &saved.plan, &live),
            Err(Stale::Revision { .. })
        ));
        // Another repository (`apply` run from another directory), or another sub-path.
        for other in [
            src("/srv/other"),
            SourceId {
                location: "/srv/o".into(),
                path: "tenants/b".into(),
            },
        ] {
            assert!(matches!(
                check(&saved, &other, "r1", &saved.plan, &live),
                Err(Stale::Source { .. })
            ));
        }
        let mut legacy = saved.clone();
        legacy.source_id = None;
        assert!(matches!(
            check(&legacy, &o, "r1", &saved.plan, &live),
            Err(Stale::Source { .. })
        ));
        if let Some(o) = live.objects.values_mut().next() {
            o.body = Some(json!({"name":"P","description":"changed by hand"}));
        }
        let err = check(&saved, &o, "r1", &saved.plan, &live).unwrap_err();
        assert_eq!(
            err,
            Stale::Live {
                key: ObjectKey::new(Kind::Purpose, "P")
            }
        );
        assert!(err.to_string().contains("plan is stale"));
    }

    #[test]
    fn an_incremental_plan_must_carry_the_same_objects() {
        let (mut saved, _) = setup();
        let k = ObjectKey::new(Kind::Data, "wh");
        assert_eq!(check_carried(&saved, &Default::default()), Ok(()));
        assert!(check_carried(&saved, &[k.clone()].into()).is_err());
        saved.incremental = Some(SavedIncremental {
            max_age_secs: 3600,
            carried: vec![k.clone()],
        });
        assert_eq!(check_carried(&saved, &[k.clone()].into()), Ok(()));
        let e = check_carried(&saved, &Default::default()).unwrap_err();
        assert_eq!(e, Stale::Carried { then: 1, now: 0 });
        assert!(e.to_string().contains("--refresh=changed"), "{e}");
        let other = ObjectKey::new(Kind::Data, "other");
        assert!(check_carried(&saved, &[other].into()).is_err());
        // The field round-trips, and files without it read as full plans.
        let text = serde_json::to_string(&saved).unwrap();
        assert_eq!(serde_json::from_str::<SavedPlan>(&text).unwrap(), saved);
    }

    #[test]
    fn a_recomputed_plan_names_its_first_difference() {
        let (saved, live) = setup();
        let o = src("/srv/o");
        let mut now = saved.plan.clone();
        now.changes[0].action = Action::Create;
        let err = check(&saved, &o, "r1", &now, &live).unwrap_err();
        assert_eq!(
            err,
            Stale::Plan {
                detail: Difference::At(ObjectKey::new(Kind::Purpose, "P"))
            }
        );
        assert_eq!(
            err.to_string(),
            "plan is stale: the plan computed now differs from the saved one (first difference at purpose/P); run reconcile --plan again"
        );
        now.changes = saved.plan.changes.clone();
        now.changes.push(now.changes[0].clone());
        let err = check(&saved, &o, "r1", &now, &live).unwrap_err();
        assert_eq!(
            err.to_string(),
            "plan is stale: the plan computed now differs from the saved one (2 objects now, 1 saved); run reconcile --plan again"
        );
    }
}
