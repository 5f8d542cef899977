//! Risk: which planned changes weaken data protection (issue 16).
//!
//! Input: a [`Change`] of a [`Plan`]. Output: an [`Assessment`] — [`Risk::Weakens`],
//! [`Risk::Strengthens`] or [`Risk::Neutral`] with a one-line reason a governance reviewer
//! reads. [`classify`] is a pure function of the change: it looks at the old and new value
//! of every changed path, at whole-object creates and deletes, and at the data sources a
//! data-source change removes (its dry run's `deleting`). It never sees a secret: plan
//! values are masked when the plan is built.
//!
//! Rules (the README's "Changes that weaken protection" lists them for users):
//! - every changed leaf is looked at by a rule of its kind ([`policy`], [`access`]); a
//!   path no rule knows, or a move whose direction cannot be known from the plan (a
//!   free-text predicate edited, an operator that decides the direction but is not in
//!   the plan because it did not change), is [`Risk::Weakens`] with the reason
//!   "… cannot tell; treated as weakening";
//! - a change weakens when any of its findings weakens, else strengthens when any
//!   strengthens, else it is neutral (names, descriptions, documentation, ordering);
//! - only changes apply would send are classified: no-op, unmanaged and refused changes
//!   are neutral ("nothing is sent").
//!
//! [`hold`] lists the weakening changes that are not approved in [`Plan::held`]: nothing
//! is sent for them and, like a refused change, the objects that name them are skipped
//! by apply.

use serde::{Deserialize, Serialize};

use super::{Action, Change, Plan};
use crate::object::ObjectKey;

pub mod access;
pub mod approve;
pub mod policy;
pub mod view;

#[cfg(test)]
mod tests;

use view::View;

/// How a change moves data protection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Risk {
    /// Less protection: more people see more data, or see it less masked.
    Weakens,
    /// More protection: the reverse moves.
    Strengthens,
    /// No effect on protection (names, descriptions, documentation, ordering).
    Neutral,
}

impl Risk {
    /// `weakens`, `strengthens` or `neutral`.
    pub fn as_str(self) -> &'static str {
        match self {
            Risk::Weakens => "weakens",
            Risk::Strengthens => "strengthens",
            Risk::Neutral => "neutral",
        }
    }
}

/// The risk of one change and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assessment {
    /// The direction.
    pub risk: Risk,
    /// One line, in a governance reviewer's words.
    pub reason: String,
}

/// A weakening change that was not applied because nobody approved it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Held {
    /// The object.
    pub key: ObjectKey,
    /// What apply would have done.
    pub action: Action,
    /// Why it weakens protection.
    pub reason: String,
}

/// How apply reports a held change: `held for approval (weakens data protection): <reason>`.
pub const HELD_PREFIX: &str = "held for approval (weakens data protection)";

/// One observation about one changed path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Its direction.
    pub risk: Risk,
    /// Its reason.
    pub reason: String,
}

/// A weakening finding.
pub fn weakens(reason: impl Into<String>) -> Finding {
    Finding {
        risk: Risk::Weakens,
        reason: reason.into(),
    }
}

/// A strengthening finding.
pub fn strengthens(reason: impl Into<String>) -> Finding {
    Finding {
        risk: Risk::Strengthens,
        reason: reason.into(),
    }
}

/// A neutral finding.
pub fn neutral(reason: impl Into<String>) -> Finding {
    Finding {
        risk: Risk::Neutral,
        reason: reason.into(),
    }
}

/// The reason suffix of every change whose direction cannot be known.
pub const CANNOT_TELL: &str = "cannot tell; treated as weakening";

/// A change whose direction cannot be known: weakening, saying what changed.
pub fn cannot_tell(what: impl std::fmt::Display) -> Finding {
    weakens(format!("{what}: {CANNOT_TELL}"))
}

/// At most this many reasons are joined into one line; the rest are counted.
const MAX_REASONS: usize = 3;

/// Classifies one change.
pub fn classify(c: &Change) -> Assessment {
    if !c.action.is_write() {
        return Assessment {
            risk: Risk::Neutral,
            reason: "nothing is sent".into(),
        };
    }
    let view = View::new(&c.fields);
    let mut findings: Vec<Finding> = view
        .unreadable
        .iter()
        .map(|p| cannot_tell(format!("{} changed", quote(p))))
        .collect();
    findings.extend(match c.key.kind {
        crate::object::Kind::Policy => policy::classify(c, &view),
        crate::object::Kind::Project => access::project(c, &view),
        crate::object::Kind::Purpose => access::purpose(c, &view),
        crate::object::Kind::Data => access::data(c, &view),
    });
    combine(findings)
}

