//! Renames: the `moved:` entries of `.immuta-gitops.yaml` (Terraform's `moved` block,
//! issue 13). Without one, a key changed in Git plans a create of the new key and leaves
//! the old object unmanaged (or prunes it); for a policy that drops it for a moment, for
//! a project its members.
//!
//! Input: the changes [`super::diff`] built, the [`DesiredSet`] (with its moves) and the
//! [`LiveSet`]. Output: the same changes, where a move applies:
//!
//! - **policy** (`PUT /policy/global/{id}` carries `policyKey`, 002:1401-1413 with the
//!   policy object of 002:743): the change of the new key compares the manifest with the
//!   live object of the old key, is an update (a rename is a write even when nothing else
//!   changed) with [`Change::moved_from`] set and the old object's id; the old key is no
//!   longer listed. Apply renames first, then upserts.
//! - **data** (connection keys), **project** and **purpose**: no documented call changes
//!   the key (the CLI's `datasource rename` and `project rename`, 000:1108-1112,
//!   000:1224-1230, give no HTTP call; `PUT /project/{id}` takes no `projectKey`,
//!   004:245-292). The change of the new key is [`Action::Refused`] with a note saying
//!   what delete + create would do instead, and the old object is not listed (so prune
//!   cannot delete it in the same run).
//! - a move whose old key no longer exists in Immuta (already renamed, e.g. with the CLI)
//!   changes nothing: the new key is planned as usual.
//!
//! Guarantees: a move never deletes anything; an old key named by a move is never
//! deleted by prune in that run (`prune::add_deletes`). Pure functions.

use serde_json::Value;

use super::{compare, Action, Change};
use crate::live::LiveSet;
use crate::manifest::DesiredSet;
use crate::object::{Kind, Move};

/// Checks the moves against the objects of the revision and records them on it.
///
/// # Errors
/// A message naming `.immuta-gitops.yaml` when a move's new key is not in the source or
/// its old key still is.
pub fn attach(desired: &mut DesiredSet, moves: Vec<Move>) -> Result<(), String> {
    for m in &moves {
        if !desired.objects.contains_key(&m.to) {
            return Err(format!(
                ".immuta-gitops.yaml: moved: {} -> {}: {} is not in the source; a move names the key a manifest now has",
                m.from, m.to, m.to
            ));
        }
        if let Some(still) = desired.objects.get(&m.from) {
            return Err(format!(
                ".immuta-gitops.yaml: moved: {} -> {}: {} is still in the source (at {}); rename it there, or drop the move",
                m.from, m.to, m.from, still.span
            ));
        }
    }
    desired.moved = moves;
    Ok(())
}

/// Why the key of `kind` cannot be renamed, and what delete + create would do instead.
pub fn unsupported(m: &Move) -> String {
    let why = match m.to.kind {
        Kind::Data => "no documented call renames a connection key (the CLI's `immuta datasource rename` does, 000:1108-1112, but the documentation gives no HTTP call for it); delete + create instead would remove every data source of the old key and create new ones: new ids, and the owners, tags, policies' exceptions and project memberships of the old ones lost",
        Kind::Project => "no documented call renames a project key (PUT /project/{id} takes name, description and documentation but no projectKey, 004:245-292; the CLI's `immuta project rename` gives no HTTP call, 000:1224-1230); delete + create instead would disable the old project and create a new one with a new id and none of its members",
        Kind::Purpose => "no documented call renames a purpose; delete + create instead would delete the old purpose (and its sub-purposes) and create a new one with a new id, which projects and policies naming the old one no longer find",
        Kind::Policy => "a policy can be renamed",
    };
    format!(
        "{} -> {} cannot be renamed: {why}. Rename it in Immuta (the CLI's rename), then plan again; or drop the moved entry to replace it",
        m.from, m.to
    )
}

