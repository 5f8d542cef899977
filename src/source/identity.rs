//! Source identity: which repository (and which sub-directory of it) a snapshot came
//! from, spelled one way however `--repo` and `--path` were typed. Prune trusts an
//! inventory only when it names the same [`SourceId`].
//!
//! - A local path is made absolute with every symlink resolved. A Git directory (a bare
//!   repository, or the `.git` of a work tree) stands for its work tree when it has one.
//!   Nothing that moves with HEAD (branch, commit) is part of it.
//! - A URL loses its credentials, query and fragment; scheme and host are lower-cased,
//!   the scheme's default port is dropped, trailing `/` and `.git` are removed, and an
//!   scp-like `user@host:path` reads as `ssh://host/path`. A `file://` URL is a local path.
//! - The sub-path is `--path` with `.`, empty components and separators normalised.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::split_sub_path;
use crate::redact::url::percent_decode;

/// A source, canonically.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SourceId {
    /// An absolute, symlink-resolved path, or a normalised URL without credentials.
    pub location: String,
    /// The normalised `--path` (`""` for the repository root).
    #[serde(default)]
    pub path: String,
}

impl fmt::Display for SourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.location)
        } else {
            write!(f, "{} (path {})", self.location, self.path)
        }
    }
}

impl SourceId {
    /// The identity of `repo` (as given to `--repo`) with sub-path `path`.
    ///
    /// # Errors
    /// A local path (or `file://` URL) that does not exist or cannot be resolved.
    pub fn new(repo: &str, path: Option<&str>) -> std::io::Result<SourceId> {
        let location = match file_url_path(repo) {
            Some(p) => local_location(&p)?,
            None if super::git::is_remote(repo) => normalize_url(repo),
            None => local_location(Path::new(repo))?,
        };
        Ok(SourceId {
            location,
            path: normalize_sub_path(path),
        })
    }
}

/// `--path` normalised: components joined by `/`, without `.` and empty ones (a `..`
/// is kept as typed; the source stage refuses it).
pub fn normalize_sub_path(path: Option<&str>) -> String {
    match split_sub_path(path) {
        Some(parts) => parts.join("/"),
        None => path.unwrap_or_default().to_string(),
    }
}

/// The canonical location of a local path.
pub(crate) fn local_location(path: &Path) -> std::io::Result<String> {
    let canon = std::fs::canonicalize(path)?;
    Ok(git_work_tree(&canon).unwrap_or(canon).display().to_string())
}

/// The work tree of `dir` when `dir` is itself a Git directory that has one.
fn git_work_tree(dir: &Path) -> Option<PathBuf> {
    let repo = git2::Repository::open(dir).ok()?;
    let git_dir = std::fs::canonicalize(repo.path()).ok()?;
    if git_dir != dir {
        return None;
    }
    std::fs::canonicalize(repo.workdir()?).ok()
}

/// The local path of a `file://` URL (percent-decoded), `None` for anything else.
fn file_url_path(repo: &str) -> Option<PathBuf> {
    let scheme = repo.get(..7)?;
    if !scheme.eq_ignore_ascii_case("file://") {
        return None;
    }
    let rest = repo.get(7..)?;
    let rest = rest.strip_prefix("localhost").unwrap_or(rest);
    let end = rest.find(['?', '#']).unwrap_or(rest.len());
    Some(PathBuf::from(percent_decode(rest.get(..end)?)))
}

/// A remote URL in one spelling, without credentials (see the module documentation).
pub fn normalize_url(url: &str) -> String {
    let (scheme, rest) = match url.find("://") {
        Some(i) => (
            url.get(..i).unwrap_or_default().to_ascii_lowercase(),
            url.get(i + 3..).unwrap_or_default(),
        ),
        // scp-like `[user@]host:path`.
        None => {
            let (host, path) = url.split_once(':').unwrap_or((url, ""));
            let host = host.rsplit('@').next().unwrap_or(host);
            let path = path.trim_start_matches('/');
            return format!("ssh://{}/{}", host.to_ascii_lowercase(), clean_path(path))
                .trim_end_matches('/')
                .to_string();
        }
    };
    let scheme = match scheme.as_str() {
        "git+ssh" | "ssh+git" => "ssh".to_string(),
        _ => scheme,
    };
    let rest = rest
        .get(..rest.find(['?', '#']).unwrap_or(rest.len()))
        .unwrap_or(rest);
    let (authority, path) = match rest.find('/') {
        Some(i) => (rest.get(..i).unwrap_or(rest), rest.get(i..).unwrap_or("")),
        None => (rest, ""),
    };
    let host_port = authority.rsplit('@').next().unwrap_or(authority);
    let (host, port) = split_port(host_port);
    let default_port = match scheme.as_str() {
        "http" => Some("80"),
        "https" => Some("443"),
        "ssh" => Some("22"),
        "git" => Some("9418"),
        _ => None,
    };
    let port = match port {
        Some(p) if Some(p) != default_port && !p.is_empty() => format!(":{p}"),
        _ => String::new(),
    };
    let path = clean_path(path.trim_start_matches('/'));
    let mut out = format!("{scheme}://{}{port}", host.to_ascii_lowercase());
    if !path.is_empty() {
        out.push('/');
        out.push_str(&path);
    }
    out
}

