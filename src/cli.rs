//! Command line: clap types, subcommand dispatch, output format and the one exit-code
//! mapping. The only module that prints (plans to stdout, logs and errors to stderr).
//!
//! Exit codes: 0 success (and, with `--detailed-exitcode`, no changes); 1 error (bad
//! input, API failure, failed apply); 2 only with `--detailed-exitcode`: success and the
//! plan has changes (Terraform's convention).

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::apply::deleted_keys;
use crate::client::Client;
use crate::config::{self, GitFlags, ImmutaArgs, ImmutaFlags, RepoFlags};
use crate::cycle;
use crate::limits::LimitFlags;
use crate::manifest::{self, ProcessEnv, Severity};
use crate::plan::prune::{load_inventory, next_inventory, save_inventory, Inventory, PruneOptions};
use crate::plan::render;
use crate::plan::saved::{self, SavedPlan};
use crate::source;
use crate::terminal::{escape, Escaped};

mod adopt;
mod export;

/// GitOps for Immuta: keep a tenant equal to a Git repository of V2 YAML files.
#[derive(Debug, Parser)]
#[command(name = "immuta-gitops", version, about, long_about = None)]
pub struct Cli {
    /// Log filter (tracing `EnvFilter` syntax), e.g. `info` or `immuta_gitops=debug`.
    /// Default: `info` for `run` and `emulator`, `warn` for the one-shot commands.
    #[arg(long, env = "IMMUTA_GITOPS_LOG", global = true)]
    pub log: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Parse, template and validate every manifest under DIR, offline.
    ///
    /// Exit 0 when all are valid; 1 with one line per problem
    /// (`path:line:col: <kind> <key>: message`) when any is not.
    Validate {
        /// The repository directory (holding data/, policy/, project/, purpose/).
        dir: PathBuf,
        /// How much may be read and parsed.
        #[command(flatten)]
        limits: LimitFlags,
    },
    /// Compute the plan (--plan) or compute, print and apply it (--apply).
    ///
    /// Exit codes: 0 success; 1 error; with --detailed-exitcode: 0 no changes,
    /// 2 changes present (plan) or applied (apply), 1 error.
    Reconcile(ReconcileArgs),
    /// Apply a plan saved with `reconcile --plan --out FILE`, exactly as saved.
    ///
    /// Refused ("plan is stale") when the source ref or the live state of any object in
    /// the plan changed since it was made.
    Apply(ApplyArgs),
    /// Write the live tenant as manifests in the repository layout, one file per object.
    ///
    /// Only objects users made (never system ones). Exit 1 when any selected object could
    /// not be exported (the others are still written).
    Export(export::ExportArgs),
    /// Record live objects that match the source in the inventory, so that prune may
    /// later delete them (Argo CD's adoption). Writes nothing to Immuta.
    ///
    /// An object whose live state differs from Git is adopted only with --force; the
    /// plan shows the difference first. Exit 1 when a named object could not be adopted.
    Adopt(adopt::AdoptArgs),
    /// Run as a daemon: follow the source, plan and apply on a schedule, on webhooks
    /// and on file changes; serve /healthz, /readyz, /metrics and /status.
    Run(crate::daemon::RunArgs),
    /// Run the local Immuta API emulator until interrupted.
    #[cfg(feature = "emulator")]
    Emulator(immuta_emulator::flags::Flags),
    /// Show the whole flow against the embedded emulator: plan, apply, plan again.
    #[cfg(feature = "emulator")]
    Demo,
}

