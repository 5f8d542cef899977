//! Plan tests: literal desired and live sets through [`super::diff`].

use super::*;
use crate::live::LiveObject;
use crate::manifest::Span;
use serde_json::json;

fn manifest(kind: Kind, name: &str, body: Value) -> Manifest {
    Manifest {
        key: ObjectKey::new(kind, name),
        span: Span {
            path: "x.yaml".into(),
            line: 1,
            col: 1,
        },
        body,
        sensitive: BTreeSet::new(),
    }
}

fn desired(ms: Vec<Manifest>) -> DesiredSet {
    DesiredSet {
        objects: ms.into_iter().map(|m| (m.key.clone(), m)).collect(),
        ..Default::default()
    }
}

fn live(objs: Vec<(Kind, &str, Value, bool)>) -> LiveSet {
    let mut l = LiveSet::default();
    for (i, (kind, name, body, system)) in objs.into_iter().enumerate() {
        let key = ObjectKey::new(kind, name);
        l.objects.insert(
            key.clone(),
            LiveObject {
                key,
                id: Some(i as u64),
                system,
                body: Some(body),
            },
        );
    }
    l
}

/// issue 11: a data source name Immuta made of a templated value (`<database>`) is
/// masked in the plan like the value itself.
#[test]
fn issue_11_dry_run_names_hide_templated_values() {
    let mut d = desired(vec![manifest(
        Kind::Data,
        "wh",
        json!({"connectionKey":"wh"}),
    )]);
    d.redactor.add("PROD_SECRET_DB");
    let mut l = LiveSet::default();
    l.data.insert(
        ObjectKey::new(Kind::Data, "wh"),
        DataDryRun {
            creating: vec!["PROD_SECRET_DB Orders".into()],
            deleting: vec!["Other".into()],
            ..Default::default()
        },
    );
    let plan = diff(&d, &l);
    let dry = plan.changes[0].data.as_ref().unwrap();
    assert_eq!(dry.creating, ["(sensitive) Orders"]);
    assert_eq!(dry.deleting, ["Other"]);
}

#[test]
fn defaults_and_set_order_do_not_count_as_drift() {
    let d = desired(vec![manifest(
        Kind::Project,
        "p",
        json!({"projectKey":"p","name":"P","purposes":["b","a"],"allowMaskedJoins":false}),
    )]);
    let l = live(vec![(
        Kind::Project,
        "p",
        json!({"projectKey":"p","name":"P","purposes":["a","b"],"documentation":"# P"}),
        false,
    )]);
    let plan = diff(&d, &l);
    assert_eq!(plan.changes.len(), 1);
    assert_eq!(plan.changes[0].action, Action::NoOp);
    assert!(!plan.has_changes());
}

#[test]
fn a_manual_project_subscription_reads_back_as_null() {
    let d = desired(vec![manifest(
        Kind::Project,
        "p",
        json!({"projectKey":"p","name":"P","subscriptionPolicy":
            {"type":"manual","description":"D","allowDiscovery":true}}),
    )]);
    // What the reader makes of `subscriptionPolicy: null` (000:33761).
    let l = live(vec![(
        Kind::Project,
        "p",
        json!({"projectKey":"p","name":"P","subscriptionPolicy":{"type":"manual"}}),
        false,
    )]);
    assert!(!diff(&d, &l).has_changes());
}

#[test]
fn an_operator_without_circumstances_is_not_drift() {
    for circs in [None, Some(json!([]))] {
        let mut want = json!({"policyKey":"p","name":"P","type":"subscription",
            "actions":{"type":"anyone"},"circumstanceOperator":"all"});
        if let Some(c) = &circs {
            want["circumstances"] = c.clone();
        }
        let d = desired(vec![manifest(Kind::Policy, "p", want)]);
        let l = live(vec![(
            Kind::Policy,
            "p",
            json!({"policyKey":"p","name":"P","type":"subscription","actions":{"type":"anyone"}}),
            false,
        )]);
        assert!(!diff(&d, &l).has_changes(), "{circs:?}");
    }
}

#[test]
fn default_operators_are_not_drift() {
    let body = |op: Option<&str>| {
        let mut b = json!({"policyKey":"p","name":"P","type":"data",
            "actions":[{"rules":[{"type":"Masking","exceptions":{"groups":["G"]}}]}],
            "circumstances":[{"type":"columnTags","columnTag":"T"}]});
        if let Some(op) = op {
            b["circumstanceOperator"] = json!(op);
            b["actions"][0]["rules"][0]["exceptions"]["operator"] = json!(op);
        }
        b
    };
    assert_eq!(
        canonical(Kind::Policy, &body(None)),
        canonical(Kind::Policy, &body(Some("any")))
    );
    assert_eq!(
        canonical(Kind::Policy, &body(Some("ANY"))),
        canonical(Kind::Policy, &body(Some("any")))
    );
    assert_ne!(
        canonical(Kind::Policy, &body(None)),
        canonical(Kind::Policy, &body(Some("all")))
    );
}

#[test]
fn nested_change_is_reported_by_path() {
    let d = desired(vec![manifest(
        Kind::Policy,
        "mask",
        json!({"policyKey":"mask","name":"m","type":"data","actions":[{"rules":[{"type":"Masking","config":{"maskingConfig":{"type":"Constant","constant":"X"}}}]}]}),
    )]);
    let l = live(vec![(
        Kind::Policy,
        "mask",
        json!({"policyKey":"mask","name":"m","type":"data","actions":[{"rules":[{"type":"Masking","config":{"maskingConfig":{"type":"Hash"}}}]}]}),
        false,
    )]);
    let plan = diff(&d, &l);
    let c = &plan.changes[0];
    assert_eq!(c.action, Action::Update);
    let paths: Vec<&str> = c.fields.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths,
        vec![
            "actions[0].rules[0].config.maskingConfig.type",
            "actions[0].rules[0].config.maskingConfig.constant"
        ]
    );
    assert_eq!(c.fields[0].before, Some(json!("Hash")));
    assert_eq!(c.fields[1].before, None);
}

