//! Data sources read through the documented V1 answers (issue 13): the list of
//! 001:312-375, the Snowflake handler metadata of 000:11221-11252, the tags of
//! 000:44488-44499, the access list of 001:1087-1145 and the dictionary of
//! 000:10145-10193, served as one connection whose dry run reports no change.

use super::*;

/// The connection the documented answers describe, as a V2 manifest.
const MANIFEST: &str = r#"connectionKey: snowflake-test
connection:
  handler: Snowflake
  ssl: true
  port: 443
  database: ANALYTICS
  hostname: demo.us-east-1.snowflakecomputing.com
  username: user
  warehouse: YOUR_WH
  authenticationMethod: userPassword
  password: not-readable-4b1d
options:
  staleDataTolerance: 86400
owners:
  - {type: user, name: first.last@immuta.com}
sources:
  - table: tpc
    schema: public
    tags:
      table: [Discovered.Entity.Medicare Number]
"#;

/// The same, stating the documented dictionary's columns.
fn with_columns() -> String {
    MANIFEST.replace(
        "    tags:\n",
        "    columns:\n      - {name: notificationType, dataType: text, remoteType: text}\n      - {name: actionBy, dataType: text, remoteType: integer}\n      - {name: targetUser, dataType: integer, remoteType: integer}\n      - {name: metadata, dataType: json, remoteType: json}\n      - {name: id, dataType: integer, remoteType: integer}\n      - {name: notifyInitiator, dataType: text, remoteType: boolean}\n      - {name: eventTime, dataType: timestamp with time zone, remoteType: timestamp with time zone}\n    tags:\n",
    )
}

/// The documented list; hit 39 ("Public Aaa Tpc", `remoteTable: tpc`) is the connection's
/// only data source, and its detail reads are the documented answers (their own ids
/// differ: the docs print one example per endpoint).
fn tenant(cap: usize, bare: bool) -> Tenant {
    let mut t = Tenant {
        cap,
        data_sources: fixture("data-source-list-automatic-policy.json")
            .as_array()
            .cloned()
            .unwrap(),
        data_sources_bare: bare,
        ..Tenant::default()
    };
    t.data_dry_runs.insert(
        "snowflake-test".into(),
        json!({"dryRun": true, "creating": [], "updating": [], "deleting": [],
               "noChange": ["Public Aaa Tpc"], "detectionRunning": false, "tagsUpdated": false,
               "connectionString": null}),
    );
    for (path, file) in [
        ("/snowflake/handler/39", "handler-snowflake-30.json"),
        ("/dataSource/39/tags", "data-source-4-tags.json"),
        ("/dataSource/39/access", "data-source-22-access.json"),
        ("/dictionary/39", "dictionary-1.json"),
    ] {
        t.data_reads.insert(path.into(), fixture(file));
    }
    t
}

async fn plan_full(tenant: &Tenant, yaml: &str) -> (Plan, Replay) {
    let replay = Replay::start(tenant.clone()).await;
    let client = Client::new(ClientConfig::new(replay.url.clone(), Secret::new(KEY))).unwrap();
    let d = desired(&[("data/snowflake.yaml", yaml)]);
    let live =
        immuta_gitops::live::read_live_with(&client, &d, &[], immuta_gitops::live::Refresh::Full)
            .await
            .unwrap_or_else(|e| panic!("plan failed: {e:#}"));
    let mut plan = immuta_gitops::plan::diff(&d, &live);
    immuta_gitops::plan::secrets::annotate(&mut plan, &d, None);
    assert_eq!(replay.writes(), Vec::<String>::new(), "a plan only reads");
    (plan, replay)
}

#[tokio::test]
async fn the_documented_answers_read_as_the_manifest_that_made_them() {
    for (cap, bare) in [(1, true), (2, false), (1000, false)] {
        for yaml in [MANIFEST.to_string(), with_columns()] {
            let (plan, replay) = plan_full(&tenant(cap, bare), &yaml).await;
            assert_no_changes(&plan, &[(Kind::Data, "snowflake-test")]);
            // Only the owner of the access list is an owner (`states=owner`); the
            // subscriber is not.
            assert!(
                replay
                    .reads()
                    .iter()
                    .any(|r| r.starts_with("/dataSource/39/access?") && r.contains("states=owner")),
                "{:?}",
                replay.reads()
            );
            // "Public Barfoo" has the same connection string but no dry run names it.
            let unmanaged: Vec<_> = plan
                .changes
                .iter()
                .filter(|c| c.action == Action::Unmanaged)
                .map(|c| (c.key.to_string(), c.data.clone().unwrap().no_change))
                .collect();
            assert_eq!(
                unmanaged,
                [(
                    "data/test@immuta.connection.source.com:###/test".to_string(),
                    vec!["Public Barfoo".to_string()]
                )],
                "cap {cap}"
            );
        }
    }
}

#[tokio::test]
async fn one_changed_field_of_the_documented_connection_is_one_change() {
    let t = tenant(2, false);
    for (yaml, path, before, after) in [
        (
            MANIFEST.replace("YOUR_WH", "OTHER_WH"),
            "connection.warehouse",
            json!("YOUR_WH"),
            json!("OTHER_WH"),
        ),
        (
            MANIFEST.replace("86400", "3600"),
            "options.staleDataTolerance",
            json!(86400),
            json!(3600),
        ),
        (
            MANIFEST.replace(
                "first.last@immuta.com}\n",
                "first.last@immuta.com}\n  - {type: user, name: tommy.test@immuta.com}\n",
            ),
            "owners[1]",
            Value::Null,
            json!({"type": "user", "name": "tommy.test@immuta.com"}),
        ),
        (
            MANIFEST.replace("Medicare Number]", "Medicare Number, PII]"),
            "sources[0].tags.table[1]",
            Value::Null,
            json!("PII"),
        ),
        (
            with_columns().replace("{name: id, dataType: integer", "{name: id, dataType: text"),
            "sources[0].columns[4].dataType",
            json!("integer"),
            json!("text"),
        ),
    ] {
        let (mut plan, _) = plan_full(&t, &yaml).await;
        // Nothing was recorded of the password this tool never applied: the update
        // says it cannot compare it (and nothing else about it).
        for c in &mut plan.changes {
            let (credentials, rest): (Vec<_>, Vec<_>) =
                c.fields.drain(..).partition(|f| f.note.is_some());
            if c.action == Action::Update {
                assert_eq!(
                    credentials
                        .iter()
                        .map(|f| (f.path.as_str(), f.note.as_deref()))
                        .collect::<Vec<_>>(),
                    [("connection.password", Some("sensitive, cannot compare"))]
                );
            }
            c.fields = rest;
        }
        let before = (!before.is_null()).then_some(before);
        assert_one_change(
            &plan,
            (Kind::Data, "snowflake-test"),
            path,
            before,
            Some(after),
        );
    }
}
