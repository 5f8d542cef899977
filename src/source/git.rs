//! Stage 1, Git half: fetches a Git repository (remote URL, or a local repository with a
//! `--ref`) and reads one commit's tree into a [`Snapshot`] without checking it out.
//!
//! Input: [`SourceSpec`]. Output: [`Snapshot`] whose `revision` is the full commit SHA.
//!
//! Remote repositories are kept as bare mirrors under `spec.cache_dir`, one directory per
//! URL, created by a clone into a temporary directory that is renamed into place only after
//! a complete fetch (and marked with [`MARKER`]), so an interrupted clone is detected and
//! redone. The tree walk itself lives in [`super::tree`].
//!
//! This module must never: write credentials to disk (remotes are anonymous, so the URL
//! is not saved in the mirror's config), put a token into `origin` or an error message
//! (libgit2 messages go through a [`Redactor`]), turn off TLS certificate checking, or
//! return a snapshot from a failed fetch.

use std::path::Path;

use git2::{
    AutotagOption, Cred, CredentialType, ErrorCode, FetchOptions, FetchPrune, Oid, ProxyOptions,
    RemoteCallbacks, Repository,
};
use sha2::{Digest, Sha256};

use super::{tree, Error, GitAuth, Snapshot, SourceSpec};
use crate::redact::Redactor;

/// File written into a mirror directory once its first fetch has completed.
pub const MARKER: &str = "immuta-gitops-ok";

/// Credential callback calls allowed per fetch before giving up (libgit2 calls the
/// callback again after every rejected credential).
const MAX_AUTH_ATTEMPTS: u32 = 3;

/// Username sent with a token when none is configured (GitHub, Gitea and GitLab accept it).
const TOKEN_USERNAME: &str = "x-access-token";

/// True when `repo` is a Git URL rather than a local path: `https://`, `http://`,
/// `ssh://`, `git://`, `file://` (and `git+ssh://`), or scp-like `[user@]host:path`
/// (a `:` before any `/`, as Git decides; `C:\…` drive paths are local).
pub fn is_remote(repo: &str) -> bool {
    const SCHEMES: [&str; 7] = [
        "https://",
        "http://",
        "ssh://",
        "git://",
        "file://",
        "git+ssh://",
        "ssh+git://",
    ];
    let lower = repo.to_ascii_lowercase();
    if SCHEMES.iter().any(|s| lower.starts_with(s)) {
        return true;
    }
    let Some(colon) = repo.find(':') else {
        return false;
    };
    let slash_first = repo.find(['/', '\\']).is_some_and(|s| s < colon);
    let host = repo.get(..colon).unwrap_or_default();
    let drive_letter = host.len() == 1 && host.chars().all(|c| c.is_ascii_alphabetic());
    !slash_first && !drive_letter && !host.is_empty() && !host.ends_with('@')
}

/// `url` without credentials, for messages and `Snapshot::origin`: the userinfo of a
/// `scheme://user:pass@host/…` URL is removed; an scp-like `user@host:path` keeps its SSH
/// login name (it cannot carry a password). Local paths are returned unchanged.
pub fn strip_credentials(url: &str) -> String {
    match split_userinfo(url) {
        Some((scheme_end, userinfo, _)) => {
            let rest = url
                .get(scheme_end + userinfo.len() + 1..)
                .unwrap_or_default();
            format!("{}{rest}", url.get(..scheme_end).unwrap_or_default())
        }
        None => url.to_string(),
    }
}

/// For `scheme://userinfo@host…`: the index just after `://`, the userinfo, and the
/// authority's end. `None` when the URL has no scheme or no userinfo.
fn split_userinfo(url: &str) -> Option<(usize, &str, usize)> {
    let scheme_end = url.find("://")? + 3;
    let after = url.get(scheme_end..)?;
    let authority_len = after.find(['/', '?', '#']).unwrap_or(after.len());
    let authority = after.get(..authority_len)?;
    let at = authority.rfind('@')?;
    Some((scheme_end, authority.get(..at)?, scheme_end + authority_len))
}

