//! Plan renderers: text (Terraform's shape) and versioned JSON. Each format is its own
//! function over the same [`Plan`]; none of them ever sees a secret value, because
//! [`super::FieldChange`] values are masked when the plan is built. Text and Markdown
//! pass every name, path and value from a repository or a server through
//! [`crate::terminal::escape`], so none can forge a plan line or reach the terminal raw.
//!
//! Text:
//! ```text
//!   + purpose/Marketing will be created
//!   ~ policy/mask-pii will be updated in place
//!       ~ actions[0].rules[0].config.maskingConfig.type: "Hash" -> "Constant"
//!
//! Plan: 1 to add, 1 to change, 0 to destroy.
//! ```

use std::io::{self, Write};

use serde::Serialize;
use serde_json::Value;
use similar::{ChangeTag, TextDiff};

use super::risk::{Assessment, Risk};
use super::{Action, Change, FieldChange, Plan, PlanScope, Summary};
use crate::terminal::{escape, escape_lines};

mod markdown;
pub use markdown::markdown;

/// Version of the JSON plan document; bumped on any incompatible change.
pub const JSON_FORMAT_VERSION: u32 = 1;

/// Writes the plan as text.
///
/// # Errors
/// Only I/O errors of `out`.
pub fn text(plan: &Plan, out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "Source: {} at {}",
        escape(&plan.origin),
        escape(short_rev(&plan.revision))
    )?;
    writeln!(out, "{}", escape(&plan.scope.header()))?;
    writeln!(out)?;
    let shown: Vec<&Change> = plan
        .changes
        .iter()
        .filter(|c| c.action != Action::NoOp || c.note.is_some())
        .collect();
    let s = plan.summary();
    if !plan.has_changes() && s.refused == 0 {
        for c in shown.iter().filter(|c| !c.action.is_write()) {
            change(plan, c, out)?;
        }
        if s.prunable > 0 {
            writeln!(
                out,
                "No changes. Immuta matches the source at {}, except {}.",
                escape(short_rev(&plan.revision)),
                prunable(s.prunable)
            )?;
        } else {
            writeln!(
                out,
                "No changes. Immuta matches the source at {}.",
                escape(short_rev(&plan.revision))
            )?;
        }
        return Ok(());
    }
    for c in shown {
        change(plan, c, out)?;
    }
    writeln!(out, "{}", closing_line(&s))?;
    Ok(())
}

/// `Plan: N to add, N to change, N to destroy.` (and `, N refused` when any is), then
/// `N changes weaken data protection.` when any does (and how many of them are held).
/// Every data source a plan removes counts as one destroy.
pub fn closing_line(s: &Summary) -> String {
    let refused = if s.refused > 0 {
        format!(", {} refused", s.refused)
    } else {
        String::new()
    };
    let prune = if s.prunable > 0 {
        format!("; {}", prunable(s.prunable))
    } else {
        String::new()
    };
    let mut line = format!(
        "Plan: {} to add, {} to change, {} to destroy{refused}{prune}.",
        s.add, s.change, s.destroy
    );
    if s.weakening > 0 {
        let (noun, verb) = if s.weakening == 1 {
            ("change", "weakens")
        } else {
            ("changes", "weaken")
        };
        line.push_str(&format!(" {} {noun} {verb} data protection", s.weakening));
        if s.held > 0 {
            line.push_str(&format!(" ({} held for approval)", s.held));
        }
        line.push('.');
    }
    line
}

/// `1 object removed from Git that would be removed with --prune` (issue 14: a summary
/// must not say "matches" while managed objects that left Git are still in Immuta).
pub(super) fn prunable(n: usize) -> String {
    let (noun, verb) = if n == 1 {
        ("object", "is")
    } else {
        ("objects", "are")
    };
    format!(
        "{n} {noun} removed from Git that {verb} still in Immuta and would be removed with --prune"
    )
}

/// A full commit id cut to 12 hex digits; any other revision as it is.
pub fn short_rev(rev: &str) -> &str {
    if rev.len() == 40 && rev.chars().all(|c| c.is_ascii_hexdigit()) {
        rev.get(..12).unwrap_or(rev)
    } else {
        rev
    }
}

