//! One test per rule, on literal changes (before/after values as the planner writes them):
//! deletes, creates, data sources, combining and holding here; data policies in
//! [`policy`]; subscriptions, projects and purposes in [`access`].

use serde_json::{json, Value};

use super::*;
use crate::live::DataDryRun;
use crate::object::Kind;
use crate::plan::FieldChange;

mod access;
mod policy;

pub(super) type F<'a> = (&'a str, Option<Value>, Option<Value>);

pub(super) fn change(kind: Kind, action: Action, fields: &[F]) -> Change {
    Change {
        key: ObjectKey::new(kind, "k"),
        action,
        fields: fields
            .iter()
            .map(|(p, b, a)| FieldChange {
                path: (*p).into(),
                before: b.clone(),
                after: a.clone(),
                sensitive: false,
                note: None,
            })
            .collect(),
        data: None,
        id: Some(1),
        note: None,
        moved_from: None,
    }
}

pub(super) fn upd(kind: Kind, fields: &[F]) -> Assessment {
    classify(&change(kind, Action::Update, fields))
}

pub(super) fn policy(fields: &[F]) -> Assessment {
    upd(Kind::Policy, fields)
}

#[track_caller]
pub(super) fn is(a: &Assessment, risk: Risk, reason: &str) {
    assert_eq!(a.risk, risk, "{a:?}");
    assert!(a.reason.contains(reason), "{a:?} should say {reason:?}");
}

pub(super) const RULE: &str = "actions[0].rules[0]";

pub(super) fn rule(p: &str) -> String {
    format!("{RULE}.{p}")
}

pub(super) fn j(v: Value) -> Option<Value> {
    Some(v)
}

// ---- deletes and creates

#[test]
fn deleting_any_kind_weakens() {
    for &kind in Kind::ALL {
        let a = classify(&change(kind, Action::Delete, &[]));
        is(&a, Risk::Weakens, "deleted");
    }
}

#[test]
fn nothing_sent_is_neutral() {
    for action in [Action::NoOp, Action::Unmanaged, Action::Refused] {
        is(
            &classify(&change(Kind::Policy, action, &[])),
            Risk::Neutral,
            "nothing is sent",
        );
    }
}

#[test]
fn a_new_data_policy_strengthens_and_a_staged_one_is_neutral() {
    let body = json!([{"rules": [{"type": "Masking"}]}]);
    let f: F = ("actions", None, j(body));
    let t: F = ("type", None, j(json!("data")));
    is(
        &classify(&change(
            Kind::Policy,
            Action::Create,
            &[t.clone(), f.clone()],
        )),
        Risk::Strengthens,
        "new data policy",
    );
    let s: F = ("staged", None, j(json!(true)));
    is(
        &classify(&change(Kind::Policy, Action::Create, &[t, f, s])),
        Risk::Neutral,
        "staged",
    );
}

#[test]
fn a_new_subscription_policy_weakens() {
    let t: F = ("type", None, j(json!("subscription")));
    let anyone: F = ("actions", None, j(json!({"type": "anyone"})));
    is(
        &classify(&change(Kind::Policy, Action::Create, &[t.clone(), anyone])),
        Risk::Weakens,
        "lets anyone subscribe",
    );
    let ent: F = ("actions", None, j(json!({"type": "entitlements"})));
    is(
        &classify(&change(Kind::Policy, Action::Create, &[t, ent])),
        Risk::Weakens,
        CANNOT_TELL,
    );
}

#[test]
fn a_new_purpose_is_neutral_and_a_new_project_with_data_sources_weakens() {
    is(
        &classify(&change(
            Kind::Purpose,
            Action::Create,
            &[("name", None, j(json!("P")))],
        )),
        Risk::Neutral,
        "new purpose",
    );
    let p = classify(&change(
        Kind::Project,
        Action::Create,
        &[
            ("name", None, j(json!("P"))),
            ("datasources", None, j(json!(["Orders"]))),
        ],
    ));
    is(&p, Risk::Weakens, "data source \"Orders\" added");
    let empty = classify(&change(
        Kind::Project,
        Action::Create,
        &[("name", None, j(json!("P")))],
    ));
    is(&empty, Risk::Neutral, "name changed");
}

