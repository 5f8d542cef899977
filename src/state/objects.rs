//! What each object looked like when this tool last applied or checked it, in
//! `objects.json` (issue 15): per key, the revision and a masked digest of the desired
//! document it was brought to (the drift section: an object whose document in Git is
//! still the one last applied, but which the tenant no longer matches, was changed
//! outside Git, [`drifted`]), and what an incremental plan needs to carry an object as
//! in sync without reading it from Immuta:
//!
//! - `fingerprint`: a keyed HMAC-SHA256 ([`Fingerprints`]) over the templated document,
//!   secrets included, under the state directory's digest key (the one of
//!   `secret-digests.json`). The body is what is sent to Immuta after templating, so a
//!   changed `{{ReadFile}}` file or `{{EnvVar}}` value changes it.
//! - `live`: a keyed digest of the live state the object was found in or brought to,
//!   `checked_at` (unix seconds of the last comparison with Immuta) and `in_sync`.
//! - data sources: `names`, the data source names the connection holds in Immuta, so a
//!   carried connection still claims its data sources without a dry run; projects: `id`.
//! - `project_ids`: every project id seen in the last read of all projects, so an
//!   incremental plan reads only the projects it plans and the ids it has never seen.
//!
//! No secret enters the file, in any encoding: the drift digest masks sensitive values;
//! the fingerprint and the live digest are keyed (without the key, which has its own
//! file, they cannot test a guess); a connection whose data source names carry a
//! templated value records no names and no fingerprint, so it is read every time. A file
//! of another version or source is ignored (no drift is reported, plans are full; the
//! next apply writes a fresh one).

use std::collections::{BTreeMap, BTreeSet};

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::apply::{ApplyReport, Outcome};
use crate::live::LiveSet;
use crate::manifest::{DesiredSet, Manifest};
use crate::object::{Kind, ObjectKey};
use crate::plan::{Action, Plan};
use crate::redact::MASK;
use crate::source::SourceId;

/// The format version written; other versions are ignored on load (version 1 had no
/// fingerprints: a plan over it is full).
pub const VERSION: u32 = 2;

/// One object as last applied or checked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRecord {
    /// The revision it was applied (or found in sync) at.
    pub revision: String,
    /// [`digest`] of its desired document then.
    pub digest: String,
    /// [`Fingerprints::manifest`] of the templated document last brought to Immuta or
    /// found equal there (`None`: unknown, e.g. its write failed; it is planned again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// [`Fingerprints::live`] of the state it was found in or brought to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live: Option<String>,
    /// Unix seconds of the last comparison with Immuta.
    #[serde(default)]
    pub checked_at: u64,
    /// Whether that comparison found it as desired (or its write landed).
    #[serde(default)]
    pub in_sync: bool,
    /// Data sources: the data source names the connection holds in Immuta.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
    /// Projects: Immuta's numeric id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
}

/// Every object as last applied, for one source.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedObjects {
    /// [`VERSION`].
    pub version: u32,
    /// The source the records belong to.
    pub source: Option<SourceId>,
    /// `kind/name` → record.
    pub objects: BTreeMap<String, ObjectRecord>,
    /// Project id → `projectKey` of every live project the last read of all projects
    /// resolved, managed or not.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub project_ids: BTreeMap<u64, String>,
}

impl AppliedObjects {
    /// Whether the records are of this version and of `source`.
    pub fn is_for(&self, source: &SourceId) -> bool {
        self.version == VERSION && self.source.as_ref() == Some(source)
    }

    /// The record of `key`.
    pub fn get(&self, key: &ObjectKey) -> Option<&ObjectRecord> {
        self.objects.get(&key.to_string())
    }
}

/// An object changed outside Git since the last apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Drifted {
    /// The object.
    pub key: ObjectKey,
    /// What the plan does about it (an update reverts the edit; a create restores an
    /// object deleted by hand).
    pub action: Action,
    /// The revision it was last applied at.
    pub applied_at: String,
}

/// A digest of the document an object is brought to: canonical form, sensitive values
/// masked.
pub fn digest(m: &Manifest) -> String {
    let mut body = m.body.clone();
    for pointer in &m.sensitive {
        if let Some(v) = body.pointer_mut(pointer) {
            *v = Value::String(MASK.to_string());
        }
    }
    let canonical = crate::canonical::canonical(m.key.kind, &body);
    hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
}

/// Keyed digests under the state directory's digest key ([`super::secrets`]).
#[derive(Clone)]
pub struct Fingerprints {
    key: Vec<u8>,
}