#[derive(Debug, Args)]
#[group(id = "mode", required = true, multiple = false)]
struct Mode {
    /// Only compute and print the plan; never write.
    #[arg(long)]
    plan: bool,
    /// Compute and print the plan, then apply it.
    #[arg(long)]
    apply: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Output {
    Text,
    Json,
    Markdown,
}

#[derive(Debug, Args)]
struct ReconcileArgs {
    #[command(flatten)]
    mode: Mode,
    #[command(flatten)]
    source: RepoFlags,
    #[command(flatten)]
    git: GitFlags,
    #[command(flatten)]
    limits: LimitFlags,
    #[command(flatten)]
    immuta: ImmutaFlags,
    /// Output format of the plan.
    #[arg(long, value_enum, default_value = "text", env = "IMMUTA_GITOPS_OUTPUT")]
    output: Output,
    /// Exit 2 when the plan has changes, 0 when it has none, 1 on error.
    #[arg(long)]
    detailed_exitcode: bool,
    /// Save the plan to FILE (with --plan) for `immuta-gitops apply FILE`.
    #[arg(long, env = "IMMUTA_GITOPS_OUT")]
    out: Option<PathBuf>,
    #[command(flatten)]
    prune: PruneArgs,
}

#[derive(Debug, Args)]
struct PruneArgs {
    #[command(flatten)]
    prune: config::PruneFlags,
    /// Directory holding the inventory of managed objects (needed for prune).
    #[arg(long, env = "IMMUTA_GITOPS_STATE_DIR")]
    state_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct ApplyArgs {
    /// The plan file written by `reconcile --plan --out`.
    plan_file: PathBuf,
    #[command(flatten)]
    immuta: ImmutaFlags,
    #[command(flatten)]
    git: GitFlags,
    #[command(flatten)]
    limits: LimitFlags,
    /// Directory holding the inventory of managed objects.
    #[arg(long, env = "IMMUTA_GITOPS_STATE_DIR")]
    state_dir: Option<PathBuf>,
    /// Refuse any plan with more deletions than this.
    #[arg(long, env = "IMMUTA_GITOPS_MAX_DELETIONS", default_value_t = 5)]
    max_deletions: usize,
    /// Allow prune to empty a kind.
    #[arg(long, env = "IMMUTA_GITOPS_ALLOW_EMPTY")]
    allow_empty: bool,
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match &cli.command {
        Command::Run(args) => {
            crate::daemon::init_tracing(cli.log.as_deref().unwrap_or("info"), args.log_format);
        }
        #[cfg(feature = "emulator")]
        Command::Emulator(_) => init_tracing(cli.log.as_deref().unwrap_or("info")),
        _ => init_tracing(cli.log.as_deref().unwrap_or("warn")),
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(code) => code,
        // A reader that went away (`immuta-gitops reconcile --plan | head`) is not a failure.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", render_error(&e));
            ExitCode::from(1)
        }
    }
}

fn init_tracing(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(crate::config::stderr_colour())
        .fmt_fields(crate::terminal::log_fields())
        .try_init();
}

async fn run(cmd: Command) -> Result<ExitCode> {
    match cmd {
        Command::Validate { dir, limits } => validate(dir, &limits.limits()),
        Command::Reconcile(args) => reconcile(args).await,
        Command::Apply(args) => apply_saved(args).await,
        Command::Export(args) => export::run(args).await,
        Command::Adopt(args) => adopt::run(args).await,
        Command::Run(args) => {
            crate::daemon::run(args, shutdown_signal()).await?;
            Ok(ExitCode::SUCCESS)
        }
        #[cfg(feature = "emulator")]
        Command::Emulator(args) => emulator(args).await,
        #[cfg(feature = "emulator")]
        Command::Demo => {
            let mut out = std::io::stdout().lock();
            let ok = crate::demo::run(&mut out).await?;
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}

fn validate(dir: PathBuf, limits: &crate::limits::Limits) -> Result<ExitCode> {
    // A bare repository (or a `.git` directory) validates its HEAD commit.
    let snapshot = if source::local::is_git_dir(&dir) {
        let spec = source::SourceSpec {
            repo: dir.display().to_string(),
            limits: *limits,
            ..Default::default()
        };
        source::git::fetch(&spec)
    } else {
        source::local::read_dir(&dir, None, limits)
    }
    .with_context(|| format!("cannot read {}", dir.display()))?;
    let mut out = std::io::stdout().lock();
    match manifest::load(&snapshot, &ProcessEnv) {
        Ok(set) => {
            for w in &set.warnings {
                writeln!(out, "{}", Escaped(w))?;
            }
            writeln!(
                out,
                "{} object(s) valid, {} warning(s).",
                set.objects.len(),
                set.warnings.len()
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Err(diags) => {
            for d in &diags {
                writeln!(out, "{}", Escaped(d))?;
            }
            let errors = diags
                .iter()
                .filter(|d| d.severity == Severity::Error)
                .count();
            writeln!(out, "{errors} error(s).")?;
            Ok(ExitCode::from(1))
        }
    }
}

/// Everything a reconcile needs once the source is read and valid.
struct Prepared {
    spec: source::SourceSpec,
    desired: crate::manifest::DesiredSet,
    client: Client,
    prune: PruneOptions,
    inventory: Option<Inventory>,
}

async fn prepare(
    spec: source::SourceSpec,
    immuta: ImmutaArgs,
    prune: &config::PruneFlags,
    state_dir: Option<&Path>,
) -> Result<Prepared> {
    let client_cfg = config::client_config(&immuta)?;
    let snapshot = cycle::fetch(&spec).await?;
    let settings = config::repo_settings(&snapshot).map_err(|e| anyhow::anyhow!(e))?;
    let mut desired = cycle::load(&snapshot, &ProcessEnv)?;
    let moves = settings.moves().map_err(|e| anyhow::anyhow!(e))?;
    crate::plan::moves::attach(&mut desired, moves).map_err(|e| anyhow::anyhow!(e))?;
    for w in &desired.warnings {
        eprintln!("{}", Escaped(w));
    }
    let prune = prune.options(&settings)?;
    let inventory = match state_dir {
        Some(dir) => match load_inventory(dir) {
            Ok(inv) => inv,
            Err(e) => {
                eprintln!(
                    "warning: cannot read the inventory in {}: {}; nothing will be deleted",
                    Escaped(dir.display()),
                    Escaped(&e)
                );
                None
            }
        },
        None => None,
    };
    if !prune.kinds.is_empty() && state_dir.is_none() {
        eprintln!("warning: --prune needs --state-dir (the inventory of what this tool applied); no object that left Git will be deleted (tables dropped from a data source in Git still are)");
    }
    let client = Client::new(client_cfg)?.with_secrets(&desired.redactor);
    Ok(Prepared {
        spec,
        desired,
        client,
        prune,
        inventory,
    })
}

fn write_plan(plan: &crate::plan::Plan, output: Output, notes: &[String]) -> Result<()> {
    for n in notes {
        if n.starts_with(crate::plan::prune::DISABLED) {
            eprintln!("warning: {}", escape(n));
        } else {
            eprintln!("{}", escape(n));
        }
    }
    let mut out = std::io::stdout().lock();
    match output {
        Output::Text => render::text(plan, &mut out)?,
        Output::Json => render::json(plan, &mut out)?,
        Output::Markdown => render::markdown(plan, &mut out)?,
    }
    out.flush()?;
    Ok(())
}

async fn run_apply(
    p: &Prepared,
    plan: &crate::plan::Plan,
    output: Output,
    state_dir: Option<&Path>,
) -> Result<bool> {
    let report = cycle::apply(&p.client, plan, &p.desired, None).await;
    let mut out = std::io::stdout().lock();
    if output == Output::Json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        writeln!(out, "Applying...")?;
        report.render_text(&mut out)?;
    }
    if let Some(dir) = state_dir {
        let inv = next_inventory(
            &p.desired.revision,
            &p.desired,
            p.inventory.as_ref(),
            &deleted_keys(&report, plan),
        );
        save_inventory(dir, &inv)
            .with_context(|| format!("cannot save the inventory in {}", dir.display()))?;
    }
    Ok(report.is_success())
}

async fn reconcile(args: ReconcileArgs) -> Result<ExitCode> {
    let source_args = args.git.source_args(
        args.source.repo,
        args.source.reference,
        args.source.path,
        args.limits.limits(),
    );
    let spec = config::source_spec(&source_args)?;
    // Refuse a bad --prune before anything is fetched or read.
    args.prune.prune.kinds()?;
    let state_dir = args.prune.state_dir.as_deref();
    let p = prepare(spec, args.immuta.args(), &args.prune.prune, state_dir).await?;
    let (live, plan, notes) =
        cycle::plan_with_prune(&p.client, &p.desired, &p.prune, p.inventory.as_ref())
            .await
            .map_err(|e| explain_client_error(e, &p.client))?;
    write_plan(&plan, args.output, &notes)?;
    if let Some(file) = &args.out {
        let saved = SavedPlan {
            format_version: saved::SAVED_FORMAT_VERSION,
            source: saved::SavedSource {
                repo: saved_repo(&p.spec.repo),
                reference: p.spec.reference.clone(),
                path: p.spec.path.clone(),
            },
            source_id: Some(p.desired.source.clone()),
            revision: p.desired.revision.clone(),
            prune_kinds: p.prune.kinds.iter().copied().collect(),
            fingerprints: saved::fingerprints(&plan, &live),
            plan: plan.clone(),
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
    let applied =
        !(args.mode.apply && changes) || run_apply(&p, &plan, args.output, state_dir).await?;
    if args.mode.apply && !changes {
        if let Some(dir) = state_dir {
            let inv = next_inventory(
                &p.desired.revision,
                &p.desired,
                p.inventory.as_ref(),
                &BTreeSet::new(),
            );
            save_inventory(dir, &inv)
                .with_context(|| format!("cannot save the inventory in {}", dir.display()))?;
        }
    }
    if refused(&plan) || !applied {
        return Ok(ExitCode::from(1));
    }
    Ok(if args.detailed_exitcode && changes {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// Prints one error line per refused data-source change; true when there is any.
fn refused(plan: &crate::plan::Plan) -> bool {
    let mut any = false;
    for c in plan.refused() {
        eprintln!(
            "error: {}: {} (nothing was sent for it)",
            escape(&c.key.to_string()),
            escape(&crate::plan::refusal_reason(c))
        );
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

async fn apply_saved(args: ApplyArgs) -> Result<ExitCode> {
    let bytes = std::fs::read(&args.plan_file)
        .with_context(|| format!("cannot read {}", args.plan_file.display()))?;
    let saved: SavedPlan = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a plan file", args.plan_file.display()))?;
    if source::git::is_remote(&saved.source.repo) && saved.source.repo.contains(crate::redact::MASK)
    {
        // The query values were masked when the plan was saved (issue 11): fetching with
        // them would send `(sensitive)` as a credential.
        anyhow::bail!(
            "the plan's repository URL {} carried credentials in its query string, which a saved plan never stores; give the token with --git-token-file (or IMMUTA_GITOPS_GIT_TOKEN_FILE) and a URL without it",
            escape(&saved.source.repo)
        );
    }
    let source_args = args.git.source_args(
        saved.source.repo.clone(),
        saved.source.reference.clone(),
        saved.source.path.clone(),
        args.limits.limits(),
    );
    let spec = config::source_spec(&source_args)?;
    let prune = config::PruneFlags {
        prune: saved.prune_kinds.iter().map(|k| k.to_string()).collect(),
        allow_empty: args.allow_empty,
        max_deletions: args.max_deletions,
    };
    let state_dir = args.state_dir.as_deref();
    let p = prepare(spec, args.immuta.args(), &prune, state_dir).await?;
    let (live, plan, _) =
        cycle::plan_with_prune(&p.client, &p.desired, &p.prune, p.inventory.as_ref())
            .await
            .map_err(|e| explain_client_error(e, &p.client))?;
    saved::check(&saved, &p.desired.source, &p.desired.revision, &plan, &live)?;
    write_plan(&saved.plan, Output::Text, &[])?;
    let applied =
        !saved.plan.has_changes() || run_apply(&p, &saved.plan, Output::Text, state_dir).await?;
    Ok(if refused(&saved.plan) || !applied {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn explain_client_error(e: cycle::Error, client: &Client) -> anyhow::Error {
    if let cycle::Error::Live(crate::live::Error::Client(c)) = &e {
        if c.is_unauthorized() {
            return anyhow::anyhow!(
                "Immuta at {} rejected the API key (401): check IMMUTA_API_KEY or --api-key-file",
                client.base_url()
            );
        }
    }
    anyhow::Error::new(e)
}

#[cfg(feature = "emulator")]
async fn emulator(flags: immuta_emulator::flags::Flags) -> Result<ExitCode> {
    immuta_emulator::flags::run(&flags, shutdown_signal())
        .await
        .map_err(anyhow::Error::msg)?;
    Ok(ExitCode::SUCCESS)
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<std::io::Error>())
        .any(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
}

/// The error as printed on stderr, escaped for the terminal: invalid manifests one
/// diagnostic per line (each escaped on its own), anything else on one line.
fn render_error(e: &anyhow::Error) -> String {
    if let Some(cycle::Error::Manifest(diags)) = e.downcast_ref::<cycle::Error>() {
        let errors = diags
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count();
        let mut out = format!("{errors} invalid manifest(s):");
        for d in diags {
            out.push('\n');
            out.push_str(&escape(&d.to_string()));
        }
        return out;
    }
    escape(&error_chain(e)).into_owned()
}

/// The error and its causes on one line, `outer: cause: cause`. A cause whose text the
/// message already holds (errors that print their source themselves) is not repeated.
fn error_chain(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::Kind;
    use clap::CommandFactory;

    #[test]
    fn a_closed_stdout_is_not_an_error() {
        let pipe = anyhow::Error::new(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
        assert!(is_broken_pipe(&pipe.context("writing the plan")));
        assert!(!is_broken_pipe(&anyhow::anyhow!("other")));
    }

    #[test]
    fn error_chains_do_not_repeat_causes() {
        let inner = std::io::Error::other("disk on fire");
        let e = anyhow::Error::new(inner)
            .context("cannot read x: disk on fire")
            .context("loading failed");
        assert_eq!(
            error_chain(&e),
            "loading failed: cannot read x: disk on fire"
        );
    }

    /// issue 11: an error printed on stderr cannot forge lines; a list of invalid
    /// manifests stays one diagnostic per line.
    #[test]
    fn issue_11_errors_are_escaped_for_the_terminal() {
        let e = anyhow::anyhow!("POST /x returned 400: bad\nFORGED \u{1b}]0;t\u{7}");
        assert_eq!(
            render_error(&e),
            "POST /x returned 400: bad\\nFORGED \\x1b]0;t\\x07"
        );
        let d = |line: usize, key: &str| crate::manifest::Diagnostic {
            severity: Severity::Error,
            span: crate::manifest::Span {
                path: "purpose/a\nb.yaml".into(),
                line,
                col: 1,
            },
            kind: Some(Kind::Purpose),
            key: Some(key.into()),
            message: "bad".into(),
        };
        let e = anyhow::Error::new(cycle::Error::Manifest(vec![d(1, "x\u{1b}[2J"), d(2, "y")]));
        assert_eq!(
            render_error(&e),
            "2 invalid manifest(s):\npurpose/a\\nb.yaml:1:1: purpose x\\x1b[2J: bad\npurpose/a\\nb.yaml:2:1: purpose y: bad"
        );
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn prune_and_retry_flags_parse() {
        let cli = Cli::try_parse_from([
            "immuta-gitops",
            "reconcile",
            "--plan",
            "--repo",
            "r",
            "--prune=policy,project",
            "--max-deletions",
            "3",
            "--state-dir",
            "/s",
            "--retry-max-delay",
            "50ms",
        ])
        .unwrap();
        let Command::Reconcile(a) = cli.command else {
            panic!("not reconcile");
        };
        assert_eq!(
            a.prune.prune.kinds().unwrap(),
            [Kind::Policy, Kind::Project].into()
        );
        assert_eq!(a.prune.prune.max_deletions, 3);
        assert_eq!(a.prune.state_dir, Some(PathBuf::from("/s")));
        assert_eq!(
            a.immuta.retry.policy().cap,
            std::time::Duration::from_millis(50)
        );
        let off =
            Cli::try_parse_from(["immuta-gitops", "reconcile", "--plan", "--repo", "r"]).unwrap();
        let Command::Reconcile(b) = off.command else {
            panic!("not reconcile");
        };
        assert!(b.prune.prune.kinds().unwrap().is_empty());
    }

    #[cfg(feature = "emulator")]
    #[test]
    fn emulator_page_cap_flag_parses_with_the_documented_default() {
        let parse = |extra: &[&str]| {
            let mut args = vec!["immuta-gitops", "emulator"];
            args.extend_from_slice(extra);
            match Cli::try_parse_from(args).unwrap().command {
                Command::Emulator(a) => a.max_page_size,
                _ => panic!("not emulator"),
            }
        };
        assert_eq!(
            usize::try_from(parse(&[])).unwrap(),
            immuta_emulator::routes::MAX_PAGE
        );
        assert_eq!(parse(&["--max-page-size", "7"]), 7);
        for bad in ["x", "0"] {
            let args = ["immuta-gitops", "emulator", "--max-page-size", bad];
            assert!(Cli::try_parse_from(args).is_err(), "{bad}");
        }
    }

    #[test]
    fn issue_11_flag_values_that_cannot_work_are_refused_with_their_range() {
        let base = ["immuta-gitops", "reconcile", "--plan", "--repo", "r"];
        for (flag, value, want) in [
            ("--timeout", "0s", "100ms to 1h"),
            ("--timeout", "300000000000y", "100ms to 1h"),
            ("--retry-attempts", "0", "1..=100"),
            ("--retry-attempts", "1000", "1..=100"),
            ("--concurrency", "0", "1..=256"),
            ("--concurrency", "100000", "1..=256"),
            ("--retry-max-elapsed", "0s", "100ms to 1day"),
            ("--retry-max-delay", "2h", "0s to 1h"),
            ("--max-response-bytes", "0", "64 KiB to 1 GiB"),
            ("--max-manifest-bytes", "10", "1 KiB to 1 GiB"),
            ("--max-read-file-bytes", "5GiB", "1 KiB to 1 GiB"),
            ("--max-yaml-nodes", "0", "1..=100000000"),
            ("--max-yaml-depth", "1", "2..=120"),
        ] {
            let mut args: Vec<&str> = base.to_vec();
            args.extend([flag, value]);
            let err = Cli::try_parse_from(&args).unwrap_err().to_string();
            assert!(
                err.contains(flag) && err.contains(want),
                "{flag} {value}: {err}"
            );
        }
        for (flag, value, want) in [
            ("--interval", "0s", "100ms to 30days"),
            ("--interval", "300000000000y", "100ms to 30days"),
            ("--drift-interval", "0s", "100ms to 30days"),
            ("--grace-period", "2h", "0s to 1h"),
            ("--debounce", "1y", "0s to 1h"),
        ] {
            let args = ["immuta-gitops", "run", "--repo", "r", flag, value];
            let err = Cli::try_parse_from(args).unwrap_err().to_string();
            assert!(
                err.contains(flag) && err.contains(want),
                "{flag} {value}: {err}"
            );
        }
        for (flag, value) in [("--fault-rate", "2"), ("--latency", "2h")] {
            let args = ["immuta-gitops", "emulator", flag, value];
            assert!(Cli::try_parse_from(args).is_err(), "{flag} {value}");
        }
        let mut ok: Vec<&str> = base.to_vec();
        ok.extend([
            "--timeout",
            "100ms",
            "--retry-attempts",
            "1",
            "--concurrency",
            "1",
        ]);
        assert!(Cli::try_parse_from(&ok).is_ok());
    }
}
