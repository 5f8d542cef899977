//! The data-source reader against the documented V1 answers (tests/fixtures/immuta-v1/).

use super::*;

fn fixture(name: &str) -> Value {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/immuta-v1")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn documented() -> (Value, SourceReads) {
    let list = fixture("data-source-list-automatic-policy.json");
    let reads = SourceReads {
        hit: list[1].clone(),
        tags: fixture("data-source-4-tags.json"),
        owners: fixture("data-source-22-access.json")["users"]
            .as_array()
            .unwrap()
            .clone(),
        dictionary: fixture("dictionary-1.json"),
    };
    (fixture("handler-snowflake-30.json"), reads)
}

#[test]
fn documented_answers_normalise_to_the_v2_fields() {
    let (handler, reads) = documented();
    let body = normalize_connection("k", Some(&handler), &[reads]);
    assert_eq!(
        body["connection"],
        json!({"handler": "Snowflake", "ssl": true, "port": 443, "database": "ANALYTICS",
            "hostname": "demo.us-east-1.snowflakecomputing.com", "username": "user",
            "warehouse": "YOUR_WH", "authenticationMethod": "userPassword"})
    );
    assert_eq!(body["options"], json!({"staleDataTolerance": 86400}));
    // The subscriber of the access list is not an owner; the owner is named by login.
    assert_eq!(
        body["owners"],
        json!([{"type": "user", "name": "first.last@immuta.com"}])
    );
    let s = &body["sources"][0];
    assert_eq!(
        (&s["table"], &s["schema"]),
        (&json!("tpc"), &json!("public"))
    );
    assert_eq!(s["naming"]["datasource"], "Public Aaa Tpc");
    assert_eq!(
        s["tags"],
        json!({"table": ["Discovered.Entity.Medicare Number"]})
    );
    assert_eq!(s["columns"].as_array().unwrap().len(), 7);
    assert_eq!(
        s["columns"][1],
        json!({"name": "actionBy", "dataType": "text", "remoteType": "integer"})
    );
    assert!(s.get("owners").is_none(), "no owner beyond the common ones");
    let text = body.to_string();
    assert!(!text.contains("password"), "{text}");
}

#[test]
fn without_handler_metadata_there_is_no_connection() {
    let (_, reads) = documented();
    let body = normalize_connection("k", None, &[reads]);
    assert!(body.get("connection").is_none());
    assert!(body.get("options").is_none(), "the hit has domainId null");
}

#[test]
fn owners_common_to_every_source_are_the_root_owners() {
    let (_, a) = documented();
    let mut b = a.clone();
    b.hit["name"] = json!("Other");
    b.owners
        .push(json!({"type": "group", "name": "Stewards", "state": "owner"}));
    let body = normalize_connection("k", None, &[a, b]);
    assert_eq!(
        body["owners"],
        json!([{"type": "user", "name": "first.last@immuta.com"}])
    );
    assert!(body["sources"][0].get("owners").is_none());
    assert_eq!(
        body["sources"][1]["owners"],
        json!([{"type": "group", "name": "Stewards"}])
    );
}

#[test]
fn tags_and_column_tags_read_as_names() {
    assert_eq!(
        tag_names(
            &json!({"tags": [{"name": "A", "deleted": false}, {"name": "B", "deleted": true}, "C", {"name": "A"}]})
        ),
        ["A", "C"]
    );
    let (h, mut r) = documented();
    r.dictionary["metadata"][0]["tags"] = json!([{"name": "PII.SSN", "source": "curated"}]);
    r.dictionary["metadata"][0]["description"] = json!("kind of notice");
    let body = normalize_connection("k", Some(&h), &[r]);
    let s = &body["sources"][0];
    assert_eq!(
        s["tags"]["columns"],
        json!([{"columnName": "notificationType", "tags": ["PII.SSN"]}])
    );
    assert_eq!(
        s["columnDescriptions"],
        json!([{"columnName": "notificationType", "description": "kind of notice"}])
    );
}

#[test]
fn unclaimed_sources_group_by_connection() {
    let list = fixture("data-source-list-automatic-policy.json");
    let hits = list.as_array().unwrap();
    let claimed: BTreeSet<String> = ["Public Aaa Tpc".to_string()].into();
    let g = unclaimed_groups(hits, &claimed);
    assert_eq!(
        g.into_iter().collect::<Vec<_>>(),
        [(
            "test@immuta.connection.source.com:###/test".to_string(),
            vec!["Public Barfoo".to_string()]
        )]
    );
    let mut other = hits.clone();
    other[1]["schemaEvolutionId"] = json!(2);
    let g = unclaimed_groups(&other, &BTreeSet::new());
    assert_eq!(
        g.keys().cloned().collect::<Vec<_>>(),
        [
            "test@immuta.connection.source.com:###/test#1",
            "test@immuta.connection.source.com:###/test#2"
        ]
    );
    let mut gone = hits.clone();
    gone[0]["deleted"] = json!(true);
    assert_eq!(
        unclaimed_groups(&gone, &claimed).len(),
        0,
        "disabled is not live"
    );
}