impl std::fmt::Debug for Fingerprints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fingerprints").finish_non_exhaustive()
    }
}

impl Fingerprints {
    /// Digests under `key`.
    pub fn new(key: Vec<u8>) -> Fingerprints {
        Fingerprints { key }
    }

    fn mac(&self, parts: &[&[u8]]) -> String {
        // HMAC takes keys of any length. Were it to refuse one, no fingerprint would
        // match and every object would be planned: the safe side.
        let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(&self.key) else {
            return String::new();
        };
        for part in parts {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        hex::encode(mac.finalize().into_bytes())
    }

    /// The fingerprint of a templated document: its key and the exact body sent to
    /// Immuta, secrets included (keyed, so the digest cannot test a guess).
    pub fn manifest(&self, m: &Manifest) -> String {
        let key = m.key.to_string();
        let body = m.body.to_string();
        self.mac(&[b"manifest", key.as_bytes(), body.as_bytes()])
    }

    /// The fingerprint of every desired object.
    pub fn desired(&self, desired: &DesiredSet) -> BTreeMap<ObjectKey, String> {
        desired
            .objects
            .iter()
            .map(|(k, m)| (k.clone(), self.manifest(m)))
            .collect()
    }

    /// The digest of what the live read showed of `key` (`None`: nothing was read).
    pub fn live(&self, key: &ObjectKey, live: &LiveSet) -> Option<String> {
        let state = match key.kind {
            Kind::Data => {
                let dry = live.data.get(key)?;
                let body = live
                    .data_bodies
                    .get(key)
                    .map(|b| crate::canonical::canonical(Kind::Data, b));
                serde_json::to_string(&(dry, body)).ok()?
            }
            kind => {
                let o = live.objects.get(key)?;
                let body = o
                    .body
                    .as_ref()
                    .map(|b| crate::canonical::canonical(kind, b));
                serde_json::to_string(&(o.id, body)).ok()?
            }
        };
        Some(self.mac(&[b"live", key.to_string().as_bytes(), state.as_bytes()]))
    }

    /// The digest of a document as it was written (what the tenant holds after a write).
    pub fn written(&self, m: &Manifest) -> String {
        let body = crate::canonical::canonical(m.key.kind, &m.body).to_string();
        self.mac(&[b"written", m.key.to_string().as_bytes(), body.as_bytes()])
    }
}

/// The objects of `plan` that would be written although their document in Git is the
/// one last applied: the tenant changed since. Nothing when `records` belong to another
/// source or version.
pub fn drifted(records: &AppliedObjects, desired: &DesiredSet, plan: &Plan) -> Vec<Drifted> {
    if !records.is_for(&desired.source) {
        return Vec::new();
    }
    plan.changes
        .iter()
        .filter(|c| matches!(c.action, Action::Create | Action::Update))
        .filter_map(|c| {
            let record = records.get(&c.key)?;
            let m = desired.objects.get(&c.key)?;
            (record.digest == digest(m)).then(|| Drifted {
                key: c.key.clone(),
                action: c.action,
                applied_at: record.revision.clone(),
            })
        })
        .collect()
}

/// What one plan compared with Immuta, for [`next`].
#[derive(Debug, Clone, Copy)]
pub struct Checked<'a> {
    /// The revision planned.
    pub desired: &'a DesiredSet,
    /// The plan (cut by `--target`, if it was: objects outside it keep their record).
    pub plan: &'a Plan,
    /// What was read.
    pub live: &'a LiveSet,
    /// Objects carried as in sync without a read: their records stay as they are.
    pub carried: &'a BTreeSet<ObjectKey>,
    /// Keyed digests (`None`: the digest key is not available; no fingerprint is
    /// recorded, so the next plan is full).
    pub fingerprints: Option<&'a Fingerprints>,
    /// Unix seconds now.
    pub now: u64,
}

