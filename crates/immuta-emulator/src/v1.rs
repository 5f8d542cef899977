//! Emulator: renders stored V2 documents as the V1 objects Immuta's read endpoints return.
//!
//! Input: a stored V2 body plus the bookkeeping the store keeps (ids, timestamps).
//! Output: V1 JSON in the documented shapes (immuta-api.md §6.8; seeds 000:27332-27430,
//! 000:27730-27788, 001:304-527, 004:114-242). Where the seeds give no V1 spelling for a
//! V2 value, the V2 value is kept unchanged (listed in docs/emulator.md). Pure functions.

use serde_json::{json, Map, Value};

/// V2 subscription `type` → V1 `subscriptionType` (002:656-667).
pub fn subscription_type(v2: &str) -> &'static str {
    match v2 {
        "anyone" => "automatic",
        "approval" => "approval",
        "entitlements" => "policy",
        _ => "manual",
    }
}

/// V2 `any`/`all` → V1 `or`/`and` (case-insensitive; anything else passes through).
pub(super) fn operator(v2: &Value) -> Value {
    match v2.as_str().map(str::to_ascii_lowercase).as_deref() {
        Some("any") => json!("or"),
        Some("all") => json!("and"),
        _ => v2.clone(),
    }
}

/// V2 `{operator?, groups?, attributes?, purposes?}` → V1 `{operator?, conditions:[...]}`.
/// An absent operator stays absent (the V2 body gave none).
pub fn conditions(v2: &Map<String, Value>) -> Value {
    let mut out = Map::new();
    if let Some(op) = v2.get("operator").filter(|v| !v.is_null()) {
        out.insert("operator".into(), operator(op));
    }
    let mut conds = Vec::new();
    for g in v2
        .get("groups")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        conds.push(json!({"type": "groups", "group": {"name": g}}));
    }
    for a in v2
        .get("attributes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        conds.push(json!({"type": "authorizations", "authorization": {
            "auth": a.get("name").cloned().unwrap_or(Value::Null),
            "value": a.get("value").cloned().unwrap_or(Value::Null),
        }}));
    }
    for p in v2
        .get("purposes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        conds.push(json!({"type": "purposes", "value": p}));
    }
    out.insert("conditions".into(), Value::Array(conds));
    Value::Object(out)
}

/// A V2 subscription object (policy `actions` or project `subscriptionPolicy`) as the V1
/// subscription object, with the members the V1 examples carry (000:3960-3975,
/// 002:770-800): `type: "subscription"`, `subscriptionType`, `description` (null),
/// `allowDiscovery` (false), `shareResponsibility` (false), `automaticSubscription`
/// (false), and `exceptions` for entitlements (001:343-358). `accessGrant` appears only
/// when the body gives it: the docs show it on write policies' answers (000:3973) and not
/// on read subscription objects (000:34139-34160).
pub fn subscription(v2: &Map<String, Value>) -> Value {
    let ty = v2.get("type").and_then(Value::as_str).unwrap_or("manual");
    let mut out = Map::new();
    out.insert("type".into(), json!("subscription"));
    out.insert("subscriptionType".into(), json!(subscription_type(ty)));
    copy_subscription_fields(v2, &mut out);
    for (k, default) in [
        ("description", Value::Null),
        ("allowDiscovery", json!(false)),
        ("shareResponsibility", json!(false)),
        ("automaticSubscription", json!(false)),
    ] {
        out.entry(k).or_insert(default);
    }
    Value::Object(out)
}