/// `host[:port]` or `[v6]:port` split into host and port.
fn split_port(host_port: &str) -> (&str, Option<&str>) {
    if host_port.starts_with('[') {
        if let Some(end) = host_port.find(']') {
            let host = host_port.get(..=end).unwrap_or(host_port);
            let port = host_port.get(end + 1..).and_then(|r| r.strip_prefix(':'));
            return (host, port);
        }
        return (host_port, None);
    }
    match host_port.rsplit_once(':') {
        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) => (h, Some(p)),
        _ => (host_port, None),
    }
}

/// A repository path without trailing `/`, a trailing `.git`, or duplicate slashes.
fn clean_path(path: &str) -> String {
    let mut p: String = path
        .split('/')
        .filter(|c| !c.is_empty())
        .collect::<Vec<_>>()
        .join("/");
    while let Some(stripped) = p.strip_suffix(".git") {
        p = stripped.trim_end_matches('/').to_string();
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_of_one_repository_are_one_identity() {
        // Each spelling of one repository normalises to that repository's one identity.
        let spellings: [(&str, &[&str]); 2] = [
            (
                "https://git.example.com/org/repo",
                &[
                    "https://git.example.com/org/repo",
                    "https://git.example.com/org/repo.git",
                    "https://git.example.com/org/repo/",
                    "https://git.example.com/org/repo.git/",
                    "HTTPS://Git.Example.COM/org/repo.git",
                    "https://git.example.com:443/org/repo",
                    "https://user:s3cret@git.example.com/org/repo.git",
                    "https://oauth2:tok@git.example.com//org//repo.git",
                    "https://git.example.com/org/repo.git?private_token=tok",
                    "https://git.example.com/org/repo#readme",
                ],
            ),
            (
                "ssh://github.com/org/repo",
                &[
                    "git@github.com:org/repo.git",
                    "github.com:org/repo",
                    "ssh://git@github.com/org/repo.git",
                    "ssh://git@GitHub.com:22/org/repo",
                    "git+ssh://git@github.com/org/repo.git/",
                    "ssh+git://github.com/org/repo",
                ],
            ),
        ];
        for (identity, urls) in spellings {
            for u in urls {
                assert_eq!(normalize_url(u), identity, "{u}");
            }
        }
        // Different repositories, ports, schemes or path case stay different.
        let different = [
            "https://git.example.com/org/Repo",
            "https://git.example.com/org/other",
            "https://git.example.com:8443/org/repo",
            "http://git.example.com/org/repo",
            "https://git.example.org/org/repo",
        ];
        for u in different {
            assert_ne!(normalize_url(u), "https://git.example.com/org/repo", "{u}");
        }
        assert_eq!(normalize_url("http://[::1]:80/r.git"), "http://[::1]/r");
        assert_eq!(normalize_url("git://h:9418/r"), "git://h/r");
        for u in ["https://u:pw@h/r?private_token=tok#x", "ssh://u:pw@h/r"] {
            let n = normalize_url(u);
            assert!(!n.contains("pw") && !n.contains("tok"), "{n}");
        }
    }

    #[test]
    fn local_paths_resolve_relative_spellings_and_symlinks() {
        let tmp = tempfile::tempdir().unwrap();
        let real = std::fs::canonicalize(tmp.path()).unwrap().join("repo");
        std::fs::create_dir_all(real.join("tenants/a")).unwrap();
        std::os::unix::fs::symlink(&real, tmp.path().join("link")).unwrap();
        let want = SourceId {
            location: real.display().to_string(),
            path: "tenants/a".into(),
        };
        let spellings = [
            format!("{}", real.display()),
            format!("{}/", real.display()),
            format!("{}/./", real.display()),
            format!("{}/tenants/..", real.display()),
            format!("{}/link", tmp.path().display()),
            format!("file://{}", real.display()),
            format!("file://localhost{}", real.display()),
        ];
        for s in &spellings {
            for p in ["tenants/a", "./tenants/a/", "tenants//a", "tenants\\a"] {
                assert_eq!(SourceId::new(s, Some(p)).unwrap(), want, "{s} {p}");
            }
        }
        assert_ne!(
            SourceId::new(&spellings[0], None).unwrap(),
            want,
            "another sub-path is another source"
        );
        assert_eq!(SourceId::new(&spellings[0], Some(".")).unwrap().path, "");
        assert!(SourceId::new(&format!("{}/missing", real.display()), None).is_err());
    }

    #[test]
    fn a_git_directory_stands_for_its_work_tree_and_head_is_not_part_of_it() {
        let tmp = tempfile::tempdir().unwrap();
        let work = std::fs::canonicalize(tmp.path()).unwrap().join("w");
        let repo = git2::Repository::init(&work).unwrap();
        let id = SourceId::new(&work.display().to_string(), None).unwrap();
        assert_eq!(id.location, work.display().to_string());
        let via_git_dir = SourceId::new(&work.join(".git").display().to_string(), None).unwrap();
        assert_eq!(via_git_dir, id);
        // Moving HEAD does not change the identity.
        repo.set_head("refs/heads/other").unwrap();
        assert_eq!(
            SourceId::new(&work.display().to_string(), None).unwrap(),
            id
        );
        let bare = std::fs::canonicalize(tmp.path()).unwrap().join("b.git");
        git2::Repository::init_bare(&bare).unwrap();
        assert_eq!(
            SourceId::new(&bare.display().to_string(), None)
                .unwrap()
                .location,
            bare.display().to_string()
        );
    }
}
