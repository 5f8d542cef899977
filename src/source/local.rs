//! Stage 1, directory half: reads a plain directory (no `--ref`) into a [`Snapshot`].
//!
//! Input: a root path and an optional sub-directory. Output: [`Snapshot`] whose revision
//! is `dir:` plus the first 12 hex digits of a SHA-256 over the files read, so an
//! unchanged directory yields the same revision on every read.
//!
//! It never reads outside the root: a symlink whose target (canonicalized) leaves the
//! root becomes [`FileEntry::EscapingLink`], a directory symlink inside the root is
//! followed once (not again from inside it, so loops end), and `.git` is skipped.
//! A file that cannot be read (a dangling or looping symlink, a permission error) is
//! kept as [`FileEntry::Unreadable`], so the manifest stage refuses the revision when it
//! is a manifest instead of silently losing its object. A directory that cannot be
//! listed fails the whole read: no partial snapshot is returned.
//!
//! Only files [`is_read_eagerly`] names are read, each under `--max-manifest-bytes`
//! ([`read_file_limited`]); the others are recorded as [`Deferred`] with their size, and
//! enter the revision digest by size and modification time instead of content.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::identity::{local_location, normalize_sub_path};
use super::{
    is_read_eagerly, read_file_limited, split_sub_path, Deferred, Error, FileEntry, Limits,
    Location, Snapshot, SourceId,
};

/// Why a directory symlink met inside a followed directory symlink is not read.
pub(crate) const NESTED_LINK: &str =
    "directory symbolic link inside a followed directory symbolic link is not followed";

/// Why a FIFO, socket or device with a manifest's name is not read.
pub(crate) const NOT_REGULAR: &str =
    "not a regular file (a FIFO, socket or device), so it is not read";

/// Reads every file under `root` joined with `sub_path`, under `limits`.
///
/// # Errors
/// [`Error::Io`] when `root` is missing or not a directory, or a file cannot be read;
/// [`Error::PathNotFound`] when `sub_path` contains `..`, is missing, is not a directory
/// or resolves outside `root`.
pub fn read_dir(root: &Path, sub_path: Option<&str>, limits: &Limits) -> Result<Snapshot, Error> {
    let origin = root.display().to_string();
    let canon_root = std::fs::canonicalize(root).map_err(Walker::io(root))?;
    if !canon_root.is_dir() {
        return Err(Error::Io {
            path: root.to_path_buf(),
            source: std::io::Error::from(std::io::ErrorKind::NotADirectory),
        });
    }
    let base = base_dir(&canon_root, sub_path).ok_or_else(|| Error::PathNotFound {
        path: sub_path.unwrap_or_default().to_string(),
        origin: origin.clone(),
        revision: "the working directory".to_string(),
    })?;
    let mut walker = Walker {
        base,
        files: BTreeMap::new(),
        limit: limits.manifest_bytes,
    };
    let start = walker.base.clone();
    walker.walk(&start, "", false)?;
    let revision = revision(&walker.files);
    tracing::debug!(
        origin,
        revision,
        files = walker.files.len(),
        "read directory"
    );
    let id = SourceId {
        location: local_location(root).map_err(Walker::io(root))?,
        path: normalize_sub_path(sub_path),
    };
    Ok(Snapshot::new(origin, revision, walker.files)
        .with_id(id)
        .with_limits(*limits))
}

/// True when `path` is itself a Git directory: a bare repository, or the `.git`
/// directory of a work tree (whose files on disk are Git's objects, not manifests).
pub fn is_git_dir(path: &Path) -> bool {
    let Ok(canon) = std::fs::canonicalize(path) else {
        return false;
    };
    let Ok(repo) = git2::Repository::open(&canon) else {
        return false;
    };
    std::fs::canonicalize(repo.path()).is_ok_and(|g| g == canon)
}

/// The canonical manifest root: `root` joined with `sub_path`, if that is a directory
/// inside `root`.
fn base_dir(canon_root: &Path, sub_path: Option<&str>) -> Option<PathBuf> {
    let parts = split_sub_path(sub_path)?;
    if parts.is_empty() {
        return Some(canon_root.to_path_buf());
    }
    let base = std::fs::canonicalize(
        parts
            .iter()
            .fold(canon_root.to_path_buf(), |p, c| p.join(c)),
    )
    .ok()?;
    (base.starts_with(canon_root) && base.is_dir()).then_some(base)
}

