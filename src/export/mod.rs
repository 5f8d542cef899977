//! Export: the live tenant written in the repository layout (`data/ policy/ project/
//! purpose/`, one file per object), so a team can start from what it already has.
//!
//! Input: a [`TenantRead`] (the whole-tenant read of `live::tenant`). Output: an
//! [`Export`] (the files to write, and what could not be exported), then files under the
//! output directory ([`write`]).
//!
//! - Only user objects: what Immuta generated itself (system policies and purposes,
//!   schema projects) is never exported, nor is a sub-purpose on its own (it is written
//!   inside its root purpose's document, as `subpurposes`).
//! - `--kind` and `--match <glob over kind/name>` select objects.
//! - File names come from keys ([`names`]): stable, filesystem-safe, never outside the
//!   output directory, collisions resolved.
//! - Bodies are the normalised V2 documents the plan compares, in the schema's field
//!   order ([`render`]); a document the manifest stage does not accept as it is carries
//!   the incomplete marker, so `validate` refuses it until a person fills it in.
//! - Nothing is overwritten without `force`; files are written atomically, each within
//!   the manifest size limit.
//!
//! Data connections ([`data`]) are exported from the V1 data-source reads with their
//! credentials as `{{EnvVar}}` placeholders, and always marked incomplete: V1 does not
//! give their connection keys.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Component, Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};

use crate::live::tenant::{ReadFailure, TenantRead};
use crate::live::LiveObject;
use crate::object::{Kind, ObjectKey};

pub mod data;
pub mod names;
pub mod render;

/// What to export.
#[derive(Debug, Clone)]
pub struct Options {
    /// Kinds to export.
    pub kinds: BTreeSet<Kind>,
    /// `kind/name` globs; empty: everything.
    pub matches: Vec<String>,
    /// Largest file written (the manifest limit: a larger file could not be loaded back).
    pub max_file_bytes: u64,
}

/// One file to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportFile {
    /// The object.
    pub key: ObjectKey,
    /// Path relative to the output directory (`policy/mask-ssn.yaml`).
    pub path: String,
    /// The file's text.
    pub text: String,
    /// What the reads could not reconstruct (empty: complete).
    pub missing: Vec<String>,
}

/// An object that was not exported, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The object as named in the tenant (`policy/x`, or the V1 label when unreadable).
    pub object: String,
    /// Why.
    pub reason: String,
}

/// The result of [`build`].
#[derive(Debug, Clone, Default)]
pub struct Export {
    /// Files, in path order.
    pub files: Vec<ExportFile>,
    /// Objects that could not be exported.
    pub failed: Vec<Skipped>,
    /// `{{EnvVar}}` variables the files use, and what each must hold.
    pub variables: Vec<(String, String)>,
}

/// Export failures.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A `--match` glob does not parse.
    #[error("invalid --match pattern {pattern:?}: {message}")]
    BadPattern {
        /// The pattern.
        pattern: String,
        /// Why.
        message: String,
    },
    /// Files exist and `--force` was not given: nothing was written.
    #[error("refusing to overwrite {} existing file(s) without --force: {}", .0.len(), .0.join(", "))]
    Exists(Vec<String>),
    /// The output directory (or a kind directory in it) is not a plain directory.
    #[error("{0}")]
    BadOutput(String),
    /// Writing failed.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

fn globs(patterns: &[String]) -> Result<Option<GlobSet>, Error> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        let g = Glob::new(p).map_err(|e| Error::BadPattern {
            pattern: p.clone(),
            message: e.kind().to_string(),
        })?;
        b.add(g);
    }
    b.build().map(Some).map_err(|e| Error::BadPattern {
        pattern: patterns.join(", "),
        message: e.kind().to_string(),
    })
}

/// The live purpose whose document holds `o` (its topmost live ancestor), if any.
fn root_purpose<'a>(o: &LiveObject, purposes: &BTreeMap<&'a str, bool>) -> Option<(&'a str, bool)> {
    if o.key.kind != Kind::Purpose {
        return None;
    }
    o.key.name.match_indices('.').find_map(|(i, _)| {
        let prefix = o.key.name.get(..i)?;
        purposes
            .get_key_value(prefix)
            .map(|(k, system)| (*k, *system))
    })
}