/// Copies a V2 subscription body into its V1 object: every field but `type` (the caller
/// sets it), entitlements renamed `exceptions` (001:343-358).
fn copy_subscription_fields(v2: &Map<String, Value>, out: &mut Map<String, Value>) {
    for (k, v) in v2 {
        match k.as_str() {
            "type" => {}
            "entitlements" => {
                if let Some(e) = v.as_object() {
                    out.insert("exceptions".into(), conditions(e));
                }
            }
            _ => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
}

/// A project's V1 `(subscriptionPolicy, subscriptionType)`. A manual subscription, the
/// documented default (000:4560-4562), is `null` + `"manual"` in every V1 project answer
/// (004:75, 004:173-175, 004:240, 000:33765), whether the body said `{type: manual}` or
/// nothing. Others are the subscription object as the documented answers print it next to
/// a `subscriptionType`: `{type: "subscription"}` plus what the body set, entitlements as
/// `exceptions`, and no `subscriptionType` or defaults inside (automatic 001:312-375;
/// approval 000:14427-14549; policy 000:34139-34160).
pub fn project_subscription(v2: Option<&Map<String, Value>>) -> (Value, &'static str) {
    let ty = v2
        .and_then(|sp| sp.get("type"))
        .and_then(Value::as_str)
        .unwrap_or("manual");
    let Some(sp) = v2.filter(|_| ty != "manual") else {
        return (Value::Null, "manual");
    };
    let mut out = Map::new();
    out.insert("type".into(), json!("subscription"));
    copy_subscription_fields(sp, &mut out);
    (Value::Object(out), subscription_type(ty))
}

/// V2 circumstance → V1 circumstance with the per-circumstance `operator`.
fn circumstance(v2: &Value, op: Option<&Value>) -> Value {
    let Some(m) = v2.as_object() else {
        return v2.clone();
    };
    let ty = m.get("type").and_then(Value::as_str).unwrap_or("");
    let mut out = Map::new();
    out.insert("type".into(), json!(ty));
    if let Some(op) = op {
        out.insert("operator".into(), op.clone());
    }
    match ty {
        "columnTags" => {
            let tag = m.get("columnTag").cloned().unwrap_or(Value::Null);
            out.insert(
                "columnTag".into(),
                json!({"name": tag, "hasLeafNodes": false}),
            );
        }
        "columnRegex" => {
            let mut rx = Map::new();
            for k in ["regex", "caseInsensitive"] {
                if let Some(v) = m.get(k) {
                    rx.insert(k.into(), v.clone());
                }
            }
            out.insert("columnRegex".into(), Value::Object(rx));
        }
        _ => {
            for (k, v) in m {
                if k != "type" {
                    out.insert(k.clone(), v.clone());
                }
            }
        }
    }
    Value::Object(out)
}

/// Bookkeeping the store keeps next to a V2 body.
pub struct Meta<'a> {
    /// Numeric id.
    pub id: u64,
    /// RFC 3339 creation time.
    pub created_at: &'a str,
    /// RFC 3339 last update.
    pub updated_at: &'a str,
}

/// A stored V2 policy as the V1 global policy object.
pub fn policy(v2: &Value, meta: &Meta<'_>) -> Value {
    let get = |k: &str| v2.get(k).cloned().unwrap_or(Value::Null);
    let ty = v2.get("type").and_then(Value::as_str).unwrap_or("data");
    let actions = match v2.get("actions") {
        Some(Value::Object(a)) if ty == "subscription" => json!([subscription(a)]),
        Some(a) => super::rules::data_actions(a),
        None => json!([]),
    };
    let op = v2
        .get("circumstanceOperator")
        .filter(|v| !v.is_null())
        .map(operator);
    let circumstances = match v2.get("circumstances") {
        Some(Value::Array(c)) => {
            Value::Array(c.iter().map(|c| circumstance(c, op.as_ref())).collect())
        }
        _ => Value::Null,
    };
    json!({
        "id": meta.id,
        "policyKey": get("policyKey"),
        "name": get("name"),
        "type": ty,
        // Choice: V2 documents no `template`; the V1 write body's member (002:611-617) is
        // read from the stored body, so a seeded template lists as one.
        "template": v2.get("template").and_then(Value::as_bool).unwrap_or(false),
        "staged": v2.get("staged").and_then(Value::as_bool).unwrap_or(false),
        "systemGenerated": false,
        "deleted": false,
        "certification": get("certification"),
        "actions": actions,
        "circumstances": circumstances,
        "metadata": null,
        "clonedFrom": null,
        "createdBy": 2,
        "createdByName": "Emulator Admin",
        "createdAt": meta.created_at,
        "updatedAt": meta.updated_at,
        "ownerRestrictions": get("ownerRestrictions"),
    })
}

/// The built-in "New Column Added" policy, exactly as 000:27730-27788 shows it.
pub fn new_column_added() -> Value {
    json!({
        "id": 1, "policyKey": "New Column Added", "name": "New Column Added", "type": "data",
        "template": false, "staged": false, "systemGenerated": true, "deleted": false,
        "certification": null,
        "actions": [{"type": "masking", "rules": [{"type": "masking", "config": {
            "fields": [{"name": "New", "source": "curated", "hasLeafNodes": false}],
            "maskingConfig": {"type": "Consistent Value", "metadata": {"constant": null}}},
            "exceptions": null}], "description": null}],
        "circumstances": [{"type": "columnTags", "operator": "or", "columnTag": {"name": "New", "hasLeafNodes": false}}],
        "metadata": null, "clonedFrom": null, "createdBy": 1,
        "createdAt": "2021-09-09T13:47:03.448Z", "updatedAt": "2021-09-16T14:10:05.694Z",
        "createdByName": "Immuta System Account", "ownerRestrictions": null
    })
}

/// One V1 purpose object (000:14865-14926).
pub struct PurposeView<'a> {
    /// Id.
    pub id: u64,
    /// Fully-qualified name.
    pub name: &'a str,
    /// Acknowledgement (null when the body gave none).
    pub acknowledgement: Option<&'a str>,
    /// Description.
    pub description: Option<&'a str>,
    /// `kAnonNoiseReduction`, kept in `policyMetadata`.
    pub k_anon: Option<&'a str>,
    /// Built in.
    pub system: bool,
    /// Creation time.
    pub created_at: &'a str,
    /// Last update.
    pub updated_at: &'a str,
}

