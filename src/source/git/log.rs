//! Stage 1, Git half: the commits between the last applied revision and the new head,
//! and their trailers (issue 16: `Immuta-Approve:` approves weakening changes).
//!
//! Input: a repository directory, the head revision and the last applied one. Output:
//! [`Commit`]s, newest first. Bounded: at most [`MAX_LOG_COMMITS`] commits are read, and a
//! message over [`MAX_COMMIT_MESSAGE_BYTES`] is not loaded (its size comes from the object
//! header) and carries no trailer.
//!
//! Which commits count:
//! - with a last applied revision that is an ancestor of the head: every commit reachable
//!   from the head and not from it (`git log since..head`), up to the bound;
//! - with none (nothing applied yet), or one that is not an ancestor (history was
//!   rewritten), or when the bound is reached before it: only the head commit, so an
//!   old approval somewhere in history never approves today's change.
//!
//! This module only reads; it never writes to the repository.

use std::path::Path;

use git2::{Oid, Repository, Sort};

use crate::limits::{MAX_COMMIT_MESSAGE_BYTES, MAX_LOG_COMMITS};

/// One commit of the range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    /// Full SHA.
    pub id: String,
    /// The message (empty when over [`MAX_COMMIT_MESSAGE_BYTES`] or not UTF-8).
    pub message: String,
    /// Every commit of the range that changes the source (files under `--path`) is this
    /// one or one of its ancestors: what its author saw is what the head holds. An
    /// approval in a commit without it would approve changes its author never saw.
    pub sees_head: bool,
}

/// Where a revision's history is: enough to read its commits later, on another thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct History {
    /// The repository directory (a bare mirror for a remote).
    pub dir: std::path::PathBuf,
    /// `--path`, when set.
    pub path: Option<String>,
    /// The revision read (full SHA).
    pub head: String,
}

impl History {
    /// [`commits_since`] for this revision.
    ///
    /// # Errors
    /// [`LogError`].
    pub fn commits_since(&self, since: Option<&str>) -> Result<Vec<Commit>, LogError> {
        commits_since(&self.dir, self.path.as_deref(), &self.head, since)
    }
}

/// Why the commits could not be read.
#[derive(Debug, thiserror::Error)]
#[error("reading commits of {dir}: {message}")]
pub struct LogError {
    /// The repository directory.
    pub dir: String,
    /// libgit2's message.
    pub message: String,
}

/// The commits reachable from `head` and not from `since`, newest first (see the module
/// documentation for when only the head counts).
///
/// # Errors
/// [`LogError`] when the repository or the head commit cannot be read.
pub fn commits_since(
    dir: &Path,
    path: Option<&str>,
    head: &str,
    since: Option<&str>,
) -> Result<Vec<Commit>, LogError> {
    let err = |e: git2::Error| LogError {
        dir: dir.display().to_string(),
        message: e.message().to_string(),
    };
    let repo = Repository::open(dir).map_err(err)?;
    let head = Oid::from_str(head).map_err(err)?;
    let only_head =
        || -> Result<Vec<Commit>, LogError> { Ok(vec![read(&repo, head).map_err(err)?]) };
    let Some(since) = since.and_then(|s| Oid::from_str(s).ok()) else {
        return only_head();
    };
    if since == head {
        return Ok(Vec::new());
    }
    if !repo.graph_descendant_of(head, since).unwrap_or(false) {
        tracing::warn!(%head, %since, "the last applied revision is not an ancestor of the head: only the head commit's trailers count");
        return only_head();
    }
    let mut walk = repo.revwalk().map_err(err)?;
    walk.set_sorting(Sort::TOPOLOGICAL).map_err(err)?;
    walk.push(head).map_err(err)?;
    walk.hide(since).map_err(err)?;
    let mut oids = Vec::new();
    for oid in walk {
        if oids.len() == MAX_LOG_COMMITS {
            tracing::warn!(
                limit = MAX_LOG_COMMITS,
                "more commits since the last applied revision than are read: only the head commit's trailers count"
            );
            return only_head();
        }
        oids.push(oid.map_err(err)?);
    }
    let mut changing = Vec::new();
    for oid in &oids {
        if changes_source(&repo, *oid, path).map_err(err)? {
            changing.push(*oid);
        }
    }
    let mut out = Vec::new();
    for oid in oids {
        let mut c = read(&repo, oid).map_err(err)?;
        c.sees_head = changing
            .iter()
            .all(|x| *x == oid || repo.graph_descendant_of(oid, *x).unwrap_or(false));
        out.push(c);
    }
    Ok(out)
}

