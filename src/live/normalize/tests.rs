//! Tests of normalization: the seed fixtures in `tests/fixtures/seeds/` posted to the
//! emulator as V2, read back as V1 and normalized, plus shapes taken from real tenants.

use super::*;
use immuta_emulator::{spawn, Options};

const KEY: &str = "round-trip-key";

/// The data source fixtures the project fixtures name: `ebock-databricks` (its "Crime
/// Data" and "Databricks ..." sources) and `tpc-snowflake` ("Snowflake ..."). The other
/// data fixtures are left out: several generate the same data source names under another
/// connection key, which the emulator refuses with 409.
const DATA_FIXTURES: &[&str] = &[
    "databricks-naming-override.yaml",
    "snowflake-four-tables.yaml",
];

/// One seed fixture: its file name, its text as sent, and its parsed body.
struct Fixture {
    name: String,
    text: String,
    body: Value,
}

/// Every `*.yaml` file of `tests/fixtures/seeds/<dir>/`, sorted by file name.
fn fixtures(dir: &str) -> Vec<Fixture> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/seeds")
        .join(dir);
    let mut out: Vec<Fixture> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let body =
                serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            Fixture { name, text, body }
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// The V2 body after dropping server defaults, as the reader can know it.
fn strip(kind: &str, v: &Value) -> Value {
    fn walk(v: &Value) -> Option<Value> {
        match v {
            Value::Null | Value::Bool(false) => None,
            Value::String(s) if s.is_empty() => None,
            Value::Array(a) if a.is_empty() => None,
            Value::Array(a) => Some(Value::Array(
                a.iter().map(|i| walk(i).unwrap_or(json!({}))).collect(),
            )),
            Value::Object(m) => {
                let out: Map<String, Value> = m
                    .iter()
                    .filter_map(|(k, v)| walk(v).map(|v| (k.clone(), v)))
                    .collect();
                (!out.is_empty()).then_some(Value::Object(out))
            }
            other => Some(other.clone()),
        }
    }
    let mut out = walk(v).unwrap_or(json!({}));
    if let Some(op) = out
        .get("circumstanceOperator")
        .and_then(Value::as_str)
        .map(str::to_lowercase)
    {
        out["circumstanceOperator"] = json!(op);
    }
    if kind == "project" {
        let doc = format!("# {}", out["name"].as_str().unwrap());
        if out.get("documentation").and_then(Value::as_str) == Some(doc.as_str()) {
            out.as_object_mut().unwrap().remove("documentation");
        }
    }
    if let Some(Value::Array(subs)) = out.get_mut("subpurposes") {
        subs.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    }
    out
}

async fn post(http: &reqwest::Client, url: &str, kind: &str, yaml: &str) -> Value {
    let r = http
        .post(format!("{url}/api/v2/{kind}"))
        .header("Authorization", KEY)
        .header("Content-Type", "text/plain")
        .body(yaml.to_string())
        .send()
        .await
        .unwrap();
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert!(status.is_success(), "{kind}: {status} {body}");
    body
}

async fn get(http: &reqwest::Client, url: &str, path: &str) -> Value {
    let r = http
        .get(format!("{url}{path}"))
        .header("Authorization", format!("Bearer {KEY}"))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{path}: {}", r.status());
    r.json().await.unwrap()
}

