use super::*;
use crate::object::{Kind, ObjectKey};
use crate::plan::FieldChange;
use serde_json::{json, Value};

/// A plain field change: not sensitive, no note.
fn field(path: &str, before: Option<Value>, after: Option<Value>) -> FieldChange {
    FieldChange {
        path: path.into(),
        before,
        after,
        sensitive: false,
        note: None,
    }
}

/// A change with no dry run, note or rename.
fn change_of(
    kind: Kind,
    name: &str,
    action: Action,
    fields: Vec<FieldChange>,
    id: Option<u64>,
) -> Change {
    Change {
        key: ObjectKey::new(kind, name),
        action,
        fields,
        data: None,
        id,
        note: None,
        moved_from: None,
    }
}

/// A plan of `changes` with nothing held and the plain full scope.
fn plan_of(origin: &str, revision: &str, changes: Vec<Change>) -> Plan {
    Plan {
        origin: origin.into(),
        revision: revision.into(),
        changes,
        held: Vec::new(),
        scope: Default::default(),
    }
}

/// Adds `n` created purposes, each with a 40-character description: a plan too large
/// for one comment.
pub(super) fn add_purposes(p: &mut Plan, n: usize) {
    for i in 0..n {
        p.changes.push(change_of(
            Kind::Purpose,
            &format!("Purpose {i}"),
            Action::Create,
            vec![field("description", None, Some(json!("x".repeat(40))))],
            None,
        ));
    }
}

fn plan() -> Plan {
    plan_of(
        "repo",
        "0123456789abcdef0123456789abcdef01234567",
        vec![
            change_of(
                Kind::Purpose,
                "Marketing",
                Action::Create,
                vec![field("name", None, Some(json!("Marketing")))],
                None,
            ),
            change_of(
                Kind::Policy,
                "mask",
                Action::Update,
                vec![field(
                    "description",
                    Some(json!("a\nb\n")),
                    Some(json!("a\nc\n")),
                )],
                Some(3),
            ),
        ],
    )
}

#[test]
fn text_has_terraform_shape() {
    let mut buf = Vec::new();
    text(&plan(), &mut buf).unwrap();
    let s = String::from_utf8(buf).unwrap();
    assert!(
        s.contains("  + purpose/Marketing will be created\n      + name = \"Marketing\""),
        "{s}"
    );
    assert!(s.contains("  ~ policy/mask will be updated in place\n      ~ description:\n            a\n          - b\n          + c\n"), "{s}");
    assert!(
        s.trim_end()
            .ends_with("Plan: 1 to add, 1 to change, 0 to destroy."),
        "{s}"
    );
    assert!(s.starts_with("Source: repo at 0123456789ab"), "{s}");
}

/// issue 14: nested values of a created object printed as one line of JSON.
#[test]
fn issue_14_created_values_are_nested_blocks() {
    let p = plan_of(
        "o",
        "r",
        vec![change_of(
            Kind::Policy,
            "mask",
            Action::Create,
            vec![
                field(
                    "actions",
                    None,
                    Some(json!([{
                        "rules": [{"type": "Masking", "config": {"fields": []}}],
                        "odd key\u{1b}": {"x": "a\u{1b}]0;t\u{7}", "password": crate::redact::MASK},
                    }])),
                ),
                FieldChange {
                    path: "token".into(),
                    before: None,
                    after: Some(json!(crate::redact::MASK)),
                    sensitive: true,
                    note: None,
                },
                field("tags", None, Some(json!({}))),
            ],
            None,
        )],
    );
    let mut buf = Vec::new();
    text(&p, &mut buf).unwrap();
    let s = String::from_utf8(buf).unwrap();
    let want = r#"  + policy/mask will be created
      + actions = [
          + {
              + rules = [
                  + {
                      + type = "Masking"
                      + config = {
                          + fields = []
                        }
                    },
                ]
              + "odd key\u001b" = {
                  + x = "a\u001b]0;t\u0007"
                  + password = (sensitive)
                }
            },
        ]
      + token = (sensitive)
      + tags = {}
"#;
    assert!(s.contains(want), "{s}");
    assert!(!s.chars().any(|c| c.is_control() && c != '\n'), "{s:?}");
}

#[test]
fn empty_plan_says_no_changes() {
    let p = plan_of("o", "dir:abc", vec![]);
    let mut buf = Vec::new();
    text(&p, &mut buf).unwrap();
    assert!(String::from_utf8(buf).unwrap().contains("No changes."));
}

#[test]
fn markdown_puts_the_summary_first_and_folds_each_kind() {
    let mut buf = Vec::new();
    markdown(&plan(), &mut buf).unwrap();
    let s = String::from_utf8(buf).unwrap();
    assert!(
        s.starts_with("**Plan: 1 to add, 1 to change, 0 to destroy.**"),
        "{s}"
    );
    assert!(
        s.contains("<details><summary><b>purpose</b>: 1 to add</summary>"),
        "{s}"
    );
    assert!(
        s.contains("<details><summary><b>policy</b>: 1 to change</summary>"),
        "{s}"
    );
    assert!(
        s.contains("```diff\n+ purpose/Marketing will be created\n+     name = \"Marketing\"\n"),
        "{s}"
    );
    assert!(
        s.contains("\n! policy/mask will be updated in place\n!     description:\n          a\n-         b\n+         c\n"),
        "{s}"
    );
    assert_eq!(
        s.matches("<details>").count(),
        s.matches("</details>").count()
    );
}

