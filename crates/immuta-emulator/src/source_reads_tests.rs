//! The data-source detail reads against the documented answers (issue 13): every member
//! the docs print is in the emulator's answer, of the same JSON type, so a reader written
//! against the docs reads the emulator, and a reader that expects an invented member
//! fails against the replay of the docs (tests/it/replay/data_sources.rs).

use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::tests::T;

fn fixture(name: &str) -> Value {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/immuta-v1")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Every member of `doc` is in `ours` with the same type (`null` in either matches any).
fn same_shape(what: &str, doc: &Value, ours: &Value) {
    let (Some(d), Some(o)) = (doc.as_object(), ours.as_object()) else {
        panic!("{what}: not objects: {doc} / {ours}");
    };
    let missing: BTreeSet<&String> = d.keys().filter(|k| !o.contains_key(*k)).collect();
    assert!(missing.is_empty(), "{what}: missing {missing:?} in {ours}");
    for (k, v) in d {
        let mine = &o[k];
        if !v.is_null() && !mine.is_null() {
            assert_eq!(kind(v), kind(mine), "{what}.{k}: {v} vs {mine}");
        }
    }
}

const BODY: &str = r#"{"connectionKey": "sales", "connection": {"handler": "Snowflake", "hostname": "h.example.com", "port": 443,
  "database": "SALES", "warehouse": "WH", "username": "u", "password": "s3cret-pw", "authenticationMethod": "userPassword", "ssl": true},
  "options": {"tableTags": ["Finance"], "staleDataTolerance": 86400},
  "owners": [{"type": "user", "name": "alice@acme.com"}, {"type": "group", "name": "Stewards"}],
  "sources": [{"table": "ORDERS", "schema": "PUBLIC", "description": "d",
    "columns": [{"name": "ID", "dataType": "integer", "primaryKey": true}, {"name": "SSN", "dataType": "text"}],
    "columnDescriptions": [{"columnName": "SSN", "description": "social"}],
    "tags": {"table": ["Orders"], "columns": [{"columnName": "SSN", "tags": ["PII.SSN"]}]}}]}"#;

#[tokio::test]
async fn detail_reads_answer_the_documented_shapes() {
    let t = T::new().await;
    let (s, _) = t.post("/api/v2/data", BODY).await;
    assert_eq!(s, 200);
    let list = t.get("/dataSource?size=10").await;
    let hit = &list["hits"][0];
    same_shape(
        "hit",
        &fixture("data-source-list-automatic-policy.json")[1],
        hit,
    );
    assert_eq!(hit["connectionString"], "u@h.example.com:443/SALES");
    let id = hit["id"].as_u64().unwrap();

    let handler = t.get(&format!("/snowflake/handler/{id}")).await;
    let doc = fixture("handler-snowflake-30.json");
    same_shape("handler", &doc, &handler);
    let mut doc_meta = doc["metadata"].clone();
    // Members of the documented table that this table has no value for.
    for absent in ["eventTime", "highCardinality", "schemaProjectName"] {
        doc_meta.as_object_mut().unwrap().remove(absent);
    }
    same_shape("handler.metadata", &doc_meta, &handler["metadata"]);
    assert_eq!(handler["metadata"]["warehouse"], "WH");
    assert_eq!(handler["metadata"]["staleDataTolerance"], 86400);
    assert!(!handler.to_string().contains("s3cret-pw"), "{handler}");

    let tags = t.get(&format!("/dataSource/{id}/tags")).await;
    same_shape("tags", &fixture("data-source-4-tags.json"), &tags);
    same_shape(
        "tags[0]",
        &fixture("data-source-4-tags.json")["tags"][0],
        &tags["tags"][0],
    );
    let names: Vec<&str> = tags["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Finance", "Orders"]);

    let access = t
        .get(&format!("/dataSource/{id}/access?states=owner"))
        .await;
    let doc = fixture("data-source-22-access.json");
    same_shape("access", &doc, &access);
    same_shape("access.users[0]", &doc["users"][0], &access["users"][0]);
    assert_eq!(access["count"], 2);
    assert_eq!(access["users"][1]["type"], "group");
    let none = t
        .get(&format!("/dataSource/{id}/access?states=subscribed"))
        .await;
    assert_eq!(none, json!({"count": 0, "users": []}));

    let contacts = t.get(&format!("/dataSource/{id}/contacts")).await;
    same_shape(
        "contacts[0]",
        &fixture("data-source-23-contacts.json")[0],
        &contacts[0],
    );

    let dict = t.get(&format!("/dictionary/{id}")).await;
    let doc = fixture("dictionary-1.json");
    same_shape("dictionary", &doc, &dict);
    same_shape(
        "dictionary.metadata[0]",
        &doc["metadata"][0],
        &dict["metadata"][0],
    );
    assert_eq!(dict["metadata"][1]["description"], "social");
    assert_eq!(dict["metadata"][1]["tags"][0]["name"], "PII.SSN");
    assert_eq!(dict["metadata"][0]["isPrimaryKey"], true);

    // Unknown ids and a handler of another type are the documented 404.
    let (s, body) = t.call(reqwest::Method::GET, "/dictionary/999", None).await;
    assert_eq!(
        (s, body["message"].clone()),
        (404, json!("Data source not found."))
    );
    let (s, _) = t
        .call(
            reqwest::Method::GET,
            &format!("/databricks/handler/{id}"),
            None,
        )
        .await;
    assert_eq!(s, 404);
    t.h.shutdown().await;
}