/// The records after `checked` (and, with `report`, after its apply): objects found in
/// sync or written are recorded at this revision with their fingerprint, drifted ones
/// not written are marked out of sync, failed writes lose their fingerprint (they are
/// planned again), deleted ones are dropped, carried ones keep their record (records of
/// another source or version are not carried over).
pub fn next(
    previous: Option<&AppliedObjects>,
    checked: &Checked<'_>,
    report: Option<&ApplyReport>,
) -> AppliedObjects {
    let desired = checked.desired;
    let prior = previous.filter(|p| p.is_for(&desired.source));
    let mut objects = prior.map(|p| p.objects.clone()).unwrap_or_default();
    let outcome = |key: &ObjectKey| {
        report.and_then(|r| r.results.iter().find(|r| &r.key == key).map(|r| &r.outcome))
    };
    for c in &checked.plan.changes {
        if checked.carried.contains(&c.key) {
            continue;
        }
        let shown = c.key.to_string();
        let landed = matches!(outcome(&c.key), Some(Outcome::Applied { .. }));
        if c.action == Action::Delete {
            if landed {
                objects.remove(&shown);
            }
            continue;
        }
        let Some(m) = desired.objects.get(&c.key) else {
            continue;
        };
        let record = if c.action == Action::NoOp || landed {
            let answer = match outcome(&c.key) {
                Some(Outcome::Applied { response }) => Some(response),
                _ => None,
            };
            in_sync(m, c, checked, answer)
        } else {
            // Compared and different, not written: keep what was last applied (the
            // drift section compares with it), out of sync, so the next plan reads it.
            let Some(old) = objects.get(&shown) else {
                continue;
            };
            let failed = matches!(outcome(&c.key), Some(Outcome::Failed { .. }));
            ObjectRecord {
                fingerprint: if failed {
                    None
                } else {
                    old.fingerprint.clone()
                },
                live: checked
                    .fingerprints
                    .and_then(|f| f.live(&c.key, checked.live)),
                checked_at: checked.now,
                in_sync: false,
                ..old.clone()
            }
        };
        objects.insert(shown, record);
    }
    // Every plan lists the projects and resolves each listed id (read, or known from
    // these records), so the map is complete for the tenant as read now; a project this
    // apply created adds the id Immuta answered with.
    let mut project_ids = checked.live.project_ids.clone();
    for c in checked
        .plan
        .changes
        .iter()
        .filter(|c| c.key.kind == Kind::Project)
    {
        let landed = matches!(outcome(&c.key), Some(Outcome::Applied { .. }));
        if let (true, Some(id)) = (landed, objects.get(&c.key.to_string()).and_then(|r| r.id)) {
            project_ids.insert(id, c.key.name.clone());
        }
    }
    AppliedObjects {
        version: VERSION,
        source: Some(desired.source.clone()),
        objects,
        project_ids,
    }
}

/// The record of an object found in sync (or whose write landed, with Immuta's
/// `answer`).
fn in_sync(
    m: &Manifest,
    c: &crate::plan::Change,
    checked: &Checked<'_>,
    answer: Option<&Value>,
) -> ObjectRecord {
    let landed = answer.is_some();
    let f = checked.fingerprints;
    let live = if landed {
        f.map(|f| f.written(m))
    } else {
        f.and_then(|f| f.live(&c.key, checked.live))
    };
    let names = if c.key.kind == Kind::Data {
        held_names(&c.key, checked, landed)
    } else {
        Some(Vec::new())
    };
    let id = match c.key.kind {
        // `project save` answers with the project's id (000:1714).
        Kind::Project => {
            c.id.or_else(|| checked.live.objects.get(&c.key).and_then(|o| o.id))
                .or_else(|| {
                    answer
                        .and_then(|a| a.get("projectId"))
                        .and_then(Value::as_u64)
                })
        }
        _ => None,
    };
    ObjectRecord {
        revision: checked.desired.revision.clone(),
        digest: digest(m),
        // Names that carry a templated value are not stored: without them the
        // connection cannot be carried, so it gets no fingerprint and is read each time.
        fingerprint: names.as_ref().and(f.map(|f| f.manifest(m))),
        live,
        checked_at: checked.now,
        in_sync: true,
        names: names.unwrap_or_default(),
        id,
    }
}

