//! What the plan covers and says (issue 14): references checked before any write,
//! `--target`, drift since the last apply, and the plan and apply as JSON log events.

use crate::commands::{run_in, PURPOSES};
use crate::common::{emulator, real_writes, text, write_tree, KEY};

/// A project naming a purpose or data source that neither Git nor the tenant has is
/// refused at plan time, at the line the name is written on, before any write; names
/// only the tenant's data-source list knows resolve.
#[tokio::test(flavor = "multi_thread")]
async fn unknown_references_are_plan_errors_before_any_write() {
    let root = crate::common::root();
    let emu = emulator(Some(&root.join("examples/demo/live"))).await;
    let tmp = tempfile::tempdir().unwrap();
    let project = "projectKey: p\nname: P\nsubscriptionPolicy:\n  type: anyone\npurposes:\n  - Fraud Detection\n  - Git Purpose.Sub\n  - Nowhere Purpose\ndatasources:\n  - Billing Invoices\n  - Billing Payer Contracts\n  - Nowhere Table\n";
    let files = [
        (
            "purpose/g.yaml",
            "name: Git Purpose\nsubpurposes:\n  - name: Git Purpose.Sub\n",
        ),
        ("purpose/n.yaml", "name: New\n"),
        ("project/p.yaml", project),
    ];
    let dir = write_tree(tmp.path(), "repo", &files);
    let out =
        crate::common::reconcile(&emu.url(), "--apply", &dir.to_string_lossy(), &[], &[]).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert_eq!(
        stderr,
        "error: 2 invalid manifest(s):\n\
         project/p.yaml:8:5: project p: purpose \"Nowhere Purpose\" exists neither in Git (purpose/) nor in Immuta; nothing was written\n\
         project/p.yaml:12:5: project p: data source \"Nowhere Table\" exists neither in Git (a data/ connection) nor in Immuta; nothing was written\n"
    );
    assert_eq!(
        real_writes(&emu),
        0,
        "nothing written, not even the new purpose"
    );

    let fixed = project
        .replace("  - Nowhere Purpose\n", "")
        .replace("  - Nowhere Table\n", "");
    let dir = write_tree(
        tmp.path(),
        "fixed",
        &[files[0], files[1], ("project/p.yaml", &fixed)],
    );
    let out =
        crate::common::reconcile(&emu.url(), "--apply", &dir.to_string_lossy(), &[], &[]).await;
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    assert!(real_writes(&emu) >= 3);
}

