//! Field-level data-source diffs (issue 13), through the real client and reader against
//! the emulator: each kind of change (tags, owners, options, connection, columns) plans
//! as the fields it changes, next to the server's dry run; a no-op connection costs no
//! V1 detail read unless a full refresh asks for one; live connections outside Git are
//! listed; credentials are never claimed unchanged.

use std::collections::BTreeMap;

use immuta_gitops::apply::{self, ApplyReport};
use immuta_gitops::client::{Client, ClientConfig};
use immuta_gitops::live::{self, Refresh};
use immuta_gitops::manifest::{self, DesiredSet};
use immuta_gitops::object::{Kind, ObjectKey};
use immuta_gitops::plan::{self, Action, Change, Plan};
use immuta_gitops::redact::Secret;
use immuta_gitops::source::{FileEntry, Snapshot};
use immuta_gitops::state::secrets::DIGESTS_FILE;
use immuta_gitops::state::{SecretDigests, StateDir};
use serde_json::{json, Value};

use crate::common::{self, KEY};

/// The V1 detail endpoints (route templates as the client counts them).
const DETAIL: &[&str] = &[
    "GET /{handler}/handler/{id}",
    "GET /dataSource/{id}/tags",
    "GET /dataSource/{id}/access",
    "GET /dictionary/{id}",
];

const BILLING: &str = r#"connectionKey: billing
connection:
  handler: Snowflake
  hostname: acme.snowflakecomputing.com
  port: 443
  database: BILLING
  warehouse: WH_A
  username: svc_billing
  password: '{{EnvVar "BILLING_PW"}}'
options:
  staleDataTolerance: 86400
  tableTags: [Finance]
owners:
  - {type: user, name: alice@acme.com}
sources:
  - table: INVOICES
    schema: PUBLIC
    description: Every invoice
    columns:
      - {name: ID, dataType: integer}
      - {name: CUSTOMER, dataType: text}
      - {name: AMOUNT, dataType: numeric}
      - {name: SSN, dataType: text}
    columnDescriptions:
      - {columnName: ID, description: Invoice id}
    tags:
      table: [Billing]
      columns:
        - {columnName: ID, tags: [Key]}
  - table: PAYMENTS
    schema: PUBLIC
"#;

pub fn desired_with(files: &[(&str, &str)], env: &[(&str, &str)]) -> DesiredSet {
    let map: BTreeMap<String, FileEntry> = files
        .iter()
        .map(|(p, c)| (p.to_string(), FileEntry::Blob(c.as_bytes().to_vec())))
        .collect();
    let env: BTreeMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    manifest::load(&Snapshot::new("data-diff", "rev", map), &env)
        .unwrap_or_else(|d| panic!("manifests do not validate: {d:#?}"))
}

fn desired(billing: &str) -> DesiredSet {
    desired_with(
        &[("data/billing.yaml", billing)],
        &[("BILLING_PW", "pw-one-4e1f")],
    )
}

fn client(url: &str) -> Client {
    Client::new(ClientConfig::new(url.to_string(), Secret::new(KEY))).unwrap()
}

/// The plan stages alone: live (with `refresh`), diff, and the credential lines
/// against `digests`.
async fn plan_digests(
    url: &str,
    d: &DesiredSet,
    refresh: Refresh,
    digests: Option<&SecretDigests>,
) -> (Plan, Client) {
    let c = client(url);
    let live = live::read_live_with(&c, d, &[], refresh)
        .await
        .unwrap_or_else(|e| panic!("plan failed: {e:#}"));
    let mut p = plan::diff(d, &live);
    plan::secrets::annotate(&mut p, d, digests);
    (p, c)
}

async fn plan(url: &str, d: &DesiredSet, refresh: Refresh) -> (Plan, Client) {
    plan_digests(url, d, refresh, None).await
}

async fn apply_report(url: &str, d: &DesiredSet) -> ApplyReport {
    let (p, c) = plan(url, d, Refresh::Changed).await;
    let report = apply::apply(&c, &p, d, &Default::default()).await;
    assert!(report.is_success(), "{report:#?}");
    report
}

async fn apply(url: &str, d: &DesiredSet) {
    apply_report(url, d).await;
}

fn change<'a>(plan: &'a Plan, name: &str) -> &'a Change {
    let key = ObjectKey::new(Kind::Data, name);
    plan.changes
        .iter()
        .find(|c| c.key == key)
        .unwrap_or_else(|| panic!("{key} not in plan: {plan:#?}"))
}