/// The data source names a connection holds after this plan (and its apply, when it
/// `landed`): what its dry run reported as existing, plus what it created, minus what it
/// removed. `None` when one of them carries a templated value.
fn held_names(key: &ObjectKey, checked: &Checked<'_>, landed: bool) -> Option<Vec<String>> {
    let dry = checked.live.data.get(key)?;
    let mut names: BTreeSet<&String> = dry.no_change.iter().chain(&dry.updating).collect();
    if landed {
        names.extend(&dry.creating);
        for gone in &dry.deleting {
            names.remove(gone);
        }
    } else {
        names.extend(&dry.deleting);
    }
    let names: Vec<String> = names.into_iter().cloned().collect();
    names
        .iter()
        .all(|n| checked.desired.redactor.redact(n) == *n)
        .then_some(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::DataDryRun;
    use crate::manifest::Span;
    use crate::plan::Change;

    const HOSTILE: &str = "hunter2\"\\n%22";

    fn data(password: &str) -> Manifest {
        Manifest {
            key: ObjectKey::new(Kind::Data, "wh"),
            span: Span {
                path: "data/wh.yaml".into(),
                line: 1,
                col: 1,
            },
            body: serde_json::json!({"connectionKey": "wh", "connection": {"password": password}}),
            sensitive: ["/connection/password".to_string()].into(),
        }
    }

    fn change(action: Action) -> Change {
        Change {
            key: data("x").key,
            action,
            fields: Vec::new(),
            data: None,
            id: None,
            note: None,
            moved_from: None,
        }
    }

    fn set(password: &str) -> DesiredSet {
        let mut desired = DesiredSet {
            revision: "r1".into(),
            ..Default::default()
        };
        desired.redactor.add(password);
        desired.objects.insert(data(password).key, data(password));
        desired
    }

    fn live() -> LiveSet {
        let mut live = LiveSet::default();
        live.data.insert(
            data("x").key,
            DataDryRun {
                no_change: vec!["wh.sales".into()],
                ..Default::default()
            },
        );
        live
    }

    fn record_of(
        desired: &DesiredSet,
        plan: &Plan,
        report: Option<&ApplyReport>,
    ) -> AppliedObjects {
        let f = Fingerprints::new(vec![7; 32]);
        next(
            None,
            &Checked {
                desired,
                plan,
                live: &live(),
                carried: &BTreeSet::new(),
                fingerprints: Some(&f),
                now: 100,
            },
            report,
        )
    }

    #[test]
    fn the_records_hold_no_secret_and_the_fingerprint_sees_it() {
        // Only the mask is hashed in the drift digest: it cannot test a guess.
        assert_eq!(digest(&data(HOSTILE)), digest(&data("other")));
        let f = Fingerprints::new(vec![7; 32]);
        assert_ne!(f.manifest(&data(HOSTILE)), f.manifest(&data("other")));
        assert_ne!(
            f.manifest(&data(HOSTILE)),
            Fingerprints::new(vec![8; 32]).manifest(&data(HOSTILE)),
            "keyed"
        );
        let desired = set(HOSTILE);
        let plan = Plan {
            changes: vec![change(Action::NoOp)],
            ..Default::default()
        };
        let records = record_of(&desired, &plan, None);
        let text = serde_json::to_string_pretty(&records).unwrap();
        // Raw, JSON-escaped, URL-encoded, base64: every form the redactor knows.
        let forms = crate::redact::forms::of(HOSTILE);
        assert!(forms.len() > 3);
        for secret in forms.iter().map(String::as_str).chain(["hunter2"]) {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        let r = records.get(&data("x").key).unwrap();
        assert!(r.in_sync && r.checked_at == 100 && r.fingerprint.is_some());
        assert_eq!(r.names, ["wh.sales"]);
        assert_eq!(drifted(&records, &desired, &plan), vec![]);
    }

    #[test]
    fn only_a_landed_write_or_a_match_is_in_sync() {
        let desired = set("pw");
        let update = Plan {
            changes: vec![change(Action::Update)],
            ..Default::default()
        };
        // Compared and different, no earlier record: nothing to keep.
        assert!(record_of(&desired, &update, None).objects.is_empty());
        let landed = ApplyReport {
            results: vec![crate::apply::ObjectResult {
                key: data("x").key,
                action: Action::Update,
                outcome: Outcome::Applied {
                    response: Value::Null,
                },
            }],
        };
        let after = record_of(&desired, &update, Some(&landed));
        let r = after.get(&data("x").key).unwrap();
        assert!(r.in_sync && r.fingerprint.is_some());
        // The write failed: out of sync, no fingerprint (planned again).
        let failed = ApplyReport {
            results: vec![crate::apply::ObjectResult {
                key: data("x").key,
                action: Action::Update,
                outcome: Outcome::Failed {
                    error: "500".into(),
                },
            }],
        };
        let f = Fingerprints::new(vec![7; 32]);
        let again = next(
            Some(&after),
            &Checked {
                desired: &desired,
                plan: &update,
                live: &live(),
                carried: &BTreeSet::new(),
                fingerprints: Some(&f),
                now: 200,
            },
            Some(&failed),
        );
        let r = again.get(&data("x").key).unwrap();
        assert!(!r.in_sync && r.fingerprint.is_none() && r.checked_at == 200);
        // Carried: the record stays as it was.
        let carried = next(
            Some(&after),
            &Checked {
                desired: &desired,
                plan: &update,
                live: &live(),
                carried: &[data("x").key].into(),
                fingerprints: Some(&f),
                now: 300,
            },
            Some(&failed),
        );
        assert_eq!(carried.objects, after.objects);
    }
}
