//! `validate`, `reconcile` and `apply`: flags → [`Config`] → [`Reconciler`], then the
//! plan, the apply report and the exit code. Nothing here sequences the pipeline.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result};
use tokio_util::sync::CancellationToken;

use immuta_gitops::client::Client;
use immuta_gitops::config::Config;
use immuta_gitops::cycle::{Applied, Note, Planned, Reconciler, Scope, Settings, Targets};
use immuta_gitops::live::Refresh;
use immuta_gitops::manifest::{self, Diagnostic, OfflineEnv, ProcessEnv, Severity};
use immuta_gitops::plan::risk::{self, Held};
use immuta_gitops::plan::saved::{self, SavedPlan};
use immuta_gitops::plan::{self, render, Plan};
use immuta_gitops::source;
use immuta_gitops::state::Drifted;
use immuta_gitops::terminal::{escape, Escaped};

use super::errors;
use super::flags::commands::{ApplyArgs, Output, ReconcileArgs, ValidateArgs};
use super::tty::{self, Tty};

pub fn validate(args: &ValidateArgs, tty: Tty) -> Result<ExitCode> {
    let (dir, limits) = (&args.dir, args.limits.limits());
    // A bare repository (or a `.git` directory) validates its HEAD commit.
    let snapshot = if source::local::is_git_dir(dir) {
        let spec = source::SourceSpec {
            repo: dir.display().to_string(),
            limits,
            ..Default::default()
        };
        source::git::fetch(&spec)
    } else {
        source::local::read_dir(dir, None, &limits)
    }
    .with_context(|| format!("cannot read {}", dir.display()))?;
    let mut out = tty.out.writer(std::io::stdout().lock());
    // Offline: secrets need not be set; each unset variable is named in one warning.
    let env = OfflineEnv::default();
    let loaded = manifest::load(&snapshot, &env);
    let unset = env.unset();
    let (objects, diags) = match loaded {
        Ok(set) => (Some(set.objects.len()), set.warnings),
        Err(diags) => (None, diags),
    };
    // --strict: an unknown field is an error like any other.
    let diags: Vec<Diagnostic> = diags
        .into_iter()
        .map(|mut d| {
            if args.strict && d.is_unknown_field() {
                d.severity = Severity::Error;
            }
            d
        })
        .collect();
    for d in &diags {
        writeln!(out, "{}", Escaped(d))?;
    }
    if !unset.is_empty() {
        writeln!(
            out,
            "warning: {} environment variable(s) not set, their values not checked (reconcile requires them): {}",
            unset.len(),
            escape(&unset.join(", "))
        )?;
    }
    let errors = diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = diags.len() - errors + usize::from(!unset.is_empty());
    match objects {
        Some(n) if errors == 0 => {
            writeln!(out, "{n} object(s) valid, {warnings} warning(s).")?;
            Ok(ExitCode::SUCCESS)
        }
        _ => {
            writeln!(out, "{errors} error(s).")?;
            Ok(ExitCode::from(1))
        }
    }
}

/// Builds the reconciler (cut by `targets`), fetches and plans (a spinner on a
/// terminal); prints the manifest warnings and the notes (`all_notes: false` prints only
/// the warnings among them).
async fn plan(
    config: &Config,
    targets: Targets,
    all_notes: bool,
    (refresh, scope): (Refresh, Scope),
    tty: Tty,
) -> Result<(Reconciler, Planned)> {
    let reconciler = Reconciler::new(Settings {
        client: Client::new(config.client.clone())?,
        prune: config.prune.clone(),
        state: config.state.clone(),
    })?
    .with_targets(targets);
    let reading = tty::Reading::start(tty, reconciler.client());
    let snapshot = Reconciler::fetch(&config.source).await?;
    let planned = reconciler
        .plan_scoped(&snapshot, &ProcessEnv, refresh, scope)
        .await
        .map_err(|e| errors::explain(e, reconciler.client()))?;
    reading.finish(reconciler.client());
    for w in &planned.desired.warnings {
        tty.eprintln(&Escaped(w).to_string());
    }
    for n in planned.notes.iter().filter(|n| all_notes || n.is_warning()) {
        print_note(n, tty);
    }
    Ok((reconciler, planned))
}

