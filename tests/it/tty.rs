//! issue 14, the terminal: colour only where it belongs (`--color`, `NO_COLOR`,
//! `CLICOLOR_FORCE`, never in piped logs), the approval prompt on a terminal only, the
//! progress on stderr and each object's result streamed as it lands. Terminal behaviour
//! runs the real binary under a pseudo-terminal ([`common::pty`]).

use crate::common;

use common::pty::{self, PtyRun};
use common::*;

const ESC: char = '\u{1b}';

fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// `reconcile <mode> --repo … --immuta-url …` plus `extra`, for a terminal run.
fn reconcile_args(
    tenant: &DemoTenant,
    cache: &std::path::Path,
    mode: &str,
    extra: &[&str],
) -> Vec<String> {
    let mut args: Vec<String> = [
        "reconcile",
        mode,
        "--repo",
        &tenant.repo.url(),
        "--immuta-url",
        &tenant.emu.url(),
        "--cache-dir",
        &cache.to_string_lossy(),
    ]
    .iter()
    .map(ToString::to_string)
    .collect();
    args.extend(extra.iter().map(ToString::to_string));
    args
}

fn tenant_env(tenant: &DemoTenant, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env = owned(&[("IMMUTA_API_KEY", KEY)]);
    env.extend(tenant.secrets.iter().cloned());
    env.extend(owned(extra));
    env
}

fn assert_exit(run: &PtyRun, code: i32) {
    assert_eq!(run.code, Some(code), "{}", run.output);
}

/// On a terminal, `reconcile --apply` shows the plan, asks, and sends nothing unless
/// the answer is exactly `yes`; then it streams each result with a progress bar.
#[tokio::test(flavor = "multi_thread")]
async fn issue_14_apply_on_a_terminal_asks_and_only_yes_applies() {
    let tenant = DemoTenant::start().await;
    let cache = tempfile::tempdir().unwrap();
    let args = reconcile_args(&tenant, cache.path(), "--apply", &[]);
    let env = tenant_env(&tenant, &[]);
    const PROMPT: &str = "Only 'yes' will be accepted to approve.";

    for answer in ["no", "", "yes please", "YES"] {
        let run = pty::run(
            args.clone(),
            env.clone(),
            vec![("Enter a value:", answer.into())],
        )
        .await;
        assert_exit(&run, 1);
        assert!(run.output.contains(PROMPT), "{}", run.output);
        assert!(
            run.output
                .contains("Apply cancelled: nothing was sent to Immuta."),
            "{}",
            run.output
        );
        assert_eq!(
            real_writes(&tenant.emu),
            0,
            "answer {answer:?} wrote:\n{}",
            run.output
        );
    }

    let run = pty::run(
        args.clone(),
        env.clone(),
        vec![("Enter a value:", "yes".into())],
    )
    .await;
    assert_exit(&run, 0);
    let out = &run.output;
    // The plan comes before the question, coloured: markers and the closing line.
    let asked = out.find("Enter a value:").unwrap();
    let plan = out.find("to add, ").unwrap();
    assert!(plan < asked, "{out}");
    assert!(
        out.contains(&format!("{ESC}[32m+{ESC}[0m ")),
        "no green + in:\n{out}"
    );
    assert!(
        out.contains(&format!("{ESC}[1mPlan: ")),
        "no bold Plan: in:\n{out}"
    );
    // The live read and the apply report progress on the terminal.
    assert!(out.contains("Read the live state: "), "{out}");
    let writes = real_writes(&tenant.emu);
    assert!(writes > 0);
    assert!(out.contains("objects"), "{out}");
    assert!(
        out.contains(&format!("{ESC}[32m✓{ESC}[0m ")),
        "no streamed result line in:\n{out}"
    );
    // Streamed, not printed at the end: the first result line comes before the bar
    // reaches the last level.
    let first = out.find("✓").unwrap();
    let last_level = out.find("level: project").expect("the bar names the level");
    assert!(first < last_level, "results were not streamed:\n{out}");
    assert!(out.contains("Applied 9/9 objects"), "{out}");
    assert!(out.contains("Apply complete!"), "{out}");
    let applied = out.find("Apply complete!").unwrap();
    assert!(asked < applied, "{out}");

    // Nothing left to do: no question at all.
    let again = pty::run(args, env, vec![]).await;
    assert_exit(&again, 0);
    assert!(!again.output.contains(PROMPT), "{}", again.output);
    assert!(again.output.contains("No changes."), "{}", again.output);
    assert_eq!(real_writes(&tenant.emu), writes);
}

