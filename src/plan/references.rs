//! Plan stage: references. A project names purposes and data sources; each must exist in
//! Git or in the tenant when the plan is made, or the revision is refused before any
//! write (Immuta would answer the project's write with an error halfway through the
//! apply, after the objects before it were written).
//!
//! Input: the [`Reference`]s of a [`DesiredSet`], the [`LiveSet`], and the names of the
//! tenant's data sources when any name is still unresolved. Output: one error
//! [`Diagnostic`] per unresolved name, at the line it is written on.
//!
//! Known purposes: every purpose of Git (sub-purposes by their full name) and of the
//! tenant. Known data sources: the names the dry runs of Git's data sources answered
//! (created, updated or unchanged; not those being removed), the names the tenant's
//! projects already hold, and the tenant's data-source list, read only when a name is
//! still missing after the first two ([`unresolved_data`]).

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

/// The data-source names known without another read: Git's dry runs and the tenant's
/// projects.
fn known_data(live: &LiveSet) -> BTreeSet<String> {
    let mut known = BTreeSet::new();
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

/// The data-source names referred to that neither Git's dry runs nor the tenant's
/// projects know: only these need the tenant's data-source list.
pub fn unresolved_data(desired: &DesiredSet, live: &LiveSet) -> BTreeSet<String> {
    let known = known_data(live);
    desired
        .references
        .iter()
        .filter(|r| r.to == Kind::Data && !known.contains(&r.name))
        .map(|r| r.name.clone())
        .collect()
}

/// One error per reference that nothing resolves; `tenant_data` holds the names of the
/// tenant's data sources (empty when they were not needed).
pub fn check(
    desired: &DesiredSet,
    live: &LiveSet,
    tenant_data: &BTreeSet<String>,
) -> Vec<Diagnostic> {
    let purposes = known_purposes(desired, live);
    let data = known_data(live);
    desired
        .references
        .iter()
        .filter(|r| match r.to {
            Kind::Purpose => !purposes.contains(&r.name),
            _ => !data.contains(&r.name) && !tenant_data.contains(&r.name),
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
