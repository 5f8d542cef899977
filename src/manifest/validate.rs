//! Manifest stage, step 3: validation. Checks one templated [`Document`] against the
//! [`schema`](super::schema) table, reads its identity, and marks its credentials
//! sensitive.
//!
//! Input: a [`Document`] after templating, the set of sensitive pointers templating found.
//! Output: the identity and every [`Diagnostic`] (errors and warnings). Validation never
//! changes the body: unmodelled fields are reported and sent unchanged. A value at a
//! sensitive pointer is never quoted in a message.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::parse::{escape_token, push_child, Document};
use super::schema::{self, Enum, Field, Obj, Ty};
use super::{Diagnostic, Severity, Span};
use crate::object::{Kind, ObjectKey};
use crate::redact::{Redactor, MASK};

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
    /// A field the schema does not know (warning).
    #[error("field {0} is not modelled; it is sent unchanged")]
    Unmodelled(String),
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
    let identity = doc
        .body
        .get(field)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            (
                s.to_string(),
                doc.spans.span(&format!("/{}", escape_token(field))),
            )
        });
    let mut c = Checker {
        doc,
        sensitive,
        key: identity.as_ref().map(|(k, _)| k.clone()),
        out: Vec::new(),
    };
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
            c.object(schema::root(doc.kind), map, "", "");
            if doc.kind == Kind::Data {
                if let Some(conn) = map.get("connection").and_then(Value::as_object) {
                    c.connection(conn);
                }
            }
        }
        other => c.push(Severity::Error, "", Problem::NotAMapping(type_name(other))),
    }
    Checked {
        identity,
        diagnostics: c.out,
    }
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

fn type_name(v: &Value) -> &'static str {
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

struct Checker<'a> {
    doc: &'a Document,
    sensitive: &'a BTreeSet<String>,
    key: Option<String>,
    out: Vec<Diagnostic>,
}

