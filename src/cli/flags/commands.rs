//! The flags of `validate`, `reconcile` and `apply`; the groups they share with `run`
//! are flattened from [`super`].

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

use immuta_gitops::config::{self, Config};
use immuta_gitops::cycle::Scope;
use immuta_gitops::limits;
use immuta_gitops::object::Kind;
use immuta_gitops::plan::saved::SavedSource;

use super::{
    Common, GitFlags, GuardFlags, ImmutaFlags, LimitFlags, PruneFlags, RepoFlags, StateFlags,
    TargetFlags, WeakeningFlags,
};

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The repository directory (holding data/, policy/, project/, purpose/).
    pub dir: PathBuf,
    /// Treat fields the schema does not know as errors, not warnings (a close match to
    /// a known field is suggested either way).
    #[arg(long)]
    pub strict: bool,
    /// How much may be read and parsed.
    #[command(flatten)]
    pub limits: LimitFlags,
}

#[derive(Debug, Args)]
#[group(id = "mode", required = true, multiple = false)]
pub struct Mode {
    /// Only compute and print the plan; never write.
    #[arg(long)]
    pub plan: bool,
    /// Compute and print the plan, then apply it.
    #[arg(long)]
    pub apply: bool,
}

/// What a plan reads from Immuta (issue 15).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RefreshArg {
    /// Every object; V1 detail reads for connections whose dry run reports a change.
    All,
    /// Only objects changed since their last check in --state-dir (the others are
    /// carried as in sync); every object without a usable state directory.
    Changed,
    /// Every object, and V1 detail reads for every connection (finds changes made
    /// outside Git that the dry run misses).
    Full,
}

impl RefreshArg {
    /// The live stage's setting for V1 detail reads.
    pub fn live(self) -> immuta_gitops::live::Refresh {
        match self {
            RefreshArg::All | RefreshArg::Changed => immuta_gitops::live::Refresh::Changed,
            RefreshArg::Full => immuta_gitops::live::Refresh::Full,
        }
    }

    /// Which objects are read, records trusted for `max_age` (`--drift-interval`).
    pub fn scope(self, max_age: Duration) -> Scope {
        match self {
            RefreshArg::Changed => Scope::Changed { max_age },
            RefreshArg::All | RefreshArg::Full => Scope::Full,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Text,
    Json,
    Markdown,
}

#[derive(Debug, Args)]
pub struct ReconcileArgs {
    #[command(flatten)]
    pub mode: Mode,
    #[command(flatten)]
    pub source: RepoFlags,
    #[command(flatten)]
    pub git: GitFlags,
    #[command(flatten)]
    pub limits: LimitFlags,
    #[command(flatten)]
    pub immuta: ImmutaFlags,
    /// Output format of the plan.
    #[arg(long, value_enum, default_value = "text", env = "IMMUTA_GITOPS_OUTPUT")]
    pub output: Output,
    /// Exit 2 when the plan has changes, 0 when it has none, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// With --apply: apply without asking. The question is asked only when stdin,
    /// stdout and stderr are terminals; in CI and scripts --apply never asks.
    #[arg(long, env = "IMMUTA_GITOPS_AUTO_APPROVE")]
    pub auto_approve: bool,
    /// Save the plan to FILE (with --plan) for `immuta-gitops apply FILE`.
    #[arg(long, env = "IMMUTA_GITOPS_OUT")]
    pub out: Option<PathBuf>,
    /// What the plan reads from Immuta: `all` (every object; V1 detail reads only for
    /// connections whose dry run reports a change), `changed` (only objects changed
    /// since their last check recorded in --state-dir, the others carried as in sync;
    /// a full plan, saying why, when the records cannot be used) or `full` (every
    /// object, and V1 detail reads for every connection).
    #[arg(long, value_enum, default_value = "all", env = "IMMUTA_GITOPS_REFRESH")]
    pub refresh: RefreshArg,
    /// With --refresh=changed: records older than this are read again; when every one
    /// is, the plan is full.
    #[arg(
        long,
        env = "IMMUTA_GITOPS_DRIFT_INTERVAL",
        default_value = "1h",
        value_parser = limits::parse_interval
    )]
    pub drift_interval: Duration,
    #[command(flatten)]
    pub prune: PruneFlags,
    #[command(flatten)]
    pub state: StateFlags,
    #[command(flatten)]
    pub weakening: WeakeningFlags,
    #[command(flatten)]
    pub target: TargetFlags,
    #[command(flatten)]
    pub log: super::LogFlags,
}

impl ReconcileArgs {
    /// The settings these flags describe.
    pub fn config(&self) -> Result<Config, config::Error> {
        let common = Common {
            git: &self.git,
            limits: &self.limits,
            immuta: &self.immuta,
            guards: &self.prune.guards,
            state: &self.state,
        };
        let r = &self.source;
        Config::from_flags(&common.flags(
            r.repo.clone(),
            r.reference.clone(),
            r.path.clone(),
            self.prune.kinds(),
        ))
    }
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The plan file written by `reconcile --plan --out`.
    pub plan_file: PathBuf,
    /// Exit 2 when the plan had changes and they were applied, 0 when it had none, 1 on
    /// error (as `reconcile --apply --detailed-exitcode`).
    #[arg(long)]
    pub detailed_exitcode: bool,
    #[command(flatten)]
    pub immuta: ImmutaFlags,
    #[command(flatten)]
    pub git: GitFlags,
    #[command(flatten)]
    pub limits: LimitFlags,
    #[command(flatten)]
    pub guards: GuardFlags,
    #[command(flatten)]
    pub state: StateFlags,
    #[command(flatten)]
    pub weakening: WeakeningFlags,
    #[command(flatten)]
    pub target: TargetFlags,
}

impl ApplyArgs {
    /// The settings for a saved plan's location and prune kinds.
    pub fn config(
        &self,
        source: &SavedSource,
        prune: BTreeSet<Kind>,
    ) -> Result<Config, config::Error> {
        let common = Common {
            git: &self.git,
            limits: &self.limits,
            immuta: &self.immuta,
            guards: &self.guards,
            state: &self.state,
        };
        Config::from_flags(&common.flags(
            source.repo.clone(),
            source.reference.clone(),
            source.path.clone(),
            prune,
        ))
    }
}
