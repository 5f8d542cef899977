//! V1 data-policy rules → V2 rules, one mapping per documented rule type.
//!
//! Input: one element of a V1 `actions[].rules[]`. Output: the V2 rule
//! `{type, config, exceptions?, ...}`. The V1 shapes are the documented ones:
//! - masking: `config {fields: [tag objects], maskingConfig {type, metadata}}`
//!   (000:27396-27411, 000:27745-27763);
//! - purpose restriction: type `prerequisite`, `config.qualifications {operator,
//!   conditions: [{type: purposes, value}]}` (000:27473-27486, 000:27866-27880);
//! - row restriction: type `visibility` (action `rowOrObjectRestriction`),
//!   `config {predicate, qualifications {operator, conditions: [{type: groups, field}]}}`
//!   (000:27896-27912, 002:1109-1127);
//! - minimization and time: type `additional` with `name` `minimization` / `time`
//!   (002:1190-1230, 000:7245-7290), or the policy-type words `minimization`, `time` and
//!   `customWhere` listed at 000:26261.
//!
//! A V1 config that is already in the V2 shape (no `qualifications`, no `metadata`) is
//! carried over unchanged, so older answers still read. Where a V1 config cannot be
//! expressed in V2 (tests/fixtures/immuta-v1/README.md, "not mapped"), it is kept as V1,
//! so the plan shows a difference instead of hiding one. Pure functions.

use serde_json::{json, Map, Value};

use super::{conditions, operator, put};

/// V1 rule `type` (+ `name` for `additional`) → V2 rule type, before the config is seen.
fn rule_type(v1_type: &str, name: Option<&str>) -> String {
    match (v1_type, name) {
        ("masking", _) => "Masking".into(),
        ("prerequisite", _) => "Purpose Restriction".into(),
        ("visibility" | "rowOrObjectRestriction", _) => {
            "Row Restriction By User Entitlements".into()
        }
        ("customWhere", _) => CUSTOM_WHERE.into(),
        ("additional", Some("minimization")) | ("minimization", _) => "Minimization".into(),
        ("additional", Some("time")) | ("time", _) => "Time Restriction".into(),
        (other, _) => other.into(),
    }
}

const CUSTOM_WHERE: &str = "Row Restriction by Custom Where Clause";
const USER_ENTITLEMENTS: &str = "Row Restriction By User Entitlements";

/// One V1 rule → V2.
pub(super) fn rule(v1: &Value) -> Value {
    let ty = v1.get("type").and_then(Value::as_str).unwrap_or("");
    let mut v2_type = rule_type(ty, v1.get("name").and_then(Value::as_str));
    let mut config = v1
        .get("config")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    match v2_type.as_str() {
        "Masking" => masking(&mut config),
        "Purpose Restriction" => purpose_restriction(&mut config),
        USER_ENTITLEMENTS | CUSTOM_WHERE => {
            if let Some(t) = row_restriction(&mut config) {
                v2_type = t.into();
            }
        }
        _ => {}
    }
    let mut out = Map::new();
    out.insert("type".into(), json!(v2_type));
    out.insert("config".into(), Value::Object(config));
    if let Some(e) = v1.get("exceptions").filter(|e| !e.is_null()) {
        put(&mut out, "exceptions", Some(&conditions(e)));
    }
    for (k, v) in v1.as_object().into_iter().flatten() {
        if !matches!(k.as_str(), "type" | "name" | "config" | "exceptions") {
            put(&mut out, k, Some(v));
        }
    }
    Value::Object(out)
}

fn masking(config: &mut Map<String, Value>) {
    if let Some(Value::Array(fields)) = config.get("fields") {
        let f: Vec<Value> = fields.iter().map(field).collect();
        config.insert("fields".into(), Value::Array(f));
    }
    if let Some(mc) = config.get("maskingConfig").cloned() {
        config.insert("maskingConfig".into(), masking_config(&mc));
    }
}

/// A V1 masked field: a tag object `{name, source, hasLeafNodes, displayName?}`
/// (000:27347-27353) → `{type: columnTags, columnTag}`; a V2 selector (it has a `type`)
/// stays as it is.
fn field(v1: &Value) -> Value {
    if v1.get("type").is_some() {
        return v1.clone();
    }
    match v1.get("name") {
        Some(name) => json!({"type": "columnTags", "columnTag": name}),
        None => v1.clone(),
    }
}