fn data(action: Action, dry: DataDryRun) -> Assessment {
    let mut c = change(Kind::Data, action, &[]);
    c.data = Some(dry);
    classify(&c)
}

#[test]
fn tables_deleted_or_disabled_weaken() {
    let a = data(
        Action::Update,
        DataDryRun {
            deleting: vec!["Old".into()],
            no_change: vec!["Kept".into()],
            ..Default::default()
        },
    );
    is(
        &a,
        Risk::Weakens,
        "1 data source(s) deleted or disabled: \"Old\"",
    );
}

#[test]
fn new_tables_are_neutral_and_unexplained_updates_cannot_be_told() {
    let created = data(
        Action::Update,
        DataDryRun {
            creating: vec!["New".into()],
            no_change: vec!["Kept".into()],
            ..Default::default()
        },
    );
    is(&created, Risk::Neutral, "new data sources registered");
    let updated = data(
        Action::Update,
        DataDryRun {
            updating: vec!["Kept".into()],
            tags_updated: true,
            ..Default::default()
        },
    );
    is(&updated, Risk::Weakens, CANNOT_TELL);
    let mut c = change(
        Kind::Data,
        Action::Update,
        &[(
            "columnDescriptions[0].description",
            j(json!("a")),
            j(json!("b")),
        )],
    );
    c.data = Some(DataDryRun {
        updating: vec!["Kept".into()],
        ..Default::default()
    });
    is(&classify(&c), Risk::Neutral, "description changed");
    // A credential the plan cannot compare is sent again: it changes no one's access.
    c.fields = vec![FieldChange {
        path: "connection.password".into(),
        before: j(json!("(sensitive)")),
        after: j(json!("(sensitive)")),
        sensitive: true,
        note: Some("sensitive, cannot compare".into()),
    }];
    is(&classify(&c), Risk::Weakens, "dry run does not say how");
    c.data = Some(DataDryRun::default());
    is(&classify(&c), Risk::Neutral, "connection credentials");
    c.fields.push(FieldChange {
        path: "sources[0].tags.columns[0].tags[1]".into(),
        before: None,
        after: j(json!("PII.ID")),
        sensitive: false,
        note: None,
    });
    is(
        &classify(&c),
        Risk::Weakens,
        "\"sources[0]\" changed: cannot tell",
    );
    // A whole new entry of `sources` registers new tables.
    c.fields = vec![FieldChange {
        path: "sources[3]".into(),
        before: None,
        after: j(json!({"schema": "s", "table": "t"})),
        sensitive: false,
        note: None,
    }];
    is(&classify(&c), Risk::Neutral, "tables added to sources");
    let created = data(Action::Create, DataDryRun::default());
    is(&created, Risk::Neutral, "new data sources");
}

#[test]
fn weakening_wins_and_reasons_are_bounded() {
    let g = |i: usize| {
        (
            format!("{RULE}.exceptions.groups[{i}]"),
            None,
            j(json!(format!("g{i}"))),
        )
    };
    let many: Vec<(String, Option<Value>, Option<Value>)> = (0..5).map(g).collect();
    let mut fs: Vec<F> = many
        .iter()
        .map(|(p, b, a)| (p.as_str(), b.clone(), a.clone()))
        .collect();
    fs.push(("staged", j(json!(true)), None));
    fs.push(("description", j(json!("a")), j(json!("b"))));
    let a = policy(&fs);
    assert_eq!(a.risk, Risk::Weakens);
    assert!(!a.reason.contains("staged"), "{a:?}");
    assert!(!a.reason.contains('\n'));
    let long = "x".repeat(10_000);
    let a = policy(&[(g(0).0.as_str(), None, j(json!(long)))]);
    assert!(a.reason.len() < 200, "{}", a.reason.len());
}

