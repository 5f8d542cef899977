//! Flag values through the real binary: every duration flag refuses a value that would
//! overflow (`--interval 300000000000y`) with clap's usage error — exit 2, the flag and
//! its valid range named, never a panic — and kind-valued flags take exactly the kind
//! names (`--prune=policies` is a usage error naming the kinds).

use crate::common;

use common::*;

/// Values no duration flag can hold: past `u64` seconds, and past humantime's own range.
const HUGE: [&str; 3] = [
    "300000000000y",
    "99999999999999999999999y",
    "18446744073709551616s",
];

/// Asserts clap's usage error for `flag`: exit 2, the flag and `want` named, no panic.
fn assert_usage_error(out: &std::process::Output, flag: &str, want: &str) {
    let (stdout, stderr) = text(out);
    assert_eq!(out.status.code(), Some(2), "{flag}: {stdout}\n{stderr}");
    assert!(
        stderr.contains(flag) && stderr.contains(want),
        "{flag}: {stderr}"
    );
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "{flag}: {stderr}"
    );
}

#[tokio::test]
async fn every_duration_flag_refuses_an_overflowing_value() {
    let daemon = ["run", "--repo", "/nonexistent"];
    let reconcile = ["reconcile", "--plan", "--repo", "/nonexistent"];
    let apply = ["apply", "/nonexistent/plan.json"];
    let cases: [(&[&str], &str, &str, &str); 12] = [
        (
            &daemon,
            "--interval",
            "IMMUTA_GITOPS_INTERVAL",
            "100ms to 30days",
        ),
        (
            &daemon,
            "--drift-interval",
            "IMMUTA_GITOPS_DRIFT_INTERVAL",
            "100ms to 30days",
        ),
        (
            &daemon,
            "--grace-period",
            "IMMUTA_GITOPS_GRACE_PERIOD",
            "0s to 1h",
        ),
        (&daemon, "--debounce", "IMMUTA_GITOPS_DEBOUNCE", "0s to 1h"),
        (&daemon, "--timeout", "IMMUTA_GITOPS_TIMEOUT", "100ms to 1h"),
        (
            &daemon,
            "--retry-max-delay",
            "IMMUTA_GITOPS_RETRY_MAX_DELAY",
            "0s to 1h",
        ),
        (
            &daemon,
            "--retry-max-elapsed",
            "IMMUTA_GITOPS_RETRY_MAX_ELAPSED",
            "100ms to 1day",
        ),
        (
            &reconcile,
            "--timeout",
            "IMMUTA_GITOPS_TIMEOUT",
            "100ms to 1h",
        ),
        (
            &reconcile,
            "--retry-max-delay",
            "IMMUTA_GITOPS_RETRY_MAX_DELAY",
            "0s to 1h",
        ),
        (
            &reconcile,
            "--retry-max-elapsed",
            "IMMUTA_GITOPS_RETRY_MAX_ELAPSED",
            "100ms to 1day",
        ),
        (&apply, "--timeout", "IMMUTA_GITOPS_TIMEOUT", "100ms to 1h"),
        (&["emulator"], "--latency", "", "0s to 1h"),
    ];
    for (command, flag, env, range) in cases {
        for value in HUGE {
            let mut args = command.to_vec();
            args.extend([flag, value]);
            let out = run(&args, &[]).await;
            assert_usage_error(&out, flag, &format!("valid: {range}"));
        }
        if !env.is_empty() {
            // The environment fallback goes through the same parser.
            let out = run(command, &[(env, HUGE[0])]).await;
            assert_usage_error(&out, flag, &format!("valid: {range}"));
        }
    }
}

#[tokio::test]
async fn prune_takes_kind_names_and_refuses_others_as_a_usage_error() {
    for args in [
        &[
            "reconcile",
            "--plan",
            "--repo",
            "/nonexistent",
            "--prune=policies",
        ][..],
        &["run", "--repo", "/nonexistent", "--prune=policy,Data"],
    ] {
        let out = run(args, &[]).await;
        assert_usage_error(&out, "--prune", "expected purpose, data, policy or project");
    }
    let out = run(
        &["run", "--repo", "/nonexistent"],
        &[("IMMUTA_GITOPS_PRUNE", "policy,projects")],
    )
    .await;
    assert_usage_error(&out, "--prune", "unknown kind \"projects\"");
}