/// `--target`: only the targeted objects and their dependencies are planned and applied,
/// with the partial-plan warning; a delete happens only for a key a pattern names.
#[tokio::test(flavor = "multi_thread")]
async fn target_plans_and_applies_only_the_targets_and_their_dependencies() {
    let emu = emulator(None).await;
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let state = state.to_string_lossy();
    let purpose = |name: &str, d: &str| format!("name: {name}\ndescription: {d}\n");
    // One source (the inventory belongs to it), rewritten between revisions.
    let v1 = write_tree(
        tmp.path(),
        "repo",
        &[
            ("purpose/a.yaml", &purpose("Alpha", "a")),
            ("purpose/b.yaml", &purpose("Beta", "b")),
            ("purpose/g.yaml", &purpose("Gamma", "g")),
        ],
    );
    let go = |dir: std::path::PathBuf, mode: &'static str, extra: Vec<String>| {
        let url = emu.url();
        let state = state.to_string();
        async move {
            let mut args: Vec<&str> = vec!["--state-dir", &state];
            args.extend(extra.iter().map(String::as_str));
            crate::common::reconcile(&url, mode, &dir.to_string_lossy(), &args, &[]).await
        }
    };
    let out = go(v1, "--apply", vec![]).await;
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    assert_eq!(real_writes(&emu), 3);

    let project =
        "projectKey: p\nname: P\nsubscriptionPolicy:\n  type: anyone\npurposes:\n  - Delta\n";
    std::fs::remove_dir_all(tmp.path().join("repo")).unwrap();
    let v2 = write_tree(
        tmp.path(),
        "repo",
        &[
            ("purpose/a.yaml", &purpose("Alpha", "a")),
            ("purpose/b.yaml", &purpose("Beta", "changed")),
            ("purpose/d.yaml", &purpose("Delta", "d")),
            ("project/p.yaml", project),
        ],
    );
    let args = |t: &[&str]| -> Vec<String> {
        let mut v = vec!["--prune".to_string()];
        for p in t {
            v.push("--target".into());
            v.push((*p).into());
        }
        v
    };
    let out = go(v2.clone(), "--plan", args(&["project/p"])).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("+ project/p will be created"), "{stdout}");
    assert!(
        stdout.contains("+ purpose/Delta will be created"),
        "a dependency: {stdout}"
    );
    assert!(
        !stdout.contains("Beta") && !stdout.contains("Gamma"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Plan: 2 to add, 0 to change, 0 to destroy."),
        "{stdout}"
    );
    assert!(
        stderr.contains("warning: resource targeting is in effect (project/p): this plan covers only the targeted objects"),
        "{stderr}"
    );

    let out = go(v2.clone(), "--apply", args(&["project/p"])).await;
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    assert_eq!(real_writes(&emu), 5, "project and purpose only");

    // A glob names the delete; Beta's update stays out of the plan.
    let out = go(v2.clone(), "--apply", args(&["purpose/G*", "policy/none"])).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("- purpose/Gamma will be destroyed"),
        "{stdout}"
    );
    assert!(!stdout.contains("Beta"), "{stdout}");
    assert!(
        stderr.contains("warning: --target policy/none matches no object"),
        "{stderr}"
    );
    assert_eq!(real_writes(&emu), 6, "{stdout}\n{stderr}");

    // Without targets only Beta's update is left; Alpha (in scope of nothing so far) is
    // unchanged, nothing else is planned.
    let out = go(
        v2,
        "--plan",
        vec!["--prune".into(), "--detailed-exitcode".into()],
    )
    .await;
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    assert!(
        stdout.contains("Plan: 0 to add, 1 to change, 0 to destroy."),
        "{stdout}"
    );

    // A plan saved with --target is re-made with the same cut when applied.
    let file = tmp.path().join("beta.json");
    let mut extra = args(&["purpose/Beta"]);
    extra.extend(["--out".to_string(), file.to_string_lossy().into_owned()]);
    let out = go(tmp.path().join("repo"), "--plan", extra).await;
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    let out = run_in(
        tmp.path(),
        &[
            "apply",
            &file.to_string_lossy(),
            "--immuta-url",
            &emu.url(),
            "--state-dir",
            &state,
            "--detailed-exitcode",
        ],
        &[],
    )
    .await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("resource targeting is in effect (purpose/Beta)"),
        "{stderr}"
    );
    assert_eq!(real_writes(&emu), 7);

    let bad = go(tmp.path().join("repo"), "--plan", args(&["policies/x"])).await;
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        text(&bad)
            .1
            .contains("--target \"policies/x\": unknown kind"),
        "{:?}",
        text(&bad)
    );
}

