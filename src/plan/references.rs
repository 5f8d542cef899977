//! Plan stage: references. A project names purposes and data sources; each must exist in
//! Git or in the tenant when the plan is made, or the revision is refused before any
//! write (Immuta would answer the project's write with an error halfway through the
//! apply, after the objects before it were written).
//!
//! Input: the [`Reference`]s of a [`DesiredSet`] and the [`LiveSet`]. Output: one error
//! [`Diagnostic`] per unresolved name, at the line it is written on. No request of its
//! own: everything needed was read by the live stage.
//!
//! Known purposes: every purpose of Git (sub-purposes by their full name) and of the
//! tenant. Known data sources: the names the dry runs of Git's data sources answered
//! (created, updated or unchanged; not those being removed), the names the tenant's
//! projects already hold, and the tenant's other data sources (`GET /dataSource`, the
//! names no desired connection claims).

use std::collections::BTreeSet;

use serde_json::Value;

use crate::live::LiveSet;
use crate::manifest::{DesiredSet, Diagnostic, Reference, Severity};
use crate::object::Kind;

/// The purposes Git declares (sub-purposes included) and the tenant has.
fn known_purposes(desired: &DesiredSet, live: &LiveSet) -> BTreeSet<String> {
    let mut known = BTreeSet::new();
    for (key, m) in &desired.objects {
        if key.kind != Kind::Purpose {
            continue;
        }
        known.insert(key.name.clone());
        if let Some(subs) = m.body.get("subpurposes").and_then(Value::as_array) {
            known.extend(
                subs.iter()
                    .filter_map(|s| s.get("name").and_then(Value::as_str))
                    .map(str::to_string),
            );
        }
    }
    known.extend(
        live.objects
            .keys()
            .filter(|k| k.kind == Kind::Purpose)
            .map(|k| k.name.clone()),
    );
    known
}

/// The data-source names Git's dry runs, the tenant's projects and the tenant's list
/// know.
fn known_data(live: &LiveSet) -> BTreeSet<String> {
    let mut known: BTreeSet<String> = live.data_unmanaged.values().flatten().cloned().collect();
    for dry in live.data.values() {
        known.extend(dry.creating.iter().cloned());
        known.extend(dry.updating.iter().cloned());
        known.extend(dry.no_change.iter().cloned());
    }
    for (key, obj) in &live.objects {
        if key.kind != Kind::Project {
            continue;
        }
        if let Some(names) = obj
            .body
            .as_ref()
            .and_then(|b| b.get("datasources"))
            .and_then(Value::as_array)
        {
            known.extend(names.iter().filter_map(Value::as_str).map(str::to_string));
        }
    }
    known
}

/// One error per reference that nothing resolves.
pub fn check(desired: &DesiredSet, live: &LiveSet) -> Vec<Diagnostic> {
    let purposes = known_purposes(desired, live);
    let data = known_data(live);
    desired
        .references
        .iter()
        .filter(|r| match r.to {
            Kind::Purpose => !purposes.contains(&r.name),
            _ => !data.contains(&r.name),
        })
        .map(diagnostic)
        .collect()
}

fn diagnostic(r: &Reference) -> Diagnostic {
    let (what, where_) = match r.to {
        Kind::Purpose => ("purpose", "purpose/"),
        _ => ("data source", "a data/ connection"),
    };
    Diagnostic {
        severity: Severity::Error,
        span: r.span.clone(),
        kind: Some(r.from.kind),
        key: Some(r.from.name.clone()),
        message: format!(
            "{what} {:?} exists neither in Git ({where_}) nor in Immuta; nothing was written",
            r.name
        ),
    }
}
