//! Command line: clap types, subcommand dispatch, output format and the one exit-code
//! mapping. The only module that prints (plans to stdout, logs and errors to stderr).
//!
//! Exit codes: 0 success (and, with `--detailed-exitcode`, no changes); 1 error (bad
//! input, API failure, failed apply); 2 only with `--detailed-exitcode`: success and the
//! plan has changes (Terraform's convention).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::client::Client;
use crate::config::{self, ImmutaArgs, SourceArgs};
use crate::cycle;
use crate::manifest::{self, ProcessEnv, Severity};
use crate::plan::render;
use crate::source;

/// GitOps for Immuta: keep a tenant equal to a Git repository of V2 YAML files.
#[derive(Debug, Parser)]
#[command(name = "immuta-gitops", version, about, long_about = None)]
pub struct Cli {
    /// Log filter (tracing `EnvFilter` syntax), e.g. `info` or `immuta_gitops=debug`.
    #[arg(long, env = "IMMUTA_GITOPS_LOG", global = true, default_value = "warn")]
    pub log: String,
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
    },
    /// Compute the plan (--plan) or compute, print and apply it (--apply).
    ///
    /// Exit codes: 0 success; 1 error; with --detailed-exitcode: 0 no changes,
    /// 2 changes present (plan) or applied (apply), 1 error.
    Reconcile(ReconcileArgs),
    /// Run the local Immuta API emulator until interrupted.
    Emulator(EmulatorArgs),
    /// Show the whole flow against the embedded emulator: plan, apply, plan again.
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
}

