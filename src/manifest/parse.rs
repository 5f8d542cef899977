//! Manifest stage, step 1: parse. Turns the files of a [`Snapshot`] into [`Document`]s,
//! one per YAML/JSON document, each with a map from JSON pointer to source position.
//!
//! Input: [`Snapshot`]. Output: [`Document`]s plus [`Diagnostic`]s for files that cannot
//! be parsed or do not belong anywhere. This step never templates and never validates:
//! a value is kept exactly as written.
//!
//! Layout rules:
//! - `data/`, `policy/`, `project/`, `purpose/` at the root name the kind of every
//!   `*.yaml`, `*.yml` and `*.json` file below them, at any depth.
//! - A manifest-looking file anywhere else is an error, so a typo in a directory name
//!   (`policies/`) cannot silently drop objects.
//! - Hidden files and directories (any path component starting with `.`, which covers
//!   `.github/`, `.git/` and the tool's own `.immuta-gitops.yaml`) are skipped, as is any
//!   path the caller excludes. Other files (READMEs, certificates read by `{{ReadFile}}`)
//!   are ignored.
//!
//! Values come from `serde_yaml` (or `serde_json` for `*.json`); positions come from
//! `yaml_rust2`'s marked event parser, walked first ([`super::scan`]), which also
//! enforces the YAML limits before any value tree is built. When the two parsers
//! disagree on the document count, positions fall back to the start of the file.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Map, Number, Value};

use super::scan::scan;
use super::{Diagnostic, Severity, Span};
use crate::limits::{show_bytes, Limits};
use crate::object::Kind;
use crate::source::{FileEntry, Snapshot};

/// Why a file or document could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A manifest-looking file outside the four kind directories.
    #[error("file in unknown directory {0}; expected data/, policy/, project/ or purpose/")]
    UnknownDirectory(String),
    /// A file named like a kind directory (`policy`) where the directory should be.
    #[error("expected a directory of manifests here, found a file")]
    NotADirectory,
    /// A manifest is a symlink that leaves the repository.
    #[error("file is a symbolic link that points outside the repository")]
    EscapingLink,
    /// A manifest that cannot be read: a dangling or looping symlink, a permission error.
    #[error(
        "file cannot be read ({0}); fix or delete it, its objects cannot be left out silently"
    )]
    Unreadable(String),
    /// A manifest file that holds no document at all.
    #[error("file holds no manifest (it is empty, or only comments and `---`); delete the file to remove its object")]
    Empty,
    /// A manifest file whose bytes are not UTF-8.
    #[error("file is not valid UTF-8")]
    NotUtf8,
    /// The YAML parser refused the text.
    #[error("invalid YAML: {0}")]
    Yaml(String),
    /// The JSON parser refused the text.
    #[error("invalid JSON: {0}")]
    Json(String),
    /// A mapping key that is not a string (`1: x`, `[a]: x`).
    #[error("mapping keys must be strings; found {0}")]
    NonStringKey(String),
    /// A YAML tag (`!Ref x`); the V2 API takes plain data only.
    #[error("YAML tags are not supported (found !{0})")]
    Tag(String),
    /// A float JSON cannot carry (`.nan`, `.inf`).
    #[error("number {0} cannot be represented in JSON")]
    BadNumber(String),
    /// A mapping names the same key twice.
    #[error("duplicate mapping key {0:?} (first written at line {1})")]
    DuplicateKey(String, usize),
    /// The file is over `--max-manifest-bytes`.
    #[error("file is {}, over the {} limit (--max-manifest-bytes)", show_bytes(*.0), show_bytes(*.1))]
    TooLarge(u64, u64),
    /// The file has more YAML nodes than `--max-yaml-nodes` (aliases counted expanded).
    #[error("more than {0} YAML nodes (aliases counted as the nodes they repeat); the limit is --max-yaml-nodes")]
    TooManyNodes(u64),
    /// Mappings and sequences nest deeper than `--max-yaml-depth`.
    #[error("YAML nested deeper than {0} levels (aliases counted expanded); the limit is --max-yaml-depth")]
    TooDeep(u32),
    /// A manifest the source did not load (cannot happen for the paths it reads).
    #[error("file was not read with the revision")]
    NotRead,
}

/// A 1-based line and column inside one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
}

