//! Prune: which live objects may be deleted, and the guards that refuse a dangerous plan.
//!
//! Input: a [`Plan`] from [`super::diff`] plus the [`Inventory`] of what this tool applied
//! before. Output: the same plan with `Delete` actions, or a [`Refusal`].
//!
//! Guarantees:
//! 1. Nothing is deleted unless prune is on for that kind.
//! 2. Only objects this tool manages are deleted: keys that were in Git at a previously
//!    applied revision (the inventory). Objects created by hand and never in Git are
//!    listed as unmanaged and never touched. No inventory → no deletes (fail safe).
//! 3. A kind whose desired set is empty while it has managed live objects is refused
//!    unless `allow_empty` (an empty or broken checkout must not wipe a tenant). A source
//!    with no manifest at all never deletes anything, `allow_empty` or not.
//! 4. More than `max_deletions` deletes — objects plus tables dropped from a data
//!    source's `sources`, which Immuta deletes or disables — refuses the whole plan.
//! 5. Keys matching an exclude glob of `.immuta-gitops.yaml` are never deleted.
//! 6. A data-source update that would remove data sources is sent only when prune
//!    covers `data` or `.immuta-gitops.yaml` allows it for that key; otherwise it is
//!    refused (see `plan::tables`). Allowed ones count towards `max_deletions` with or
//!    without prune.
//! 7. An inventory is trusted only when it is valid for this source (see
//!    `state::inventory`); an untrusted one owns nothing and a note says why.
//! 8. An old key named by a `moved` entry of `.immuta-gitops.yaml` is never deleted
//!    (it is renamed, or the rename is refused; see `plan::moves`).
//!
//! Without prune no object is deleted, and the managed objects that left Git are listed
//! as unmanaged with a note that `--prune` would remove them.

use std::collections::{BTreeMap, BTreeSet};

use globset::{Glob, GlobSet, GlobSetBuilder};

use super::{Action, Change, Plan};
use crate::live::LiveSet;
use crate::manifest::DesiredSet;
use crate::object::{Kind, ObjectKey};
use crate::state::{Inventory, InventoryError};

/// Why prune did not delete something, for the plan log. [`Note::is_warning`] tells
/// which ones say that prune is disabled for this run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// The inventory is not trusted for this source: it owns nothing, nothing is deleted.
    Untrusted(InventoryError),
    /// Prune is on but no inventory of a previous apply exists.
    NoInventory,
    /// A managed object left Git; `--prune` is off (`None`) or does not cover its kind.
    LeftGit {
        /// The object.
        key: ObjectKey,
        /// The kind `--prune` would need, when prune is on for other kinds.
        kind: Option<Kind>,
    },
    /// A managed object left Git but matches an exclude of `.immuta-gitops.yaml`.
    Excluded(ObjectKey),
    /// A data source's table removals are refused because its key matches an exclude.
    TablesExcluded(ObjectKey),
}

impl Note {
    /// Whether the note says prune is disabled for this run (logged as a warning).
    pub fn is_warning(&self) -> bool {
        matches!(self, Note::Untrusted(_))
    }
}

impl std::fmt::Display for Note {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Note::Untrusted(e) => write!(
                f,
                "prune disabled: {e}; it owns nothing here, so nothing is deleted (fail safe); the next apply replaces it"
            ),
            Note::NoInventory => f.write_str(
                "prune: no inventory of a previous apply, so nothing is deleted (fail safe)",
            ),
            Note::LeftGit { key, kind: None } => write!(
                f,
                "prune: {key} left Git but is managed: unmanaged, would be removed with --prune"
            ),
            Note::LeftGit {
                key,
                kind: Some(kind),
            } => write!(
                f,
                "prune: {key} left Git but is managed: unmanaged, would be removed with --prune={kind}"
            ),
            Note::Excluded(key) => {
                write!(f, "prune: {key} is excluded by .immuta-gitops.yaml")
            }
            Note::TablesExcluded(key) => write!(
                f,
                "prune: {key} matches a prune exclude of .immuta-gitops.yaml, so its table removals are refused even with --prune; set dataSources.{}.allowTableRemoval: true to allow them",
                serde_json::to_string(&key.name).unwrap_or_default()
            ),
        }
    }
}