#[test]
fn system_objects_are_ignored_and_hand_made_ones_are_unmanaged() {
    let d = desired(vec![]);
    let l = live(vec![
        (Kind::Policy, "New Column Added", json!({}), true),
        (
            Kind::Purpose,
            "Hand made",
            json!({"name":"Hand made"}),
            false,
        ),
    ]);
    let plan = diff(&d, &l);
    assert_eq!(plan.changes.len(), 1);
    assert_eq!(plan.changes[0].action, Action::Unmanaged);
    assert_eq!(plan.summary().unmanaged, 1);
}

#[test]
fn data_sources_follow_the_server_dry_run() {
    let d = desired(vec![
        manifest(Kind::Data, "new", json!({"connectionKey":"new"})),
        manifest(Kind::Data, "same", json!({"connectionKey":"same"})),
        manifest(Kind::Data, "grow", json!({"connectionKey":"grow"})),
    ]);
    let mut l = LiveSet::default();
    let dry = |c: &[&str], u: &[&str], n: &[&str]| DataDryRun {
        creating: c.iter().map(|s| s.to_string()).collect(),
        updating: u.iter().map(|s| s.to_string()).collect(),
        no_change: n.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    };
    l.data
        .insert(ObjectKey::new(Kind::Data, "new"), dry(&["A"], &[], &[]));
    l.data
        .insert(ObjectKey::new(Kind::Data, "same"), dry(&[], &[], &["B"]));
    l.data
        .insert(ObjectKey::new(Kind::Data, "grow"), dry(&["C"], &[], &["D"]));
    let plan = diff(&d, &l);
    let actions: Vec<(String, Action)> = plan
        .changes
        .iter()
        .map(|c| (c.key.name.clone(), c.action))
        .collect();
    assert_eq!(
        actions,
        vec![
            ("grow".into(), Action::Update),
            ("new".into(), Action::Create),
            ("same".into(), Action::NoOp)
        ]
    );
    assert_eq!(
        plan.summary(),
        Summary {
            add: 1,
            change: 1,
            destroy: 0,
            unchanged: 1,
            unmanaged: 0,
            refused: 0,
            prunable: 0,
        }
    );
}

#[test]
fn issue_10_a_dry_run_that_names_nothing_is_a_noop_with_a_note() {
    let d = desired(vec![manifest(
        Kind::Data,
        "empty-db",
        json!({"connectionKey": "empty-db", "sources": [{"all": true}]}),
    )]);
    let mut l = LiveSet::default();
    l.data.insert(
        ObjectKey::new(Kind::Data, "empty-db"),
        DataDryRun::default(),
    );
    let plan = diff(&d, &l);
    let c = &plan.changes[0];
    assert_eq!(c.action, Action::NoOp);
    assert_eq!(c.note.as_deref(), Some(NOTE_NO_TABLES));
    assert!(c.fields.is_empty());
    assert!(!plan.has_changes());
    let mut text = Vec::new();
    render::text(&plan, &mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(
        text.contains("data/empty-db has nothing to write: connection matches no tables"),
        "{text}"
    );
    assert!(text.contains("No changes."), "{text}");
}

#[test]
fn secrets_never_reach_a_field_change() {
    let mut m = manifest(
        Kind::Data,
        "k",
        json!({"connectionKey":"k","connection":{"hostname":"h","password":"hunter22"}}),
    );
    m.sensitive.insert("/connection/password".into());
    let fields = all_fields(&m);
    let text = serde_json::to_string(&fields).unwrap();
    assert!(!text.contains("hunter22"), "{text}");
    assert!(text.contains("(sensitive)"));
    assert!(text.contains("\"h\""));
    let marked: BTreeSet<String> = ["/connection/password".to_string()].into();
    assert!(is_sensitive(&marked, "/connection/password/x"));
    assert!(!is_sensitive(&marked, "/connection"));
    assert!(!is_sensitive(&marked, "/connection/passwordHint"));
}

/// issue 12: a field the schema marks as not observable is sent but never diffed.
#[test]
fn fields_the_live_read_cannot_see_are_not_diffed() {
    let d = desired(vec![manifest(
        Kind::Project,
        "p",
        json!({"projectKey":"p","name":"P","allowedMaskedJoins":true}),
    )]);
    let l = live(vec![(
        Kind::Project,
        "p",
        json!({"projectKey":"p","name":"P"}),
        false,
    )]);
    assert!(!diff(&d, &l).has_changes());
    // The same value under the observable spelling is a change.
    let d = desired(vec![manifest(
        Kind::Project,
        "p",
        json!({"projectKey":"p","name":"P","allowMaskedJoins":true}),
    )]);
    let plan = diff(&d, &l);
    assert_eq!(plan.changes[0].action, Action::Update);
    assert_eq!(plan.changes[0].fields[0].path, "allowMaskedJoins");
}

/// issue 12: `["", "x"]` reads the same from Git and from the normalised tenant.
#[test]
fn an_emptied_list_item_is_no_drift() {
    let body = json!({"policyKey":"p","name":"P","type":"subscription",
        "actions":{"type":"anyone"},"ownerRestrictions":{"groups":["", "x"]}});
    let d = desired(vec![manifest(Kind::Policy, "p", body.clone())]);
    let normalized = crate::canonical::strip_defaults(&body).unwrap();
    let l = live(vec![(Kind::Policy, "p", normalized, false)]);
    assert!(!diff(&d, &l).has_changes());
}
