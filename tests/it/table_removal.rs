//! Table removals, end to end through the real binary: a data-source update that would
//! delete or disable data sources (a table dropped from `sources`, a connection change
//! that makes Immuta replace them) is a destroy. It is counted and shown, guarded by
//! `--max-deletions`, and sent only with `--prune` or `allowTableRemoval`; otherwise it
//! is refused (nothing sent for it) in plan, apply and the daemon.

use crate::common;

use common::*;
use serde_json::Value;

const DATA: &str = "data/acme-snowflake-claims.yaml";
const KEY_PATH: &str = "/api/v2/data";

/// The demo's Snowflake connection without its PAYMENTS table.
fn dropped_table() -> String {
    let text = std::fs::read_to_string(root().join("examples/demo/desired").join(DATA)).unwrap();
    let start = text.find("  - table: PAYMENTS").unwrap();
    text[..start].to_string()
}

/// The demo's Snowflake connection moved to another host (Immuta replaces its sources).
fn moved_connection() -> String {
    std::fs::read_to_string(root().join("examples/demo/desired").join(DATA))
        .unwrap()
        .replace("acmehealth.us-east-1", "acmehealth-dr.us-west-2")
}

/// Table-removal helpers on the shared fixture.
impl Applied {
    /// Successful non-dry-run data-source writes since `before` records.
    fn data_writes(&self, before: usize) -> Vec<(String, String, String)> {
        real_write_records(&self.emu)
            .into_iter()
            .skip(before)
            .filter(|(_, p, _)| p.starts_with(KEY_PATH))
            .collect()
    }

