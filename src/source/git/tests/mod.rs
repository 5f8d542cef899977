//! Tests of the Git source: throwaway origin repositories built from in-memory file lists,
//! fetched over `file://`; no network beyond loopback. The credential tests (a refusing
//! 127.0.0.1 server, tokens kept out of errors) are in `credentials.rs`.

use super::*;
use crate::redact::Secret;
use crate::source::FileEntry;
use std::path::PathBuf;

mod credentials;

/// A work-tree repository whose commits are built from in-memory file lists.
struct Origin {
    pub dir: tempfile::TempDir,
    pub repo: Repository,
}

/// Mode of a test file: regular, symlink or submodule (gitlink).
#[derive(Clone, Copy)]
enum M {
    F,
    L,
    S,
}

impl Origin {
    pub fn new() -> Origin {
        let dir = tempfile::tempdir().unwrap();
        let mut opts = git2::RepositoryInitOptions::new();
        opts.initial_head("main");
        let repo = Repository::init_opts(dir.path().join("origin"), &opts).unwrap();
        Origin { dir, repo }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join("origin")
    }

    pub fn url(&self) -> String {
        format!("file://{}", self.path().display())
    }

    /// Commits exactly `files` on `branch` (created or moved), parent = its tip.
    pub fn commit(&self, branch: &str, files: &[(&str, M, &str)]) -> Oid {
        let mut index = git2::Index::new().unwrap();
        for (path, mode, content) in files {
            let (mode, id) = match mode {
                M::F => (0o100644, self.repo.blob(content.as_bytes()).unwrap()),
                M::L => (0o120000, self.repo.blob(content.as_bytes()).unwrap()),
                M::S => (0o160000, Oid::from_str(content).unwrap()),
            };
            index
                .add(&git2::IndexEntry {
                    ctime: git2::IndexTime::new(0, 0),
                    mtime: git2::IndexTime::new(0, 0),
                    dev: 0,
                    ino: 0,
                    mode,
                    uid: 0,
                    gid: 0,
                    file_size: 0,
                    id,
                    flags: path.len() as u16,
                    flags_extended: 0,
                    path: path.as_bytes().to_vec(),
                })
                .unwrap();
        }
        let tree = self
            .repo
            .find_tree(index.write_tree_to(&self.repo).unwrap())
            .unwrap();
        let sig =
            git2::Signature::new("t", "t@example.invalid", &git2::Time::new(1_700_000_000, 0))
                .unwrap();
        let refname = format!("refs/heads/{branch}");
        let parent = self
            .repo
            .find_reference(&refname)
            .ok()
            .and_then(|r| r.peel_to_commit().ok());
        let parents: Vec<&git2::Commit> = parent.iter().collect();
        self.repo
            .commit(Some(&refname), &sig, &sig, "c", &tree, &parents)
            .unwrap()
    }

    pub fn annotated_tag(&self, name: &str, target: Oid) {
        let sig =
            git2::Signature::new("t", "t@example.invalid", &git2::Time::new(1_700_000_000, 0))
                .unwrap();
        let obj = self.repo.find_object(target, None).unwrap();
        self.repo.tag(name, &obj, &sig, "release", false).unwrap();
    }
}

fn spec(repo: &str, reference: Option<&str>, path: Option<&str>, cache: &Path) -> SourceSpec {
    SourceSpec {
        repo: repo.to_string(),
        reference: reference.map(str::to_string),
        path: path.map(str::to_string),
        cache_dir: cache.to_path_buf(),
        auth: GitAuth::default(),
        limits: Default::default(),
    }
}

/// A file's bytes; a deferred one is read as `{{ReadFile}}` would.
fn blob(s: &Snapshot, path: &str) -> Vec<u8> {
    match s.files().find(|(p, _)| *p == path) {
        Some((_, FileEntry::Blob(b))) => b.clone(),
        Some((_, FileEntry::Deferred(_))) => {
            let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
            s.read_relative(&format!("{dir}/x"), name)
                .unwrap()
                .into_owned()
        }
        other => panic!("{path}: {other:?}"),
    }
}

fn paths(s: &Snapshot) -> Vec<&str> {
    s.files().map(|(p, _)| p).collect()
}

/// main: v1 then v2; branch `feature` off v1 with its own file; tag `v1.0` (annotated) on v1.
fn history() -> (Origin, Oid, Oid, Oid) {
    let o = Origin::new();
    let v1 = o.commit(
        "main",
        &[("data/a.yaml", M::F, "v1"), ("policy/p.yaml", M::F, "p")],
    );
    o.repo
        .branch("feature", &o.repo.find_commit(v1).unwrap(), false)
        .unwrap();
    let f = o.commit(
        "feature",
        &[
            ("data/a.yaml", M::F, "v1"),
            ("data/f.yaml", M::F, "feature"),
        ],
    );
    o.annotated_tag("v1.0", v1);
    let v2 = o.commit(
        "main",
        &[("data/a.yaml", M::F, "v2"), ("policy/p.yaml", M::F, "p")],
    );
    (o, v1, v2, f)
}

