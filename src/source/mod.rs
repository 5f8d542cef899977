//! Stage 1: source. Turns a `--repo` (Git URL, local Git repository or plain directory)
//! into a [`Snapshot`]: the manifest files of one revision, held in memory.
//!
//! Input: [`SourceSpec`]. Output: [`Snapshot`]. This stage never parses YAML and never
//! talks to Immuta. Files are read into memory so later stages cannot follow a symlink
//! or a `..` out of the repository: a link that points outside is kept as
//! [`FileEntry::EscapingLink`] and refused when read.
//!
//! Memory is bounded by [`Limits`] (issue 11): only files that can be manifests
//! ([`is_read_eagerly`]) are loaded with the revision, each checked against
//! `--max-manifest-bytes` by its size (file metadata, a Git blob's header) before it is
//! read and again by the read itself, which never takes more than the limit; a file over
//! it is kept as [`FileEntry::TooLarge`] and refused by the manifest stage. Every other
//! file is [`FileEntry::Deferred`]: only its size is known until a `{{ReadFile}}` names
//! it, and then it is read under `--max-read-file-bytes` the same way.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::limits::show_bytes;
pub use crate::limits::Limits;
use crate::redact::Secret;

pub mod git;
pub mod identity;
pub mod local;
mod tree;

pub use identity::SourceId;

/// One file of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileEntry {
    /// The file's bytes (a symlink inside the root is stored as its target's bytes).
    Blob(Vec<u8>),
    /// A symlink whose target lies outside the snapshot root; reading it is refused.
    EscapingLink(String),
    /// A file that is there but cannot be read: a dangling or looping symlink, or a
    /// read error (permissions). Holds why. A manifest in this state stops the revision
    /// (its object must not silently leave the desired set).
    Unreadable(String),
    /// A file larger than the limit it was read under: its bytes were never loaded.
    TooLarge {
        /// Its size in bytes (at least this much, when it grew while being read).
        size: u64,
        /// The limit it broke.
        limit: u64,
    },
    /// A file that cannot be a manifest: not read with the revision, only when a
    /// `{{ReadFile}}` names it.
    Deferred(Deferred),
}

/// Where a [`FileEntry::Deferred`] file's bytes are, and how many there are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deferred {
    /// Its size in bytes when the revision was read.
    pub size: u64,
    /// Where to read it.
    pub location: Location,
}

/// Where a deferred file is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A file on disk (canonical path, inside the manifest root).
    Disk(PathBuf),
    /// A blob of a Git repository (the repository's Git directory, and the blob id).
    Git {
        /// The Git directory (`.git`, or the bare mirror).
        repo: PathBuf,
        /// The blob.
        oid: git2::Oid,
    },
}

/// Whether a snapshot path is loaded with the revision: files the manifest stage parses
/// (`*.yaml`, `*.yml`, `*.json` outside hidden directories) and the repository settings
/// file. Everything else is [`FileEntry::Deferred`].
pub fn is_read_eagerly(path: &str) -> bool {
    if path == ".immuta-gitops.yaml" || path == ".immuta-gitops.yml" {
        return true;
    }
    let lower = path.to_ascii_lowercase();
    [".yaml", ".yml", ".json"]
        .iter()
        .any(|e| lower.ends_with(e))
        && !path.split('/').any(|c| c.starts_with('.'))
}

/// Reads a whole file from disk if it holds at most `limit` bytes: the size is checked
/// before reading, and the read itself stops after `limit + 1` bytes (a file can grow).
///
/// # Errors
/// The I/O error of opening or reading it.
pub fn read_file_limited(path: &Path, limit: u64) -> std::io::Result<FileEntry> {
    let file = std::fs::File::open(path)?;
    let size = file.metadata()?.len();
    if size > limit {
        return Ok(FileEntry::TooLarge { size, limit });
    }
    let mut buf = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(limit.saturating_add(1)).read_to_end(&mut buf)?;
    let read = u64::try_from(buf.len()).unwrap_or(u64::MAX);
    if read > limit {
        return Ok(FileEntry::TooLarge { size: read, limit });
    }
    Ok(FileEntry::Blob(buf))
}