    fn writes(&self) -> usize {
        real_write_records(&self.emu).len()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn dropping_tables_or_moving_a_connection_is_a_guarded_destroy() {
    let mut x = Applied::new().await;
    for (what, manifest, removed) in [
        ("a dropped table", dropped_table(), 1),
        // Three: the table dropped above is already disabled.
        ("a moved connection", moved_connection(), 3),
    ] {
        // The same commit also changes a purpose: that change still applies.
        let purpose = format!("name: Fraud Detection\ndescription: changed with {what}\n");
        x.repo.commit(&[
            (DATA, Some(manifest.as_str())),
            ("purpose/fraud-detection.yaml", Some(purpose.as_str())),
        ]);
        let before = x.writes();

        // Plan without --prune: shown as refused, the tables as `-`, exit 1.
        let out = x.reconcile("--plan", &[]).await;
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{what}\n{stdout}\n{stderr}");
        assert!(
            stdout.contains("  ! data/acme-snowflake-claims will NOT be updated"),
            "{what}: {stdout}"
        );
        assert_eq!(
            stdout.matches("      - data source ").count(),
            removed,
            "{what}: {stdout}"
        );
        assert!(
            stdout.contains(" to change, 0 to destroy, 1 refused."),
            "{what}: {stdout}"
        );
        assert!(
            stderr.contains(
                "error: data/acme-snowflake-claims: refused: the update would delete or disable"
            ),
            "{what}: {stderr}"
        );
        for (format, expect) in [("json", "\"refused\": 1"), ("markdown", "1 refused")] {
            let out = x.reconcile("--plan", &["--output", format]).await;
            let (stdout, _) = text(&out);
            assert_eq!(out.status.code(), Some(1), "{what} {format}");
            assert!(stdout.contains(expect), "{what} {format}: {stdout}");
        }

        // Apply without --prune: the purpose is written, the data source is not.
        let out = x.reconcile("--apply", &[]).await;
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{what}\n{stdout}\n{stderr}");
        assert!(
            stdout.contains("  - data/acme-snowflake-claims skipped: refused:"),
            "{what}: {stdout}"
        );
        assert_eq!(x.data_writes(before), vec![], "{what}");
        let purposes = real_write_records(&x.emu)
            .into_iter()
            .skip(before)
            .filter(|(_, p, _)| p == "/api/v2/purpose")
            .count();
        assert_eq!(purposes, 1, "{what}: {stdout}");

        // With --prune the deletion cap still applies to the tables.
        let before = x.writes();
        let cap = (removed - 1).to_string();
        let out = x
            .reconcile("--apply", &["--prune", "--max-deletions", &cap])
            .await;
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{what}\n{stdout}\n{stderr}");
        assert!(
            stderr.contains(&format!("refusing a plan with {removed} deletions")),
            "{what}: {stderr}"
        );
        assert_eq!(x.writes(), before, "{what}");

        // Within the cap, with --prune: counted as destroys, then sent.
        let out = x.reconcile("--plan", &["--prune"]).await;
        let (stdout, _) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{what}: {stdout}");
        assert!(
            stdout.contains(&format!(" to change, {removed} to destroy.")),
            "{what}: {stdout}"
        );
        let out = x.reconcile("--apply", &["--prune"]).await;
        assert_eq!(out.status.code(), Some(0), "{what}: {:?}", text(&out));
        let writes = x.data_writes(before);
        assert_eq!(writes.len(), 1, "{what}: {writes:?}");
        assert_eq!(writes[0].2, "acme-snowflake-claims");
    }
    assert!(x.scan.assert_clean(&x.secrets) > 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn allow_table_removal_in_the_repository_allows_one_connection_without_prune() {
    let mut x = Applied::new().await;
    let settings = "dataSources:\n  acme-snowflake-claims:\n    allowTableRemoval: true\n";
    x.repo.commit(&[
        (DATA, Some(dropped_table().as_str())),
        (".immuta-gitops.yaml", Some(settings)),
    ]);
    let before = x.writes();
    let out = x.reconcile("--apply", &[]).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("1 to destroy"), "{stdout}");
    assert_eq!(x.data_writes(before).len(), 1);
    // Another key, or a setting left false, allows nothing; an unknown field is an error.
    for (settings, code) in [
        (
            "dataSources:\n  other-key:\n    allowTableRemoval: true\n",
            1,
        ),
        (
            "dataSources:\n  acme-snowflake-claims:\n    allowTableRemoval: false\n",
            1,
        ),
        (
            "dataSources:\n  acme-snowflake-claims:\n    allowTableRemovals: true\n",
            1,
        ),
    ] {
        x.repo.commit(&[
            (DATA, Some(moved_connection().as_str())),
            (".immuta-gitops.yaml", Some(settings)),
        ]);
        let before = x.writes();
        let out = x.reconcile("--apply", &[]).await;
        let (stdout, stderr) = text(&out);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{settings}\n{stdout}\n{stderr}"
        );
        assert_eq!(x.data_writes(before), vec![], "{settings}");
    }
    assert!(x.scan.assert_clean(&x.secrets) > 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_daemon_refuses_a_table_removal_and_says_so() {
    let mut x = Applied::new().await;
    x.repo.commit(&[(DATA, Some(dropped_table().as_str()))]);
    let before = x.writes();
    let key_file = x.tmp.path().join("api-key");
    std::fs::write(&key_file, KEY).unwrap();
    let key_file = key_file.to_string_lossy().to_string();
    let cache = x.tmp.path().join("daemon-cache");
    let cache = cache.to_string_lossy().to_string();
    let (repo, emu) = (x.repo.url(), x.emu.url());
    let args = [
        "--repo",
        repo.as_str(),
        "--immuta-url",
        emu.as_str(),
        "--api-key-file",
        key_file.as_str(),
        "--cache-dir",
        cache.as_str(),
        "--state-dir",
        x.state.as_str(),
    ];
    let d = common::daemon_proc::DaemonChild::start(&args, &env_refs(&x.secrets));
    let status = d
        .wait_status("a failed cycle", |s| s["last_cycle"]["result"] == "failed")
        .await;
    let log = d.stop();
    let v: Value = serde_json::from_str(&status).unwrap();
    let err = v["last_error"].as_str().unwrap_or_default();
    assert!(
        err.contains("data/acme-snowflake-claims refused: the update would delete or disable 1 data source(s)"),
        "{status}"
    );
    assert_eq!(v["last_plan"]["summary"]["refused"], 1, "{status}");
    assert!(log.contains("allowTableRemoval"), "{log}");
    assert_eq!(x.data_writes(before), vec![]);
    x.scan.add("daemon status", status);
    x.scan.add("daemon log", log);
    assert!(x.scan.assert_clean(&x.secrets) > 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_saved_plan_with_a_refused_table_removal_is_not_applied() {
    let mut x = Applied::new().await;
    x.repo.commit(&[(DATA, Some(dropped_table().as_str()))]);
    let file = x.tmp.path().join("plan.json");
    let file_arg = file.to_string_lossy().to_string();
    let out = x.reconcile("--plan", &["--out", &file_arg]).await;
    assert_eq!(out.status.code(), Some(1), "{:?}", text(&out));
    let saved: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let refused = saved["plan"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["key"]["name"] == "acme-snowflake-claims")
        .unwrap();
    assert_eq!(refused["action"], "refused", "{saved:#}");
    let before = x.writes();
    let cache = x.tmp.path().join("apply-cache");
    let mut env = env_refs(&x.secrets);
    env.push(("IMMUTA_API_KEY", KEY));
    let emu = x.emu.url();
    let out = run(
        &[
            "apply",
            &file_arg,
            "--immuta-url",
            &emu,
            "--cache-dir",
            &cache.to_string_lossy(),
        ],
        &env,
    )
    .await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stderr.contains("refused"), "{stderr}");
    assert_eq!(x.writes(), before);
    x.scan.output("apply FILE", &out);
    assert!(x.scan.assert_clean(&x.secrets) > 0);
}