/// Where each value of one document was written: JSON pointer → position of its key
/// (mapping entries) or of the item itself (sequence items). `""` is the document root.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpanMap {
    pub(super) path: String,
    pub(super) start: Option<Pos>,
    pub(super) positions: HashMap<String, Pos>,
    /// Mapping pointer → the position of each of its keys, in order (so a key that is not
    /// a string, which has no pointer of its own, can still be pointed at).
    pub(super) keys: HashMap<String, Vec<Pos>>,
}

impl SpanMap {
    /// The span of `pointer`, or of its nearest recorded ancestor, or of the document.
    pub fn span(&self, pointer: &str) -> Span {
        let mut p = pointer;
        loop {
            if let Some(pos) = self.positions.get(p) {
                return self.at(*pos);
            }
            match p.rfind('/') {
                Some(i) => p = p.get(..i).unwrap_or_default(),
                None => break,
            }
        }
        self.at(self.start.unwrap_or(Pos { line: 1, col: 1 }))
    }

    /// The span of the `index`-th key of the mapping at `pointer`, else of the mapping.
    pub fn key_span(&self, pointer: &str, index: usize) -> Span {
        match self.keys.get(pointer).and_then(|k| k.get(index)) {
            Some(pos) => self.at(*pos),
            None => self.span(pointer),
        }
    }

    fn at(&self, pos: Pos) -> Span {
        Span {
            path: self.path.clone(),
            line: pos.line,
            col: pos.col,
        }
    }
}

/// One parsed document of a manifest file.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// The kind named by the top-level directory.
    pub kind: Kind,
    /// The file, relative to the manifest root.
    pub path: String,
    /// 0-based index of the document in its file (empty documents count).
    pub index: usize,
    /// Where the document's root value starts.
    pub span: Span,
    /// The value as written (not yet templated).
    pub body: Value,
    /// Positions of every value.
    pub spans: SpanMap,
}

/// Escapes one JSON-pointer reference token (`~` → `~0`, `/` → `~1`).
pub fn escape_token(token: &str) -> String {
    let mut out = String::with_capacity(token.len());
    push_token(&mut out, token);
    out
}

/// Appends the escaped `token` (no leading `/`) to `pointer`, allocating only to grow it.
pub fn push_token(pointer: &mut String, token: &str) {
    if !token.contains(['~', '/']) {
        pointer.push_str(token);
        return;
    }
    for c in token.chars() {
        match c {
            '~' => pointer.push_str("~0"),
            '/' => pointer.push_str("~1"),
            c => pointer.push(c),
        }
    }
}

/// Appends `/` and the escaped `token` to `pointer`.
pub fn push_child(pointer: &mut String, token: &str) {
    pointer.push('/');
    push_token(pointer, token);
}

/// Appends `/` and the decimal `index` to `pointer`.
pub fn push_index(pointer: &mut String, index: usize) {
    use std::fmt::Write as _;
    let _ = write!(pointer, "/{index}");
}

/// What a file path means for the manifest stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileRole {
    /// A manifest of this kind.
    Manifest(Kind),
    /// A manifest-looking file outside the kind directories.
    Misplaced,
    /// A file where a kind directory (`data`, `policy`, ...) is expected: a checkout gone
    /// wrong, which must not read as "no objects of this kind".
    NotADirectory(Kind),
    /// Anything else: hidden, excluded, or not YAML/JSON.
    Ignored,
}

/// Classifies one snapshot path.
pub fn classify(path: &str, is_excluded: &dyn Fn(&str) -> bool) -> FileRole {
    let parts: Vec<&str> = path.split('/').collect();
    if parts.iter().any(|p| p.starts_with('.')) || is_excluded(path) {
        return FileRole::Ignored;
    }
    if let [single] = parts.as_slice() {
        if let Some(kind) = Kind::from_dir(single) {
            return FileRole::NotADirectory(kind);
        }
    }
    let lower = path.to_ascii_lowercase();
    if ![".yaml", ".yml", ".json"]
        .iter()
        .any(|e| lower.ends_with(e))
    {
        return FileRole::Ignored;
    }
    match (parts.len() > 1).then(|| parts.first().and_then(|d| Kind::from_dir(d))) {
        Some(Some(kind)) => FileRole::Manifest(kind),
        _ => FileRole::Misplaced,
    }
}

/// The kind directory an entry lies in, unless hidden or excluded.
fn unreadable_kind(path: &str, is_excluded: &dyn Fn(&str) -> bool) -> Option<Kind> {
    let mut parts = path.split('/');
    let dir = parts.next()?;
    parts.next()?;
    if path.split('/').any(|p| p.starts_with('.')) || is_excluded(path) {
        return None;
    }
    Kind::from_dir(dir)
}