/// Reads a Git blob if it holds at most `limit` bytes; the size comes from the object
/// header, so a larger blob is never loaded.
///
/// # Errors
/// libgit2's error.
pub(crate) fn read_blob_limited(
    repo: &git2::Repository,
    oid: git2::Oid,
    limit: u64,
) -> Result<FileEntry, git2::Error> {
    let (size, _) = repo.odb()?.read_header(oid)?;
    let size = u64::try_from(size).unwrap_or(u64::MAX);
    if size > limit {
        return Ok(FileEntry::TooLarge { size, limit });
    }
    Ok(FileEntry::Blob(repo.find_blob(oid)?.content().to_vec()))
}

impl Deferred {
    /// Reads the file under `limit`.
    fn read(&self, limit: u64) -> Result<FileEntry, String> {
        if self.size > limit {
            return Ok(FileEntry::TooLarge {
                size: self.size,
                limit,
            });
        }
        match &self.location {
            Location::Disk(path) => read_file_limited(path, limit).map_err(|e| e.to_string()),
            Location::Git { repo, oid } => git2::Repository::open(repo)
                .and_then(|r| read_blob_limited(&r, *oid, limit))
                .map_err(|e| e.message().to_string()),
        }
    }
}

/// The manifest files of one source revision, relative to the manifest root
/// (the repository root joined with `--path`).
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Where the files came from, for messages: a URL without credentials, or a path.
    pub origin: String,
    /// A Git commit SHA, or `dir:<hex digest of the contents>` for a plain directory.
    pub revision: String,
    /// The source, canonically (what ownership is keyed by).
    pub id: SourceId,
    /// The commit's subject line (its first paragraph, unwrapped) as Git holds it, not
    /// yet redacted nor escaped; `None` for a plain directory. Only notifications show it.
    pub subject: Option<String>,
    files: BTreeMap<String, FileEntry>,
    limits: Limits,
    /// The Git repository the revision was read from and `--path` inside it (`None` for
    /// a plain directory).
    git_dir: Option<(std::path::PathBuf, Option<String>)>,
}

/// Why a `{{ReadFile}}` target could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// The path leaves the snapshot root (`..`, an absolute path, or an escaping symlink).
    #[error("path {0:?} is outside the repository")]
    Outside(String),
    /// No such file in the snapshot.
    #[error("file {0:?} does not exist in the repository")]
    Missing(String),
    /// The file is larger than `--max-read-file-bytes`.
    #[error("file {path:?} is {} or more, over the {} limit (--max-read-file-bytes)", show_bytes(*.size), show_bytes(*.limit))]
    TooLarge {
        /// The path as written.
        path: String,
        /// Its size (at least).
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The file exists but could not be read.
    #[error("file {path:?} cannot be read: {message}")]
    Unreadable {
        /// The path as written.
        path: String,
        /// Why.
        message: String,
    },
}

impl Snapshot {
    /// Builds a snapshot from already-read files (keys are `/`-separated relative paths).
    /// Its identity is `origin` as given until [`Snapshot::with_id`] sets the canonical one.
    pub fn new(
        origin: impl Into<String>,
        revision: impl Into<String>,
        files: BTreeMap<String, FileEntry>,
    ) -> Self {
        let origin = origin.into();
        Snapshot {
            id: SourceId {
                location: origin.clone(),
                path: String::new(),
            },
            origin,
            revision: revision.into(),
            subject: None,
            files,
            limits: Limits::default(),
            git_dir: None,
        }
    }

    /// The same snapshot, read from the Git repository at `dir` (manifests under `path`).
    pub fn with_git_dir(mut self, dir: std::path::PathBuf, path: Option<String>) -> Self {
        self.git_dir = Some((dir, path));
        self
    }

