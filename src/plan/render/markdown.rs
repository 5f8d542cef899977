//! The Markdown plan, for a pull-request comment: the summary line, the changes that
//! weaken data protection on their own (first), then one collapsible section per kind.
//! Every value passes through [`escape`], inside code blocks, so no value from a
//! repository or a server becomes Markdown or HTML.

use std::io::{self, Write};

use super::{change, closing_line, prunable, short_rev};
use crate::plan::{Action, Change, Plan};
use crate::terminal::escape;

/// Writes the plan as Markdown for a pull-request comment: the summary line first, then
/// one collapsible section per kind holding that kind's changes as a `diff` block.
///
/// # Errors
/// Only I/O errors of `out`.
pub fn markdown(plan: &Plan, out: &mut dyn Write) -> io::Result<()> {
    let s = plan.summary();
    if plan.has_changes() || s.refused > 0 {
        writeln!(out, "**{}**", closing_line(&s))?;
    } else if s.prunable > 0 {
        writeln!(
            out,
            "**No changes.** Immuta matches the source, except {}.",
            prunable(s.prunable)
        )?;
    } else {
        writeln!(out, "**No changes.** Immuta matches the source.")?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "Source `{}` at `{}`.",
        escape(&plan.origin).replace('`', "'"),
        escape(short_rev(&plan.revision))
    )?;
    weakening_section(plan, out)?;
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
        writeln!(out)?;
        writeln!(
            out,
            "<details><summary><b>{kind}</b>: {}</summary>",
            parts.join(", ")
        )?;
        writeln!(out)?;
        writeln!(out, "```diff")?;
        for c in shown {
            let mut buf = Vec::new();
            change(plan, c, &mut buf)?;
            // Lines start with two spaces then the marker; `diff` colouring wants the
            // marker in column one.
            for line in String::from_utf8_lossy(&buf)
                .lines()
                .filter(|l| !l.is_empty())
            {
                writeln!(
                    out,
                    "{}",
                    line.strip_prefix("  ")
                        .unwrap_or(line)
                        .replace("```", "'''")
                )?;
            }
        }
        writeln!(out, "```")?;
        writeln!(out)?;
        writeln!(out, "</details>")?;
    }
    Ok(())
}

/// The weakening changes, first and on their own, so a reviewer sees them before the
/// rest (issue 16). One line each: key, action, reason; escaped, in a code block so no
/// value from a repository can become Markdown or HTML.
fn weakening_section(plan: &Plan, out: &mut dyn Write) -> io::Result<()> {
    let weakening = plan.weakening();
    if weakening.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(out, "### Changes that weaken data protection")?;
    writeln!(out)?;
    writeln!(out, "```text")?;
    for (c, a) in &weakening {
        let held = if plan.held_of(c).is_some() {
            " HELD for approval"
        } else {
            ""
        };
        let line = format!(
            "! {} ({}){held}: {}",
            escape(&c.key.to_string()),
            action_word(c.action),
            escape(&a.reason)
        );
        writeln!(out, "{}", line.replace("```", "'''"))?;
    }
    writeln!(out, "```")
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
    }
}
