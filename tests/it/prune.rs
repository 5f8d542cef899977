//! Prune, end to end through the real binary: only objects that were in Git at an applied
//! revision are deleted, in reverse dependency order, and only with `--prune`; hand-made
//! objects are never touched; the guards (deletion cap, empty kind, empty source) refuse
//! the whole plan; a broken source (empty, unreadable, unfetchable, unparsable) never
//! deletes or writes anything; the daemon prunes the same way from its state dir.

use crate::common;

use std::path::{Path, PathBuf};

use common::*;
use immuta_emulator::Handle;
use serde_json::{json, Value};

/// Objects removed from Git by the prune tests: one of each kind. The data source has
/// two tables, so the plan holds 5 deletions (the default cap).
const REMOVED: [&str; 4] = [
    "project/population-health-analytics.yaml",
    "policy/mask-provider-npi.yaml",
    "data/acme-redshift-finance.yaml",
    "purpose/population-health.yaml",
];

/// Prune's helpers on the shared fixture.
impl Applied {
    /// Creates a purpose directly in the tenant, the way a person would: never in Git.
    async fn hand_made_purpose(&self, name: &str) {
        let resp = reqwest::Client::new()
            .post(format!("{}/api/v2/purpose", self.emu.url()))
            .header("Authorization", KEY)
            .json(&json!({"name": name, "description": "made by hand in the UI"}))
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "{resp:?}");
    }

    /// Commits [`removed`] with one more file change in the same commit.
    fn commit_removed_and(&self, extra: (&'static str, Option<&'static str>)) {
        let mut files = removed();
        files.push(extra);
        self.repo.commit(&files);
    }
}

/// The commit that removes [`REMOVED`], and stops naming the removed data source's
/// "Billing Invoices" in the project that keeps existing (an update).
fn removed() -> Vec<(&'static str, Option<&'static str>)> {
    let project = "project/claims-fraud-review.yaml";
    let text = std::fs::read_to_string(root().join("examples/demo/desired").join(project))
        .unwrap()
        .replace("  - Billing Invoices\n", "");
    let mut files: Vec<(&str, Option<&str>)> = REMOVED.iter().map(|f| (*f, None)).collect();
    files.push((project, Some(Box::leak(text.into_boxed_str()))));
    files
}

