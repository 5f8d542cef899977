//! Stage 0: config. Turns what the flags said (and their environment fallbacks; the
//! flags themselves are declared by the command line) into validated settings: the
//! Immuta connection, the source spec and the Git credentials, in one
//! [`Config::from_flags`].
//!
//! This is the only module that reads secret files and secret environment variables;
//! what it reads is wrapped in [`Secret`] at once. A secret is never accepted as a plain
//! flag value (it would show in `ps` and shell history).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::client::{ClientConfig, RetryPolicy};
use crate::limits;
use crate::object::Kind;
use crate::redact::Secret;
use crate::source::{GitAuth, SourceSpec};
use crate::terminal::colour::{self, ColourChoice, ColourEnv};

/// Environment variable holding the Immuta API key.
pub const API_KEY_ENV: &str = "IMMUTA_API_KEY";
/// Environment variable holding a Git HTTPS token.
pub const GIT_TOKEN_ENV: &str = "IMMUTA_GITOPS_GIT_TOKEN";

/// Configuration failures.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Neither the env var nor the file gave an API key.
    #[error("no Immuta API key: set {API_KEY_ENV} or pass --api-key-file")]
    MissingApiKey,
    /// No Immuta URL.
    #[error("no Immuta URL: pass --immuta-url or set IMMUTA_URL")]
    MissingUrl,
    /// A secret file could not be read.
    #[error("cannot read {what} file {path}: {source}")]
    SecretFile {
        /// What the file holds.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A flag value is not valid.
    #[error("invalid --{flag}: {message}")]
    Invalid {
        /// The flag.
        flag: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A secret file is larger than [`limits::MAX_SECRET_FILE_BYTES`]: the wrong file.
    #[error(
        "{what} file {path} is larger than {} (a secret is one line); is it the right file?",
        limits::show_bytes(limits::MAX_SECRET_FILE_BYTES)
    )]
    SecretTooLarge {
        /// What the file holds.
        what: &'static str,
        /// The file.
        path: PathBuf,
    },
    /// A secret file is empty.
    #[error("{what} file {path} is empty")]
    EmptySecret {
        /// What the file holds.
        what: &'static str,
        /// The file.
        path: PathBuf,
    },
}

/// Reads a one-line secret from a file (trailing newline and spaces removed), at most
/// [`limits::MAX_SECRET_FILE_BYTES`] of it: the size is checked first and the read
/// stops after the limit, so a wrong path (a log, a device) cannot exhaust memory.
///
/// # Errors
/// [`Error::SecretFile`], [`Error::SecretTooLarge`], [`Error::EmptySecret`]; none of
/// them holds any of the file's content.
pub fn read_secret_file(what: &'static str, path: &Path) -> Result<Secret, Error> {
    use std::io::Read as _;
    let io_err = |source| Error::SecretFile {
        what,
        path: path.to_path_buf(),
        source,
    };
    let too_large = || Error::SecretTooLarge {
        what,
        path: path.to_path_buf(),
    };
    let file = std::fs::File::open(path).map_err(io_err)?;
    if file.metadata().map_err(io_err)?.len() > limits::MAX_SECRET_FILE_BYTES {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    file.take(limits::MAX_SECRET_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io_err)?;
    if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > limits::MAX_SECRET_FILE_BYTES {
        return Err(too_large());
    }
    let text = String::from_utf8(bytes).map_err(|_| {
        io_err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "not UTF-8 text",
        ))
    })?;
    let value = text.trim();
    if value.is_empty() {
        return Err(Error::EmptySecret {
            what,
            path: path.to_path_buf(),
        });
    }
    Ok(Secret::new(value))
}

/// What the environment says about colour: `NO_COLOR`, `CLICOLOR_FORCE`, `CLICOLOR`
/// and `TERM` (see [`crate::terminal::colour`] for the rules).
pub fn colour_env() -> ColourEnv {
    let var = |name: &str| std::env::var_os(name);
    ColourEnv {
        no_color: var("NO_COLOR").is_some_and(|v| !v.is_empty()),
        force: var("CLICOLOR_FORCE").is_some_and(|v| !v.is_empty() && v != "0"),
        clicolor_off: var("CLICOLOR").is_some_and(|v| v == "0"),
        dumb_term: var("TERM").is_some_and(|v| v == "dumb"),
    }
}

/// Whether text logs on stderr may use colour: only when stderr is a terminal and
/// `choice` and the environment allow it. Piped logs never carry escape sequences.
pub fn stderr_colour(choice: ColourChoice) -> bool {
    use std::io::IsTerminal;
    colour::log_colour(choice, colour_env(), std::io::stderr().is_terminal())
}