/// True when `oid` changes a file under `path` against its first parent (a root commit:
/// against nothing).
fn changes_source(repo: &Repository, oid: Oid, path: Option<&str>) -> Result<bool, git2::Error> {
    let commit = repo.find_commit(oid)?;
    let tree = commit.tree()?;
    let parent = match commit.parents().next() {
        Some(p) => Some(p.tree()?),
        None => None,
    };
    let mut opts = git2::DiffOptions::new();
    if let Some(p) = path.filter(|p| !p.is_empty()) {
        opts.pathspec(p);
    }
    let diff = repo.diff_tree_to_tree(parent.as_ref(), Some(&tree), Some(&mut opts))?;
    Ok(diff.deltas().len() > 0)
}

fn read(repo: &Repository, oid: Oid) -> Result<Commit, git2::Error> {
    let (size, _) = repo.odb()?.read_header(oid)?;
    let message = if u64::try_from(size).unwrap_or(u64::MAX) > MAX_COMMIT_MESSAGE_BYTES {
        tracing::warn!(commit = %oid, "commit object over the message limit: its trailers are not read");
        String::new()
    } else {
        repo.find_commit(oid)?
            .message()
            .unwrap_or_default()
            .to_string()
    };
    Ok(Commit {
        id: oid.to_string(),
        message,
        sees_head: true,
    })
}