/// Prune settings.
#[derive(Debug, Clone)]
pub struct PruneOptions {
    /// Kinds for which deletes are allowed (empty: prune off).
    pub kinds: BTreeSet<Kind>,
    /// Allow a kind's desired set to be empty while it has managed live objects.
    pub allow_empty: bool,
    /// Refuse the plan when it holds more deletes than this.
    pub max_deletions: usize,
    /// Keys (`kind/name` globs) never deleted.
    pub exclude: Vec<String>,
    /// Connection keys whose updates may remove data sources without prune
    /// (`dataSources.<key>.allowTableRemoval` in `.immuta-gitops.yaml`).
    pub allow_table_removal: BTreeSet<String>,
}

impl Default for PruneOptions {
    fn default() -> Self {
        PruneOptions {
            kinds: BTreeSet::new(),
            allow_empty: false,
            max_deletions: 5,
            exclude: Vec::new(),
            allow_table_removal: BTreeSet::new(),
        }
    }
}

/// Why a plan with deletes was refused. A refused plan is not applied at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The desired set of a kind is empty while managed live objects exist.
    #[error("refusing to delete every managed {kind} ({managed} live): the source has no {kind} at all; pass --allow-empty if this is intended")]
    EmptyKind {
        /// The kind.
        kind: Kind,
        /// Managed live objects of it.
        managed: usize,
    },
    /// The source holds no manifest at all: an empty or broken checkout, never a reason
    /// to delete (not even with `allow_empty`).
    #[error("refusing to delete {managed} managed object(s): the source holds no manifest at all (an empty or broken checkout?); delete objects from Git while at least one manifest remains")]
    EmptySource {
        /// Managed live objects that would have been deleted.
        managed: usize,
    },
    /// Too many deletes.
    #[error("refusing a plan with {count} deletions (objects and data-source tables), more than --max-deletions {max}")]
    TooMany {
        /// Deletes in the plan.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// An exclude pattern is not a valid glob.
    #[error("invalid prune exclude pattern {pattern:?}: {message}")]
    BadPattern {
        /// The pattern.
        pattern: String,
        /// Why.
        message: String,
    },
}

