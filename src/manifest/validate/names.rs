//! Manifest stage, validation of names across documents: the longest key or name Immuta
//! is sent, and purposes that two files declare under one full name.
//!
//! Input: templated [`Document`]s (one at a time for lengths; every purpose of the
//! revision for the hierarchy). Output: [`Diagnostic`]s. Never changes a body.
//!
//! Immuta holds one purpose per full, dot-separated name, and V2 writes sub-purposes
//! fully qualified (`Purpose Hierarchy.Child 1`, seeds/000:751-760). A top-level purpose
//! `Clinical Research.Oncology` and the sub-purpose `Clinical Research.Oncology` of
//! `Clinical Research` are therefore the same purpose: both files validate on their
//! own, and every apply then fails with 409 (issue 11). The collision is found here,
//! naming both places.

use std::collections::BTreeMap;

use serde_json::Value;

use super::super::parse::{push_child, push_index, Document};
use super::super::{Diagnostic, Severity, Span};
use crate::limits::MAX_NAME_CHARS;
use crate::object::Kind;

/// The names of a document that must fit [`MAX_NAME_CHARS`]: its identity, its top-level
/// `name`, and its sub-purposes' names, with their JSON pointers.
fn names(doc: &Document) -> Vec<(String, &str)> {
    let mut out = Vec::new();
    for field in [doc.kind.identity_field(), "name"] {
        if let Some(s) = doc.body.get(field).and_then(Value::as_str) {
            let mut p = String::new();
            push_child(&mut p, field);
            if !out.iter().any(|(q, _): &(String, &str)| *q == p) {
                out.push((p, s));
            }
        }
    }
    for (i, sub) in subpurposes(&doc.body).enumerate() {
        if let Some(s) = sub.get("name").and_then(Value::as_str) {
            out.push((sub_pointer(i), s));
        }
    }
    out
}

fn subpurposes(body: &Value) -> impl Iterator<Item = &Value> {
    body.get("subpurposes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

fn sub_pointer(i: usize) -> String {
    let mut p = String::from("/subpurposes");
    push_index(&mut p, i);
    p.push_str("/name");
    p
}

/// Errors for every key or name longer than [`MAX_NAME_CHARS`] characters.
pub(super) fn check_lengths(doc: &Document, key: Option<&str>) -> Vec<Diagnostic> {
    names(doc)
        .into_iter()
        .filter_map(|(pointer, s)| {
            let n = s.chars().count();
            (n > MAX_NAME_CHARS).then(|| Diagnostic {
                severity: Severity::Error,
                span: doc.spans.span(&pointer),
                kind: Some(doc.kind),
                key: key.map(|k| k.chars().take(MAX_NAME_CHARS).collect()),
                message: format!(
                    "{} is {n} characters long; the longest accepted is {MAX_NAME_CHARS}",
                    pointer.trim_start_matches('/').replace('/', ".")
                ),
            })
        })
        .collect()
}

/// One full purpose name a document declares: as its own `name`, or as a sub-purpose.
#[derive(Debug, Clone)]
pub struct PurposeName {
    /// The full, dot-separated name.
    pub name: String,
    /// Where it is written.
    pub span: Span,
    /// The top-level purpose that declares it as a sub-purpose, if any.
    pub parent: Option<String>,
}

/// The full purpose names `doc` declares (none unless it is a purpose).
pub fn purpose_names(doc: &Document) -> Vec<PurposeName> {
    if doc.kind != Kind::Purpose {
        return Vec::new();
    }
    let Some(top) = doc.body.get("name").and_then(Value::as_str) else {
        return Vec::new();
    };
    let mut out = vec![PurposeName {
        name: top.to_string(),
        span: doc.spans.span("/name"),
        parent: None,
    }];
    for (i, sub) in subpurposes(&doc.body).enumerate() {
        if let Some(s) = sub.get("name").and_then(Value::as_str) {
            out.push(PurposeName {
                name: s.to_string(),
                span: doc.spans.span(&sub_pointer(i)),
                parent: Some(top.to_string()),
            });
        }
    }
    out
}

/// Errors for every full purpose name declared twice where at least one declaration is
/// a sub-purpose (two top-level declarations are the ordinary duplicate-key error).
pub fn purpose_collisions(all: &[PurposeName]) -> Vec<Diagnostic> {
    let mut first: BTreeMap<&str, &PurposeName> = BTreeMap::new();
    let mut out = Vec::new();
    for p in all {
        let Some(seen) = first.get(p.name.as_str()).copied() else {
            first.insert(&p.name, p);
            continue;
        };
        if seen.parent.is_none() && p.parent.is_none() {
            continue;
        }
        let describe = |q: &PurposeName| match &q.parent {
            Some(parent) => format!("as a sub-purpose of {parent:?} at {}", q.span),
            None => format!("as a top-level purpose at {}", q.span),
        };
        out.push(Diagnostic {
            severity: Severity::Error,
            span: p.span.clone(),
            kind: Some(Kind::Purpose),
            key: Some(p.parent.clone().unwrap_or_else(|| p.name.clone())),
            message: format!(
                "purpose {:?} is declared {} and again {}: Immuta holds one purpose per full name, so every apply would fail with 409; declare it once",
                p.name,
                describe(seen),
                describe(p)
            ),
        });
    }
    out
}