#[test]
fn hold_lists_weakening_changes_that_are_not_approved() {
    let weak = change(
        Kind::Policy,
        Action::Update,
        &[("staged", None, j(json!(true)))],
    );
    let mut other = change(
        Kind::Policy,
        Action::Update,
        &[("description", j(json!("a")), j(json!("b")))],
    );
    other.key.name = "other".into();
    let mut plan = Plan {
        changes: vec![other, weak],
        ..Default::default()
    };
    assert_eq!(plan.summary().weakening, 1);
    let held = hold(&mut plan, &mut |_, _| false);
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].key.to_string(), "policy/k");
    assert_eq!(held[0].action, Action::Update);
    assert!(held[0].reason.contains("staged"));
    assert_eq!(plan.summary().held, 1);
    // Holding again adds nothing; an approved change is not held.
    assert!(hold(&mut plan, &mut |_, _| false).is_empty());
    let mut fresh = Plan {
        changes: plan.changes.clone(),
        ..Default::default()
    };
    assert!(hold(&mut fresh, &mut |c, _| c.key.name == "k").is_empty());
}

/// The planner's own output, not hand-written paths: the seed example "Mask with
/// Constant" (000:8787-8813) as live, edited in Git three ways.
#[test]
fn plans_from_the_planner_classify_as_their_fields_say() {
    use crate::live::{LiveObject, LiveSet};
    use crate::manifest::{DesiredSet, Manifest, Span};
    let seed = json!({
        "name": "Mask with Constant",
        "policyKey": "data mask constant",
        "type": "data",
        "actions": [{"rules": [{
            "type": "Masking",
            "exceptions": {"operator": "any", "attributes": [
                {"name": "auth", "value": "SOMETHING_ELSE"},
                {"name": "auth1", "value": "super secret"}
            ]},
            "config": {
                "fields": [
                    {"type": "columnTags", "columnTag": "Discovered.Country"},
                    {"type": "columnTags", "columnTag": "Discovered.Passport"}
                ],
                "maskingConfig": {"type": "Constant", "constant": "REDACTED"}
            }
        }]}],
        "circumstanceOperator": "any",
        "circumstances": [
            {"type": "columnTags", "columnTag": "Discovered.Country"},
            {"type": "columnTags", "columnTag": "Discovered.Passport"}
        ]
    });
    let plan_for = |edit: &dyn Fn(&mut Value)| {
        let key = ObjectKey::new(Kind::Policy, "data mask constant");
        let mut body = seed.clone();
        edit(&mut body);
        let desired = DesiredSet {
            objects: [(
                key.clone(),
                Manifest {
                    key: key.clone(),
                    span: Span {
                        path: "policy/p.yaml".into(),
                        line: 1,
                        col: 1,
                    },
                    body,
                    sensitive: Default::default(),
                },
            )]
            .into_iter()
            .collect(),
            ..Default::default()
        };
        let mut live = LiveSet::default();
        live.objects.insert(
            key.clone(),
            LiveObject {
                key,
                id: Some(7),
                system: false,
                body: Some(seed.clone()),
            },
        );
        let plan = crate::plan::diff(&desired, &live);
        classify(&plan.changes[0])
    };
    let rule = |b: &mut Value| b["actions"][0]["rules"][0].clone();
    let hashed = plan_for(&|b| {
        b["actions"][0]["rules"][0]["config"]["maskingConfig"] = json!({"type": "Hash"});
    });
    is(
        &hashed,
        Risk::Weakens,
        "masking \"Constant\" -> \"Hash\" (less protective)",
    );
    let more_exceptions = plan_for(&|b| {
        let mut r = rule(b);
        r["exceptions"]["groups"] = json!(["Auditors"]);
        b["actions"][0]["rules"][0] = r;
    });
    is(&more_exceptions, Risk::Weakens, "group \"Auditors\" added");
    // Only the circumstances changed, so the plan does not say whether this is a data or
    // a subscription policy (its `type` is unchanged): the direction cannot be told.
    let fewer = plan_for(&|b| {
        b["circumstances"] = json!([{"type": "columnTags", "columnTag": "Discovered.Country"}]);
    });
    is(&fewer, Risk::Weakens, CANNOT_TELL);
    let renamed = plan_for(&|b| b["name"] = json!("Mask countries"));
    is(&renamed, Risk::Neutral, "name changed");
    let unmasked_column = plan_for(&|b| {
        let mut r = rule(b);
        r["config"]["fields"] = json!([{"type": "columnTags", "columnTag": "Discovered.Country"}]);
        b["actions"][0]["rules"][0] = r;
    });
    is(
        &unmasked_column,
        Risk::Weakens,
        "selector columnTags columnTag=\"Discovered.Passport\" removed",
    );
}
