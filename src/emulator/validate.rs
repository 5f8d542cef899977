//! Emulator: checks a V2 upsert body against the documented shape (immuta-api.md §3).
//!
//! Input: the parsed request body. Output: `Ok(())` or a 400 naming the field. Only the
//! required fields and the closed enums are checked; unknown fields are stored and ignored.
//! Messages name fields, never their values (a value may be a password).

use serde_json::{Map, Value};

use super::error::ApiError;

type Check = Result<(), ApiError>;

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError::bad_request(msg)
}

/// The body must be a JSON/YAML mapping.
pub fn object(body: &Value) -> Result<&Map<String, Value>, ApiError> {
    body.as_object()
        .ok_or_else(|| bad("the request body must be an object"))
}

fn required_str<'a>(m: &'a Map<String, Value>, field: &str, at: &str) -> Result<&'a str, ApiError> {
    match m.get(field) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s),
        Some(Value::String(_)) => Err(bad(format!("\"{at}{field}\" must not be empty"))),
        Some(_) => Err(bad(format!("\"{at}{field}\" must be a string"))),
        None => Err(bad(format!("\"{at}{field}\" is required"))),
    }
}

fn optional_kind(m: &Map<String, Value>, field: &str, at: &str, want: &str) -> Check {
    let ok = match (m.get(field), want) {
        (None | Some(Value::Null), _) => true,
        (Some(v), "string") => v.is_string(),
        (Some(v), "object") => v.is_object(),
        (Some(v), "array") => v.is_array(),
        (Some(v), "bool") => v.is_boolean(),
        (Some(v), _) => !v.is_null(),
    };
    if ok {
        Ok(())
    } else {
        Err(bad(format!("\"{at}{field}\" must be a {want}")))
    }
}

fn one_of(
    m: &Map<String, Value>,
    field: &str,
    at: &str,
    allowed: &[&str],
    ignore_case: bool,
) -> Check {
    let v = required_str(m, field, at)?;
    let hit = allowed.iter().any(|a| {
        if ignore_case {
            a.eq_ignore_ascii_case(v)
        } else {
            *a == v
        }
    });
    if hit {
        Ok(())
    } else {
        Err(bad(format!(
            "\"{at}{field}\" must be one of: {}",
            allowed.join(", ")
        )))
    }
}

/// `POST /api/v2/purpose`.
pub fn purpose(body: &Value) -> Check {
    let m = object(body)?;
    let name = required_str(m, "name", "")?;
    for f in ["description", "acknowledgement", "kAnonNoiseReduction"] {
        optional_kind(m, f, "", "string")?;
    }
    optional_kind(m, "subpurposes", "", "array")?;
    let subs = m
        .get("subpurposes")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    for (i, s) in subs.iter().enumerate() {
        let at = format!("subpurposes[{i}].");
        let sm = s
            .as_object()
            .ok_or_else(|| bad(format!("\"subpurposes[{i}]\" must be an object")))?;
        let sub = required_str(sm, "name", &at)?;
        if !sub.starts_with(&format!("{name}.")) || sub.len() <= name.len() + 1 {
            return Err(bad(format!(
                "\"{at}name\" must start with the parent name followed by \".\""
            )));
        }
        for f in ["description", "acknowledgement", "kAnonNoiseReduction"] {
            optional_kind(sm, f, &at, "string")?;
        }
    }
    Ok(())
}

const SUBSCRIPTION_TYPES: &[&str] = &["anyone", "approval", "entitlements", "manual"];
const CIRCUMSTANCES: &[&str] = &[
    "tags",
    "columnTags",
    "columnRegex",
    "anyTag",
    "noTags",
    "time",
    "server",
    "domains",
];

fn subscription(m: &Map<String, Value>, at: &str) -> Check {
    one_of(m, "type", at, SUBSCRIPTION_TYPES, false)?;
    for f in [
        "automaticSubscription",
        "allowDiscovery",
        "shareResponsibility",
    ] {
        optional_kind(m, f, at, "bool")?;
    }
    if m.get("accessGrant").is_some() {
        one_of(m, "accessGrant", at, &["READ", "WRITE"], false)?;
    }
    optional_kind(m, "description", at, "string")?;
    optional_kind(m, "approvals", at, "array")?;
    optional_kind(m, "entitlements", at, "object")?;
    optional_kind(m, "advanced", at, "string")?;
    Ok(())
}

/// A `domains` circumstance: `domains`, a non-empty list of domain ids, the ids a data
/// source's `options.domainCollectionId` names (000:15473-15475). The docs show no V2
/// example of this circumstance: the shape is a choice (docs/emulator.md).
fn domains(cm: &Map<String, Value>, at: &str) -> Check {
    let list = cm
        .get("domains")
        .and_then(Value::as_array)
        .filter(|l| !l.is_empty())
        .ok_or_else(|| bad(format!("\"{at}domains\" must be a non-empty array")))?;
    if list.iter().any(|d| d.as_str().is_none_or(str::is_empty)) {
        return Err(bad(format!(
            "\"{at}domains\" must hold domain ids (non-empty strings)"
        )));
    }
    Ok(())
}