    /// The Git history of this revision, to read the commits since an earlier one (see
    /// [`git::log`]); `None` for a plain directory, which has no commits.
    pub fn history(&self) -> Option<git::log::History> {
        let (dir, path) = self.git_dir.as_ref()?;
        Some(git::log::History {
            dir: dir.clone(),
            path: path.clone(),
            head: self.revision.clone(),
        })
    }

    /// The same snapshot with identity `id`.
    pub fn with_id(mut self, id: SourceId) -> Self {
        self.id = id;
        self
    }

    /// The same snapshot with the commit subject `subject`.
    pub fn with_subject(mut self, subject: Option<String>) -> Self {
        self.subject = subject;
        self
    }

    /// The same snapshot, to be parsed and templated under `limits`.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The limits this snapshot was read under (and is parsed under).
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Every file, in path order.
    pub fn files(&self) -> impl Iterator<Item = (&str, &FileEntry)> {
        self.files.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Number of files.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// True when the snapshot holds no file at all.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Reads `target` as written in the manifest at `from`: relative to `from`'s
    /// directory, never outside the snapshot root, at most `--max-read-file-bytes`.
    ///
    /// # Errors
    /// [`ReadError::Outside`] for absolute paths, `..` past the root and escaping links;
    /// [`ReadError::Missing`] when no such file exists; [`ReadError::TooLarge`] over the
    /// limit; [`ReadError::Unreadable`] when a deferred file cannot be read now.
    pub fn read_relative(&self, from: &str, target: &str) -> Result<Cow<'_, [u8]>, ReadError> {
        if target.starts_with('/') || target.starts_with('\\') || target.contains(':') {
            return Err(ReadError::Outside(target.to_string()));
        }
        let mut parts: Vec<&str> = from.split('/').collect();
        parts.pop();
        for seg in target.split(['/', '\\']) {
            match seg {
                "" | "." => {}
                ".." => {
                    if parts.pop().is_none() {
                        return Err(ReadError::Outside(target.to_string()));
                    }
                }
                s => parts.push(s),
            }
        }
        let path = parts.join("/");
        let limit = self.limits.read_file_bytes;
        let too_large = |size: u64| ReadError::TooLarge {
            path: target.to_string(),
            size,
            limit,
        };
        let blob_len = |b: &[u8]| u64::try_from(b.len()).unwrap_or(u64::MAX);
        match self.files.get(&path) {
            Some(FileEntry::Blob(b)) if blob_len(b) > limit => Err(too_large(blob_len(b))),
            Some(FileEntry::Blob(b)) => Ok(Cow::Borrowed(b)),
            Some(FileEntry::TooLarge { size, .. }) => Err(too_large(*size)),
            Some(FileEntry::Deferred(d)) => match d.read(limit) {
                Ok(FileEntry::Blob(b)) => Ok(Cow::Owned(b)),
                Ok(FileEntry::TooLarge { size, .. }) => Err(too_large(size)),
                Ok(_) => Err(ReadError::Missing(target.to_string())),
                Err(message) => Err(ReadError::Unreadable {
                    path: target.to_string(),
                    message,
                }),
            },
            Some(FileEntry::EscapingLink(_)) => Err(ReadError::Outside(target.to_string())),
            Some(FileEntry::Unreadable(why)) => Err(ReadError::Unreadable {
                path: target.to_string(),
                message: why.clone(),
            }),
            None => Err(ReadError::Missing(target.to_string())),
        }
    }
}

/// Git credentials, read from env or files by `config`; never logged.
#[derive(Debug, Clone, Default)]
pub struct GitAuth {
    /// HTTPS username (default `git`, or `x-access-token` style when only a token is set).
    pub username: Option<String>,
    /// HTTPS token or password.
    pub token: Option<Secret>,
    /// SSH private key file.
    pub ssh_key: Option<PathBuf>,
    /// Passphrase of the SSH key.
    pub ssh_passphrase: Option<Secret>,
}

