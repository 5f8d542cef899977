//! Manifest stage, step 3: validation, the schema walk. [`Checker`] checks a document's
//! values against the [`super::schema`] table (types, closed and open value sets,
//! required fields and variants, connection rules) and records each problem with its
//! span. It never changes the body and never quotes a value at a sensitive pointer.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::super::parse::{escape_token, push_child, Document};
use super::super::schema::{self, Enum, Field, Obj, Ty};
use super::super::{Diagnostic, Severity};
use super::{nearest, Problem, INCOMPLETE_MARKER};
use crate::redact::MASK;

pub(super) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

fn present<'v>(map: &'v Map<String, Value>, name: &str) -> Option<&'v Value> {
    map.get(name).filter(|v| !v.is_null())
}

/// Walks one document against its schema, collecting every [`Diagnostic`] in `out`.
pub(super) struct Checker<'a> {
    pub(super) doc: &'a Document,
    pub(super) sensitive: &'a BTreeSet<String>,
    pub(super) key: Option<String>,
    pub(super) out: Vec<Diagnostic>,
}

impl Checker<'_> {
    pub(super) fn push(&mut self, severity: Severity, pointer: &str, problem: Problem) {
        self.out.push(Diagnostic {
            severity,
            span: self.doc.spans.span(pointer),
            kind: Some(self.doc.kind),
            key: self.key.clone(),
            message: problem.to_string(),
        });
    }

    /// A value for messages: quoted and cut, or masked when sensitive.
    fn shown(&self, pointer: &str, s: &str) -> String {
        if self.sensitive.contains(pointer) {
            return MASK.to_string();
        }
        let cut: String = s.chars().take(80).collect();
        if cut.len() < s.len() {
            format!("{cut:?}...")
        } else {
            format!("{cut:?}")
        }
    }

    fn check(&mut self, ty: &Ty, v: &Value, ptr: &str, path: &str) {
        let expected = match (ty, v) {
            (Ty::Any, _)
            | (Ty::Str, Value::String(_))
            | (Ty::Bool, Value::Bool(_))
            | (Ty::Num, Value::Number(_))
            | (Ty::StrOrNum, Value::String(_) | Value::Number(_)) => return,
            (Ty::Int, Value::Number(n)) if n.is_i64() || n.is_u64() => return,
            (Ty::Enum(e), Value::String(s)) => return self.enumeration(e, s, ptr, path),
            (Ty::Array(item), Value::Array(items)) => {
                for (i, it) in items.iter().enumerate() {
                    self.check(item, it, &format!("{ptr}/{i}"), &format!("{path}[{i}]"));
                }
                return;
            }
            (Ty::Object(o), Value::Object(m)) => return self.object(o, m, ptr, path),
            (Ty::Str | Ty::Enum(_), _) => "string",
            (Ty::Bool, _) => "boolean",
            (Ty::Int, _) => "integer",
            (Ty::Num, _) => "number",
            (Ty::StrOrNum, _) => "string or number",
            (Ty::Array(_), _) => "array",
            (Ty::Object(_), _) => "object",
        };
        let found = type_name(v);
        self.push(
            Severity::Error,
            ptr,
            Problem::WrongType {
                path: path.to_string(),
                expected,
                found,
            },
        );
    }

    fn enumeration(&mut self, e: &Enum, s: &str, ptr: &str, path: &str) {
        let known = e
            .values
            .iter()
            .any(|v| *v == s || (e.ignore_case && v.eq_ignore_ascii_case(s)));
        if known {
            return;
        }
        let value = self.shown(ptr, s);
        let allowed = e.values.join(", ");
        let path = path.to_string();
        if e.closed {
            self.push(
                Severity::Error,
                ptr,
                Problem::UnknownValue {
                    path,
                    value,
                    allowed,
                },
            );
        } else {
            self.push(
                Severity::Warning,
                ptr,
                Problem::UndocumentedValue {
                    path,
                    value,
                    allowed,
                },
            );
        }
    }

    pub(super) fn object(&mut self, o: &Obj, map: &Map<String, Value>, ptr: &str, path: &str) {
        let (variant_fields, tag_known) = self.variant(o, map);
        let fields = o.fields.iter().chain(variant_fields.iter());
        let mut known: Vec<&'static str> = Vec::new();
        for f in fields {
            known.push(f.name);
            self.field(f, map, ptr, path);
        }
        if tag_known {
            let unknown = map
                .keys()
                .filter(|k| !known.contains(&k.as_str()))
                .filter(|k| !(ptr.is_empty() && k.as_str() == INCOMPLETE_MARKER));
            for k in unknown {
                let child = format!("{ptr}/{}", escape_token(k));
                let suggestion = nearest(k, &known);
                self.push(
                    Severity::Warning,
                    &child,
                    Problem::Unmodelled {
                        path: join(path, k),
                        suggestion,
                    },
                );
            }
        }
        self.alternatives(o, map, ptr, path);
    }

    /// The fields the tag selects, and whether the tag value is one the schema knows
    /// (unknown ones were already reported; their fields are not second-guessed).
    fn variant(&self, o: &Obj, map: &Map<String, Value>) -> (&'static [Field], bool) {
        let Some(tag) = o.tag else {
            return (&[], true);
        };
        let Some(value) = present(map, tag).and_then(Value::as_str) else {
            return (&[], true);
        };
        let ignore_case = o
            .fields
            .iter()
            .find(|f| f.name == tag)
            .is_some_and(|f| matches!(f.ty, Ty::Enum(e) if e.ignore_case));
        match o
            .variants
            .iter()
            .find(|v| v.value == value || (ignore_case && v.value.eq_ignore_ascii_case(value)))
        {
            Some(v) => (v.fields, true),
            None => (&[], false),
        }
    }

    fn field(&mut self, f: &Field, map: &Map<String, Value>, ptr: &str, path: &str) {
        match map.get(f.name) {
            None if f.required => {
                self.push(Severity::Error, ptr, Problem::Missing(join(path, f.name)));
            }
            None => {}
            Some(Value::Null) if !f.required => {}
            Some(v) => {
                let mut child = String::with_capacity(ptr.len() + f.name.len() + 1);
                child.push_str(ptr);
                push_child(&mut child, f.name);
                let child_path = join(path, f.name);
                if let Some(note) = f.warning {
                    self.push(Severity::Warning, &child, Problem::Note(note));
                }
                self.check(&f.ty, v, &child, &child_path);
            }
        }
    }

    fn alternatives(&mut self, o: &Obj, map: &Map<String, Value>, ptr: &str, path: &str) {
        if !o.one_of.is_empty() {
            let found: Vec<&str> = o
                .one_of
                .iter()
                .copied()
                .filter(|n| present(map, n).is_some())
                .collect();
            if found.len() != 1 {
                let found = if found.is_empty() {
                    "none".to_string()
                } else {
                    found.join(" and ")
                };
                let problem = Problem::OneOf {
                    path: if path.is_empty() {
                        "document".into()
                    } else {
                        path.to_string()
                    },
                    fields: o.one_of.join(", "),
                    found,
                };
                self.push(Severity::Error, ptr, problem);
            }
        }
        for (a, b) in o.requires {
            if present(map, a).is_some() && present(map, b).is_none() {
                let why = format!("required with {a}");
                self.push(
                    Severity::Error,
                    ptr,
                    Problem::MissingBecause(join(path, b), why),
                );
            }
        }
    }

    /// Handler- and method-dependent requirements of a data source `connection`.
    pub(super) fn connection(&mut self, conn: &Map<String, Value>) {
        let ptr = "/connection";
        let Some(handler) = present(conn, "handler").and_then(Value::as_str) else {
            return;
        };
        if !schema::NO_HOSTNAME.contains(&handler) && present(conn, "hostname").is_none() {
            let why = format!("required for handler {handler}");
            self.push(
                Severity::Error,
                ptr,
                Problem::MissingBecause("connection.hostname".into(), why),
            );
        }
        let spec = schema::HANDLERS.iter().find(|h| h.handler == handler);
        let method = present(conn, "authenticationMethod").and_then(Value::as_str);
        if let Some(spec) = spec {
            for f in spec.required.iter().filter(|f| **f != "hostname") {
                if present(conn, f).is_none() {
                    let why = format!("required for handler {handler}");
                    self.push(
                        Severity::Error,
                        ptr,
                        Problem::MissingBecause(format!("connection.{f}"), why),
                    );
                }
            }
            for f in spec.expected.iter().filter(|f| present(conn, f).is_none()) {
                let (field, handler) = (format!("connection.{f}"), handler.to_string());
                self.push(Severity::Warning, ptr, Problem::Expected { field, handler });
            }
        }
        let Some(method) = method else {
            return;
        };
        if let Some(spec) = spec {
            // Values unknown to every handler were already reported by the schema walk.
            if !spec.auth_methods.contains(&method) && schema::AUTH_METHOD.values.contains(&method)
            {
                let problem = Problem::UndocumentedValue {
                    path: format!("connection.authenticationMethod (handler {handler})"),
                    value: self.shown("/connection/authenticationMethod", method),
                    allowed: spec.auth_methods.join(", "),
                };
                self.push(
                    Severity::Warning,
                    "/connection/authenticationMethod",
                    problem,
                );
            }
        }
        let use_certificate = present(conn, "useCertificate").and_then(Value::as_bool);
        for rule in schema::AUTH_RULES
            .iter()
            .filter(|r| r.handler == handler && r.method == method)
            .filter(|r| r.use_certificate.is_none() || r.use_certificate == use_certificate)
        {
            for f in rule.required.iter().filter(|f| present(conn, f).is_none()) {
                let why = match rule.use_certificate {
                    Some(u) => format!("required for {handler} {method} with useCertificate {u}"),
                    None => format!("required for {handler} {method}"),
                };
                self.push(
                    Severity::Error,
                    ptr,
                    Problem::MissingBecause(format!("connection.{f}"), why),
                );
            }
        }
    }
}