pub(super) fn change(plan: &Plan, c: &Change, out: &mut dyn Write) -> io::Result<()> {
    let risk = c.action.is_write().then(|| c.risk());
    let weakening = risk.as_ref().filter(|a| a.risk == Risk::Weakens);
    let held = plan.held_of(c);
    // `!` in the first column marks a change that weakens data protection.
    let bang = if weakening.is_some() { "!" } else { " " };
    let (marker, what) = match c.action {
        Action::Create => ("+", "will be created"),
        Action::Update => ("~", "will be updated in place"),
        Action::NoOp => (" ", "is up to date"),
        Action::Unmanaged if c.note.as_deref() == Some(super::NOTE_WOULD_PRUNE) => (
            "?",
            "exists in Immuta but not in the source: managed by this tool, left alone, would be removed with --prune",
        ),
        Action::Unmanaged => (
            "?",
            "exists in Immuta but not in the source: left alone (not managed, or --prune is off)",
        ),
        Action::Delete => ("-", "will be destroyed"),
        Action::Refused => (
            "!",
            "will NOT be updated: nothing is sent for it, the update would remove data sources",
        ),
    };
    let key = match &c.moved_from {
        Some(from) => format!("{from} \u{2192} {}", c.key),
        None => c.key.to_string(),
    };
    let key = escape(&key);
    if let (Some(_), Action::Refused) = (&c.moved_from, c.action) {
        writeln!(out, "  ! {key} will NOT be renamed: nothing is sent for it")?;
        writeln!(out, "      {}", escape(&super::refusal_reason(c)))?;
        return writeln!(out);
    }
    let what = match (held, &c.moved_from, c.action) {
        (Some(_), Some(_), Action::Update) => {
            "is HELD for approval: it will be renamed once approved".to_string()
        }
        (None, Some(_), Action::Update) => "will be renamed".to_string(),
        (Some(_), _, _) => format!("is HELD for approval: it {what} once approved"),
        (None, _, _) => what.to_string(),
    };
    match &c.note {
        Some(note) if c.action == Action::Unmanaged && note == super::NOTE_WOULD_PRUNE => {
            writeln!(out, "  {marker} {key} {what}")?;
        }
        Some(note) if c.action == Action::NoOp => {
            writeln!(
                out,
                "{bang} {marker} {key} has nothing to write: {}",
                escape(note)
            )?;
        }
        Some(note) => writeln!(out, "{bang} {marker} {key} {what} ({})", escape(note))?,
        None => writeln!(out, "{bang} {marker} {key} {what}")?,
    }
    if let Some(a) = weakening {
        writeln!(
            out,
            "      ! weakens data protection: {}",
            escape(&a.reason)
        )?;
    }
    if c.action == Action::Refused {
        writeln!(out, "      {}", escape(&super::refusal_reason(c)))?;
    }
    if let Some(dry) = &c.data {
        if c.action != Action::Create || !dry.creating.is_empty() {
            writeln!(
                out,
                "      server dry run: {} creating, {} updating, {} deleting, {} unchanged{}",
                dry.creating.len(),
                dry.updating.len(),
                dry.deleting.len(),
                dry.no_change.len(),
                if dry.tags_updated {
                    ", tags updated"
                } else {
                    ""
                }
            )?;
        }
        for n in &dry.creating {
            writeln!(out, "      + data source {}", quote(n))?;
        }
        for n in &dry.updating {
            writeln!(out, "      ~ data source {}", quote(n))?;
        }
        for n in &dry.deleting {
            writeln!(
                out,
                "      - data source {} (deleted or disabled, per options.hardDelete)",
                quote(n)
            )?;
        }
    }
    if c.action == Action::Create {
        for f in &c.fields {
            let label = format!("{} = ", escape(&f.path));
            created(&label, f.after.as_ref(), 6, "", out)?;
        }
    } else {
        for f in &c.fields {
            field(f, out)?;
        }
    }
    writeln!(out)
}

