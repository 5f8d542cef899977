//! Stage 4: plan. Compares a [`DesiredSet`] with a [`LiveSet`] and says, per object, what
//! apply would do.
//!
//! Input: [`DesiredSet`] × [`LiveSet`]. Output: [`Plan`]. [`diff`] is a pure function:
//! it does no I/O (the data-source dry-run answers were fetched by `live`), so it is
//! tested with literals. Renderers live in [`render`]: text (Terraform's shape) and a
//! versioned JSON document.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::live::{DataDryRun, LiveSet};
use crate::manifest::{DesiredSet, Manifest};
use crate::object::{Kind, ObjectKey};
use crate::redact::MASK;

pub mod inventory;
pub mod prune;
pub mod render;
pub mod saved;
pub mod tables;

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
    /// Whether apply sends anything for it.
    pub fn is_write(self) -> bool {
        matches!(self, Action::Create | Action::Update | Action::Delete)
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
}

/// The note on a data source whose dry run lists nothing at all (issue 10).
pub const NOTE_NO_TABLES: &str = "connection matches no tables";

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
                Action::Unmanaged => s.unmanaged += 1,
                Action::Delete => {}
                Action::Refused => s.refused += 1,
            }
            s.destroy += c.destroys();
        }
        s
    }

    /// The changes refused because they would remove data sources.
    pub fn refused(&self) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(|c| c.action == Action::Refused)
    }

    /// True when apply would write anything.
    pub fn has_changes(&self) -> bool {
        self.changes.iter().any(|c| c.action.is_write())
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
        changes.push(change);
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
        });
    }
    changes.sort_by(|a, b| a.key.cmp(&b.key));
    Plan {
        origin: desired.origin.clone(),
        revision: desired.revision.clone(),
        changes,
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
        let note = matches_nothing.then(|| NOTE_NO_TABLES.to_string());
        let fields = if action == Action::Create {
            all_fields(m)
        } else {
            Vec::new()
        };
        return Change {
            key: key.clone(),
            action,
            fields,
            data: Some(dry),
            id: None,
            note,
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
        };
    };
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

/// Top-level fields that the live read can observe, per kind. Other desired fields are
/// sent but cannot be compared (the manifest stage warns about them).
fn observable(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Policy => &[
            "policyKey",
            "name",
            "type",
            "actions",
            "ownerRestrictions",
            "circumstances",
            "circumstanceOperator",
            "staged",
            "certification",
        ],
        Kind::Project => &[
            "projectKey",
            "name",
            "description",
            "documentation",
            "allowMaskedJoins",
            "purposes",
            "datasources",
            "subscriptionPolicy",
            "workspace",
            "equalization",
            "tags",
        ],
        Kind::Purpose => &[
            "name",
            "description",
            "acknowledgement",
            "kAnonNoiseReduction",
            "subpurposes",
        ],
        Kind::Data => &[],
    }
}

/// Brings a V2 body to the form both sides are compared in: only observable fields,
/// server defaults (null, false, empty) dropped, set-like lists sorted.
pub fn canonical(kind: Kind, body: &Value) -> Value {
    let Value::Object(map) = body else {
        return body.clone();
    };
    let allowed = observable(kind);
    let mut out = Map::new();
    for (k, v) in map {
        if !allowed.contains(&k.as_str()) {
            continue;
        }
        if let Some(v) = strip_defaults(v) {
            out.insert(k.clone(), v);
        }
    }
    if let Some(Value::String(op)) = out.get_mut("circumstanceOperator") {
        *op = op.to_lowercase();
    }
    if matches!(kind, Kind::Policy | Kind::Project) {
        // A tenant fills in `any` where a document leaves an operator out (V1 answers
        // always carry one, 000:34141-34142), so an explicit `any` and an absent operator
        // are the same: in policies and in a project's subscription entitlements.
        drop_default_operators(&mut out);
        // V1 keeps the operator on each circumstance (002:697-713): with no circumstance
        // there is nowhere to keep it, and it means nothing.
        if !out.contains_key("circumstances") {
            out.remove("circumstanceOperator");
        }
    }
    match kind {
        Kind::Project => {
            for f in ["purposes", "datasources", "tags"] {
                sort_strings(&mut out, f);
            }
            drop_default_subscription(&mut out, "subscriptionPolicy");
            let manual = out
                .get("subscriptionPolicy")
                .and_then(|s| s.get("type"))
                .and_then(Value::as_str)
                == Some("manual");
            if manual {
                // Manual is the documented default (000:4560-4562); V1 answers it as
                // `subscriptionPolicy: null` (000:33761), so nothing else a manual
                // subscription says (description, allowDiscovery, ...) can be read back.
                out.remove("subscriptionPolicy");
            }
            if out.contains_key("workspace") {
                // A workspace project is equalized by Immuta itself (000:4564-4566), so
                // its equalization is not the document's to state.
                out.remove("equalization");
            }
            let default_doc = map
                .get("name")
                .and_then(Value::as_str)
                .map(|n| format!("# {n}"));
            if out.get("documentation").and_then(Value::as_str) == default_doc.as_deref() {
                out.remove("documentation");
            }
        }
        Kind::Purpose => {
            if let Some(Value::Array(items)) = out.get_mut("subpurposes") {
                items.sort_by(|a, b| name_of(a).cmp(name_of(b)));
            }
        }
        Kind::Policy => drop_default_subscription(&mut out, "actions"),
        Kind::Data => {}
    }
    Value::Object(out)
}

