//! The flags of every command, declared once each: the groups shared by `reconcile`,
//! `apply` and `run` here, the subcommands' own in [`commands`] and [`run`]. Each group
//! becomes part of one [`config::Flags`], which [`config::Config::from_flags`] turns into
//! settings.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use immuta_gitops::client::RetryPolicy;
use immuta_gitops::config::{self, ImmutaArgs, SourceArgs};
use immuta_gitops::limits::{self, Limits, DEFAULT_YAML_DEPTH, DEFAULT_YAML_NODES};
use immuta_gitops::object::{Kind, KindChoice};
use immuta_gitops::terminal::colour::ColourChoice;

pub mod adopt;
pub mod commands;
pub mod run;

/// Where the manifests live: `--repo`, `--ref`, `--path` (shared by `reconcile` and `run`).
#[derive(Debug, Clone, clap::Args)]
pub struct RepoFlags {
    /// Git URL (https://, ssh://, git@host:path, file://) or local directory (read from
    /// disk, and watched for changes by `run`).
    #[arg(long, env = "IMMUTA_GITOPS_REPO")]
    pub repo: String,
    /// Branch, tag or commit SHA (default: the remote's default branch).
    #[arg(long = "ref", env = "IMMUTA_GITOPS_REF")]
    pub reference: Option<String>,
    /// Sub-directory of the repository holding data/, policy/, project/, purpose/.
    #[arg(long, env = "IMMUTA_GITOPS_PATH")]
    pub path: Option<String>,
}

/// Git cache and credentials (shared by every command that reads Git).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct GitFlags {
    /// Where Git clones are cached.
    #[arg(long, env = "IMMUTA_GITOPS_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// HTTPS username for Git (the token is read from --git-token-file or IMMUTA_GITOPS_GIT_TOKEN).
    #[arg(long, env = "IMMUTA_GITOPS_GIT_USERNAME")]
    pub git_username: Option<String>,
    /// File holding an HTTPS token for Git.
    #[arg(long, env = "IMMUTA_GITOPS_GIT_TOKEN_FILE")]
    pub git_token_file: Option<PathBuf>,
    /// SSH private key file for Git.
    #[arg(long, env = "IMMUTA_GITOPS_SSH_KEY_FILE")]
    pub ssh_key_file: Option<PathBuf>,
    /// File holding the SSH key's passphrase.
    #[arg(long, env = "IMMUTA_GITOPS_SSH_PASSPHRASE_FILE")]
    pub ssh_passphrase_file: Option<PathBuf>,
}

impl GitFlags {
    /// The source settings for a repository location.
    pub fn source_args(
        &self,
        repo: String,
        reference: Option<String>,
        path: Option<String>,
        limits: Limits,
    ) -> SourceArgs {
        SourceArgs {
            repo,
            reference,
            path,
            limits,
            cache_dir: self.cache_dir.clone(),
            git_username: self.git_username.clone(),
            git_token_file: self.git_token_file.clone(),
            ssh_key_file: self.ssh_key_file.clone(),
            ssh_passphrase_file: self.ssh_passphrase_file.clone(),
        }
    }
}

/// How to reach Immuta (shared by every command that talks to it).
#[derive(Debug, Clone, clap::Args)]
pub struct ImmutaFlags {
    /// Immuta tenant URL.
    #[arg(long, env = "IMMUTA_URL")]
    pub immuta_url: Option<String>,
    /// File holding the API key (else IMMUTA_API_KEY is read; never a flag value).
    #[arg(long, env = "IMMUTA_GITOPS_API_KEY_FILE")]
    pub api_key_file: Option<PathBuf>,
    /// Requests in flight at once, at most: fewer while Immuta throttles (429/503) or slows
    /// down, back up to it when answers are healthy again.
    #[arg(long, env = "IMMUTA_GITOPS_CONCURRENCY", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
    /// Timeout of one HTTP attempt (100ms to 1h).
    #[arg(long, env = "IMMUTA_GITOPS_TIMEOUT", default_value = "60s", value_parser = limits::parse_timeout)]
    pub timeout: Duration,
    /// Largest HTTP response body accepted from Immuta; a longer answer fails the request
    /// (64 KiB to 1 GiB).
    #[arg(long, env = "IMMUTA_GITOPS_MAX_RESPONSE_BYTES", default_value = "16MiB", value_parser = limits::parse_response_bytes)]
    pub max_response_bytes: u64,
    /// Skip TLS certificate verification (test tenants only; logs a warning).
    #[arg(long, env = "IMMUTA_GITOPS_INSECURE_SKIP_TLS_VERIFY")]
    pub insecure_skip_tls_verify: bool,
    /// Retries of spurious failures (throttling, 5xx, dropped connections).
    #[command(flatten)]
    pub retry: RetryFlags,
}

