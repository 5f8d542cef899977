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
//! Values, positions and the YAML limits come from one walk over `yaml_rust2`'s marked
//! events ([`super::yaml`]); `*.json` files take their values from `serde_json` and
//! their positions from the same walk.

use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

pub use super::spans::{escape_token, push_child, push_index, push_token, Pos, SpanMap};
use super::yaml;
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
    /// A merge key (`<<`) whose value is not a mapping or a sequence of mappings.
    #[error("merge key << takes a mapping or a sequence of mappings")]
    BadMerge,
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

/// Parses one manifest file into its non-empty documents, in one walk over its YAML
/// events ([`super::yaml`]): values, positions and the limits (node count with aliases
/// expanded, nesting depth, duplicate keys) together, so a file that breaks a limit
/// costs no more than the walk up to the node that breaks it. A `*.json` file takes its
/// values from `serde_json` (JSON's own number and string rules) and its positions from
/// the same walk.
///
/// # Errors
/// Every problem found in the file: syntax errors (with the parser's position), limits,
/// duplicate and non-string keys, tags, unrepresentable numbers and bad merge keys; each
/// names the document's object key when the walk got that far.
pub fn parse_file_with(
    kind: Kind,
    path: &str,
    text: &str,
    limits: &Limits,
) -> Result<Vec<Document>, Vec<Diagnostic>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let is_json = path.to_ascii_lowercase().ends_with(".json");
    let at = |pos: Pos| Span {
        path: path.to_string(),
        line: pos.line,
        col: pos.col,
    };
    let walked = yaml::load(path, text, kind.identity_field(), limits, !is_json);
    let loaded = if is_json {
        let value = parse_json(text).map_err(|(pos, e)| vec![diag(at(pos), Some(kind), e)])?;
        // JSON is YAML's flow style: the walk gives its positions and its limits. A file
        // `serde_json` reads and the walk does not (a tab where YAML wants none) keeps
        // the file's start as every position.
        let mut docs = match walked {
            Ok(docs) => docs,
            Err(f) if matches!(f.error, Error::Yaml(_)) => Vec::new(),
            Err(f) => {
                let mut d = diag(at(f.pos), Some(kind), f.error);
                d.key = f.identity;
                return Err(vec![d]);
            }
        };
        docs.truncate(1);
        let mut doc = docs.pop().unwrap_or_else(|| yaml::Loaded {
            value: Value::Null,
            spans: SpanMap {
                path: path.to_string(),
                ..SpanMap::default()
            },
            problems: Vec::new(),
        });
        doc.value = value;
        doc.problems.clear();
        vec![doc]
    } else {
        walked.map_err(|f| {
            let mut d = diag(at(f.pos), Some(kind), f.error);
            d.key = f.identity;
            vec![d]
        })?
    };
    let mut docs = Vec::new();
    let mut errors = Vec::new();
    for (index, doc) in loaded.into_iter().enumerate() {
        let identity = doc
            .value
            .get(kind.identity_field())
            .and_then(Value::as_str)
            .map(str::to_string);
        for (pos, e) in doc.problems {
            let mut d = diag(at(pos), Some(kind), e);
            d.key.clone_from(&identity);
            errors.push(d);
        }
        if doc.value.is_null() {
            continue;
        }
        docs.push(Document {
            kind,
            path: path.to_string(),
            index,
            span: doc.spans.span(""),
            body: doc.value,
            spans: doc.spans,
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

fn parse_json(text: &str) -> Result<Value, (Pos, Error)> {
    serde_json::from_str::<Value>(text).map_err(|e| {
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

#[cfg(test)]
mod tests;