/// The trailers of a commit message, as Git reads them: the last paragraph of the message
/// (paragraphs are separated by blank lines; the first one is the subject and never holds
/// trailers) when every line of it is `Key: value` (a key of letters, digits and `-`) or
/// continues the previous one (starts with a space or tab). Keys keep their case; values
/// are trimmed, continuation lines joined with a space.
pub fn trailers(message: &str) -> Vec<(String, String)> {
    let lines: Vec<&str> = message.lines().map(str::trim_end).collect();
    let mut paragraphs: Vec<Vec<&str>> = vec![Vec::new()];
    for line in lines {
        if line.is_empty() {
            if paragraphs.last().is_some_and(|p| !p.is_empty()) {
                paragraphs.push(Vec::new());
            }
        } else if let Some(p) = paragraphs.last_mut() {
            p.push(line);
        }
    }
    paragraphs.retain(|p| !p.is_empty());
    if paragraphs.len() < 2 {
        return Vec::new();
    }
    let Some(last) = paragraphs.last() else {
        return Vec::new();
    };
    let mut out: Vec<(String, String)> = Vec::new();
    for line in last {
        if line.starts_with([' ', '\t']) {
            match out.last_mut() {
                Some((_, v)) => {
                    v.push(' ');
                    v.push_str(line.trim());
                }
                None => return Vec::new(),
            }
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            return Vec::new();
        };
        let is_token =
            !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !is_token {
            return Vec::new();
        }
        out.push((key.to_string(), value.trim().to_string()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailers_are_the_last_paragraph_when_it_is_all_trailers() {
        let m = "Unmask SSNs for fraud\n\nThe team needs them.\n\nImmuta-Approve: policy/mask-ssn, project/p\nSigned-off-by: A <a@x>\n";
        assert_eq!(
            trailers(m),
            vec![
                ("Immuta-Approve".into(), "policy/mask-ssn, project/p".into()),
                ("Signed-off-by".into(), "A <a@x>".into()),
            ]
        );
        // Continuation lines join the value.
        assert_eq!(
            trailers("s\n\nimmuta-approve: policy/a,\n  policy/b\n"),
            vec![("immuta-approve".into(), "policy/a, policy/b".into())]
        );
    }

    #[test]
    fn prose_and_the_subject_are_not_trailers() {
        for m in [
            "Immuta-Approve: all",
            "Immuta-Approve: all\n",
            "subject\n\nImmuta-Approve: all\nand a sentence",
            "subject\n\nImmuta-Approve: all\n\nA closing sentence.",
            "subject\n\nNot a key: all",
            "subject\n\n  leading continuation\n",
        ] {
            assert!(trailers(m).is_empty(), "{m:?}");
        }
    }

    fn commit(repo: &Repository, parent: Option<Oid>, message: &str) -> Oid {
        let tree = repo.treebuilder(None).unwrap().write().unwrap();
        let tree = repo.find_tree(tree).unwrap();
        let sig = git2::Signature::new("t", "t@x", &git2::Time::new(0, 0)).unwrap();
        let parents: Vec<git2::Commit> = parent
            .into_iter()
            .map(|p| repo.find_commit(p).unwrap())
            .collect();
        let refs: Vec<&git2::Commit> = parents.iter().collect();
        repo.commit(None, &sig, &sig, message, &tree, &refs)
            .unwrap()
    }

    #[test]
    fn the_range_is_since_the_last_applied_revision_or_only_the_head() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init_bare(dir.path()).unwrap();
        let a = commit(&repo, None, "a");
        let b = commit(&repo, Some(a), "b\n\nImmuta-Approve: all");
        let c = commit(&repo, Some(b), "c");
        let other = commit(&repo, None, "unrelated");
        let ids = |since: Option<Oid>| -> Vec<String> {
            commits_since(
                dir.path(),
                None,
                &c.to_string(),
                since.map(|o| o.to_string()).as_deref(),
            )
            .unwrap()
            .into_iter()
            .map(|c| c.message.lines().next().unwrap_or("").to_string())
            .collect()
        };
        assert_eq!(ids(Some(a)), vec!["c", "b"]);
        assert_eq!(ids(Some(c)), Vec::<String>::new());
        assert_eq!(ids(None), vec!["c"]);
        assert_eq!(
            ids(Some(other)),
            vec!["c"],
            "not an ancestor: only the head"
        );
        let got = commits_since(dir.path(), None, &c.to_string(), Some(&a.to_string())).unwrap();
        assert_eq!(got[1].id, b.to_string());
        assert_eq!(
            trailers(&got[1].message),
            vec![("Immuta-Approve".into(), "all".into())]
        );
    }

    #[test]
    fn a_huge_message_is_not_loaded_and_a_long_history_is_cut_to_the_head() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init_bare(dir.path()).unwrap();
        let base = commit(&repo, None, "base");
        let huge = format!("big\n\nImmuta-Approve: all\n{}", "x".repeat(70 * 1024));
        let big = commit(&repo, Some(base), &huge);
        let got =
            commits_since(dir.path(), None, &big.to_string(), Some(&base.to_string())).unwrap();
        assert_eq!(got.len(), 1);
        assert!(got[0].message.is_empty());
        let mut tip = base;
        for i in 0..=MAX_LOG_COMMITS {
            tip = commit(&repo, Some(tip), &format!("c{i}"));
        }
        let got =
            commits_since(dir.path(), None, &tip.to_string(), Some(&base.to_string())).unwrap();
        assert_eq!(got.len(), 1, "over the bound: only the head");
        assert_eq!(got[0].id, tip.to_string());
    }

    fn commit_file(repo: &Repository, parent: Oid, path: &str, content: &str, msg: &str) -> Oid {
        let blob = repo.blob(content.as_bytes()).unwrap();
        let mut sub = repo.treebuilder(None).unwrap();
        sub.insert("p.yaml", blob, 0o100644).unwrap();
        let sub = sub.write().unwrap();
        let mut root = repo.treebuilder(None).unwrap();
        root.insert(path, sub, 0o040000).unwrap();
        let tree = repo.find_tree(root.write().unwrap()).unwrap();
        let sig = git2::Signature::new("t", "t@x", &git2::Time::new(0, 0)).unwrap();
        let parent = repo.find_commit(parent).unwrap();
        repo.commit(None, &sig, &sig, msg, &tree, &[&parent])
            .unwrap()
    }

    #[test]
    fn an_approval_sees_the_head_only_when_no_later_commit_changes_the_source() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init_bare(dir.path()).unwrap();
        let base = commit(&repo, None, "base");
        let approve = commit_file(&repo, base, "policy", "v1", "x\n\nImmuta-Approve: all");
        // A later commit outside --path, then one with only a message: still what the
        // approver saw.
        let elsewhere = commit_file(&repo, approve, "other", "v1", "docs");
        let log = |head: Oid, path: &str| {
            commits_since(
                dir.path(),
                Some(path),
                &head.to_string(),
                Some(&base.to_string()),
            )
            .unwrap()
            .into_iter()
            .map(|c| (c.id == approve.to_string(), c.sees_head))
            .collect::<Vec<_>>()
        };
        // `other/` replaced `policy/` in the tree (each commit holds one directory), so
        // under --path policy the later commit removes the approved file.
        assert_eq!(log(elsewhere, "policy"), vec![(false, true), (true, false)]);
        let same = commit_file(&repo, approve, "policy", "v1", "message only");
        assert_eq!(log(same, "policy"), vec![(false, true), (true, true)]);
        let changed = commit_file(&repo, approve, "policy", "v2", "edit");
        assert_eq!(log(changed, "policy"), vec![(false, true), (true, false)]);
    }
}