/// `(path, before, after)` of every field change.
fn fields(c: &Change) -> Vec<(String, Option<Value>, Option<Value>)> {
    c.fields
        .iter()
        .map(|f| (f.path.clone(), f.before.clone(), f.after.clone()))
        .collect()
}

fn detail_reads(c: &Client) -> u64 {
    c.stats()
        .snapshot()
        .iter()
        .filter(|((e, _), _)| DETAIL.contains(&e.as_str()))
        .map(|(_, n)| n)
        .sum()
}

/// An expected field change: path, before, after.
type Expected = (&'static str, Option<Value>, Option<Value>);

async fn applied() -> immuta_emulator::Handle {
    let emu = common::emulator(None).await;
    apply(&emu.url(), &desired(BILLING)).await;
    emu
}

#[tokio::test(flavor = "multi_thread")]
async fn each_kind_of_change_plans_as_the_fields_it_changes() {
    let emu = applied().await;
    let url = emu.url();
    let cases: Vec<(&str, String, Vec<Expected>)> = vec![
        (
            "connection",
            BILLING.replace("WH_A", "WH_B"),
            vec![("connection.warehouse", Some(json!("WH_A")), Some(json!("WH_B")))],
        ),
        (
            "owners",
            BILLING.replace(
                "  - {type: user, name: alice@acme.com}\n",
                "  - {type: user, name: alice@acme.com}\n  - {type: group, name: Billing Stewards}\n",
            ),
            vec![(
                "owners[1]",
                None,
                Some(json!({"type": "group", "name": "Billing Stewards"})),
            )],
        ),
        (
            "options",
            BILLING.replace("86400", "3600"),
            vec![("options.staleDataTolerance", Some(json!(86400)), Some(json!(3600)))],
        ),
        (
            "table tags",
            BILLING.replace("table: [Billing]", "table: [Billing, PCI]"),
            vec![("sources[0].tags.table[1]", None, Some(json!("PCI")))],
        ),
        (
            "column tags",
            BILLING.replace(
                "        - {columnName: ID, tags: [Key]}\n",
                "        - {columnName: ID, tags: [Key]}\n        - {columnName: SSN, tags: [PII.SSN]}\n",
            ),
            vec![(
                "sources[0].tags.columns[1]",
                None,
                Some(json!({"columnName": "SSN", "tags": ["PII.SSN"]})),
            )],
        ),
        (
            "a tag on a tagged column",
            BILLING.replace("tags: [Key]", "tags: [Key, PII.ID]"),
            vec![("sources[0].tags.columns[0].tags[1]", None, Some(json!("PII.ID")))],
        ),
        (
            "column description",
            BILLING.replace("description: Invoice id", "description: The invoice id"),
            vec![(
                "sources[0].columnDescriptions[0].description",
                Some(json!("Invoice id")),
                Some(json!("The invoice id")),
            )],
        ),
        (
            "column type",
            BILLING.replace("{name: AMOUNT, dataType: numeric}", "{name: AMOUNT, dataType: text}"),
            vec![(
                "sources[0].columns[2].dataType",
                Some(json!("numeric")),
                Some(json!("text")),
            )],
        ),
        (
            "data source description",
            BILLING.replace("Every invoice", "All invoices"),
            vec![(
                "sources[0].description",
                Some(json!("Every invoice")),
                Some(json!("All invoices")),
            )],
        ),
    ];
    for (what, manifest, want) in cases {
        let (p, _) = plan(&url, &desired(&manifest), Refresh::Changed).await;
        let c = change(&p, "billing");
        // The plan stages alone: the table-removal gate (prune) is not applied here, so
        // a changed connection, which makes Immuta replace the data sources
        // (000:14317-14319), is an update too.
        assert_eq!(c.action, Action::Update, "{what}: {c:#?}");
        let got = fields(c);
        let want: Vec<(String, Option<Value>, Option<Value>)> = want
            .into_iter()
            .map(|(p, b, a)| (p.to_string(), b, a))
            .collect();
        let got_plain: Vec<_> = got
            .iter()
            .filter(|(p, _, _)| !p.starts_with("connection.password"))
            .cloned()
            .collect();
        assert_eq!(got_plain, want, "{what}");
        let dry = c
            .data
            .as_ref()
            .expect("the dry run stays beside the fields");
        assert!(!dry.is_noop(), "{what}: {dry:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_no_op_connection_makes_no_detail_read_unless_refreshed() {
    let emu = applied().await;
    let d = desired(BILLING);
    let (p, c) = plan(&emu.url(), &d, Refresh::Changed).await;
    assert!(!p.has_changes(), "{p:#?}");
    assert_eq!(detail_reads(&c), 0, "{:#?}", c.stats().snapshot());

    // A full refresh reads every desired connection: 1 handler read, then 3 per source.
    let (p, c) = plan(&emu.url(), &d, Refresh::Full).await;
    assert!(
        !p.has_changes(),
        "the reader and the emulator agree: {p:#?}"
    );
    assert_eq!(detail_reads(&c), 1 + 3 * 2, "{:#?}", c.stats().snapshot());

    // A changed connection is read without asking.
    let (_, c) = plan(
        &emu.url(),
        &desired(&BILLING.replace("WH_A", "WH_B")),
        Refresh::Changed,
    )
    .await;
    assert_eq!(detail_reads(&c), 1 + 3 * 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn live_connections_outside_git_are_listed_as_unmanaged() {
    let emu = applied().await;
    let other = r#"connectionKey: hand-made
connection: {handler: Snowflake, hostname: other.snowflakecomputing.com, database: HR, username: svc_hr, password: x1y2z3w4}
sources:
  - {table: PEOPLE, schema: PUBLIC}
"#;
    apply(&emu.url(), &desired_with(&[("data/hand.yaml", other)], &[])).await;
    let (p, _) = plan(&emu.url(), &desired(BILLING), Refresh::Changed).await;
    let u = change(&p, "svc_hr@other.snowflakecomputing.com:443/HR");
    assert_eq!(u.action, Action::Unmanaged);
    assert_eq!(
        u.data.as_ref().map(|d| d.no_change.clone()),
        Some(vec!["Public People".to_string()])
    );
    assert_eq!(
        p.summary().unmanaged,
        1,
        "billing's own sources are claimed"
    );
    let mut text = Vec::new();
    immuta_gitops::plan::render::text(&p, &mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(
        text.contains("? data/svc_hr@other.snowflakecomputing.com:443/HR exists in Immuta but not in the source"),
        "{text}"
    );
}

/// The credential lines of a data source: `(path, note)`.
fn credential_lines(c: &Change) -> Vec<(String, Option<String>)> {
    c.fields
        .iter()
        .filter(|f| f.note.is_some())
        .map(|f| (f.path.clone(), f.note.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_credential_is_never_claimed_unchanged() {
    let emu = applied().await;
    let url = emu.url();
    let tagged = BILLING.replace("table: [Billing]", "table: [Billing, PCI]");
    // Nothing recorded: an update cannot say whether the password changes.
    let (p, _) = plan(&url, &desired(&tagged), Refresh::Changed).await;
    assert_eq!(
        credential_lines(change(&p, "billing")),
        [(
            "connection.password".to_string(),
            Some("sensitive, cannot compare".to_string())
        )]
    );

    // Recorded at apply: the same password says nothing, a new one "will be sent".
    let state = tempfile::tempdir().unwrap();
    let dir = StateDir::new(state.path());
    let d = desired(&tagged);
    let report = apply_report(&url, &d).await;
    let mut digests = dir.new_secret_digests().unwrap();
    digests.record(&d, &report);
    dir.save_secret_digests(&digests).unwrap();
    let stored = std::fs::read_to_string(state.path().join(DIGESTS_FILE)).unwrap();
    assert!(!stored.contains("pw-one-4e1f"), "{stored}");
    let digests = dir.load_secret_digests().unwrap().expect("a record");

    let plan_with_digests = |d: DesiredSet| {
        let url = url.clone();
        let digests = digests.clone();
        async move {
            plan_digests(&url, &d, Refresh::Changed, Some(&digests))
                .await
                .0
        }
    };
    let same = plan_with_digests(desired(
        &tagged.replace("[Billing, PCI]", "[Billing, PCI, X]"),
    ))
    .await;
    let c = change(&same, "billing");
    assert_eq!(c.action, Action::Update);
    assert_eq!(
        credential_lines(c),
        [],
        "the digest matches: nothing to say"
    );

    let rotated = desired_with(
        &[("data/billing.yaml", &tagged)],
        &[("BILLING_PW", "pw-two-9c3a")],
    );
    let p = plan_with_digests(rotated).await;
    let c = change(&p, "billing");
    assert_eq!(c.action, Action::Update, "{c:#?}");
    assert_eq!(
        credential_lines(c),
        [(
            "connection.password".to_string(),
            Some("sensitive, will be sent".to_string())
        )]
    );
    let mut text = Vec::new();
    immuta_gitops::plan::render::text(&p, &mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(
        text.contains("      ~ connection.password: (sensitive, will be sent)\n"),
        "{text}"
    );
    let mut json_out = Vec::new();
    immuta_gitops::plan::render::json(&p, &mut json_out).unwrap();
    let json_out = String::from_utf8(json_out).unwrap();
    for secret in ["pw-one-4e1f", "pw-two-9c3a"] {
        assert!(!text.contains(secret) && !json_out.contains(secret));
    }
    // A failed write forgets the record: the state is unknown again.
    let mut forgetful = digests.clone();
    let failed = ApplyReport {
        results: vec![apply::ObjectResult {
            key: ObjectKey::new(Kind::Data, "billing"),
            action: Action::Update,
            outcome: apply::Outcome::Failed { error: "x".into() },
        }],
    };
    forgetful.record(&desired(&tagged), &failed);
    assert!(forgetful.connections.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_binary_records_credentials_in_the_state_directory() {
    let emu = common::emulator(None).await;
    let tmp = tempfile::tempdir().unwrap();
    let repo = common::TestRepo::new(tmp.path(), "repo");
    repo.commit(&[("data/billing.yaml", Some(BILLING))]);
    let state = tmp.path().join("state");
    let state_s = state.to_string_lossy().to_string();
    let flags = ["--state-dir", state_s.as_str()];
    let env = [("BILLING_PW", "pw-one-4e1f")];
    let out = common::reconcile(&emu.url(), "--apply", &repo.url(), &flags, &env).await;
    assert_eq!(out.status.code(), Some(0), "{:?}", common::text(&out));
    assert!(state.join(DIGESTS_FILE).exists());
    let out = common::reconcile(&emu.url(), "--plan", &repo.url(), &flags, &env).await;
    let (stdout, _) = common::text(&out);
    assert!(stdout.contains("No changes."), "{stdout}");
    let rotated = [("BILLING_PW", "pw-two-9c3a")];
    let out = common::reconcile(&emu.url(), "--plan", &repo.url(), &flags, &rotated).await;
    let (stdout, stderr) = common::text(&out);
    assert!(
        stdout.contains("~ connection.password: (sensitive, will be sent)"),
        "{stdout}{stderr}"
    );
    // Without the state directory the tool cannot know.
    let out = common::reconcile(&emu.url(), "--plan", &repo.url(), &[], &rotated).await;
    let (stdout, _) = common::text(&out);
    assert!(
        stdout.contains("? connection.password: (sensitive, cannot compare)"),
        "{stdout}"
    );
    assert!(!stdout.contains("pw-two-9c3a") && !stdout.contains("pw-one-4e1f"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_json_plan_carries_the_fields_of_a_data_source() {
    let emu = common::emulator(None).await;
    let tmp = tempfile::tempdir().unwrap();
    let repo = common::TestRepo::new(tmp.path(), "repo");
    repo.commit(&[("data/billing.yaml", Some(BILLING))]);
    let env = [("BILLING_PW", "pw-one-4e1f")];
    let out = common::reconcile(&emu.url(), "--apply", &repo.url(), &[], &env).await;
    assert_eq!(out.status.code(), Some(0), "{:?}", common::text(&out));
    let tagged = BILLING.replace("table: [Billing]", "table: [Billing, PCI]");
    repo.commit(&[("data/billing.yaml", Some(tagged.as_str()))]);
    let flags = ["--output", "json"];
    let out = common::reconcile(&emu.url(), "--plan", &repo.url(), &flags, &env).await;
    let (stdout, stderr) = common::text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    let doc: Value = serde_json::from_str(&stdout).unwrap();
    let c = doc["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["key"]["name"] == "billing")
        .unwrap();
    assert_eq!(c["action"], "update");
    let fields: Vec<(&str, &Value, Option<&str>)> = c["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["path"].as_str().unwrap(), &f["after"], f["note"].as_str()))
        .collect();
    assert_eq!(
        fields,
        [
            (
                "connection.password",
                &json!("(sensitive)"),
                Some("sensitive, cannot compare")
            ),
            ("sources[0].tags.table[1]", &json!("PCI"), None),
        ]
    );
    assert_eq!(c["data"]["updating"], json!(["Public Invoices"]), "{c:#}");
    assert!(!stdout.contains("pw-one-4e1f"));
}