impl ImmutaFlags {
    /// The connection settings these flags describe.
    pub fn args(&self) -> ImmutaArgs {
        ImmutaArgs {
            url: self.immuta_url.clone(),
            api_key_file: self.api_key_file.clone(),
            concurrency: usize::from(self.concurrency),
            timeout: self.timeout,
            max_response_bytes: self.max_response_bytes,
            insecure: self.insecure_skip_tls_verify,
            retry: self.retry.policy(),
        }
    }
}

/// Retry flags, shared by every command that talks to Immuta.
#[derive(Debug, Clone, clap::Args)]
pub struct RetryFlags {
    /// Attempts per request, the first included, on 408/429/5xx answers and dropped
    /// connections (1 to 100).
    #[arg(long, env = "IMMUTA_GITOPS_RETRY_ATTEMPTS", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub retry_attempts: u32,
    /// Longest single wait between two attempts, a server's Retry-After included (0s to 1h).
    #[arg(long, env = "IMMUTA_GITOPS_RETRY_MAX_DELAY", default_value = "30s", value_parser = limits::parse_wait)]
    pub retry_max_delay: Duration,
    /// Total time one request (one object's write) may take, every attempt and wait
    /// included (100ms to 24h).
    #[arg(long, env = "IMMUTA_GITOPS_RETRY_MAX_ELAPSED", default_value = "120s", value_parser = limits::parse_total_time)]
    pub retry_max_elapsed: Duration,
}

impl RetryFlags {
    /// The policy these flags describe (backoff base: 100 ms).
    pub fn policy(&self) -> RetryPolicy {
        RetryPolicy {
            max_attempts: self.retry_attempts.max(1),
            cap: self.retry_max_delay,
            max_elapsed: self.retry_max_elapsed,
            ..RetryPolicy::default()
        }
    }
}

/// The flags of [`Limits`], shared by `validate`, `reconcile`, `apply` and `run`.
#[derive(Debug, Clone, clap::Args)]
pub struct LimitFlags {
    /// Largest manifest file (bytes; KiB, MiB and GiB suffixes accepted).
    #[arg(long, env = "IMMUTA_GITOPS_MAX_MANIFEST_BYTES", default_value = "4MiB", value_parser = limits::parse_file_bytes)]
    pub max_manifest_bytes: u64,
    /// Largest file a `{{ReadFile}}` placeholder may read.
    #[arg(long, env = "IMMUTA_GITOPS_MAX_READ_FILE_BYTES", default_value = "1MiB", value_parser = limits::parse_file_bytes)]
    pub max_read_file_bytes: u64,
    /// Most YAML nodes in one manifest file (aliases counted as the nodes they expand to).
    #[arg(long, env = "IMMUTA_GITOPS_MAX_YAML_NODES", default_value_t = DEFAULT_YAML_NODES, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub max_yaml_nodes: u64,
    /// Deepest nesting of YAML mappings and sequences.
    #[arg(long, env = "IMMUTA_GITOPS_MAX_YAML_DEPTH", default_value_t = DEFAULT_YAML_DEPTH, value_parser = clap::value_parser!(u32).range(2..=120))]
    pub max_yaml_depth: u32,
}

impl Default for LimitFlags {
    fn default() -> Self {
        let l = Limits::default();
        LimitFlags {
            max_manifest_bytes: l.manifest_bytes,
            max_read_file_bytes: l.read_file_bytes,
            max_yaml_nodes: l.yaml_nodes,
            max_yaml_depth: l.yaml_depth,
        }
    }
}

impl LimitFlags {
    /// The limits these flags describe.
    pub fn limits(&self) -> Limits {
        Limits {
            manifest_bytes: self.max_manifest_bytes,
            read_file_bytes: self.max_read_file_bytes,
            yaml_nodes: self.max_yaml_nodes,
            yaml_depth: self.max_yaml_depth,
        }
    }
}

/// Prune flags, shared by `reconcile` and `run`.
#[derive(Debug, Clone, clap::Args)]
pub struct PruneFlags {
    /// Delete managed objects that left Git: all kinds, or a list (`--prune=policy,project`).
    /// Needs --state-dir (the inventory of what was applied); off by default.
    #[arg(long, env = "IMMUTA_GITOPS_PRUNE", num_args = 0..=1, require_equals = true, default_missing_value = "all", value_delimiter = ',')]
    pub prune: Vec<KindChoice>,
    /// The deletion guards.
    #[command(flatten)]
    pub guards: GuardFlags,
}