/// `POST /api/v2/policy`.
pub fn policy(body: &Value) -> Check {
    let m = object(body)?;
    required_str(m, "policyKey", "")?;
    required_str(m, "name", "")?;
    one_of(m, "type", "", &["subscription", "data"], false)?;
    optional_kind(m, "staged", "", "bool")?;
    optional_kind(m, "certification", "", "object")?;
    optional_kind(m, "ownerRestrictions", "", "object")?;
    if m.get("circumstanceOperator").is_some_and(|v| !v.is_null()) {
        one_of(m, "circumstanceOperator", "", &["all", "any"], true)?;
    }
    optional_kind(m, "circumstances", "", "array")?;
    let circs = m
        .get("circumstances")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    for (i, c) in circs.iter().enumerate() {
        let at = format!("circumstances[{i}].");
        let cm = c
            .as_object()
            .ok_or_else(|| bad(format!("\"circumstances[{i}]\" must be an object")))?;
        one_of(cm, "type", &at, CIRCUMSTANCES, false)?;
        if cm.get("type").and_then(Value::as_str) == Some("domains") {
            domains(cm, &at)?;
        }
    }
    let actions = m
        .get("actions")
        .ok_or_else(|| bad("\"actions\" is required"))?;
    if m.get("type").and_then(Value::as_str) == Some("subscription") {
        let am = actions
            .as_object()
            .ok_or_else(|| bad("\"actions\" must be an object for a subscription policy"))?;
        return subscription(am, "actions.");
    }
    data_actions(actions)
}

fn data_actions(actions: &Value) -> Check {
    let blocks = actions
        .as_array()
        .filter(|a| !a.is_empty())
        .ok_or_else(|| bad("\"actions\" must be a non-empty array for a data policy"))?;
    for (i, block) in blocks.iter().enumerate() {
        let bm = block
            .as_object()
            .ok_or_else(|| bad(format!("\"actions[{i}]\" must be an object")))?;
        optional_kind(bm, "description", &format!("actions[{i}]."), "string")?;
        let rules = bm
            .get("rules")
            .and_then(Value::as_array)
            .filter(|r| !r.is_empty())
            .ok_or_else(|| bad(format!("\"actions[{i}].rules\" must be a non-empty array")))?;
        for (j, rule) in rules.iter().enumerate() {
            let at = format!("actions[{i}].rules[{j}].");
            let rm = rule
                .as_object()
                .ok_or_else(|| bad(format!("\"actions[{i}].rules[{j}]\" must be an object")))?;
            let ty = required_str(rm, "type", &at)?;
            optional_kind(rm, "exceptions", &at, "object")?;
            optional_kind(rm, "inclusions", &at, "object")?;
            let config = rm
                .get("config")
                .and_then(Value::as_object)
                .ok_or_else(|| bad(format!("\"{at}config\" must be an object")))?;
            if ty == "Masking" {
                masking(config, &format!("{at}config."))?;
            }
        }
    }
    Ok(())
}

fn masking(config: &Map<String, Value>, at: &str) -> Check {
    let fields = config
        .get("fields")
        .and_then(Value::as_array)
        .filter(|f| !f.is_empty())
        .ok_or_else(|| bad(format!("\"{at}fields\" must be a non-empty array")))?;
    for (k, f) in fields.iter().enumerate() {
        let fm = f
            .as_object()
            .ok_or_else(|| bad(format!("\"{at}fields[{k}]\" must be an object")))?;
        let fat = format!("{at}fields[{k}].");
        one_of(
            fm,
            "type",
            &fat,
            &[
                "columnTags",
                "columnRegex",
                "anyTag",
                "noTags",
                "allColumns",
            ],
            false,
        )?;
        if fm.get("type").and_then(Value::as_str) == Some("columnTags") {
            required_str(fm, "columnTag", &fat)?;
        }
    }
    let mc = config
        .get("maskingConfig")
        .and_then(Value::as_object)
        .ok_or_else(|| bad(format!("\"{at}maskingConfig\" must be an object")))?;
    required_str(mc, "type", &format!("{at}maskingConfig."))?;
    Ok(())
}

/// `POST /api/v2/project`.
pub fn project(body: &Value) -> Check {
    let m = object(body)?;
    required_str(m, "projectKey", "")?;
    required_str(m, "name", "")?;
    for f in ["description", "documentation"] {
        optional_kind(m, f, "", "string")?;
    }
    for f in ["allowMaskedJoins", "equalization"] {
        optional_kind(m, f, "", "bool")?;
    }
    for f in ["purposes", "datasources", "tags"] {
        optional_kind(m, f, "", "array")?;
        let items = m
            .get(f)
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        if items.iter().any(|v| !v.is_string()) {
            return Err(bad(format!("\"{f}\" must be a list of names")));
        }
    }
    optional_kind(m, "workspace", "", "object")?;
    if let Some(ws) = m.get("workspace").and_then(Value::as_object) {
        required_str(ws, "type", "workspace.")?;
    }
    optional_kind(m, "subscriptionPolicy", "", "object")?;
    if let Some(sp) = m.get("subscriptionPolicy").and_then(Value::as_object) {
        subscription(sp, "subscriptionPolicy.")?;
    }
    Ok(())
}

