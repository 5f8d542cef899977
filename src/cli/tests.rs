//! Flag parsing and error rendering of the command line.

use super::errors::{chain, is_broken_pipe, render};
use super::{Cli, Command};
use clap::{CommandFactory, Parser};
use immuta_gitops::cycle;
use immuta_gitops::manifest::Severity;
use immuta_gitops::object::Kind;
use std::path::PathBuf;

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
    assert_eq!(chain(&e), "loading failed: cannot read x: disk on fire");
}

/// issue 11: an error printed on stderr cannot forge lines; a list of invalid
/// manifests stays one diagnostic per line.
#[test]
fn issue_11_errors_are_escaped_for_the_terminal() {
    let e = anyhow::anyhow!("POST /x returned 400: bad\nFORGED \u{1b}]0;t\u{7}");
    assert_eq!(
        render(&e),
        "POST /x returned 400: bad\\nFORGED \\x1b]0;t\\x07"
    );
    let d = |line: usize, key: &str| immuta_gitops::manifest::Diagnostic {
        severity: Severity::Error,
        span: immuta_gitops::manifest::Span {
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
        render(&e),
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
    assert_eq!(a.prune.kinds(), [Kind::Policy, Kind::Project].into());
    assert_eq!(a.prune.guards.max_deletions, 3);
    assert_eq!(a.state.state_dir, Some(PathBuf::from("/s")));
    assert_eq!(
        a.immuta.retry.policy().cap,
        std::time::Duration::from_millis(50)
    );
    let off = Cli::try_parse_from(["immuta-gitops", "reconcile", "--plan", "--repo", "r"]).unwrap();
    let Command::Reconcile(b) = off.command else {
        panic!("not reconcile");
    };
    assert!(b.prune.kinds().is_empty());
}

/// issue 15: `--refresh all` is the default (every object read); `changed` plans
/// incrementally with `--drift-interval` (default 1h) as the record age; `full` reads
/// every connection's V1 details too.
#[test]
fn refresh_modes_parse_into_scope_and_detail_reads() {
    use immuta_gitops::cycle::Scope;
    use immuta_gitops::live::Refresh;
    use std::time::Duration;
    let parse = |extra: &[&str]| {
        let mut args = vec!["immuta-gitops", "reconcile", "--plan", "--repo", "r"];
        args.extend_from_slice(extra);
        let Command::Reconcile(a) = Cli::try_parse_from(args).unwrap().command else {
            panic!("not reconcile");
        };
        (a.refresh.live(), a.refresh.scope(a.drift_interval))
    };
    assert_eq!(parse(&[]), (Refresh::Changed, Scope::Full));
    assert_eq!(
        parse(&["--refresh", "all"]),
        (Refresh::Changed, Scope::Full)
    );
    assert_eq!(parse(&["--refresh=full"]), (Refresh::Full, Scope::Full));
    let hour = Duration::from_secs(3600);
    assert_eq!(
        parse(&["--refresh=changed"]),
        (Refresh::Changed, Scope::Changed { max_age: hour })
    );
    assert_eq!(
        parse(&["--refresh=changed", "--drift-interval", "15m"]),
        (
            Refresh::Changed,
            Scope::Changed {
                max_age: Duration::from_secs(900)
            }
        )
    );
    assert!(Cli::try_parse_from([
        "immuta-gitops",
        "reconcile",
        "--plan",
        "--repo",
        "r",
        "--refresh=some"
    ])
    .is_err());
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

/// `--state-dir`, `--max-deletions` and `--allow-empty` are declared once and mean the
/// same on every command that has them.
#[test]
fn the_shared_flags_parse_alike_on_every_command() {
    let shared = ["--state-dir", "/s", "--max-deletions", "2", "--allow-empty"];
    let parse = |head: &[&str]| {
        let mut args = vec!["immuta-gitops"];
        args.extend_from_slice(head);
        args.extend_from_slice(&shared);
        Cli::try_parse_from(args).unwrap().command
    };
    let (state, guards) = match parse(&["apply", "plan.json"]) {
        Command::Apply(a) => (a.state, a.guards),
        _ => panic!("not apply"),
    };
    let reconcile = match parse(&["reconcile", "--plan", "--repo", "r"]) {
        Command::Reconcile(a) => (a.state, a.prune.guards),
        _ => panic!("not reconcile"),
    };
    let run = match parse(&["run", "--repo", "r"]) {
        Command::Run(a) => (a.state, a.prune.guards),
        _ => panic!("not run"),
    };
    for (what, (s, g)) in [
        ("apply", (state, guards)),
        ("reconcile", reconcile),
        ("run", run),
    ] {
        assert_eq!(s.state_dir, Some(PathBuf::from("/s")), "{what}");
        assert_eq!(g.max_deletions, 2, "{what}");
        assert!(g.allow_empty, "{what}");
    }
}

#[test]
fn clap_parses_prune_kinds_with_the_spellings_of_before() {
    #[derive(clap::Parser)]
    struct W {
        #[command(flatten)]
        prune: super::flags::PruneFlags,
    }
    let kinds = |args: &[&str]| {
        W::try_parse_from(std::iter::once("x").chain(args.iter().copied())).map(|w| w.prune.kinds())
    };
    assert!(kinds(&[]).unwrap().is_empty());
    for all in [
        &["--prune"][..],
        &["--prune=all"],
        &["--prune="],
        &["--prune=data,all"],
    ] {
        assert_eq!(kinds(all).unwrap().len(), 4, "{all:?}");
    }
    assert_eq!(
        kinds(&["--prune=policy,project"]).unwrap(),
        [Kind::Policy, Kind::Project].into()
    );
    assert_eq!(kinds(&["--prune= policy"]).unwrap(), [Kind::Policy].into());
    let err = kinds(&["--prune=policies"]).unwrap_err();
    assert_eq!(err.kind(), clap::error::ErrorKind::ValueValidation);
    let text = err.to_string();
    assert!(
        text.contains("--prune") && text.contains("unknown kind \"policies\""),
        "{text}"
    );
}