/// `--auto-approve` applies on a terminal without asking; `--color never` keeps the
/// terminal free of colour (the progress bar may still move the cursor).
#[tokio::test(flavor = "multi_thread")]
async fn issue_14_auto_approve_applies_without_asking() {
    let tenant = DemoTenant::start().await;
    let cache = tempfile::tempdir().unwrap();
    let args = reconcile_args(
        &tenant,
        cache.path(),
        "--apply",
        &["--auto-approve", "--color", "never"],
    );
    let run = pty::run(args, tenant_env(&tenant, &[]), vec![]).await;
    assert_exit(&run, 0);
    assert!(!run.output.contains("Enter a value:"), "{}", run.output);
    assert!(run.output.contains("Apply complete!"), "{}", run.output);
    assert!(
        !run.output.contains(&format!("{ESC}[32m")),
        "{:?}",
        run.output
    );
    assert!(
        !run.output.contains(&format!("{ESC}[1m")),
        "{:?}",
        run.output
    );
    assert!(real_writes(&tenant.emu) > 0);
}

/// Without a terminal (CI, scripts) `--apply` never asks, and nothing is coloured unless
/// forced; forcing colours the plan but never the logs.
#[tokio::test(flavor = "multi_thread")]
async fn issue_14_piped_output_never_asks_and_is_coloured_only_when_forced() {
    let tenant = DemoTenant::start().await;
    let url = tenant.emu.url();
    let repo = tenant.repo.url();
    let env = env_refs(&tenant.secrets);
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut e = env.clone();
        e.extend_from_slice(extra);
        e
    };
    // Logs at debug so that stderr certainly holds log lines.
    let log = ["--log", "immuta_gitops=debug"];

    let plain = reconcile(&url, "--plan", &repo, &log, &with(&[])).await;
    let (out, err) = text(&plain);
    assert_eq!(plain.status.code(), Some(0), "{out}{err}");
    assert!(!out.contains(ESC) && !err.contains(ESC), "{out:?}\n{err:?}");
    assert!(err.contains("DEBUG"), "no log lines on stderr:\n{err}");

    for forced in [
        with(&[("CLICOLOR_FORCE", "1")]),
        with(&[("CLICOLOR_FORCE", "1"), ("IMMUTA_GITOPS_COLOR", "always")]),
    ] {
        let run = reconcile(&url, "--plan", &repo, &log, &forced).await;
        let (out, err) = text(&run);
        assert!(out.contains(&format!("{ESC}[32m+{ESC}[0m ")), "{out:?}");
        assert!(err.contains("DEBUG"), "{err}");
        assert!(!err.contains(ESC), "piped logs were coloured:\n{err:?}");
    }
    let mut always: Vec<&str> = log.to_vec();
    always.extend(["--color", "always"]);
    let run = reconcile(&url, "--plan", &repo, &always, &with(&[("NO_COLOR", "1")])).await;
    assert!(
        text(&run).0.contains(&format!("{ESC}[1mPlan: ")),
        "{:?}",
        text(&run).0
    );

    for off in [
        with(&[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]),
        with(&[("CLICOLOR_FORCE", "1"), ("IMMUTA_GITOPS_COLOR", "never")]),
    ] {
        let run = reconcile(&url, "--plan", &repo, &log, &off).await;
        let (out, err) = text(&run);
        assert!(!out.contains(ESC) && !err.contains(ESC), "{out:?}\n{err:?}");
    }

    // --apply with stdin, stdout and stderr piped: no question, straight to the apply,
    // each object's line printed, no progress drawn.
    let apply = reconcile(&url, "--apply", &repo, &[], &with(&[])).await;
    let (out, err) = text(&apply);
    assert_eq!(apply.status.code(), Some(0), "{out}{err}");
    assert!(
        !out.contains("Enter a value") && !err.contains("Enter a value"),
        "{out}{err}"
    );
    assert!(
        out.contains("  ✓ ") && out.contains("Apply complete!"),
        "{out}"
    );
    assert!(
        !err.contains("Applied ") && !err.contains("Read the live state"),
        "{err}"
    );
    assert!(!out.contains(ESC) && !err.contains(ESC), "{out:?}\n{err:?}");
}