/// One value of a created object as `terraform plan` shows it (issue 14): a scalar on
/// its line, an object or array as a nested block, one field or item per line, closed
/// under its label. Keys and values are escaped; secrets were masked when the plan was
/// built, so a masked value prints `(sensitive)` at any depth.
fn created(
    label: &str,
    v: Option<&Value>,
    indent: usize,
    comma: &str,
    out: &mut dyn Write,
) -> io::Result<()> {
    let pad = " ".repeat(indent);
    match v {
        Some(Value::Object(map)) if !map.is_empty() => {
            writeln!(out, "{pad}+ {label}{{")?;
            for (k, v) in map {
                created(
                    &format!("{} = ", block_key(k)),
                    Some(v),
                    indent + 4,
                    "",
                    out,
                )?;
            }
            writeln!(out, "{pad}  }}{comma}")
        }
        Some(Value::Array(items)) if !items.is_empty() => {
            writeln!(out, "{pad}+ {label}[")?;
            for v in items {
                created("", Some(v), indent + 4, ",", out)?;
            }
            writeln!(out, "{pad}  ]{comma}")
        }
        v => writeln!(out, "{pad}+ {label}{}{comma}", value(v)),
    }
}

/// An object key inside a block: bare when it reads as an identifier, else quoted.
fn block_key(k: &str) -> String {
    if !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        k.to_string()
    } else {
        quote(k)
    }
}

fn field(f: &FieldChange, out: &mut dyn Write) -> io::Result<()> {
    if let Some(note) = &f.note {
        let marker = if note == super::secrets::CANNOT_COMPARE {
            "?"
        } else {
            "~"
        };
        return writeln!(
            out,
            "      {marker} {}: ({})",
            escape(&f.path),
            escape(note)
        );
    }
    match (&f.before, &f.after) {
        (None, Some(a)) => writeln!(out, "      + {}: {}", escape(&f.path), value(Some(a))),
        (Some(b), None) => writeln!(
            out,
            "      - {}: {} -> (default)",
            escape(&f.path),
            value(Some(b))
        ),
        (Some(Value::String(b)), Some(Value::String(a)))
            if !f.sensitive && (b.contains('\n') || a.contains('\n')) =>
        {
            writeln!(out, "      ~ {}:", escape(&f.path))?;
            for ch in TextDiff::from_lines(b.as_str(), a.as_str()).iter_all_changes() {
                let sign = match ch.tag() {
                    ChangeTag::Delete => "-",
                    ChangeTag::Insert => "+",
                    ChangeTag::Equal => " ",
                };
                write!(out, "          {sign} {}", escape_lines(ch.value()))?;
                if ch.missing_newline() {
                    writeln!(out)?;
                }
            }
            Ok(())
        }
        (b, a) => writeln!(
            out,
            "      ~ {}: {} -> {}",
            escape(&f.path),
            value(b.as_ref()),
            value(a.as_ref())
        ),
    }
}

fn value(v: Option<&Value>) -> String {
    match v {
        None => "(default)".to_string(),
        Some(Value::String(s)) if s == crate::redact::MASK => s.clone(),
        // JSON escapes C0 controls; DEL, C1 and bidirectional controls are left to escape.
        Some(v) => escape(&serde_json::to_string(v).unwrap_or_default()).into_owned(),
    }
}

fn quote(s: &str) -> String {
    escape(&serde_json::to_string(s).unwrap_or_default()).into_owned()
}

/// One change of the JSON plan: the change itself, its risk and the reason, and whether
/// it is held for approval.
#[derive(Serialize)]
struct JsonChange<'a> {
    #[serde(flatten)]
    change: &'a Change,
    risk: Risk,
    risk_reason: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    held: bool,
}

#[derive(Serialize)]
struct JsonPlan<'a> {
    format_version: u32,
    origin: &'a str,
    revision: &'a str,
    #[serde(skip_serializing_if = "PlanScope::is_plain_full")]
    scope: &'a PlanScope,
    has_changes: bool,
    summary: Summary,
    changes: Vec<JsonChange<'a>>,
}

