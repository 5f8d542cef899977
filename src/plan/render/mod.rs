//! Plan renderers: text (Terraform's shape), Markdown (`markdown.rs`) and versioned JSON
//! (`json.rs`). Each format is its own function over the same [`Plan`]; text and Markdown
//! share the walk of one change (`change.rs`). None of them ever sees a secret value, because
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

use super::{Action, Change, Plan, Summary};
use crate::terminal::escape;

mod change;
mod json;
mod markdown;
use change::change;
pub use json::json;
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

#[cfg(test)]
pub(super) mod tests;
