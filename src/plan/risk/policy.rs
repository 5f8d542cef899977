//! Risk rules for global policies: data policies (masking, minimization, purpose, time and
//! row restrictions), the scope of a policy (circumstances, staged) and subscription
//! policies (through [`super::access::subscription`]).
//!
//! The masking order, most protective first (the seeds document the types, 000:8787-9010,
//! but rank none of them; this order is this tool's, stated in the README):
//!
//! | rank | types | why |
//! |---|---|---|
//! | 5 | `Null`, `Constant` | nobody sees any part of the value |
//! | 4 | `Hash`, `Regular Expression` | a token or a partly replaced value |
//! | 3 | `Reversible` | hidden, but can be unmasked |
//! | 2 | `Format Preserving Masking` | reversible, and the format shows |
//! | 1 | `K-Anonymization`, `Grouping`, `Randomized Response` | values are shown, generalised, suppressed when rare or randomly replaced |
//! | 0 | no masking | |
//!
//! Moving between ranks weakens or strengthens. Within a rank, `Null` ↔ `Constant` is
//! neutral (both withhold the value); `Hash` ↔ `Regular Expression` and moves within
//! rank 1 cannot be told (a regular expression may reveal most of a value; the
//! statistical types protect in different ways). A type outside the table cannot be
//! told either.
//!
//! Input: a policy [`Change`] read through a [`View`]. Output: findings. Pure.

use serde_json::Value;

use super::access::{self, ListRule};
use super::view::{join, Seen, Seg, Side, View};
use super::{cannot_tell, neutral, quote, show, strengthens, weakens, Finding, Risk};
use crate::plan::{Action, Change};

/// The rank of a masking type in the order above (`None`: not placed).
pub fn masking_rank(t: &str) -> Option<u8> {
    Some(match t {
        "Null" | "Constant" => 5,
        "Hash" | "Regular Expression" => 4,
        "Reversible" => 3,
        "Format Preserving Masking" => 2,
        "K-Anonymization" | "Grouping" | "Randomized Response" => 1,
        _ => return None,
    })
}

/// Whether the policy is a data or a subscription policy, as far as the plan shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PolicyType {
    Data,
    Subscription,
    Unknown,
}

fn policy_type(view: &View, leaves: &[Vec<Seg>]) -> PolicyType {
    for side in [Side::After, Side::Before] {
        match view.at(side, &join(&[], "type")).known_str() {
            Some(Some("data")) => return PolicyType::Data,
            Some(Some("subscription")) => return PolicyType::Subscription,
            _ => {}
        }
    }
    // `actions` is an array in a data policy and an object in a subscription policy.
    for l in leaves {
        match (l.first().map(Seg::shape), l.get(1)) {
            (Some("actions"), Some(Seg::Index(_))) => return PolicyType::Data,
            (Some("actions"), Some(Seg::Key(_))) => return PolicyType::Subscription,
            _ => {}
        }
    }
    PolicyType::Unknown
}

/// Findings for one policy change.
pub fn classify(c: &Change, view: &View) -> Vec<Finding> {
    let leaves = view.leaves();
    let ty = policy_type(view, &leaves);
    match c.action {
        Action::Delete => return vec![weakens("policy deleted: the protection it gives ends")],
        Action::Create => return created(view, ty),
        _ => {}
    }
    leaves.iter().flat_map(|l| leaf(view, ty, l)).collect()
}

fn created(view: &View, ty: PolicyType) -> Vec<Finding> {
    let staged = view.at(Side::After, &join(&[], "staged")).value() == Some(&Value::Bool(true));
    if staged {
        return vec![neutral(
            "new policy is staged: it applies to no data source yet",
        )];
    }
    match ty {
        PolicyType::Data => vec![strengthens("new data policy protects the data it matches")],
        PolicyType::Subscription => {
            let anyone = view.at(Side::After, &join(&[], "actions.type")).known_str()
                == Some(Some("anyone"));
            if anyone {
                vec![weakens("new subscription policy lets anyone subscribe")]
            } else {
                vec![cannot_tell(
                    "new subscription policy grants access to the data sources it matches",
                )]
            }
        }
        PolicyType::Unknown => vec![cannot_tell("new policy of unknown type")],
    }
}