impl Checker<'_> {
    fn push(&mut self, severity: Severity, pointer: &str, problem: Problem) {
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

    fn object(&mut self, o: &Obj, map: &Map<String, Value>, ptr: &str, path: &str) {
        let (variant_fields, tag_known) = self.variant(o, map);
        let fields = o.fields.iter().chain(variant_fields.iter());
        let mut known: Vec<&str> = Vec::new();
        for f in fields {
            known.push(f.name);
            self.field(f, map, ptr, path);
        }
        if tag_known {
            for k in map.keys().filter(|k| !known.contains(&k.as_str())) {
                let child = format!("{ptr}/{}", escape_token(k));
                self.push(
                    Severity::Warning,
                    &child,
                    Problem::Unmodelled(join(path, k)),
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
    fn connection(&mut self, conn: &Map<String, Value>) {
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::manifest::{load, DesiredSet};
    use crate::source::{FileEntry, Snapshot};

    const PURPOSE: &str = "name: Fraud Detection\ndescription: Detect fraud\n";
    const POLICY: &str = "policyKey: mask-ssn\nname: Mask SSN\ntype: data\nactions:\n  - rules:\n      - type: Masking\n        config:\n          fields:\n            - type: columnTags\n              columnTag: Discovered.SSN\n          maskingConfig:\n            type: Hash\n";
    const SNOWFLAKE: &str = "connectionKey: warehouse\nconnection:\n  handler: Snowflake\n  hostname: acme.snowflakecomputing.com\n  port: 443\n  database: ANALYTICS\n  warehouse: COMPUTE_WH\n  authenticationMethod: userPassword\n  username: svc_immuta\n  password: PASSWORD_VALUE\nsources:\n  - table: orders\n    schema: public\n";

    fn snapshot(files: &[(&str, &str)]) -> Snapshot {
        let mut map = BTreeMap::new();
        for (p, c) in files {
            map.insert(p.to_string(), FileEntry::Blob(c.as_bytes().to_vec()));
        }
        Snapshot::new("test", "rev1", map)
    }

    fn env(vars: &[(&str, &str)]) -> BTreeMap<String, String> {
        vars.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn load_files(
        files: &[(&str, &str)],
        vars: &[(&str, &str)],
    ) -> Result<DesiredSet, Vec<Diagnostic>> {
        load(&snapshot(files), &env(vars))
    }

    fn lines(d: &[Diagnostic]) -> Vec<String> {
        d.iter().map(ToString::to_string).collect()
    }

    fn snowflake(password: &str) -> String {
        SNOWFLAKE.replace("PASSWORD_VALUE", password)
    }

    /// Each case: files, then substrings that must all appear in one error line.
    #[test]
    fn refused_inputs_name_file_line_and_problem() {
        let wrong_nested = POLICY.replace("type: Hash", "type: [Hash]");
        let ds_missing_env = snowflake("'{{EnvVar \"UNSET_VAR_X\"}}'");
        let ds_outside = snowflake("'{{ReadFile \"../../etc/passwd\"}}'");
        let ds_link = snowflake("'{{ReadFile \"key.pem\"}}'");
        type Case<'a> = (Vec<(&'a str, &'a str)>, Vec<&'a str>);
        let cases: Vec<Case<'_>> = vec![
            (vec![("policy/broken.yaml", "policyKey: broken\nname: [unclosed\ntype: data\n")], vec!["policy/broken.yaml:3:5: policy -: invalid YAML"]),
            (vec![("policies/extra.yaml", PURPOSE)], vec!["policies/extra.yaml:1:1: - -: file in unknown directory policies/"]),
            (
                vec![("project/p.yaml", "projectKey: p1\nname: P1\nallowMaskedJoins: \"yes\"\n")],
                vec!["project/p.yaml:3:1: project p1: allowMaskedJoins: expected boolean, found string"],
            ),
            (
                vec![("policy/sub.yaml", "policyKey: sub\nname: Sub\ntype: subscriptions\nactions:\n  type: anyone\n")],
                vec!["policy/sub.yaml:3:1: policy sub: unknown value \"subscriptions\" for type; expected one of: subscription, data"],
            ),
            (
                vec![("policy/sub.yaml", "policyKey: sub\nname: Sub\ntype: subscription\nactions:\n  type: everyone\n")],
                vec!["policy/sub.yaml:5:3:", "actions.type; expected one of: anyone, approval, entitlements, manual"],
            ),
            (
                vec![("purpose/a.yaml", PURPOSE), ("purpose/b/again.yml", "# comment\n\nname: Fraud Detection\n")],
                vec!["purpose/b/again.yml:3:1: purpose Fraud Detection: duplicate purpose key", "also declared at purpose/a.yaml:1"],
            ),
            (
                vec![("policy/p.yaml", &wrong_nested)],
                vec!["policy/p.yaml:12:13: policy mask-ssn: actions[0].rules[0].config.maskingConfig.type: expected string, found array"],
            ),
            (vec![("data/w.yaml", &ds_missing_env)], vec!["data/w.yaml:10:3: data warehouse: environment variable UNSET_VAR_X is not set"]),
            (vec![("data/w.yaml", &ds_outside)], vec!["data/w.yaml:10:3:", "is outside the repository"]),
            (vec![("data/w.yaml", &ds_link)], vec!["data/w.yaml:10:3:", "\"key.pem\" is outside the repository"]),
            (vec![("data/w.yaml", "connection:\n  handler: Snowflake\n")], vec!["data/w.yaml:1:1: data -: missing required field connectionKey"]),
            (
                vec![("data/w.yaml", "connectionKey: k\nconnection:\n  handler: Redshift\n  hostname: h\n  schema: s\n  username: u\n")],
                vec!["data/w.yaml:2:1: data k: missing required field connection.password (required for handler Redshift)"],
            ),
            (
                vec![("data/w.yaml", "connectionKey: k\nconnection:\n  handler: Databricks\n  hostname: h\n  httpPath: p\n  authenticationMethod: oAuthM2M\n  useCertificate: false\n  clientId: c\n  audience: a\n")],
                vec!["missing required field connection.clientSecret (required for Databricks oAuthM2M with useCertificate false)"],
            ),
            (
                vec![("data/w.yaml", "connectionKey: k\nconnection:\n  handler: Trino\nsources:\n  - table: t\n    query: select 1\n")],
                vec!["data/w.yaml:5:5: data k: sources[0]: expected exactly one of all, table, query, found table and query"],
            ),
            (vec![("purpose/p.yaml", "- name: a\n")], vec!["purpose/p.yaml:1:1: purpose -: a manifest must be a mapping, found array"]),
        ];
        let mut links = BTreeMap::new();
        links.insert(
            "data/key.pem".to_string(),
            FileEntry::EscapingLink("/etc/ssl/key.pem".into()),
        );
        for (files, wants) in cases {
            let mut snap_files: BTreeMap<String, FileEntry> = links.clone();
            for (p, c) in &files {
                snap_files.insert(p.to_string(), FileEntry::Blob(c.as_bytes().to_vec()));
            }
            let errs = load(&Snapshot::new("t", "r", snap_files), &env(&[])).unwrap_err();
            let shown = lines(&errs);
            assert!(
                shown.iter().any(|l| wants.iter().all(|w| l.contains(w))),
                "{files:?}\nwant {wants:?}\ngot {shown:#?}"
            );
        }
    }

    #[test]
    fn every_error_is_reported_in_one_pass() {
        let errs = load_files(
            &[
                ("policies/x.yaml", PURPOSE),
                (
                    "project/p.yaml",
                    "projectKey: p1\nname: 3\nequalization: maybe\n",
                ),
                ("policy/b.yaml", "policyKey: [\n"),
            ],
            &[],
        )
        .unwrap_err();
        assert_eq!(
            errs.iter()
                .filter(|d| d.severity == Severity::Error)
                .count(),
            4,
            "{:#?}",
            lines(&errs)
        );
    }

    #[test]
    fn warnings_keep_the_set_valid_and_the_body_unchanged() {
        let policy = POLICY
            .replace("type: Hash", "type: Shuffle\n            seed: 7")
            .replace("name: Mask SSN", "name: Mask SSN\nlabels: [x]");
        let project = "projectKey: p\nname: P\nallowedMaskedJoins: true\n";
        let set = load_files(
            &[("policy/p.yaml", &policy), ("project/p.yaml", project)],
            &[],
        )
        .unwrap();
        let shown = lines(&set.warnings);
        assert!(shown.iter().any(|l| l.starts_with("policy/p.yaml:13:13: policy mask-ssn: warning: undocumented value \"Shuffle\" for actions[0].rules[0].config.maskingConfig.type")), "{shown:#?}");
        assert!(shown.iter().any(|l| l.starts_with("policy/p.yaml:3:1: policy mask-ssn: warning: field labels is not modelled; it is sent unchanged")), "{shown:#?}");
        assert!(
            shown
                .iter()
                .any(|l| l.contains("allowedMaskedJoins is the attribute table's spelling")),
            "{shown:#?}"
        );
        // The unknown masking type's own fields are not second-guessed.
        assert!(!shown.iter().any(|l| l.contains("seed")), "{shown:#?}");
        let body = &set.objects[&ObjectKey::new(Kind::Policy, "mask-ssn")].body;
        assert_eq!(body["labels"], serde_json::json!(["x"]));
        assert_eq!(
            body["actions"][0]["rules"][0]["config"]["maskingConfig"]["seed"],
            7
        );
    }

    #[test]
    fn placeholders_and_credentials_are_sensitive() {
        let ds = snowflake("\"${SF_PASS}\"").replace("username: svc_immuta", "username: '{{EnvVar \"SF_USER\"}}'\n  privateKeyPassword: plain-phrase-1\n  userFiles:\n    - keyName: PRIV_KEY_FILE\n      content: QUJDREVGR0g=\n      userFilename: k.p8");
        let set = load_files(
            &[("data/w.yaml", &ds)],
            &[("SF_PASS", "pw-from-env-1"), ("SF_USER", "user-from-env")],
        )
        .unwrap();
        let m = &set.objects[&ObjectKey::new(Kind::Data, "warehouse")];
        assert_eq!(m.body["connection"]["password"], "pw-from-env-1");
        let want: BTreeSet<String> = [
            "/connection/password",
            "/connection/privateKeyPassword",
            "/connection/userFiles/0/content",
            "/connection/username",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        assert_eq!(m.sensitive, want);
        for secret in [
            "pw-from-env-1",
            "user-from-env",
            "plain-phrase-1",
            "QUJDREVGR0g=",
        ] {
            assert_eq!(set.redactor.redact(secret), MASK, "{secret}");
        }
        // Unmodelled (but sensitive) field: the warning names the field only.
        assert!(lines(&set.warnings)
            .iter()
            .any(|l| l.contains("connection.privateKeyPassword is not modelled")));
    }

    #[test]
    fn secrets_never_reach_diagnostics() {
        let ds = snowflake("\"${SF_PASS}\"")
            .replace(
                "authenticationMethod: userPassword",
                "authenticationMethod: \"${SF_PASS}\"",
            )
            .replace("port: 443", "port: \"${SF_PASS}\"")
            .replace(
                "handler: Snowflake",
                "handler: Snowflake\n  apiToken: [hunter2-token]",
            );
        let bad = format!("{ds}owners:\n  - type: '{{{{EnvVar \"SF_PASS\"}}}}'\n    name: x\n");
        let errs =
            load_files(&[("data/w.yaml", &bad)], &[("SF_PASS", "hunter2-secret")]).unwrap_err();
        let shown = lines(&errs).join("\n");
        assert!(
            shown.contains("unknown value (sensitive) for owners[0].type"),
            "{shown}"
        );
        assert!(
            shown.contains("undocumented value (sensitive) for connection.authenticationMethod"),
            "{shown}"
        );
        assert!(
            shown.contains("connection.port: expected integer, found string"),
            "{shown}"
        );
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn spans_of_nested_fields() {
        let policy = "policyKey: k\nname: n\ntype: data\nactions:\n  - rules:\n      - type: Minimization\n        config:\n          percent: 5\n      - type: Masking\n        config:\n          fields: []\n          maskingConfig:\n            type: Constant\n";
        let errs = load_files(&[("policy/k.yaml", policy)], &[]).unwrap_err();
        assert_eq!(
            lines(&errs),
            ["policy/k.yaml:12:11: policy k: missing required field actions[0].rules[1].config.maskingConfig.constant"]
        );
    }

    /// Env vars the seed fixtures' placeholders name.
    const SEED_ENV: &[(&str, &str)] = &[
        ("myPassword", "seed-my-password"),
        ("DATABRICKS_PASSWORD", "seed-databricks-pat"),
        ("SNOWFLAKE_PASSWORD", "seed-snowflake-password"),
        ("service_principal_clientId", "seed-client-id"),
        ("clientSecret", "seed-client-secret"),
    ];

    fn seed_snapshot() -> Snapshot {
        fn read(dir: &std::path::Path, rel: &str, out: &mut BTreeMap<String, FileEntry>) {
            for e in std::fs::read_dir(dir).unwrap() {
                let e = e.unwrap();
                let name = e.file_name().into_string().unwrap();
                let rel = if rel.is_empty() {
                    name
                } else {
                    format!("{rel}/{name}")
                };
                if e.file_type().unwrap().is_dir() {
                    read(&e.path(), &rel, out);
                } else {
                    out.insert(rel, FileEntry::Blob(std::fs::read(e.path()).unwrap()));
                }
            }
        }
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/seeds");
        let mut files = BTreeMap::new();
        read(&root, "", &mut files);
        Snapshot::new("seeds", "fixtures", files)
    }

    #[test]
    fn every_seed_fixture_loads_without_errors() {
        let set =
            load(&seed_snapshot(), &env(SEED_ENV)).unwrap_or_else(|e| panic!("{:#?}", lines(&e)));
        let count = |k: Kind| set.objects.keys().filter(|o| o.kind == k).count();
        assert_eq!(
            [
                count(Kind::Purpose),
                count(Kind::Data),
                count(Kind::Policy),
                count(Kind::Project)
            ],
            [4, 9, 30, 7]
        );
        // Only the documented inconsistencies warn: Databricks/Snowflake examples without
        // authenticationMethod, the CLI demo without warehouse.
        for w in &set.warnings {
            assert!(
                w.message.contains("is documented as required for handler"),
                "{w}"
            );
        }
        let m = &set.objects[&ObjectKey::new(Kind::Data, "my-databricks")];
        assert_eq!(m.body["connection"]["password"], "seed-databricks-pat");
        assert!(m.sensitive.contains("/connection/password"));
        let redshift = &set.objects[&ObjectKey::new(Kind::Data, "redshift")];
        assert!(redshift.sensitive.contains("/connection/password"));
        assert_eq!(set.redactor.redact("your_password"), MASK);
        assert_eq!(
            (set.origin.as_str(), set.revision.as_str()),
            ("seeds", "fixtures")
        );
    }

    #[test]
    fn seed_bodies_round_trip_through_yaml() {
        let set = load(&seed_snapshot(), &env(SEED_ENV)).unwrap();
        for (key, m) in &set.objects {
            let text = serde_yaml::to_string(&m.body).unwrap();
            let again = crate::manifest::parse::parse_file(key.kind, "x/y.yaml", &text).unwrap();
            assert_eq!(again.len(), 1, "{key}");
            assert_eq!(again[0].body, m.body, "{key}:\n{text}");
            let json = serde_json::to_string(&m.body).unwrap();
            let again = crate::manifest::parse::parse_file(key.kind, "x/y.json", &json).unwrap();
            assert_eq!(again[0].body, m.body, "{key}");
        }
    }
}
