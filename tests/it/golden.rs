//! Golden files pin the user-visible text: the demo plan and the validation errors.
//! Run with `UPDATE_GOLDEN=1 cargo test --test it golden::` to accept a deliberate change.

use crate::common;

use common::*;

#[tokio::test(flavor = "multi_thread")]
async fn demo_plan_text() {
    let root = root();
    let emu = emulator(Some(&root.join("examples/demo/live"))).await;
    let tmp = tempfile::tempdir().unwrap();
    let repo = git_repo(&root.join("examples/demo/desired"), tmp.path());
    let out = reconcile(&emu.url(), "--plan", &repo, &[], &demo_env()).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_golden("demo-plan.txt", &redact_run(&stdout, &repo));
}

#[tokio::test(flavor = "multi_thread")]
async fn validation_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = write_tree(
        tmp.path(),
        "repo",
        &[
            ("purpose/a.yaml", "name: A\ndescription: [1, 2]\n"),
            ("policy/b.yaml", "policyKey: b\nname: B\ntype: nope\nactions: {type: anyone}\n"),
            ("policy/c.yaml", "policyKey: c\nname: C\ntype: subscription\nactions:\n  type: anyone\ncircumstanceOperator: sometimes\n"),
            ("project/p.yaml", "projectKey: p\nname: P\nallowMaskedJoins: \"yes\"\nsubscriptionPolicy:\n  type: everyone\n"),
            ("projects/x.yaml", "projectKey: x\nname: X\n"),
            ("data/d.yaml", "connectionKey: d\nconnection:\n  handler: Snowflake\n  hostname: h\n  database: DB\n  password: '{{EnvVar \"GOLDEN_UNSET_VAR\"}}'\n"),
        ],
    );
    let out = run(&["validate", &dir.to_string_lossy()], &[]).await;
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert_golden("validate-errors.txt", &stdout);
}
