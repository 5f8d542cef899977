//! Risk rules for who gets access: subscription settings (of a subscription policy and of
//! a project), projects, purposes and data sources, plus the list rules every kind uses
//! (items of a list whose meaning depends on an `any`/`all` operator).
//!
//! Input: a [`Change`] read through a [`View`]. Output: findings. Pure.

use serde_json::Value;

use super::policy::{display, is_true};
use super::view::{join, ListDelta, Seen, Seg, Side, View};
use super::{cannot_tell, neutral, quote, show, strengthens, weakens, Finding, Risk};
use crate::plan::{Action, Change};

/// A list whose items are combined by an operator (`any` when absent): exceptions, the
/// entitlements of a subscription, circumstances, a purpose restriction's purposes.
pub struct ListRule<'a> {
    /// The list.
    pub list: Vec<Seg>,
    /// Its operator.
    pub op: Vec<Seg>,
    /// The object holding both (empty: the document itself); when it did not exist
    /// before, items are added to nothing, whatever the operator.
    pub container: Vec<Seg>,
    /// What one item is (`group`).
    pub noun: &'a str,
    /// The direction of adding an item under `any` (under `all` it is the reverse).
    pub added_when_any: Risk,
    /// Where the list is, for the reason (`exceptions of rule 1 (Masking)`).
    pub context: &'a str,
}

/// The operator at `op` when the plan shows it on both sides and it is the same; absent
/// is `any`. `None` when it changed or the plan does not show it.
fn operator(view: &View, op: &[Seg]) -> Option<String> {
    let norm = |s: Seen| {
        s.known_str()
            .map(|v| v.unwrap_or("any").to_ascii_lowercase())
    };
    let (b, a) = (
        norm(view.at(Side::Before, op)),
        norm(view.at(Side::After, op)),
    );
    match (b, a) {
        (Some(b), Some(a)) if b == a => Some(a),
        _ => None,
    }
}

/// Findings for the items added to and removed from one operator list.
pub fn list_rule(view: &View, r: &ListRule) -> Vec<Finding> {
    let d = view.list(&r.list);
    if d.edited {
        return vec![cannot_tell(format!(
            "{}: a {} changed in place",
            r.context, r.noun
        ))];
    }
    let fresh = |s: Side| !r.container.is_empty() && view.at(s, &r.container).is_absent();
    let op = operator(view, &r.op);
    let under = |any: Risk| match op.as_deref() {
        Some("any") => Some(any),
        Some("all") => Some(any.opposite()),
        _ => None,
    };
    let added = if fresh(Side::Before) {
        Some(r.added_when_any)
    } else {
        under(r.added_when_any)
    };
    let removed = if fresh(Side::After) {
        Some(r.added_when_any.opposite())
    } else {
        under(r.added_when_any.opposite())
    };
    let mut out = Vec::new();
    for (items, verb, dir, any) in [
        (&d.added, "added", added, r.added_when_any),
        (&d.removed, "removed", removed, r.added_when_any.opposite()),
    ] {
        if items.is_empty() {
            continue;
        }
        let what = format!(
            "{}: {} {} {verb}",
            r.context,
            plural(r.noun, items),
            items_text(items)
        );
        out.push(match dir {
            Some(risk) => Finding { risk, reason: what },
            // The operator is not in the plan: under `any` this move weakens, so say so;
            // a move that would strengthen under `any` may weaken under `all`.
            None if any == Risk::Weakens => weakens(what),
            None => cannot_tell(format!("{what} (the operator is not in the plan)")),
        });
    }
    out
}

/// Findings for a plain list (no operator): adding an item moves protection `added`.
pub fn list_findings(d: &ListDelta, context: &str, noun: &str, added: Risk) -> Vec<Finding> {
    if d.edited {
        return vec![cannot_tell(format!("{context}: a {noun} changed in place"))];
    }
    let mut out = Vec::new();
    for (items, verb, risk) in [
        (&d.added, "added", added),
        (&d.removed, "removed", added.opposite()),
    ] {
        if !items.is_empty() {
            out.push(Finding {
                risk,
                reason: format!(
                    "{context}: {} {} {verb}",
                    plural(noun, items),
                    items_text(items)
                ),
            });
        }
    }
    out
}

/// An `any` ↔ `all` move of the operator at `op`; `to_all` is the direction of `any` →
/// `all`. `None` when it did not change.
pub fn operator_move(view: &View, op: &[Seg], label: &str, to_all: Risk) -> Option<Finding> {
    let norm = |s: Seen| {
        s.known_str()
            .map(|v| v.unwrap_or("any").to_ascii_lowercase())
    };
    let (b, a) = (
        norm(view.at(Side::Before, op))?,
        norm(view.at(Side::After, op))?,
    );
    let what = format!("{label} {} -> {}", quote(&b), quote(&a));
    Some(match (b.as_str(), a.as_str()) {
        (x, y) if x == y => return None,
        ("any", "all") => Finding {
            risk: to_all,
            reason: what,
        },
        ("all", "any") => Finding {
            risk: to_all.opposite(),
            reason: what,
        },
        _ => cannot_tell(what),
    })
}

