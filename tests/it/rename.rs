//! Issue 13, renames: `moved:` in `.immuta-gitops.yaml` renames a policy through the
//! documented `PUT /policy/global/{id}`, keeping its id, instead of deleting and
//! creating it; the inventory follows the rename, and prune never deletes the old key.
//! Keys no documented call can rename (projects, connection keys) are refused with the
//! alternative spelled out, and nothing is written.

use std::path::Path;
use std::process::Output;

use immuta_emulator::Handle;
use serde_json::Value;

use crate::common::*;

const POLICY: &str = "policyKey: KEY\nname: Mask Billing\ntype: subscription\nactions:\n  type: anyone\n  description: DESC\n";
const PROJECT: &str = "projectKey: KEY\nname: Claims Review\ndescription: case work\n";

fn policy(key: &str, description: &str) -> String {
    POLICY.replace("KEY", key).replace("DESC", description)
}

async fn get(url: &str, path: &str) -> Value {
    reqwest::Client::new()
        .get(format!("{url}{path}"))
        .header("Authorization", KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// `policyKey → id` of every policy the tenant lists.
async fn policy_ids(url: &str) -> Vec<(String, u64)> {
    let list = get(url, "/policy/global?size=1000").await;
    let mut out: Vec<(String, u64)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["policyKey"].as_str().unwrap().to_string(),
                p["id"].as_u64().unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

/// `reconcile <mode>` of `repo` against `emu`, keeping state in `state` (plus `extra`).
async fn reconcile_with_state(
    emu: &Handle,
    mode: &str,
    repo: &(impl AsRef<Path> + ?Sized),
    state: &str,
    extra: &[&str],
) -> Output {
    let mut args = vec!["--state-dir", state];
    args.extend_from_slice(extra);
    let repo = repo.as_ref().to_string_lossy();
    reconcile(&emu.url(), mode, &repo, &args, &[]).await
}

fn inventory(state: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(state.join("inventory.json")).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn issue_13_a_renamed_policy_keeps_its_id_and_the_inventory_follows() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let state_s = state.to_string_lossy().to_string();
    let emu = emulator(None).await;
    let before = write_tree(
        tmp.path(),
        "repo",
        &[
            ("policy/p.yaml", &policy("old-key", "d")),
            ("purpose/p.yaml", "name: Billing\n"),
        ],
    );
    let first = reconcile_with_state(&emu, "--apply", &before, &state_s, &[]).await;
    assert_eq!(first.status.code(), Some(0), "{:?}", text(&first));
    let old_id = policy_ids(&emu.url())
        .await
        .into_iter()
        .find(|(k, _)| k == "old-key")
        .unwrap()
        .1;

    let after = write_tree(
        tmp.path(),
        "repo",
        &[
            ("policy/p.yaml", &policy("new-key", "changed")),
            ("purpose/p.yaml", "name: Billing\n"),
            (
                ".immuta-gitops.yaml",
                "moved:\n  - from: policy/old-key\n    to: policy/new-key\n",
            ),
        ],
    );
    let repo = after.to_string_lossy().to_string();
    let plan = reconcile_with_state(&emu, "--plan", &repo, &state_s, &["--prune"]).await;
    let (out, err) = text(&plan);
    assert_eq!(plan.status.code(), Some(0), "{out}\n{err}");
    assert!(
        out.contains("~ policy/old-key \u{2192} policy/new-key will be renamed"),
        "{out}"
    );
    assert!(
        out.contains("~ actions.description: \"d\" -> \"changed\""),
        "{out}"
    );
    assert!(
        out.contains("Plan: 0 to add, 1 to change, 0 to destroy."),
        "{out}"
    );
    assert!(
        !out.contains("will be destroyed") && !out.contains("will be created"),
        "{out}"
    );

    let writes = real_writes(&emu);
    let apply = reconcile_with_state(&emu, "--apply", &repo, &state_s, &["--prune"]).await;
    let (aout, aerr) = text(&apply);
    assert_eq!(apply.status.code(), Some(0), "{aout}\n{aerr}");
    // One PUT (the rename) and one POST (the description), no delete, no create.
    let new_writes: Vec<(String, String, String)> =
        real_write_records(&emu).into_iter().skip(writes).collect();
    let methods: Vec<&str> = new_writes.iter().map(|w| w.0.as_str()).collect();
    assert_eq!(methods, ["PUT", "POST"], "{new_writes:#?}");
    let ids = policy_ids(&emu.url()).await;
    assert!(ids.contains(&("new-key".to_string(), old_id)), "{ids:?}");
    assert!(!ids.iter().any(|(k, _)| k == "old-key"), "{ids:?}");

    let again = reconcile_with_state(&emu, "--plan", &repo, &state_s, &[]).await;
    let (gout, gerr) = text(&again);
    assert!(gout.contains("No changes."), "{gout}\n{gerr}");
    // The inventory was trusted (same source) and follows the rename.
    assert!(!aerr.contains("prune disabled"), "{aerr}");
    let keys = inventory(&state)["keys"].to_string();
    assert!(
        keys.contains("new-key") && !keys.contains("old-key"),
        "{keys}"
    );
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn issue_13_keys_without_a_documented_rename_are_refused_and_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let state_s = state.to_string_lossy().to_string();
    let emu = emulator(None).await;
    let before = write_tree(
        tmp.path(),
        "repo",
        &[("project/p.yaml", &PROJECT.replace("KEY", "claims-old"))],
    );
    let first = reconcile_with_state(&emu, "--apply", &before, &state_s, &[]).await;
    assert_eq!(first.status.code(), Some(0), "{:?}", text(&first));
    let hits = get(&emu.url(), "/project?size=100").await;
    let id = hits["hits"][0]["id"].as_u64().unwrap();

    let after = write_tree(
        tmp.path(),
        "repo",
        &[
            ("project/p.yaml", &PROJECT.replace("KEY", "claims-new")),
            (
                ".immuta-gitops.yaml",
                "moved:\n  - {from: project/claims-old, to: project/claims-new}\n  - {from: data/old-connection, to: data/new-connection}\n",
            ),
            (
                "data/d.yaml",
                "connectionKey: new-connection\nconnection:\n  handler: Snowflake\n  hostname: acme.snowflakecomputing.com\n  port: 443\n  database: CLAIMS\n  warehouse: WH\n  authenticationMethod: userPassword\n  username: svc\n  password: not-a-real-one\nsources:\n  - schema: PUBLIC\n    table: CLAIMS\n",
            ),
        ],
    );
    let writes = real_writes(&emu);
    for mode in ["--plan", "--apply"] {
        let run = reconcile_with_state(&emu, mode, &after, &state_s, &["--prune"]).await;
        let (out, err) = text(&run);
        assert_eq!(run.status.code(), Some(1), "{mode}: {out}\n{err}");
        assert!(
            out.contains("! project/claims-old \u{2192} project/claims-new will NOT be renamed"),
            "{out}"
        );
        assert!(
            out.contains("no documented call renames a project key"),
            "{out}"
        );
        assert!(
            out.contains("delete + create instead would disable the old project"),
            "{out}"
        );
        assert!(
            out.contains("no documented call renames a connection key"),
            "{out}"
        );
        // The old project is neither deleted nor listed as a prune candidate.
        assert!(!out.contains("will be destroyed"), "{out}");
    }
    assert_eq!(real_writes(&emu), writes, "a refused rename writes nothing");
    let project = get(&emu.url(), &format!("/project/{id}")).await;
    assert_eq!(project["projectKey"], "claims-old");
    assert_eq!(project["deleted"], false);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn issue_13_a_move_that_does_not_match_the_source_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let emu = emulator(None).await;
    for (settings, want) in [
        (
            "moved:\n  - {from: policy/a, to: policy/missing}\n",
            "policy/missing is not in the source",
        ),
        (
            "moved:\n  - {from: policy/a, to: project/a}\n",
            "an object cannot change its kind",
        ),
        (
            "moved:\n  - {from: policies/a, to: policy/b}\n",
            ".immuta-gitops.yaml:",
        ),
    ] {
        let dir = write_tree(
            tmp.path(),
            &format!("r{}", want.len()),
            &[
                ("policy/p.yaml", &policy("b", "d")),
                (".immuta-gitops.yaml", settings),
            ],
        );
        let run = reconcile(&emu.url(), "--plan", &dir.to_string_lossy(), &[], &[]).await;
        let (out, err) = text(&run);
        assert_eq!(run.status.code(), Some(1), "{out}\n{err}");
        assert!(err.contains(want), "{want}: {err}");
    }
    assert_eq!(real_writes(&emu), 0);
    emu.shutdown().await;
}