fn leaf(view: &View, ty: PolicyType, l: &[Seg]) -> Vec<Finding> {
    let shape: Vec<&str> = l.iter().map(Seg::shape).collect();
    match shape.as_slice() {
        ["name"] => vec![neutral("name changed")],
        ["description"] | ["actions", "[]", "description"] => {
            vec![neutral("description changed")]
        }
        ["certification", ..] => vec![neutral("certification text changed")],
        ["staged"] => vec![staged(view)],
        ["type"] => vec![cannot_tell("policy type changed")],
        ["circumstances", ..] | ["circumstanceOperator"] => scope(view, ty),
        ["ownerRestrictions", ..] => vec![cannot_tell(
            "owner restrictions changed (which data sources the policy covers)",
        )],
        ["actions", "[]", "rules", "[]", ..] => match (l.get(1), l.get(3)) {
            (Some(Seg::Index(a)), Some(Seg::Index(r))) => rule(view, *a, *r, l),
            _ => vec![cannot_tell("rule changed")],
        },
        ["actions", "[]", ..] => vec![cannot_tell("rule block changed")],
        ["actions", ..] if ty != PolicyType::Data => {
            access::subscription(view, &join(&[], "actions"), false, l)
        }
        _ => vec![cannot_tell(format!("{} changed", quote(&display(l))))],
    }
}

fn staged(view: &View) -> Finding {
    let p = join(&[], "staged");
    let on = |s| view.at(s, &p).value() == Some(&Value::Bool(true));
    match (on(Side::Before), on(Side::After)) {
        (false, true) => weakens("policy set to staged: it stops applying"),
        (true, false) => strengthens("policy no longer staged: it applies again"),
        _ => neutral("staged unchanged"),
    }
}

/// Circumstances decide which data sources a policy covers: for a data policy, covering
/// less weakens; for a subscription policy the direction cannot be told.
fn scope(view: &View, ty: PolicyType) -> Vec<Finding> {
    if ty != PolicyType::Data {
        return vec![cannot_tell(
            "circumstances changed (which data sources the policy governs)",
        )];
    }
    let list = join(&[], "circumstances");
    if view.at(Side::Before, &list).is_absent() || view.at(Side::After, &list).is_absent() {
        // Without circumstances a policy covers every data source (002:634-637).
        return vec![cannot_tell("circumstances added or removed as a whole")];
    }
    let rule = ListRule {
        list,
        op: join(&[], "circumstanceOperator"),
        container: Vec::new(),
        noun: "circumstance",
        added_when_any: Risk::Strengthens,
        context: "the policy covers",
    };
    let mut out = access::list_rule(view, &rule);
    if let Some(f) = access::operator_move(view, &rule.op, "circumstance operator", Risk::Weakens) {
        out.push(f);
    }
    out
}

fn rule_label(view: &View, a: usize, r: usize, rule: &[Seg]) -> String {
    let masking = [Side::After, Side::Before]
        .into_iter()
        .any(|s| view.at(s, &join(rule, "config.maskingConfig")) != Seen::Unchanged);
    let ty = [Side::After, Side::Before]
        .into_iter()
        .find_map(|s| view.at(s, &join(rule, "type")).known_str().flatten())
        // Only a masking rule has a masking configuration (000:8740-8758).
        .or(masking.then_some("Masking"));
    let n = if a == 0 {
        format!("rule {}", r + 1)
    } else {
        format!("block {} rule {}", a + 1, r + 1)
    };
    match ty {
        Some(t) => format!("{n} ({})", quote(t).trim_matches('"')),
        None => n,
    }
}