/// The user and password written in a URL's userinfo, percent-decoded.
fn url_credentials(url: &str) -> (Option<String>, Option<String>) {
    let Some((_, userinfo, _)) = split_userinfo(url) else {
        return (None, None);
    };
    match userinfo.split_once(':') {
        Some((u, p)) => (Some(percent_decode(u)), Some(percent_decode(p))),
        None => (Some(percent_decode(userinfo)), None),
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b, hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Every secret this fetch could leak into a message: the configured token and
/// passphrase, and the userinfo of the URL (raw and decoded).
fn redactor_for(spec: &SourceSpec) -> Redactor {
    let mut r = Redactor::new();
    if let Some(t) = &spec.auth.token {
        r.add(t.expose());
    }
    if let Some(p) = &spec.auth.ssh_passphrase {
        r.add(p.expose());
    }
    if let Some((_, userinfo, _)) = split_userinfo(&spec.repo) {
        r.add(userinfo);
        for part in userinfo.split(':') {
            r.add(part);
            r.add(&percent_decode(part));
        }
    }
    r
}

/// Fetches `spec.repo` (through the mirror cache when remote, directly when a local
/// repository) and reads the commit named by `spec.reference` under `spec.path`.
///
/// # Errors
/// [`Error::Git`] when cloning, fetching or reading fails (message redacted);
/// [`Error::RefNotFound`] when the reference names nothing; [`Error::PathNotFound`] when
/// `spec.path` is missing or contains `..`; [`Error::Io`] when the cache directory
/// cannot be written.
pub fn fetch(spec: &SourceSpec) -> Result<Snapshot, Error> {
    let remote = is_remote(&spec.repo);
    let origin = if remote {
        strip_credentials(&spec.repo)
    } else {
        spec.repo.clone()
    };
    let redactor = redactor_for(spec);
    let ctx = Ctx {
        spec,
        origin,
        redactor,
        remote,
    };
    let _span =
        tracing::info_span!("fetch", origin = %ctx.origin, reference = ?spec.reference).entered();
    let repo = if remote {
        ctx.mirror()?
    } else {
        Repository::open(&spec.repo).map_err(|e| ctx.git_error("open", &e))?
    };
    let oid = ctx.resolve(&repo)?;
    tracing::debug!(revision = %oid, "resolved reference");
    tree::read_commit(&repo, oid, spec.path.as_deref(), &ctx.origin).map_err(|e| match e {
        Error::Git {
            op,
            origin,
            message,
        } => Error::Git {
            op,
            origin,
            message: ctx.redact(&message),
        },
        other => other,
    })
}

/// One fetch: the spec, its credential-free origin and the secrets to mask.
struct Ctx<'a> {
    spec: &'a SourceSpec,
    origin: String,
    redactor: Redactor,
    /// Read through the mirror cache (else the local repository is opened directly).
    remote: bool,
}

impl Ctx<'_> {
    /// No reference, or `HEAD`: the default branch.
    fn wants_default_branch(&self) -> bool {
        matches!(self.spec.reference.as_deref(), None | Some("HEAD"))
    }

    fn redact(&self, message: &str) -> String {
        self.redactor
            .redact(&message.replace(&self.spec.repo, &self.origin))
    }

    fn git_error(&self, op: &'static str, e: &git2::Error) -> Error {
        Error::Git {
            op,
            origin: self.origin.clone(),
            message: self.redact(e.message()),
        }
    }

    fn io_error(path: &Path, source: std::io::Error) -> Error {
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// Opens (and updates) the bare mirror of the remote, cloning it on first use.
    fn mirror(&self) -> Result<Repository, Error> {
        let dir = self.spec.cache_dir.join(cache_name(&self.origin));
        if dir.join(MARKER).is_file() {
            if let Ok(repo) = Repository::open_bare(&dir) {
                self.fetch_into(&repo, "fetch")?;
                return Ok(repo);
            }
        }
        if dir.exists() {
            tracing::warn!(path = %dir.display(), "removing an incomplete mirror left by an interrupted clone");
            std::fs::remove_dir_all(&dir).map_err(|e| Self::io_error(&dir, e))?;
        }
        self.clone_into(&dir)?;
        Repository::open_bare(&dir).map_err(|e| self.git_error("clone", &e))
    }

    /// Clones into a temporary directory next to `dir` and renames it into place.
    fn clone_into(&self, dir: &Path) -> Result<(), Error> {
        let cache = &self.spec.cache_dir;
        std::fs::create_dir_all(cache).map_err(|e| Self::io_error(cache, e))?;
        let tmp = tempfile::Builder::new()
            .prefix(".clone-")
            .tempdir_in(cache)
            .map_err(|e| Self::io_error(cache, e))?;
        {
            let repo =
                Repository::init_bare(tmp.path()).map_err(|e| self.git_error("clone", &e))?;
            self.fetch_into(&repo, "clone")?;
        }
        let marker = tmp.path().join(MARKER);
        std::fs::write(&marker, b"").map_err(|e| Self::io_error(&marker, e))?;
        let tmp_path = tmp.keep();
        if let Err(e) = std::fs::rename(&tmp_path, dir) {
            // Another process may have finished the same clone first; theirs is as good.
            let _ = std::fs::remove_dir_all(&tmp_path);
            if !dir.join(MARKER).is_file() {
                return Err(Self::io_error(dir, e));
            }
        }
        Ok(())
    }

    /// Fetches every branch and tag (and the remote HEAD when no reference is pinned)
    /// into `repo`, pruning refs deleted upstream.
    fn fetch_into(&self, repo: &Repository, op: &'static str) -> Result<(), Error> {
        let mut remote = repo
            .remote_anonymous(&self.spec.repo)
            .map_err(|e| self.git_error(op, &e))?;
        let mut refspecs = vec!["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"];
        if self.wants_default_branch() {
            refspecs.push("+HEAD:refs/remotes/origin/HEAD");
        }
        let (_, url_password) = url_credentials(&self.spec.repo);
        let mut proxy = ProxyOptions::new();
        proxy.auto();
        let mut opts = FetchOptions::new();
        opts.remote_callbacks(callbacks(&self.spec.auth, url_password))
            .proxy_options(proxy)
            .prune(FetchPrune::On)
            .download_tags(AutotagOption::None);
        tracing::debug!(op, "fetching");
        remote
            .fetch(&refspecs, Some(&mut opts), None)
            .map_err(|e| self.git_error(op, &e))
    }

    /// The commit named by `spec.reference`: the default branch when `None` or `HEAD`
    /// (the remote's, or the local repository's checked-out one), else a branch, a tag
    /// (annotated tags peeled) or a full or abbreviated SHA.
    fn resolve(&self, repo: &Repository) -> Result<Oid, Error> {
        let not_found = |reference: &str| Error::RefNotFound {
            reference: reference.to_string(),
            origin: self.origin.clone(),
        };
        let reference = match self.spec.reference.as_deref() {
            // A mirror's own HEAD is meaningless; the remote's was fetched into origin/HEAD.
            None | Some("HEAD") => {
                let head = if self.remote {
                    "refs/remotes/origin/HEAD"
                } else {
                    "HEAD"
                };
                return peel_ref(repo, head).ok_or_else(|| not_found("HEAD"));
            }
            Some(r) => r,
        };
        let mut candidates = Vec::new();
        if reference.starts_with("refs/") {
            candidates.push(reference.to_string());
        }
        candidates.extend([
            format!("refs/heads/{reference}"),
            format!("refs/remotes/origin/{reference}"),
            format!("refs/tags/{reference}"),
        ]);
        if let Some(oid) = candidates.iter().find_map(|n| peel_ref(repo, n)) {
            return Ok(oid);
        }
        if !is_hex_sha(reference) {
            return Err(not_found(reference));
        }
        match repo
            .revparse_single(reference)
            .and_then(|o| o.peel_to_commit())
        {
            Ok(commit) => Ok(commit.id()),
            Err(e) if e.code() == ErrorCode::Ambiguous => Err(self.git_error("resolve", &e)),
            Err(_) => Err(not_found(reference)),
        }
    }
}

/// The commit a reference finally points to, if any.
fn peel_ref(repo: &Repository, name: &str) -> Option<Oid> {
    repo.find_reference(name)
        .ok()?
        .peel_to_commit()
        .ok()
        .map(|c| c.id())
}

/// 4 to 40 hexadecimal digits: something `revparse` may take as a commit id.
fn is_hex_sha(s: &str) -> bool {
    (4..=40).contains(&s.len()) && s.chars().all(|c| c.is_ascii_hexdigit())
}

/// The mirror directory name for a credential-free URL: a readable stem plus a hash of
/// the whole URL (two URLs never share a mirror).
fn cache_name(origin: &str) -> String {
    let digest = hex::encode(Sha256::digest(origin.as_bytes()));
    let last = origin
        .trim_end_matches(['/', '\\'])
        .rsplit(['/', '\\', ':'])
        .next()
        .unwrap_or_default();
    let last = last.strip_suffix(".git").unwrap_or(last);
    let stem: String = last
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .take(40)
        .collect();
    let stem = stem.trim_start_matches('.');
    let short = digest.get(..16).unwrap_or(&digest);
    if stem.is_empty() {
        short.to_string()
    } else {
        format!("{stem}-{short}")
    }
}

/// What to answer when libgit2 asks for credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Answer {
    UserPass { username: String },
    SshKey { username: String },
    SshAgent { username: String },
    Username(String),
    Default,
    GiveUp(&'static str),
}

/// Decides the credential for one callback call (a pure function, tested alone).
fn choose_credential(
    auth: &GitAuth,
    has_url_password: bool,
    username_from_url: Option<&str>,
    allowed: CredentialType,
    attempt: u32,
) -> Answer {
    if attempt > MAX_AUTH_ATTEMPTS {
        return Answer::GiveUp("authentication failed: the credentials were rejected");
    }
    if allowed.contains(CredentialType::USER_PASS_PLAINTEXT) {
        if auth.token.is_some() {
            let username = auth
                .username
                .as_deref()
                .or(username_from_url)
                .unwrap_or(TOKEN_USERNAME);
            return Answer::UserPass {
                username: username.to_string(),
            };
        }
        if has_url_password {
            return Answer::UserPass {
                username: username_from_url.unwrap_or(TOKEN_USERNAME).to_string(),
            };
        }
    }
    let ssh_user = username_from_url
        .or(auth.username.as_deref())
        .unwrap_or("git")
        .to_string();
    if allowed.contains(CredentialType::SSH_KEY) {
        return match auth.ssh_key {
            Some(_) => Answer::SshKey { username: ssh_user },
            None => Answer::SshAgent { username: ssh_user },
        };
    }
    if allowed.contains(CredentialType::USERNAME) {
        return Answer::Username(ssh_user);
    }
    if allowed.contains(CredentialType::DEFAULT) {
        return Answer::Default;
    }
    Answer::GiveUp("authentication required but no credentials are configured")
}

/// Remote callbacks with a bounded credential callback. TLS certificate checking is
/// left to libgit2's default (verify).
fn callbacks(auth: &GitAuth, url_password: Option<String>) -> RemoteCallbacks<'_> {
    let mut attempts = 0u32;
    let mut cb = RemoteCallbacks::new();
    cb.credentials(move |_url, username_from_url, allowed| {
        attempts += 1;
        match choose_credential(
            auth,
            url_password.is_some(),
            username_from_url,
            allowed,
            attempts,
        ) {
            Answer::UserPass { username } => {
                let password = auth
                    .token
                    .as_ref()
                    .map(|t| t.expose())
                    .or(url_password.as_deref())
                    .unwrap_or_default();
                Cred::userpass_plaintext(&username, password)
            }
            Answer::SshKey { username } => {
                let key = auth.ssh_key.as_deref().unwrap_or(Path::new(""));
                Cred::ssh_key(
                    &username,
                    None,
                    key,
                    auth.ssh_passphrase.as_ref().map(|p| p.expose()),
                )
            }
            Answer::SshAgent { username } => Cred::ssh_key_from_agent(&username),
            Answer::Username(username) => Cred::username(&username),
            Answer::Default => Cred::default(),
            Answer::GiveUp(why) => Err(git2::Error::from_str(why)),
        }
    });
    cb
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redact::Secret;
    use crate::source::FileEntry;
    use std::path::PathBuf;

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
        }
    }

    fn blob<'a>(s: &'a Snapshot, path: &str) -> &'a [u8] {
        match s.files().find(|(p, _)| *p == path) {
            Some((_, FileEntry::Blob(b))) => b,
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
        for skipped in ["data/dangling", "data/loop1", "data/loop2", "module"] {
            assert_eq!(entry(skipped), None, "{skipped}");
        }
        assert!(s.read_relative("data/a.yaml", "up").is_err());
    }

    #[test]
    fn unreachable_remote_is_a_git_error_without_credentials() {
        let cache = tempfile::tempdir().unwrap();
        let mut sp = spec(
            "https://user:tok123@127.0.0.1:1/repo.git",
            Some("main"),
            None,
            cache.path(),
        );
        let err = fetch(&sp).unwrap_err();
        let Error::Git { origin, .. } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(origin, "https://127.0.0.1:1/repo.git");
        for text in [err.to_string(), format!("{err:?}")] {
            assert!(
                !text.contains("tok123") && !text.contains("user:"),
                "{text}"
            );
        }
        sp.repo = "https://127.0.0.1:1/repo.git".into();
        sp.auth.token = Some(Secret::new("ghp_tok123"));
        let err = fetch(&sp).unwrap_err();
        assert!(matches!(err, Error::Git { .. }), "{err}");
        assert!(!format!("{err} {err:?}").contains("tok123"));
        // Nothing half-cloned is left behind as a usable mirror.
        let left: Vec<_> = std::fs::read_dir(cache.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert!(left.iter().all(|p| !p.join(MARKER).exists()), "{left:?}");
    }

    /// An HTTP server on 127.0.0.1 that answers every request with 401 and records the
    /// `Authorization` headers it was sent.
    fn refusing_server() -> (
        String,
        std::thread::JoinHandle<Vec<String>>,
        std::net::SocketAddr,
    ) {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let handle = std::thread::spawn(move || {
            let mut auth = Vec::new();
            for stream in listener.incoming() {
                let mut stream = stream.unwrap();
                let mut lines = Vec::new();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    lines.push(line.trim_end().to_string());
                }
                if lines.first().is_some_and(|l| l.starts_with("STOP")) {
                    break;
                }
                auth.extend(
                    lines
                        .iter()
                        .filter_map(|l| l.strip_prefix("Authorization: ").map(str::to_string)),
                );
                let reply = "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
                let _ = stream.write_all(reply.as_bytes());
            }
            auth
        });
        (format!("http://{addr}/acme/policies.git"), handle, addr)
    }

    #[test]
    fn rejected_credentials_give_up_after_a_few_attempts() {
        use std::io::Write;
        let (url, server, addr) = refusing_server();
        let cache = tempfile::tempdir().unwrap();
        let mut sp = spec(&url, None, None, cache.path());
        sp.auth.token = Some(Secret::new("ghp_tok123"));
        let err = fetch(&sp).unwrap_err();
        assert!(matches!(err, Error::Git { op: "clone", .. }), "{err}");
        assert!(!format!("{err} {err:?}").contains("tok123"), "{err}");
        std::net::TcpStream::connect(addr)
            .unwrap()
            .write_all(b"STOP\r\n\r\n")
            .unwrap();
        let sent = server.join().unwrap();
        let basic = format!("Basic {}", base64_of("x-access-token:ghp_tok123"));
        assert!(
            !sent.is_empty() && sent.len() <= MAX_AUTH_ATTEMPTS as usize,
            "{sent:?}"
        );
        assert!(sent.iter().all(|a| *a == basic), "{sent:?}");
    }

    fn base64_of(s: &str) -> String {
        const ABC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in s.as_bytes().chunks(3) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(char::from(ABC[((n >> (18 - 6 * i)) & 63) as usize]));
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    #[test]
    fn redactor_masks_every_form_of_the_url_secret() {
        let sp = spec("https://us%65r:t%6Fk123@h/x", None, None, Path::new("/tmp"));
        let r = redactor_for(&sp);
        assert_eq!(
            r.redact("a t%6Fk123 b tok123 c"),
            "a (sensitive) b (sensitive) c"
        );
    }

    #[test]
    fn credential_choice_is_bounded_and_prefers_configured_values() {
        let token = GitAuth {
            token: Some(Secret::new("t0k3n")),
            ..Default::default()
        };
        let key = GitAuth {
            ssh_key: Some(PathBuf::from("/k")),
            ..Default::default()
        };
        let none = GitAuth::default();
        let up = CredentialType::USER_PASS_PLAINTEXT;
        let ssh = CredentialType::SSH_KEY;
        let cases = [
            (
                &token,
                false,
                None,
                up,
                1,
                Answer::UserPass {
                    username: TOKEN_USERNAME.into(),
                },
            ),
            (
                &token,
                false,
                Some("bob"),
                up,
                1,
                Answer::UserPass {
                    username: "bob".into(),
                },
            ),
            (
                &none,
                true,
                Some("bob"),
                up,
                1,
                Answer::UserPass {
                    username: "bob".into(),
                },
            ),
            (
                &key,
                false,
                Some("git"),
                ssh,
                1,
                Answer::SshKey {
                    username: "git".into(),
                },
            ),
            (
                &none,
                false,
                None,
                ssh,
                2,
                Answer::SshAgent {
                    username: "git".into(),
                },
            ),
            (
                &none,
                false,
                None,
                CredentialType::USERNAME,
                1,
                Answer::Username("git".into()),
            ),
        ];
        for (auth, url_pw, user, allowed, attempt, want) in cases {
            assert_eq!(
                choose_credential(auth, url_pw, user, allowed, attempt),
                want
            );
        }
        assert!(matches!(
            choose_credential(&none, false, None, up, 1),
            Answer::GiveUp(_)
        ));
        assert!(matches!(
            choose_credential(&token, false, None, up, MAX_AUTH_ATTEMPTS + 1),
            Answer::GiveUp(_)
        ));
    }
}