/// V1 `{type, metadata}` → V2 `maskingConfig`. `Consistent Value` is `Constant` when
/// `metadata.constant` is set and `Hash` otherwise ("If this field is not defined, the
/// value will be hashed", 002:1157-1160). Other types keep their name, and their
/// metadata members become the V2 members (`regex`, `replacement`, `bucketSize`, ...).
fn masking_config(v1: &Value) -> Value {
    let ty = v1.get("type").and_then(Value::as_str).unwrap_or("");
    let meta = v1
        .get("metadata")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut out = Map::new();
    if ty == "Consistent Value" {
        match meta.get("constant") {
            Some(c) if !c.is_null() => {
                out.insert("type".into(), json!("Constant"));
                out.insert("constant".into(), c.clone());
            }
            _ => {
                out.insert("type".into(), json!("Hash"));
            }
        }
        return Value::Object(out);
    }
    out.insert("type".into(), json!(ty));
    for (k, v) in v1.as_object().into_iter().flatten() {
        if !matches!(k.as_str(), "type" | "metadata") {
            put(&mut out, k, Some(v));
        }
    }
    for (k, v) in meta {
        put(&mut out, &k, Some(&v));
    }
    Value::Object(out)
}

/// `{qualifications: {operator, conditions: [{type: purposes, value}]}}` →
/// `{operator, purposes: [value]}`. Conditions of another type cannot be said in V2's
/// purpose restriction; then the config is left as V1.
fn purpose_restriction(config: &mut Map<String, Value>) {
    let Some(q) = config.get("qualifications").and_then(Value::as_object) else {
        return;
    };
    let conds = q.get("conditions").and_then(Value::as_array);
    let purposes: Option<Vec<Value>> = conds
        .into_iter()
        .flatten()
        .map(|c| {
            (c.get("type").and_then(Value::as_str) == Some("purposes"))
                .then(|| c.get("value").cloned())
                .flatten()
        })
        .collect();
    let Some(purposes) = purposes else {
        return;
    };
    let mut out = Map::new();
    if let Some(op) = q.get("operator").filter(|o| !o.is_null()) {
        out.insert("operator".into(), operator(op));
    }
    out.insert("purposes".into(), Value::Array(purposes));
    for (k, v) in config.iter() {
        if k != "qualifications" {
            out.insert(k.clone(), v.clone());
        }
    }
    *config = out;
}

/// A V1 `visibility` config → the V2 row-restriction type and config:
/// - `qualifications` holding one `groups` condition with a `field` →
///   By User Entitlements `{operator, matches: {type: group, tag: <field>}}`; the
///   `predicate` is Immuta's rendering of it (000:27900) and is dropped;
/// - a `predicate` and no qualification → by Custom Where Clause `{predicate}`;
/// - a config already in a V2 shape → unchanged (`matches` or only `predicate`).
///
/// Anything else (several conditions, attribute matches) has no V2 spelling and is
/// left as V1 (`None`: the type stays as it was).
fn row_restriction(config: &mut Map<String, Value>) -> Option<&'static str> {
    if config.contains_key("matches") {
        return Some(USER_ENTITLEMENTS);
    }
    let conds: &[Value] = config
        .get("qualifications")
        .and_then(|q| q.get("conditions"))
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice);
    if conds.is_empty() {
        let predicate = config.get("predicate").cloned()?;
        *config = Map::from_iter([("predicate".to_string(), predicate)]);
        return Some(CUSTOM_WHERE);
    }
    let [only] = conds else {
        return None;
    };
    if only.get("type").and_then(Value::as_str) != Some("groups") {
        return None;
    }
    let mut matches = Map::from_iter([("type".to_string(), json!("group"))]);
    match only.get("field") {
        Some(Value::String(f)) => {
            matches.insert("tag".into(), json!(f));
        }
        // V2's `matches.tag` is optional; without a field there is nothing to name.
        None | Some(Value::Null) => {}
        Some(_) => return None,
    }
    let mut out = Map::new();
    if let Some(op) = config
        .get("qualifications")
        .and_then(|q| q.get("operator"))
        .filter(|o| !o.is_null())
    {
        out.insert("operator".into(), operator(op));
    }
    out.insert("matches".into(), Value::Object(matches));
    *config = out;
    Some(USER_ENTITLEMENTS)
}