fn rule(view: &View, a: usize, r: usize, l: &[Seg]) -> Vec<Finding> {
    let rule = l.get(..4).unwrap_or_default().to_vec();
    let label = rule_label(view, a, r, &rule);
    let (before, after) = (view.at(Side::Before, &rule), view.at(Side::After, &rule));
    if before.is_present() && after.is_absent() {
        return vec![weakens(format!("{label} removed"))];
    }
    if before.is_absent() && after.is_present() {
        return vec![strengthens(format!("{label} added"))];
    }
    let rest: Vec<&str> = l
        .get(4..)
        .unwrap_or_default()
        .iter()
        .map(Seg::shape)
        .collect();
    let field = |more: &str| join(&rule, more);
    match rest.as_slice() {
        ["type"] => vec![cannot_tell(format!("{label}: rule type changed"))],
        ["exceptions", list, ..] if matches!(*list, "groups" | "attributes" | "purposes") => {
            access::list_rule(
                view,
                &ListRule {
                    list: field(&format!("exceptions.{list}")),
                    op: field("exceptions.operator"),
                    container: field("exceptions"),
                    noun: singular(list),
                    added_when_any: Risk::Weakens,
                    context: &format!("exceptions of {label}"),
                },
            )
        }
        ["exceptions", "operator"] => access::operator_move(
            view,
            &field("exceptions.operator"),
            &format!("{label}: exceptions operator"),
            Risk::Strengthens,
        )
        .into_iter()
        .collect(),
        ["inclusions", ..] => vec![cannot_tell(format!(
            "inclusions of {label} changed (the documentation does not say what they include)"
        ))],
        ["config", "maskingConfig", "type"] => vec![masking_type(view, &field(""), &label)],
        ["config", "maskingConfig", param] => vec![masking_param(view, &rule, param, &label)],
        ["config", "fields", ..] => {
            let d = view.list(&field("config.fields"));
            access::list_findings(
                &d,
                &format!("columns masked by {label}"),
                "selector",
                Risk::Strengthens,
            )
        }
        ["config", "conditionalPredicate"] => vec![presence(
            view,
            &field("config.conditionalPredicate"),
            &format!("{label}: masking made conditional (masks fewer rows)"),
            &format!("{label}: masking no longer conditional"),
            &format!("{label}: masking condition changed"),
        )],
        ["config", "percent"] => vec![number_move(
            view,
            &field("config.percent"),
            &format!("{label}: minimization percent"),
            Risk::Weakens,
        )],
        ["config", "purposes", ..] => access::list_rule(
            view,
            &ListRule {
                list: field("config.purposes"),
                op: field("config.operator"),
                container: field("config"),
                noun: "purpose",
                added_when_any: Risk::Weakens,
                context: &format!("purposes that unlock {label}"),
            },
        ),
        ["config", "predicate"] => vec![presence(
            view,
            &field("config.predicate"),
            &format!("{label}: row restriction predicate added"),
            &format!("{label}: row restriction predicate removed"),
            &format!("{label}: row restriction predicate changed"),
        )
        .flip()],
        _ => vec![cannot_tell(format!(
            "{label}: {} changed",
            quote(&display(l.get(4..).unwrap_or_default()))
        ))],
    }
}

fn singular(list: &str) -> &'static str {
    match list {
        "groups" => "group",
        "attributes" => "attribute",
        _ => "purpose",
    }
}

fn masking_type(view: &View, rule: &[Seg], label: &str) -> Finding {
    let p = join(rule, "config.maskingConfig.type");
    let b = view.at(Side::Before, &p).known_str().flatten();
    let a = view.at(Side::After, &p).known_str().flatten();
    let (Some(b), Some(a)) = (b, a) else {
        return cannot_tell(format!("{label}: masking type changed"));
    };
    let what = format!("{label}: masking {} -> {}", quote(b), quote(a));
    match (masking_rank(b), masking_rank(a)) {
        (Some(x), Some(y)) if x > y => weakens(format!("{what} (less protective)")),
        (Some(x), Some(y)) if x < y => strengthens(format!("{what} (more protective)")),
        (Some(5), Some(5)) => neutral(format!("{what} (both withhold the value)")),
        (Some(_), Some(_)) => cannot_tell(format!("{what} (same rank)")),
        _ => cannot_tell(format!("{what} (a type outside the documented order)")),
    }
}

