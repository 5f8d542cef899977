//! `immuta-gitops adopt`: plans the source against the tenant, shows what differs, and
//! records the adopted objects in the inventory ([`Reconciler::adopt`]). Part of the
//! command line ([`super`]).

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;

use immuta_gitops::client::Client;
use immuta_gitops::cycle::{Reconciler, Settings};
use immuta_gitops::manifest::ProcessEnv;
use immuta_gitops::plan::adopt::Selection;
use immuta_gitops::plan::{render, Plan};
use immuta_gitops::terminal::{escape, Escaped};

use super::errors;
use super::flags::adopt::AdoptArgs;

/// Runs `adopt`: exit 0 when everything asked for is owned afterwards, 1 otherwise.
///
/// # Errors
/// A bad source, invalid manifests, an unreachable Immuta, an untrusted inventory.
pub async fn run(args: AdoptArgs) -> Result<ExitCode> {
    let config = args.config()?;
    let reconciler = Reconciler::new(Settings {
        client: Client::new(config.client.clone())?,
        prune: config.prune.clone(),
        state: config.state.clone(),
    })?;
    let snapshot = Reconciler::fetch(&config.source).await?;
    let planned = reconciler
        .plan(&snapshot, &ProcessEnv)
        .await
        .map_err(|e| errors::explain(e, reconciler.client()))?;
    for w in &planned.desired.warnings {
        eprintln!("{}", Escaped(w));
    }
    let selection = if args.all {
        Selection::All
    } else {
        Selection::Keys(args.keys.clone())
    };
    let adopted = reconciler.adopt(&planned, &selection, args.force)?;
    let decision = &adopted.decision;
    let mut out = std::io::stdout().lock();
    if !decision.differing.is_empty() {
        writeln!(out, "These objects differ from Git:")?;
        let shown = Plan {
            changes: decision.differing.clone(),
            ..planned.plan.clone()
        };
        render::text(&shown, &mut out)?;
        writeln!(out)?;
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
        let key = k.to_string();
        if named || differs {
            eprintln!("error: {} not adopted: it {}", escape(&key), escape(why));
            failed = true;
        } else {
            eprintln!("note: {} not adopted: it {}", escape(&key), escape(why));
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