fn plural(noun: &str, items: &[Value]) -> String {
    if items.len() == 1 {
        noun.to_string()
    } else {
        format!("{noun}s")
    }
}

/// Items for a reason: `"a", "b"`; an attribute as `"name: value"`; at most 5.
fn items_text(items: &[Value]) -> String {
    const MAX: usize = 5;
    let mut parts: Vec<String> = items.iter().take(MAX).map(show).collect();
    if items.len() > MAX {
        parts.push(format!("and {} more", items.len() - MAX));
    }
    parts.join(", ")
}

/// A boolean whose turning on moves protection `on`.
fn toggle(view: &View, p: &[Seg], on: Risk, on_text: &str, off_text: &str) -> Finding {
    match (
        is_true(view.at(Side::Before, p)),
        is_true(view.at(Side::After, p)),
    ) {
        (false, true) => Finding {
            risk: on,
            reason: on_text.to_string(),
        },
        (true, false) => Finding {
            risk: on.opposite(),
            reason: off_text.to_string(),
        },
        _ => neutral(format!("{} unchanged", display(p))),
    }
}

/// Findings for one changed leaf `l` of subscription settings at `prefix` (a subscription
/// policy's `actions`, a project's `subscriptionPolicy`). For a project an absent
/// subscription policy is the documented default, manual (000:4560-4562).
pub fn subscription(view: &View, prefix: &[Seg], project: bool, l: &[Seg]) -> Vec<Finding> {
    let rest: Vec<&str> = l
        .get(prefix.len()..)
        .unwrap_or_default()
        .iter()
        .map(Seg::shape)
        .collect();
    let field = |more: &str| join(prefix, more);
    match rest.as_slice() {
        ["type"] => vec![subscription_type(view, &field("type"), project)],
        ["description"] => vec![neutral("subscription description changed")],
        ["automaticSubscription"] => vec![toggle(
            view,
            &field("automaticSubscription"),
            Risk::Weakens,
            "automatic subscription turned on: users who qualify are subscribed without asking",
            "automatic subscription turned off",
        )],
        ["allowDiscovery"] => vec![toggle(
            view,
            &field("allowDiscovery"),
            Risk::Weakens,
            "discovery allowed: users without access can see that the data sources exist",
            "discovery no longer allowed",
        )],
        ["shareResponsibility"] => vec![toggle(
            view,
            &field("shareResponsibility"),
            Risk::Weakens,
            "shared responsibility turned on: meeting this policy or another one is enough",
            "shared responsibility turned off",
        )],
        ["accessGrant"] => {
            let p = field("accessGrant");
            let grant = |s: Side| view.at(s, &p).known_str().map(|v| v.unwrap_or("READ"));
            match (grant(Side::Before), grant(Side::After)) {
                (Some("READ"), Some("WRITE")) => vec![weakens("write access granted")],
                (Some("WRITE"), Some("READ")) => vec![strengthens("write access withdrawn")],
                _ => vec![cannot_tell("access grant changed")],
            }
        }
        ["approvals", "[]", leaf] => {
            let item = l.get(..prefix.len() + 2).unwrap_or_default();
            let exists =
                !view.at(Side::Before, item).is_absent() && !view.at(Side::After, item).is_absent();
            match (exists, *leaf) {
                (true, "specificApproverRequired") => vec![toggle(
                    view,
                    &join(item, "specificApproverRequired"),
                    Risk::Strengthens,
                    "a specific approver is now required",
                    "a specific approver is no longer required",
                )],
                (true, _) => vec![cannot_tell("approval step changed")],
                (false, _) => approvals(view, prefix),
            }
        }
        ["approvals", ..] => approvals(view, prefix),
        ["entitlements", list @ ("groups" | "attributes"), ..] => list_rule(
            view,
            &ListRule {
                list: field(&format!("entitlements.{list}")),
                op: field("entitlements.operator"),
                container: field("entitlements"),
                noun: if *list == "groups" {
                    "group"
                } else {
                    "attribute"
                },
                added_when_any: Risk::Weakens,
                context: "who may subscribe",
            },
        ),
        ["entitlements", "operator"] => operator_move(
            view,
            &field("entitlements.operator"),
            "subscription entitlements operator",
            Risk::Strengthens,
        )
        .into_iter()
        .collect(),
        ["advanced"] => vec![cannot_tell("advanced subscription rule changed")],
        _ => vec![cannot_tell(format!("{} changed", quote(&display(l))))],
    }
}

