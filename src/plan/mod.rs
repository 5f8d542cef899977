//! Stage 4: plan. Compares a [`DesiredSet`] with a [`LiveSet`] and says, per object, what
//! apply would do.
//!
//! Input: [`DesiredSet`] × [`LiveSet`]. Output: [`Plan`]. [`diff`] is a pure function:
//! it does no I/O (the data-source dry-run answers and V1 reads were fetched by `live`),
//! so it is tested with literals. A data source's action comes from its dry run (or from
//! its V1 reads when only they differ); its fields from [`data`], which compares the
//! document with what the V1 reads showed; [`secrets`] adds what can be said of its
//! credentials. Renderers live in [`render`]: text (Terraform's shape) and a versioned
//! JSON document.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::live::{DataDryRun, LiveObject, LiveSet};
use crate::manifest::{DesiredSet, Manifest};
use crate::object::{Kind, ObjectKey};
use crate::redact::MASK;

pub use crate::canonical::canonical;

pub mod adopt;
pub mod comment;
pub mod data;
pub mod moves;
pub mod prune;
pub mod references;
pub mod render;
pub mod risk;
pub mod saved;
pub mod scope;
pub mod secrets;
pub mod tables;

pub use scope::PlanScope;
pub use tables::refusal_reason;

/// What apply will do to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Not in the tenant: will be created.
    Create,
    /// In the tenant but different: the full desired document will be POSTed.
    Update,
    /// Already as desired: nothing is sent.
    NoOp,
    /// In the tenant, not in Git, not managed by this tool (or prune off): left alone.
    Unmanaged,
    /// Managed by this tool, gone from Git, prune on: will be deleted.
    Delete,
    /// A data source whose update would delete or disable data sources (tables dropped
    /// from `sources`, or a connection change that replaces them) while table removal is
    /// not allowed: nothing is sent for it, and the run reports it as not applied.
    Refused,
}

