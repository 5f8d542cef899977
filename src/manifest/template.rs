//! Manifest stage, step 2: templating. Replaces placeholders inside the string values of
//! a parsed [`Document`].
//!
//! Input: a [`Document`] (already parsed, so a substituted value can never change the YAML
//! structure), the [`Snapshot`] and an [`Env`]. Output: the document's body with every
//! placeholder replaced, the JSON pointers of the values that held one (all secret), and
//! [`Diagnostic`]s for placeholders that cannot be resolved. A substituted value never
//! reaches a message: errors name the variable or the path, never the content.
//!
//! Placeholders, anywhere inside a string (several per string allowed):
//! - `{{EnvVar "NAME"}}` (spacing inside the braces is free) and `${NAME}` (the form the
//!   V2 API examples use, `NAME` = `[A-Za-z_][A-Za-z0-9_]*`): the variable's value; unset
//!   is an error. A `$` not followed by `{NAME}` is kept literally (`$1X` in a regex
//!   replacement stays as written).
//! - `{{ReadFile "path"}}`: the content of a file of the repository, relative to the
//!   manifest's directory, inserted verbatim (no trailing newline stripped), as Immuta's
//!   CLI does when it saves a file that `immuta clone` wrote with `ReadFile` for file
//!   contents such as base64 key files. Paths outside the repository, escaping symlinks,
//!   missing files and non-UTF-8 content are errors.
//! - Any other `{{ ... }}` is an error: only these two functions exist.

use std::collections::BTreeSet;

use serde_json::Value;

use super::parse::{push_child, push_index, Document};
use super::{Diagnostic, Env, Severity};
use crate::redact::Redactor;
use crate::source::{ReadError, Snapshot};

/// Why a placeholder could not be resolved. Messages never contain a resolved value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// `{{EnvVar "NAME"}}` or `${NAME}` with `NAME` unset.
    #[error("environment variable {0} is not set")]
    UnsetVar(String),
    /// `{{ReadFile}}` leaving the repository (`..`, absolute path, escaping symlink).
    #[error("ReadFile path {0:?} is outside the repository")]
    Outside(String),
    /// `{{ReadFile}}` naming no file.
    #[error("ReadFile path {0:?} does not exist in the repository")]
    Missing(String),
    /// `{{ReadFile}}` of a binary file.
    #[error("ReadFile path {0:?} is not UTF-8 text")]
    NotUtf8(String),
    /// `{{ReadFile}}` of a file over `--max-read-file-bytes`, or a file that exists but
    /// cannot be read (now, or already when the revision was read: a dangling link).
    #[error("ReadFile {0}")]
    Unreadable(String),
    /// The `{{ReadFile}}` placeholders of one document insert more than
    /// [`READ_BUDGET_FACTOR`] times `--max-read-file-bytes` in total.
    #[error("ReadFile placeholders of this document insert more than {} in total ({READ_BUDGET_FACTOR} x --max-read-file-bytes)", crate::limits::show_bytes(*.0))]
    TooMuchRead(u64),
    /// `{{...}}` with another function, or arguments that are not one quoted string.
    #[error("unsupported template function {0:?}; expected {{{{EnvVar \"NAME\"}}}} or {{{{ReadFile \"path\"}}}}")]
    Unsupported(String),
    /// `{{` without a closing `}}`.
    #[error("unterminated template placeholder: {{{{ without }}}}")]
    Unterminated,
}

/// How many `--max-read-file-bytes` one document's `{{ReadFile}}` placeholders may insert
/// in total: each target is bounded by the limit, and so is their number, since one file
/// named a thousand times would otherwise be inserted a thousand times.
pub const READ_BUDGET_FACTOR: u64 = 4;

/// Where placeholders are resolved from.
pub struct Context<'a> {
    /// The snapshot, for `{{ReadFile}}`.
    pub snapshot: &'a Snapshot,
    /// The environment, for `{{EnvVar}}` and `${NAME}`.
    pub env: &'a dyn Env,
}