fn approvals(view: &View, prefix: &[Seg]) -> Vec<Finding> {
    let d = view.list(&join(prefix, "approvals"));
    list_findings(
        &d,
        "subscription approvals",
        "approval step",
        Risk::Strengthens,
    )
}

/// Subscription types from closed to open: `manual` (the owner adds users), `approval`
/// and `entitlements` (not comparable), `anyone`.
fn subscription_type(view: &View, p: &[Seg], project: bool) -> Finding {
    let ty = |s: Side| match view.at(s, p).known_str() {
        Some(None) if project => Some("manual"),
        Some(v) => v,
        None => None,
    };
    let (Some(b), Some(a)) = (ty(Side::Before), ty(Side::After)) else {
        return cannot_tell("subscription type changed");
    };
    let what = format!("subscription {} -> {}", quote(b), quote(a));
    match (b, a) {
        _ if b == a => neutral(what),
        (_, "anyone") => weakens(format!("{what}: anyone may subscribe")),
        ("anyone", _) => strengthens(what),
        (_, "manual") => strengthens(what),
        ("manual", "approval" | "entitlements") => weakens(format!(
            "{what}: users may subscribe without the owner adding them"
        )),
        ("approval", "entitlements") => weakens(format!("{what}: approval removed")),
        _ => cannot_tell(what),
    }
}

/// Findings for one project change.
pub fn project(c: &Change, view: &View) -> Vec<Finding> {
    if c.action == Action::Delete {
        return vec![weakens("project deleted")];
    }
    let mut out = Vec::new();
    for l in view.leaves() {
        let shape: Vec<&str> = l.iter().map(Seg::shape).collect();
        out.extend(match shape.as_slice() {
            ["name" | "description" | "documentation" | "projectKey"] => {
                vec![neutral(format!("{} changed", shape.join(".")))]
            }
            ["tags", ..] => vec![neutral("project tags changed")],
            ["datasources", ..] => list_findings(
                &view.list(&join(&[], "datasources")),
                "project",
                "data source",
                Risk::Weakens,
            ),
            ["purposes", ..] => list_findings(
                &view.list(&join(&[], "purposes")),
                "purposes members may act under",
                "purpose",
                Risk::Weakens,
            ),
            ["allowMaskedJoins"] => vec![toggle(
                view,
                &join(&[], "allowMaskedJoins"),
                Risk::Weakens,
                "masked joins allowed: masked columns can be joined across data sources",
                "masked joins no longer allowed",
            )],
            ["equalization"] => vec![toggle(
                view,
                &join(&[], "equalization"),
                Risk::Strengthens,
                "equalization turned on: every member sees the same data",
                "equalization turned off: members see data by their own entitlements",
            )],
            ["subscriptionPolicy", ..] => {
                subscription(view, &join(&[], "subscriptionPolicy"), true, &l)
            }
            ["workspace", ..] => vec![cannot_tell("workspace changed")],
            _ => vec![cannot_tell(format!("{} changed", quote(&display(&l))))],
        });
    }
    out
}

/// Findings for one purpose change.
pub fn purpose(c: &Change, view: &View) -> Vec<Finding> {
    match c.action {
        Action::Delete => return vec![weakens("purpose deleted")],
        Action::Create => return vec![neutral("new purpose: it grants nothing by itself")],
        _ => {}
    }
    let mut out = Vec::new();
    let subs = join(&[], "subpurposes");
    for l in view.leaves() {
        let shape: Vec<&str> = l.iter().map(Seg::shape).collect();
        out.extend(match shape.as_slice() {
            ["name" | "description"] => vec![neutral(format!("{} changed", shape.join(".")))],
            ["acknowledgement"] => vec![acknowledgement(view, &l, "purpose")],
            ["kAnonNoiseReduction"] => vec![cannot_tell("k-anonymity noise reduction changed")],
            ["subpurposes", "[]", field] => {
                let item = l.get(..2).unwrap_or_default();
                let name_moved = view.at(Side::Before, &join(item, "name")) != Seen::Unchanged;
                let whole = view.at(Side::Before, item).is_absent()
                    || view.at(Side::After, item).is_absent();
                match *field {
                    _ if whole || name_moved => sub_purposes(view, &subs),
                    "description" => vec![neutral("sub-purpose description changed")],
                    "acknowledgement" => vec![acknowledgement(view, &l, "sub-purpose")],
                    _ => vec![cannot_tell(format!("{} changed", quote(&display(&l))))],
                }
            }
            ["subpurposes", ..] => sub_purposes(view, &subs),
            _ => vec![cannot_tell(format!("{} changed", quote(&display(&l))))],
        });
    }
    out
}

