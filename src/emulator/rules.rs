//! Emulator: the V1 spelling of a data policy's `actions` (one block per V2 action, each
//! with its rules), rule type by rule type, as the seeds' V1 examples show them.
//!
//! Input: the V2 `actions` array of a stored data policy. Output: V1 action blocks. Each
//! shape below names the seed lines it is copied from; where the seeds show no V1 form the
//! choice is written in docs/emulator.md ("V2 → V1 rendering"). This file is written from
//! the documentation, never from the reader's normaliser: it must be able to disagree with
//! it. Pure functions.

use serde_json::{json, Map, Value};

use super::v1::{conditions, operator};

/// V1 block `type`, rule `type` and rule `name` for a V2 rule type.
struct V1Rule {
    block: &'static str,
    rule: &'static str,
    name: Option<&'static str>,
}

/// Seeds: masking 000:27339-27361; prerequisite 000:27473-27484; row-level
/// `rowOrObjectRestriction` + `visibility` 000:27896-27910; minimization and time are
/// `additional` rules named `minimization` / `time` (002:1190-1217), and their block types
/// come from the policy-type list of 000:26261 (`minimization`, `time`, `customWhere`).
fn v1_rule(v2: &str) -> Option<V1Rule> {
    let r = |block, rule, name| Some(V1Rule { block, rule, name });
    match v2 {
        "Masking" => r("masking", "masking", None),
        "Purpose Restriction" => r("prerequisite", "prerequisite", None),
        "Row Restriction By User Entitlements" => r("rowOrObjectRestriction", "visibility", None),
        // Choice: 000:26261 lists `customWhere` among the V1 policy types; the block is the
        // row-level one, as for the other row restriction.
        "Row Restriction by Custom Where Clause" => {
            r("rowOrObjectRestriction", "customWhere", None)
        }
        "Minimization" => r("minimization", "additional", Some("minimization")),
        "Time Restriction" => r("time", "additional", Some("time")),
        _ => None,
    }
}

/// A V2 masked-field selector → V1 field. `columnTags` becomes the tag object of
/// 000:27347-27353 (response form, no `displayName`); the docs show no V1 form of the
/// other selectors (`columnRegex`, `anyTag`, `noTags`, `allColumns`): kept (choice).
fn field(v2: &Value) -> Value {
    match (v2.get("type").and_then(Value::as_str), v2.get("columnTag")) {
        (Some("columnTags"), Some(tag)) => {
            json!({"name": tag, "source": "curated", "hasLeafNodes": false})
        }
        _ => v2.clone(),
    }
}

/// V2 `maskingConfig` → V1 `{type, metadata}`. `Hash` is `Consistent Value` without a
/// constant (002:1157-1160 "If this field is not defined, the value will be hashed";
/// 000:27354-27357), `Constant` is `Consistent Value` with `metadata.constant`;
/// `Regular Expression` (`regex`, `replacement`) and `Grouping` (`bucketSize`,
/// `timePrecision`) keep their documented names (002:1150-1180). Other types: the V2 type
/// and its other keys as `metadata` (choice).
fn masking_config(v2: &Map<String, Value>) -> Value {
    let ty = v2.get("type").and_then(Value::as_str).unwrap_or("");
    let mut metadata: Map<String, Value> = v2
        .iter()
        .filter(|(k, _)| *k != "type")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let v1_type = match ty {
        "Hash" => {
            metadata.remove("constant");
            "Consistent Value"
        }
        "Constant" => "Consistent Value",
        other => other,
    };
    json!({"type": v1_type, "metadata": metadata})
}