/// Turns unmanaged changes that the inventory owns into deletes, and applies the guards.
///
/// Returns notes for the plan log (e.g. why nothing is deleted).
///
/// # Errors
/// A [`Refusal`]; the caller must then apply nothing.
pub fn add_deletes(
    plan: &mut Plan,
    desired: &DesiredSet,
    live: &LiveSet,
    inventory: Option<&Inventory>,
    opts: &PruneOptions,
) -> Result<Vec<Note>, Refusal> {
    let mut notes = Vec::new();
    let exclude = if opts.kinds.is_empty() {
        GlobSet::empty()
    } else {
        globs(&opts.exclude)?
    };
    let excluded = |k: &ObjectKey| exclude.is_match(k.to_string());
    // Updates that would remove data sources are destroys: refused unless allowed.
    let table_deletes = super::tables::gate(plan, opts, &|c| excluded(&c.key), &mut notes);
    let trusted = match inventory.map(|inv| (inv, inv.check(&desired.source))) {
        Some((inv, Ok(()))) => Some(inv),
        Some((_, Err(e))) => {
            notes.push(Note::Untrusted(e));
            None
        }
        None => None,
    };
    if opts.kinds.is_empty() {
        if let Some(inv) = trusted {
            for c in &mut plan.changes {
                if c.action == Action::Unmanaged && inv.keys.contains(&c.key) {
                    c.note = Some(super::NOTE_WOULD_PRUNE.into());
                    notes.push(Note::LeftGit {
                        key: c.key.clone(),
                        kind: None,
                    });
                }
            }
        }
        return guard_count(table_deletes, opts).map(|()| notes);
    }
    let Some(inv) = trusted else {
        if inventory.is_none() {
            notes.push(Note::NoInventory);
        }
        return guard_count(table_deletes, opts).map(|()| notes);
    };

    // An old key a `moved` entry names is renamed or refused, never deleted (issue 13).
    let moved: BTreeSet<&ObjectKey> = desired.moved.iter().map(|m| &m.from).collect();
    // Data sources cannot be listed by key: the live stage probed inventory keys.
    for (key, names) in &live.data_orphans {
        if !desired.objects.contains_key(key) && inv.keys.contains(key) && !moved.contains(key) {
            plan.changes.retain(|c| &c.key != key);
            plan.changes.push(Change {
                key: key.clone(),
                action: Action::Unmanaged,
                fields: Vec::new(),
                data: Some(crate::live::DataDryRun {
                    deleting: names.clone(),
                    ..Default::default()
                }),
                id: None,
                note: None,
                moved_from: None,
            });
        }
    }
    let mut managed_live: BTreeMap<Kind, usize> = BTreeMap::new();
    for c in &mut plan.changes {
        if c.action != Action::Unmanaged || !inv.keys.contains(&c.key) || moved.contains(&c.key) {
            continue;
        }
        // A group of live data sources is named by its connection string, not by a
        // connection key (issue 13): only a key the delete probe found is deletable.
        if c.key.kind == Kind::Data && !live.data_orphans.contains_key(&c.key) {
            continue;
        }
        *managed_live.entry(c.key.kind).or_default() += 1;
        if !opts.kinds.contains(&c.key.kind) {
            c.note = Some(super::NOTE_WOULD_PRUNE.into());
            notes.push(Note::LeftGit {
                key: c.key.clone(),
                kind: Some(c.key.kind),
            });
            continue;
        }
        if excluded(&c.key) {
            notes.push(Note::Excluded(c.key.clone()));
            continue;
        }
        c.action = Action::Delete;
    }
    let candidates = plan
        .changes
        .iter()
        .filter(|c| c.action == Action::Delete)
        .count();
    if desired.objects.is_empty() && candidates > 0 {
        return Err(Refusal::EmptySource {
            managed: candidates,
        });
    }
    for kind in &opts.kinds {
        let desired_count = desired.objects.keys().filter(|k| k.kind == *kind).count();
        let managed = managed_live.get(kind).copied().unwrap_or(0);
        if desired_count == 0 && managed > 0 && !opts.allow_empty {
            return Err(Refusal::EmptyKind {
                kind: *kind,
                managed,
            });
        }
    }
    plan.changes.sort_by(|a, b| a.key.cmp(&b.key));
    // A data-source delete removes every data source of the connection: each counts.
    let deletes: usize = plan
        .changes
        .iter()
        .filter(|c| c.action == Action::Delete)
        .map(Change::destroys)
        .sum();
    guard_count(deletes + table_deletes, opts)?;
    Ok(notes)
}

fn guard_count(count: usize, opts: &PruneOptions) -> Result<(), Refusal> {
    if count > opts.max_deletions {
        return Err(Refusal::TooMany {
            count,
            max: opts.max_deletions,
        });
    }
    Ok(())
}

fn globs(patterns: &[String]) -> Result<GlobSet, Refusal> {
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        let g = Glob::new(p).map_err(|e| Refusal::BadPattern {
            pattern: p.clone(),
            message: e.to_string(),
        })?;
        b.add(g);
    }
    b.build().map_err(|e| Refusal::BadPattern {
        pattern: patterns.join(","),
        message: e.to_string(),
    })
}