#[test]
fn markdown_of_a_huge_plan_fits_one_comment_with_its_counts() {
    let mut p = plan();
    add_purposes(&mut p, 5_000);
    let mut buf = Vec::new();
    markdown(&p, &mut buf).unwrap();
    let s = String::from_utf8(buf).unwrap();
    assert!(
        s.len() <= super::super::comment::MAX_COMMENT_CHARS,
        "{}",
        s.len()
    );
    assert!(
        s.starts_with("**Plan: 5001 to add, 1 to change, 0 to destroy.**"),
        "{}",
        &s[..200]
    );
    assert!(s.contains("<b>purpose</b>: 5001 to add</summary>"));
    assert!(
        s.contains("of 10002 lines of this section are not shown"),
        "{}",
        &s[s.len() - 400..]
    );
    // The small policy section is whole.
    assert!(s.contains("! policy/mask will be updated in place\n!     description:\n"));
}

#[test]
fn json_is_versioned() {
    let mut buf = Vec::new();
    json(&plan(), &mut buf).unwrap();
    let v: Value = serde_json::from_slice(&buf).unwrap();
    assert_eq!(v["format_version"], 1);
    assert_eq!(v["summary"]["add"], 1);
    assert_eq!(v["changes"][1]["action"], "update");
    assert_eq!(v["changes"][1]["key"]["kind"], "policy");
}

/// The issue's example: 1 to add, 3 to change, 1 to destroy, 2 of them weakening.
pub(super) fn risky() -> Plan {
    let f = field;
    let c = |kind, name: &str, action, fields| change_of(kind, name, action, fields, Some(1));
    plan_of(
        "repo",
        "dir:abc",
        vec![
            c(
                Kind::Purpose,
                "Marketing",
                Action::Create,
                vec![f("name", None, Some(json!("Marketing")))],
            ),
            c(
                Kind::Purpose,
                "Fraud",
                Action::Update,
                vec![f("acknowledgement", None, Some(json!("I agree")))],
            ),
            c(
                Kind::Policy,
                "mask-pii",
                Action::Update,
                vec![
                    f(
                        "actions[0].rules[0].config.maskingConfig.type",
                        Some(json!("Null")),
                        Some(json!("Hash")),
                    ),
                    f(
                        "actions[0].rules[0].exceptions.groups[0]",
                        None,
                        Some(json!("Ana\u{1b}[31mlysts")),
                    ),
                ],
            ),
            c(Kind::Policy, "old", Action::Delete, vec![]),
            c(
                Kind::Project,
                "p",
                Action::Update,
                vec![f("description", Some(json!("a")), Some(json!("b")))],
            ),
        ],
    )
}

#[test]
fn text_marks_weakening_changes_and_counts_them() {
    let mut buf = Vec::new();
    text(&risky(), &mut buf).unwrap();
    let s = String::from_utf8(buf).unwrap();
    assert!(
        s.trim_end().ends_with(
            "Plan: 1 to add, 3 to change, 1 to destroy. 2 changes weaken data protection."
        ),
        "{s}"
    );
    assert!(
        s.contains("! ~ policy/mask-pii will be updated in place\n      ! weakens data protection: rule 1 (Masking): masking \"Null\" -> \"Hash\" (less protective); exceptions of rule 1 (Masking): group \"Ana\\u001b[31mlysts\" added\n"),
        "{s}"
    );
    assert!(
        s.contains(
            "! - policy/old will be destroyed\n      ! weakens data protection: policy deleted"
        ),
        "{s}"
    );
    assert!(
        s.contains("\n  ~ project/p will be updated in place\n"),
        "{s}"
    );
    assert!(s.contains("\n  ~ purpose/Fraud will be updated"), "{s}");
    assert!(
        !s.contains('\u{1b}'),
        "no raw control character reaches the terminal"
    );
}

#[test]
fn held_changes_say_so() {
    let mut p = risky();
    let held = crate::plan::risk::hold(&mut p, &mut |_, _| false);
    assert_eq!(held.len(), 2);
    let mut buf = Vec::new();
    text(&p, &mut buf).unwrap();
    let s = String::from_utf8(buf).unwrap();
    assert!(
        s.contains("! - policy/old is HELD for approval: it will be destroyed once approved"),
        "{s}"
    );
    assert!(
        s.trim_end()
            .ends_with("2 changes weaken data protection (2 held for approval)."),
        "{s}"
    );
    let mut buf = Vec::new();
    json(&p, &mut buf).unwrap();
    let v: Value = serde_json::from_slice(&buf).unwrap();
    assert_eq!(v["summary"]["held"], 2);
    assert_eq!(v["changes"][2]["held"], true);
    assert!(v["changes"][0].get("held").is_none());
}

#[test]
fn json_carries_risk_per_change_and_the_weakening_count() {
    let mut buf = Vec::new();
    json(&risky(), &mut buf).unwrap();
    let v: Value = serde_json::from_slice(&buf).unwrap();
    assert_eq!(v["format_version"], 1);
    assert_eq!(v["summary"]["weakening"], 2);
    let risks: Vec<(&str, &str)> = v["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["key"]["name"].as_str().unwrap(),
                c["risk"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        risks,
        vec![
            ("Marketing", "neutral"),
            ("Fraud", "strengthens"),
            ("mask-pii", "weakens"),
            ("old", "weakens"),
            ("p", "neutral"),
        ]
    );
    assert_eq!(
        v["changes"][1]["risk_reason"],
        "purpose acknowledgement added"
    );
    // The change's own members are unchanged.
    assert_eq!(v["changes"][2]["action"], "update");
    assert_eq!(v["changes"][2]["fields"][0]["after"], "Hash");
}