impl PruneFlags {
    /// The kinds `--prune` names (`all` or an empty value: every kind; clap has refused
    /// any other word).
    pub fn kinds(&self) -> BTreeSet<Kind> {
        KindChoice::kinds(&self.prune)
    }
}

/// The deletion guards, shared by every command that can delete (`reconcile`, `apply`,
/// `run`).
#[derive(Debug, Clone, clap::Args)]
pub struct GuardFlags {
    /// Allow prune to delete every managed object of a kind whose desired set is empty.
    #[arg(long, env = "IMMUTA_GITOPS_ALLOW_EMPTY")]
    pub allow_empty: bool,
    /// Refuse any plan with more deletions than this (objects plus data-source tables).
    #[arg(long, env = "IMMUTA_GITOPS_MAX_DELETIONS", default_value_t = 5)]
    pub max_deletions: usize,
}

/// Whether `reconcile --apply` and `apply` send changes that weaken data protection.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct WeakeningFlags {
    /// Apply changes that weaken data protection too (see "Changes that weaken
    /// protection" in the README); without it they are held, the rest is applied, and
    /// the exit code is 3.
    #[arg(long, env = "IMMUTA_GITOPS_ALLOW_WEAKENING")]
    pub allow_weakening: bool,
}

/// The state directory flag, shared by `reconcile`, `apply` and `run`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct StateFlags {
    /// Directory holding the inventory of managed objects (inventory.json, needed by
    /// --prune) and, for `run`, the last applied revision (state.json), across restarts.
    #[arg(long, env = "IMMUTA_GITOPS_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
}

/// `--log-format`, shared by `run` and `reconcile`.
#[derive(Debug, Clone, clap::Args)]
pub struct LogFlags {
    /// Log lines on stderr: text, or one JSON object per line (the plan as structured
    /// fields: one `plan` event with the counts, one `change` event per object, one event
    /// per applied object).
    #[arg(
        long,
        env = "IMMUTA_GITOPS_LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    pub log_format: immuta_gitops::daemon::LogFormat,
}

/// `--target`, shared by `reconcile` and `apply`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TargetFlags {
    /// Plan and apply only this object (`kind/name`; globs allowed, e.g. `policy/mask-*`)
    /// and what it depends on; repeatable. The plan is partial: nothing outside the
    /// targets is shown, written or deleted.
    #[arg(long = "target", value_name = "KIND/NAME")]
    pub targets: Vec<String>,
}

impl TargetFlags {
    /// The parsed patterns.
    ///
    /// # Errors
    /// A malformed pattern.
    pub fn targets(
        &self,
    ) -> Result<immuta_gitops::cycle::Targets, immuta_gitops::cycle::target::Error> {
        immuta_gitops::cycle::Targets::parse(&self.targets)
    }
}

/// The groups every reconciling command has, borrowed from its parsed arguments.
#[derive(Debug, Clone, Copy)]
pub struct Common<'a> {
    /// Git cache and credentials.
    pub git: &'a GitFlags,
    /// Read limits.
    pub limits: &'a LimitFlags,
    /// How to reach Immuta.
    pub immuta: &'a ImmutaFlags,
    /// The deletion guards.
    pub guards: &'a GuardFlags,
    /// `--state-dir`.
    pub state: &'a StateFlags,
}

impl Common<'_> {
    /// What the flags said, for a repository location and `--prune` kinds (the saved
    /// plan's for `apply`): the one place flags become [`config::Flags`].
    pub fn flags(
        &self,
        repo: String,
        reference: Option<String>,
        path: Option<String>,
        prune: BTreeSet<Kind>,
    ) -> config::Flags {
        config::Flags {
            source: self
                .git
                .source_args(repo, reference, path, self.limits.limits()),
            immuta: self.immuta.args(),
            prune,
            allow_empty: self.guards.allow_empty,
            max_deletions: self.guards.max_deletions,
            state_dir: self.state.state_dir.clone(),
        }
    }
}

/// `--color`, global: every command takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorFlag {
    /// Colour on a terminal; `NO_COLOR` disables, `CLICOLOR_FORCE` forces.
    #[default]
    Auto,
    /// Colour the plan even when piped (logs stay plain off a terminal).
    Always,
    /// Never colour.
    Never,
}

impl ColorFlag {
    /// The choice the flag names.
    pub fn choice(self) -> ColourChoice {
        match self {
            ColorFlag::Auto => ColourChoice::Auto,
            ColorFlag::Always => ColourChoice::Always,
            ColorFlag::Never => ColourChoice::Never,
        }
    }
}