/// `accessGrant: READ` is what a subscription grants when it says nothing (write access
/// is the documented exception, 002:598-606), so it is the same as no `accessGrant`.
fn drop_default_subscription(map: &mut Map<String, Value>, field: &str) {
    if let Some(Value::Object(sub)) = map.get_mut(field) {
        if sub.get("accessGrant").and_then(Value::as_str) == Some("READ") {
            sub.remove("accessGrant");
        }
    }
}

/// Removes `circumstanceOperator: any` and every `operator: any` inside `exceptions` and
/// `entitlements` blocks.
fn drop_default_operators(map: &mut Map<String, Value>) {
    if map.get("circumstanceOperator").and_then(Value::as_str) == Some("any") {
        map.remove("circumstanceOperator");
    }
    fn walk(v: &mut Value, in_block: bool) {
        match v {
            Value::Object(m) => {
                if in_block
                    && m.get("operator")
                        .and_then(Value::as_str)
                        .is_some_and(|o| o.eq_ignore_ascii_case("any"))
                {
                    m.remove("operator");
                }
                for (k, child) in m.iter_mut() {
                    walk(child, k == "exceptions" || k == "entitlements");
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|i| walk(i, false)),
            _ => {}
        }
    }
    for (k, v) in map.iter_mut() {
        walk(v, k == "exceptions" || k == "entitlements");
    }
}

fn name_of(v: &Value) -> &str {
    v.get("name").and_then(Value::as_str).unwrap_or("")
}

fn sort_strings(map: &mut Map<String, Value>, field: &str) {
    if let Some(Value::Array(items)) = map.get_mut(field) {
        items.sort_by(|a, b| a.as_str().unwrap_or("").cmp(b.as_str().unwrap_or("")));
        items.dedup();
    }
}

/// Drops null, false, "", [] and {} members of objects, recursively. Array items are
/// kept (their position carries meaning) but cleaned inside.
fn strip_defaults(v: &Value) -> Option<Value> {
    match v {
        Value::Null | Value::Bool(false) => None,
        Value::String(s) if s.is_empty() => None,
        Value::Array(items) => {
            if items.is_empty() {
                return None;
            }
            Some(Value::Array(
                items
                    .iter()
                    .map(|i| strip_defaults(i).unwrap_or_else(|| empty_like(i)))
                    .collect(),
            ))
        }
        Value::Object(map) => {
            let out: Map<String, Value> = map
                .iter()
                .filter_map(|(k, v)| strip_defaults(v).map(|v| (k.clone(), v)))
                .collect();
            if out.is_empty() {
                None
            } else {
                Some(Value::Object(out))
            }
        }
        other => Some(other.clone()),
    }
}

fn empty_like(v: &Value) -> Value {
    match v {
        Value::Object(_) => Value::Object(Map::new()),
        Value::Array(_) => Value::Array(Vec::new()),
        other => other.clone(),
    }
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
mod tests {
    use super::*;
    use crate::live::LiveObject;
    use crate::manifest::Span;
    use serde_json::json;

    fn manifest(kind: Kind, name: &str, body: Value) -> Manifest {
        Manifest {
            key: ObjectKey::new(kind, name),
            span: Span {
                path: "x.yaml".into(),
                line: 1,
                col: 1,
            },
            body,
            sensitive: BTreeSet::new(),
        }
    }

    fn desired(ms: Vec<Manifest>) -> DesiredSet {
        DesiredSet {
            objects: ms.into_iter().map(|m| (m.key.clone(), m)).collect(),
            ..Default::default()
        }
    }

    fn live(objs: Vec<(Kind, &str, Value, bool)>) -> LiveSet {
        let mut l = LiveSet::default();
        for (i, (kind, name, body, system)) in objs.into_iter().enumerate() {
            let key = ObjectKey::new(kind, name);
            l.objects.insert(
                key.clone(),
                LiveObject {
                    key,
                    id: Some(i as u64),
                    system,
                    body: Some(body),
                },
            );
        }
        l
    }

    /// issue 11: a data source name Immuta made of a templated value (`<database>`) is
    /// masked in the plan like the value itself.
    #[test]
    fn issue_11_dry_run_names_hide_templated_values() {
        let mut d = desired(vec![manifest(
            Kind::Data,
            "wh",
            json!({"connectionKey":"wh"}),
        )]);
        d.redactor.add("PROD_SECRET_DB");
        let mut l = LiveSet::default();
        l.data.insert(
            ObjectKey::new(Kind::Data, "wh"),
            DataDryRun {
                creating: vec!["PROD_SECRET_DB Orders".into()],
                deleting: vec!["Other".into()],
                ..Default::default()
            },
        );
        let plan = diff(&d, &l);
        let dry = plan.changes[0].data.as_ref().unwrap();
        assert_eq!(dry.creating, ["(sensitive) Orders"]);
        assert_eq!(dry.deleting, ["Other"]);
    }

    #[test]
    fn defaults_and_set_order_do_not_count_as_drift() {
        let d = desired(vec![manifest(
            Kind::Project,
            "p",
            json!({"projectKey":"p","name":"P","purposes":["b","a"],"allowMaskedJoins":false}),
        )]);
        let l = live(vec![(
            Kind::Project,
            "p",
            json!({"projectKey":"p","name":"P","purposes":["a","b"],"documentation":"# P"}),
            false,
        )]);
        let plan = diff(&d, &l);
        assert_eq!(plan.changes.len(), 1);
        assert_eq!(plan.changes[0].action, Action::NoOp);
        assert!(!plan.has_changes());
    }

    #[test]
    fn a_manual_project_subscription_reads_back_as_null() {
        let d = desired(vec![manifest(
            Kind::Project,
            "p",
            json!({"projectKey":"p","name":"P","subscriptionPolicy":
                {"type":"manual","description":"D","allowDiscovery":true}}),
        )]);
        // What the reader makes of `subscriptionPolicy: null` (000:33761).
        let l = live(vec![(
            Kind::Project,
            "p",
            json!({"projectKey":"p","name":"P","subscriptionPolicy":{"type":"manual"}}),
            false,
        )]);
        assert!(!diff(&d, &l).has_changes());
    }

    #[test]
    fn an_operator_without_circumstances_is_not_drift() {
        for circs in [None, Some(json!([]))] {
            let mut want = json!({"policyKey":"p","name":"P","type":"subscription",
                "actions":{"type":"anyone"},"circumstanceOperator":"all"});
            if let Some(c) = &circs {
                want["circumstances"] = c.clone();
            }
            let d = desired(vec![manifest(Kind::Policy, "p", want)]);
            let l = live(vec![(
                Kind::Policy,
                "p",
                json!({"policyKey":"p","name":"P","type":"subscription","actions":{"type":"anyone"}}),
                false,
            )]);
            assert!(!diff(&d, &l).has_changes(), "{circs:?}");
        }
    }

    #[test]
    fn default_operators_are_not_drift() {
        let body = |op: Option<&str>| {
            let mut b = json!({"policyKey":"p","name":"P","type":"data",
                "actions":[{"rules":[{"type":"Masking","exceptions":{"groups":["G"]}}]}],
                "circumstances":[{"type":"columnTags","columnTag":"T"}]});
            if let Some(op) = op {
                b["circumstanceOperator"] = json!(op);
                b["actions"][0]["rules"][0]["exceptions"]["operator"] = json!(op);
            }
            b
        };
        assert_eq!(
            canonical(Kind::Policy, &body(None)),
            canonical(Kind::Policy, &body(Some("any")))
        );
        assert_eq!(
            canonical(Kind::Policy, &body(Some("ANY"))),
            canonical(Kind::Policy, &body(Some("any")))
        );
        assert_ne!(
            canonical(Kind::Policy, &body(None)),
            canonical(Kind::Policy, &body(Some("all")))
        );
    }

    #[test]
    fn nested_change_is_reported_by_path() {
        let d = desired(vec![manifest(
            Kind::Policy,
            "mask",
            json!({"policyKey":"mask","name":"m","type":"data","actions":[{"rules":[{"type":"Masking","config":{"maskingConfig":{"type":"Constant","constant":"X"}}}]}]}),
        )]);
        let l = live(vec![(
            Kind::Policy,
            "mask",
            json!({"policyKey":"mask","name":"m","type":"data","actions":[{"rules":[{"type":"Masking","config":{"maskingConfig":{"type":"Hash"}}}]}]}),
            false,
        )]);
        let plan = diff(&d, &l);
        let c = &plan.changes[0];
        assert_eq!(c.action, Action::Update);
        let paths: Vec<&str> = c.fields.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            paths,
            vec![
                "actions[0].rules[0].config.maskingConfig.type",
                "actions[0].rules[0].config.maskingConfig.constant"
            ]
        );
        assert_eq!(c.fields[0].before, Some(json!("Hash")));
        assert_eq!(c.fields[1].before, None);
    }

    #[test]
    fn system_objects_are_ignored_and_hand_made_ones_are_unmanaged() {
        let d = desired(vec![]);
        let l = live(vec![
            (Kind::Policy, "New Column Added", json!({}), true),
            (
                Kind::Purpose,
                "Hand made",
                json!({"name":"Hand made"}),
                false,
            ),
        ]);
        let plan = diff(&d, &l);
        assert_eq!(plan.changes.len(), 1);
        assert_eq!(plan.changes[0].action, Action::Unmanaged);
        assert_eq!(plan.summary().unmanaged, 1);
    }

    #[test]
    fn data_sources_follow_the_server_dry_run() {
        let d = desired(vec![
            manifest(Kind::Data, "new", json!({"connectionKey":"new"})),
            manifest(Kind::Data, "same", json!({"connectionKey":"same"})),
            manifest(Kind::Data, "grow", json!({"connectionKey":"grow"})),
        ]);
        let mut l = LiveSet::default();
        let dry = |c: &[&str], u: &[&str], n: &[&str]| DataDryRun {
            creating: c.iter().map(|s| s.to_string()).collect(),
            updating: u.iter().map(|s| s.to_string()).collect(),
            no_change: n.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        l.data
            .insert(ObjectKey::new(Kind::Data, "new"), dry(&["A"], &[], &[]));
        l.data
            .insert(ObjectKey::new(Kind::Data, "same"), dry(&[], &[], &["B"]));
        l.data
            .insert(ObjectKey::new(Kind::Data, "grow"), dry(&["C"], &[], &["D"]));
        let plan = diff(&d, &l);
        let actions: Vec<(String, Action)> = plan
            .changes
            .iter()
            .map(|c| (c.key.name.clone(), c.action))
            .collect();
        assert_eq!(
            actions,
            vec![
                ("grow".into(), Action::Update),
                ("new".into(), Action::Create),
                ("same".into(), Action::NoOp)
            ]
        );
        assert_eq!(
            plan.summary(),
            Summary {
                add: 1,
                change: 1,
                destroy: 0,
                unchanged: 1,
                unmanaged: 0,
                refused: 0,
            }
        );
    }

    #[test]
    fn issue_10_a_dry_run_that_names_nothing_is_a_noop_with_a_note() {
        let d = desired(vec![manifest(
            Kind::Data,
            "empty-db",
            json!({"connectionKey": "empty-db", "sources": [{"all": true}]}),
        )]);
        let mut l = LiveSet::default();
        l.data.insert(
            ObjectKey::new(Kind::Data, "empty-db"),
            DataDryRun::default(),
        );
        let plan = diff(&d, &l);
        let c = &plan.changes[0];
        assert_eq!(c.action, Action::NoOp);
        assert_eq!(c.note.as_deref(), Some(NOTE_NO_TABLES));
        assert!(c.fields.is_empty());
        assert!(!plan.has_changes());
        let mut text = Vec::new();
        render::text(&plan, &mut text).unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(
            text.contains("data/empty-db has nothing to write: connection matches no tables"),
            "{text}"
        );
        assert!(text.contains("No changes."), "{text}");
    }

    #[test]
    fn secrets_never_reach_a_field_change() {
        let mut m = manifest(
            Kind::Data,
            "k",
            json!({"connectionKey":"k","connection":{"hostname":"h","password":"hunter22"}}),
        );
        m.sensitive.insert("/connection/password".into());
        let fields = all_fields(&m);
        let text = serde_json::to_string(&fields).unwrap();
        assert!(!text.contains("hunter22"), "{text}");
        assert!(text.contains("(sensitive)"));
        assert!(text.contains("\"h\""));
        let marked: BTreeSet<String> = ["/connection/password".to_string()].into();
        assert!(is_sensitive(&marked, "/connection/password/x"));
        assert!(!is_sensitive(&marked, "/connection"));
        assert!(!is_sensitive(&marked, "/connection/passwordHint"));
    }
}
