//! Manifest stage, step 3: validation. Checks one templated [`Document`] against the
//! [`super::schema`] table, reads its identity, and marks its credentials
//! sensitive.
//!
//! Input: a [`Document`] after templating, the set of sensitive pointers templating found.
//! Output: the identity and every [`Diagnostic`] (errors and warnings). Validation never
//! changes the body: unmodelled fields are reported and sent unchanged. A value at a
//! sensitive pointer is never quoted in a message. The schema walk itself is
//! `checker.rs`; name lengths are `names.rs`.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::parse::{escape_token, Document};
use super::schema;
use super::{Diagnostic, Severity, Span};
use crate::object::{Kind, ObjectKey};
use crate::redact::{Redactor, MASK};
use checker::{type_name, Checker};
use suggest::hint;
pub use suggest::nearest;

/// What validation found wrong. Each variant is one message; the place is in the
/// diagnostic's span, the field in the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// The document is not a mapping.
    #[error("a manifest must be a mapping, found {0}")]
    NotAMapping(&'static str),
    /// The identity field is empty.
    #[error("{0} must not be empty")]
    EmptyIdentity(&'static str),
    /// A value of the wrong JSON type.
    #[error("{path}: expected {expected}, found {found}")]
    WrongType {
        /// Dotted path of the field.
        path: String,
        /// What the schema wants.
        expected: &'static str,
        /// What the document has.
        found: &'static str,
    },
    /// A required field is absent (or null).
    #[error("missing required field {0}")]
    Missing(String),
    /// A required field is absent, for a reason stated after it.
    #[error("missing required field {0} ({1})")]
    MissingBecause(String, String),
    /// A value outside a closed set.
    #[error("unknown value {value} for {path}; expected one of: {allowed}")]
    UnknownValue {
        /// Dotted path of the field.
        path: String,
        /// The value, quoted (or masked).
        value: String,
        /// The documented values.
        allowed: String,
    },
    /// A value outside an open set (warning).
    #[error("undocumented value {value} for {path} (documented: {allowed}); it is sent unchanged")]
    UndocumentedValue {
        /// Dotted path of the field.
        path: String,
        /// The value, quoted (or masked).
        value: String,
        /// The documented values.
        allowed: String,
    },
    /// A field the schema does not know (warning; an error under `validate --strict`).
    #[error("field {path} {UNMODELLED}{}", hint(.suggestion.as_deref()))]
    Unmodelled {
        /// Dotted path of the field.
        path: String,
        /// The one known field of that object spelled closest to it, if unique.
        suggestion: Option<&'static str>,
    },
    /// A field documented for the handler is missing (warning).
    #[error("{field} is documented as required for handler {handler} but is missing")]
    Expected {
        /// Dotted path of the field.
        field: String,
        /// The handler.
        handler: String,
    },
    /// Not exactly one of a set of alternatives.
    #[error("{path}: expected exactly one of {fields}, found {found}")]
    OneOf {
        /// Dotted path of the object.
        path: String,
        /// The alternatives.
        fields: String,
        /// How many were present (or which).
        found: String,
    },
    /// A documented field with a known wrong spelling (warning).
    #[error("{0}")]
    Note(&'static str),
    /// A key or name built from a placeholder (issue 11): an object's identity is shown
    /// in every plan a reviewer reads, so it cannot be secret.
    #[error("{0} must be written literally, not built from ${{VAR}}, {{{{EnvVar}}}} or {{{{ReadFile}}}}: keys and names are shown in every plan and apply result, and templated values are secret")]
    TemplatedName(String),
    /// A document `export` wrote without everything the object holds (the documented
    /// reads could not give it): a person must fill it in first.
    #[error("incomplete export: {0}; fill in what is missing, then delete the {INCOMPLETE_MARKER} field")]
    IncompleteExport(String),
    /// The same identity twice.
    #[error("duplicate {kind} key {name:?}: also declared at {first}")]
    Duplicate {
        /// The kind.
        kind: Kind,
        /// The identity.
        name: String,
        /// `path:line` of the first declaration.
        first: String,
    },
}

/// What every unknown-field message says after the field's path: how
/// [`Diagnostic::is_unknown_field`] tells them from other warnings.
pub const UNMODELLED: &str = "is not modelled; it is sent unchanged";
/// The top-level field `export` writes into a document it could not reconstruct
/// faithfully. Validation refuses any document holding it, at its line, so such a file is
/// never applied until a person has filled in what is missing and deleted the field.
pub const INCOMPLETE_MARKER: &str = "x-immuta-gitops-incomplete";

/// The outcome of validating one document.
#[derive(Debug, Default)]
pub struct Checked {
    /// The identity value and the span of its field, when it could be read.
    pub identity: Option<(String, Span)>,
    /// Errors and warnings, with `key` filled in when the identity is known.
    pub diagnostics: Vec<Diagnostic>,
}

/// Validates one templated document. Connection credentials are added to `sensitive` and
/// their values to `redactor` before any message is built.
pub fn validate(
    doc: &Document,
    sensitive: &mut BTreeSet<String>,
    redactor: &mut Redactor,
) -> Checked {
    if doc.kind == Kind::Data {
        mark_connection_secrets(&doc.body, sensitive, redactor);
    }
    let field = doc.kind.identity_field();
    let identity_pointer = format!("/{}", escape_token(field));
    let templated: Vec<String> = sensitive
        .iter()
        .filter(|p| is_name_pointer(doc.kind, p))
        .cloned()
        .collect();
    let identity = doc
        .body
        .get(field)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        // A templated identity is refused below; it never becomes a key, and messages
        // name the object `(sensitive)`.
        .filter(|_| !sensitive.contains(&identity_pointer))
        .map(|s| (s.to_string(), doc.spans.span(&identity_pointer)));
    let mut c = Checker {
        doc,
        sensitive,
        key: match &identity {
            Some((k, _)) => Some(k.clone()),
            None if sensitive.contains(&identity_pointer) => Some(MASK.to_string()),
            None => None,
        },
        out: Vec::new(),
    };
    for pointer in &templated {
        c.push(
            Severity::Error,
            pointer,
            Problem::TemplatedName(dotted(pointer)),
        );
    }
    match &doc.body {
        Value::Object(map) => {
            if map
                .get(field)
                .and_then(Value::as_str)
                .is_some_and(|s| s.trim().is_empty())
            {
                c.push(
                    Severity::Error,
                    &format!("/{field}"),
                    Problem::EmptyIdentity(field),
                );
            }
            if let Some(what) = map.get(INCOMPLETE_MARKER) {
                let what = what.as_str().map_or_else(
                    || "see the comments above it".to_string(),
                    |s| s.chars().take(400).collect(),
                );
                c.push(
                    Severity::Error,
                    &format!("/{INCOMPLETE_MARKER}"),
                    Problem::IncompleteExport(what),
                );
            }
            c.object(schema::root(doc.kind), map, "", "");
            if doc.kind == Kind::Data {
                if let Some(conn) = map.get("connection").and_then(Value::as_object) {
                    c.connection(conn);
                }
            }
        }
        other => c.push(Severity::Error, "", Problem::NotAMapping(type_name(other))),
    }
    let mut diagnostics = c.out;
    diagnostics.extend(names::check_lengths(
        doc,
        identity.as_ref().map(|(k, _)| k.as_str()),
    ));
    Checked {
        identity,
        diagnostics,
    }
}

/// Whether `pointer` holds a key or a name Immuta shows as an object's name: the
/// identity field, sub-purpose names (any depth), and what data source names are made
/// of (`sources[*].table`, `.schema`, `.naming.*`, `nameTemplate.*`).
fn is_name_pointer(kind: Kind, pointer: &str) -> bool {
    let parts: Vec<&str> = pointer.split('/').skip(1).collect();
    let is_index = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match (kind, parts.as_slice()) {
        (_, [field]) if *field == kind.identity_field() => true,
        (Kind::Purpose, [.., "subpurposes", i, "name"]) => is_index(i),
        (Kind::Data, ["sources", i, "table" | "schema"]) => is_index(i),
        (Kind::Data, ["sources", i, "naming", _]) => is_index(i),
        (Kind::Data, ["nameTemplate", _]) => true,
        _ => false,
    }
}

/// `/sources/0/naming/datasource` as `sources[0].naming.datasource`, for messages.
fn dotted(pointer: &str) -> String {
    let mut out = String::new();
    for part in pointer.split('/').skip(1) {
        let part = part.replace("~1", "/").replace("~0", "~");
        if !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&format!("[{part}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&part);
        }
    }
    out
}

/// The diagnostic for a second document declaring `key`, placed at `at`.
pub fn duplicate(key: &ObjectKey, at: &Span, first: &Span) -> Diagnostic {
    Diagnostic {
        severity: Severity::Error,
        span: at.clone(),
        kind: Some(key.kind),
        key: Some(key.name.clone()),
        message: Problem::Duplicate {
            kind: key.kind,
            name: key.name.clone(),
            first: format!("{}:{}", first.path, first.line),
        }
        .to_string(),
    }
}

/// Marks connection credentials sensitive: `password`, `token`, `clientSecret`,
/// `userFiles[*].content`, and any key whose name contains `password`, `secret` or
/// `token` (any case), at any depth under `connection`.
fn mark_connection_secrets(
    body: &Value,
    sensitive: &mut BTreeSet<String>,
    redactor: &mut Redactor,
) {
    let Some(conn) = body.get("connection").and_then(Value::as_object) else {
        return;
    };
    fn walk(
        map: &Map<String, Value>,
        ptr: &str,
        sensitive: &mut BTreeSet<String>,
        redactor: &mut Redactor,
    ) {
        for (k, v) in map {
            let child = format!("{ptr}/{}", escape_token(k));
            let lower = k.to_ascii_lowercase();
            if schema::SENSITIVE_CONNECTION_KEYS.contains(&k.as_str())
                || schema::SENSITIVE_WORDS.iter().any(|w| lower.contains(w))
            {
                sensitive.insert(child.clone());
                add_strings(v, redactor);
                continue;
            }
            match v {
                Value::Object(m) => walk(m, &child, sensitive, redactor),
                Value::Array(items) if k == "userFiles" => {
                    for (i, item) in items.iter().enumerate() {
                        if let Some(content) = item.get("content") {
                            sensitive.insert(format!("{child}/{i}/content"));
                            add_strings(content, redactor);
                        }
                    }
                }
                _ => {}
            }
        }
    }
    walk(conn, "/connection", sensitive, redactor);
}

fn add_strings(v: &Value, redactor: &mut Redactor) {
    match v {
        Value::String(s) => redactor.add(s),
        Value::Array(items) => items.iter().for_each(|i| add_strings(i, redactor)),
        Value::Object(m) => m.values().for_each(|i| add_strings(i, redactor)),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

mod checker;
pub mod names;
mod suggest;

#[cfg(test)]
mod tests;