fn acknowledgement(view: &View, p: &[Seg], whose: &str) -> Finding {
    let (b, a) = (view.at(Side::Before, p), view.at(Side::After, p));
    if b.is_present() && a.is_absent() {
        weakens(format!(
            "{whose} acknowledgement removed: users no longer confirm it"
        ))
    } else if b.is_absent() && a.is_present() {
        strengthens(format!("{whose} acknowledgement added"))
    } else {
        neutral(format!("{whose} acknowledgement text changed"))
    }
}

/// Sub-purposes are compared by name (the plan lists them sorted, so one added shifts
/// the rest): a removed one weakens like a deleted purpose; any other move of an
/// item whose name changed at its position cannot be told.
fn sub_purposes(view: &View, list: &[Seg]) -> Vec<Finding> {
    let names = |s: Side| -> Vec<Value> {
        match view.at(s, list) {
            Seen::Full(v) => v
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|i| i.get("name").cloned())
                .collect(),
            Seen::Partial => view
                .indices(list)
                .into_iter()
                .filter_map(|i| {
                    let mut item = list.to_vec();
                    item.push(Seg::Index(i));
                    let whole = view.at(s, &item);
                    match whole {
                        Seen::Full(v) => v.and_then(|v| v.get("name")).cloned(),
                        _ => view.at(s, &join(&item, "name")).value().cloned(),
                    }
                })
                .collect(),
            Seen::Unchanged => Vec::new(),
        }
    };
    let mut d = ListDelta::default();
    let (mut before, after) = (names(Side::Before), names(Side::After));
    let mut added = Vec::new();
    for a in after {
        match before.iter().position(|b| *b == a) {
            Some(i) => {
                before.swap_remove(i);
            }
            None => added.push(a),
        }
    }
    d.added = added;
    d.removed = before;
    let mut out = Vec::new();
    if !d.removed.is_empty() {
        out.push(weakens(format!(
            "sub-purpose(s) {} removed",
            items_text(&d.removed)
        )));
    }
    if !d.added.is_empty() {
        out.push(neutral(format!(
            "sub-purpose(s) {} added",
            items_text(&d.added)
        )));
    }
    if out.is_empty() {
        out.push(cannot_tell("sub-purposes changed"));
    }
    out
}

/// Findings for one data-source change: the server's dry run says which data sources a
/// change creates, updates and deletes; field paths, when the plan has them, say how.
pub fn data(c: &Change, view: &View) -> Vec<Finding> {
    let dry = c.data.clone().unwrap_or_default();
    let mut out = Vec::new();
    if c.action == Action::Delete {
        return vec![weakens(format!(
            "data source(s) deleted: {} of them",
            c.destroys()
        ))];
    }
    if !dry.deleting.is_empty() {
        let names: Vec<Value> = dry.deleting.iter().cloned().map(Value::String).collect();
        out.push(weakens(format!(
            "{} data source(s) deleted or disabled: {}",
            names.len(),
            items_text(&names)
        )));
    }
    if c.action == Action::Create || !dry.creating.is_empty() {
        out.push(neutral(
            "new data sources registered: the global policies that match them apply",
        ));
    }
    if c.action == Action::Create {
        return out;
    }
    // Credential lines (issue 13: `(sensitive, will be sent)` or `cannot compare`) are
    // the service account Immuta connects with: they change no one's access.
    let credentials: Vec<Vec<Seg>> = c
        .fields
        .iter()
        .filter(|f| f.sensitive && f.note.is_some())
        .filter_map(|f| super::view::parse_path(&f.path))
        .collect();
    if !credentials.is_empty() {
        out.push(neutral(
            "connection credentials sent (they change no one's access)",
        ));
    }
    let leaves: Vec<Vec<Seg>> = view
        .leaves()
        .into_iter()
        .filter(|l| !credentials.iter().any(|p| l.starts_with(p)))
        .collect();
    if leaves.is_empty() && !dry.updating.is_empty() {
        let names: Vec<Value> = dry.updating.iter().cloned().map(Value::String).collect();
        out.push(cannot_tell(format!(
            "{} data source(s) updated ({}) and the dry run does not say how",
            names.len(),
            items_text(&names)
        )));
    }
    if leaves.is_empty() && dry.tags_updated {
        out.push(cannot_tell(
            "tags updated (tags decide which policies apply) and the dry run does not say which",
        ));
    }
    for l in leaves {
        let descriptive = l
            .iter()
            .any(|s| matches!(s.shape(), "description" | "documentation"));
        // Named by their first two steps (`sources[3]`, `connection.warehouse`), so one
        // changed table is one reason, not one per field.
        let head = l.get(..2.min(l.len())).unwrap_or_default();
        let added = matches!(l.first().map(Seg::shape), Some("sources"))
            && view.at(Side::Before, head).is_absent();
        out.push(if descriptive {
            neutral("description changed")
        } else if added {
            neutral("tables added to sources: new data sources registered")
        } else {
            cannot_tell(format!("{} changed", quote(&display(head))))
        });
    }
    out
}