/// Successful non-dry-run writes after the first `skip` ones.
fn writes_since(emu: &Handle, skip: usize) -> Vec<(String, String, String)> {
    real_write_records(emu).into_iter().skip(skip).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn prune_deletes_only_managed_objects_that_left_git_in_reverse_order() {
    let mut a = Applied::new().await;
    a.hand_made_purpose("Hand Made").await;
    a.repo.commit(&removed());
    let before = real_write_records(&a.emu).len();

    // Without --prune: listed as unmanaged, noted as removable, never touched.
    let off = a.reconcile("--apply", &[]).await;
    let (out, err) = text(&off);
    assert_eq!(off.status.code(), Some(0), "{out}\n{err}");
    assert!(
        out.contains(
            "? project/population-health-analytics exists in Immuta but not in the source"
        ),
        "{out}"
    );
    assert!(out.contains("? purpose/Hand Made"), "{out}");
    assert!(
        err.contains("prune: project/population-health-analytics left Git but is managed: unmanaged, would be removed with --prune"),
        "{err}"
    );
    assert!(!err.contains("purpose/Hand Made"), "{err}");
    let writes = writes_since(&a.emu, before);
    assert_eq!(
        writes,
        vec![(
            "POST".to_string(),
            "/api/v2/project".to_string(),
            "claims-fraud-review".to_string()
        )],
        "only the update is written without --prune"
    );
    let before = real_write_records(&a.emu).len();

    // The plan shows every delete, the dropped tables included.
    let plan = a
        .reconcile("--plan", &["--prune", "--output", "json"])
        .await;
    let (out, err) = text(&plan);
    assert_eq!(plan.status.code(), Some(0), "{err}");
    let doc = &json_docs(&out)[0];
    // Every data source counts: the removed connection key holds two.
    assert_eq!(doc["summary"]["destroy"], 5, "{doc:#}");
    let data = doc["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["key"]["name"] == "acme-redshift-finance")
        .unwrap();
    assert_eq!(data["action"], "delete");
    assert_eq!(data["data"]["deleting"].as_array().unwrap().len(), 2);
    let text_plan = a.reconcile("--plan", &["--prune"]).await;
    let out = text(&text_plan).0;
    assert!(
        out.contains("! - data/acme-redshift-finance will be destroyed"),
        "{out}"
    );
    assert!(
        out.contains("! - purpose/Population Health will be destroyed"),
        "{out}"
    );
    assert!(out.contains("0 to add, 0 to change, 5 to destroy"), "{out}");

    let apply = a.reconcile("--apply", &["--prune"]).await;
    let (out, err) = text(&apply);
    assert_eq!(apply.status.code(), Some(0), "{out}\n{err}");
    let writes = writes_since(&a.emu, before);
    let order: Vec<(&str, &str)> = writes
        .iter()
        .map(|(m, p, _)| (m.as_str(), p.as_str()))
        .collect();
    assert_eq!(order.len(), 4, "{writes:?}");
    assert!(order.iter().all(|(m, _)| *m == "DELETE"), "{writes:?}");
    assert_eq!(order[0].1, "/api/v2/project/population-health-analytics");
    assert!(order[1].1.starts_with("/policy/global/"), "{writes:?}");
    assert_eq!(order[2].1, "/api/v2/data/acme-redshift-finance");
    assert!(order[3].1.starts_with("/governance/purpose/"), "{writes:?}");
    // Converged; the hand-made purpose is still there and still unmanaged.
    let again = a
        .reconcile("--plan", &["--prune", "--detailed-exitcode"])
        .await;
    let (out, err) = text(&again);
    assert_eq!(again.status.code(), Some(0), "{out}\n{err}");
    assert!(out.contains("? purpose/Hand Made"), "{out}");
    let inv = a.inventory();
    assert!(!inv.contains("population-health-analytics"), "{inv}");
    assert!(inv.contains("claims-fraud-review"), "{inv}");
    a.finish();
}

#[tokio::test(flavor = "multi_thread")]
async fn hand_made_objects_are_never_deleted_even_with_every_guard_off() {
    let mut a = Applied::new().await;
    a.hand_made_purpose("Hand Made").await;
    let before = real_write_records(&a.emu).len();
    let out = a
        .reconcile(
            "--apply",
            &["--prune", "--allow-empty", "--max-deletions", "1000"],
        )
        .await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("? purpose/Hand Made"), "{stdout}");
    assert_eq!(writes_since(&a.emu, before), vec![]);
    // Also with no inventory at all (a fresh state dir): fail safe, nothing deleted.
    a.repo.commit(&removed());
    a.state = a
        .tmp
        .path()
        .join("fresh-state")
        .to_string_lossy()
        .to_string();
    let out = a.reconcile("--apply", &["--prune"]).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stderr.contains("no inventory"), "{stderr}");
    let writes = writes_since(&a.emu, before);
    assert!(writes.iter().all(|(m, _, _)| m != "DELETE"), "{writes:?}");
    a.finish();
}

#[tokio::test(flavor = "multi_thread")]
async fn more_deletions_than_the_cap_refuse_the_whole_plan() {
    let mut a = Applied::new().await;
    // An ordinary change in the same commit must not be applied either.
    a.commit_removed_and((
        "purpose/fraud-detection.yaml",
        Some("name: Fraud Detection\ndescription: changed in the same commit\n"),
    ));
    let inventory = a.inventory();
    let before = real_write_records(&a.emu).len();
    let out = a
        .reconcile("--apply", &["--prune", "--max-deletions", "4"])
        .await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("refusing a plan with 5 deletions (objects and data-source tables), more than --max-deletions 4"),
        "{stderr}"
    );
    assert_eq!(writes_since(&a.emu, before), vec![]);
    assert_eq!(a.inventory(), inventory);
    // Per kind: pruning only projects stays under the cap.
    let out = a
        .reconcile("--plan", &["--prune=project", "--max-deletions", "4"])
        .await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stdout.contains("1 to destroy"), "{stdout}");
    a.finish();
}

