//! Stage 5, apply: the report. What happened to each object of one apply
//! ([`Outcome`], [`ObjectResult`], [`ApplyReport`]) and its terminal rendering, one
//! line per object and a closing summary. Keys and server messages are always escaped
//! (issue 11); nothing here sends a request.

use serde::Serialize;
use serde_json::Value;

use crate::object::ObjectKey;
use crate::plan::Action;
use crate::terminal::{escape, Escaped};

/// What happened to one object.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum Outcome {
    /// Immuta accepted the write.
    Applied {
        /// Immuta's answer (ids and names only: no payload echo).
        response: Value,
    },
    /// The write failed; the message is Immuta's, redacted.
    Failed {
        /// What went wrong.
        error: String,
    },
    /// Not sent.
    Skipped {
        /// Why.
        reason: String,
    },
    /// Not sent: the change weakens data protection and was not approved, or it waits
    /// for one that was not (it names it, or it is a delete and deletes run last).
    Held {
        /// Why.
        reason: String,
    },
}

/// The result for one object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ObjectResult {
    /// Identity.
    pub key: ObjectKey,
    /// The planned action.
    pub action: Action,
    /// What happened.
    pub outcome: Outcome,
}

/// The results of one apply, in apply order.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ApplyReport {
    /// One entry per object that had a write planned.
    pub results: Vec<ObjectResult>,
}

impl ApplyReport {
    /// True when every planned write was applied.
    pub fn is_success(&self) -> bool {
        self.results
            .iter()
            .all(|r| matches!(r.outcome, Outcome::Applied { .. }))
    }

    /// True when every planned write was applied or held for approval: nothing failed
    /// or was skipped for another reason.
    pub fn is_success_but_held(&self) -> bool {
        self.results
            .iter()
            .all(|r| matches!(r.outcome, Outcome::Applied { .. } | Outcome::Held { .. }))
    }

    /// (applied, failed, skipped); held objects are counted by [`ApplyReport::held`].
    pub fn counts(&self) -> (usize, usize, usize) {
        let mut c = (0, 0, 0);
        for r in &self.results {
            match r.outcome {
                Outcome::Applied { .. } => c.0 += 1,
                Outcome::Failed { .. } => c.1 += 1,
                Outcome::Skipped { .. } => c.2 += 1,
                Outcome::Held { .. } => {}
            }
        }
        c
    }

    /// Objects held for approval (or waiting for one that is).
    pub fn held(&self) -> usize {
        self.results
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Held { .. }))
            .count()
    }

    /// Writes one line per object and a closing summary; keys and messages are
    /// escaped for the terminal.
    ///
    /// # Errors
    /// Only I/O errors of `out`.
    pub fn render_text(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        for r in &self.results {
            r.render_line(out)?;
        }
        writeln!(out)?;
        self.render_summary(out)
    }

    /// Writes the closing summary alone (after the lines were streamed as they landed).
    ///
    /// # Errors
    /// Only I/O errors of `out`.
    pub fn render_summary(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        let (a, f, s) = self.counts();
        let h = self.held();
        let held = if h > 0 {
            format!(", {h} held for approval (not applied)")
        } else {
            String::new()
        };
        if f == 0 && s == 0 && h == 0 {
            writeln!(out, "Apply complete! {a} applied.")
        } else {
            writeln!(
                out,
                "Apply incomplete: {a} applied, {f} failed, {s} skipped (not applied){held}."
            )
        }
    }
}

impl ObjectResult {
    /// Writes the object's one line (`  ✓ purpose/x created`); the key and the message
    /// are escaped for the terminal.
    ///
    /// # Errors
    /// Only I/O errors of `out`.
    pub fn render_line(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        match &self.outcome {
            Outcome::Applied { .. } => {
                writeln!(out, "  ✓ {} {}", Escaped(&self.key), verb(self.action))
            }
            Outcome::Failed { error } => {
                writeln!(out, "  ✗ {} FAILED: {}", Escaped(&self.key), escape(error))
            }
            Outcome::Skipped { reason } => {
                writeln!(
                    out,
                    "  - {} skipped: {}",
                    Escaped(&self.key),
                    escape(reason)
                )
            }
            Outcome::Held { reason } => {
                writeln!(out, "  ! {} held: {}", Escaped(&self.key), escape(reason))
            }
        }
    }
}

fn verb(a: Action) -> &'static str {
    match a {
        Action::Create => "created",
        Action::Update => "updated",
        Action::Delete => "deleted",
        Action::NoOp | Action::Unmanaged => "unchanged",
        Action::Refused => "refused",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::Kind;
    use serde_json::json;

    /// issue 11: keys and server messages reach the terminal escaped.
    #[test]
    fn issue_11_apply_results_are_escaped() {
        let report = ApplyReport {
            results: vec![
                ObjectResult {
                    key: ObjectKey::new(Kind::Purpose, "a\u{1b}]0;t\u{7}"),
                    action: Action::Create,
                    outcome: Outcome::Applied {
                        response: json!({}),
                    },
                },
                ObjectResult {
                    key: ObjectKey::new(Kind::Policy, "b\nFORGED"),
                    action: Action::Update,
                    outcome: Outcome::Failed {
                        error: "400: bad \u{1b}[2J\r\nFORGED".into(),
                    },
                },
                ObjectResult {
                    key: ObjectKey::new(Kind::Project, "c"),
                    action: Action::Create,
                    outcome: Outcome::Skipped {
                        reason: "needs \u{9b}x".into(),
                    },
                },
            ],
        };
        let mut buf = Vec::new();
        report.render_text(&mut buf).unwrap();
        let s = String::from_utf8(buf).unwrap();
        assert!(!s.chars().any(|c| c.is_control() && c != '\n'), "{s:?}");
        assert!(!s.lines().any(|l| l.starts_with("FORGED")), "{s}");
        assert!(s.contains("purpose/a\\x1b]0;t\\x07 created"), "{s}");
        assert!(s.contains("bad \\x1b[2J\\r\\nFORGED"), "{s}");
        assert!(s.contains("needs \\u{9b}x"), "{s}");
    }

    #[test]
    fn held_results_are_reported_apart() {
        let report = ApplyReport {
            results: vec![
                ObjectResult {
                    key: ObjectKey::new(Kind::Purpose, "a"),
                    action: Action::Create,
                    outcome: Outcome::Applied {
                        response: json!({}),
                    },
                },
                ObjectResult {
                    key: ObjectKey::new(Kind::Policy, "b"),
                    action: Action::Update,
                    outcome: Outcome::Held {
                        reason: "held for approval (weakens data protection): \u{1b}x".into(),
                    },
                },
            ],
        };
        assert!(!report.is_success());
        assert!(report.is_success_but_held());
        assert_eq!((report.counts(), report.held()), ((1, 0, 0), 1));
        let mut buf = Vec::new();
        report.render_text(&mut buf).unwrap();
        let s = String::from_utf8(buf).unwrap();
        assert!(
            s.contains("  ! policy/b held: held for approval (weakens data protection): \\x1bx"),
            "{s}"
        );
        assert!(
            s.trim_end().ends_with(
                "Apply incomplete: 1 applied, 0 failed, 0 skipped (not applied), 1 held for approval (not applied)."
            ),
            "{s}"
        );
    }
}
