//! The flags of `export` and `adopt` (issue 13).

use std::path::PathBuf;

use clap::Args;

use immuta_gitops::config::{self, Config};
use immuta_gitops::object::{Kind, ObjectKey};

use super::{Common, GitFlags, GuardFlags, ImmutaFlags, LimitFlags, RepoFlags, StateFlags};

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Directory to write into (data/, policy/, project/, purpose/ are made under it).
    #[arg(long)]
    pub out: PathBuf,
    /// Only these kinds (repeatable, or comma-separated): purpose, data, policy, project.
    #[arg(long, value_delimiter = ',')]
    pub kind: Vec<Kind>,
    /// Only objects whose `kind/name` matches this glob (repeatable; any may match).
    #[arg(long = "match")]
    pub matches: Vec<String>,
    /// Overwrite files that already exist.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub immuta: ImmutaFlags,
    #[command(flatten)]
    pub limits: LimitFlags,
}

#[derive(Debug, Args)]
pub struct AdoptArgs {
    /// Objects to adopt, as `kind/name` (e.g. `policy/mask-ssn`).
    #[arg(
        value_name = "KIND/NAME",
        value_parser = ObjectKey::parse_written,
        conflicts_with = "all",
        required_unless_present = "all"
    )]
    pub keys: Vec<ObjectKey>,
    /// Adopt every object of the source that exists in Immuta.
    #[arg(long)]
    pub all: bool,
    /// Also adopt objects whose live state differs from Git (the plan shows how).
    #[arg(long)]
    pub force: bool,
    /// Directory holding the inventory of managed objects.
    #[arg(long, env = "IMMUTA_GITOPS_STATE_DIR")]
    pub state_dir: PathBuf,
    #[command(flatten)]
    pub source: RepoFlags,
    #[command(flatten)]
    pub git: GitFlags,
    #[command(flatten)]
    pub limits: LimitFlags,
    #[command(flatten)]
    pub immuta: ImmutaFlags,
}

impl AdoptArgs {
    /// The settings these flags describe: no prune (adopting deletes nothing).
    pub fn config(&self) -> Result<Config, config::Error> {
        let guards = GuardFlags {
            allow_empty: false,
            max_deletions: 0,
        };
        let state = StateFlags {
            state_dir: Some(self.state_dir.clone()),
        };
        let common = Common {
            git: &self.git,
            limits: &self.limits,
            immuta: &self.immuta,
            guards: &guards,
            state: &state,
        };
        let r = &self.source;
        Config::from_flags(&common.flags(
            r.repo.clone(),
            r.reference.clone(),
            r.path.clone(),
            std::collections::BTreeSet::new(),
        ))
    }
}
