//! The canonical form: what a V2 body looks like once everything Immuta fills in by
//! default is taken out. Both sides of a comparison go through it: `live::normalize`
//! builds its V2 bodies with [`strip_defaults`], and `plan` brings desired and live
//! bodies to [`canonical`] before it diffs them, so the two can never disagree on what
//! "not set" means (issue 12: they once did, and `["", "x"]` in Git never converged).
//!
//! It sits beside the stages rather than inside one because two stages (live and plan)
//! read it and neither owns the other; it depends only on the schema (which fields the
//! live read can observe, [`crate::manifest::schema::Field::observable`]).
//!
//! Input: a V2 body (JSON). Output: the same body in canonical form. Pure functions.

use serde_json::{Map, Value};

use crate::manifest::schema::{self, Obj, Ty};
use crate::object::Kind;

/// The members of `map` that the live read can observe, per the schema: a field the
/// schema marks as not observable is dropped with everything inside it. A field the
/// schema does not know is dropped at the top level (there is no documented way to read
/// it back) and kept below it (it is part of a value Immuta answers whole).
fn observable(obj: &'static Obj, map: &Map<String, Value>, top: bool) -> Map<String, Value> {
    let tag = obj.tag.and_then(|t| map.get(t)).and_then(Value::as_str);
    let mut out = Map::new();
    for (k, v) in map {
        match obj.field(k, tag) {
            Some(f) if !f.observable => {}
            Some(f) => {
                out.insert(k.clone(), observable_value(&f.ty, v));
            }
            None if top => {}
            None => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    out
}

fn observable_value(ty: &'static Ty, v: &Value) -> Value {
    match (ty, v) {
        (Ty::Object(obj), Value::Object(m)) => Value::Object(observable(obj, m, false)),
        (Ty::Array(item), Value::Array(items)) => {
            Value::Array(items.iter().map(|i| observable_value(item, i)).collect())
        }
        _ => v.clone(),
    }
}

/// Brings a V2 body to the form both sides are compared in: only observable fields,
/// server defaults (null, false, empty) dropped, set-like lists sorted.
pub fn canonical(kind: Kind, body: &Value) -> Value {
    let Value::Object(map) = body else {
        return body.clone();
    };
    let mut out = Map::new();
    for (k, v) in observable(schema::root(kind), map, true) {
        if let Some(v) = strip_defaults(&v) {
            out.insert(k, v);
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

/// What Immuta returns for "not set": drops null, false, "", [] and {} members of
/// objects, recursively; `None` when nothing is left. Array items keep their place (it
/// carries meaning) and are cleaned inside; an item that is itself a default stays as it
/// was written (`""` stays `""`, `{a: null}` becomes `{}`), so `["", "x"]` reads the same
/// from Git and from the tenant.
pub fn strip_defaults(v: &Value) -> Option<Value> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The top-level fields plan compared before the list moved onto the schema (the
    /// hand-written `plan::observable` it replaces, kept here as the pin).
    const OLD_LIST: &[(Kind, &[&str])] = &[
        (
            Kind::Policy,
            &[
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
        ),
        (
            Kind::Project,
            &[
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
        ),
        (
            Kind::Purpose,
            &[
                "name",
                "description",
                "acknowledgement",
                "kAnonNoiseReduction",
                "subpurposes",
            ],
        ),
        // Issue 13: data sources are compared field by field through the V1 reads.
        (
            Kind::Data,
            &[
                "connectionKey",
                "connection",
                "options",
                "owners",
                "sources",
            ],
        ),
    ];

    #[test]
    fn every_field_of_the_old_list_is_still_compared() {
        for (kind, old) in OLD_LIST {
            let paths = schema::observable_paths(*kind);
            let top: Vec<&str> = paths
                .iter()
                .map(String::as_str)
                .filter(|p| !p.contains(['.', '[']))
                .collect();
            let mut want = old.to_vec();
            want.sort_unstable();
            assert_eq!(top, want, "{kind:?}");
            // And the filter plan applies keeps each of them (the default rules of
            // `canonical` come after it and are tested on their own).
            let body: Map<String, Value> =
                old.iter().map(|f| ((*f).to_string(), json!("v"))).collect();
            let kept = observable(schema::root(*kind), &body, true);
            for f in *old {
                assert!(kept.get(*f).is_some(), "{kind:?}: {f} dropped");
            }
        }
    }

    #[test]
    fn observable_paths_reach_inside_the_documents() {
        let policy = schema::observable_paths(Kind::Policy);
        for p in [
            "actions.type",
            "actions[].rules[].type",
            "actions[].rules[].config.maskingConfig.type",
            "circumstances[].columnTag",
            "ownerRestrictions.groups",
        ] {
            assert!(policy.iter().any(|x| x == p), "{p} not in {policy:?}");
        }
        let project = schema::observable_paths(Kind::Project);
        assert!(project.iter().any(|p| p == "subscriptionPolicy.type"));
        assert!(!project.iter().any(|p| p.starts_with("allowedMaskedJoins")));
        let data = schema::observable_paths(Kind::Data);
        for p in [
            "connection.warehouse",
            "owners[].name",
            "sources[].tags.columns[].tags",
            "sources[].columnDescriptions[].description",
        ] {
            assert!(data.iter().any(|x| x == p), "{p} not in {data:?}");
        }
        for secret in [
            "connection.password",
            "connection.token",
            "connection.userFiles",
        ] {
            assert!(!data.iter().any(|x| x.starts_with(secret)), "{secret}");
        }
        assert!(!data.iter().any(|x| x.starts_with("nameTemplate")));
        // A schema change that changes what plan compares must change these on purpose.
        let counts: Vec<usize> = [Kind::Policy, Kind::Project, Kind::Purpose, Kind::Data]
            .into_iter()
            .map(|k| schema::observable_paths(k).len())
            .collect();
        assert_eq!(counts, [84, 34, 9, 45]);
    }

    #[test]
    fn a_field_not_observable_is_left_out() {
        let body = json!({"projectKey":"p","name":"P","allowedMaskedJoins":true,"made_up":1});
        assert_eq!(
            canonical(Kind::Project, &body),
            json!({"projectKey":"p","name":"P"})
        );
        // Below the top level, a field the schema does not know is part of the value.
        let body = json!({"policyKey":"p","name":"P","type":"subscription",
            "actions":{"type":"anyone","extra":"x"}});
        assert_eq!(canonical(Kind::Policy, &body)["actions"]["extra"], "x");
    }

    #[test]
    fn defaults_are_dropped_and_emptied_items_keep_their_place() {
        assert_eq!(strip_defaults(&json!(null)), None);
        assert_eq!(strip_defaults(&json!(false)), None);
        assert_eq!(strip_defaults(&json!("")), None);
        assert_eq!(strip_defaults(&json!([])), None);
        assert_eq!(strip_defaults(&json!({"a": null, "b": {"c": []}})), None);
        assert_eq!(strip_defaults(&json!(0)), Some(json!(0)));
        assert_eq!(
            strip_defaults(&json!(["", "x", false, null, {"a": ""}, []])),
            Some(json!(["", "x", false, null, {}, []]))
        );
        assert_eq!(
            strip_defaults(&json!({"g": ["", "x"], "h": true})),
            Some(json!({"g": ["", "x"], "h": true}))
        );
    }

    #[test]
    fn the_canonical_form_is_idempotent() {
        let bodies = [
            (
                Kind::Policy,
                json!({"policyKey":"p","name":"P","type":"subscription",
                    "actions":{"type":"entitlements","accessGrant":"READ",
                        "entitlements":{"operator":"any","groups":["", "x", {"a": null}]}},
                    "ownerRestrictions":{"groups":["", "x"]}}),
            ),
            (
                Kind::Project,
                json!({"projectKey":"p","name":"P","documentation":"# P",
                    "purposes":["b","a","b"],"tags":[""],"subscriptionPolicy":{"type":"manual"}}),
            ),
        ];
        for (kind, body) in bodies {
            let once = canonical(kind, &body);
            assert_eq!(canonical(kind, &once), once, "{kind:?}");
        }
    }
}