/// Connection fields each handler needs (immuta-api.md §3.1, relaxed to what every
/// documented example sends: `warehouse` and `authenticationMethod` are not required
/// because the CLI demo at 000:1647 omits them and succeeds).
fn handler_requires(handler: &str) -> &'static [&'static str] {
    match handler {
        "Databricks" => &["hostname", "httpPath"],
        "Redshift" => &["hostname", "database"],
        "Snowflake" => &["hostname", "database"],
        "Google BigQuery" => &["sid"],
        "Amazon Athena" | "Athena" => &["region", "queryResultLocationBucket"],
        _ => &["hostname"],
    }
}

/// `POST /api/v2/data`.
pub fn data(body: &Value) -> Check {
    let m = object(body)?;
    required_str(m, "connectionKey", "")?;
    let conn = m
        .get("connection")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("\"connection\" is required and must be an object"))?;
    let handler = required_str(conn, "handler", "connection.")?;
    for f in handler_requires(handler) {
        match conn.get(*f) {
            Some(Value::Null) | None => {
                return Err(bad(format!(
                    "\"connection.{f}\" is required for handler {handler}"
                )))
            }
            Some(Value::String(s)) if s.is_empty() => {
                return Err(bad(format!(
                    "\"connection.{f}\" is required for handler {handler}"
                )))
            }
            Some(_) => {}
        }
    }
    optional_kind(m, "nameTemplate", "", "object")?;
    optional_kind(m, "options", "", "object")?;
    optional_kind(m, "owners", "", "array")?;
    optional_kind(m, "sources", "", "array")?;
    if let Some(o) = m.get("options").and_then(Value::as_object) {
        optional_kind(o, "hardDelete", "options.", "bool")?;
        optional_kind(o, "domainCollectionId", "options.", "string")?;
        optional_kind(o, "tableTags", "options.", "array")?;
    }
    let sources = m
        .get("sources")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    for (i, s) in sources.iter().enumerate() {
        source(s, i)?;
    }
    Ok(())
}

fn source(s: &Value, i: usize) -> Check {
    let at = format!("sources[{i}].");
    let sm = s
        .as_object()
        .ok_or_else(|| bad(format!("\"sources[{i}]\" must be an object")))?;
    if sm.contains_key("all") {
        return match sm.get("all") {
            Some(Value::Bool(_)) => Ok(()),
            _ => Err(bad(format!("\"{at}all\" must be a bool"))),
        };
    }
    optional_kind(sm, "naming", &at, "object")?;
    if sm.contains_key("query") {
        required_str(sm, "query", &at)?;
        let naming = sm
            .get("naming")
            .and_then(Value::as_object)
            .ok_or_else(|| bad(format!("\"{at}naming\" is required for a query source")))?;
        required_str(naming, "datasource", &format!("{at}naming."))?;
        return Ok(());
    }
    required_str(sm, "table", &at)?;
    required_str(sm, "schema", &at)?;
    optional_kind(sm, "columns", &at, "array")?;
    optional_kind(sm, "tags", &at, "object")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn access_grant_is_read_or_write() {
        let p = |grant: &str| {
            policy(
                &json!({"policyKey": "k", "name": "n", "type": "subscription",
                "actions": {"type": "manual", "accessGrant": grant}}),
            )
        };
        assert!(p("WRITE").is_ok());
        let e = p("ADMIN").unwrap_err();
        assert!(e.message.contains("accessGrant"), "{}", e.message);
    }

    #[test]
    fn names_the_field_and_never_the_value() {
        let e = data(&json!({"connectionKey": "k", "connection": {"handler": "Databricks", "hostname": "h", "password": "hunter2"}})).unwrap_err();
        assert!(e.message.contains("connection.httpPath"), "{}", e.message);
        assert!(!e.message.contains("hunter2"));
        let e = policy(&json!({"policyKey": "k", "name": "n", "type": "data", "circumstanceOperator": "some", "actions": []})).unwrap_err();
        assert!(e.message.contains("circumstanceOperator"), "{}", e.message);
        assert!(policy(&json!({"policyKey": "k", "name": "n", "type": "subscription", "circumstanceOperator": "ANY", "actions": {"type": "anyone"}})).is_ok());
        let e = policy(&json!({"policyKey": "k", "name": "n", "type": "subscription", "actions": {"type": "everyone"}})).unwrap_err();
        assert!(e.message.contains("actions.type"), "{}", e.message);
        let e = project(
            &json!({"projectKey": "p", "name": "P", "subscriptionPolicy": {"type": "open"}}),
        )
        .unwrap_err();
        assert!(
            e.message.contains("subscriptionPolicy.type"),
            "{}",
            e.message
        );
        let e = purpose(&json!({"name": "A", "subpurposes": [{"name": "B.C"}]})).unwrap_err();
        assert!(e.message.contains("subpurposes[0].name"), "{}", e.message);
    }
}