/// `dir:` + 12 hex digits of SHA-256 over (path, kind, content) in path order, each
/// field length-prefixed so no two different trees hash alike. A file that was not read
/// (deferred or too large) counts by its size and modification time.
fn revision(files: &BTreeMap<String, FileEntry>) -> String {
    let mut h = Sha256::new();
    for (path, entry) in files {
        let stamp: Vec<u8>;
        let (tag, bytes) = match entry {
            FileEntry::Blob(b) => (b'f', b.as_slice()),
            FileEntry::EscapingLink(t) => (b'l', t.as_bytes()),
            FileEntry::Unreadable(why) => (b'u', why.as_bytes()),
            FileEntry::TooLarge { size, .. } => {
                stamp = size.to_le_bytes().to_vec();
                (b't', stamp.as_slice())
            }
            FileEntry::Deferred(d) => {
                stamp = file_stamp(d);
                (b'd', stamp.as_slice())
            }
        };
        h.update((path.len() as u64).to_le_bytes());
        h.update(path.as_bytes());
        h.update([tag]);
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    }
    let digest = hex::encode(h.finalize());
    format!("dir:{}", digest.get(..12).unwrap_or(&digest))
}

/// Size and modification time of a deferred file, for the revision digest.
fn file_stamp(d: &Deferred) -> Vec<u8> {
    let mut out = d.size.to_le_bytes().to_vec();
    if let Location::Disk(p) = &d.location {
        let modified = std::fs::metadata(p)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |t| t.as_nanos());
        out.extend(modified.to_le_bytes());
    }
    out
}

/// The walk over the canonical directory `base`, collecting files.
struct Walker {
    base: PathBuf,
    files: BTreeMap<String, FileEntry>,
    /// `--max-manifest-bytes`.
    limit: u64,
}