/// Folds findings into one assessment: weakening wins, then strengthening.
fn combine(findings: Vec<Finding>) -> Assessment {
    let risk = [Risk::Weakens, Risk::Strengthens]
        .into_iter()
        .find(|r| findings.iter().any(|f| f.risk == *r))
        .unwrap_or(Risk::Neutral);
    let mut reasons: Vec<String> = Vec::new();
    for f in findings.into_iter().filter(|f| f.risk == risk) {
        if !reasons.contains(&f.reason) {
            reasons.push(f.reason);
        }
    }
    if reasons.is_empty() {
        reasons.push("no change to data protection".into());
    }
    let more = reasons.len().saturating_sub(MAX_REASONS);
    reasons.truncate(MAX_REASONS);
    let mut reason = reasons.join("; ");
    if more > 0 {
        reason.push_str(&format!("; and {more} more"));
    }
    Assessment { risk, reason }
}

impl Change {
    /// This change's risk ([`classify`]).
    pub fn risk(&self) -> Assessment {
        classify(self)
    }

    /// True when apply would send this change and it weakens protection.
    pub fn is_weakening(&self) -> bool {
        self.action.is_write() && classify(self).risk == Risk::Weakens
    }
}

impl Plan {
    /// The changes apply would send that weaken protection, with their reasons.
    pub fn weakening(&self) -> Vec<(&Change, Assessment)> {
        self.changes
            .iter()
            .filter(|c| c.action.is_write())
            .map(|c| (c, classify(c)))
            .filter(|(_, a)| a.risk == Risk::Weakens)
            .collect()
    }
}

/// Holds every weakening change that `approved` does not let through: it is listed in
/// [`Plan::held`] (and returned), apply sends nothing for it and skips the objects that
/// name it, as it does for a refused change. Changes already held stay held.
pub fn hold(plan: &mut Plan, approved: &mut dyn FnMut(&Change, &Assessment) -> bool) -> Vec<Held> {
    let mut held = Vec::new();
    for c in &plan.changes {
        if !c.action.is_write() || plan.held.iter().any(|h| h.key == c.key) {
            continue;
        }
        let a = classify(c);
        if a.risk != Risk::Weakens || approved(c, &a) {
            continue;
        }
        held.push(Held {
            key: c.key.clone(),
            action: c.action,
            reason: a.reason,
        });
    }
    plan.held.extend(held.iter().cloned());
    held
}

/// A value for a reason line: JSON-quoted, at most 60 characters (values come from a
/// repository or a server; renderers escape them for the terminal).
pub fn quote(s: &str) -> String {
    const MAX: usize = 60;
    let cut: String = s.chars().take(MAX).collect();
    let mut q = serde_json::to_string(&cut).unwrap_or_default();
    if cut.len() < s.len() {
        q.push('…');
    }
    q
}

/// A value for a reason line: a string [`quote`]d; an attribute `{name, value}` as
/// `"name: value"`; a typed item (`{type: tags, tag: PII}`) as `tags tag="PII"`; anything
/// else as compact JSON, cut like [`quote`].
pub fn show(v: &serde_json::Value) -> String {
    use serde_json::Value;
    match v {
        Value::String(s) => quote(s),
        Value::Object(m) => match (m.get("name"), m.get("value"), m.get("type")) {
            (Some(Value::String(n)), Some(Value::String(x)), _) => quote(&format!("{n}: {x}")),
            (_, _, Some(Value::String(t))) => {
                let mut parts = vec![quote(t).trim_matches('"').to_string()];
                for (k, x) in m.iter().filter(|(k, _)| k.as_str() != "type") {
                    parts.push(format!("{}={}", quote(k).trim_matches('"'), show(x)));
                }
                parts.join(" ")
            }
            _ => compact(v),
        },
        other => compact(other),
    }
}

fn compact(v: &serde_json::Value) -> String {
    const MAX: usize = 60;
    let s = v.to_string();
    let mut cut: String = s.chars().take(MAX).collect();
    if cut.len() < s.len() {
        cut.push('…');
    }
    cut
}

/// `"a", "b"` for a list of values.
pub fn show_all(vs: &[serde_json::Value]) -> String {
    vs.iter().map(show).collect::<Vec<_>>().join(", ")
}