/// `{operator?, purposes}` → `{qualifications: {operator, conditions: [{type: purposes,
/// value}]}}` (000:27476-27484, 000:7177-7183).
fn purpose_restriction(config: &Map<String, Value>) -> Map<String, Value> {
    let mut q = Map::new();
    if let Some(op) = config.get("operator").filter(|v| !v.is_null()) {
        q.insert("operator".into(), operator(op));
    }
    let conds: Vec<Value> = config
        .get("purposes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|p| json!({"type": "purposes", "value": p}))
        .collect();
    q.insert("conditions".into(), Value::Array(conds));
    Map::from_iter([("qualifications".to_string(), Value::Object(q))])
}

/// `{operator?, matches: {type: group, tag}}` → `{predicate, qualifications: {operator,
/// conditions: [{type: groups, field}]}}` (000:27896-27910: the rows whose `field` value is
/// one of the user's groups). The docs show only a column name as `field`; a global policy
/// names the column by tag, so (choice) `field` is the column tag and the predicate uses
/// `@columnTagged('<tag>')`, the function of the custom WHERE example (000:9081).
fn user_entitlements(config: &Map<String, Value>) -> Map<String, Value> {
    let m = config.get("matches").and_then(Value::as_object);
    let tag = m.and_then(|m| m.get("tag")).cloned().unwrap_or(Value::Null);
    let kind = m
        .and_then(|m| m.get("type"))
        .and_then(Value::as_str)
        .unwrap_or("group");
    let cond_type = if kind == "group" { "groups" } else { kind };
    let mut q = Map::new();
    if let Some(op) = config.get("operator").filter(|v| !v.is_null()) {
        q.insert("operator".into(), operator(op));
    }
    q.insert(
        "conditions".into(),
        json!([{"type": cond_type, "field": tag}]),
    );
    let predicate = match tag.as_str() {
        Some(t) => json!(format!("(@columnTagged('{t}') in (@{cond_type}()))")),
        None => Value::Null,
    };
    Map::from_iter([
        ("predicate".to_string(), predicate),
        ("qualifications".to_string(), Value::Object(q)),
    ])
}

/// The V1 `config` of one rule. Minimization (`percent`, 002:1198-1203) and time
/// (`time` in seconds, 002:1228-1232) keep their V2 keys, which are the V1 names;
/// time's `isOlderOrNewer` has no V1 twin and is kept (choice).
fn config(ty: &str, v2: Option<&Map<String, Value>>) -> Value {
    let mut config = v2.cloned().unwrap_or_default();
    match ty {
        "Masking" => {
            if let Some(Value::Array(fields)) = config.get("fields") {
                let f: Vec<Value> = fields.iter().map(field).collect();
                config.insert("fields".into(), Value::Array(f));
            }
            if let Some(Value::Object(mc)) = config.get("maskingConfig") {
                let mc = masking_config(mc);
                config.insert("maskingConfig".into(), mc);
            }
        }
        "Purpose Restriction" => config = purpose_restriction(&config),
        "Row Restriction By User Entitlements" => config = user_entitlements(&config),
        _ => {}
    }
    Value::Object(config)
}

/// One V2 rule → `(block type, V1 rule)`.
fn rule(v2: &Map<String, Value>) -> (Value, Value) {
    let ty = v2.get("type").and_then(Value::as_str).unwrap_or("");
    let mut out = Map::new();
    let block = match v1_rule(ty) {
        Some(r) => {
            out.insert("type".into(), json!(r.rule));
            if let Some(n) = r.name {
                out.insert("name".into(), json!(n));
            }
            json!(r.block)
        }
        None => {
            out.insert("type".into(), json!(ty));
            json!(ty)
        }
    };
    out.insert(
        "config".into(),
        config(ty, v2.get("config").and_then(Value::as_object)),
    );
    let exceptions = v2
        .get("exceptions")
        .and_then(Value::as_object)
        .map_or(Value::Null, conditions);
    out.insert("exceptions".into(), exceptions);
    for (k, v) in v2 {
        if !matches!(k.as_str(), "type" | "config" | "exceptions") {
            out.insert(k.clone(), v.clone());
        }
    }
    (block, Value::Object(out))
}

/// The V2 `actions` array of a data policy → V1 action blocks `{type, rules, description}`.
/// The block takes its type from its first rule; `description` is `null` when absent
/// (000:27358-27361).
pub fn data_actions(v2: &Value) -> Value {
    let blocks = v2.as_array().map(Vec::as_slice).unwrap_or(&[]);
    Value::Array(
        blocks
            .iter()
            .map(|b| {
                let (types, rules): (Vec<Value>, Vec<Value>) = b
                    .get("rules")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_object)
                    .map(rule)
                    .unzip();
                json!({
                    "type": types.into_iter().next().unwrap_or(Value::Null),
                    "rules": rules,
                    "description": b.get("description").cloned().unwrap_or(Value::Null),
                })
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(rule: Value) -> Value {
        let v1 = data_actions(&json!([{"rules": [rule]}]));
        v1[0].clone()
    }

    #[test]
    fn purpose_restriction_is_a_prerequisite_with_qualifications() {
        // 000:27473-27484.
        let b = one(json!({"type": "Purpose Restriction",
            "config": {"operator": "all", "purposes": ["Re-identification Prohibited"]}}));
        assert_eq!(
            b,
            json!({"type": "prerequisite", "rules": [{"type": "prerequisite", "config": {
                "qualifications": {"operator": "and", "conditions": [
                    {"type": "purposes", "value": "Re-identification Prohibited"}]}},
                "exceptions": null}], "description": null})
        );
    }

    #[test]
    fn user_entitlements_is_a_visibility_rule_with_predicate_and_qualifications() {
        // 000:27896-27910.
        let b = one(json!({"type": "Row Restriction By User Entitlements",
            "config": {"operator": "all", "matches": {"type": "group", "tag": "Discovered.Entity"}}}));
        assert_eq!(b["type"], "rowOrObjectRestriction");
        let r = &b["rules"][0];
        assert_eq!(r["type"], "visibility");
        assert_eq!(
            r["config"]["qualifications"],
            json!({"operator": "and", "conditions": [{"type": "groups", "field": "Discovered.Entity"}]})
        );
        assert_eq!(
            r["config"]["predicate"],
            "(@columnTagged('Discovered.Entity') in (@groups()))"
        );
        assert!(r["config"].get("matches").is_none());
    }

    #[test]
    fn custom_where_minimization_and_time_have_their_v1_types() {
        let w = one(json!({"type": "Row Restriction by Custom Where Clause",
            "config": {"predicate": "a = 1"}}));
        assert_eq!(
            (w["type"].clone(), w["rules"][0]["type"].clone()),
            (json!("rowOrObjectRestriction"), json!("customWhere"))
        );
        assert_eq!(w["rules"][0]["config"], json!({"predicate": "a = 1"}));
        let m = one(json!({"type": "Minimization", "config": {"percent": 50}}));
        assert_eq!(m["type"], "minimization");
        assert_eq!(
            (m["rules"][0]["type"].clone(), m["rules"][0]["name"].clone()),
            (json!("additional"), json!("minimization"))
        );
        let t = one(json!({"type": "Time Restriction",
            "config": {"isOlderOrNewer": "newer", "time": 14400}}));
        assert_eq!(t["type"], "time");
        assert_eq!(t["rules"][0]["name"], "time");
        assert_eq!(t["rules"][0]["config"]["time"], 14400);
    }

    #[test]
    fn masking_matches_the_seed_and_exceptions_become_conditions() {
        let b = one(json!({"type": "Masking",
            "config": {"fields": [{"type": "columnTags", "columnTag": "Discovered.Passport"}],
                       "maskingConfig": {"type": "Constant", "constant": "REDACTED"}},
            "exceptions": {"operator": "any", "groups": ["admins"], "purposes": ["P"]}}));
        assert_eq!(b["type"], "masking");
        let r = &b["rules"][0];
        assert_eq!(
            r["config"]["fields"][0],
            json!({"name": "Discovered.Passport", "source": "curated", "hasLeafNodes": false})
        );
        assert_eq!(
            r["config"]["maskingConfig"],
            json!({"type": "Consistent Value", "metadata": {"constant": "REDACTED"}})
        );
        assert_eq!(
            r["exceptions"],
            json!({"operator": "or", "conditions": [
                {"type": "groups", "group": {"name": "admins"}},
                {"type": "purposes", "value": "P"}]})
        );
    }
}
