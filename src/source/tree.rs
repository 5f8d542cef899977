//! Stage 1, Git tree reader: turns one commit's tree (under a sub-directory) into the
//! files of a [`Snapshot`], reading blobs straight from the object database.
//!
//! Input: a repository, a commit id and `--path`. Output: [`Snapshot`].
//!
//! It never checks out a working tree, never follows a symlink out of the sub-directory
//! (such links become [`FileEntry::EscapingLink`]), follows a directory symlink at most
//! once (so link loops end), and keeps submodules (whose files are not in the commit)
//! as [`FileEntry::Unreadable`]. Only blobs [`is_read_eagerly`] names
//! are loaded, and only when their header says they fit `--max-manifest-bytes`; the
//! others are recorded as [`Deferred`] with their size.

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;

use git2::{ErrorCode, ObjectType, Oid, Repository, Tree};

use super::{
    is_read_eagerly, read_blob_limited, split_sub_path, Deferred, Error, FileEntry, Limits,
    Location, Snapshot,
};

/// Why a submodule is not read.
pub(crate) const SUBMODULE: &str =
    "a Git submodule: its files are not part of this repository's commit";

/// Git's file mode for a symbolic link.
const LINK_MODE: i32 = 0o120000;

/// Symlinks followed while resolving one path before it counts as a loop (Linux's limit
/// is 40; manifests never need more than a few).
const MAX_LINK_HOPS: u32 = 16;

/// Reads the tree of commit `oid` under `sub_path` into a snapshot whose revision is the
/// full commit SHA.
///
/// # Errors
/// [`Error::PathNotFound`] when `sub_path` contains `..` or names no directory;
/// [`Error::Git`] (op `read`, message not yet redacted) when an object cannot be read.
pub(super) fn read_commit(
    repo: &Repository,
    oid: Oid,
    sub_path: Option<&str>,
    origin: &str,
    limits: &Limits,
) -> Result<Snapshot, Error> {
    let revision = oid.to_string();
    let read_err = |e: git2::Error| Error::Git {
        op: "read",
        origin: origin.to_string(),
        message: e.message().to_string(),
    };
    let commit = repo.find_commit(oid).map_err(read_err)?;
    // `summary` is the first paragraph with its line breaks folded; cut it here so a
    // huge commit message is never carried around (the notifier cuts again after
    // redaction).
    let subject = commit.summary().map(|s| {
        s.chars()
            .take(crate::limits::MAX_SUBJECT_CHARS * 4)
            .collect::<String>()
    });
    let root = commit.tree().map_err(read_err)?;
    let path_not_found = || Error::PathNotFound {
        path: sub_path.unwrap_or_default().to_string(),
        origin: origin.to_string(),
        revision: revision.clone(),
    };
    let parts = split_sub_path(sub_path).ok_or_else(path_not_found)?;
    let (base_tree, base) = match resolve(repo, &root, &[], &parts.join("/")).map_err(read_err)? {
        Resolved::Tree(id, comps) => (repo.find_tree(id).map_err(read_err)?, comps),
        _ => return Err(path_not_found()),
    };
    let mut reader = Reader {
        repo,
        root: &root,
        base,
        files: BTreeMap::new(),
        limit: limits.manifest_bytes,
    };
    let real = reader.base.clone();
    reader
        .walk(&base_tree, &real, "", false)
        .map_err(read_err)?;
    Ok(Snapshot::new(origin, revision, reader.files)
        .with_limits(*limits)
        .with_subject(subject))
}

/// Where a path inside the commit leads once every symlink on the way is followed.
#[derive(Debug, PartialEq, Eq)]
enum Resolved {
    /// A file, with its real path from the repository root.
    Blob(Oid, Vec<String>),
    /// A directory, with its real path from the repository root.
    Tree(Oid, Vec<String>),
    /// An absolute target, or `..` past the repository root.
    Outside,
    /// Nothing there, a submodule, or a link loop.
    Dangling,
}

fn components(path: &str) -> impl DoubleEndedIterator<Item = String> + '_ {
    path.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .map(str::to_string)
}

/// Follows `target` from directory `start` (components from the repository root),
/// resolving symlinks component by component as a file system would.
fn resolve(
    repo: &Repository,
    root: &Tree<'_>,
    start: &[String],
    target: &str,
) -> Result<Resolved, git2::Error> {
    if target.starts_with('/') {
        return Ok(Resolved::Outside);
    }
    let mut pending: VecDeque<String> = components(target).collect();
    let mut cur: Vec<String> = start.to_vec();
    let mut hops = 0;
    while let Some(comp) = pending.pop_front() {
        if comp == ".." {
            if cur.pop().is_none() {
                return Ok(Resolved::Outside);
            }
            continue;
        }
        cur.push(comp);
        let entry = match root.get_path(Path::new(&cur.join("/"))) {
            Ok(e) => e,
            Err(e) if e.code() == ErrorCode::NotFound => return Ok(Resolved::Dangling),
            Err(e) => return Err(e),
        };
        if entry.filemode() == LINK_MODE {
            hops += 1;
            if hops > MAX_LINK_HOPS {
                return Ok(Resolved::Dangling);
            }
            cur.pop();
            let blob = repo.find_blob(entry.id())?;
            let link = String::from_utf8_lossy(blob.content()).into_owned();
            if link.starts_with('/') {
                return Ok(Resolved::Outside);
            }
            for c in components(&link).rev() {
                pending.push_front(c);
            }
        }
    }
    if cur.is_empty() {
        return Ok(Resolved::Tree(root.id(), cur));
    }
    let entry = root.get_path(Path::new(&cur.join("/")))?;
    Ok(match entry.kind() {
        Some(ObjectType::Tree) => Resolved::Tree(entry.id(), cur),
        Some(ObjectType::Blob) => Resolved::Blob(entry.id(), cur),
        _ => Resolved::Dangling,
    })
}

