//! `immuta-gitops adopt`: flags, and the run that plans the source against the tenant,
//! shows what differs, and records the adopted objects in the inventory. Part of the
//! command line (`cli.rs`): the only code here that prints.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;

use crate::config::{self, GitFlags, ImmutaFlags, RepoFlags};
use crate::cycle;
use crate::limits::LimitFlags;
use crate::object::ObjectKey;
use crate::plan::adopt::{self, Selection};
use crate::plan::prune::{save_inventory, PruneOptions};
use crate::plan::{render, Plan};
use crate::terminal::{escape, Escaped};

/// Flags of `adopt`.
#[derive(Debug, Args)]
pub struct AdoptArgs {
    /// Objects to adopt, as `kind/name` (e.g. `policy/mask-ssn`).
    #[arg(
        value_name = "KIND/NAME",
        conflicts_with = "all",
        required_unless_present = "all"
    )]
    keys: Vec<ObjectKey>,
    /// Adopt every object of the source that exists in Immuta.
    #[arg(long)]
    all: bool,
    /// Also adopt objects whose live state differs from Git (the plan shows how).
    #[arg(long)]
    force: bool,
    /// Directory holding the inventory of managed objects.
    #[arg(long, env = "IMMUTA_GITOPS_STATE_DIR")]
    state_dir: PathBuf,
    #[command(flatten)]
    source: RepoFlags,
    #[command(flatten)]
    git: GitFlags,
    #[command(flatten)]
    limits: LimitFlags,
    #[command(flatten)]
    immuta: ImmutaFlags,
}

/// Runs `adopt`: exit 0 when everything asked for is owned afterwards, 1 otherwise.
///
/// # Errors
/// A bad source, invalid manifests, an unreachable Immuta, an untrusted inventory.
pub async fn run(args: AdoptArgs) -> Result<ExitCode> {
    let source_args = args.git.source_args(
        args.source.repo.clone(),
        args.source.reference.clone(),
        args.source.path.clone(),
        args.limits.limits(),
    );
    let spec = config::source_spec(&source_args)?;
    let no_prune = config::PruneFlags {
        prune: Vec::new(),
        allow_empty: false,
        max_deletions: 0,
    };
    let p = super::prepare(spec, args.immuta.args(), &no_prune, Some(&args.state_dir)).await?;
    let (live, plan, _) =
        cycle::plan_with_prune(&p.client, &p.desired, &PruneOptions::default(), None)
            .await
            .map_err(|e| super::explain_client_error(e, &p.client))?;
    let owned = p
        .inventory
        .as_ref()
        .filter(|i| i.check(&p.desired.source).is_ok())
        .map(|i| i.keys.clone())
        .unwrap_or_default();
    let selection = if args.all {
        Selection::All
    } else {
        Selection::Keys(args.keys.clone())
    };
    let decision = adopt::choose(&plan, &live, &owned, &selection, args.force);
    let mut out = std::io::stdout().lock();
    if !decision.differing.is_empty() {
        writeln!(out, "These objects differ from Git:")?;
        let shown = Plan {
            changes: decision.differing.clone(),
            ..plan.clone()
        };
        render::text(&shown, &mut out)?;
        writeln!(out)?;
    }
    let inv = adopt::adopted_inventory(&p.desired, p.inventory.as_ref(), &decision.adopt).map_err(
        |e| {
            anyhow::anyhow!(
                "the inventory in {} is not this source's ({e}); adopt never replaces it",
                args.state_dir.display()
            )
        },
    )?;
    if !decision.adopt.is_empty() {
        save_inventory(&args.state_dir, &inv).with_context(|| {
            format!("cannot save the inventory in {}", args.state_dir.display())
        })?;
    }
    for k in &decision.adopt {
        writeln!(out, "  + {} adopted", Escaped(k))?;
    }
    for k in &decision.already {
        writeln!(out, "    {} already managed", Escaped(k))?;
    }
    writeln!(
        out,
        "\nAdopted {} object(s); prune may now delete them once they leave Git.",
        decision.adopt.len()
    )?;
    out.flush()?;
    let mut failed = false;
    for (k, why) in &decision.skipped {
        let named = selection != Selection::All;
        let differs = decision.differing.iter().any(|c| &c.key == k);
        if named || differs {
            eprintln!(
                "error: {} not adopted: it {}",
                escape(&k.to_string()),
                escape(why)
            );
            failed = true;
        } else {
            eprintln!(
                "note: {} not adopted: it {}",
                escape(&k.to_string()),
                escape(why)
            );
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
