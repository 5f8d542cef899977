//! `immuta-gitops export`: the run that reads the tenant, writes the files and
//! prints what was written. Part of the command line ([`super`]).

use std::collections::BTreeSet;
use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;

use immuta_gitops::client::Client;
use immuta_gitops::config;
use immuta_gitops::export::{self, Options};
use immuta_gitops::live::tenant::read_tenant;
use immuta_gitops::object::Kind;
use immuta_gitops::terminal::{escape, Escaped};

use super::flags::adopt::ExportArgs;

/// Runs `export`: exit 0 when every selected object was written, 1 otherwise (after
/// writing the others).
///
/// # Errors
/// Bad flags, an unreachable or refusing Immuta, an unwritable output directory.
pub async fn run(args: ExportArgs) -> Result<ExitCode> {
    let kinds: BTreeSet<Kind> = if args.kind.is_empty() {
        Kind::ALL.iter().copied().collect()
    } else {
        args.kind.iter().copied().collect()
    };
    let opts = Options {
        kinds: kinds.clone(),
        matches: args.matches.clone(),
        max_file_bytes: args.limits.limits().manifest_bytes,
    };
    let client = Client::new(config::client_config(&args.immuta.args())?)?;
    let read = read_tenant(&client, &kinds).await?;
    let built = export::build(&read, &opts)?;
    let written = export::write(&args.out, &built.files, args.force)?;
    let mut out = std::io::stdout().lock();
    for f in &built.files {
        let mark = if f.missing.is_empty() { "+" } else { "!" };
        writeln!(out, "  {mark} {}  {}", Escaped(&f.key), Escaped(&f.path))?;
        for m in &f.missing {
            writeln!(out, "      incomplete: {}", escape(m))?;
        }
    }
    let incomplete = built.files.iter().filter(|f| !f.missing.is_empty()).count();
    writeln!(
        out,
        "\nExported {} object(s) to {}{}.",
        written.len(),
        Escaped(args.out.display()),
        if incomplete == 0 {
            String::new()
        } else {
            format!("; {incomplete} incomplete (marked `!`: validate refuses them until they are filled in)")
        }
    )?;
    if !built.variables.is_empty() {
        writeln!(
            out,
            "\nSet these environment variables before validate or reconcile (no value was read or written):"
        )?;
        for (name, what) in &built.variables {
            writeln!(out, "  {}  ({})", escape(name), escape(what))?;
        }
    }
    out.flush()?;
    let mut failed = false;
    for s in &built.failed {
        eprintln!(
            "error: {} was not exported: {}",
            escape(&s.object),
            escape(&s.reason)
        );
        failed = true;
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