fn print_note(n: &Note, tty: Tty) {
    if n.is_warning() {
        tty.eprintln(&format!("warning: {}", escape(&n.to_string())));
    } else {
        tty.eprintln(&escape(&n.to_string()));
    }
}

/// Writes the plan on stdout; text is coloured as stdout allows, JSON and Markdown never.
fn write_plan(plan: &Plan, output: Output, tty: Tty) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match output {
        Output::Text => render::text(plan, &mut tty.out.writer(&mut out))?,
        Output::Json => render::json(plan, &mut out)?,
        Output::Markdown => render::markdown(plan, &mut out)?,
    }
    out.flush()?;
    Ok(())
}

/// The exit code of `reconcile --apply` and `apply` when everything else was applied and
/// changes that weaken data protection were held.
const EXIT_HELD: u8 = 3;

/// Holds the changes that weaken data protection unless `allow` (`--allow-weakening`).
fn hold(plan: &mut Plan, allow: bool) -> Vec<Held> {
    if allow {
        return Vec::new();
    }
    risk::hold(plan, &mut |_, _| false)
}

/// Says on stderr what was held and how to let it through; true when anything was.
fn report_held(held: &[Held], tty: Tty) -> bool {
    if held.is_empty() {
        return false;
    }
    for h in held {
        tty.eprintln(&format!(
            "held: {}: {} (nothing was sent for it)",
            escape(&h.key.to_string()),
            escape(&h.reason)
        ));
    }
    tty.eprintln(&format!(
        "{} change(s) held for approval because they weaken data protection; review them and re-run with --allow-weakening to apply them",
        held.len()
    ));
    true
}

/// Applies (and records the inventory): each object's line is printed as it lands,
/// with a progress bar on a terminal, then the summary (or, for JSON, the report);
/// true when every write landed.
async fn apply(
    reconciler: &Reconciler,
    planned: &Planned,
    output: Output,
    tty: Tty,
) -> Result<bool> {
    let has_changes = planned.plan.has_changes();
    let json = output == Output::Json;
    if has_changes && !json {
        let mut out = std::io::stdout().lock();
        writeln!(out, "Applying...")?;
        out.flush()?;
    }
    let total = planned
        .plan
        .changes
        .iter()
        .filter(|c| c.action.is_write() || c.action == plan::Action::Refused)
        .count();
    let progress = tty::Applying::start(tty, total, !json);
    let Applied {
        report,
        inventory_error,
        digests_error,
        objects_error,
        ..
    } = reconciler
        .apply_observed(planned, CancellationToken::new(), &progress)
        .await;
    progress.finish()?;
    if let Some(e) = digests_error {
        tty.eprintln(&format!(
            "warning: {}; the next plan cannot compare those credentials",
            escape(&e.to_string())
        ));
    }
    if let Some(e) = objects_error {
        tty.eprintln(&format!(
            "warning: {}; the next plan cannot tell drift from a change",
            escape(&e.to_string())
        ));
    }
    if has_changes {
        let mut out = std::io::stdout().lock();
        if json {
            serde_json::to_writer_pretty(&mut out, &report)?;
            writeln!(out)?;
        } else {
            let mut out = tty.out.writer(&mut out);
            writeln!(out)?;
            report.render_summary(&mut out)?;
        }
    }
    if let (Some(e), Some(dir)) = (inventory_error, reconciler.state()) {
        return Err(anyhow::Error::new(e).context(format!(
            "cannot save the inventory in {}",
            dir.path().display()
        )));
    }
    Ok(report.is_success_but_held())
}