/// The V1 purpose object.
pub fn purpose(p: &PurposeView<'_>) -> Value {
    let policy_metadata = p
        .k_anon
        .map_or(Value::Null, |k| json!({"kAnonNoiseReduction": k}));
    json!({
        "id": p.id,
        "name": p.name,
        "acknowledgement": p.acknowledgement,
        "description": p.description,
        "addedByProfile": if p.system { 1 } else { 2 },
        "displayAcknowledgement": true,
        "deleted": false,
        "systemGenerated": p.system,
        "policyMetadata": policy_metadata,
        "createdAt": p.created_at,
        "updatedAt": p.updated_at,
    })
}

/// Seconds since the Unix epoch as `YYYY-MM-DDTHH:MM:SS.000Z` (RFC 3339, UTC).
pub fn rfc3339(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (h, mi, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    // Civil-from-days (H. Hinnant), for days since 1970-01-01.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.000Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_704_067_200), "2024-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400 + 86_399), "2000-02-29T23:59:59.000Z");
    }

    #[test]
    fn masking_policy_matches_the_seed_shape() {
        let v2 = json!({"policyKey": "Mask Passports", "name": "Mask Passports", "type": "data",
            "actions": [{"rules": [{"type": "Masking", "config": {"fields": [{"type": "columnTags", "columnTag": "Discovered.Passport"}], "maskingConfig": {"type": "Hash"}}}]}],
            "circumstances": [{"type": "columnTags", "columnTag": "Discovered.Passport"}], "circumstanceOperator": "any"});
        let v1 = policy(
            &v2,
            &Meta {
                id: 8,
                created_at: "a",
                updated_at: "b",
            },
        );
        assert_eq!(v1["actions"][0]["type"], "masking");
        assert_eq!(
            v1["actions"][0]["rules"][0]["config"]["fields"][0],
            json!({"name": "Discovered.Passport", "source": "curated", "hasLeafNodes": false})
        );
        assert_eq!(
            v1["actions"][0]["rules"][0]["config"]["maskingConfig"],
            json!({"type": "Consistent Value", "metadata": {}})
        );
        assert_eq!(v1["actions"][0]["rules"][0]["exceptions"], Value::Null);
        assert_eq!(
            v1["circumstances"][0],
            json!({"type": "columnTags", "operator": "or", "columnTag": {"name": "Discovered.Passport", "hasLeafNodes": false}})
        );
    }
}