/// Files below this count are parsed on the calling thread.
const PARALLEL_MIN_FILES: usize = 64;
/// Files a worker claims at a time.
const BATCH: usize = 16;

/// Parses every manifest file of `snapshot`; `is_excluded` drops paths the caller does
/// not want read. Returns the documents that parsed, and every problem found, in path
/// order. Large snapshots are parsed on all cores (each file is independent); the
/// result does not depend on the number of threads.
pub fn parse_snapshot(
    snapshot: &Snapshot,
    is_excluded: &dyn Fn(&str) -> bool,
) -> (Vec<Document>, Vec<Diagnostic>) {
    parse_snapshot_with(snapshot, is_excluded, &|doc| doc)
}

/// [`parse_snapshot`], handing each document to `each` on the thread that parsed it, so
/// per-document work runs in parallel too and a document's span map can be dropped as
/// soon as it is used. Results keep path order, then document order.
pub fn parse_snapshot_with<T: Send>(
    snapshot: &Snapshot,
    is_excluded: &dyn Fn(&str) -> bool,
    each: &(dyn Fn(Document) -> T + Sync),
) -> (Vec<T>, Vec<Diagnostic>) {
    let mut work: Vec<Work<'_>> = Vec::new();
    for (path, entry) in snapshot.files() {
        let kind = match classify(path, is_excluded) {
            // An unreadable entry inside a kind directory may have been a manifest or a
            // directory of them, whatever its name.
            FileRole::Ignored => match (entry, unreadable_kind(path, is_excluded)) {
                (FileEntry::Unreadable(why), Some(kind)) => {
                    work.push(Work::Failed(file_error(
                        path,
                        Some(kind),
                        Error::Unreadable(why.clone()),
                    )));
                    continue;
                }
                _ => continue,
            },
            FileRole::Misplaced => {
                let dir = match path.rsplit_once('/') {
                    Some((d, _)) => format!("{d}/"),
                    None => "./".to_string(),
                };
                work.push(Work::Failed(file_error(
                    path,
                    None,
                    Error::UnknownDirectory(dir),
                )));
                continue;
            }
            FileRole::NotADirectory(kind) => {
                work.push(Work::Failed(file_error(
                    path,
                    Some(kind),
                    Error::NotADirectory,
                )));
                continue;
            }
            FileRole::Manifest(kind) => kind,
        };
        let limit = snapshot.limits().manifest_bytes;
        let refused = match entry {
            FileEntry::Blob(b) if u64::try_from(b.len()).unwrap_or(u64::MAX) > limit => {
                Error::TooLarge(u64::try_from(b.len()).unwrap_or(u64::MAX), limit)
            }
            FileEntry::Blob(b) => match std::str::from_utf8(b) {
                Ok(text) => {
                    work.push(Work::Parse { kind, path, text });
                    continue;
                }
                Err(_) => Error::NotUtf8,
            },
            FileEntry::EscapingLink(_) => Error::EscapingLink,
            FileEntry::TooLarge { size, limit } => Error::TooLarge(*size, *limit),
            FileEntry::Deferred(_) => Error::NotRead,
            FileEntry::Unreadable(why) => Error::Unreadable(why.clone()),
        };
        work.push(Work::Failed(file_error(path, Some(kind), refused)));
    }
    let limits = *snapshot.limits();
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let parsed = if threads > 1 && work.len() >= PARALLEL_MIN_FILES {
        parse_parallel(&work, threads.min(work.len() / BATCH).max(1), &limits, each)
    } else {
        work.iter().map(|w| w.run(&limits, each)).collect()
    };
    let mut docs = Vec::with_capacity(parsed.len());
    let mut diags = Vec::new();
    for r in parsed {
        match r {
            Ok(mut d) => docs.append(&mut d),
            Err(mut e) => diags.append(&mut e),
        }
    }
    (docs, diags)
}

type FileResult<T> = Result<Vec<T>, Vec<Diagnostic>>;

/// One snapshot file, classified.
enum Work<'a> {
    Parse {
        kind: Kind,
        path: &'a str,
        text: &'a str,
    },
    Failed(Diagnostic),
}