#[test]
fn is_remote_recognises_urls_and_scp_syntax() {
    for url in [
        "https://github.com/acme/x.git",
        "HTTP://h/x",
        "ssh://git@h/x",
        "git://h/x",
        "file:///tmp/x",
        "git@github.com:acme/x.git",
        "github.com:acme/x",
    ] {
        assert!(is_remote(url), "{url}");
    }
    for path in [
        "/tmp/repo",
        "./repo",
        "repo",
        "C:\\repo",
        "C:/repo",
        "dir/with:colon",
        "",
        ":x",
    ] {
        assert!(!is_remote(path), "{path}");
    }
}

#[test]
fn strip_credentials_removes_userinfo() {
    let cases = [
        (
            "https://user:tok123@github.com/a/b.git",
            "https://github.com/a/b.git",
        ),
        (
            "https://tok123@github.com/a/b.git",
            "https://github.com/a/b.git",
        ),
        ("https://github.com/a/b.git", "https://github.com/a/b.git"),
        ("ssh://git:p%40ss@h:22/x", "ssh://h:22/x"),
        ("https://h/path@with-at", "https://h/path@with-at"),
        ("git@github.com:a/b.git", "git@github.com:a/b.git"),
        ("/tmp/x", "/tmp/x"),
    ];
    for (input, want) in cases {
        assert_eq!(strip_credentials(input), want, "{input}");
    }
    assert_eq!(
        url_credentials("https://u%20x:p%40ss@h/"),
        (Some("u x".into()), Some("p@ss".into()))
    );
}

#[test]
fn cache_name_is_readable_and_distinct() {
    let a = cache_name("https://github.com/acme/policies.git");
    let b = cache_name("https://gitlab.com/acme/policies.git");
    assert!(a.starts_with("policies-"), "{a}");
    assert_ne!(a, b);
    assert!(!cache_name("file:///").is_empty());
    assert!(!cache_name("file:///x/..").starts_with('.'));
}

#[test]
fn fetch_resolves_default_branch_tag_and_shas() {
    let (o, v1, v2, f) = history();
    let cache = tempfile::tempdir().unwrap();
    let url = o.url();
    let cases: [(Option<&str>, Oid); 8] = [
        (None, v2),
        (Some("HEAD"), v2),
        (Some("main"), v2),
        (Some("feature"), f),
        (Some("v1.0"), v1),
        (Some("refs/tags/v1.0"), v1),
        (Some(&v1.to_string()), v1),
        (Some(&v1.to_string()[..8]), v1),
    ];
    for (reference, want) in cases {
        let s = fetch(&spec(&url, reference, None, cache.path())).unwrap();
        assert_eq!(s.revision, want.to_string(), "{reference:?}");
        assert_eq!(s.origin, url);
    }
    let s = fetch(&spec(&url, Some("feature"), None, cache.path())).unwrap();
    assert_eq!(paths(&s), ["data/a.yaml", "data/f.yaml"]);
    let s = fetch(&spec(&url, None, None, cache.path())).unwrap();
    assert_eq!(blob(&s, "data/a.yaml"), b"v2");
}

#[test]
fn missing_reference_is_ref_not_found() {
    let (o, ..) = history();
    let cache = tempfile::tempdir().unwrap();
    for r in [
        "nope",
        "deadbeef",
        "0000000000000000000000000000000000000000",
    ] {
        let err = fetch(&spec(&o.url(), Some(r), None, cache.path())).unwrap_err();
        assert!(
            matches!(&err, Error::RefNotFound { reference, .. } if reference == r),
            "{err}"
        );
    }
}

#[test]
fn sub_path_is_the_snapshot_root() {
    let o = Origin::new();
    o.commit(
        "main",
        &[
            ("readme.md", M::F, "r"),
            ("immuta/data/a.yaml", M::F, "a"),
            ("immuta/policy/p.yaml", M::F, "p"),
        ],
    );
    let cache = tempfile::tempdir().unwrap();
    let s = fetch(&spec(&o.url(), None, Some("immuta/"), cache.path())).unwrap();
    assert_eq!(paths(&s), ["data/a.yaml", "policy/p.yaml"]);
    for bad in ["missing", "readme.md", "../immuta", "immuta/../immuta"] {
        let err = fetch(&spec(&o.url(), None, Some(bad), cache.path())).unwrap_err();
        assert!(
            matches!(&err, Error::PathNotFound { path, .. } if path == bad),
            "{bad}: {err}"
        );
    }
}