/// What to fetch.
#[derive(Debug, Clone, Default)]
pub struct SourceSpec {
    /// A Git URL (`https://`, `ssh://`, `git@host:path`, `file://`) or a local path.
    pub repo: String,
    /// Branch, tag or commit SHA. For a local path, giving a ref reads that commit
    /// through Git instead of the files on disk.
    pub reference: Option<String>,
    /// Sub-directory of the repository that holds `data/`, `policy/`, ...
    pub path: Option<String>,
    /// Where Git clones are cached between runs.
    pub cache_dir: PathBuf,
    /// Credentials for remote repositories.
    pub auth: GitAuth,
    /// How much of the revision may be read.
    pub limits: Limits,
}

/// Source-stage failures.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A Git operation failed (clone, fetch, ref resolution, tree walk).
    #[error("git {op} of {origin} failed: {message}")]
    Git {
        /// The operation (`clone`, `fetch`, `resolve`, `read`).
        op: &'static str,
        /// The repository, without credentials.
        origin: String,
        /// libgit2's message, redacted.
        message: String,
    },
    /// The `--ref` names nothing in the repository.
    #[error("reference {reference:?} not found in {origin}")]
    RefNotFound {
        /// The ref as given.
        reference: String,
        /// The repository, without credentials.
        origin: String,
    },
    /// `--path` does not exist in the revision, or leaves the repository.
    #[error("path {path:?} not found in {origin} at {revision}")]
    PathNotFound {
        /// The sub-path as given.
        path: String,
        /// The repository, without credentials.
        origin: String,
        /// The revision looked at.
        revision: String,
    },
    /// A local directory could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path that failed.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// The components of a `--path` sub-directory (`""`, `.` and `/` add nothing); `None`
/// when a component is `..`, which could leave the repository.
pub(crate) fn split_sub_path(sub_path: Option<&str>) -> Option<Vec<&str>> {
    let parts: Vec<&str> = sub_path
        .unwrap_or_default()
        .split(['/', '\\'])
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    if parts.contains(&"..") {
        None
    } else {
        Some(parts)
    }
}

/// Fetches the source described by `spec` (blocking: run it under `spawn_blocking`).
///
/// # Errors
/// See [`Error`]; nothing is returned for a partial read.
pub fn fetch(spec: &SourceSpec) -> Result<Snapshot, Error> {
    let path = std::path::Path::new(&spec.repo);
    if git::is_remote(&spec.repo) || spec.reference.is_some() {
        git::fetch(spec)
    } else if local::is_git_dir(path) {
        // A bare repository (or a `.git` directory) has no files to read from disk:
        // what it holds is its HEAD commit.
        tracing::info!(repo = %spec.repo, "a bare Git repository without --ref: reading its HEAD");
        git::fetch(spec)
    } else {
        local::read_dir(path, spec.path.as_deref(), &spec.limits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap() -> Snapshot {
        let mut f = BTreeMap::new();
        f.insert("data/a.yaml".to_string(), FileEntry::Blob(b"x".to_vec()));
        f.insert("certs/ca.pem".to_string(), FileEntry::Blob(b"pem".to_vec()));
        f.insert(
            "data/link".to_string(),
            FileEntry::EscapingLink("/etc/passwd".into()),
        );
        Snapshot::new("o", "r", f)
    }

    #[test]
    fn read_relative_resolves_inside_and_refuses_escapes() {
        let s = snap();
        assert_eq!(
            s.read_relative("data/a.yaml", "../certs/ca.pem")
                .map(Cow::into_owned),
            Ok(b"pem".to_vec())
        );
        assert!(matches!(
            s.read_relative("data/a.yaml", "../../etc/passwd"),
            Err(ReadError::Outside(_))
        ));
        assert!(matches!(
            s.read_relative("data/a.yaml", "/etc/passwd"),
            Err(ReadError::Outside(_))
        ));
        assert!(matches!(
            s.read_relative("data/a.yaml", "link"),
            Err(ReadError::Outside(_))
        ));
        assert!(matches!(
            s.read_relative("data/a.yaml", "nope"),
            Err(ReadError::Missing(_))
        ));
    }
}