impl Work<'_> {
    fn run<T>(&self, limits: &Limits, each: &dyn Fn(Document) -> T) -> FileResult<T> {
        match self {
            Work::Parse { kind, path, text } => parse_file_with(*kind, path, text, limits)
                .map(|docs| docs.into_iter().map(each).collect()),
            Work::Failed(d) => Err(vec![d.clone()]),
        }
    }
}

/// Runs [`Work::run`] on `threads` scoped threads that claim batches of files; results
/// come back in input order.
fn parse_parallel<T: Send>(
    work: &[Work<'_>],
    threads: usize,
    limits: &Limits,
    each: &(dyn Fn(Document) -> T + Sync),
) -> Vec<FileResult<T>> {
    let next = AtomicUsize::new(0);
    let mut batches: Vec<(usize, Vec<FileResult<T>>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let from = next.fetch_add(BATCH, Ordering::Relaxed);
                        let Some(batch) = work.get(from..(from + BATCH).min(work.len())) else {
                            break;
                        };
                        if batch.is_empty() {
                            break;
                        }
                        done.push((from, batch.iter().map(|w| w.run(limits, each)).collect()));
                    }
                    done
                })
            })
            .collect();
        // A panic in a worker is a bug: it propagates as it would on one thread.
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    batches.sort_by_key(|(from, _)| *from);
    batches.into_iter().flat_map(|(_, r)| r).collect()
}

fn file_error(path: &str, kind: Option<Kind>, e: Error) -> Diagnostic {
    diag(
        Span {
            path: path.to_string(),
            line: 1,
            col: 1,
        },
        kind,
        e,
    )
}

fn diag(span: Span, kind: Option<Kind>, e: Error) -> Diagnostic {
    Diagnostic {
        severity: Severity::Error,
        span,
        kind,
        key: None,
        message: e.to_string(),
    }
}

/// Parses one manifest file into its non-empty documents, under the default limits.
///
/// # Errors
/// As [`parse_file_with`].
pub fn parse_file(kind: Kind, path: &str, text: &str) -> Result<Vec<Document>, Vec<Diagnostic>> {
    parse_file_with(kind, path, text, &Limits::default())
}

/// Parses one manifest file into its non-empty documents. The text is first walked as a
/// stream of events, which records positions and stops at the first node over
/// `limits` (node count with aliases expanded, nesting depth) or duplicate key, so no
/// value tree is built for a file that breaks them.
///
/// # Errors
/// Every problem found in the file: syntax errors (with the parser's position), limits,
/// duplicate and non-string keys, tags and unrepresentable numbers; each names the
/// document's object key when the walk got that far.
pub fn parse_file_with(
    kind: Kind,
    path: &str,
    text: &str,
    limits: &Limits,
) -> Result<Vec<Document>, Vec<Diagnostic>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let is_json = path.to_ascii_lowercase().ends_with(".json");
    let scan = scan(path, text, kind.identity_field(), limits);
    let at = |pos: Pos| Span {
        path: path.to_string(),
        line: pos.line,
        col: pos.col,
    };
    if let Some((pos, e)) = scan.problem.clone() {
        let mut d = diag(at(pos), Some(kind), e);
        d.key = scan.identity_at(pos);
        return Err(vec![d]);
    }
    let values = if is_json {
        parse_json(text).map(|v| vec![v])
    } else {
        parse_yaml(text)
    };
    let values = values.map_err(|(pos, e)| {
        // serde_yaml gives up on alias repetition without a position: point at the
        // alias that repeats the most.
        let pos = match (&e, scan.largest_alias) {
            (Error::Yaml(m), Some((alias, _)))
                if pos == NO_POSITION && m.contains("repetition") =>
            {
                alias
            }
            _ => pos,
        };
        let mut d = diag(at(pos), Some(kind), e);
        d.key = scan.identity_at(pos);
        vec![d]
    })?;
    let mut maps = if scan.complete { scan.docs } else { Vec::new() };
    if maps.len() != values.len() {
        maps = Vec::new();
    }
    let mut maps = maps.into_iter();
    let mut docs = Vec::new();
    let mut errors = Vec::new();
    for (index, raw) in values.into_iter().enumerate() {
        let spans = maps.next().unwrap_or_else(|| SpanMap {
            path: path.to_string(),
            ..SpanMap::default()
        });
        let mut errs = Vec::new();
        let body = match raw {
            Raw::Yaml(v) => from_yaml(v, &mut String::new(), &mut errs),
            Raw::Json(v) => v,
        };
        let identity = body
            .get(kind.identity_field())
            .and_then(Value::as_str)
            .map(str::to_string);
        for (pointer, entry, e) in errs {
            let span = match entry {
                Some(i) => spans.key_span(&pointer, i),
                None => spans.span(&pointer),
            };
            let mut d = diag(span, Some(kind), e);
            d.key.clone_from(&identity);
            errors.push(d);
        }
        if body.is_null() {
            continue;
        }
        docs.push(Document {
            kind,
            path: path.to_string(),
            index,
            span: spans.span(""),
            body,
            spans,
        });
    }
    if errors.is_empty() && docs.is_empty() {
        // An emptied file must not read as "this object left Git" (prune would delete it).
        errors.push(diag(
            Span {
                path: path.to_string(),
                line: 1,
                col: 1,
            },
            Some(kind),
            Error::Empty,
        ));
    }
    if errors.is_empty() {
        Ok(docs)
    } else {
        Err(errors)
    }
}

