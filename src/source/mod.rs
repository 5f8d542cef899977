//! Stage 1: source. Turns a `--repo` (Git URL, local Git repository or plain directory)
//! into a [`Snapshot`]: the manifest files of one revision, held in memory.
//!
//! Input: [`SourceSpec`]. Output: [`Snapshot`]. This stage never parses YAML and never
//! talks to Immuta. Files are read into memory so later stages cannot follow a symlink
//! or a `..` out of the repository: a link that points outside is kept as
//! [`FileEntry::EscapingLink`] and refused when read.

use std::collections::BTreeMap;
use std::path::PathBuf;

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
    files: BTreeMap<String, FileEntry>,
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
    /// The file is there but cannot be read (dangling link, permissions).
    #[error("file {0:?} cannot be read: {1}")]
    Unreadable(String, String),
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
            files,
        }
    }

    /// The same snapshot with identity `id`.
    pub fn with_id(mut self, id: SourceId) -> Self {
        self.id = id;
        self
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
    /// directory, never outside the snapshot root.
    ///
    /// # Errors
    /// [`ReadError::Outside`] for absolute paths, `..` past the root and escaping links;
    /// [`ReadError::Missing`] when no such file exists.
    pub fn read_relative(&self, from: &str, target: &str) -> Result<&[u8], ReadError> {
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
        match self.files.get(&path) {
            Some(FileEntry::Blob(b)) => Ok(b),
            Some(FileEntry::EscapingLink(_)) => Err(ReadError::Outside(target.to_string())),
            Some(FileEntry::Unreadable(why)) => {
                Err(ReadError::Unreadable(target.to_string(), why.clone()))
            }
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
        local::read_dir(path, spec.path.as_deref())
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
            s.read_relative("data/a.yaml", "../certs/ca.pem"),
            Ok(&b"pem"[..])
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
