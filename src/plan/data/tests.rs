//! The comparison forms of a data source, with literals.

use serde_json::json;

use super::*;

fn paths(want: Value, have: Value) -> Vec<(String, Option<Value>, Option<Value>)> {
    diff(&want, &have, &BTreeSet::new())
        .into_iter()
        .map(|f| (f.path, f.before, f.after))
        .collect()
}

fn conn() -> Value {
    json!({"handler": "Snowflake", "hostname": "h", "database": "D", "password": "p"})
}

#[test]
fn table_tags_are_on_every_source_and_order_does_not_matter() {
    let want = json!({"connectionKey": "k", "connection": conn(),
        "options": {"tableTags": ["Finance"]},
        "owners": [{"type": "user", "name": "a"}, {"type": "group", "name": "g"}],
        "sources": [{"table": "T", "schema": "S", "tags": {"table": ["X"]}}]});
    let have = json!({"connectionKey": "k", "connection": {"handler": "Snowflake", "hostname": "h", "database": "D"},
        "owners": [{"type": "group", "name": "g"}, {"type": "user", "name": "a"}],
        "sources": [{"table": "t", "schema": "s", "naming": {"datasource": "S T"},
            "tags": {"table": ["Finance", "X"]}}]});
    assert_eq!(paths(want, have), []);
}

#[test]
fn added_and_removed_items_keep_their_meaning() {
    let want = json!({"connectionKey": "k", "connection": conn(),
        "owners": [{"type": "user", "name": "a"}, {"type": "user", "name": "b"}],
        "sources": [{"table": "T", "schema": "S"}, {"table": "NEW", "schema": "S"}]});
    let have = json!({"connectionKey": "k", "connection": conn(),
        "owners": [{"type": "user", "name": "a"}, {"type": "user", "name": "c"}],
        "sources": [{"table": "T", "schema": "S"}, {"table": "OLD", "schema": "S"}]});
    assert_eq!(
        paths(want, have),
        [
            (
                "owners[1]".into(),
                None,
                Some(json!({"type": "user", "name": "b"}))
            ),
            (
                "owners[2]".into(),
                Some(json!({"type": "user", "name": "c"})),
                None
            ),
            (
                "sources[1]".into(),
                None,
                Some(json!({"table": "NEW", "schema": "S"}))
            ),
            (
                "sources[2]".into(),
                Some(json!({"table": "OLD", "schema": "S"})),
                None
            ),
        ]
    );
}

#[test]
fn owners_are_left_alone_when_the_document_has_none() {
    let want = json!({"connectionKey": "k", "connection": conn(), "sources": [{"table": "T", "schema": "S"}]});
    let have = json!({"connectionKey": "k", "connection": conn(),
        "owners": [{"type": "user", "name": "a"}],
        "sources": [{"table": "T", "schema": "S", "owners": [{"type": "user", "name": "b"}]}]});
    assert_eq!(paths(want, have), []);
}

#[test]
fn tables_an_all_entry_covers_are_compared_under_it() {
    let want = json!({"connectionKey": "k", "connection": conn(),
        "options": {"tableTags": ["Finance"]}, "sources": [{"all": true}]});
    let have = json!({"connectionKey": "k", "connection": conn(),
        "sources": [{"table": "A", "schema": "S", "tags": {"table": ["Finance"]}},
                    {"table": "B", "schema": "S"}]});
    assert_eq!(
        paths(want.clone(), have),
        [(
            "sources[0].tables[\"S.B\"].tags".into(),
            None,
            Some(json!({"table": ["Finance"]}))
        )]
    );
    // No `sources` means every table.
    let mut no_sources = want;
    no_sources.as_object_mut().unwrap().remove("sources");
    let have = json!({"connectionKey": "k", "connection": conn(),
        "sources": [{"table": "A", "schema": "S", "tags": {"table": ["Finance"]}}]});
    assert_eq!(paths(no_sources, have), []);
}

#[test]
fn what_a_side_cannot_state_is_not_compared() {
    // No handler metadata: no connection; a member the metadata lacks: not compared;
    // columns and naming only as far as the document states them.
    let want = json!({"connectionKey": "k", "connection": {"handler": "Databricks", "hostname": "h", "httpPath": "p"},
        "sources": [{"table": "T", "schema": "S", "columns": [{"name": "id"}],
            "naming": {"datasource": "Mine"}}]});
    let have = json!({"connectionKey": "k", "connection": {"handler": "Databricks", "hostname": "h"},
        "sources": [{"table": "T", "schema": "S", "naming": {"datasource": "Mine", "schema": "s"},
            "columns": [{"name": "id", "dataType": "integer", "remoteType": "int"}]}]});
    assert_eq!(paths(want.clone(), have), []);
    let have = json!({"connectionKey": "k", "sources": [{"table": "T", "schema": "S",
        "columns": [{"name": "id"}, {"name": "extra"}], "naming": {"datasource": "Other"}}]});
    assert_eq!(
        paths(want, have),
        [
            (
                "sources[0].columns[1]".into(),
                Some(json!({"name": "extra"})),
                None
            ),
            (
                "sources[0].naming.datasource".into(),
                Some(json!("Other")),
                Some(json!("Mine"))
            ),
        ]
    );
}

#[test]
fn column_descriptions_are_one_list() {
    let want = json!({"connectionKey": "k", "connection": conn(), "sources": [{"table": "T", "schema": "S",
        "columns": [{"name": "a", "description": "A"}],
        "columnDescriptions": [{"columnName": "b", "description": "B"}]}]});
    let have = json!({"connectionKey": "k", "connection": conn(), "sources": [{"table": "T", "schema": "S",
        "columns": [{"name": "a"}],
        "columnDescriptions": [{"columnName": "a", "description": "A"}, {"columnName": "b", "description": "old"}]}]});
    assert_eq!(
        paths(want, have),
        [(
            "sources[0].columnDescriptions[0].description".into(),
            Some(json!("old")),
            Some(json!("B"))
        )]
    );
}

#[test]
fn a_live_source_without_remote_table_is_not_claimed_removed() {
    let want = json!({"connectionKey": "k", "connection": conn(), "sources": [{"table": "T", "schema": "S"}]});
    let have = json!({"connectionKey": "k", "connection": conn(), "sources": [
        {"table": "T", "schema": "S"}, {"naming": {"datasource": "Made Elsewhere"}}]});
    assert_eq!(paths(want, have), []);
}