/// The walk over the sub-directory `base` of `root`, collecting files.
struct Reader<'r, 't> {
    repo: &'r Repository,
    root: &'t Tree<'r>,
    base: Vec<String>,
    files: BTreeMap<String, FileEntry>,
    /// `--max-manifest-bytes`.
    limit: u64,
}

impl Reader<'_, '_> {
    /// Adds every file of `tree` (whose real location is `real`) under `prefix`.
    /// `in_link` is set inside a followed directory symlink, where no further directory
    /// link is followed.
    fn walk(
        &mut self,
        tree: &Tree<'_>,
        real: &[String],
        prefix: &str,
        in_link: bool,
    ) -> Result<(), git2::Error> {
        for entry in tree.iter() {
            let Some(name) = entry.name() else {
                tracing::warn!(dir = prefix, "skipping a file whose name is not UTF-8");
                continue;
            };
            let path = if prefix.is_empty() {
                name.to_string()
            } else {
                format!("{prefix}/{name}")
            };
            match entry.kind() {
                Some(ObjectType::Tree) => {
                    let sub = self.repo.find_tree(entry.id())?;
                    let mut sub_real = real.to_vec();
                    sub_real.push(name.to_string());
                    self.walk(&sub, &sub_real, &path, in_link)?;
                }
                Some(ObjectType::Blob) if entry.filemode() == LINK_MODE => {
                    let target =
                        String::from_utf8_lossy(self.repo.find_blob(entry.id())?.content())
                            .into_owned();
                    self.link(real, path, target, in_link)?;
                }
                Some(ObjectType::Blob) => {
                    let file = self.blob(entry.id(), &path)?;
                    self.files.insert(path, file);
                }
                // A submodule's files are not in this commit: kept as unreadable, so
                // inside a kind directory it stops the revision instead of reading as
                // "no objects here".
                _ => {
                    tracing::debug!(path, "submodule");
                    self.files
                        .insert(path, FileEntry::Unreadable(SUBMODULE.into()));
                }
            }
        }
        Ok(())
    }

    /// The blob `id` at snapshot path `path`: loaded under the manifest limit when it can
    /// be a manifest, else deferred (its size read from the object header).
    fn blob(&self, id: Oid, path: &str) -> Result<FileEntry, git2::Error> {
        if is_read_eagerly(path) {
            return read_blob_limited(self.repo, id, self.limit);
        }
        let (size, _) = self.repo.odb()?.read_header(id)?;
        Ok(FileEntry::Deferred(Deferred {
            size: u64::try_from(size).unwrap_or(u64::MAX),
            location: Location::Git {
                repo: self.repo.path().to_path_buf(),
                oid: id,
            },
        }))
    }

    /// Stores the symlink at `path` (in directory `real`) pointing to `target`.
    fn link(
        &mut self,
        real: &[String],
        path: String,
        target: String,
        in_link: bool,
    ) -> Result<(), git2::Error> {
        match resolve(self.repo, self.root, real, &target)? {
            Resolved::Blob(id, comps) if comps.starts_with(&self.base) => {
                let file = self.blob(id, &path)?;
                self.files.insert(path, file);
            }
            Resolved::Tree(id, comps) if comps.starts_with(&self.base) => {
                if in_link {
                    // Not followed (so loops end), but kept: inside a kind directory its
                    // manifests must not silently leave the desired set.
                    tracing::debug!(
                        path,
                        "directory symlink inside a followed directory symlink"
                    );
                    self.files.insert(
                        path,
                        FileEntry::Unreadable(super::local::NESTED_LINK.into()),
                    );
                } else {
                    let sub = self.repo.find_tree(id)?;
                    self.walk(&sub, &comps, &path, true)?;
                }
            }
            Resolved::Dangling => {
                tracing::debug!(path, "dangling or looping symlink");
                let why = format!(
                    "symbolic link to {target:?} leads nowhere (dangling, looping or a submodule)"
                );
                self.files.insert(path, FileEntry::Unreadable(why));
            }
            Resolved::Blob(..) | Resolved::Tree(..) | Resolved::Outside => {
                tracing::debug!(path, "symlink leaves the manifest root");
                self.files.insert(path, FileEntry::EscapingLink(target));
            }
        }
        Ok(())
    }
}