/// The API key: `--api-key-file` wins over `IMMUTA_API_KEY`.
///
/// # Errors
/// [`Error::MissingApiKey`] or a file error.
pub fn api_key(file: Option<&Path>) -> Result<Secret, Error> {
    if let Some(f) = file {
        return read_secret_file("API key", f);
    }
    match std::env::var(API_KEY_ENV) {
        Ok(v) if !v.trim().is_empty() => Ok(Secret::new(v.trim())),
        _ => Err(Error::MissingApiKey),
    }
}

/// Immuta connection settings from flags.
#[derive(Debug, Clone)]
pub struct ImmutaArgs {
    /// `--immuta-url` / `IMMUTA_URL`.
    pub url: Option<String>,
    /// `--api-key-file`.
    pub api_key_file: Option<PathBuf>,
    /// `--concurrency`.
    pub concurrency: usize,
    /// `--timeout`.
    pub timeout: Duration,
    /// `--max-response-bytes`.
    pub max_response_bytes: u64,
    /// `--insecure-skip-tls-verify`.
    pub insecure: bool,
    /// `--retry-attempts`, `--retry-max-delay`, `--retry-max-elapsed`.
    pub retry: RetryPolicy,
}

impl ImmutaArgs {
    /// The settings of `--immuta-url URL --api-key-file FILE` with every other flag at
    /// its default (those of [`ClientConfig::new`]).
    pub fn new(url: impl Into<String>, api_key_file: impl Into<PathBuf>) -> ImmutaArgs {
        let defaults = ClientConfig::new(String::new(), Secret::new(""));
        ImmutaArgs {
            url: Some(url.into()),
            api_key_file: Some(api_key_file.into()),
            concurrency: defaults.concurrency,
            timeout: defaults.timeout,
            max_response_bytes: defaults.max_response_bytes,
            insecure: defaults.insecure_skip_tls_verify,
            retry: defaults.retry,
        }
    }
}

/// Builds the client configuration.
///
/// # Errors
/// Missing URL or API key, unreadable key file.
pub fn client_config(a: &ImmutaArgs) -> Result<ClientConfig, Error> {
    let url = a
        .url
        .clone()
        .filter(|u| !u.trim().is_empty())
        .ok_or(Error::MissingUrl)?;
    let mut cfg = ClientConfig::new(url, api_key(a.api_key_file.as_deref())?);
    cfg.concurrency = a.concurrency.max(1);
    cfg.timeout = a.timeout;
    cfg.max_response_bytes = a.max_response_bytes;
    cfg.insecure_skip_tls_verify = a.insecure;
    cfg.retry = RetryPolicy {
        max_attempts: a.retry.max_attempts.max(1),
        ..a.retry.clone()
    };
    Ok(cfg)
}

/// What the flags of a reconciling command said, before any file is read: the one input
/// of [`Config::from_flags`]. The command line fills it in once per command.
#[derive(Debug, Clone)]
pub struct Flags {
    /// `--repo`, `--ref`, `--path`, Git credentials and read limits.
    pub source: SourceArgs,
    /// How to reach Immuta.
    pub immuta: ImmutaArgs,
    /// The kinds `--prune` names (a saved plan's for `apply`); empty: prune off.
    pub prune: BTreeSet<Kind>,
    /// `--allow-empty`.
    pub allow_empty: bool,
    /// `--max-deletions`.
    pub max_deletions: usize,
    /// `--state-dir`.
    pub state_dir: Option<PathBuf>,
}

/// Validated settings of a reconciling command: what [`crate::cycle::Reconciler`] and
/// the daemon are built from.
#[derive(Debug, Clone)]
pub struct Config {
    /// What to fetch (Git credentials read).
    pub source: SourceSpec,
    /// How to reach Immuta (API key read).
    pub client: ClientConfig,
    /// What prune may do.
    pub prune: crate::cycle::PruneSettings,
    /// `--state-dir`.
    pub state: Option<crate::state::StateDir>,
}

impl Config {
    /// Turns flags into settings: reads the Git credentials and the API key. Nothing is
    /// fetched and nothing is sent.
    ///
    /// # Errors
    /// Unreadable credential files, a missing URL or key.
    pub fn from_flags(f: &Flags) -> Result<Config, Error> {
        let source = source_spec(&f.source)?;
        let prune = crate::cycle::PruneSettings {
            kinds: f.prune.clone(),
            allow_empty: f.allow_empty,
            max_deletions: f.max_deletions,
        };
        let client = client_config(&f.immuta)?;
        Ok(Config {
            source,
            client,
            prune,
            state: f.state_dir.clone().map(crate::state::StateDir::new),
        })
    }
}