impl Action {
    /// The word the JSON plan uses (`create`, `update`, `no-op`, `unmanaged`, `delete`,
    /// `refused`), also in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::NoOp => "no-op",
            Action::Unmanaged => "unmanaged",
            Action::Delete => "delete",
            Action::Refused => "refused",
        }
    }

    /// Whether apply sends anything for it.
    pub fn is_write(self) -> bool {
        matches!(self, Action::Create | Action::Update | Action::Delete)
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One changed field of an object, addressed by a path like `actions[0].rules[1].type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    /// Dotted path with `[i]` for array items.
    pub path: String,
    /// Live value (`None`: absent or server default).
    pub before: Option<Value>,
    /// Desired value (`None`: absent, back to the server default).
    pub after: Option<Value>,
    /// The value is secret: renderers print `(sensitive)` instead.
    pub sensitive: bool,
    /// What the plan can say about a value it cannot show or compare (issue 13: a
    /// credential `sensitive, will be sent` or `sensitive, cannot compare`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The plan for one object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// Identity.
    pub key: ObjectKey,
    /// What apply will do.
    pub action: Action,
    /// Field-level differences (for creates: every desired field).
    pub fields: Vec<FieldChange>,
    /// For data sources: the server's own dry-run answer.
    pub data: Option<DataDryRun>,
    /// Immuta's id of the live object, when known.
    pub id: Option<u64>,
    /// Why an object that looks new is not written (e.g. a data source whose connection
    /// matches no tables). Shown next to the object; never changes the action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The key this object had in Immuta before a `moved` entry of `.immuta-gitops.yaml`
    /// renamed it: apply renames the live object first, then updates it (issue 13).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moved_from: Option<ObjectKey>,
}

/// The note on a data source whose dry run lists nothing at all (issue 10).
pub const NOTE_NO_TABLES: &str = "connection matches no tables";

/// The note on an unmanaged change that this tool applied before and that left Git:
/// prune is off for its kind, so it stays, and `--prune` would delete it (issue 14).
pub const NOTE_WOULD_PRUNE: &str = "removed from Git but managed by this tool";

/// The note on live data sources no desired connection names (issue 13): V1 does not
/// expose connection keys, so the group is named by its connection string.
pub const NOTE_UNREAD_KEY: &str =
    "connection key not readable through V1; named by its connection string";

/// The note on a data source whose V1 reads differ from the source while Immuta's dry
/// run reports no change (issue 13).
pub const NOTE_V1_ONLY: &str =
    "Immuta's dry run reports no change; the V1 reads differ from the source";

/// Counts shown in the closing line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Objects to create.
    pub add: usize,
    /// Objects to update.
    pub change: usize,
    /// Immuta objects to delete. Every data source counts: those of a deleted connection
    /// key and those an update drops from a kept one (what `--max-deletions` counts).
    pub destroy: usize,
    /// Objects already in sync.
    pub unchanged: usize,
    /// Live objects outside Git that are left alone.
    pub unmanaged: usize,
    /// Data-source changes refused because they would remove data sources.
    pub refused: usize,
    /// Changes apply would send that weaken data protection (see [`risk`]).
    pub weakening: usize,
    /// Weakening changes held for approval: not sent (see [`risk::hold`]).
    pub held: usize,
    /// Managed objects removed from Git and left in Immuta because prune is off for
    /// their kind: `--prune` would delete them (counted in `unmanaged` too).
    pub prunable: usize,
}

/// Everything apply will do for one revision.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Where the manifests came from (no credentials).
    pub origin: String,
    /// Source revision.
    pub revision: String,
    /// One entry per object, in apply order then key.
    pub changes: Vec<Change>,
    /// Weakening changes held for approval: apply sends nothing for them and skips the
    /// objects that name them ([`risk::hold`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub held: Vec<risk::Held>,
    /// Which objects were read from Immuta (issue 15); omitted in JSON when every one
    /// was and nobody asked otherwise.
    #[serde(default, skip_serializing_if = "PlanScope::is_plain_full")]
    pub scope: PlanScope,
}

impl Plan {
    /// Counts per action.
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for c in &self.changes {
            match c.action {
                Action::Create => s.add += 1,
                Action::Update => s.change += 1,
                Action::NoOp => s.unchanged += 1,
                Action::Unmanaged => {
                    s.unmanaged += 1;
                    if c.note.as_deref() == Some(NOTE_WOULD_PRUNE) {
                        s.prunable += 1;
                    }
                }
                Action::Delete => {}
                Action::Refused => s.refused += 1,
            }
            s.destroy += c.destroys();
            if c.is_weakening() {
                s.weakening += 1;
            }
        }
        s.held = self.held.len();
        s
    }

    /// The changes refused because they would remove data sources.
    pub fn refused(&self) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(|c| c.action == Action::Refused)
    }

    /// The hold on `c`, when it is held for approval.
    pub fn held_of(&self, c: &Change) -> Option<&risk::Held> {
        self.held.iter().find(|h| h.key == c.key)
    }

    /// True when apply would send anything that is not held for approval.
    pub fn has_unheld_changes(&self) -> bool {
        self.changes
            .iter()
            .any(|c| c.action.is_write() && self.held_of(c).is_none())
    }

    /// True when apply would write anything.
    pub fn has_changes(&self) -> bool {
        self.changes.iter().any(|c| c.action.is_write())
    }

    /// Logs one `change` event per object that is not in sync (`key`, `action` in the
    /// JSON plan's words, the number of changed fields): the plan as structured log
    /// fields, never as one multi-line string. Field values are not logged.
    pub fn log_changes(&self) {
        for c in self.changes.iter().filter(|c| c.action != Action::NoOp) {
            tracing::info!(
                key = %c.key,
                action = %c.action,
                fields = c.fields.len(),
                "change"
            );
        }
    }
}

/// Compares desired with live.
///
/// Live objects that Immuta generated itself (`system`) are never listed: they are
/// neither written nor counted as drift.
pub fn diff(desired: &DesiredSet, live: &LiveSet) -> Plan {
    let mut changes = Vec::new();
    for (key, m) in &desired.objects {
        let mut change = diff_object(key, m, live);
        if let Some(dry) = &mut change.data {
            mask_names(dry, &desired.redactor);
        }
        if key.kind == Kind::Data {
            mask_values(&mut change.fields, &desired.redactor);
        }
        changes.push(change);
    }
    for (group, names) in &live.data_unmanaged {
        let key = ObjectKey::new(Kind::Data, group.as_str());
        if desired.objects.contains_key(&key) {
            continue;
        }
        changes.push(Change {
            key,
            action: Action::Unmanaged,
            fields: Vec::new(),
            data: Some(DataDryRun {
                no_change: names.clone(),
                ..Default::default()
            }),
            id: None,
            note: Some(NOTE_UNREAD_KEY.to_string()),
            moved_from: None,
        });
    }
    for (key, obj) in &live.objects {
        if obj.system || desired.objects.contains_key(key) || is_sub_purpose(key, desired, live) {
            continue;
        }
        changes.push(Change {
            key: key.clone(),
            action: Action::Unmanaged,
            fields: Vec::new(),
            data: None,
            id: obj.id,
            note: None,
            moved_from: None,
        });
    }
    moves::resolve(&mut changes, desired, live);
    changes.sort_by(|a, b| a.key.cmp(&b.key));
    Plan {
        origin: desired.origin.clone(),
        revision: desired.revision.clone(),
        changes,
        held: Vec::new(),
        scope: PlanScope::default(),
    }
}

/// Masks templated values inside the data source names Immuta's dry run answered: a
/// name can be made of a templated connection field (`<database>` in `nameTemplate`),
/// and every templated value is secret (issue 11; templated names themselves are
/// refused by validation).
fn mask_names(dry: &mut DataDryRun, redactor: &crate::redact::Redactor) {
    if redactor.is_empty() {
        return;
    }
    for names in [
        &mut dry.creating,
        &mut dry.updating,
        &mut dry.deleting,
        &mut dry.no_change,
    ] {
        for n in names.iter_mut() {
            *n = redactor.redact(n);
        }
    }
}

/// Masks a field whose value quotes a secret: a data-source diff compares values the
/// reader rebuilt (live names, merged lists), whose positions need not be the
/// document's, so the pointers alone cannot be trusted to find every templated value.
fn mask_values(fields: &mut [FieldChange], redactor: &crate::redact::Redactor) {
    if redactor.is_empty() {
        return;
    }
    for f in fields.iter_mut().filter(|f| !f.sensitive) {
        let leaks = |v: &Option<Value>| {
            v.as_ref().is_some_and(|v| {
                let text = v.to_string();
                redactor.redact(&text) != text
            })
        };
        if leaks(&f.before) || leaks(&f.after) {
            f.sensitive = true;
            for v in [&mut f.before, &mut f.after].into_iter().flatten() {
                *v = Value::String(MASK.to_string());
            }
        }
    }
}

/// Sub-purposes belong to the document of their root purpose (`A.B` is inside `A`), so
/// they are compared there and never listed on their own.
fn is_sub_purpose(key: &ObjectKey, desired: &DesiredSet, live: &LiveSet) -> bool {
    key.kind == Kind::Purpose
        && key.name.match_indices('.').any(|(i, _)| {
            let parent = ObjectKey::new(Kind::Purpose, &key.name[..i]);
            desired.objects.contains_key(&parent) || live.objects.contains_key(&parent)
        })
}

fn diff_object(key: &ObjectKey, m: &Manifest, live: &LiveSet) -> Change {
    if key.kind == Kind::Data {
        let dry = live.data.get(key).cloned().unwrap_or_default();
        // A dry run that names no data source at all (e.g. `sources: [{all: true}]`
        // against a database without tables) would create nothing: planning a create
        // would repeat on every run and never converge (issue 10).
        let matches_nothing = dry.creating.is_empty() && !dry.key_exists();
        let action = if matches_nothing {
            Action::NoOp
        } else if !dry.key_exists() {
            Action::Create
        } else if dry.is_noop() {
            Action::NoOp
        } else {
            Action::Update
        };
        let mut note = matches_nothing.then(|| NOTE_NO_TABLES.to_string());
        let fields = match (action, live.data_bodies.get(key)) {
            (Action::Create, _) => all_fields(m),
            (_, Some(have)) if !matches_nothing => data::diff(&m.body, have, &m.sensitive),
            _ => Vec::new(),
        };
        let action = if action == Action::NoOp && !fields.is_empty() && !matches_nothing {
            note = Some(NOTE_V1_ONLY.to_string());
            Action::Update
        } else {
            action
        };
        return Change {
            key: key.clone(),
            action,
            fields,
            data: Some(dry),
            id: None,
            note,
            moved_from: None,
        };
    }
    let Some(obj) = live.objects.get(key) else {
        return Change {
            key: key.clone(),
            action: Action::Create,
            fields: all_fields(m),
            data: None,
            id: None,
            note: None,
            moved_from: None,
        };
    };
    compare(key, m, obj)
}

/// The change that brings the live object `obj` to manifest `m` (a policy, project or
/// purpose; `obj` may have been read under another key, see [`moves`]).
fn compare(key: &ObjectKey, m: &Manifest, obj: &LiveObject) -> Change {
    if obj.system {
        // Immuta generates these itself; writing them is never this tool's job.
        tracing::warn!(key = %key, "desired object matches a system-generated object in Immuta; it is not written");
        return Change {
            key: key.clone(),
            action: Action::NoOp,
            fields: Vec::new(),
            data: None,
            id: obj.id,
            note: None,
            moved_from: None,
        };
    }
    let want = canonical(key.kind, &m.body);
    let have = obj
        .body
        .as_ref()
        .map(|b| canonical(key.kind, b))
        .unwrap_or(Value::Null);
    let mut fields = Vec::new();
    walk(
        &mut String::new(),
        &mut String::new(),
        Some(&have),
        Some(&want),
        &m.sensitive,
        &mut fields,
    );
    let action = if fields.is_empty() {
        Action::NoOp
    } else {
        Action::Update
    };
    Change {
        key: key.clone(),
        action,
        fields,
        data: None,
        id: obj.id,
        note: None,
        moved_from: None,
    }
}

fn all_fields(m: &Manifest) -> Vec<FieldChange> {
    let Value::Object(map) = &m.body else {
        return Vec::new();
    };
    map.iter()
        .map(|(k, v)| {
            let pointer = format!("/{}", escape_pointer(k));
            field_change(path_key("", k), &pointer, None, Some(v), &m.sensitive)
        })
        .collect()
}

/// Walks two values and records every difference. `path` is the display path,
/// `pointer` the JSON pointer used to look up sensitivity.
fn walk(
    path: &mut String,
    pointer: &mut String,
    before: Option<&Value>,
    after: Option<&Value>,
    sensitive: &BTreeSet<String>,
    out: &mut Vec<FieldChange>,
) {
    match (before, after) {
        (Some(Value::Object(b)), Some(Value::Object(a))) => {
            let keys: Vec<&String> = a
                .keys()
                .chain(b.keys().filter(|k| !a.contains_key(*k)))
                .collect();
            for k in keys {
                let (pl, ol) = (path.len(), pointer.len());
                let seg = path_key(path, k);
                path.push_str(&seg);
                pointer.push('/');
                pointer.push_str(&escape_pointer(k));
                walk(path, pointer, b.get(k), a.get(k), sensitive, out);
                path.truncate(pl);
                pointer.truncate(ol);
            }
        }
        (Some(Value::Array(b)), Some(Value::Array(a))) => {
            for i in 0..a.len().max(b.len()) {
                let (pl, ol) = (path.len(), pointer.len());
                path.push_str(&format!("[{i}]"));
                pointer.push_str(&format!("/{i}"));
                walk(path, pointer, b.get(i), a.get(i), sensitive, out);
                path.truncate(pl);
                pointer.truncate(ol);
            }
        }
        (b, a) if b == a => {}
        (b, a) => out.push(field_change(path.clone(), pointer, b, a, sensitive)),
    }
}

/// Display segment for an object key: `.name` when it reads as an identifier, else `["na me"]`.
fn path_key(prefix: &str, k: &str) -> String {
    let ident = !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    match (ident, prefix.is_empty()) {
        (true, true) => k.to_string(),
        (true, false) => format!(".{k}"),
        (false, _) => format!("[{}]", Value::String(k.to_string())),
    }
}

fn escape_pointer(k: &str) -> String {
    k.replace('~', "~0").replace('/', "~1")
}

/// Builds a change whose values never hold a secret: a sensitive value (its pointer or
/// an ancestor is marked) becomes [`MASK`], and so does every marked value inside it.
fn field_change(
    path: String,
    pointer: &str,
    before: Option<&Value>,
    after: Option<&Value>,
    marked: &BTreeSet<String>,
) -> FieldChange {
    let sensitive = is_sensitive(marked, pointer);
    let mask = |v: &Value| {
        if sensitive {
            Value::String(MASK.to_string())
        } else {
            mask_inside(v, pointer, marked)
        }
    };
    FieldChange {
        path,
        before: before.map(mask),
        after: after.map(mask),
        sensitive,
        note: None,
    }
}

/// True when the pointer or one of its ancestors is marked.
fn is_sensitive(marked: &BTreeSet<String>, pointer: &str) -> bool {
    marked.iter().any(|m| {
        m == pointer
            || (pointer.starts_with(m.as_str()) && pointer.as_bytes().get(m.len()) == Some(&b'/'))
    })
}

fn mask_inside(v: &Value, pointer: &str, marked: &BTreeSet<String>) -> Value {
    if is_sensitive(marked, pointer) {
        return Value::String(MASK.to_string());
    }
    match v {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        mask_inside(v, &format!("{pointer}/{}", escape_pointer(k)), marked),
                    )
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| mask_inside(v, &format!("{pointer}/{i}"), marked))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests;
