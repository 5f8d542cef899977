//! Replay fixtures (issue 10): V1 answers copied from the documentation, served by a
//! replay tenant over HTTP with a small page cap, read by the real client and reader,
//! and planned against V2 manifests that mean the same thing. Each fixture has a twin
//! that plans "No changes" and a one-field edit that plans exactly that one change.
//! Fixtures and mapping choices: tests/fixtures/immuta-v1/README.md.

mod server;

use std::collections::BTreeMap;

use immuta_gitops::client::{Client, ClientConfig};
use immuta_gitops::manifest::{self, DesiredSet};
use immuta_gitops::object::{Kind, ObjectKey};
use immuta_gitops::plan::{Action, Plan};
use immuta_gitops::redact::Secret;
use immuta_gitops::source::{FileEntry, Snapshot};
use serde_json::{json, Value};

use server::{fixture, Replay, Tenant, KEY};

mod data_sources;
mod export;
mod policies;
mod projects;
mod purposes;

/// Loads `files` (path → YAML) as a desired set; any validation error fails the test.
pub fn desired(files: &[(&str, &str)]) -> DesiredSet {
    let map: BTreeMap<String, FileEntry> = files
        .iter()
        .map(|(p, c)| (p.to_string(), FileEntry::Blob(c.as_bytes().to_vec())))
        .collect();
    let env: BTreeMap<String, String> = BTreeMap::new();
    manifest::load(&Snapshot::new("replay", "fixtures", map), &env)
        .unwrap_or_else(|d| panic!("manifests do not validate: {d:#?}"))
}

/// Serves `tenant`, reads it with the real client and plans `files` against it.
/// Asserts that reading made no write.
pub async fn plan_against(tenant: &Tenant, files: &[(&str, &str)]) -> (Plan, Replay) {
    let replay = Replay::start(tenant.clone()).await;
    let client = Client::new(ClientConfig::new(replay.url.clone(), Secret::new(KEY))).unwrap();
    let desired = desired(files);
    let live = immuta_gitops::live::read_live(&client, &desired, &[])
        .await
        .unwrap_or_else(|e| panic!("plan failed: {e:#}"));
    let plan = immuta_gitops::plan::diff(&desired, &live);
    assert_eq!(replay.writes(), Vec::<String>::new(), "a plan only reads");
    (plan, replay)
}

/// Every object of the plan, with its action and changed field paths.
pub fn summary(plan: &Plan) -> Vec<(String, Action, Vec<String>)> {
    plan.changes
        .iter()
        .map(|c| {
            (
                c.key.to_string(),
                c.action,
                c.fields.iter().map(|f| f.path.clone()).collect(),
            )
        })
        .collect()
}

/// The plan has nothing to write, and every desired object is up to date.
pub fn assert_no_changes(plan: &Plan, keys: &[(Kind, &str)]) {
    assert!(!plan.has_changes(), "{:#?}", summary(plan));
    for (kind, name) in keys {
        let key = ObjectKey::new(*kind, *name);
        let c = plan
            .changes
            .iter()
            .find(|c| c.key == key)
            .unwrap_or_else(|| panic!("{key} not in plan: {:#?}", summary(plan)));
        assert_eq!(c.action, Action::NoOp, "{key}: {:#?}", c.fields);
    }
}

/// The plan updates exactly `key`, in exactly the field `path`, from `before` to `after`.
pub fn assert_one_change(
    plan: &Plan,
    key: (Kind, &str),
    path: &str,
    before: Option<Value>,
    after: Option<Value>,
) {
    let key = ObjectKey::new(key.0, key.1);
    let writes: Vec<_> = plan
        .changes
        .iter()
        .filter(|c| c.action.is_write())
        .collect();
    assert_eq!(writes.len(), 1, "{:#?}", summary(plan));
    let c = writes[0];
    assert_eq!(
        (&c.key, c.action),
        (&key, Action::Update),
        "{:#?}",
        summary(plan)
    );
    assert_eq!(c.fields.len(), 1, "{:#?}", c.fields);
    let f = &c.fields[0];
    assert_eq!(f.path, path);
    assert_eq!((f.before.clone(), f.after.clone()), (before, after));
}

/// The requests of the plan that listed `path` (a page each).
pub fn pages(replay: &Replay, path: &str) -> usize {
    replay
        .reads()
        .iter()
        .filter(|r| r.split('?').next() == Some(path))
        .count()
}

#[tokio::test]
async fn issue_10_a_connection_that_matches_no_tables_plans_no_create() {
    // The V2 dry-run summary shape (clients.md §4 `DataSourceResponse`) with every list
    // empty: `sources: [{all: true}]` against a database without tables.
    let mut tenant = Tenant::default();
    tenant.data_dry_runs.insert(
        "empty-db".into(),
        json!({"dryRun": true, "creating": [], "updating": [], "deleting": [], "noChange": [],
               "detectionRunning": false, "tagsUpdated": false}),
    );
    let yaml = "connectionKey: empty-db\nconnection:\n  handler: Snowflake\n  hostname: acme.snowflakecomputing.com\n  port: 443\n  database: EMPTY\n  warehouse: WH\n  authenticationMethod: userPassword\n  username: svc\n  password: pw-value\nsources:\n  - all: true\n";
    let (plan, _replay) = plan_against(&tenant, &[("data/empty.yaml", yaml)]).await;
    assert_no_changes(&plan, &[(Kind::Data, "empty-db")]);
    assert_eq!(
        plan.changes[0].note.as_deref(),
        Some("connection matches no tables")
    );
}
