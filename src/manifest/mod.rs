//! Stage 2: manifest. Parses, templates and validates the files of a [`Snapshot`] into a
//! [`DesiredSet`].
//!
//! Input: [`Snapshot`]. Output: [`DesiredSet`] or every [`Diagnostic`] found in one pass.
//! This stage does no I/O beyond the snapshot (and the environment, for `{{EnvVar}}`), and
//! never lets a templated value into a message: values that came from placeholders and
//! connection credentials are recorded as sensitive paths and added to the redactor.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;
use serde_json::Value;

use crate::object::{Kind, ObjectKey};
use crate::redact::Redactor;
use crate::source::Snapshot;

pub mod parse;
pub mod schema;
mod spans;
pub mod template;
pub mod validate;
mod yaml;

/// A place in a manifest file: 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Span {
    /// Path relative to the manifest root, `/`-separated (`policy/mask.yaml`).
    pub path: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.path, self.line, self.col)
    }
}

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The revision is refused: nothing is written to Immuta.
    Error,
    /// Reported, the revision still applies (undocumented open-enum values, unmodelled fields).
    Warning,
}

/// One problem found in the manifests, rendered `path:line:col: <kind> <key>: message`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Where.
    pub span: Span,
    /// The object's kind, when the file's directory names one.
    pub kind: Option<Kind>,
    /// The object's key, when it could be read (`-` is printed otherwise).
    pub key: Option<String>,
    /// What is wrong, never containing a secret value.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = self.kind.map_or("-", Kind::as_str);
        let key = self.key.as_deref().unwrap_or("-");
        let warn = if self.severity == Severity::Warning {
            "warning: "
        } else {
            ""
        };
        write!(
            f,
            "{}: {} {}: {}{}",
            self.span, kind, key, warn, self.message
        )
    }
}

impl Diagnostic {
    /// Whether this is the warning for a field the schema does not know (what
    /// `validate --strict` turns into an error).
    pub fn is_unknown_field(&self) -> bool {
        self.severity == Severity::Warning
            && self.message.starts_with("field ")
            && self.message.contains(validate::UNMODELLED)
    }
}

/// One desired object: a V2 payload ready to POST.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    /// Identity.
    pub key: ObjectKey,
    /// Where the document starts.
    pub span: Span,
    /// The payload after templating, exactly what is sent to Immuta.
    pub body: Value,
    /// JSON pointers (`/connection/password`) of values that are secret: they are shown
    /// as `(sensitive)` in plans and never logged.
    pub sensitive: BTreeSet<String>,
}

/// Every desired object of one revision.
#[derive(Debug, Clone, Default)]
pub struct DesiredSet {
    /// Where the files came from (no credentials).
    pub origin: String,
    /// The source, canonically: what the inventory of managed objects is keyed by.
    pub source: crate::source::SourceId,
    /// The source revision.
    pub revision: String,
    /// Objects by key, in apply order.
    pub objects: BTreeMap<ObjectKey, Manifest>,
    /// Knows every secret value of this revision.
    pub redactor: Redactor,
    /// Warnings found while loading (the set is still valid).
    pub warnings: Vec<Diagnostic>,
    /// Renames the revision declares (`moved:` in `.immuta-gitops.yaml`), each checked
    /// against the objects by `plan::moves::attach`.
    pub moved: Vec<crate::object::Move>,
    /// Every purpose and data source a project names, with where it is written: checked
    /// against Git and the tenant when the plan is made (`crate::plan::references`).
    pub references: Vec<Reference>,
}

/// A name one object uses to refer to another (a project's `purposes` and `datasources`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The object that refers.
    pub from: ObjectKey,
    /// What it refers to: [`Kind::Purpose`] (a purpose's full name) or [`Kind::Data`] (a
    /// data source's name, not a connection key).
    pub to: Kind,
    /// The name.
    pub name: String,
    /// Where the name is written.
    pub span: Span,
}

