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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use crate::manifest::{load, DesiredSet, Diagnostic};
    use crate::source::{FileEntry, Snapshot};

    fn load_files(files: &[(&str, &str)]) -> Result<DesiredSet, Vec<Diagnostic>> {
        let map = files
            .iter()
            .map(|(p, c)| (p.to_string(), FileEntry::Blob(c.as_bytes().to_vec())))
            .collect();
        load(
            &Snapshot::new("test", "rev1", map),
            &BTreeMap::<String, String>::new(),
        )
    }

    fn lines(d: &[Diagnostic]) -> Vec<String> {
        d.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn issue_11_one_purpose_declared_twice_through_the_hierarchy_is_refused() {
        let parent = "name: Clinical Research\nsubpurposes:\n  - name: Clinical Research.Oncology\n  - name: Clinical Research.Cardiology\n";
        let child = "name: Clinical Research.Oncology\ndescription: top-level\n";
        type Case<'a> = (Vec<(&'a str, &'a str)>, Vec<&'a str>);
        let cases: Vec<Case<'_>> = vec![
            (
                vec![("purpose/clinical.yaml", parent), ("purpose/oncology.yaml", child)],
                vec![
                    "purpose/oncology.yaml:1:1: purpose Clinical Research.Oncology: purpose \"Clinical Research.Oncology\" is declared as a sub-purpose of \"Clinical Research\" at purpose/clinical.yaml:3:5 and again as a top-level purpose at purpose/oncology.yaml:1:1",
                ],
            ),
            (
                // The same, with the files the other way round in path order.
                vec![("purpose/a-oncology.yaml", child), ("purpose/z-clinical.yaml", parent)],
                vec![
                    "purpose/z-clinical.yaml:3:5: purpose Clinical Research: purpose \"Clinical Research.Oncology\" is declared as a top-level purpose at purpose/a-oncology.yaml:1:1 and again as a sub-purpose of \"Clinical Research\" at purpose/z-clinical.yaml:3:5",
                ],
            ),
            (
                // Two parents both list it.
                vec![
                    ("purpose/a.yaml", "name: A\nsubpurposes:\n  - name: A.X\n"),
                    ("purpose/b.yaml", "name: A\n---\nname: B\nsubpurposes:\n  - name: A.X\n"),
                ],
                vec!["as a sub-purpose of \"A\" at purpose/a.yaml:3:5 and again as a sub-purpose of \"B\" at purpose/b.yaml:5:5"],
            ),
            (
                // A purpose listing itself.
                vec![("purpose/self.yaml", "name: Self\nsubpurposes:\n  - name: Self\n")],
                vec!["purpose/self.yaml:3:5: purpose Self: purpose \"Self\" is declared as a top-level purpose"],
            ),
        ];
        for (files, wants) in cases {
            let errs = lines(&load_files(&files).unwrap_err());
            for want in wants {
                assert!(
                    errs.iter().any(|e| e.contains(want)),
                    "{files:?}\nwant {want}\n got {errs:#?}"
                );
            }
        }
        // Distinct names, and a dotted top-level purpose no parent lists, are fine.
        let ok = load_files(&[
            ("purpose/clinical.yaml", parent),
            ("purpose/other.yaml", "name: Clinical Research.Genomics\n"),
        ]);
        assert!(ok.is_ok(), "{:?}", ok.err());
    }

    #[test]
    fn issue_11_keys_and_names_longer_than_255_characters_are_refused() {
        let long = "k".repeat(256);
        let max = "k".repeat(255);
        let wide = "\u{e9}".repeat(255);
        let cases = [
            (
                format!("policyKey: {long}\nname: Mask\ntype: data\nactions: []\n"),
                "policy/p.yaml:1:1: policy ",
                "policyKey is 256 characters long; the longest accepted is 255",
            ),
            (
                format!("policyKey: p\nname: {long}\ntype: data\nactions: []\n"),
                "policy/p.yaml:2:1: policy p: ",
                "name is 256 characters long",
            ),
            (
                format!("name: P\nsubpurposes:\n  - name: P.{long}\n"),
                "purpose/p.yaml:3:5: purpose P: ",
                "subpurposes.0.name is 258 characters long",
            ),
            (
                format!("projectKey: {long}x\nname: P\n"),
                "project/p.yaml:1:1: project ",
                "projectKey is 257 characters long",
            ),
            (
                format!("connectionKey: {long}\nconnection:\n  handler: Snowflake\n"),
                "data/p.yaml:1:1: data ",
                "connectionKey is 256 characters long",
            ),
        ];
        for (text, place, message) in cases {
            let kind = match text.split(':').next().unwrap() {
                "policyKey" => "policy",
                "projectKey" => "project",
                "connectionKey" => "data",
                _ => "purpose",
            };
            let path = format!("{kind}/p.yaml");
            let errs = lines(&load_files(&[(&path, &text)]).unwrap_err());
            assert!(
                errs.iter()
                    .any(|e| e.starts_with(place) && e.contains(message)),
                "{text:.40}\nwant {place}…{message}\n got {errs:#?}"
            );
        }
        for name in [&max, &wide] {
            let set = load_files(&[("purpose/p.yaml", &format!("name: {name}\n"))]);
            assert!(set.is_ok(), "{:?}", set.err());
        }
    }
}