/// Source settings from flags.
#[derive(Debug, Clone, Default)]
pub struct SourceArgs {
    /// `--repo`.
    pub repo: String,
    /// `--ref`.
    pub reference: Option<String>,
    /// `--path`.
    pub path: Option<String>,
    /// `--cache-dir`.
    pub cache_dir: Option<PathBuf>,
    /// `--git-username`.
    pub git_username: Option<String>,
    /// `--git-token-file`.
    pub git_token_file: Option<PathBuf>,
    /// `--ssh-key-file`.
    pub ssh_key_file: Option<PathBuf>,
    /// `--ssh-passphrase-file`.
    pub ssh_passphrase_file: Option<PathBuf>,
    /// `--max-manifest-bytes` and the other read limits.
    pub limits: limits::Limits,
}

/// Builds the source spec, reading Git credentials from files or `IMMUTA_GITOPS_GIT_TOKEN`.
///
/// # Errors
/// Unreadable credential files.
pub fn source_spec(a: &SourceArgs) -> Result<SourceSpec, Error> {
    let token = match &a.git_token_file {
        Some(f) => Some(read_secret_file("Git token", f)?),
        None => std::env::var(GIT_TOKEN_ENV)
            .ok()
            .filter(|t| !t.trim().is_empty())
            .map(|t| Secret::new(t.trim())),
    };
    let ssh_passphrase = a
        .ssh_passphrase_file
        .as_deref()
        .map(|f| read_secret_file("SSH passphrase", f))
        .transpose()?;
    Ok(SourceSpec {
        repo: a.repo.clone(),
        reference: a.reference.clone().filter(|r| !r.is_empty()),
        path: a.path.clone().filter(|p| !p.is_empty()),
        cache_dir: a.cache_dir.clone().unwrap_or_else(default_cache_dir),
        auth: GitAuth {
            username: a.git_username.clone(),
            token,
            ssh_key: a.ssh_key_file.clone(),
            ssh_passphrase,
        },
        limits: a.limits,
    })
}

/// `$XDG_CACHE_HOME/immuta-gitops`, else `$HOME/.cache/immuta-gitops`, else a temp dir.
pub fn default_cache_dir() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(x).join("immuta-gitops");
    }
    if let Some(h) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(h).join(".cache").join("immuta-gitops");
    }
    std::env::temp_dir().join("immuta-gitops-cache")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_files_are_trimmed_and_empty_ones_refused() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("k");
        std::fs::write(&f, "abc123\n").unwrap();
        assert_eq!(read_secret_file("API key", &f).unwrap().expose(), "abc123");
        std::fs::write(&f, "\n").unwrap();
        assert!(matches!(
            read_secret_file("API key", &f),
            Err(Error::EmptySecret { .. })
        ));
        let err = read_secret_file("API key", &dir.path().join("missing")).unwrap_err();
        assert!(err.to_string().contains("cannot read API key file"));
    }

    #[test]
    fn issue_11_secret_files_are_capped_and_errors_never_show_content() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("k");
        let at_limit = "s".repeat(usize::try_from(limits::MAX_SECRET_FILE_BYTES).unwrap());
        std::fs::write(&f, &at_limit).unwrap();
        assert_eq!(
            read_secret_file("API key", &f).unwrap().expose().len(),
            at_limit.len()
        );
        for (what, content) in [
            ("API key", format!("{at_limit}x")),
            ("Git token", "tok3n-".repeat(200_000)),
            ("SSH passphrase", format!("pass-{}\n", "p".repeat(70_000))),
            ("webhook secret", "w3bh00k".repeat(10_000)),
        ] {
            std::fs::write(&f, &content).unwrap();
            let err = read_secret_file(what, &f).unwrap_err();
            let text = err.to_string();
            assert!(matches!(err, Error::SecretTooLarge { .. }), "{text}");
            assert!(
                text.contains(what) && text.contains(&f.display().to_string()),
                "{text}"
            );
            assert!(text.contains("larger than 64 KiB"), "{text}");
            assert!(!text.contains(content.get(..6).unwrap()), "{text}");
        }
        std::fs::write(&f, [0xff, 0xfe, b's', b'e', b'c', b'r', b'e', b't']).unwrap();
        let text = read_secret_file("API key", &f).unwrap_err().to_string();
        assert!(
            text.contains("not UTF-8") && !text.contains("secret"),
            "{text}"
        );
        // A device that never ends is stopped by the bounded read.
        if Path::new("/dev/zero").exists() {
            let err = read_secret_file("API key", Path::new("/dev/zero")).unwrap_err();
            assert!(matches!(err, Error::SecretTooLarge { .. }), "{err}");
        }
    }
}