#[derive(Debug, Args)]
struct SourceFlags {
    /// Git URL (https://, ssh://, git@host:path, file://) or local directory.
    #[arg(long, env = "IMMUTA_GITOPS_REPO")]
    repo: String,
    /// Branch, tag or commit SHA (default: the remote's default branch).
    #[arg(long = "ref", env = "IMMUTA_GITOPS_REF")]
    reference: Option<String>,
    /// Sub-directory of the repository holding data/, policy/, project/, purpose/.
    #[arg(long, env = "IMMUTA_GITOPS_PATH")]
    path: Option<String>,
    /// Where Git clones are cached.
    #[arg(long, env = "IMMUTA_GITOPS_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
    /// HTTPS username for Git (the token is read from --git-token-file or IMMUTA_GITOPS_GIT_TOKEN).
    #[arg(long, env = "IMMUTA_GITOPS_GIT_USERNAME")]
    git_username: Option<String>,
    /// File holding an HTTPS token for Git.
    #[arg(long, env = "IMMUTA_GITOPS_GIT_TOKEN_FILE")]
    git_token_file: Option<PathBuf>,
    /// SSH private key file for Git.
    #[arg(long, env = "IMMUTA_GITOPS_SSH_KEY_FILE")]
    ssh_key_file: Option<PathBuf>,
    /// File holding the SSH key's passphrase.
    #[arg(long, env = "IMMUTA_GITOPS_SSH_PASSPHRASE_FILE")]
    ssh_passphrase_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct ImmutaFlags {
    /// Immuta tenant URL.
    #[arg(long, env = "IMMUTA_URL")]
    immuta_url: Option<String>,
    /// File holding the API key (else IMMUTA_API_KEY is read; never a flag value).
    #[arg(long, env = "IMMUTA_GITOPS_API_KEY_FILE")]
    api_key_file: Option<PathBuf>,
    /// Requests in flight at once.
    #[arg(long, env = "IMMUTA_GITOPS_CONCURRENCY", default_value_t = 8)]
    concurrency: usize,
    /// Timeout of one HTTP attempt.
    #[arg(long, env = "IMMUTA_GITOPS_TIMEOUT", default_value = "60s", value_parser = humantime::parse_duration)]
    timeout: Duration,
    /// Skip TLS certificate verification (test tenants only; logs a warning).
    #[arg(long, env = "IMMUTA_GITOPS_INSECURE_SKIP_TLS_VERIFY")]
    insecure_skip_tls_verify: bool,
}

#[derive(Debug, Args)]
struct ReconcileArgs {
    #[command(flatten)]
    mode: Mode,
    #[command(flatten)]
    source: SourceFlags,
    #[command(flatten)]
    immuta: ImmutaFlags,
    /// Output format of the plan.
    #[arg(long, value_enum, default_value = "text", env = "IMMUTA_GITOPS_OUTPUT")]
    output: Output,
    /// Exit 2 when the plan has changes, 0 when it has none, 1 on error.
    #[arg(long)]
    detailed_exitcode: bool,
}

#[derive(Debug, Args)]
struct EmulatorArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: String,
    /// The API key clients must send.
    #[arg(long, env = "IMMUTA_EMULATOR_API_KEY", default_value = "emulator-key")]
    api_key: String,
    /// Directory in repository layout to load as the initial tenant.
    #[arg(long)]
    seed: Option<PathBuf>,
    /// Latency added to every request.
    #[arg(long, default_value = "0s", value_parser = humantime::parse_duration)]
    latency: Duration,
    /// Probability of a 500/503 answer.
    #[arg(long, default_value_t = 0.0)]
    fault_rate: f64,
    /// Probability of a 429 answer with Retry-After.
    #[arg(long, default_value_t = 0.0)]
    throttle_rate: f64,
    /// Probability of a dropped connection.
    #[arg(long, default_value_t = 0.0)]
    reset_rate: f64,
    /// Seed of the fault generator, so runs reproduce.
    #[arg(long, default_value_t = 0)]
    seed_rng: u64,
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(&cli.log);
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
        Err(e) => {
            eprintln!("error: {e:#}");
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
        .try_init();
}

async fn run(cmd: Command) -> Result<ExitCode> {
    match cmd {
        Command::Validate { dir } => validate(dir),
        Command::Reconcile(args) => reconcile(args).await,
        Command::Emulator(args) => emulator(args).await,
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

fn validate(dir: PathBuf) -> Result<ExitCode> {
    let snapshot = source::local::read_dir(&dir, None)
        .with_context(|| format!("cannot read {}", dir.display()))?;
    let mut out = std::io::stdout().lock();
    match manifest::load(&snapshot, &ProcessEnv) {
        Ok(set) => {
            for w in &set.warnings {
                writeln!(out, "{w}")?;
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
                writeln!(out, "{d}")?;
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

async fn reconcile(args: ReconcileArgs) -> Result<ExitCode> {
    let source_args = SourceArgs {
        repo: args.source.repo,
        reference: args.source.reference,
        path: args.source.path,
        cache_dir: args.source.cache_dir,
        git_username: args.source.git_username,
        git_token_file: args.source.git_token_file,
        ssh_key_file: args.source.ssh_key_file,
        ssh_passphrase_file: args.source.ssh_passphrase_file,
    };
    let immuta_args = ImmutaArgs {
        url: args.immuta.immuta_url,
        api_key_file: args.immuta.api_key_file,
        concurrency: args.immuta.concurrency,
        timeout: args.immuta.timeout,
        insecure: args.immuta.insecure_skip_tls_verify,
    };
    let spec = config::source_spec(&source_args)?;
    let client_cfg = config::client_config(&immuta_args)?;
    let snapshot = cycle::fetch(&spec).await?;
    let desired = cycle::load(&snapshot, &ProcessEnv)?;
    for w in &desired.warnings {
        eprintln!("{w}");
    }
    let client = Client::new(client_cfg)?.with_secrets(&desired.redactor);
    let (_live, plan) = cycle::plan(&client, &desired)
        .await
        .map_err(|e| explain_client_error(e, &client))?;
    let mut out = std::io::stdout().lock();
    match args.output {
        Output::Text => render::text(&plan, &mut out)?,
        Output::Json => render::json(&plan, &mut out)?,
    }
    out.flush()?;
    let changes = plan.has_changes();
    if args.mode.apply && changes {
        let report = cycle::apply(&client, &plan, &desired, None).await;
        if args.output == Output::Json {
            serde_json::to_writer_pretty(&mut out, &report)?;
            writeln!(out)?;
        } else {
            writeln!(out, "Applying...")?;
            report.render_text(&mut out)?;
        }
        if !report.is_success() {
            return Ok(ExitCode::from(1));
        }
    }
    Ok(if args.detailed_exitcode && changes {
        ExitCode::from(2)
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

async fn emulator(args: EmulatorArgs) -> Result<ExitCode> {
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    let opts = crate::emulator::Options {
        api_key: args.api_key,
        seed: args.seed,
        latency: args.latency,
        fault_rate: args.fault_rate,
        throttle_rate: args.throttle_rate,
        reset_rate: args.reset_rate,
        rng_seed: args.seed_rng,
    };
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on http://{addr}")?;
        out.flush()?;
    }
    crate::emulator::serve(opts, listener, shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
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