enum Raw {
    Yaml(serde_yaml::Value),
    Json(Value),
}

/// Where an error without a position is reported.
const NO_POSITION: Pos = Pos { line: 1, col: 1 };

fn parse_yaml(text: &str) -> Result<Vec<Raw>, (Pos, Error)> {
    let mut out = Vec::new();
    for de in serde_yaml::Deserializer::from_str(text) {
        let v = <serde_yaml::Value as serde::Deserialize>::deserialize(de).map_err(|e| {
            let pos = e.location().map_or(NO_POSITION, |l| Pos {
                line: l.line(),
                col: l.column(),
            });
            (pos, Error::Yaml(strip_location(&e.to_string())))
        })?;
        out.push(Raw::Yaml(v));
    }
    Ok(out)
}

fn parse_json(text: &str) -> Result<Raw, (Pos, Error)> {
    serde_json::from_str::<Value>(text)
        .map(Raw::Json)
        .map_err(|e| {
            let pos = Pos {
                line: e.line().max(1),
                col: e.column().max(1),
            };
            (pos, Error::Json(strip_location(&e.to_string())))
        })
}

/// Drops the parser's own " at line N column M" suffix: the span already says it.
fn strip_location(msg: &str) -> String {
    match msg.find(" at line ") {
        Some(i) => msg.get(..i).unwrap_or(msg).to_string(),
        None => msg.to_string(),
    }
}

/// Converts a `serde_yaml` value to JSON, recording problems by JSON pointer. `pointer`
/// is the value's pointer; it is extended for children and restored before returning.
/// A conversion problem: the pointer, the index of the offending mapping entry (for keys)
/// and what is wrong.
type YamlProblem = (String, Option<usize>, Error);

fn from_yaml(v: serde_yaml::Value, pointer: &mut String, errs: &mut Vec<YamlProblem>) -> Value {
    use serde_yaml::Value as Y;
    match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => yaml_number(&n).unwrap_or_else(|| {
            errs.push((pointer.to_string(), None, Error::BadNumber(n.to_string())));
            Value::Null
        }),
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => {
            let len = pointer.len();
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                push_index(pointer, i);
                out.push(from_yaml(item, pointer, errs));
                pointer.truncate(len);
            }
            Value::Array(out)
        }
        Y::Mapping(mut m) => {
            let merges = m.contains_key("<<");
            if merges {
                let mut merged = Y::Mapping(m);
                // Merge keys (`<<: *base`) are resolved the way YAML 1.1 tools do.
                let _ = merged.apply_merge();
                m = match merged {
                    Y::Mapping(m) => m,
                    _ => serde_yaml::Mapping::new(),
                };
            }
            let mut out = Map::with_capacity(m.len());
            let len = pointer.len();
            for (i, (k, val)) in m.into_iter().enumerate() {
                let key = match k {
                    Y::String(s) => s,
                    other => {
                        // After a merge the entries no longer follow the text.
                        errs.push((
                            pointer.to_string(),
                            (!merges).then_some(i),
                            Error::NonStringKey(describe_key(&other)),
                        ));
                        continue;
                    }
                };
                push_child(pointer, &key);
                let converted = from_yaml(val, pointer, errs);
                pointer.truncate(len);
                out.insert(key, converted);
            }
            Value::Object(out)
        }
        Y::Tagged(t) => {
            let tag = t.tag.to_string();
            errs.push((
                pointer.to_string(),
                None,
                Error::Tag(tag.trim_start_matches('!').to_string()),
            ));
            Value::Null
        }
    }
}

