//! Command line: clap types, subcommand dispatch, output format and the one exit-code
//! mapping. The only module that prints (plans to stdout, logs and errors to stderr).
//! Part of the binary, not of the library: it only parses flags, calls the library
//! ([`immuta_gitops::cycle::Reconciler`], the daemon, the demo) and renders.
//!
//! Exit codes: 0 success (and, with `--detailed-exitcode`, no changes); 1 error (bad
//! input, API failure, failed apply); 2 only with `--detailed-exitcode`: success and the
//! plan has changes (Terraform's convention).
//!
//! Parts: [`flags`] (every flag, declared once), [`reconcile`] (`validate`, `reconcile`,
//! `apply`), [`export`] and [`adopt`], [`errors`] (how an error is printed), [`tty`]
//! (colour, the approval prompt, progress).

use std::process::ExitCode;

use anyhow::Result;
use std::io::Write;

use clap::{CommandFactory, Parser, Subcommand};

use immuta_gitops::daemon::{self, LogFormat};

mod adopt;
mod errors;
mod export;
mod flags;
mod reconcile;
#[cfg(test)]
mod tests;
mod tty;

/// `--version`: the package version and the commit it was built from (see `build.rs`).
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("IMMUTA_GITOPS_COMMIT"),
    ")"
);

/// GitOps for Immuta: keep a tenant equal to a Git repository of V2 YAML files.
#[derive(Debug, Parser)]
#[command(name = "immuta-gitops", version = VERSION, about, long_about = None)]
pub struct Cli {
    /// Log filter (tracing `EnvFilter` syntax), e.g. `info` or `immuta_gitops=debug`.
    /// Default: `info` for `run` and `emulator`, `warn` for the one-shot commands.
    #[arg(long, env = "IMMUTA_GITOPS_LOG", global = true)]
    pub log: Option<String>,
    /// Colour: `auto` colours on a terminal (`NO_COLOR` disables, `CLICOLOR_FORCE`
    /// forces), `always`, `never`. Logs are coloured only on a terminal.
    #[arg(
        long,
        env = "IMMUTA_GITOPS_COLOR",
        global = true,
        value_enum,
        default_value = "auto"
    )]
    pub color: flags::ColorFlag,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Parse, template and validate every manifest under DIR, offline.
    ///
    /// Exit 0 when all are valid; 1 with one line per problem
    /// (`path:line:col: <kind> <key>: message`) when any is not. Needs no secrets: an
    /// unset `{{EnvVar}}` or `${NAME}` variable is only named in one warning (`reconcile`
    /// still requires it). With --strict, unknown fields are errors.
    Validate(flags::commands::ValidateArgs),
    /// Compute the plan (--plan) or compute, print and apply it (--apply).
    ///
    /// Exit codes: 0 success; 1 error; with --detailed-exitcode: 0 no changes,
    /// 2 changes present (plan) or applied (apply), 1 error.
    Reconcile(flags::commands::ReconcileArgs),
    /// Apply a plan saved with `reconcile --plan --out FILE`, exactly as saved.
    ///
    /// Refused ("plan is stale") when the source ref or the live state of any object in
    /// the plan changed since it was made. The plan file names the repository by its
    /// absolute location, so this works from any directory. With --detailed-exitcode:
    /// 0 nothing to apply, 2 changes applied, 1 error.
    Apply(flags::commands::ApplyArgs),
    /// Write the live tenant as manifests in the repository layout, one file per object.
    ///
    /// Only objects users made (never system ones). Exit 1 when any selected object could
    /// not be exported (the others are still written).
    Export(flags::adopt::ExportArgs),
    /// Record live objects that match the source in the inventory, so that prune may
    /// later delete them (Argo CD's adoption). Writes nothing to Immuta.
    ///
    /// An object whose live state differs from Git is adopted only with --force; the
    /// plan shows the difference first. Exit 1 when a named object could not be adopted.
    Adopt(flags::adopt::AdoptArgs),
    /// Run as a daemon: follow the source, plan and apply on a schedule, on webhooks
    /// and on file changes; serve /healthz, /readyz, /metrics and /status.
    Run(flags::run::RunArgs),
    /// Run the local Immuta API emulator until interrupted.
    #[cfg(feature = "emulator")]
    Emulator(immuta_emulator::flags::Flags),
    /// Show the whole flow against the embedded emulator: plan, apply, plan again.
    #[cfg(feature = "emulator")]
    Demo,
    /// Print a shell completion script to stdout.
    ///
    /// e.g. `immuta-gitops completions bash > /etc/bash_completion.d/immuta-gitops`.
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) to stdout, e.g. `immuta-gitops man | man -l -`.
    Man,
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let (default, format) = match &cli.command {
        Command::Run(args) => ("info", args.log.log_format),
        // JSON logs are for machines reading the plan and the apply from them: `info`
        // carries the plan, change and applied events.
        Command::Reconcile(args) if args.log.log_format == LogFormat::Json => {
            ("info", LogFormat::Json)
        }
        #[cfg(feature = "emulator")]
        Command::Emulator(_) => ("info", LogFormat::Text),
        _ => ("warn", LogFormat::Text),
    };
    let colour = cli.color.choice();
    daemon::init_tracing(
        cli.log.as_deref().unwrap_or(default),
        default,
        format,
        colour,
    );
    let tty = tty::Tty::detect(colour);
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
    match runtime.block_on(run(cli.command, tty)) {
        Ok(code) => code,
        // A reader that went away (`immuta-gitops reconcile --plan | head`) is not a failure.
        Err(e) if errors::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            tty.eprintln(&format!("error: {}", errors::render(&e)));
            ExitCode::from(1)
        }
    }
}

async fn run(cmd: Command, tty: tty::Tty) -> Result<ExitCode> {
    match cmd {
        Command::Validate(args) => reconcile::validate(&args, tty),
        Command::Reconcile(args) => reconcile::reconcile(args, tty).await,
        Command::Apply(args) => reconcile::apply_saved(args, tty).await,
        Command::Completions { shell } => {
            let mut out = std::io::stdout().lock();
            clap_complete::generate(shell, &mut Cli::command(), "immuta-gitops", &mut out);
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Man => {
            let mut out = std::io::stdout().lock();
            clap_mangen::Man::new(Cli::command()).render(&mut out)?;
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Export(args) => export::run(args).await,
        Command::Adopt(args) => adopt::run(args).await,
        Command::Run(args) => {
            daemon::run(args.options(), shutdown_signal()).await?;
            Ok(ExitCode::SUCCESS)
        }
        #[cfg(feature = "emulator")]
        Command::Emulator(args) => {
            immuta_emulator::flags::run(&args, shutdown_signal())
                .await
                .map_err(anyhow::Error::msg)?;
            Ok(ExitCode::SUCCESS)
        }
        #[cfg(feature = "emulator")]
        Command::Demo => {
            let mut out = tty.out.writer(std::io::stdout().lock());
            let ok = immuta_gitops::demo::run(&mut out).await?;
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
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