/// Applies the desired set's moves to `changes` (see the module header).
pub(super) fn resolve(changes: &mut Vec<Change>, desired: &DesiredSet, live: &LiveSet) {
    for m in &desired.moved {
        let Some(at) = changes.iter().position(|c| c.key == m.to) else {
            continue;
        };
        let old = live.objects.get(&m.from).filter(|o| !o.system);
        let target_exists = match m.to.kind {
            Kind::Data => changes.get(at).is_some_and(|c| c.action != Action::Create),
            _ => live.objects.contains_key(&m.to),
        };
        let Some(change) = changes.get_mut(at) else {
            continue;
        };
        let both = || {
            format!(
                "{} -> {} cannot be renamed: both keys exist in Immuta; delete one of them by hand, or drop the moved entry",
                m.from, m.to
            )
        };
        match (m.to.kind, old) {
            // The new key already holds the data sources: renamed already (the old key
            // cannot be looked up, V1 does not expose connection keys).
            (Kind::Data, _) if target_exists => {}
            (Kind::Data, _) => refuse(change, m, unsupported(m)),
            // Nothing to rename (already renamed, e.g. with the CLI): plan as usual.
            (_, None) => {}
            (_, Some(_)) if target_exists => {
                refuse(change, m, both());
                changes.retain(|c| c.key != m.from);
            }
            (Kind::Policy, Some(old)) => {
                let Some(manifest) = desired.objects.get(&m.to) else {
                    continue;
                };
                let mut renamed = old.clone();
                renamed.key = m.to.clone();
                if let Some(Value::Object(body)) = &mut renamed.body {
                    body.insert("policyKey".into(), Value::String(m.to.name.clone()));
                }
                let mut c = compare(&m.to, manifest, &renamed);
                c.action = Action::Update;
                c.moved_from = Some(m.from.clone());
                *change = c;
                changes.retain(|c| c.key != m.from);
            }
            (_, Some(_)) => {
                refuse(change, m, unsupported(m));
                changes.retain(|c| c.key != m.from);
            }
        }
    }
}