/// Writes the plan as one JSON document (schema in README, `format_version` 1).
///
/// # Errors
/// Only I/O errors of `out`.
pub fn json(plan: &Plan, out: &mut dyn Write) -> io::Result<()> {
    let doc = JsonPlan {
        format_version: JSON_FORMAT_VERSION,
        origin: &plan.origin,
        revision: &plan.revision,
        scope: &plan.scope,
        has_changes: plan.has_changes(),
        summary: plan.summary(),
        changes: plan
            .changes
            .iter()
            .map(|c| {
                let Assessment { risk, reason } = c.risk();
                JsonChange {
                    change: c,
                    risk,
                    risk_reason: reason,
                    held: plan.held_of(c).is_some(),
                }
            })
            .collect(),
    };
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::object::{Kind, ObjectKey};
    use serde_json::json;

    fn plan() -> Plan {
        Plan {
            origin: "repo".into(),
            revision: "0123456789abcdef0123456789abcdef01234567".into(),
            changes: vec![
                Change {
                    key: ObjectKey::new(Kind::Purpose, "Marketing"),
                    action: Action::Create,
                    fields: vec![FieldChange {
                        path: "name".into(),
                        before: None,
                        after: Some(json!("Marketing")),
                        sensitive: false,
                        note: None,
                    }],
                    data: None,
                    id: None,
                    note: None,
                    moved_from: None,
                },
                Change {
                    key: ObjectKey::new(Kind::Policy, "mask"),
                    action: Action::Update,
                    fields: vec![FieldChange {
                        path: "description".into(),
                        before: Some(json!("a\nb\n")),
                        after: Some(json!("a\nc\n")),
                        sensitive: false,
                        note: None,
                    }],
                    data: None,
                    id: Some(3),
                    note: None,
                    moved_from: None,
                },
            ],
            held: Vec::new(),
            scope: Default::default(),
        }
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
        let p = Plan {
            origin: "o".into(),
            revision: "r".into(),
            changes: vec![Change {
                key: ObjectKey::new(Kind::Policy, "mask"),
                action: Action::Create,
                fields: vec![
                    FieldChange {
                        path: "actions".into(),
                        before: None,
                        after: Some(json!([{
                            "rules": [{"type": "Masking", "config": {"fields": []}}],
                            "odd key\u{1b}": {"x": "a\u{1b}]0;t\u{7}", "password": crate::redact::MASK},
                        }])),
                        sensitive: false,
                        note: None,
                    },
                    FieldChange {
                        path: "token".into(),
                        before: None,
                        after: Some(json!(crate::redact::MASK)),
                        sensitive: true,
                        note: None,
                    },
                    FieldChange {
                        path: "tags".into(),
                        before: None,
                        after: Some(json!({})),
                        sensitive: false,
                        note: None,
                    },
                ],
                data: None,
                id: None,
                note: None,
                moved_from: None,
            }],
            held: Vec::new(),
            scope: Default::default(),
        };
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
        let p = Plan {
            origin: "o".into(),
            revision: "dir:abc".into(),
            changes: vec![],
            held: Vec::new(),
            scope: Default::default(),
        };
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
            s.contains(
                "```diff\n+ purpose/Marketing will be created\n+     name = \"Marketing\"\n"
            ),
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
        for i in 0..5_000 {
            p.changes.push(Change {
                key: ObjectKey::new(Kind::Purpose, format!("Purpose {i}")),
                action: Action::Create,
                fields: vec![FieldChange {
                    path: "description".into(),
                    before: None,
                    after: Some(json!("x".repeat(40))),
                    sensitive: false,
                    note: None,
                }],
                data: None,
                id: None,
                note: None,
                moved_from: None,
            });
        }
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
        let f = |path: &str, before: Option<Value>, after: Option<Value>| FieldChange {
            path: path.into(),
            before,
            after,
            sensitive: false,
            note: None,
        };
        let c = |kind, name: &str, action, fields| Change {
            key: ObjectKey::new(kind, name),
            action,
            fields,
            data: None,
            id: Some(1),
            note: None,
            moved_from: None,
        };
        Plan {
            origin: "repo".into(),
            revision: "dir:abc".into(),
            changes: vec![
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
            held: Vec::new(),
            scope: Default::default(),
        }
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
}
