//! Drift in the daemon end to end: reported without writes (in `/status`, the metrics and
//! the daemon's own log, naming what drifted), healed after a restart with
//! `--drift heal`, and a drift check that reads every data source through V1.

use std::time::Duration;

use immuta_gitops::daemon;

use super::harness::*;
use crate::common::{self, *};

#[tokio::test(flavor = "multi_thread")]
async fn drift_is_reported_without_writes_then_healed_after_a_restart() {
    let Setup { emu, env, repo } = setup().await;
    let a = repo.commit(&[(
        "purpose/drift.yaml",
        Some(&purpose("Drift Test", "from git")),
    )]);
    let state_dir = env.tmp.path().join("state");
    let state = state_dir.to_string_lossy().to_string();

    let d = env.start(&repo.url(), &emu.url(), |o| {
        o.interval = Duration::from_millis(100);
        o.flags.state_dir = Some(state.clone().into());
    });
    wait_applied(&d.base, &a).await;
    // Identical cycles with a drift check: in sync, zero writes.
    let s = wait_cycles(&d.base, 2).await;
    assert_eq!(s["last_cycle"]["result"], "in_sync");
    assert_eq!(real_writes(&emu), 1);
    assert!(state_dir.join("state.json").is_file());

    // Someone edits the purpose directly in Immuta.
    let r = http()
        .post(format!("{}/api/v2/purpose", emu.url()))
        .header("Authorization", KEY)
        .json(&serde_json::json!({"name": "Drift Test", "description": "changed by hand"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    assert_eq!(real_writes(&emu), 2);

    let s = wait_status(&d.base, "drift reported", |s| {
        s["drift_detected"].as_u64().unwrap() >= 1
    })
    .await;
    assert_eq!(s["last_plan"]["drift"], true);
    assert_eq!(
        s["last_plan"]["drifted"],
        serde_json::json!([{"key": "purpose/Drift Test", "action": "update"}]),
        "/status names what drifted"
    );
    wait_cycles(&d.base, 2).await;
    let s = status(&d.base).await;
    assert_eq!(s["last_cycle"]["result"], "reported");
    assert_eq!(real_writes(&emu), 2, "report mode writes nothing");
    let m = get(&d.base, "/metrics").await.text().await.unwrap();
    assert!(!m.contains("immuta_gitops_drift_total 0"), "{m}");
    assert!(
        m.contains("immuta_gitops_objects{kind=\"purpose\",state=\"drifted\"} 1"),
        "{m}"
    );
    d.shutdown().await.0.unwrap();

    // Restarted with --drift heal: the state dir says revision `a` is applied, so the
    // difference is drift, and heal reverts it.
    let d = env.start(&repo.url(), &emu.url(), |o| {
        o.interval = Duration::from_millis(100);
        o.flags.state_dir = Some(state.clone().into());
        o.drift = daemon::DriftPolicy::Heal;
    });
    let s = status(&d.base).await;
    assert_eq!(
        s["last_applied_revision"],
        a.as_str(),
        "remembered across the restart"
    );
    let s = wait_status(&d.base, "drift healed", |s| {
        s["drift_detected"].as_u64().unwrap() >= 1 && s["last_apply"]["success"] == true
    })
    .await;
    assert_eq!(s["last_apply"]["results"][0]["key"], "purpose/Drift Test");
    assert_eq!(real_writes(&emu), 3);
    let s = wait_status(&d.base, "in sync again", |s| {
        s["last_cycle"]["result"] == "in_sync"
    })
    .await;
    assert_eq!(s["last_plan"]["drift"], false);
    assert_eq!(real_writes(&emu), 3);
    d.shutdown().await.0.unwrap();
}

/// The drift warning in the daemon's own log names what drifted (JSON fields `drifted`
/// and `objects`, and the message), and so does `/status`.
#[tokio::test(flavor = "multi_thread")]
async fn the_drift_warning_names_the_objects_that_drifted() {
    let Setup { emu, env, repo } = setup().await;
    let a = repo.commit(&[
        ("purpose/kept.yaml", Some(&purpose("Kept", "unchanged"))),
        (
            "purpose/edited.yaml",
            Some(&purpose("Edited By Hand", "from git")),
        ),
    ]);
    let p = |x: &std::path::Path| x.to_string_lossy().to_string();
    let (url, emu_url) = (repo.url(), emu.url());
    let (key, hook) = (p(&env.key_file), p(&env.hook_file));
    let (cache, state) = (
        p(&env.tmp.path().join("cache")),
        p(&env.tmp.path().join("state")),
    );
    let args = [
        "--repo",
        &url,
        "--immuta-url",
        &emu_url,
        "--api-key-file",
        &key,
        "--cache-dir",
        &cache,
        "--state-dir",
        &state,
        "--webhook-secret-file",
        &hook,
    ];
    let d = common::daemon_proc::DaemonChild::start(&args, &[]);
    d.wait_status("applied", |s| s["last_applied_revision"] == a.as_str())
        .await;
    let r = http()
        .post(format!("{}/api/v2/purpose", emu.url()))
        .header("Authorization", KEY)
        .json(&serde_json::json!({"name": "Edited By Hand", "description": "changed by hand"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let body = repo.push_event(&repo.branch());
    let r = post_signed(&format!("{}/hook", d.base), Some("push"), body).await;
    assert_eq!(r.status(), 202);
    let status = d
        .wait_status("drift", |s| s["drift_detected"].as_u64() >= Some(1))
        .await;
    let log = d.stop();
    let v: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(
        v["last_plan"]["drifted"],
        serde_json::json!([{"key": "purpose/Edited By Hand", "action": "update"}])
    );
    let warning = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|l| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("drift: the tenant was changed outside Git"))
        })
        .unwrap_or_else(|| panic!("no drift warning in:\n{log}"));
    assert_eq!(warning["level"], "WARN");
    assert_eq!(warning["drifted"], 1);
    assert_eq!(warning["objects"], "purpose/Edited By Hand (update)");
    assert_eq!(
        warning["message"],
        "drift: the tenant was changed outside Git: purpose/Edited By Hand (update)"
    );
    assert!(!warning.to_string().contains("Kept"), "{warning}");
}

/// Sum of `immuta_gitops_api_requests_total` for one endpoint.
fn api_requests_of(metrics: &str, endpoint: &str) -> f64 {
    let label = format!("endpoint=\"{endpoint}\"");
    metrics
        .lines()
        .filter(|l| l.starts_with("immuta_gitops_api_requests_total{") && l.contains(&label))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_drift_check_reads_every_data_source_through_v1() {
    let Setup { emu, env, repo } = setup().await;
    let a = repo.commit(&[(
        "data/hr.yaml",
        Some("connectionKey: hr\nconnection: {handler: Snowflake, hostname: hr.example.com, database: HR, username: svc, password: literal-pw-3f9c}\nsources:\n  - {table: PEOPLE, schema: PUBLIC, tags: {table: [HR]}}\n"),
    )]);
    let d = env.start(&repo.url(), &emu.url(), |o| {
        o.interval = Duration::from_millis(200);
    });
    wait_applied(&d.base, &a).await;
    // The apply cycle created the connection: nothing live to read through V1.
    let m = get(&d.base, "/metrics").await.text().await.unwrap();
    let before = api_requests_of(&m, "GET /dictionary/{id}");
    // Later cycles on the same revision are drift checks: in sync, and every desired
    // connection is read through V1 although its dry run reports no change.
    let s = wait_cycles(&d.base, 2).await;
    assert_eq!(s["last_cycle"]["result"], "in_sync");
    let m = get(&d.base, "/metrics").await.text().await.unwrap();
    assert!(
        api_requests_of(&m, "GET /dictionary/{id}") >= before + 1.0,
        "{m}"
    );
    assert!(
        api_requests_of(&m, "GET /{handler}/handler/{id}") >= 1.0,
        "{m}"
    );
    assert_eq!(real_writes(&emu), 1);
    d.shutdown().await.0.unwrap();
}