/// A masking parameter: compared only when the masking type did not change (a new type
/// brings its own parameters).
fn masking_param(view: &View, rule: &[Seg], param: &str, label: &str) -> Finding {
    if view
        .at(Side::After, &join(rule, "config.maskingConfig.type"))
        .value()
        .is_some()
    {
        return neutral(format!("{label}: parameters of the new masking type"));
    }
    let p = join(rule, &format!("config.maskingConfig.{param}"));
    let what = format!("{label}: masking {param}");
    // Direction in which a larger value protects more.
    let larger = match param {
        "constant" => return neutral(format!("{label}: masking constant changed")),
        "kLevel" | "replacementRatePercent" | "stddev" | "bucketSize" => Risk::Strengthens,
        "reIdProbability" => Risk::Weakens,
        "timePrecision" => return time_precision(view, &p, &what),
        _ => return cannot_tell(format!("{what} changed")),
    };
    number_move(view, &p, &what, larger)
}

fn time_precision(view: &View, p: &[Seg], what: &str) -> Finding {
    const ORDER: [&str; 6] = ["MIN", "HOUR", "DAY", "WEEK", "MONTH", "YEAR"];
    let rank = |s: Side| {
        view.at(s, p)
            .known_str()
            .flatten()
            .and_then(|v| ORDER.iter().position(|o| *o == v))
    };
    match (rank(Side::Before), rank(Side::After)) {
        (Some(b), Some(a)) if a > b => strengthens(format!("{what} coarser")),
        (Some(b), Some(a)) if a < b => weakens(format!("{what} finer")),
        _ => cannot_tell(format!("{what} changed")),
    }
}

/// A number whose increase moves protection in the direction `up` (both values known).
fn number_move(view: &View, p: &[Seg], what: &str, up: Risk) -> Finding {
    let value = |s: Side| view.at(s, p).value().filter(|v| v.is_number());
    let (Some(b), Some(a)) = (value(Side::Before), value(Side::After)) else {
        return cannot_tell(format!("{what} changed"));
    };
    let moved = format!("{what} {} -> {}", show(b), show(a));
    match (b.as_f64(), a.as_f64()) {
        (Some(x), Some(y)) if y > x => finding(up, moved),
        (Some(x), Some(y)) if y < x => finding(up.opposite(), moved),
        _ => neutral(moved),
    }
}

fn finding(r: Risk, reason: String) -> Finding {
    Finding { risk: r, reason }
}

/// A value whose presence weakens (`added`), whose removal strengthens and whose edit
/// cannot be told; [`Finding::flip`] for the reverse.
fn presence(view: &View, p: &[Seg], added: &str, removed: &str, edited: &str) -> Finding {
    let (b, a) = (view.at(Side::Before, p), view.at(Side::After, p));
    if b.is_absent() && a.is_present() {
        weakens(added)
    } else if b.is_present() && a.is_absent() {
        strengthens(removed)
    } else {
        cannot_tell(edited)
    }
}

impl Finding {
    /// Swaps weakening and strengthening (for values whose presence protects).
    fn flip(self) -> Finding {
        if self.reason.ends_with(super::CANNOT_TELL) {
            return self;
        }
        Finding {
            risk: self.risk.opposite(),
            reason: self.reason,
        }
    }
}

impl Risk {
    /// The reverse move.
    pub fn opposite(self) -> Risk {
        match self {
            Risk::Weakens => Risk::Strengthens,
            Risk::Strengthens => Risk::Weakens,
            Risk::Neutral => Risk::Neutral,
        }
    }
}

/// A path as the plan shows it.
pub fn display(p: &[Seg]) -> String {
    let mut s = String::new();
    for seg in p {
        match seg {
            Seg::Index(i) => s.push_str(&format!("[{i}]")),
            Seg::Key(k) if !s.is_empty() => {
                s.push('.');
                s.push_str(k);
            }
            Seg::Key(k) => s.push_str(k),
        }
    }
    s
}

/// True when `seen` is a fully known `true`.
pub fn is_true(seen: Seen) -> bool {
    seen.value() == Some(&Value::Bool(true))
}
