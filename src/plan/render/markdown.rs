//! The Markdown plan, for a pull-request comment: the summary line, the changes that
//! weaken data protection on their own (first), then one collapsible section per kind.
//! Every value passes through [`escape`], inside code blocks, so no value from a
//! repository or a server becomes Markdown or HTML.

use std::io::{self, Write};

use super::{change, closing_line, prunable, short_rev};
use crate::plan::comment::{self, Section};
use crate::plan::{Action, Change, Plan};
use crate::terminal::escape;

/// Writes the plan as Markdown for a pull-request comment: the summary line first, then
/// the changes that weaken data protection on their own, then one collapsible section
/// per kind holding that kind's changes as a `diff` block with each marker in column
/// one. At most [`crate::plan::comment::MAX_COMMENT_CHARS`]: a larger plan is cut per
/// section (the weakening one included), with a note, its counts kept (see
/// [`crate::plan::comment`]).
///
/// # Errors
/// Only I/O errors of `out`.
pub fn markdown(plan: &Plan, out: &mut dyn Write) -> io::Result<()> {
    let s = plan.summary();
    let mut header = String::new();
    if plan.has_changes() || s.refused > 0 {
        header.push_str(&format!("**{}**\n", closing_line(&s)));
    } else if s.prunable > 0 {
        header.push_str(&format!(
            "**No changes.** Immuta matches the source, except {}.\n",
            prunable(s.prunable)
        ));
    } else {
        header.push_str("**No changes.** Immuta matches the source.\n");
    }
    header.push_str(&format!(
        "\nSource `{}` at `{}`.\n",
        escape(&plan.origin).replace('`', "'"),
        escape(short_rev(&plan.revision))
    ));
    header.push_str(&format!(
        "{}\n",
        escape(&plan.scope.header()).replace('`', "'")
    ));
    let mut sections = Vec::new();
    sections.extend(weakening_section(plan));
    for &kind in crate::object::Kind::ALL {
        let shown: Vec<&Change> = plan
            .changes
            .iter()
            .filter(|c| c.key.kind == kind && c.action != Action::NoOp)
            .collect();
        if shown.is_empty() {
            continue;
        }
        let count = |a: Action| shown.iter().filter(|c| c.action == a).count();
        let destroy: usize = shown.iter().map(|c| c.destroys()).sum();
        let mut parts = Vec::new();
        for (n, word) in [
            (count(Action::Create), "to add"),
            (count(Action::Update), "to change"),
            (destroy, "to destroy"),
            (count(Action::Refused), "refused"),
            (count(Action::Unmanaged), "unmanaged"),
        ] {
            if n > 0 {
                parts.push(format!("{n} {word}"));
            }
        }
        let mut lines = Vec::new();
        for c in shown {
            let mut buf = Vec::new();
            change(plan, c, &mut buf)?;
            // Text lines start with two spaces (or `!` and a space for a change that
            // weakens data protection), then the marker. Column one holds one marker: the
            // change's; a weakening change is named in its own section above and by the
            // `! weakens data protection` line under it.
            for line in String::from_utf8_lossy(&buf)
                .lines()
                .filter(|l| !l.is_empty())
            {
                let line = line
                    .strip_prefix("  ")
                    .or_else(|| line.strip_prefix("! "))
                    .unwrap_or(line);
                lines.push(comment::diff_line(line));
            }
        }
        sections.push(Section {
            open: format!(
                "\n<details><summary><b>{kind}</b>: {}</summary>\n\n```diff\n",
                parts.join(", ")
            ),
            lines,
            close: "```\n\n</details>\n".into(),
        });
    }
    out.write_all(comment::fit(&header, &sections, comment::MAX_COMMENT_CHARS).as_bytes())
}

/// The weakening changes, first and on their own, so a reviewer sees them before the
/// rest (issue 16). One line each: key, action, reason; escaped, in a code block so no
/// value from a repository can become Markdown or HTML. A section like the others when
/// the comment is cut to size.
fn weakening_section(plan: &Plan) -> Option<Section> {
    let weakening = plan.weakening();
    if weakening.is_empty() {
        return None;
    }
    let lines = weakening
        .iter()
        .map(|(c, a)| {
            let held = if plan.held_of(c).is_some() {
                " HELD for approval"
            } else {
                ""
            };
            format!(
                "! {} ({}){held}: {}",
                escape(&c.key.to_string()),
                action_word(c.action),
                escape(&a.reason)
            )
            .replace("```", "'''")
        })
        .collect();
    Some(Section {
        open: "\n### Changes that weaken data protection\n\n```text\n".into(),
        lines,
        close: "```\n".into(),
    })
}

fn action_word(a: Action) -> &'static str {
    match a {
        Action::Create => "create",
        Action::Update => "update",
        Action::Delete => "delete",
        Action::NoOp => "no-op",
        Action::Unmanaged => "unmanaged",
        Action::Refused => "refused",
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::risky;
    use super::*;

    #[test]
    fn weakening_changes_come_first_in_their_own_section() {
        let mut buf = Vec::new();
        markdown(&risky(), &mut buf).unwrap();
        let s = String::from_utf8(buf).unwrap();
        assert!(
            s.starts_with(
                "**Plan: 1 to add, 3 to change, 1 to destroy. 2 changes weaken data protection.**"
            ),
            "{s}"
        );
        let section = s.find("### Changes that weaken data protection").unwrap();
        let first_kind = s.find("<details>").unwrap();
        assert!(section < first_kind, "{s}");
        assert!(
            s.contains("```text\n! policy/mask-pii (update): rule 1 (Masking): masking"),
            "{s}"
        );
        assert!(s.contains("\n! policy/old (delete): policy deleted"), "{s}");
        assert!(!s.contains('\u{1b}'), "{s}");
        assert!(!s.contains("purpose/Fraud (update)"), "{s}");
        // In the diff blocks column one holds the change's marker; the reason follows.
        assert!(
            s.contains("\n! policy/mask-pii will be updated in place\n!     weakens data protection: rule 1 (Masking)"),
            "{s}"
        );
        assert!(!s.contains("\n! ~ "), "{s}");
    }

    #[test]
    fn a_huge_plan_keeps_the_weakening_section_first_and_fits_one_comment() {
        use crate::object::{Kind, ObjectKey};
        use crate::plan::FieldChange;
        let mut p = risky();
        for i in 0..5_000 {
            p.changes.push(Change {
                key: ObjectKey::new(Kind::Purpose, format!("Purpose {i}")),
                action: Action::Create,
                fields: vec![FieldChange {
                    path: "description".into(),
                    before: None,
                    after: Some(serde_json::json!("x".repeat(40))),
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
        assert!(s.len() <= comment::MAX_COMMENT_CHARS, "{}", s.len());
        let section = s.find("### Changes that weaken data protection").unwrap();
        assert!(section < s.find("<details>").unwrap());
        // The small weakening section is whole; the large purpose section is cut.
        assert!(
            s.contains("```text\n! policy/mask-pii (update): rule 1 (Masking): masking"),
            "{}",
            &s[..2000]
        );
        assert!(s.contains("\n! policy/old (delete): policy deleted"));
        assert!(s.contains("lines of this section are not shown"));
    }
}