/// `reconcile --log-format json`: the plan as structured events (one `plan` event with
/// the counts, one `change` per object) and each applied object logged once, with the
/// JSON plan's action words.
#[tokio::test(flavor = "multi_thread")]
async fn reconcile_logs_the_plan_and_the_apply_as_json_events() {
    let emu = emulator(None).await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = write_tree(tmp.path(), "repo", PURPOSES);
    let out = crate::common::reconcile(
        &emu.url(),
        "--apply",
        &dir.to_string_lossy(),
        &["--log-format", "json"],
        &[],
    )
    .await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("Plan: 2 to add"),
        "the plan is still printed: {stdout}"
    );
    let events: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let named = |m: &str| -> Vec<&serde_json::Value> {
        events.iter().filter(|e| e["message"] == m).collect()
    };
    let plan = named("plan");
    assert_eq!(plan.len(), 1, "{stderr}");
    assert_eq!(
        (
            plan[0]["add"].as_u64(),
            plan[0]["change"].as_u64(),
            plan[0]["destroy"].as_u64()
        ),
        (Some(2), Some(0), Some(0))
    );
    let changes: Vec<(String, String)> = named("change")
        .iter()
        .map(|e| {
            (
                e["key"].as_str().unwrap().into(),
                e["action"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        changes,
        [
            ("purpose/Alpha".into(), "create".into()),
            ("purpose/Beta".into(), "create".into())
        ]
    );
    let mut applied: Vec<(String, String)> = named("applied")
        .iter()
        .map(|e| {
            (
                e["key"].as_str().unwrap().into(),
                e["action"].as_str().unwrap().into(),
            )
        })
        .collect();
    applied.sort();
    assert_eq!(applied, changes, "each applied object once: {stderr}");
    assert!(
        !stderr.contains("will be created"),
        "no multi-line plan text in the log"
    );
}

/// The one-shot plan names, in its own section, the objects the tenant changed while
/// Git did not since the last apply, apart from the objects Git changed.
#[tokio::test(flavor = "multi_thread")]
async fn drift_since_the_last_apply_has_its_own_section() {
    let emu = emulator(None).await;
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let state = state.to_string_lossy().into_owned();
    let purpose = |name: &str, d: &str| format!("name: {name}\ndescription: {d}\n");
    let files = |alpha: &str| {
        vec![
            ("purpose/a.yaml".to_string(), purpose("Alpha", alpha)),
            ("purpose/b.yaml".to_string(), purpose("Beta", "b")),
            ("purpose/c.yaml".to_string(), purpose("Gamma", "c")),
        ]
    };
    let write = |alpha: &str| {
        let owned = files(alpha);
        let refs: Vec<(&str, &str)> = owned
            .iter()
            .map(|(p, c)| (p.as_str(), c.as_str()))
            .collect();
        write_tree(tmp.path(), "repo", &refs)
    };
    let dir = write("a");
    let go = |mode: &'static str| {
        let (url, dir, state) = (emu.url(), dir.clone(), state.clone());
        async move {
            crate::common::reconcile(
                &url,
                mode,
                &dir.to_string_lossy(),
                &["--state-dir", &state],
                &[],
            )
            .await
        }
    };
    let out = go("--apply").await;
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    let records = std::fs::read_to_string(tmp.path().join("state/objects.json")).unwrap();
    assert!(records.contains("purpose/Beta"), "{records}");

    // Someone edits Beta in Immuta; Git changes Alpha.
    let edit = reqwest::Client::new()
        .post(format!("{}/api/v2/purpose", emu.url()))
        .header("Authorization", KEY)
        .json(&serde_json::json!({"name": "Beta", "description": "edited in the UI"}))
        .send()
        .await
        .unwrap();
    assert!(edit.status().is_success());
    write("changed in Git");
    let out = go("--plan").await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("~ purpose/Alpha will be updated in place"),
        "{stdout}"
    );
    let section = stdout
        .split("Objects changed outside Git since the last apply (applying reverts these edits):\n")
        .nth(1)
        .unwrap_or_else(|| panic!("no drift section: {stdout}"));
    let lines: Vec<&str> = section.lines().collect();
    assert_eq!(lines.len(), 1, "{section}");
    assert!(
        lines[0].starts_with("  ~ purpose/Beta: last applied at dir:"),
        "{section}"
    );
    assert!(
        lines[0].ends_with(", edited in Immuta since; it will be set back to Git"),
        "{section}"
    );

    // Once applied, nothing is drift any more.
    assert_eq!(go("--apply").await.status.code(), Some(0));
    let out = go("--plan").await;
    assert!(
        !text(&out).0.contains("Objects changed outside Git"),
        "{:?}",
        text(&out)
    );
}