impl Walker {
    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.to_path_buf();
        move |source| Error::Io { path, source }
    }

    /// Adds every file of directory `dir` under `prefix`; `in_link` is set inside a
    /// followed directory symlink, where no further directory link is followed.
    fn walk(&mut self, dir: &Path, prefix: &str, in_link: bool) -> Result<(), Error> {
        for entry in std::fs::read_dir(dir).map_err(Self::io(dir))? {
            let entry = entry.map_err(Self::io(dir))?;
            let path = entry.path();
            let file_name = entry.file_name();
            let Some(name) = file_name.to_str() else {
                tracing::warn!(path = %path.display(), "skipping a file whose name is not UTF-8");
                continue;
            };
            if name == ".git" {
                continue;
            }
            let rel = if prefix.is_empty() {
                name.to_string()
            } else {
                format!("{prefix}/{name}")
            };
            let kind = entry.file_type().map_err(Self::io(&path))?;
            if kind.is_dir() {
                self.walk(&path, &rel, in_link)?;
            } else if kind.is_file() {
                let entry = self.file(&path, &rel)?;
                self.files.insert(rel, entry);
            } else if kind.is_symlink() {
                self.link(&path, rel, in_link)?;
            } else {
                self.special(&path, rel);
            }
        }
        Ok(())
    }

    /// A FIFO, socket or device at `path`: never opened (a FIFO blocks its reader), but
    /// one with a manifest's name is kept as unreadable, so its object stops the revision
    /// instead of silently leaving the desired set.
    fn special(&mut self, path: &Path, rel: String) {
        tracing::debug!(path = %path.display(), "special file");
        if is_read_eagerly(&rel) {
            self.files
                .insert(rel, FileEntry::Unreadable(NOT_REGULAR.into()));
        }
    }

    /// Stores the symlink at `path` as its target's content, its target's files, or an
    /// escaping link.
    fn link(&mut self, path: &Path, rel: String, in_link: bool) -> Result<(), Error> {
        let target = std::fs::read_link(path).map_err(Self::io(path))?;
        let Ok(canon) = std::fs::canonicalize(path) else {
            tracing::debug!(path = %path.display(), "dangling or looping symlink");
            let why = format!(
                "symbolic link to {:?} leads nowhere (dangling or looping)",
                target.display().to_string()
            );
            self.files.insert(rel, FileEntry::Unreadable(why));
            return Ok(());
        };
        if !canon.starts_with(&self.base) {
            tracing::debug!(path = %path.display(), "symlink leaves the manifest root");
            self.files
                .insert(rel, FileEntry::EscapingLink(target.display().to_string()));
            return Ok(());
        }
        if canon.is_dir() {
            if in_link {
                // Not followed (so loops end), but kept: inside a kind directory its
                // manifests must not silently leave the desired set.
                tracing::debug!(path = %path.display(), "directory symlink inside a followed directory symlink");
                self.files
                    .insert(rel, FileEntry::Unreadable(NESTED_LINK.into()));
                return Ok(());
            }
            return self.walk(&canon, &rel, true);
        }
        if canon.is_file() {
            let entry = self.file(&canon, &rel)?;
            self.files.insert(rel, entry);
        } else {
            self.special(path, rel);
        }
        Ok(())
    }

    /// A regular file at `path` (`rel` in the snapshot): read under the manifest limit
    /// when it can be a manifest, else deferred.
    fn file(&self, path: &Path, rel: &str) -> Result<FileEntry, Error> {
        if is_read_eagerly(rel) {
            // Unreadable (permissions): kept as such, so a manifest among them stops the
            // revision with its path, instead of silently leaving the desired set.
            return Ok(read_file_limited(path, self.limit).unwrap_or_else(|e| {
                tracing::debug!(path = %path.display(), error = %e, "unreadable file");
                FileEntry::Unreadable(e.to_string())
            }));
        }
        let size = std::fs::metadata(path).map_err(Self::io(path))?.len();
        let location = Location::Disk(std::fs::canonicalize(path).map_err(Self::io(path))?);
        Ok(FileEntry::Deferred(Deferred { size, location }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn write(root: &Path, rel: &str, content: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }

    fn read_dir_in(root: &Path, sub: Option<&str>) -> Result<Snapshot, Error> {
        read_dir(root, sub, &Limits::default())
    }

    /// The entry at `path`, a deferred file read (as `{{ReadFile}}` would).
    fn entry(s: &Snapshot, path: &str) -> Option<FileEntry> {
        match s
            .files()
            .find(|(p, _)| *p == path)
            .map(|(_, e)| e.clone())?
        {
            FileEntry::Deferred(_) => {
                let name = path.rsplit('/').next().unwrap_or(path);
                let from = format!("{}x", path.strip_suffix(name).unwrap());
                Some(FileEntry::Blob(
                    s.read_relative(&from, name).ok()?.into_owned(),
                ))
            }
            e => Some(e),
        }
    }

    fn blob(s: &str) -> Option<FileEntry> {
        Some(FileEntry::Blob(s.as_bytes().to_vec()))
    }

    #[test]
    fn reads_files_and_skips_git() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "data/a.yaml", "a");
        write(d.path(), "policy/deep/p.yaml", "p");
        write(d.path(), ".git/config", "x");
        write(d.path(), "sub/.git", "gitdir: elsewhere");
        let s = read_dir_in(d.path(), None).unwrap();
        let paths: Vec<&str> = s.files().map(|(p, _)| p).collect();
        assert_eq!(paths, ["data/a.yaml", "policy/deep/p.yaml"]);
        assert_eq!(s.origin, d.path().display().to_string());
        assert!(
            s.revision.starts_with("dir:") && s.revision.len() == 16,
            "{}",
            s.revision
        );
    }

    #[test]
    fn revision_is_stable_and_follows_content_and_names() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "data/a.yaml", "a");
        let r1 = read_dir_in(d.path(), None).unwrap().revision;
        assert_eq!(read_dir_in(d.path(), None).unwrap().revision, r1);
        write(d.path(), "data/a.yaml", "b");
        let r2 = read_dir_in(d.path(), None).unwrap().revision;
        assert_ne!(r1, r2);
        std::fs::rename(d.path().join("data/a.yaml"), d.path().join("data/b.yaml")).unwrap();
        assert_ne!(read_dir_in(d.path(), None).unwrap().revision, r2);
    }

    #[test]
    fn sub_path_and_errors() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "readme.md", "r");
        write(d.path(), "immuta/data/a.yaml", "a");
        let s = read_dir_in(d.path(), Some("./immuta/")).unwrap();
        assert_eq!(entry(&s, "data/a.yaml"), blob("a"));
        assert_eq!(s.len(), 1);
        for bad in ["missing", "readme.md", "../x", "immuta/../immuta"] {
            let err = read_dir_in(d.path(), Some(bad)).unwrap_err();
            assert!(
                matches!(&err, Error::PathNotFound { path, .. } if path == bad),
                "{bad}: {err}"
            );
        }
        let outside = tempfile::tempdir().unwrap();
        symlink(outside.path(), d.path().join("out")).unwrap();
        assert!(matches!(
            read_dir_in(d.path(), Some("out")),
            Err(Error::PathNotFound { .. })
        ));
        assert!(matches!(
            read_dir_in(&d.path().join("nope"), None),
            Err(Error::Io { .. })
        ));
        assert!(matches!(
            read_dir_in(&d.path().join("readme.md"), None),
            Err(Error::Io { .. })
        ));
    }

    #[test]
    fn a_nested_directory_link_in_a_kind_directory_stops_the_revision() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "shared/policies/a.yaml", "policyKey: a\n");
        write(d.path(), "more/b.yaml", "policyKey: b\n");
        symlink("shared/policies", d.path().join("policy")).unwrap();
        symlink("../../more", d.path().join("shared/policies/more")).unwrap();
        let s = read_dir_in(d.path(), None).unwrap();
        assert_eq!(
            entry(&s, "policy/more"),
            Some(FileEntry::Unreadable(NESTED_LINK.into()))
        );
        let (_, diags) = crate::manifest::parse::parse_snapshot(&s, &|_| false);
        assert!(
            diags
                .iter()
                .any(|d| d.span.path == "policy/more" && d.message.contains("not followed")),
            "{diags:?}"
        );
    }

    #[test]
    fn symlinks_inside_are_read_and_outside_are_escaping() {
        let outside = tempfile::tempdir().unwrap();
        write(outside.path(), "secret.txt", "secret");
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "readme.md", "above the root");
        write(d.path(), "m/certs/ca.pem", "pem");
        write(d.path(), "m/data/a.yaml", "a");
        let m = d.path().join("m");
        symlink("../certs/ca.pem", m.join("data/ca.pem")).unwrap();
        symlink(outside.path().join("secret.txt"), m.join("data/abs")).unwrap();
        symlink("../../readme.md", m.join("data/up")).unwrap();
        symlink("nope", m.join("data/dangling")).unwrap();
        symlink("certs", m.join("linked")).unwrap();
        symlink("..", m.join("certs/loop")).unwrap();
        let s = read_dir_in(d.path(), Some("m")).unwrap();
        assert_eq!(entry(&s, "data/ca.pem"), blob("pem"));
        assert_eq!(entry(&s, "linked/ca.pem"), blob("pem"));
        let abs = outside.path().join("secret.txt").display().to_string();
        assert_eq!(entry(&s, "data/abs"), Some(FileEntry::EscapingLink(abs)));
        assert_eq!(
            entry(&s, "data/up"),
            Some(FileEntry::EscapingLink("../../readme.md".into()))
        );
        assert!(
            matches!(entry(&s, "data/dangling"), Some(FileEntry::Unreadable(why)) if why.contains("leads nowhere")),
            "a dangling link is kept, as unreadable"
        );
        // `certs/loop` -> the root: followed once, and not again from inside it.
        assert_eq!(entry(&s, "certs/loop/data/a.yaml"), blob("a"));
        assert_eq!(entry(&s, "certs/loop/certs/loop/data/a.yaml"), None);
        // Not followed twice, but kept as unreadable: a manifest stage error inside a kind
        // directory, ignored elsewhere.
        assert_eq!(
            entry(&s, "certs/loop/certs/loop"),
            Some(FileEntry::Unreadable(NESTED_LINK.into()))
        );
        assert!(s
            .files()
            .all(|(p, _)| p.matches("loop").count() <= 1 || p == "certs/loop/certs/loop"));
        assert!(s.read_relative("data/a.yaml", "abs").is_err());
    }

    /// Makes a FIFO at `path`.
    fn mkfifo(path: &Path) {
        use std::os::unix::ffi::OsStrExt;
        let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path; mkfifo touches no memory of ours.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo");
    }

    #[test]
    fn a_fifo_with_a_manifest_name_is_unreadable_and_never_opened() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "purpose/a.yaml", "name: a\n");
        mkfifo(&d.path().join("policy-fifo.yaml"));
        std::fs::create_dir(d.path().join("policy")).unwrap();
        mkfifo(&d.path().join("policy/p.yaml"));
        mkfifo(&d.path().join("policy/notes.txt"));
        symlink("p.yaml", d.path().join("policy/q.yaml")).unwrap();
        // Opening a FIFO would block this read until a writer came: it must not happen.
        let s = read_dir(d.path(), None, &Limits::default()).unwrap();
        let get = |p: &str| s.files().find(|(q, _)| *q == p).map(|(_, e)| e.clone());
        for rel in ["policy/p.yaml", "policy/q.yaml", "policy-fifo.yaml"] {
            assert_eq!(
                get(rel),
                Some(FileEntry::Unreadable(NOT_REGULAR.into())),
                "{rel}"
            );
        }
        assert_eq!(get("policy/notes.txt"), None);
        assert!(matches!(get("purpose/a.yaml"), Some(FileEntry::Blob(_))));
    }

    #[test]
    fn issue_11_only_manifests_are_read_and_only_under_the_limit() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "data/ok.yaml", "connectionKey: ok\n");
        write(d.path(), "data/big.yaml", &"x".repeat(5000));
        write(d.path(), "policy/big.json", &"x".repeat(5000));
        write(d.path(), "data/blob.bin", &"b".repeat(50_000));
        write(d.path(), "data/ca.pem", "pem");
        write(d.path(), ".github/workflows/ci.yml", &"x".repeat(5000));
        symlink("big.yaml", d.path().join("data/link.yaml")).unwrap();
        let limits = Limits {
            manifest_bytes: 4096,
            read_file_bytes: 4096,
            ..Limits::default()
        };
        let s = read_dir(d.path(), None, &limits).unwrap();
        assert_eq!(s.limits(), &limits);
        let raw = |p: &str| s.files().find(|(q, _)| *q == p).map(|(_, e)| e.clone());
        let too_large = Some(FileEntry::TooLarge {
            size: 5000,
            limit: 4096,
        });
        assert_eq!(raw("data/big.yaml"), too_large);
        assert_eq!(raw("policy/big.json"), too_large);
        assert_eq!(raw("data/link.yaml"), too_large);
        assert_eq!(raw("data/ok.yaml"), blob("connectionKey: ok\n"));
        for p in ["data/blob.bin", "data/ca.pem", ".github/workflows/ci.yml"] {
            assert!(
                matches!(raw(p), Some(FileEntry::Deferred(_))),
                "{p}: {:?}",
                raw(p)
            );
        }
        // A deferred file is read on demand, under the ReadFile limit.
        assert_eq!(entry(&s, "data/ca.pem"), blob("pem"));
        let err = s.read_relative("data/ok.yaml", "blob.bin").unwrap_err();
        assert!(
            err.to_string()
                .contains("over the 4 KiB limit (--max-read-file-bytes)"),
            "{err}"
        );
        // A deferred file changed on disk changes the revision.
        let before = s.revision.clone();
        write(d.path(), "data/ca.pem", "pem2");
        assert_ne!(read_dir(d.path(), None, &limits).unwrap().revision, before);
    }

    #[test]
    fn issue_11_a_read_never_takes_more_than_the_limit() {
        // /dev/zero reports size 0 and never ends: only the bounded read stops it.
        let zero = Path::new("/dev/zero");
        if zero.exists() {
            assert_eq!(
                read_file_limited(zero, 4096).unwrap(),
                FileEntry::TooLarge {
                    size: 4097,
                    limit: 4096
                }
            );
        }
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "f", "12345");
        assert_eq!(
            read_file_limited(&d.path().join("f"), 5).unwrap(),
            blob("12345").unwrap()
        );
        assert!(matches!(
            read_file_limited(&d.path().join("f"), 4).unwrap(),
            FileEntry::TooLarge { size: 5, limit: 4 }
        ));
    }
}