/// The outcome of templating one document.
#[derive(Debug, Default)]
pub struct Rendered {
    /// JSON pointers of the values that held a placeholder.
    pub sensitive: BTreeSet<String>,
    /// Every value substituted (for the redactor).
    pub secrets: Redactor,
    /// Placeholders that could not be resolved.
    pub diagnostics: Vec<Diagnostic>,
    /// Bytes inserted by `{{ReadFile}}` so far.
    read_bytes: u64,
}

/// Whether any string value of `v` may hold a placeholder. When false, [`render`] would
/// change nothing and report nothing.
pub fn has_placeholders(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains("{{") || s.contains("${"),
        Value::Array(items) => items.iter().any(has_placeholders),
        Value::Object(map) => map.values().any(has_placeholders),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

/// Replaces every placeholder in `doc.body`; `key` is the object's identity, for messages.
pub fn render(doc: &mut Document, ctx: &Context<'_>, key: Option<&str>) -> Rendered {
    let mut out = Rendered::default();
    let mut body = std::mem::take(&mut doc.body);
    walk(&mut body, &mut String::new(), doc, ctx, &mut out);
    doc.body = body;
    for d in &mut out.diagnostics {
        d.key = key.map(str::to_string);
    }
    out
}

/// `pointer` is `v`'s JSON pointer; it is extended for children and restored on return.
fn walk(
    v: &mut Value,
    pointer: &mut String,
    doc: &Document,
    ctx: &Context<'_>,
    out: &mut Rendered,
) {
    match v {
        Value::String(s) => {
            if !s.contains("{{") && !s.contains("${") {
                return;
            }
            match substitute(s, &doc.path, ctx, &mut out.read_bytes) {
                Ok(None) => {}
                Ok(Some((new, parts))) => {
                    for p in &parts {
                        out.secrets.add(p);
                    }
                    out.secrets.add(&new);
                    *s = new;
                    out.sensitive.insert(pointer.clone());
                }
                Err(errors) => {
                    for e in errors {
                        out.diagnostics.push(Diagnostic {
                            severity: Severity::Error,
                            span: doc.spans.span(pointer),
                            kind: Some(doc.kind),
                            key: None,
                            message: e.to_string(),
                        });
                    }
                    // The value is still secret-bearing in intent; keep it out of plans.
                    out.sensitive.insert(pointer.clone());
                }
            }
        }
        Value::Array(items) => {
            let len = pointer.len();
            for (i, item) in items.iter_mut().enumerate() {
                push_index(pointer, i);
                walk(item, pointer, doc, ctx, out);
                pointer.truncate(len);
            }
        }
        Value::Object(map) => {
            let len = pointer.len();
            for (k, item) in map.iter_mut() {
                push_child(pointer, k);
                walk(item, pointer, doc, ctx, out);
                pointer.truncate(len);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// One resolved placeholder's text.
type Substituted = (String, Vec<String>);

/// Substitutes the placeholders of one string. `Ok(None)` when it holds none; otherwise
/// the new string and the substituted parts.
fn substitute(
    s: &str,
    manifest: &str,
    ctx: &Context<'_>,
    read_bytes: &mut u64,
) -> Result<Option<Substituted>, Vec<Error>> {
    let mut out = String::with_capacity(s.len());
    let mut parts = Vec::new();
    let mut errors = Vec::new();
    let mut rest = s;
    let mut found = false;
    while !rest.is_empty() {
        let next_brace = rest.find("{{");
        let next_dollar = find_dollar_var(rest);
        let (start, is_brace) = match (next_brace, next_dollar) {
            (Some(b), Some((d, _))) if d < b => (d, false),
            (Some(b), _) => (b, true),
            (None, Some((d, _))) => (d, false),
            (None, None) => {
                out.push_str(rest);
                break;
            }
        };
        out.push_str(rest.get(..start).unwrap_or_default());
        let after = rest.get(start..).unwrap_or_default();
        found = true;
        let (consumed, resolved) = if is_brace {
            match after.find("}}") {
                Some(end) => {
                    let inner = after.get(2..end).unwrap_or_default();
                    (end + 2, call(inner, manifest, ctx, read_bytes))
                }
                None => (after.len(), Err(Error::Unterminated)),
            }
        } else {
            let name_len = next_dollar.map_or(0, |(_, n)| n);
            let name = after.get(2..2 + name_len).unwrap_or_default();
            (3 + name_len, env_var(name, ctx))
        };
        match resolved {
            Ok(text) => {
                out.push_str(&text);
                parts.push(text);
            }
            Err(e) => errors.push(e),
        }
        rest = after.get(consumed..).unwrap_or_default();
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(found.then_some((out, parts)))
}

/// The byte offset of the first `${NAME}` in `s` and the length of `NAME`.
fn find_dollar_var(s: &str) -> Option<(usize, usize)> {
    let mut from = 0;
    while let Some(i) = s.get(from..).and_then(|r| r.find("${")).map(|i| i + from) {
        let tail = s.get(i + 2..).unwrap_or_default();
        let name_len = tail
            .char_indices()
            .take_while(|(j, c)| {
                c.is_ascii_alphabetic() || *c == '_' || (*j > 0 && c.is_ascii_digit())
            })
            .count();
        if name_len > 0 && tail.get(name_len..).is_some_and(|t| t.starts_with('}')) {
            return Some((i, name_len));
        }
        from = i + 2;
    }
    None
}

fn env_var(name: &str, ctx: &Context<'_>) -> Result<String, Error> {
    ctx.env
        .var(name)
        .ok_or_else(|| Error::UnsetVar(name.to_string()))
}

/// Resolves the inside of one `{{ ... }}`.
fn call(
    inner: &str,
    manifest: &str,
    ctx: &Context<'_>,
    read_bytes: &mut u64,
) -> Result<String, Error> {
    let inner = inner.trim();
    let unsupported = || Error::Unsupported(inner.chars().take(60).collect());
    let (func, arg) = inner
        .split_once(char::is_whitespace)
        .ok_or_else(unsupported)?;
    let arg = quoted(arg.trim()).ok_or_else(unsupported)?;
    match func {
        "EnvVar" => env_var(&arg, ctx),
        "ReadFile" => read_file(&arg, manifest, ctx, read_bytes),
        _ => Err(unsupported()),
    }
}

/// The content of a Go-template string literal: `"..."` (with `\"` and `\\`) or `` `...` ``.
fn quoted(arg: &str) -> Option<String> {
    if let Some(raw) = arg.strip_prefix('`').and_then(|a| a.strip_suffix('`')) {
        return (!raw.contains('`')).then(|| raw.to_string());
    }
    let body = arg.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::new();
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                other => out.push(other),
            },
            '"' => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

fn read_file(
    target: &str,
    manifest: &str,
    ctx: &Context<'_>,
    read_bytes: &mut u64,
) -> Result<String, Error> {
    let budget = ctx
        .snapshot
        .limits()
        .read_file_bytes
        .saturating_mul(READ_BUDGET_FACTOR);
    if *read_bytes > budget {
        return Err(Error::TooMuchRead(budget));
    }
    let bytes = ctx
        .snapshot
        .read_relative(manifest, target)
        .map_err(|e| match e {
            ReadError::Outside(_) => Error::Outside(target.to_string()),
            ReadError::Missing(_) => Error::Missing(target.to_string()),
            e @ (ReadError::TooLarge { .. } | ReadError::Unreadable { .. }) => {
                Error::Unreadable(e.to_string())
            }
        })?;
    *read_bytes = read_bytes.saturating_add(u64::try_from(bytes.len()).unwrap_or(u64::MAX));
    if *read_bytes > budget {
        return Err(Error::TooMuchRead(budget));
    }
    String::from_utf8(bytes.into_owned()).map_err(|_| Error::NotUtf8(target.to_string()))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::manifest::parse::parse_file;
    use crate::object::Kind;
    use crate::source::FileEntry;

    fn snapshot() -> Snapshot {
        let mut f = BTreeMap::new();
        f.insert(
            "data/keys/key.b64".to_string(),
            FileEntry::Blob(b"QUJDRA==\n".to_vec()),
        );
        f.insert(
            "certs/ca.pem".to_string(),
            FileEntry::Blob(b"-----BEGIN-----\n".to_vec()),
        );
        f.insert("data/bin".to_string(), FileEntry::Blob(vec![0xff, 0x00]));
        f.insert(
            "data/link".to_string(),
            FileEntry::EscapingLink("/etc/shadow".into()),
        );
        Snapshot::new("o", "r", f)
    }

    fn env() -> BTreeMap<String, String> {
        [
            ("PASS", "s3cr3t-value"),
            ("HOST", "db.example.com"),
            ("_X1", "x1x1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    fn run(yaml: &str) -> (Value, Rendered) {
        let snap = snapshot();
        let env = env();
        let ctx = Context {
            snapshot: &snap,
            env: &env,
        };
        let mut doc = parse_file(Kind::Data, "data/ds.yaml", yaml)
            .unwrap()
            .remove(0);
        let r = render(&mut doc, &ctx, Some("ds"));
        (doc.body, r)
    }

    #[test]
    fn substitutions() {
        let cases: &[(&str, &str)] = &[
            (r#"'{{EnvVar "PASS"}}'"#, "s3cr3t-value"),
            (r#"'{{ EnvVar "PASS" }}'"#, "s3cr3t-value"),
            (r#""${PASS}""#, "s3cr3t-value"),
            (
                r#""jdbc://${HOST}:5432/${_X1}""#,
                "jdbc://db.example.com:5432/x1x1",
            ),
            (r#"'{{ReadFile "keys/key.b64"}}'"#, "QUJDRA==\n"),
            (r#"'{{ReadFile "../certs/ca.pem"}}'"#, "-----BEGIN-----\n"),
            (
                r#"'pre {{EnvVar `PASS`}} ${HOST}'"#,
                "pre s3cr3t-value db.example.com",
            ),
        ];
        for (src, want) in cases {
            let (body, r) = run(&format!(
                "connectionKey: ds\nconnection:\n  password: {src}\n"
            ));
            assert!(r.diagnostics.is_empty(), "{src}: {:?}", r.diagnostics);
            assert_eq!(body["connection"]["password"], *want, "{src}");
            assert!(r.sensitive.contains("/connection/password"), "{src}");
            assert!(r.secrets.redact(want).contains("(sensitive)"), "{src}");
        }
    }

    #[test]
    fn literals_are_kept() {
        for src in ["\"$1X\"", "\"${not-a-name}\"", "\"$ {X}\"", "plain"] {
            let (body, r) = run(&format!("connectionKey: ds\nx: {src}\n"));
            assert!(r.diagnostics.is_empty() && r.sensitive.is_empty(), "{src}");
            let want: String = serde_yaml::from_str(src).unwrap();
            assert_eq!(body["x"], want.as_str());
        }
    }

    #[test]
    fn failures_name_the_place_never_the_value() {
        let cases: &[(&str, &str)] = &[
            (
                r#"'{{EnvVar "NOPE"}}'"#,
                "environment variable NOPE is not set",
            ),
            (r#""${NOPE_2}""#, "environment variable NOPE_2 is not set"),
            (
                r#"'{{ReadFile "../../../etc/passwd"}}'"#,
                "is outside the repository",
            ),
            (
                r#"'{{ReadFile "/etc/passwd"}}'"#,
                "is outside the repository",
            ),
            (r#"'{{ReadFile "link"}}'"#, "is outside the repository"),
            (
                r#"'{{ReadFile "missing.pem"}}'"#,
                "does not exist in the repository",
            ),
            (r#"'{{ReadFile "bin"}}'"#, "is not UTF-8 text"),
            (r#"'{{Exec "rm"}}'"#, "unsupported template function"),
            (r#"'{{EnvVar PASS}}'"#, "unsupported template function"),
            (r#"'{{EnvVar "PASS"'"#, "unterminated"),
        ];
        for (src, want) in cases {
            let (_, r) = run(&format!(
                "connectionKey: ds\nconnection:\n  handler: x\n  password: {src}\n"
            ));
            assert_eq!(r.diagnostics.len(), 1, "{src}: {:?}", r.diagnostics);
            let d = r.diagnostics[0].to_string();
            assert!(d.starts_with("data/ds.yaml:4:3: data ds: "), "{d}");
            assert!(d.contains(want), "{d}");
            assert!(!d.contains("s3cr3t"), "{d}");
        }
    }

    #[test]
    fn several_errors_in_one_string_are_all_reported() {
        let (_, r) = run("connectionKey: ds\nx: \"${A1} {{EnvVar \\\"B1\\\"}}\"\n");
        let msgs: Vec<&str> = r.diagnostics.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            msgs,
            [
                "environment variable A1 is not set",
                "environment variable B1 is not set"
            ]
        );
    }

    #[test]
    fn issue_11_read_file_is_bounded_per_target_and_per_document() {
        let mut f = BTreeMap::new();
        f.insert("data/k1".to_string(), FileEntry::Blob(vec![b'a'; 1000]));
        f.insert("data/big".to_string(), FileEntry::Blob(vec![b'a'; 2000]));
        f.insert(
            "data/huge".to_string(),
            FileEntry::TooLarge {
                size: 1 << 30,
                limit: 1 << 20,
            },
        );
        let limits = crate::limits::Limits {
            read_file_bytes: 1024,
            ..Default::default()
        };
        let snap = Snapshot::new("o", "r", f).with_limits(limits);
        let env = env();
        let ctx = Context {
            snapshot: &snap,
            env: &env,
        };
        let render_one = |yaml: &str| {
            let mut doc = parse_file(Kind::Data, "data/ds.yaml", yaml)
                .unwrap()
                .remove(0);
            render(&mut doc, &ctx, Some("ds"))
        };
        for (target, want) in [
            ("big", "ReadFile file \"big\" is 2000 bytes or more, over the 1 KiB limit (--max-read-file-bytes)"),
            ("huge", "ReadFile file \"huge\" is 1 GiB or more, over the 1 KiB limit"),
        ] {
            let r = render_one(&format!("connectionKey: ds\nx: '{{{{ReadFile \"{target}\"}}}}'\n"));
            let shown: Vec<String> = r.diagnostics.iter().map(ToString::to_string).collect();
            assert_eq!(shown.len(), 1, "{shown:?}");
            assert!(shown[0].starts_with("data/ds.yaml:2:1: data ds: "), "{shown:?}");
            assert!(shown[0].contains(want), "{shown:?}");
        }
        // Four reads of a 1000-byte file fit the 4 KiB budget; a fifth does not.
        let four = "x: '{{ReadFile \"k1\"}}{{ReadFile \"k1\"}}'\ny: ['{{ReadFile \"k1\"}}', '{{ReadFile \"k1\"}}']\n";
        assert!(render_one(&format!("connectionKey: ds\n{four}"))
            .diagnostics
            .is_empty());
        let r = render_one(&format!(
            "connectionKey: ds\n{four}z: '{{{{ReadFile \"k1\"}}}}'\n"
        ));
        assert_eq!(r.diagnostics.len(), 1, "{:?}", r.diagnostics);
        assert!(
            r.diagnostics[0]
                .message
                .contains("more than 4 KiB in total (4 x --max-read-file-bytes)"),
            "{}",
            r.diagnostics[0]
        );
    }
}