/// Settings a repository carries in `.immuta-gitops.yaml` at its manifest root.
///
/// ```yaml
/// prune:
///   exclude:            # kind/name globs never deleted
///     - "policy/legacy-*"
///     - "purpose/Hand made"
/// dataSources:
///   acme-redshift-finance:      # a connectionKey
///     allowTableRemoval: true   # its updates may delete or disable data sources
/// moved:                        # renames instead of delete + create (issue 13)
///   - from: policy/old-key
///     to: policy/new-key
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepoSettings {
    /// Prune settings.
    #[serde(default)]
    pub prune: RepoPrune,
    /// Per data source (`connectionKey`) settings.
    #[serde(default, rename = "dataSources")]
    pub data_sources: std::collections::BTreeMap<String, RepoDataSource>,
    /// Objects renamed in Git whose Immuta object is to be renamed, not replaced.
    #[serde(default)]
    pub moved: Vec<RepoMove>,
}

/// One entry of the `moved:` list of `.immuta-gitops.yaml`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepoMove {
    /// `kind/name` in Immuta before the rename.
    #[serde(deserialize_with = "object_key")]
    pub from: crate::object::ObjectKey,
    /// `kind/name` in Git.
    #[serde(deserialize_with = "object_key")]
    pub to: crate::object::ObjectKey,
}

fn object_key<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<crate::object::ObjectKey, D::Error> {
    let s = <String as serde::Deserialize>::deserialize(d)?;
    crate::object::ObjectKey::parse_written(&s).map_err(serde::de::Error::custom)
}

impl RepoSettings {
    /// The `moved` entries, checked on their own: same kind on both sides, different
    /// keys, no key moved twice or moved onto twice.
    ///
    /// # Errors
    /// A message naming `.immuta-gitops.yaml`, the entry and what is wrong.
    pub fn moves(&self) -> Result<Vec<crate::object::Move>, String> {
        let mut froms = std::collections::BTreeSet::new();
        let mut tos = std::collections::BTreeSet::new();
        let mut out = Vec::with_capacity(self.moved.len());
        for (i, m) in self.moved.iter().enumerate() {
            let at = format!(".immuta-gitops.yaml: moved[{i}] ({} -> {})", m.from, m.to);
            if m.from.kind != m.to.kind {
                return Err(format!("{at}: an object cannot change its kind"));
            }
            if m.from == m.to {
                return Err(format!("{at}: from and to are the same key"));
            }
            if !froms.insert(m.from.clone()) || !tos.insert(m.to.clone()) {
                return Err(format!("{at}: a key is moved, or moved onto, twice"));
            }
            out.push(crate::object::Move {
                from: m.from.clone(),
                to: m.to.clone(),
            });
        }
        if let Some(k) = froms.intersection(&tos).next() {
            return Err(format!(
                ".immuta-gitops.yaml: moved: {k} is both renamed and a rename target; chains of moves are not supported, write the final key only"
            ));
        }
        Ok(out)
    }
}

/// One entry of the `dataSources:` block of `.immuta-gitops.yaml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepoDataSource {
    /// Updates of this data source may delete or disable data sources (tables dropped
    /// from `sources`, a connection change) without `--prune`.
    #[serde(default, rename = "allowTableRemoval")]
    pub allow_table_removal: bool,
}

/// The `prune:` block of `.immuta-gitops.yaml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepoPrune {
    /// `kind/name` globs that are never deleted.
    #[serde(default)]
    pub exclude: Vec<String>,
}

/// Reads `.immuta-gitops.yaml` (or `.yml`) from a snapshot; absent means defaults.
///
/// # Errors
/// A message naming the file and the YAML position when it does not parse.
pub fn repo_settings(snapshot: &crate::source::Snapshot) -> Result<RepoSettings, String> {
    for (path, entry) in snapshot.files() {
        if path != ".immuta-gitops.yaml" && path != ".immuta-gitops.yml" {
            continue;
        }
        let bytes = match entry {
            crate::source::FileEntry::Blob(bytes) => bytes,
            crate::source::FileEntry::TooLarge { size, limit } => {
                return Err(format!(
                    "{path}: file is {}, over the {} limit (--max-manifest-bytes)",
                    limits::show_bytes(*size),
                    limits::show_bytes(*limit)
                ))
            }
            crate::source::FileEntry::Unreadable(why) => {
                return Err(format!("{path}: cannot be read: {why}"))
            }
            _ => return Err(format!("{path}: symlink outside the repository")),
        };
        return serde_yaml::from_slice(bytes).map_err(|e| match e.location() {
            Some(l) => format!("{path}:{}:{}: {e}", l.line(), l.column()),
            None => format!("{path}: {e}"),
        });
    }
    Ok(RepoSettings::default())
}
