//! Unit tests of the emulator's data sources: name templates, full-state POSTs, the
//! catalog and schema projects.

use super::*;

fn doc(sources: Value) -> Value {
    json!({"connectionKey": "k", "connection": {"handler": "Snowflake", "hostname": "h", "database": "db", "password": "p1"},
            "sources": sources})
}

#[test]
fn names_follow_the_template() {
    assert_eq!(title("credit_accounts"), "Credit Accounts");
    assert_eq!(
        fill("<Schema> <Tablename>", "CREDIT_ACCOUNTS", "PUBLIC", "db"),
        "Public Credit Accounts"
    );
    assert_eq!(
        fill("Databricks <Tablename>", "crime_data", "x", "db"),
        "Databricks Crime Data"
    );
    assert_eq!(fill("<tablename>", "WEB_SALES", "x", "db"), "web_sales");
}

#[test]
fn full_state_semantics() {
    let mut s = Store::new();
    let two = doc(json!([{"table": "a", "schema": "s"}, {"table": "b", "schema": "s"}]));
    let r = s.upsert_data(&two, false).unwrap();
    assert_eq!(r["creating"], json!(["S A", "S B"]));
    assert_eq!(r["connectionString"], "h:443/db");
    let r = s.upsert_data(&two, false).unwrap();
    assert_eq!(r["noChange"], json!(["S A", "S B"]));
    let one = doc(json!([{"table": "a", "schema": "s", "tags": {"table": ["PCI"]}}]));
    let r = s.upsert_data(&one, true).unwrap();
    assert_eq!(
        (
            r["updating"].clone(),
            r["deleting"].clone(),
            r["tagsUpdated"].clone()
        ),
        (json!(["S A"]), json!(["S B"]), json!(true))
    );
    assert_eq!(r["connectionString"], Value::Null);
    assert_eq!(
        s.sources.values().filter(|x| !x.disabled).count(),
        2,
        "dry run is read-only"
    );
    s.upsert_data(&one, false).unwrap();
    assert_eq!(
        s.sources.values().filter(|x| x.disabled).count(),
        1,
        "omitted table disabled"
    );
    let mut moved = one.clone();
    moved["connection"]["hostname"] = json!("other");
    let r = s.upsert_data(&moved, true).unwrap();
    assert_eq!(
        (r["creating"].clone(), r["deleting"].clone()),
        (json!(["S A"]), json!(["S A"]))
    );
    let mut cred = one.clone();
    cred["connection"]["password"] = json!("p2");
    let r = s.upsert_data(&cred, true).unwrap();
    assert_eq!(r["updating"], json!(["S A"]));
    let r = s.delete_data("k", false).unwrap();
    assert_eq!(r["deleting"].as_array().unwrap().len(), 2);
    assert_eq!(s.delete_data("k", true).unwrap_err().status.as_u16(), 404);
}

#[test]
fn all_tables_come_from_the_catalog() {
    let mut s = Store::new();
    s.add_remote(
        "h",
        "db",
        "public",
        &["credit_accounts".into(), "credit_transactions".into()],
    );
    let mut d = doc(Value::Null);
    d.as_object_mut().unwrap().remove("sources");
    let r = s.upsert_data(&d, true).unwrap();
    assert_eq!(
        r["creating"],
        json!(["Public Credit Accounts", "Public Credit Transactions"])
    );
}

#[test]
fn schema_projects_follow_their_connection() {
    let mut s = Store::new();
    let mut d = doc(json!([{"table": "a", "schema": "s1"}, {"table": "b", "schema": "s2"}]));
    d["nameTemplate"] = json!({"schemaProjectNameFormat": "<Schema>"});
    s.upsert_data(&d, false).unwrap();
    let schema_projects = |s: &Store| -> Vec<String> {
        s.projects
            .values()
            .filter(|p| p.schema_of.as_deref() == Some("k"))
            .map(|p| p.key.clone())
            .collect()
    };
    assert_eq!(schema_projects(&s), ["S1", "S2"]);
    d["sources"] = json!([{"table": "a", "schema": "s1"}]);
    s.upsert_data(&d, false).unwrap();
    assert_eq!(
        schema_projects(&s),
        ["S1"],
        "the emptied schema's project goes"
    );
    s.delete_project("S1", true, false).unwrap();
    s.upsert_data(&d, false).unwrap();
    assert_eq!(schema_projects(&s), ["S1"], "a deleted one is made again");
    s.delete_data("k", false).unwrap();
    assert!(schema_projects(&s).is_empty());
    assert!(s.project_keys.is_empty());
}