/// The environment `{{EnvVar}}` and `${NAME}` read from.
pub trait Env {
    /// The value of a variable, if set.
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

/// The process environment for `validate`, which runs without secrets (CI on a pull
/// request): an unset variable reads as a stand-in value, [`OFFLINE_STAND_IN`], and is
/// recorded, so every placeholder is still checked for form and the rest of the
/// document is validated; [`OfflineEnv::unset`] lists the names for one warning.
/// `reconcile` and `run` use [`ProcessEnv`], where an unset variable is an error.
#[derive(Debug, Default)]
pub struct OfflineEnv {
    unset: std::sync::Mutex<BTreeSet<String>>,
}

/// What an unset variable reads as under [`OfflineEnv`].
pub const OFFLINE_STAND_IN: &str = "unset-in-validate";

impl OfflineEnv {
    /// The variables read that were not set, sorted.
    pub fn unset(&self) -> Vec<String> {
        self.unset
            .lock()
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }
}

impl Env for OfflineEnv {
    fn var(&self, name: &str) -> Option<String> {
        if let Ok(v) = std::env::var(name) {
            return Some(v);
        }
        if let Ok(mut s) = self.unset.lock() {
            s.insert(name.to_string());
        }
        Some(OFFLINE_STAND_IN.to_string())
    }
}

impl Env for BTreeMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

/// Parses, templates and validates every manifest of the snapshot.
///
/// # Errors
/// Every error found in one pass (warnings found on the way are included), sorted by
/// file and position. Messages never contain a secret value.
pub fn load(snapshot: &Snapshot, env: &dyn Env) -> Result<DesiredSet, Vec<Diagnostic>> {
    load_filtered(snapshot, env, &|_| false)
}

/// [`load`], skipping every snapshot path for which `is_excluded` returns true (on top of
/// hidden files and directories, which are always skipped).
///
/// # Errors
/// As [`load`].
pub fn load_filtered(
    snapshot: &Snapshot,
    env: &dyn Env,
    is_excluded: &dyn Fn(&str) -> bool,
) -> Result<DesiredSet, Vec<Diagnostic>> {
    // Documents without placeholders are validated on the thread that parsed them;
    // the others are templated here (the environment is read from one thread only).
    let (prepared, mut diagnostics) = parse::parse_snapshot_with(snapshot, is_excluded, &|doc| {
        if template::has_placeholders(&doc.body) {
            Prepared::Pending(doc)
        } else {
            Prepared::Ready(finish(doc, template::Rendered::default()))
        }
    });
    let ctx = template::Context { snapshot, env };
    let mut redactor = Redactor::new();
    let mut objects: BTreeMap<ObjectKey, Manifest> = BTreeMap::new();
    let mut seen: BTreeMap<ObjectKey, Span> = BTreeMap::new();
    let mut purposes = Vec::new();
    let mut references = Vec::new();
    for item in prepared {
        let ready = match item {
            Prepared::Ready(r) => r,
            Prepared::Pending(mut doc) => {
                let raw_key = doc
                    .body
                    .get(doc.kind.identity_field())
                    .and_then(Value::as_str)
                    .map(str::to_string);
                let rendered = template::render(&mut doc, &ctx, raw_key.as_deref());
                finish(doc, rendered)
            }
        };
        redactor.extend(&ready.secrets);
        diagnostics.extend(ready.diagnostics);
        purposes.extend(ready.purposes);
        let Some((name, key_span)) = ready.identity else {
            continue;
        };
        let key = ObjectKey::new(ready.kind, name);
        if let Some(first) = seen.get(&key) {
            diagnostics.push(validate::duplicate(&key, &key_span, first));
            continue;
        }
        seen.insert(key.clone(), key_span);
        references.extend(
            ready
                .references
                .into_iter()
                .map(|(to, name, span)| Reference {
                    from: key.clone(),
                    to,
                    name,
                    span,
                }),
        );
        objects.insert(
            key.clone(),
            Manifest {
                key,
                span: ready.span,
                body: ready.body,
                sensitive: ready.sensitive,
            },
        );
    }
    diagnostics.extend(validate::names::purpose_collisions(&purposes));
    for d in &mut diagnostics {
        d.message = redactor.redact(&d.message);
        d.key = d.key.as_deref().map(|k| redactor.redact(k));
    }
    diagnostics.sort_by(|a, b| (&a.span, a.severity).cmp(&(&b.span, b.severity)));
    if diagnostics.iter().any(|d| d.severity == Severity::Error) {
        return Err(diagnostics);
    }
    Ok(DesiredSet {
        origin: snapshot.origin.clone(),
        source: snapshot.id.clone(),
        revision: snapshot.revision.clone(),
        objects,
        redactor,
        warnings: diagnostics,
        references,
        moved: Vec::new(),
    })
}

/// A parsed document on its way to [`load_filtered`]'s merge.
enum Prepared {
    /// Templated (or free of placeholders) and validated.
    Ready(Loaded),
    /// Holds placeholders: templated and validated on the loading thread.
    Pending(parse::Document),
}

/// One document after templating and validation; its span map is already dropped.
struct Loaded {
    kind: Kind,
    span: Span,
    body: Value,
    sensitive: BTreeSet<String>,
    /// Substituted values and connection credentials, in the order they were found.
    secrets: Redactor,
    /// Templating diagnostics, then validation ones.
    diagnostics: Vec<Diagnostic>,
    identity: Option<(String, Span)>,
    /// The full purpose names it declares, for the cross-document check.
    purposes: Vec<validate::names::PurposeName>,
    /// The names it refers to (`from` is filled in once the identity is known).
    references: Vec<(Kind, String, Span)>,
}

/// Validates a templated document (`rendered` is what templating found).
fn finish(doc: parse::Document, rendered: template::Rendered) -> Loaded {
    let mut sensitive = rendered.sensitive;
    let mut secrets = rendered.secrets;
    let validated = validate::validate(&doc, &mut sensitive, &mut secrets);
    let purposes = validate::names::purpose_names(&doc);
    let references = references(&doc, &sensitive);
    let mut diagnostics = rendered.diagnostics;
    diagnostics.extend(validated.diagnostics);
    Loaded {
        kind: doc.kind,
        span: doc.span,
        body: doc.body,
        sensitive,
        secrets,
        diagnostics,
        identity: validated.identity,
        purposes,
        references,
    }
}

/// The purposes and data sources a project names, each with its span. A templated name
/// is left out: it is secret, and validation already refuses it where it is an identity.
fn references(doc: &parse::Document, sensitive: &BTreeSet<String>) -> Vec<(Kind, String, Span)> {
    if doc.kind != Kind::Project {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (field, to) in [("purposes", Kind::Purpose), ("datasources", Kind::Data)] {
        let Some(items) = doc.body.get(field).and_then(Value::as_array) else {
            continue;
        };
        for (i, item) in items.iter().enumerate() {
            let pointer = format!("/{field}/{i}");
            if let (Some(name), false) = (item.as_str(), sensitive.contains(&pointer)) {
                out.push((to, name.to_string(), doc.spans.span(&pointer)));
            }
        }
    }
    out
}
