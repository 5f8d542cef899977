//! Template inputs: a changed `{{ReadFile}}` file or `{{EnvVar}}` value replans its
//! object although its manifest did not change; secrets never reach `objects.json`.

use super::{changed, incremental, requests, Tenant, CARRIABLE, LISTED};

/// The file a project's `{{ReadFile}}` names changed, the manifest did not: that project
/// alone is read (one `GET /project/{id}` and its data-source list) and updated.
#[tokio::test(flavor = "multi_thread")]
async fn a_changed_read_file_input_replans_its_object_only() {
    let t = Tenant::applied(&[]).await;
    t.repo
        .commit(&[("notes/extra-1.txt", Some("Notes, second version"))]);
    let (r, planned) = t.plan(changed()).await;
    assert_eq!(incremental(&planned.scope), (LISTED + 1, CARRIABLE - 1));
    let writes: Vec<String> = planned
        .plan
        .changes
        .iter()
        .filter(|c| c.action.is_write())
        .map(|c| c.key.to_string())
        .collect();
    assert_eq!(writes, ["project/extra-1"]);
    let reqs = requests(&r);
    assert_eq!(reqs.get("GET /project/{id}"), Some(&1), "{reqs:#?}");
    assert_eq!(reqs.get("GET /project/{id}/dataSources"), Some(&1));
    assert!(!reqs.contains_key("POST /api/v2/data"), "{reqs:#?}");
}

/// An `{{EnvVar}}` value changed: the connection using it is dry-run again, the others
/// are carried.
#[tokio::test(flavor = "multi_thread")]
async fn a_changed_env_var_value_replans_its_object_only() {
    let mut t = Tenant::applied(&[]).await;
    t.env
        .insert("REDSHIFT_PASSWORD".into(), "another-value-9d1c".into());
    let mark = t.mark();
    let (r, planned) = t.plan(changed()).await;
    assert_eq!(incremental(&planned.scope), (LISTED + 1, CARRIABLE - 1));
    assert!(!planned
        .carried()
        .contains(&immuta_gitops::object::ObjectKey::new(
            immuta_gitops::object::Kind::Data,
            "acme-redshift-finance"
        )));
    assert_eq!(t.writes_since(mark), (1, 0), "one dry run");
    assert_eq!(requests(&r).get("POST /api/v2/data"), Some(&1));
}

/// A hostile password through apply: neither it nor any encoding of it is in
/// `objects.json`, and the connection's fingerprint changes when only the password does.
#[tokio::test(flavor = "multi_thread")]
async fn a_hostile_password_never_reaches_the_records_but_changes_the_fingerprint() {
    const HOSTILE: &str = r#"hunter2"\\n%22"#;
    let mut t = Tenant::applied(&[("REDSHIFT_PASSWORD", HOSTILE)]).await;
    let before = t.records();
    let forms = immuta_gitops::redact::forms::of(HOSTILE);
    for form in forms.iter().map(String::as_str).chain(["hunter2"]) {
        assert!(!before.contains(form), "{form:?} in objects.json");
    }
    let fingerprint = |text: &str| -> Option<String> {
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        v["objects"]["data/acme-redshift-finance"]["fingerprint"]
            .as_str()
            .map(str::to_string)
    };
    let then = fingerprint(&before).expect("the connection has a fingerprint");
    t.env
        .insert("REDSHIFT_PASSWORD".into(), format!("{HOSTILE}-rotated"));
    let (r, planned) = t.plan(changed()).await;
    let applied = r.apply(&planned, Default::default()).await;
    assert!(applied.report.is_success(), "{:#?}", applied.report);
    let after = t.records();
    let now = fingerprint(&after).expect("still recorded");
    assert_ne!(then, now, "only the password changed");
    for form in immuta_gitops::redact::forms::of(&format!("{HOSTILE}-rotated")) {
        assert!(!after.contains(&form), "{form:?} in objects.json");
    }
    // The other records' fingerprints did not move.
    let policy = |text: &str| {
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        v["objects"]["policy/mask-ssn"]["fingerprint"].clone()
    };
    assert_eq!(policy(&before), policy(&after));
}