/// Chooses, names and renders the objects to export. Pure.
///
/// # Errors
/// [`Error::BadPattern`].
pub fn build(read: &TenantRead, opts: &Options) -> Result<Export, Error> {
    let matcher = globs(&opts.matches)?;
    let purposes: BTreeMap<&str, bool> = read
        .objects
        .iter()
        .filter(|o| o.key.kind == Kind::Purpose)
        .map(|o| (o.key.name.as_str(), o.system))
        .collect();
    let mut out = Export::default();
    let mut chosen: Vec<&LiveObject> = Vec::new();
    for o in &read.objects {
        if o.system || !opts.kinds.contains(&o.key.kind) {
            continue;
        }
        if matcher
            .as_ref()
            .is_some_and(|m| !m.is_match(o.key.to_string()))
        {
            continue;
        }
        match root_purpose(o, &purposes) {
            // Written inside its root's document.
            Some((_, false)) => continue,
            // A purpose a user added under one of Immuta's: only the root's document
            // could hold it, and that document is not the tool's to write.
            Some((root, true)) => {
                out.failed.push(Skipped {
                    object: o.key.to_string(),
                    reason: format!(
                        "it is a sub-purpose of the built-in purpose {root:?}, which only that purpose's document can declare; it is not exported"
                    ),
                });
                continue;
            }
            None => {}
        }
        chosen.push(o);
    }
    out.failed.extend(
        read.failures
            .iter()
            .filter(|f| opts.kinds.contains(&f.kind))
            .map(failure),
    );
    let keys: Vec<ObjectKey> = chosen.iter().map(|o| o.key.clone()).collect();
    let paths = names::paths(&keys);
    let mut taken: BTreeMap<String, ObjectKey> = BTreeMap::new();
    for o in chosen {
        let Some(path) = paths.get(&o.key) else {
            continue;
        };
        if let Some(first) = taken.insert(path.to_ascii_lowercase(), o.key.clone()) {
            out.failed.push(Skipped {
                object: o.key.to_string(),
                reason: format!("its file name {path} is also {first}'s"),
            });
            continue;
        }
        let size = |text: &str| u64::try_from(text.len()).unwrap_or(u64::MAX);
        let rendered = if o.key.kind == Kind::Data {
            let p = data::prepare(o);
            let vars: Vec<String> = p.variables.iter().map(|(v, _)| v.clone()).collect();
            out.variables.extend(p.variables.iter().cloned());
            render::render_with(&p.object, path, &p.missing, &vars)
        } else {
            render::render(o, path)
        };
        match rendered {
            Ok(r) if size(&r.text) > opts.max_file_bytes => out.failed.push(Skipped {
                object: o.key.to_string(),
                reason: format!(
                    "its document is {}, over the {} manifest limit (--max-manifest-bytes)",
                    crate::limits::show_bytes(size(&r.text)),
                    crate::limits::show_bytes(opts.max_file_bytes)
                ),
            }),
            Ok(r) => out.files.push(ExportFile {
                key: o.key.clone(),
                path: path.clone(),
                text: r.text,
                missing: r.missing,
            }),
            Err(e) => out.failed.push(Skipped {
                object: o.key.to_string(),
                reason: format!("cannot be written as YAML: {e}"),
            }),
        }
    }
    out.files.sort_by(|a, b| a.path.cmp(&b.path));
    out.failed.sort_by(|a, b| a.object.cmp(&b.object));
    Ok(out)
}

fn failure(f: &ReadFailure) -> Skipped {
    Skipped {
        object: f.object.clone(),
        reason: f.message.clone(),
    }
}

/// `rel` is a plain relative path of normal components.
fn is_contained(rel: &str) -> bool {
    let p = Path::new(rel);
    !rel.is_empty() && p.components().all(|c| matches!(c, Component::Normal(_)))
}

/// A directory under `out` that is a symlink (or not a directory) could send files
/// elsewhere.
fn check_dir(dir: &Path) -> Result<(), Error> {
    match std::fs::symlink_metadata(dir) {
        Ok(m) if m.file_type().is_symlink() => Err(Error::BadOutput(format!(
            "{} is a symbolic link; export writes only into plain directories",
            dir.display()
        ))),
        Ok(m) if !m.is_dir() => Err(Error::BadOutput(format!(
            "{} exists and is not a directory",
            dir.display()
        ))),
        _ => Ok(()),
    }
}

/// Writes the files under `out`, each atomically (a temporary file in the same
/// directory, then a rename). With `force` false, nothing is written when any target
/// exists.
///
/// # Errors
/// [`Error::Exists`], [`Error::BadOutput`] or [`Error::Io`]; files written before an
/// I/O error stay written.
pub fn write(out: &Path, files: &[ExportFile], force: bool) -> Result<Vec<PathBuf>, Error> {
    let mut targets = Vec::with_capacity(files.len());
    for f in files {
        if !is_contained(&f.path) {
            return Err(Error::BadOutput(format!(
                "refusing the file name {:?}: it would leave {}",
                f.path,
                out.display()
            )));
        }
        targets.push(out.join(&f.path));
    }
    if !force {
        let existing: Vec<String> = files
            .iter()
            .zip(&targets)
            .filter(|(_, t)| std::fs::symlink_metadata(t).is_ok())
            .map(|(f, _)| f.path.clone())
            .collect();
        if !existing.is_empty() {
            return Err(Error::Exists(existing));
        }
    }
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| Error::Io { path, source }
    };
    std::fs::create_dir_all(out).map_err(io(out))?;
    let mut written = Vec::with_capacity(files.len());
    for (f, target) in files.iter().zip(targets) {
        let dir = target.parent().unwrap_or(out);
        check_dir(dir)?;
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        check_dir(dir)?;
        if std::fs::symlink_metadata(&target).is_ok_and(|m| m.is_dir()) {
            return Err(Error::BadOutput(format!(
                "{} exists and is a directory",
                target.display()
            )));
        }
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io(dir))?;
        tmp.write_all(f.text.as_bytes()).map_err(io(&target))?;
        tmp.as_file().sync_all().map_err(io(&target))?;
        tmp.persist(&target).map_err(|e| Error::Io {
            path: target.display().to_string(),
            source: e.error,
        })?;
        written.push(target);
    }
    Ok(written)
}

#[cfg(test)]
mod tests;
