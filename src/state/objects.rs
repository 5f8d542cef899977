//! What each object looked like when this tool last applied it, in `objects.json`: per
//! key, the revision and a digest of the desired document it was brought to. The
//! one-shot plan uses it to tell drift from a change: an object whose document in Git is
//! still the one last applied, but which the tenant no longer matches, was changed
//! outside Git ([`drifted`]).
//!
//! No secret enters the file, in any encoding: the digest is taken over the canonical
//! document with every sensitive value replaced by the mask, so it cannot be used to
//! test guesses of a password. A file of another version or source is ignored (no drift
//! is reported; the next apply writes a fresh one).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::apply::{ApplyReport, Outcome};
use crate::manifest::{DesiredSet, Manifest};
use crate::object::ObjectKey;
use crate::plan::{Action, Plan};
use crate::redact::MASK;
use crate::source::SourceId;

/// The format version written; other versions are ignored on load.
pub const VERSION: u32 = 1;

/// One object as last applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRecord {
    /// The revision it was applied (or found in sync) at.
    pub revision: String,
    /// [`digest`] of its desired document then.
    pub digest: String,
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

/// The objects of `plan` that would be written although their document in Git is the
/// one last applied: the tenant changed since. Nothing when `records` belong to another
/// source or version.
pub fn drifted(records: &AppliedObjects, desired: &DesiredSet, plan: &Plan) -> Vec<Drifted> {
    if records.version != VERSION || records.source.as_ref() != Some(&desired.source) {
        return Vec::new();
    }
    plan.changes
        .iter()
        .filter(|c| matches!(c.action, Action::Create | Action::Update))
        .filter_map(|c| {
            let record = records.objects.get(&c.key.to_string())?;
            let m = desired.objects.get(&c.key)?;
            (record.digest == digest(m)).then(|| Drifted {
                key: c.key.clone(),
                action: c.action,
                applied_at: record.revision.clone(),
            })
        })
        .collect()
}

/// The records after an apply of `plan`: objects in sync or written are recorded at this
/// revision, deleted ones dropped, failed or skipped ones keep their previous record
/// (records of another source or version are not carried over).
pub fn next(
    previous: Option<&AppliedObjects>,
    desired: &DesiredSet,
    plan: &Plan,
    report: &ApplyReport,
) -> AppliedObjects {
    let mut objects = previous
        .filter(|p| p.version == VERSION && p.source.as_ref() == Some(&desired.source))
        .map(|p| p.objects.clone())
        .unwrap_or_default();
    let landed = |key: &ObjectKey| {
        report
            .results
            .iter()
            .any(|r| &r.key == key && matches!(r.outcome, Outcome::Applied { .. }))
    };
    for c in &plan.changes {
        let shown = c.key.to_string();
        match c.action {
            Action::NoOp | Action::Create | Action::Update
                if c.action == Action::NoOp || landed(&c.key) =>
            {
                if let Some(m) = desired.objects.get(&c.key) {
                    objects.insert(
                        shown,
                        ObjectRecord {
                            revision: desired.revision.clone(),
                            digest: digest(m),
                        },
                    );
                }
            }
            Action::Delete if landed(&c.key) => {
                objects.remove(&shown);
            }
            _ => {}
        }
    }
    AppliedObjects {
        version: VERSION,
        source: Some(desired.source.clone()),
        objects,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Span;
    use crate::object::Kind;

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

    #[test]
    fn the_digest_holds_no_secret() {
        // Only the mask is hashed: the digest cannot test a guess of the password.
        assert_eq!(digest(&data("hunter2")), digest(&data("other")));
        let mut desired = DesiredSet::default();
        desired.objects.insert(data("hunter2").key, data("hunter2"));
        let plan = Plan {
            changes: vec![crate::plan::Change {
                key: data("x").key,
                action: Action::NoOp,
                fields: Vec::new(),
                data: None,
                id: None,
                note: None,
                moved_from: None,
            }],
            ..Default::default()
        };
        let next = next(None, &desired, &plan, &ApplyReport::default());
        let text = serde_json::to_string(&next).unwrap();
        assert!(
            text.contains("data/wh") && !text.contains("hunter2"),
            "{text}"
        );
        assert_eq!(drifted(&next, &desired, &plan), vec![]);
    }
}