#[tokio::test]
async fn every_documented_example_round_trips_through_v1() {
    let purposes_want = fixtures("purpose");
    let policies_want = fixtures("policy");
    let projects_want = fixtures("project");
    let data: Vec<Fixture> = fixtures("data")
        .into_iter()
        .filter(|f| DATA_FIXTURES.contains(&f.name.as_str()))
        .collect();
    assert_eq!(
        [
            purposes_want.len(),
            data.len(),
            policies_want.len(),
            projects_want.len()
        ],
        [4, 2, 30, 7]
    );

    let h = spawn(Options {
        api_key: KEY.into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let (http, url) = (reqwest::Client::new(), h.url());
    for (kind, set) in [
        ("purpose", &purposes_want),
        ("data", &data),
        ("policy", &policies_want),
        ("project", &projects_want),
    ] {
        for f in set {
            post(&http, &url, kind, &f.text).await;
        }
    }

    let live = get(&http, &url, "/policy/global?size=1000").await;
    let by_key: BTreeMap<String, Normalized> = live
        .as_array()
        .unwrap()
        .iter()
        .map(|p| policy(p).unwrap())
        .map(|n| (n.key.clone(), n))
        .collect();
    for f in &policies_want {
        let key = f.body["policyKey"].as_str().unwrap();
        let got = by_key
            .get(key)
            .unwrap_or_else(|| panic!("policy {key} ({}) missing", f.name));
        assert!(!got.system, "policy {key}");
        assert_eq!(got.body, strip("policy", &f.body), "policy {}", f.name);
    }
    assert_eq!(by_key.values().filter(|n| !n.system).count(), 30);
    assert!(by_key["New Column Added"].system);

    let list = get(&http, &url, "/governance/purpose?noLimit=true").await;
    let purposes_live = purposes(list["purposes"].as_array().unwrap()).unwrap();
    let by_name: BTreeMap<&str, &Normalized> =
        purposes_live.iter().map(|n| (n.key.as_str(), n)).collect();
    for f in &purposes_want {
        let name = f.body["name"].as_str().unwrap();
        let got = by_name
            .get(name)
            .unwrap_or_else(|| panic!("purpose {name} ({}) missing", f.name));
        assert_eq!(got.body, strip("purpose", &f.body), "purpose {}", f.name);
        assert!(!got.system, "purpose {name}");
    }
    assert!(by_name["Re-identification Prohibited.CCPA"].system);

    let hits = get(&http, &url, "/project?size=1000").await;
    let mut seen = std::collections::BTreeSet::new();
    for hit in hits["hits"].as_array().unwrap() {
        let id = hit["id"].as_u64().unwrap();
        let v1 = get(&http, &url, &format!("/project/{id}")).await;
        let ds = get(&http, &url, &format!("/project/{id}/dataSources?size=1000")).await;
        let n = project(&v1, ds["dataSources"].as_array().unwrap()).unwrap();
        let want = projects_want
            .iter()
            .find(|f| f.body["projectKey"] == json!(n.key))
            .unwrap_or_else(|| panic!("project {} has no fixture", n.key));
        assert_eq!(
            n.body,
            strip("project", &want.body),
            "project {}",
            want.name
        );
        assert!(seen.insert(n.key.clone()), "project {} listed twice", n.key);
    }
    assert_eq!(seen.len(), 7);
    h.shutdown().await;
}

#[test]
fn shape_errors_name_the_object() {
    let e = policy(&json!({"id": 3, "name": "x", "type": "data"})).unwrap_err();
    assert_eq!(
        e.to_string(),
        "policy 3 (x): member \"policyKey\" is missing or not a string"
    );
    assert!(project(&json!({"id": 1}), &[]).is_err());
    assert!(purposes(&[json!({"id": 1})]).is_err());
}

#[test]
fn real_tenant_shapes_normalize() {
    // The seed's own V1 policy (000:27382-27430) reads back as Hash masking.
    let v1 = json!({"id": 8, "policyKey": "Mask Passports", "name": "Mask Passports", "type": "data",
        "template": false, "staged": false, "systemGenerated": false, "deleted": false,
        "certification": {"tags": [], "text": "t", "label": "Certified", "recertify": true},
        "actions": [{"type": "masking", "rules": [{"type": "masking", "config": {"fields": [{"name": "Discovered.Passport", "source": "curated", "hasLeafNodes": false}],
            "maskingConfig": {"type": "Consistent Value", "metadata": {}}}, "exceptions": null}], "description": null}],
        "circumstances": [{"type": "columnTags", "operator": "or", "columnTag": {"name": "Discovered.Passport", "hasLeafNodes": false}}],
        "metadata": null, "clonedFrom": null, "createdBy": 2, "ownerRestrictions": null});
    let n = policy(&v1).unwrap();
    assert_eq!(
        n.body,
        json!({"policyKey": "Mask Passports", "name": "Mask Passports", "type": "data",
        "actions": [{"rules": [{"type": "Masking", "config": {"fields": [{"type": "columnTags", "columnTag": "Discovered.Passport"}], "maskingConfig": {"type": "Hash"}}}]}],
        "circumstanceOperator": "any",
        "circumstances": [{"type": "columnTags", "columnTag": "Discovered.Passport"}],
        "certification": {"text": "t", "label": "Certified", "recertify": true}})
    );
    // A schema project (004:114-175) is system; a manual project with defaults is bare.
    let p = project(&json!({"id": 2, "projectKey": "test", "name": "test", "documentation": "# test", "type": "Schema",
        "subscriptionType": "manual", "subscriptionPolicy": null, "equalization": null, "purposes": [], "tags": []}), &[]).unwrap();
    assert!(p.system);
    assert_eq!(p.body, json!({"projectKey": "test", "name": "test"}));
}