/// A broken source with --prune and an inventory of live objects: exit 1, zero writes,
/// the inventory untouched, and `expect` in stderr.
async fn broken(a: &mut Applied, repo: &str, extra: &[&str], expect: &str) {
    let inventory = a.inventory();
    let before = real_write_records(&a.emu).len();
    let mut flags = vec!["--prune"];
    flags.extend_from_slice(extra);
    let out = a.reconcile_repo("--apply", repo, &flags).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stderr.contains(expect), "expected {expect:?}:\n{stderr}");
    assert_eq!(writes_since(&a.emu, before), vec![], "{stdout}");
    assert_eq!(a.inventory(), inventory);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_repository_never_deletes() {
    let mut a = Applied::new().await;
    a.repo.commit(&[
        ("data", None),
        ("policy", None),
        ("project", None),
        ("purpose", None),
        ("README.md", Some("emptied by mistake\n")),
    ]);
    let url = a.repo.url();
    broken(&mut a, &url, &[], "the source holds no manifest at all").await;
    broken(
        &mut a,
        &url,
        &["--allow-empty", "--max-deletions", "1000"],
        "the source holds no manifest at all",
    )
    .await;
    a.finish();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreadable_repository_never_deletes() {
    let mut a = Applied::new().await;
    // A file where the policy directory is expected.
    a.repo
        .commit(&[("policy", None), ("policy", Some("not a directory\n"))]);
    let url = a.repo.url();
    broken(
        &mut a,
        &url,
        &[],
        "policy:1:1: policy -: expected a directory of manifests here, found a file",
    )
    .await;

    // A directory that cannot be read. Not by permissions (root reads a mode-000
    // directory anyway): its path is longer than the kernel accepts (ENAMETOOLONG), which
    // fails the same `read_dir` for every user.
    let dir = a.tmp.path().join("plain");
    a.repo.copy_to(&dir);
    let deepest = too_deep(&dir.join("project"));
    assert!(std::fs::read_dir(&deepest).is_err(), "the kernel read it");
    broken(&mut a, &dir.to_string_lossy(), &[], "project/dddd").await;
    a.finish();
}

/// Nests directories under `parent` (with `mkdirat`/`openat`, relative to the one above)
/// until the path is longer than `PATH_MAX`; returns that path.
fn too_deep(parent: &Path) -> PathBuf {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let name = "d".repeat(200);
    let c_name = CString::new(name.clone()).unwrap();
    let c_parent = CString::new(parent.as_os_str().as_bytes()).unwrap();
    let mut path = parent.to_path_buf();
    // SAFETY: plain syscalls on NUL-terminated strings; every descriptor is closed.
    unsafe {
        let mut fd = libc::open(c_parent.as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY);
        assert!(fd >= 0, "open {}", parent.display());
        while path.as_os_str().len() <= libc::PATH_MAX as usize {
            assert_eq!(libc::mkdirat(fd, c_name.as_ptr(), 0o755), 0, "mkdirat");
            let next = libc::openat(fd, c_name.as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY);
            libc::close(fd);
            assert!(next >= 0, "openat");
            fd = next;
            path.push(&name);
        }
        libc::close(fd);
    }
    path
}

#[tokio::test(flavor = "multi_thread")]
async fn a_git_fetch_failure_never_deletes() {
    let mut a = Applied::new().await;
    let missing = format!("file://{}/no-such-repo", a.tmp.path().display());
    broken(&mut a, &missing, &[], "no-such-repo").await;
    a.finish();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_manifest_that_fails_to_parse_never_deletes() {
    let mut a = Applied::new().await;
    a.commit_removed_and((
        "policy/broken.yaml",
        Some("policyKey: broken\nname: [unclosed\ntype: data\n"),
    ));
    let url = a.repo.url();
    broken(&mut a, &url, &[], "policy/broken.yaml:").await;
    a.finish();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_daemon_prunes_from_its_state_dir_and_a_refused_plan_is_a_failed_cycle() {
    let mut a = Applied::new().await;
    let key_file = a.tmp.path().join("api-key");
    std::fs::write(&key_file, KEY).unwrap();
    let key_file = key_file.to_string_lossy().to_string();
    let daemon_state = a.tmp.path().join("daemon-state");
    std::fs::create_dir_all(&daemon_state).unwrap();
    // The daemon adopts the CLI's inventory.
    std::fs::copy(
        PathBuf::from(&a.state).join("inventory.json"),
        daemon_state.join("inventory.json"),
    )
    .unwrap();
    let daemon_state = daemon_state.to_string_lossy().to_string();
    let cache = a
        .tmp
        .path()
        .join("daemon-cache")
        .to_string_lossy()
        .to_string();
    let url = a.repo.url();
    let emu_url = a.emu.url();
    let mut env: Vec<(&str, &str)> = env_refs(&a.secrets);
    env.push(("IMMUTA_GITOPS_PRUNE", "all"));
    let base = [
        "--repo",
        url.as_str(),
        "--immuta-url",
        emu_url.as_str(),
        "--api-key-file",
        key_file.as_str(),
        "--cache-dir",
        cache.as_str(),
        "--state-dir",
        daemon_state.as_str(),
    ];

    // --prune without --state-dir is a configuration error (for `reconcile` too, see
    // `prune_without_a_state_dir_is_an_error_on_every_command`).
    let bad = run(
        &["run", "--repo", &url, "--immuta-url", &emu_url, "--prune"],
        &[("IMMUTA_API_KEY", KEY)],
    )
    .await;
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        text(&bad).1.contains("--prune needs --state-dir"),
        "{:?}",
        text(&bad)
    );

    let rev = a.repo.commit(&removed());
    let before = real_write_records(&a.emu).len();
    let mut args = base.to_vec();
    args.extend(["--max-deletions", "2"]);
    let d = common::daemon_proc::DaemonChild::start(&args, &env);
    let status = d
        .wait_status("a failed cycle", |s| s["last_cycle"]["result"] == "failed")
        .await;
    let s: Value = serde_json::from_str(&status).unwrap();
    assert_eq!(s["last_cycle"]["revision"], rev.as_str());
    assert!(
        s["last_error"]
            .as_str()
            .unwrap()
            .contains("plan refused: refusing a plan with 5 deletions"),
        "{status}"
    );
    let log = d.stop();
    assert!(
        log.contains("cycle failed") && log.contains("plan refused"),
        "{log}"
    );
    assert_eq!(writes_since(&a.emu, before), vec![]);
    a.scan.add("daemon status (refused)", status);
    a.scan.add("daemon log (refused)", log);

    let d = common::daemon_proc::DaemonChild::start(&base, &env);
    let status = d
        .wait_status("the revision applied", |s| {
            s["last_applied_revision"] == rev.as_str()
        })
        .await;
    let log = d.stop();
    let writes = writes_since(&a.emu, before);
    let methods: Vec<&str> = writes.iter().map(|(m, _, _)| m.as_str()).collect();
    assert_eq!(
        methods,
        ["POST", "DELETE", "DELETE", "DELETE", "DELETE"],
        "{writes:?}\n{log}"
    );
    assert_eq!(writes[1].1, "/api/v2/project/population-health-analytics");
    assert!(
        writes[4].1.starts_with("/governance/purpose/"),
        "{writes:?}"
    );
    let inv = std::fs::read_to_string(PathBuf::from(&daemon_state).join("inventory.json")).unwrap();
    assert!(!inv.contains("population-health-analytics"), "{inv}");
    a.scan.add("daemon status (applied)", status);
    a.scan.add("daemon log (applied)", log);
    a.finish();
}

/// issue 12: `reconcile` used to warn and go on when `--prune` came without `--state-dir`
/// (while `run` refused to start). Every command now refuses, before anything is fetched
/// or written, and says why.
#[tokio::test(flavor = "multi_thread")]
async fn prune_without_a_state_dir_is_an_error_on_every_command() {
    let mut a = Applied::new().await;
    let (url, emu_url) = (a.repo.url(), a.emu.url());
    a.repo.commit(&removed());
    let before = real_write_records(&a.emu).len();
    for mode in ["--plan", "--apply"] {
        let out = reconcile(&emu_url, mode, &url, &["--prune"], &env_refs(&a.secrets)).await;
        a.scan.output(&format!("reconcile {mode} --prune"), &out);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{mode}: {stdout}\n{stderr}");
        assert!(
            stderr.contains("error: --prune needs --state-dir: "),
            "{mode}: {stderr}"
        );
        assert!(stdout.is_empty(), "{mode}: no plan is printed: {stdout}");
    }
    // A plan saved with prune (and a state dir) is not applied without one either.
    let file = a.tmp.path().join("prune.plan");
    let file_arg = file.to_string_lossy().to_string();
    let saved = a
        .reconcile(
            "--plan",
            &["--prune", "--max-deletions=10", "--out", &file_arg],
        )
        .await;
    assert_eq!(saved.status.code(), Some(0), "{:?}", text(&saved));
    let cache = a.tmp.path().join("apply-cache");
    let mut env = env_refs(&a.secrets);
    env.push(("IMMUTA_API_KEY", KEY));
    let args = [
        "apply",
        file_arg.as_str(),
        "--immuta-url",
        emu_url.as_str(),
        "--cache-dir",
        &cache.to_string_lossy(),
        "--max-deletions=10",
    ];
    let out = run(&args, &env).await;
    a.scan.output("apply FILE without --state-dir", &out);
    assert_eq!(out.status.code(), Some(1), "{:?}", text(&out));
    assert!(
        text(&out).1.contains("--prune needs --state-dir"),
        "{:?}",
        text(&out)
    );
    assert_eq!(
        real_write_records(&a.emu).len(),
        before,
        "nothing was written"
    );
    a.finish();
}

/// issue 12: `reconcile --apply` recorded the inventory when the plan had no changes,
/// `apply FILE` did not. Both go through the one reconciler now, which records it after
/// every apply it is given.
#[tokio::test(flavor = "multi_thread")]
async fn applying_a_saved_plan_without_changes_records_the_inventory() {
    let mut a = Applied::new().await;
    let inventory = PathBuf::from(&a.state).join("inventory.json");
    std::fs::remove_file(&inventory).unwrap();
    let file = a.tmp.path().join("noop.plan");
    let file_arg = file.to_string_lossy().to_string();
    let saved = a.reconcile("--plan", &["--out", &file_arg]).await;
    assert_eq!(saved.status.code(), Some(0), "{:?}", text(&saved));
    assert!(!inventory.exists(), "a plan records nothing");
    let cache = a.tmp.path().join("apply-cache");
    let mut env = env_refs(&a.secrets);
    env.push(("IMMUTA_API_KEY", KEY));
    let args = [
        "apply",
        file_arg.as_str(),
        "--immuta-url",
        &a.emu.url(),
        "--cache-dir",
        &cache.to_string_lossy(),
        "--state-dir",
        a.state.as_str(),
    ];
    let out = run(&args, &env).await;
    a.scan.output("apply FILE (no changes)", &out);
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    assert!(
        a.inventory().contains("population-health-analytics"),
        "{}",
        a.inventory()
    );
    a.finish();
}

/// issue 14: "No changes. Immuta matches the source" was printed while a managed object
/// removed from Git was still in Immuta (prune off). The summary line says it, in text,
/// Markdown and JSON, with prune off and with prune on for other kinds only.
#[tokio::test(flavor = "multi_thread")]
async fn issue_14_summary_names_what_prune_would_remove() {
    let mut a = Applied::new().await;
    let rev = a
        .repo
        .commit(&[("project/population-health-analytics.yaml", None)]);
    let want =
        "1 object removed from Git that is still in Immuta and would be removed with --prune";
    for extra in [&[][..], &["--prune=policy"][..]] {
        let plan = a.reconcile("--plan", extra).await;
        let (out, err) = text(&plan);
        assert_eq!(plan.status.code(), Some(0), "{out}\n{err}");
        assert!(
            out.contains(&format!(
                "No changes. Immuta matches the source at {}, except {want}.",
                &rev[..12]
            )),
            "{extra:?}: {out}"
        );
        assert!(
            out.contains("? project/population-health-analytics exists in Immuta but not in the source: managed by this tool, left alone, would be removed with --prune"),
            "{out}"
        );
        let md = a
            .reconcile("--plan", &[extra, &["--output", "markdown"]].concat())
            .await;
        let md = text(&md).0;
        assert!(
            md.starts_with(&format!(
                "**No changes.** Immuta matches the source, except {want}."
            )),
            "{md}"
        );
        let json = a
            .reconcile("--plan", &[extra, &["--output", "json"]].concat())
            .await;
        let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
        assert_eq!(v["summary"]["prunable"], 1, "{v}");
        // policy/analyst-sandbox, made by hand in the demo tenant, is unmanaged too.
        assert_eq!(v["summary"]["unmanaged"], 2, "{v}");
    }
    // A hand-made object is not counted: it was never this tool's to remove.
    a.hand_made_purpose("Hand Made").await;
    let text_of = |o: &std::process::Output| text(o).0;
    let plan = a.reconcile("--plan", &[]).await;
    assert!(
        text_of(&plan).contains(&format!(", except {want}.")),
        "{}",
        text_of(&plan)
    );
    // With changes, the closing line carries it too.
    let purpose = "purpose/fraud-detection.yaml";
    let body = std::fs::read_to_string(root().join("examples/demo/desired").join(purpose))
        .unwrap()
        .replace("Special Investigations Unit", "Special Investigations Team");
    a.repo.commit(&[(purpose, Some(body.as_str()))]);
    let plan = a.reconcile("--plan", &[]).await;
    assert!(
        text_of(&plan).contains(&format!(
            "Plan: 0 to add, 1 to change, 0 to destroy; {want}."
        )),
        "{}",
        text_of(&plan)
    );
    // With --prune it is a destroy, and the line no longer says "would".
    let pruned = a.reconcile("--plan", &["--prune"]).await;
    let out = text_of(&pruned);
    assert!(
        out.contains("Plan: 0 to add, 1 to change, 1 to destroy."),
        "{out}"
    );
    a.finish();
}
