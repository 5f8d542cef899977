//! Issue 13, `adopt`: objects that exist in Immuta and in Git, but that this tool never
//! applied, are recorded in the inventory so prune may delete them once they leave Git —
//! and only those: an object that was not adopted is never deleted.

use std::path::Path;

use crate::common::*;

fn policy(key: &str, description: &str) -> String {
    format!("policyKey: {key}\nname: {key}\ntype: subscription\nactions:\n  type: anyone\n  description: {description}\n")
}

async fn adopt(url: &str, repo: &Path, state: &Path, extra: &[&str]) -> std::process::Output {
    let (repo, state) = (repo.to_string_lossy(), state.to_string_lossy());
    let mut args = vec![
        "adopt",
        "--repo",
        repo.as_ref(),
        "--state-dir",
        state.as_ref(),
        "--immuta-url",
        url,
    ];
    args.extend_from_slice(extra);
    run(&args, &[("IMMUTA_API_KEY", KEY)]).await
}

#[tokio::test(flavor = "multi_thread")]
async fn issue_13_adopt_then_prune_deletes_the_adopted_object_only() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    // Made by hand in Immuta: three policies, one of them different from Git.
    let seed = write_tree(
        tmp.path(),
        "seed",
        &[
            ("policy/a.yaml", &policy("adopted", "x")),
            ("policy/b.yaml", &policy("not-adopted", "x")),
            ("policy/c.yaml", &policy("drifted", "in Immuta")),
        ],
    );
    let emu = emulator(Some(&seed)).await;
    let repo = write_tree(
        tmp.path(),
        "repo",
        &[
            ("policy/a.yaml", &policy("adopted", "x")),
            ("policy/b.yaml", &policy("not-adopted", "x")),
            ("policy/c.yaml", &policy("drifted", "in Git")),
            ("purpose/p.yaml", "name: Kept\n"),
        ],
    );

    // A named object that differs from Git is shown and refused without --force.
    let out = adopt(
        &emu.url(),
        &repo,
        &state,
        &["policy/adopted", "policy/drifted"],
    )
    .await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("~ policy/drifted will be updated in place"),
        "{stdout}"
    );
    assert!(stdout.contains("\"in Immuta\" -> \"in Git\""), "{stdout}");
    assert!(stdout.contains("+ policy/adopted adopted"), "{stdout}");
    assert!(stderr.contains("policy/drifted not adopted"), "{stderr}");
    // An object that is not in Immuta cannot be adopted.
    let out = adopt(&emu.url(), &repo, &state, &["purpose/Kept"]).await;
    assert_eq!(out.status.code(), Some(1), "{:?}", text(&out));
    assert!(
        text(&out).1.contains("does not exist in Immuta"),
        "{:?}",
        text(&out)
    );
    // Adopting writes nothing to Immuta.
    assert_eq!(real_writes(&emu), 0);
    let inv = std::fs::read_to_string(state.join("inventory.json")).unwrap();
    assert!(
        inv.contains("adopted") && !inv.contains("not-adopted"),
        "{inv}"
    );

    // Both policies leave Git; prune deletes the adopted one and leaves the other alone.
    std::fs::remove_file(repo.join("policy/a.yaml")).unwrap();
    std::fs::remove_file(repo.join("policy/b.yaml")).unwrap();
    std::fs::remove_file(repo.join("policy/c.yaml")).unwrap();
    let state_s = state.to_string_lossy().to_string();
    let apply = reconcile(
        &emu.url(),
        "--apply",
        &repo.to_string_lossy(),
        &["--state-dir", &state_s, "--prune", "--allow-empty"],
        &[],
    )
    .await;
    let (aout, aerr) = text(&apply);
    assert_eq!(apply.status.code(), Some(0), "{aout}\n{aerr}");
    assert!(
        aout.contains("- policy/adopted will be destroyed"),
        "{aout}"
    );
    assert!(
        aout.contains("? policy/not-adopted exists in Immuta"),
        "{aout}"
    );
    assert!(aout.contains("? policy/drifted exists in Immuta"), "{aout}");
    let deletes: Vec<String> = real_write_records(&emu)
        .into_iter()
        .filter(|w| w.0 == "DELETE")
        .map(|w| w.2)
        .collect();
    assert_eq!(deletes, ["adopted"]);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn issue_13_adopt_all_with_force_takes_drifted_objects_too() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let seed = write_tree(
        tmp.path(),
        "seed",
        &[
            ("policy/a.yaml", &policy("same", "x")),
            ("policy/c.yaml", &policy("drifted", "in Immuta")),
        ],
    );
    let emu = emulator(Some(&seed)).await;
    let repo = write_tree(
        tmp.path(),
        "repo",
        &[
            ("policy/a.yaml", &policy("same", "x")),
            ("policy/c.yaml", &policy("drifted", "in Git")),
            ("purpose/p.yaml", "name: Not Yet Created\n"),
        ],
    );
    let out = adopt(&emu.url(), &repo, &state, &["--all"]).await;
    let (stdout, stderr) = text(&out);
    // Without --force the drifted one is refused (exit 1); the others are adopted, and a
    // source object missing from Immuta is only a note with --all.
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("+ policy/same adopted"), "{stdout}");
    assert!(
        stderr.contains("note: purpose/Not Yet Created not adopted"),
        "{stderr}"
    );
    let out = adopt(&emu.url(), &repo, &state, &["--all", "--force"]).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("+ policy/drifted adopted"), "{stdout}");
    assert!(stdout.contains("policy/same already managed"), "{stdout}");
    assert_eq!(real_writes(&emu), 0);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn issue_13_adopt_never_replaces_an_inventory_it_cannot_trust() {
    let tmp = tempfile::tempdir().unwrap();
    let seed = write_tree(tmp.path(), "seed", &[("policy/a.yaml", &policy("a", "x"))]);
    let emu = emulator(Some(&seed)).await;
    let repo = write_tree(tmp.path(), "repo", &[("policy/a.yaml", &policy("a", "x"))]);
    let other = write_tree(tmp.path(), "other", &[("policy/a.yaml", &policy("a", "x"))]);

    // A corrupt inventory stays as it is.
    let state = tmp.path().join("corrupt");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(state.join("inventory.json"), "{not json").unwrap();
    let out = adopt(&emu.url(), &repo, &state, &["--all"]).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stderr.contains("adopt never replaces it"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(state.join("inventory.json")).unwrap(),
        "{not json"
    );

    // Another source's inventory stays as it is.
    let state = tmp.path().join("foreign");
    let first = adopt(&emu.url(), &other, &state, &["policy/a"]).await;
    assert_eq!(first.status.code(), Some(0), "{:?}", text(&first));
    let before = std::fs::read_to_string(state.join("inventory.json")).unwrap();
    let out = adopt(&emu.url(), &repo, &state, &["policy/a"]).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stderr.contains("is not this source's"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(state.join("inventory.json")).unwrap(),
        before
    );
    emu.shutdown().await;
}