/// `--color` is accepted by every command, before or after the subcommand.
#[tokio::test]
async fn issue_14_every_command_takes_color() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = write_tree(
        tmp.path(),
        "repo",
        &[("purpose/p.yaml", "name: P\ndescription: x\n")],
    );
    let dir = dir.to_string_lossy();
    for args in [
        vec!["--color", "never", "validate", &dir],
        vec!["validate", "--color=always", &dir],
        vec!["reconcile", "--help", "--color", "auto"],
        vec!["apply", "--help", "--color", "never"],
        vec!["run", "--help", "--color", "never"],
        vec!["emulator", "--help", "--color", "never"],
        vec!["demo", "--help", "--color", "never"],
    ] {
        let out = run(&args, &[]).await;
        assert_eq!(out.status.code(), Some(0), "{args:?}: {:?}", text(&out));
    }
    let bad = run(&["--color", "sometimes", "validate", &dir], &[]).await;
    assert_eq!(bad.status.code(), Some(2), "{:?}", text(&bad));
}

/// The daemon's text logs: coloured on a terminal, plain when piped even with
/// `CLICOLOR_FORCE=1` and `--color always` (what `kubectl logs` and CI logs read); on
/// a terminal it applies without a prompt.
#[tokio::test(flavor = "multi_thread")]
async fn issue_14_daemon_text_logs_are_coloured_only_on_a_terminal() {
    let tenant = DemoTenant::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let args = daemon_args(&tenant, tmp.path());

    // Piped, colour forced every way: plain lines.
    let mut forced = args.clone();
    forced.extend(["--color".to_string(), "always".to_string()]);
    let env = tenant_env(&tenant, &[("CLICOLOR_FORCE", "1")]);
    let log = piped_daemon_log(&forced, &env).await;
    assert!(
        log.contains("daemon started") && log.contains("applied"),
        "{log}"
    );
    assert!(
        !log.contains(ESC),
        "piped daemon logs were coloured:\n{log:?}"
    );

    // On a terminal (a fresh tenant, so there is something to apply): coloured (the
    // level at least), and the first cycle applies without asking anything.
    let tenant = DemoTenant::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let args = daemon_args(&tenant, tmp.path());
    let before = real_writes(&tenant.emu);
    let env = tenant_env(&tenant, &[]);
    let tty = tokio::task::spawn_blocking(move || {
        use expectrl::Expect;
        let mut s = expectrl::Session::spawn(pty::command(&args, &env)).expect("spawn under a pty");
        s.set_expect_timeout(Some(pty::PTY_TIMEOUT));
        let found = s.expect("cycle done").expect("the first cycle ends");
        let seen = String::from_utf8_lossy(found.as_bytes()).into_owned();
        let _ = s.get_process_mut().exit(true);
        seen
    })
    .await
    .unwrap();
    assert!(tty.contains(ESC), "no colour on a terminal:\n{tty:?}");
    assert!(tty.contains("applied"), "{tty}");
    assert!(!tty.contains("Enter a value"), "{tty}");
    assert!(
        real_writes(&tenant.emu) > before,
        "the daemon did not apply:\n{tty}"
    );
}

/// `run` against `tenant`, with its state and cache directories under `dir`.
fn daemon_args(tenant: &DemoTenant, dir: &std::path::Path) -> Vec<String> {
    let (state, cache) = (dir.join("state"), dir.join("cache"));
    std::fs::create_dir_all(&state).unwrap();
    [
        "run",
        "--listen",
        "127.0.0.1:0",
        "--interval",
        "1h",
        "--repo",
        &tenant.repo.url(),
        "--immuta-url",
        &tenant.emu.url(),
        "--state-dir",
        &state.to_string_lossy(),
        "--cache-dir",
        &cache.to_string_lossy(),
    ]
    .iter()
    .map(ToString::to_string)
    .collect()
}

/// Starts the daemon with stderr piped, reads its log until the first `cycle done`,
/// stops it.
async fn piped_daemon_log(args: &[String], env: &[(String, String)]) -> String {
    use tokio::io::AsyncBufReadExt;
    let mut cmd: tokio::process::Command = pty::command(args, env).into();
    cmd.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().unwrap();
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let mut log = String::new();
    let read = async {
        while let Ok(Some(line)) = lines.next_line().await {
            log.push_str(&line);
            log.push('\n');
            if line.contains("cycle done") {
                break;
            }
        }
    };
    tokio::time::timeout(pty::PTY_TIMEOUT, read)
        .await
        .expect("the first cycle ends");
    let _ = child.kill().await;
    log
}