pub async fn reconcile(args: ReconcileArgs, tty: Tty) -> Result<ExitCode> {
    let config = args.config()?;
    let targets = args.target.targets()?;
    let reading = (args.refresh.live(), args.refresh.scope(args.drift_interval));
    let (reconciler, mut planned) = plan(&config, targets, true, reading, tty).await?;
    let held = if args.mode.apply {
        hold(&mut planned.plan, args.weakening.allow_weakening)
    } else {
        Vec::new()
    };
    let plan = &planned.plan;
    log_plan(plan);
    write_plan(plan, args.output, tty)?;
    if args.output != Output::Json {
        write_drift(&planned.drift)?;
    }
    if let Some(file) = &args.out {
        let saved = SavedPlan {
            format_version: saved::SAVED_FORMAT_VERSION,
            source: saved::SavedSource {
                repo: saved_repo(&config.source.repo),
                reference: config.source.reference.clone(),
                path: config.source.path.clone(),
            },
            source_id: Some(planned.desired.source.clone()),
            revision: planned.desired.revision.clone(),
            prune_kinds: planned.prune.kinds.iter().copied().collect(),
            targets: reconciler
                .targets()
                .patterns()
                .map(str::to_string)
                .collect(),
            fingerprints: saved::fingerprints(plan, &planned.live),
            refresh_full: planned.refresh == Refresh::Full,
            incremental: planned
                .scope
                .is_incremental()
                .then(|| saved::SavedIncremental {
                    max_age_secs: args.drift_interval.as_secs(),
                    carried: planned.carried().iter().cloned().collect(),
                }),
            // Holding is decided when a plan is applied, not when it is saved.
            plan: Plan {
                held: Vec::new(),
                ..plan.clone()
            },
        };
        let text = serde_json::to_vec_pretty(&saved)?;
        std::fs::write(file, text).with_context(|| format!("cannot write {}", file.display()))?;
        eprintln!(
            "Plan saved to {}; apply it with: immuta-gitops apply {}",
            Escaped(file.display()),
            Escaped(file.display())
        );
    }
    let changes = plan.has_changes();
    if args.mode.apply
        && changes
        && tty.interactive
        && !args.auto_approve
        && !tty::approve(tty).await?
    {
        tty.eprintln("error: Apply cancelled: nothing was sent to Immuta.");
        return Ok(ExitCode::from(1));
    }
    let applied = !args.mode.apply || apply(&reconciler, &planned, args.output, tty).await?;
    if refused(plan, tty) || !applied {
        report_held(&held, tty);
        return Ok(ExitCode::from(1));
    }
    if report_held(&held, tty) {
        return Ok(ExitCode::from(EXIT_HELD));
    }
    Ok(if args.detailed_exitcode && changes {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// The section naming the objects the plan writes although Git did not change them
/// since the last apply: applying reverts someone's edit in Immuta.
fn write_drift(drift: &[Drifted]) -> Result<()> {
    if drift.is_empty() {
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    writeln!(out)?;
    writeln!(
        out,
        "Objects changed outside Git since the last apply (applying reverts these edits):"
    )?;
    for d in drift {
        let (sign, what) = match d.action {
            plan::Action::Create => ("+", "deleted in Immuta since; it will be created again"),
            _ => ("~", "edited in Immuta since; it will be set back to Git"),
        };
        writeln!(
            out,
            "  {sign} {}: last applied at {}, {what}",
            escape(&d.key.to_string()),
            escape(render::short_rev(&d.applied_at))
        )?;
        tracing::info!(key = %d.key, action = %d.action, applied_at = %d.applied_at, "drift");
    }
    out.flush()?;
    Ok(())
}

/// The plan as log events (seen with `--log-format json`, or `--log info`): the counts,
/// then one event per change.
fn log_plan(plan: &Plan) {
    let s = plan.summary();
    tracing::info!(
        revision = %plan.revision,
        add = s.add,
        change = s.change,
        destroy = s.destroy,
        unchanged = s.unchanged,
        unmanaged = s.unmanaged,
        refused = s.refused,
        "plan"
    );
    plan.log_changes();
}

/// Prints one error line per refused data-source change; true when there is any.
fn refused(plan: &Plan, tty: Tty) -> bool {
    let mut any = false;
    for c in plan.refused() {
        tty.eprintln(&format!(
            "error: {}: {} (nothing was sent for it)",
            escape(&c.key.to_string()),
            escape(&plan::refusal_reason(c))
        ));
        any = true;
    }
    any
}

/// `--repo` as a saved plan records it: a URL without credentials, a local path made
/// absolute (so `apply` reads the same repository from any working directory).
fn saved_repo(repo: &str) -> String {
    if source::git::is_remote(repo) {
        return source::git::strip_credentials(repo);
    }
    std::fs::canonicalize(repo).map_or_else(|_| repo.to_string(), |p| p.display().to_string())
}

pub async fn apply_saved(args: ApplyArgs, tty: Tty) -> Result<ExitCode> {
    let bytes = std::fs::read(&args.plan_file)
        .with_context(|| format!("cannot read {}", args.plan_file.display()))?;
    let saved: SavedPlan = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a plan file", args.plan_file.display()))?;
    if source::git::is_remote(&saved.source.repo)
        && saved.source.repo.contains(immuta_gitops::redact::MASK)
    {
        // The query values were masked when the plan was saved (issue 11): fetching with
        // them would send `(sensitive)` as a credential.
        anyhow::bail!(
            "the plan's repository URL {} carried credentials in its query string, which a saved plan never stores; give the token with --git-token-file (or IMMUTA_GITOPS_GIT_TOKEN_FILE) and a URL without it",
            escape(&saved.source.repo)
        );
    }
    let config = args.config(&saved.source, saved.prune_kinds.iter().copied().collect())?;
    // Read the data sources as the plan did, so the same plan is recomputed.
    let refresh = if saved.refresh_full {
        Refresh::Full
    } else {
        Refresh::Changed
    };
    let targets = args.target.targets()?;
    // The plan is made again as it was saved (cut by the same targets, if any) to check
    // it is not stale; `apply --target` then narrows what is applied.
    let saved_targets = Targets::parse(&saved.targets)?;
    // An incremental plan is recomputed from the same records with the same age limit,
    // and must carry exactly the objects it carried (issue 15).
    let scope = saved
        .incremental
        .as_ref()
        .map_or(Scope::Full, |i| Scope::Changed {
            max_age: std::time::Duration::from_secs(i.max_age_secs),
        });
    let (reconciler, mut planned) =
        plan(&config, saved_targets, false, (refresh, scope), tty).await?;
    saved::check_carried(&saved, planned.carried())?;
    saved::check(
        &saved,
        &planned.desired.source,
        &planned.desired.revision,
        &planned.plan,
        &planned.live,
    )?;
    let mut chosen = saved.plan;
    if !targets.is_empty() {
        // The whole saved plan was checked for staleness; only the targeted part of it
        // is applied.
        for p in targets.unmatched(&chosen) {
            print_note(&Note::TargetUnmatched(p), tty);
        }
        targets.cut(&mut chosen, &planned.desired, &planned.live);
        print_note(
            &Note::Targeted(targets.patterns().map(str::to_string).collect()),
            tty,
        );
    }
    let held = hold(&mut chosen, args.weakening.allow_weakening);
    log_plan(&chosen);
    write_plan(&chosen, Output::Text, tty)?;
    planned.plan = chosen;
    let changes = planned.plan.has_changes();
    // A saved plan is applied without asking: saving it and running `apply FILE` is
    // the approval (Terraform's `apply PLANFILE`). Weakening changes still need
    // --allow-weakening.
    let applied = apply(&reconciler, &planned, Output::Text, tty).await?;
    let held = report_held(&held, tty);
    Ok(if refused(&planned.plan, tty) || !applied {
        ExitCode::from(1)
    } else if held {
        ExitCode::from(EXIT_HELD)
    } else if args.detailed_exitcode && changes {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
