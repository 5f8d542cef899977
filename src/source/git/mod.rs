//! Stage 1, Git half: fetches a Git repository (remote URL, or a local repository with a
//! `--ref`) and reads one commit's tree into a [`Snapshot`] without checking it out.
//!
//! Input: [`SourceSpec`]. Output: [`Snapshot`] whose `revision` is the full commit SHA.
//!
//! Remote repositories are kept as bare mirrors under `spec.cache_dir`, one directory per
//! URL, created by a clone into a temporary directory that is renamed into place only after
//! a complete fetch (and marked with [`MARKER`]), so an interrupted clone is detected and
//! redone. The tree walk itself lives in `source::tree`.
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

use super::{tree, Error, GitAuth, Snapshot, SourceId, SourceSpec};

pub mod log;
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

/// `url` without credentials, for messages and `Snapshot::origin`: no userinfo, every
/// query value masked, no fragment (see [`crate::redact::url::strip_credentials`]); an
/// scp-like `user@host:path` keeps its SSH login name. Local paths are returned unchanged.
pub fn strip_credentials(url: &str) -> String {
    crate::redact::url::strip_credentials(url)
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
    crate::redact::url::percent_decode(s)
}

/// Every secret this fetch could leak into a message: the configured token and
/// passphrase, whatever the URL carries (userinfo, query values, fragment; raw and
/// decoded), and the basic-auth header forms of each password with each user name it
/// may be sent with.
fn redactor_for(spec: &SourceSpec) -> Redactor {
    let mut r = Redactor::new();
    if let Some(p) = &spec.auth.ssh_passphrase {
        r.add(p.expose());
    }
    for s in crate::redact::url::secrets(&spec.repo) {
        r.add(&s);
    }
    let (url_user, url_password) = url_credentials(&spec.repo);
    let users: Vec<&str> = [spec.auth.username.as_deref(), url_user.as_deref()]
        .into_iter()
        .flatten()
        .chain(std::iter::once(TOKEN_USERNAME))
        .collect();
    let passwords = [
        spec.auth.token.as_ref().map(|t| t.expose()),
        url_password.as_deref(),
    ];
    for password in passwords.into_iter().flatten() {
        for user in &users {
            r.add_basic_auth(user, password);
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
    let id = SourceId::new(&spec.repo, spec.path.as_deref()).map_err(|source| Error::Io {
        path: spec.repo.clone().into(),
        source,
    })?;
    let snapshot = tree::read_commit(&repo, oid, spec.path.as_deref(), &ctx.origin, &spec.limits);
    let git_dir = repo.path().to_path_buf();
    snapshot
        .map(|s| s.with_id(id).with_git_dir(git_dir, spec.path.clone()))
        .map_err(|e| match e {
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
mod tests;
