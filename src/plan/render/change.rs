//! One change as text, the walk both the text plan and the Markdown plan's `diff` blocks
//! are made of: the marker line, the weakening reason, the refusal, the server's dry run
//! and each field (a created object as nested blocks, an update as `before -> after`,
//! a multi-line string as a line diff). Every name, path and value passes through
//! [`escape`].

use std::io::{self, Write};

use serde_json::Value;
use similar::{ChangeTag, TextDiff};

use crate::plan::risk::Risk;
use crate::plan::{Action, Change, FieldChange, Plan};
use crate::terminal::{escape, escape_lines};

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
        Action::Unmanaged if c.note.as_deref() == Some(crate::plan::NOTE_WOULD_PRUNE) => (
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
        writeln!(out, "      {}", escape(&crate::plan::refusal_reason(c)))?;
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
        Some(note) if c.action == Action::Unmanaged && note == crate::plan::NOTE_WOULD_PRUNE => {
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
        writeln!(out, "      {}", escape(&crate::plan::refusal_reason(c)))?;
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
        let marker = if note == crate::plan::secrets::CANNOT_COMPARE {
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