#[test]
fn mirror_cache_is_reused_and_updated() {
    let o = Origin::new();
    let c1 = o.commit("main", &[("data/a.yaml", M::F, "1")]);
    let cache = tempfile::tempdir().unwrap();
    let sp = spec(&o.url(), None, None, cache.path());
    assert_eq!(fetch(&sp).unwrap().revision, c1.to_string());
    let c2 = o.commit(
        "main",
        &[("data/a.yaml", M::F, "2"), ("data/b.yaml", M::F, "b")],
    );
    let s = fetch(&sp).unwrap();
    assert_eq!(s.revision, c2.to_string());
    assert_eq!(blob(&s, "data/a.yaml"), b"2");
    let entries: Vec<_> = std::fs::read_dir(cache.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert!(entries[0].join(MARKER).is_file());
    // A branch deleted upstream is pruned from the mirror.
    o.repo
        .branch("tmp", &o.repo.find_commit(c2).unwrap(), false)
        .unwrap();
    fetch(&spec(&o.url(), Some("tmp"), None, cache.path())).unwrap();
    o.repo
        .find_branch("tmp", git2::BranchType::Local)
        .unwrap()
        .delete()
        .unwrap();
    assert!(matches!(
        fetch(&spec(&o.url(), Some("tmp"), None, cache.path())),
        Err(Error::RefNotFound { .. })
    ));
}

#[test]
fn interrupted_clone_is_redone() {
    let o = Origin::new();
    let c1 = o.commit("main", &[("data/a.yaml", M::F, "1")]);
    let cache = tempfile::tempdir().unwrap();
    let dir = cache.path().join(cache_name(&o.url()));
    std::fs::create_dir_all(dir.join("objects")).unwrap();
    std::fs::write(dir.join("HEAD"), "garbage").unwrap();
    let s = fetch(&spec(&o.url(), None, None, cache.path())).unwrap();
    assert_eq!(s.revision, c1.to_string());
    assert!(dir.join(MARKER).is_file());
}

#[test]
fn local_repository_with_ref_is_read_directly() {
    let (o, v1, _, f) = history();
    let cache = tempfile::tempdir().unwrap();
    let path = o.path().display().to_string();
    let s = fetch(&spec(&path, Some("v1.0"), None, cache.path())).unwrap();
    assert_eq!(s.revision, v1.to_string());
    o.repo.set_head("refs/heads/feature").unwrap();
    let s = fetch(&spec(&path, Some("HEAD"), None, cache.path())).unwrap();
    assert_eq!(s.revision, f.to_string());
    assert_eq!(s.origin, path);
    assert_eq!(std::fs::read_dir(cache.path()).unwrap().count(), 0);
    let plain = tempfile::tempdir().unwrap();
    let err = fetch(&spec(
        &plain.path().display().to_string(),
        Some("main"),
        None,
        cache.path(),
    ))
    .unwrap_err();
    assert!(matches!(err, Error::Git { op: "open", .. }), "{err}");
}

#[test]
fn symlinks_in_tree_are_resolved_or_marked_escaping() {
    let o = Origin::new();
    let sub = o.commit("main", &[("x", M::F, "x")]);
    o.commit(
        "main",
        &[
            ("outside.txt", M::F, "secret"),
            ("m/data/a.yaml", M::F, "a"),
            ("m/certs/ca.pem", M::F, "pem"),
            ("m/data/ca.pem", M::L, "../certs/ca.pem"),
            ("m/data/chain", M::L, "ca.pem"),
            ("m/data/up", M::L, "../../outside.txt"),
            ("m/data/abs", M::L, "/etc/passwd"),
            ("m/data/far", M::L, "../../../../etc/passwd"),
            ("m/data/dangling", M::L, "nope"),
            ("m/data/loop1", M::L, "loop2"),
            ("m/data/loop2", M::L, "loop1"),
            ("m/linked", M::L, "certs"),
            ("m/module", M::S, &sub.to_string()),
        ],
    );
    let cache = tempfile::tempdir().unwrap();
    let s = fetch(&spec(&o.url(), None, Some("m"), cache.path())).unwrap();
    assert_eq!(blob(&s, "data/ca.pem"), b"pem");
    assert_eq!(blob(&s, "data/chain"), b"pem");
    assert_eq!(blob(&s, "linked/ca.pem"), b"pem");
    let entry = |p: &str| s.files().find(|(q, _)| *q == p).map(|(_, e)| e.clone());
    assert_eq!(
        entry("data/up"),
        Some(FileEntry::EscapingLink("../../outside.txt".into()))
    );
    assert_eq!(
        entry("data/abs"),
        Some(FileEntry::EscapingLink("/etc/passwd".into()))
    );
    assert_eq!(
        entry("data/far"),
        Some(FileEntry::EscapingLink("../../../../etc/passwd".into()))
    );
    // Dangling and looping links, and a submodule, are kept as unreadable (a manifest
    // among them stops the revision).
    for unreadable in ["data/dangling", "data/loop1", "data/loop2", "module"] {
        assert!(
            matches!(entry(unreadable), Some(FileEntry::Unreadable(_))),
            "{unreadable}"
        );
    }
    assert!(s.read_relative("data/a.yaml", "up").is_err());
}

#[test]
fn issue_11_git_blobs_are_sized_before_they_are_loaded() {
    let o = Origin::new();
    let big = "x".repeat(8192);
    let tip = o.commit(
        "main",
        &[
            ("data/big.yaml", M::F, &big),
            ("data/ok.yaml", M::F, "connectionKey: ok\n"),
            ("data/cert.pem", M::F, "pem"),
            ("data/huge.bin", M::F, &big),
            ("data/link.yaml", M::L, "big.yaml"),
        ],
    );
    let cache = tempfile::tempdir().unwrap();
    let mut s = spec(&o.url(), None, None, cache.path());
    s.limits.manifest_bytes = 4096;
    s.limits.read_file_bytes = 4096;
    let snap = fetch(&s).unwrap();
    assert_eq!(snap.revision, tip.to_string());
    let entry = |p: &str| snap.files().find(|(q, _)| *q == p).map(|(_, e)| e.clone());
    for p in ["data/big.yaml", "data/link.yaml"] {
        assert_eq!(
            entry(p),
            Some(FileEntry::TooLarge {
                size: 8192,
                limit: 4096
            }),
            "{p}"
        );
    }
    assert_eq!(
        entry("data/ok.yaml"),
        Some(FileEntry::Blob(b"connectionKey: ok\n".to_vec()))
    );
    // Files that cannot be manifests are not loaded, only sized; read when named.
    assert!(matches!(entry("data/cert.pem"), Some(FileEntry::Deferred(d)) if d.size == 3));
    assert!(matches!(entry("data/huge.bin"), Some(FileEntry::Deferred(d)) if d.size == 8192));
    assert_eq!(blob(&snap, "data/cert.pem"), b"pem");
    let err = snap.read_relative("data/ok.yaml", "huge.bin").unwrap_err();
    assert!(
        matches!(err, crate::source::ReadError::TooLarge { size: 8192, .. }),
        "{err}"
    );
}

#[test]
fn a_snapshot_carries_its_commit_subject_folded_and_bounded() {
    let o = Origin::new();
    let tree = {
        let mut index = git2::Index::new().unwrap();
        let id = o.repo.blob(b"v").unwrap();
        index
            .add(&git2::IndexEntry {
                ctime: git2::IndexTime::new(0, 0),
                mtime: git2::IndexTime::new(0, 0),
                dev: 0,
                ino: 0,
                mode: 0o100644,
                uid: 0,
                gid: 0,
                file_size: 0,
                id,
                flags: 11,
                flags_extended: 0,
                path: b"data/a.yaml".to_vec(),
            })
            .unwrap();
        o.repo
            .find_tree(index.write_tree_to(&o.repo).unwrap())
            .unwrap()
    };
    let sig = git2::Signature::now("t", "t@example.invalid").unwrap();
    let long = "y".repeat(5_000);
    let message = format!("Mask SSNs\nfor claims\n\nBody {long}\n\nImmuta-Approve: all\n");
    o.repo
        .commit(Some("refs/heads/main"), &sig, &sig, &message, &tree, &[])
        .unwrap();
    let cache = tempfile::tempdir().unwrap();
    let s = fetch(&spec(&o.url(), None, None, cache.path())).unwrap();
    assert_eq!(s.subject.as_deref(), Some("Mask SSNs for claims"));
    // A huge first paragraph is cut where the snapshot is made.
    let one_line = format!("S{long}");
    let c = o
        .repo
        .commit(
            Some("refs/heads/main"),
            &sig,
            &sig,
            &one_line,
            &tree,
            &[&o.repo.head().unwrap().peel_to_commit().unwrap()],
        )
        .unwrap();
    let s = fetch(&spec(&o.url(), Some(&c.to_string()), None, cache.path())).unwrap();
    assert_eq!(
        s.subject.unwrap().chars().count(),
        crate::limits::MAX_SUBJECT_CHARS * 4
    );
}
