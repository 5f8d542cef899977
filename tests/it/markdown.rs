//! `reconcile --plan --output markdown` renders the demo plan as a pull-request comment:
//! summary line first, one collapsible section per kind, no secrets.

use crate::common;

use common::*;

#[tokio::test(flavor = "multi_thread")]
async fn demo_plan_renders_as_a_pull_request_comment() {
    let root = root();
    let emu = emulator(Some(&root.join("examples/demo/live"))).await;
    let tmp = tempfile::tempdir().unwrap();
    let repo = git_repo(&root.join("examples/demo/desired"), tmp.path());
    let secret = "md-secret-value-71c3";
    let env = [
        ("SNOWFLAKE_PASSWORD", secret),
        ("DATABRICKS_TOKEN", secret),
        ("REDSHIFT_PASSWORD", secret),
    ];
    let out = reconcile(
        &emu.url(),
        "--plan",
        &repo,
        &["--output", "markdown", "--detailed-exitcode"],
        &env,
    )
    .await;
    let (md, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{md}\n{stderr}");

    let first = md.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("**Plan: 3 to add, "),
        "summary must come first:\n{md}"
    );
    for kind in ["purpose", "data", "policy", "project"] {
        assert!(
            md.contains(&format!("<details><summary><b>{kind}</b>: ")),
            "no {kind} section:\n{md}"
        );
    }
    assert_eq!(
        md.matches("<details>").count(),
        md.matches("</details>").count()
    );
    assert_eq!(md.matches("```diff").count(), 4, "{md}");
    assert!(
        md.contains("+ policy/mask-provider-npi will be created"),
        "{md}"
    );
    assert!(
        md.contains("! policy/mask-ssn will be updated in place"),
        "{md}"
    );
    // Atlantis' format: inside the diff blocks every marker is in column one, so GitHub
    // colours every changed line, not only the headings.
    let mut in_diff = false;
    let mut marked = 0;
    for line in md.lines() {
        match line {
            "```diff" => in_diff = true,
            "```" => in_diff = false,
            l if in_diff => {
                let body = l.trim_start();
                let indented_marker = l.len() != body.len()
                    && ["+ ", "- ", "~ ", "! "].iter().any(|m| body.starts_with(m));
                assert!(!indented_marker, "marker not in column one: {l:?}");
                assert!(!l.starts_with('~'), "{l:?}");
                marked += usize::from(["+", "-", "!"].iter().any(|m| l.starts_with(m)));
            }
            _ => {}
        }
    }
    assert!(marked > 20, "{marked} marked lines:\n{md}");
    assert!(md.len() <= immuta_gitops::plan::comment::MAX_COMMENT_CHARS);
    assert!(
        md.contains("? policy/analyst-sandbox exists in Immuta but not in the source"),
        "{md}"
    );
    assert!(
        !md.contains(secret) && !stderr.contains(secret),
        "secret leaked"
    );
    assert!(!md.contains(KEY) && !stderr.contains(KEY), "API key leaked");
    assert_eq!(real_writes(&emu), 0);
}