/// Turns every delete of `plan` into an unmanaged object that prune would remove, and
/// returns the keys: a drift-sweep chunk ([`crate::cycle::Scope::Recheck`]) never
/// deletes, even when it fell back to a full plan. The inventory keeps the keys, so the
/// next plan of a revision deletes them.
pub fn withhold_deletes(plan: &mut Plan) -> Vec<ObjectKey> {
    let mut withheld = Vec::new();
    for c in plan
        .changes
        .iter_mut()
        .filter(|c| c.action == Action::Delete)
    {
        c.action = Action::Unmanaged;
        c.note = Some(super::NOTE_WOULD_PRUNE.into());
        withheld.push(c.key.clone());
    }
    withheld
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::LiveObject;
    use crate::manifest::{Manifest, Span};
    use serde_json::json;

    fn key(kind: Kind, n: &str) -> ObjectKey {
        ObjectKey::new(kind, n)
    }

    fn src() -> crate::source::SourceId {
        crate::source::SourceId {
            location: "/srv/repo".into(),
            path: String::new(),
        }
    }

    fn inventory(keys: &[ObjectKey]) -> Inventory {
        Inventory::new("r", "repo", src(), keys.iter().cloned().collect())
    }

    fn desired(keys: &[ObjectKey]) -> DesiredSet {
        let mut d = DesiredSet {
            source: src(),
            ..Default::default()
        };
        for k in keys {
            d.objects.insert(
                k.clone(),
                Manifest {
                    key: k.clone(),
                    span: Span {
                        path: "f".into(),
                        line: 1,
                        col: 1,
                    },
                    body: json!({"name": k.name}),
                    sensitive: Default::default(),
                },
            );
        }
        d
    }

    fn live(keys: &[ObjectKey]) -> LiveSet {
        let mut l = LiveSet::default();
        for (i, k) in keys.iter().enumerate() {
            l.objects.insert(
                k.clone(),
                LiveObject {
                    key: k.clone(),
                    id: Some(i as u64),
                    system: false,
                    body: Some(json!({"name": k.name})),
                },
            );
        }
        l
    }

    fn opts(kinds: &[Kind]) -> PruneOptions {
        PruneOptions {
            kinds: kinds.iter().copied().collect(),
            ..Default::default()
        }
    }

    fn plan_for(
        d: &DesiredSet,
        l: &LiveSet,
        inv: Option<&Inventory>,
        o: &PruneOptions,
    ) -> Result<Plan, Refusal> {
        let mut p = super::super::diff(d, l);
        add_deletes(&mut p, d, l, inv, o)?;
        Ok(p)
    }

    #[test]
    fn only_inventory_objects_are_deleted_and_only_with_prune() {
        let (a, b, hand) = (
            key(Kind::Policy, "a"),
            key(Kind::Policy, "b"),
            key(Kind::Policy, "hand"),
        );
        let d = desired(std::slice::from_ref(&a));
        let l = live(&[a.clone(), b.clone(), hand.clone()]);
        let inv = inventory(&[a.clone(), b.clone()]);
        let off = plan_for(&d, &l, Some(&inv), &PruneOptions::default()).unwrap();
        assert!(off.changes.iter().all(|c| c.action != Action::Delete));
        let on = plan_for(&d, &l, Some(&inv), &opts(&[Kind::Policy])).unwrap();
        let action = |k: &ObjectKey| on.changes.iter().find(|c| &c.key == k).unwrap().action;
        assert_eq!(action(&b), Action::Delete);
        assert_eq!(action(&hand), Action::Unmanaged);
        assert_eq!(on.summary().destroy, 1);
        let other_kind = plan_for(&d, &l, Some(&inv), &opts(&[Kind::Project])).unwrap();
        assert!(other_kind
            .changes
            .iter()
            .all(|c| c.action != Action::Delete));
    }

    #[test]
    fn an_inventory_of_another_source_owns_nothing() {
        let (a, b) = (key(Kind::Policy, "a"), key(Kind::Policy, "b"));
        let mut d = desired(std::slice::from_ref(&a));
        d.source.location = "https://git.example/tenant-b".into();
        let mut inv = inventory(&[a.clone(), b.clone()]);
        inv.source = Some(crate::source::SourceId {
            location: "https://git.example/tenant-a".into(),
            path: String::new(),
        });
        let mut p = super::super::diff(&d, &live(&[a, b]));
        let notes =
            add_deletes(&mut p, &d, &live(&[]), Some(&inv), &opts(&[Kind::Policy])).unwrap();
        assert_eq!(p.summary().destroy, 0);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].is_warning());
        assert!(notes[0].to_string().starts_with("prune disabled: the inventory belongs to https://git.example/tenant-a, not https://git.example/tenant-b"), "{notes:?}");
    }

    #[test]
    fn no_inventory_means_no_deletes() {
        let b = key(Kind::Purpose, "b");
        let d = desired(&[key(Kind::Purpose, "a")]);
        let p = plan_for(&d, &live(&[b]), None, &opts(&[Kind::Purpose])).unwrap();
        assert_eq!(p.summary().destroy, 0);
    }

    #[test]
    fn empty_kind_and_too_many_deletes_are_refused() {
        let ks: Vec<ObjectKey> = (0..7)
            .map(|i| key(Kind::Project, &format!("p{i}")))
            .collect();
        let inv = inventory(&ks);
        let empty = plan_for(
            &desired(&[key(Kind::Purpose, "other kind")]),
            &live(&ks),
            Some(&inv),
            &opts(&[Kind::Project]),
        );
        assert_eq!(
            empty.unwrap_err(),
            Refusal::EmptyKind {
                kind: Kind::Project,
                managed: 7
            }
        );
        let keep_one = desired(&ks[..1]);
        let too_many = plan_for(&keep_one, &live(&ks), Some(&inv), &opts(&[Kind::Project]));
        assert_eq!(too_many.unwrap_err(), Refusal::TooMany { count: 6, max: 5 });
        let mut allowed = opts(&[Kind::Project]);
        allowed.max_deletions = 10;
        allowed.exclude = vec!["project/p[56]".into()];
        let p = plan_for(&keep_one, &live(&ks), Some(&inv), &allowed).unwrap();
        assert_eq!(p.summary().destroy, 4);
    }

    #[test]
    fn an_empty_source_never_deletes_even_with_allow_empty() {
        let ks = [
            key(Kind::Purpose, "a"),
            key(Kind::Policy, "b"),
            key(Kind::Project, "c"),
        ];
        let inv = inventory(&ks);
        let mut o = opts(Kind::ALL);
        o.allow_empty = true;
        o.max_deletions = 100;
        let err = plan_for(&desired(&[]), &live(&ks), Some(&inv), &o).unwrap_err();
        assert_eq!(err, Refusal::EmptySource { managed: 3 });
        // Without allow_empty, every kind with managed live objects is refused.
        for kind in [Kind::Purpose, Kind::Policy, Kind::Project] {
            let err = plan_for(&desired(&[]), &live(&ks), Some(&inv), &opts(&[kind])).unwrap_err();
            assert!(
                matches!(err, Refusal::EmptySource { managed: 1 }),
                "{kind}: {err}"
            );
        }
        // Nothing managed live: nothing to refuse, nothing deleted.
        let p = plan_for(&desired(&[]), &live(&[]), Some(&inv), &o).unwrap();
        assert_eq!(p.summary().destroy, 0);
    }

    #[test]
    fn managed_objects_left_alone_without_prune_are_noted() {
        let (a, b) = (key(Kind::Policy, "a"), key(Kind::Policy, "b"));
        let inv = inventory(&[a.clone(), b.clone()]);
        let d = desired(std::slice::from_ref(&a));
        let mut p = super::super::diff(&d, &live(&[a, b]));
        let notes =
            add_deletes(&mut p, &d, &live(&[]), Some(&inv), &PruneOptions::default()).unwrap();
        assert_eq!(p.summary().destroy, 0);
        assert_eq!(
            notes,
            [Note::LeftGit {
                key: key(Kind::Policy, "b"),
                kind: None
            }]
        );
        assert!(!notes[0].is_warning());
        assert_eq!(
            notes[0].to_string(),
            "prune: policy/b left Git but is managed: unmanaged, would be removed with --prune"
        );
    }

    #[test]
    fn a_chunk_plan_keeps_no_delete() {
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
}
