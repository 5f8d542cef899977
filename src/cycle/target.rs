//! `--target kind/name`: plan and apply only some objects (Terraform's `-target`).
//!
//! Input: the patterns (globs over `kind/name`, e.g. `policy/mask-*`, `project/*`), then
//! per plan the complete [`Plan`], [`DesiredSet`] and [`LiveSet`]. Output: the plan cut
//! down to the targeted objects and their dependencies.
//!
//! Rules:
//! - An object is in scope when its key matches a pattern, or when an object in scope
//!   depends on it: a project on the purposes it names (their root purpose document) and
//!   on the data-source connections whose dry runs name the data sources it lists.
//!   Dependencies come from Git only; a dependency that is only in the tenant needs no
//!   write.
//! - A delete is kept only when the deleted key itself matches a pattern: nothing is
//!   ever pruned outside the targets, dependencies included.
//! - The plan is partial: every caller says so (a warning note), as Terraform does.

use std::collections::BTreeSet;

use globset::{GlobBuilder, GlobMatcher};
use serde_json::Value;

use crate::live::LiveSet;
use crate::manifest::DesiredSet;
use crate::object::{Kind, ObjectKey};
use crate::plan::{Action, Plan};

/// A malformed `--target`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--target {pattern:?}: {why}")]
pub struct Error {
    /// The pattern as given.
    pub pattern: String,
    /// What is wrong.
    pub why: String,
}

/// The `--target` patterns (none: the whole plan).
#[derive(Debug, Clone, Default)]
pub struct Targets {
    patterns: Vec<(String, GlobMatcher)>,
}

impl Targets {
    /// Parses `kind/name` patterns; `name` may hold globs (`*`, `?`, `[..]`, `{a,b}`),
    /// `kind` is one of purpose, data, policy, project, or `*`.
    ///
    /// # Errors
    /// [`Error`] for a pattern without `/`, of an unknown kind, or not a valid glob.
    pub fn parse(patterns: &[String]) -> Result<Targets, Error> {
        let mut out = Vec::new();
        for p in patterns {
            let err = |why: String| Error {
                pattern: p.clone(),
                why,
            };
            let Some((kind, name)) = p.split_once('/') else {
                return Err(err(
                    "expected kind/name, e.g. policy/mask-ssn or project/*".into()
                ));
            };
            if kind != "*" && Kind::from_dir(kind).is_none() {
                return Err(err(format!(
                    "unknown kind {kind:?} (expected purpose, data, policy, project or *)"
                )));
            }
            if name.is_empty() {
                return Err(err(
                    "the name is empty (use * for every object of a kind)".into()
                ));
            }
            let glob = GlobBuilder::new(p)
                .literal_separator(false)
                .build()
                .map_err(|e| err(e.kind().to_string()))?;
            out.push((p.clone(), glob.compile_matcher()));
        }
        Ok(Targets { patterns: out })
    }

    /// No pattern: the plan is not cut.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// The patterns as given.
    pub fn patterns(&self) -> impl Iterator<Item = &str> {
        self.patterns.iter().map(|(p, _)| p.as_str())
    }

    /// Whether a key matches a pattern itself.
    pub fn matches(&self, key: &ObjectKey) -> bool {
        let shown = key.to_string();
        self.patterns.iter().any(|(_, m)| m.is_match(&shown))
    }

    /// The patterns that match no key of the plan.
    pub fn unmatched(&self, plan: &Plan) -> Vec<String> {
        self.patterns
            .iter()
            .filter(|(_, m)| !plan.changes.iter().any(|c| m.is_match(c.key.to_string())))
            .map(|(p, _)| p.clone())
            .collect()
    }

    /// The keys in scope: every change matching a pattern, then their dependencies.
    pub fn scope(&self, plan: &Plan, desired: &DesiredSet, live: &LiveSet) -> BTreeSet<ObjectKey> {
        let mut scope: BTreeSet<ObjectKey> = plan
            .changes
            .iter()
            .filter(|c| self.matches(&c.key))
            .map(|c| c.key.clone())
            .collect();
        let roots: Vec<ObjectKey> = scope.iter().cloned().collect();
        for key in roots {
            scope.extend(dependencies(&key, desired, live));
        }
        scope
    }

    /// Cuts `plan` to the scope; a delete stays only when its key matches a pattern.
    pub fn cut(&self, plan: &mut Plan, desired: &DesiredSet, live: &LiveSet) {
        if self.is_empty() {
            return;
        }
        let scope = self.scope(plan, desired, live);
        plan.changes.retain(|c| {
            scope.contains(&c.key) && (c.action != Action::Delete || self.matches(&c.key))
        });
    }
}

/// What a desired object needs to exist first, from Git (see the module rules).
fn dependencies(key: &ObjectKey, desired: &DesiredSet, live: &LiveSet) -> Vec<ObjectKey> {
    if key.kind != Kind::Project {
        return Vec::new();
    }
    let mut out = Vec::new();
    for r in desired.references.iter().filter(|r| &r.from == key) {
        match r.to {
            Kind::Purpose => out.extend(purpose_document(&r.name, desired)),
            _ => out.extend(
                live.data
                    .iter()
                    .filter(|(k, dry)| {
                        desired.objects.contains_key(*k)
                            && [&dry.creating, &dry.updating, &dry.no_change]
                                .iter()
                                .any(|names| names.contains(&r.name))
                    })
                    .map(|(k, _)| k.clone()),
            ),
        }
    }
    out
}

/// The Git purpose document declaring `name`: itself, or the root whose `subpurposes`
/// hold it.
fn purpose_document(name: &str, desired: &DesiredSet) -> Option<ObjectKey> {
    desired
        .objects
        .iter()
        .filter(|(k, _)| k.kind == Kind::Purpose)
        .find(|(k, m)| {
            k.name == name
                || m.body
                    .get("subpurposes")
                    .and_then(Value::as_array)
                    .is_some_and(|subs| {
                        subs.iter()
                            .any(|s| s.get("name").and_then(Value::as_str) == Some(name))
                    })
        })
        .map(|(k, _)| k.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(p: &[&str]) -> Result<Targets, Error> {
        Targets::parse(&p.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn patterns_are_kind_slash_glob() {
        let ts = t(&["policy/mask-*", "*/Alpha", "data/a/b"]).unwrap();
        assert!(ts.matches(&ObjectKey::new(Kind::Policy, "mask-ssn")));
        assert!(!ts.matches(&ObjectKey::new(Kind::Policy, "row-x")));
        assert!(ts.matches(&ObjectKey::new(Kind::Purpose, "Alpha")));
        assert!(ts.matches(&ObjectKey::new(Kind::Data, "a/b")));
        assert!(!ts.matches(&ObjectKey::new(Kind::Project, "mask-ssn")));
        for bad in ["policy", "policies/x", "policy/", "policy/[x"] {
            let e = t(&[bad]).unwrap_err();
            assert_eq!(e.pattern, bad);
            assert!(e.to_string().starts_with("--target "), "{e}");
        }
    }
}