fn yaml_number(n: &serde_yaml::Number) -> Option<Value> {
    if let Some(i) = n.as_i64() {
        return Some(Value::Number(i.into()));
    }
    if let Some(u) = n.as_u64() {
        return Some(Value::Number(u.into()));
    }
    n.as_f64().and_then(Number::from_f64).map(Value::Number)
}

fn describe_key(k: &serde_yaml::Value) -> String {
    use serde_yaml::Value as Y;
    match k {
        Y::Null => "null".into(),
        Y::Bool(b) => format!("boolean {b}"),
        Y::Number(n) => format!("number {n}"),
        Y::String(s) => format!("string {s:?}"),
        Y::Sequence(_) => "a sequence".into(),
        Y::Mapping(_) => "a mapping".into(),
        Y::Tagged(_) => "a tagged value".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn snap(files: &[(&str, &str)]) -> Snapshot {
        let map = files
            .iter()
            .map(|(p, c)| (p.to_string(), FileEntry::Blob(c.as_bytes().to_vec())))
            .collect();
        Snapshot::new("test", "rev", map)
    }

    fn no_exclusion(_: &str) -> bool {
        false
    }

    #[test]
    fn a_file_where_a_kind_directory_belongs_is_an_error() {
        let (docs, diags) = parse_snapshot(
            &snap(&[("policy", "x"), ("purpose/a.yaml", "name: A\n")]),
            &no_exclusion,
        );
        assert_eq!(docs.len(), 1);
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].span.path, "policy");
        assert!(
            diags[0].message.contains("expected a directory"),
            "{}",
            diags[0].message
        );
        assert_eq!(classify("README", &no_exclusion), FileRole::Ignored);
    }

    #[test]
    fn spans_point_at_keys_and_items() {
        let text = "a: 1\nb:\n  - x: 1\n    y: [1, 2]\n  - z\nactions:\n- rules:\n  - type: Masking\n    config:\n      fields: []\n";
        let docs = parse_file(Kind::Policy, "policy/p.yaml", text).unwrap();
        let s = &docs[0].spans;
        let at = |p: &str| {
            let sp = s.span(p);
            (sp.line, sp.col)
        };
        assert_eq!(at(""), (1, 1));
        assert_eq!(at("/a"), (1, 1));
        assert_eq!(at("/b/0"), (3, 5));
        assert_eq!(at("/b/0/y"), (4, 5));
        assert_eq!(at("/b/0/y/1"), (4, 12));
        assert_eq!(at("/b/1"), (5, 5));
        assert_eq!(at("/actions/0/rules/0/type"), (8, 5));
        assert_eq!(at("/actions/0/rules/0/config/fields"), (10, 7));
        // Unknown pointers fall back to the nearest ancestor.
        assert_eq!(at("/actions/0/rules/0/config/nope"), (9, 5));
    }

    #[test]
    fn multi_document_spans_are_per_document() {
        let text = "name: a\n---\n# empty\n---\nname: b\ndescription: x\n";
        let docs = parse_file(Kind::Purpose, "purpose/p.yaml", text).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1].index, 2);
        assert_eq!(docs[1].span.line, 5);
        assert_eq!(docs[1].spans.span("/description").line, 6);
    }

    #[test]
    fn json_files_parse_with_spans() {
        let text = "{\n  \"name\": \"a\",\n  \"subpurposes\": [\n    {\"name\": \"a.b\"}\n  ]\n}\n";
        let docs = parse_file(Kind::Purpose, "purpose/p.json", text).unwrap();
        assert_eq!(docs[0].body["subpurposes"][0]["name"], "a.b");
        assert_eq!(docs[0].spans.span("/subpurposes/0/name").line, 4);
    }

    #[test]
    fn parse_errors_carry_positions() {
        let cases: &[(&str, &str, usize, usize, &str)] = &[
            (
                "policy/p.yaml",
                "policyKey: broken\nname: [unclosed\ntype: data\n",
                3,
                5,
                "invalid YAML",
            ),
            ("policy/p.yaml", "a: b\n  c: d\n", 2, 4, "invalid YAML"),
            (
                "policy/p.json",
                "{\"a\": 1,\n \"b\" 2}",
                2,
                6,
                "invalid JSON",
            ),
            (
                "policy/p.yaml",
                "a:\n  1: x\n",
                2,
                3,
                "mapping keys must be strings",
            ),
            (
                "policy/p.yaml",
                "a:\n  b: !Ref x\n",
                2,
                3,
                "YAML tags are not supported",
            ),
        ];
        for (path, text, line, col, msg) in cases {
            let errs = parse_file(Kind::Policy, path, text).unwrap_err();
            let d = &errs[0];
            assert_eq!(
                (d.span.line, d.span.col),
                (*line, *col),
                "{path}: {text:?} -> {d}"
            );
            assert!(d.message.contains(msg), "{d}");
            assert!(!d.message.contains(" at line "), "{d}");
        }
    }

    #[test]
    fn layout_rules() {
        let s = snap(&[
            ("policies/extra.yaml", "name: x\n"),
            ("stray.yml", "name: x\n"),
            (".immuta-gitops.yaml", "x: 1\n"),
            (".github/workflows/ci.yml", "on: push\n"),
            ("README.md", "# hi\n"),
            ("data/certs/ca.pem", "pem"),
            ("purpose/deep/nested/p.yml", "name: deep\n"),
            ("skip/me.yaml", "x: 1\n"),
        ]);
        let (docs, diags) = parse_snapshot(&s, &|p: &str| p.starts_with("skip/"));
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0].kind, Kind::Purpose);
        let shown: Vec<String> = diags.iter().map(ToString::to_string).collect();
        assert_eq!(shown.len(), 2, "{shown:?}");
        assert!(
            shown[0]
                .starts_with("policies/extra.yaml:1:1: - -: file in unknown directory policies/"),
            "{shown:?}"
        );
        assert!(shown[1].starts_with("stray.yml:1:1:"), "{shown:?}");
    }

    #[test]
    fn escaping_links_and_non_utf8_are_errors() {
        let mut map = BTreeMap::new();
        map.insert(
            "data/a.yaml".to_string(),
            FileEntry::EscapingLink("/etc/x".into()),
        );
        map.insert(
            "data/b.yaml".to_string(),
            FileEntry::Blob(vec![0xff, 0xfe, b'a']),
        );
        let (docs, diags) = parse_snapshot(&Snapshot::new("o", "r", map), &no_exclusion);
        assert!(docs.is_empty());
        assert!(diags[0].message.contains("outside the repository"));
        assert!(diags[1].message.contains("UTF-8"));
    }

    #[test]
    fn unreadable_and_empty_manifests_are_errors() {
        let unreadable = |why: &str| FileEntry::Unreadable(why.into());
        let mut map = BTreeMap::new();
        for (path, entry) in [
            (
                "data/dangling.yaml",
                unreadable("symbolic link to \"x\" leads nowhere"),
            ),
            (
                "policy/denied.yml",
                unreadable("Permission denied (os error 13)"),
            ),
            ("project/loop.json", unreadable("looping")),
            // No manifest extension, but inside a kind directory: it may have been a
            // directory of manifests.
            ("purpose/team-dir", unreadable("dangling")),
            ("data/empty.yaml", FileEntry::Blob(Vec::new())),
            ("data/blank.yml", FileEntry::Blob(b"  \n\n".to_vec())),
            (
                "policy/comments.yaml",
                FileEntry::Blob(b"# gone\n".to_vec()),
            ),
            (
                "policy/separators.yaml",
                FileEntry::Blob(b"---\n---\n".to_vec()),
            ),
            ("project/null.yaml", FileEntry::Blob(b"~\n".to_vec())),
            (
                "project/bom.yaml",
                FileEntry::Blob("\u{feff}".as_bytes().to_vec()),
            ),
            ("purpose/empty.json", FileEntry::Blob(b" ".to_vec())),
            // Not manifests: ignored whatever their state.
            ("docs/dangling.yaml.md", unreadable("dangling")),
            ("data/.hidden", unreadable("dangling")),
            ("README", unreadable("dangling")),
        ] {
            map.insert(path.to_string(), entry);
        }
        let (docs, diags) = parse_snapshot(&Snapshot::new("o", "r", map), &no_exclusion);
        assert!(docs.is_empty());
        let got: Vec<(&str, Option<Kind>, bool)> = diags
            .iter()
            .map(|d| {
                (
                    d.span.path.as_str(),
                    d.kind,
                    d.message.contains("cannot be read") || d.message.contains("no manifest"),
                )
            })
            .collect();
        let want = [
            ("data/blank.yml", Some(Kind::Data), true),
            ("data/dangling.yaml", Some(Kind::Data), true),
            ("data/empty.yaml", Some(Kind::Data), true),
            ("policy/comments.yaml", Some(Kind::Policy), true),
            ("policy/denied.yml", Some(Kind::Policy), true),
            ("policy/separators.yaml", Some(Kind::Policy), true),
            ("project/bom.yaml", Some(Kind::Project), true),
            ("project/loop.json", Some(Kind::Project), true),
            ("project/null.yaml", Some(Kind::Project), true),
            ("purpose/empty.json", Some(Kind::Purpose), false),
            ("purpose/team-dir", Some(Kind::Purpose), true),
        ];
        assert_eq!(got, want, "{diags:#?}");
        assert!(diags.iter().all(|d| d.severity == Severity::Error));
        assert!(
            diags[1]
                .to_string()
                .starts_with("data/dangling.yaml:1:1: data -: file cannot be read (symbolic link"),
            "{}",
            diags[1]
        );
        // A file with one real document among empty ones is fine.
        let ok = parse_file(Kind::Purpose, "purpose/x.yaml", "---\n# c\n---\nname: x\n").unwrap();
        assert_eq!(ok.len(), 1);
    }

    #[test]
    fn pointer_tokens_are_escaped() {
        assert_eq!(escape_token("a/b~c"), "a~1b~0c");
        assert_eq!(escape_token("plain"), "plain");
        let mut p = String::from("/x");
        push_child(&mut p, "a/b");
        push_index(&mut p, 3);
        assert_eq!(p, "/x/a~1b/3");
    }

    #[test]
    fn large_snapshots_parse_in_path_order_with_every_problem() {
        let mut files: Vec<(String, String)> = Vec::new();
        for i in 0..300 {
            let body = match i % 50 {
                7 => "name: [unclosed\n".to_string(),
                13 => "a:\n  1: x\n".to_string(),
                _ => format!("name: p{i:04}\n---\nname: q{i:04}\n"),
            };
            files.push((format!("purpose/p{i:04}.yaml"), body));
        }
        files.push(("stray/x.yaml".into(), "a: 1\n".into()));
        let refs: Vec<(&str, &str)> = files
            .iter()
            .map(|(p, c)| (p.as_str(), c.as_str()))
            .collect();
        let (docs, diags) = parse_snapshot(&snap(&refs), &no_exclusion);
        let mut want_docs = Vec::new();
        let mut want_diags = Vec::new();
        for (p, c) in &files {
            if p.starts_with("stray/") {
                continue;
            }
            match parse_file(Kind::Purpose, p, c) {
                Ok(mut d) => want_docs.append(&mut d),
                Err(mut e) => want_diags.append(&mut e),
            }
        }
        assert_eq!(docs, want_docs);
        assert_eq!(docs.len(), 2 * (300 - 12));
        assert_eq!(diags.len(), want_diags.len() + 1);
        assert_eq!(&diags[..want_diags.len()], &want_diags[..]);
        assert!(diags[want_diags.len()]
            .message
            .contains("unknown directory"));
    }

    #[test]
    fn issue_11_manifests_over_the_size_limit_are_refused_unparsed() {
        let mut map = BTreeMap::new();
        map.insert(
            "policy/big.yaml".to_string(),
            FileEntry::Blob(format!("policyKey: big\nx: '{}'\n", "y".repeat(5000)).into_bytes()),
        );
        map.insert(
            "policy/huge.yaml".to_string(),
            FileEntry::TooLarge {
                size: 1 << 30,
                limit: 4096,
            },
        );
        map.insert(
            "policy/ok.yaml".to_string(),
            FileEntry::Blob(b"policyKey: ok\n".to_vec()),
        );
        let limits = Limits {
            manifest_bytes: 4096,
            ..Limits::default()
        };
        let snap = Snapshot::new("o", "r", map).with_limits(limits);
        let (docs, diags) = parse_snapshot(&snap, &no_exclusion);
        assert_eq!(docs.len(), 1);
        let shown: Vec<String> = diags.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "policy/big.yaml:1:1: policy -: file is 5021 bytes, over the 4 KiB limit (--max-manifest-bytes)",
                "policy/huge.yaml:1:1: policy -: file is 1 GiB, over the 4 KiB limit (--max-manifest-bytes)",
            ]
        );
    }
}