fn refuse(change: &mut Change, m: &Move, note: String) {
    change.action = Action::Refused;
    change.fields.clear();
    change.moved_from = Some(m.from.clone());
    change.note = Some(note);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::{DataDryRun, LiveObject};
    use crate::manifest::{Manifest, Span};
    use crate::object::ObjectKey;
    use serde_json::json;

    fn manifest(key: &ObjectKey, body: Value) -> Manifest {
        Manifest {
            key: key.clone(),
            span: Span {
                path: format!("{}/x.yaml", key.kind),
                line: 1,
                col: 1,
            },
            body,
            sensitive: Default::default(),
        }
    }

    fn policy(key: &str, description: &str) -> Value {
        json!({"policyKey": key, "name": "Mask", "type": "subscription",
               "actions": {"type": "anyone", "description": description}})
    }

    fn setup(kind: Kind, live_old: bool, live_new: bool) -> (DesiredSet, LiveSet, Move) {
        let m = Move {
            from: ObjectKey::new(kind, "old-key"),
            to: ObjectKey::new(kind, "new-key"),
        };
        let body = match kind {
            Kind::Policy => policy("new-key", "d"),
            Kind::Project => json!({"projectKey": "new-key", "name": "P"}),
            Kind::Purpose => json!({"name": "new-key"}),
            Kind::Data => json!({"connectionKey": "new-key"}),
        };
        let mut desired = DesiredSet::default();
        desired
            .objects
            .insert(m.to.clone(), manifest(&m.to, body.clone()));
        let mut live = LiveSet::default();
        let mut put = |key: &ObjectKey, id: u64| {
            let mut b = body.clone();
            b[kind.identity_field()] = json!(key.name);
            live.objects.insert(
                key.clone(),
                LiveObject {
                    key: key.clone(),
                    id: Some(id),
                    system: false,
                    body: Some(b),
                },
            );
        };
        if kind == Kind::Data {
            let dry = if live_new {
                DataDryRun {
                    no_change: vec!["t".into()],
                    ..Default::default()
                }
            } else {
                DataDryRun {
                    creating: vec!["t".into()],
                    ..Default::default()
                }
            };
            live.data.insert(m.to.clone(), dry);
        } else {
            if live_old {
                put(&m.from, 41);
            }
            if live_new {
                put(&m.to, 42);
            }
        }
        attach(&mut desired, vec![m.clone()]).unwrap();
        (desired, live, m)
    }

    #[test]
    fn a_policy_rename_keeps_the_old_id_and_shows_other_changes() {
        let (mut desired, live, m) = setup(Kind::Policy, true, false);
        let plan = super::super::diff(&desired, &live);
        assert_eq!(plan.changes.len(), 1, "{:#?}", plan.changes);
        let c = &plan.changes[0];
        assert_eq!(
            (&c.key, c.action, c.moved_from.as_ref(), c.id),
            (&m.to, Action::Update, Some(&m.from), Some(41))
        );
        assert!(c.fields.is_empty(), "{:#?}", c.fields);
        // A changed field besides the key is shown as usual.
        desired.objects.get_mut(&m.to).unwrap().body = policy("new-key", "changed");
        let plan = super::super::diff(&desired, &live);
        let paths: Vec<&str> = plan.changes[0]
            .fields
            .iter()
            .map(|f| f.path.as_str())
            .collect();
        assert_eq!(paths, ["actions.description"]);
    }

    #[test]
    fn a_rename_already_done_plans_as_usual() {
        let (desired, live, m) = setup(Kind::Policy, false, true);
        let plan = super::super::diff(&desired, &live);
        assert_eq!(plan.changes.len(), 1);
        assert_eq!(plan.changes[0].action, Action::NoOp);
        assert_eq!(plan.changes[0].moved_from, None);
        let (desired, live, _) = setup(Kind::Project, false, true);
        let plan = super::super::diff(&desired, &live);
        assert_eq!(plan.changes[0].action, Action::NoOp);
        let _ = m;
    }

    #[test]
    fn keys_without_a_documented_rename_are_refused_with_the_alternative() {
        for (kind, word) in [
            (Kind::Data, "connection key"),
            (Kind::Project, "project key"),
            (Kind::Purpose, "purpose"),
        ] {
            let (desired, live, m) = setup(kind, true, false);
            let plan = super::super::diff(&desired, &live);
            assert_eq!(plan.changes.len(), 1, "{kind}: {:#?}", plan.changes);
            let c = &plan.changes[0];
            assert_eq!(
                (c.action, c.moved_from.as_ref()),
                (Action::Refused, Some(&m.from))
            );
            let note = c.note.as_deref().unwrap();
            assert!(
                note.contains(word) && note.contains("delete + create"),
                "{note}"
            );
        }
    }

    #[test]
    fn both_keys_live_is_refused() {
        let (desired, live, _) = setup(Kind::Policy, true, true);
        let plan = super::super::diff(&desired, &live);
        assert_eq!(plan.changes.len(), 1);
        assert_eq!(plan.changes[0].action, Action::Refused);
    }

    #[test]
    fn moves_must_name_the_source_as_it_is() {
        let (mut desired, _, m) = setup(Kind::Policy, true, false);
        let err = attach(
            &mut desired,
            vec![Move {
                from: m.from.clone(),
                to: ObjectKey::new(Kind::Policy, "elsewhere"),
            }],
        )
        .unwrap_err();
        assert!(
            err.contains("policy/elsewhere is not in the source"),
            "{err}"
        );
        desired
            .objects
            .insert(m.from.clone(), manifest(&m.from, policy("old-key", "d")));
        let err = attach(&mut desired, vec![m]).unwrap_err();
        assert!(
            err.contains("policy/old-key is still in the source (at policy/x.yaml:1:1)"),
            "{err}"
        );
    }
}
