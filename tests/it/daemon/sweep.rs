//! The paced drift sweep (issue 15) end to end: incremental new revisions, drift found by
//! the next sweep, and chunks that never delete. The budget itself is checked on a paused
//! clock in `daemon::sweep`'s unit tests.

use super::harness::*;
use crate::common::*;

use std::time::{Duration, Instant};

use immuta_gitops::object::Kind;

fn data_source(key: &str) -> String {
    format!(
        "connectionKey: {key}\nconnection: {{handler: Snowflake, hostname: {key}.example.com, database: DB, username: svc, password: literal-pw-{key}}}\nsources:\n  - {{table: T_{key}, schema: PUBLIC}}\n"
    )
}

fn project(key: &str, description: &str) -> String {
    format!("projectKey: {key}\nname: {key}\ndescription: {description}\n")
}

/// Data-source dry runs the emulator received.
fn data_dry_runs(emu: &immuta_emulator::Handle) -> usize {
    emu.emulator
        .write_log()
        .iter()
        .filter(|w| w.dry_run && w.path == "/api/v2/data")
        .count()
}

/// `immuta_gitops_drift_sweeps_completed_total`.
async fn sweeps_completed(base: &str) -> f64 {
    let m = get(base, "/metrics").await.text().await.unwrap();
    m.lines()
        .find_map(|l| l.strip_prefix("immuta_gitops_drift_sweeps_completed_total "))
        .map(|v| v.parse().unwrap())
        .unwrap_or_else(|| panic!("no sweep counter in:\n{m}"))
}

fn seeded(repo: &Repo) -> String {
    repo.commit(&[
        ("data/a.yaml", Some(&data_source("a"))),
        ("data/b.yaml", Some(&data_source("b"))),
        ("data/c.yaml", Some(&data_source("c"))),
        ("project/p1.yaml", Some(&project("p1", "from git"))),
        ("project/p2.yaml", Some(&project("p2", "from git"))),
        ("purpose/alpha.yaml", Some(&purpose("Alpha", "first"))),
    ])
}

#[tokio::test(flavor = "multi_thread")]
async fn a_one_object_commit_costs_no_dry_run_and_drift_is_found_within_one_drift_interval() {
    let emu = emulator(None).await;
    let env = Env::new();
    let repo = Repo::new(env.tmp.path());
    let a = seeded(&repo);
    let state = env.tmp.path().join("state");
    let drift_interval = Duration::from_secs(2);
    let d = env.start(&repo.url(), &emu.url(), |o| {
        o.interval = Duration::from_millis(100);
        o.drift_interval = Some(drift_interval);
        o.dry_run_budget = "100/s".parse().unwrap();
        o.flags.state_dir = Some(state.clone());
    });
    let s = wait_applied(&d.base, &a).await;
    assert_eq!(s["drift_sweep"]["budget"], "100/s");
    assert_eq!(
        s["drift_sweep"]["total"], 5,
        "3 data sources and 2 projects"
    );

    // A commit that changes one purpose, planned while no sweep chunk runs (the counter
    // and the idle state on both sides say so; a chunk that slipped in is tried again):
    // not one data-source dry run, one write.
    let mut clean = false;
    for n in 0..5 {
        let (sweeps, dry, writes) = (
            sweeps_completed(&d.base).await,
            data_dry_runs(&emu),
            real_writes(&emu),
        );
        let idle = status(&d.base).await["drift_sweep"]["state"] == "idle";
        let b = repo.commit(&[(
            "purpose/alpha.yaml",
            Some(&purpose("Alpha", &format!("edit {n}"))),
        )]);
        let s = wait_applied(&d.base, &b).await;
        let still = s["drift_sweep"]["state"] == "idle";
        if idle && still && sweeps_completed(&d.base).await == sweeps {
            assert_eq!(data_dry_runs(&emu), dry, "unchanged data sources dry-run");
            assert_eq!(real_writes(&emu), writes + 1, "one object written");
            assert_eq!(s["last_plan"]["summary"]["change"], 1);
            clean = true;
            break;
        }
    }
    assert!(clean, "a sweep chunk ran beside every commit");
    let head = repo
        .git
        .head()
        .unwrap()
        .peel_to_commit()
        .unwrap()
        .id()
        .to_string();

    // Someone edits a project directly in Immuta.
    let r = http()
        .post(format!("{}/api/v2/project", emu.url()))
        .header("Authorization", KEY)
        .json(&serde_json::json!({"projectKey": "p2", "name": "p2", "description": "changed by hand"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let changed = Instant::now();
    let writes = real_writes(&emu);
    let s = wait_status(&d.base, "drift on p2 reported", |s| {
        s["last_plan"]["drifted"]
            .as_array()
            .is_some_and(|d| d.iter().any(|o| o["key"] == "project/p2"))
    })
    .await;
    let took = changed.elapsed();
    assert_eq!(s["last_plan"]["revision"], head.as_str());
    assert!(s["drift_detected"].as_u64().unwrap() >= 1);
    assert!(
        s["drift_sweep"]["drift_found"].as_u64() >= Some(1),
        "the sweep counts it with the plan that found it: {}",
        s["drift_sweep"]
    );
    // The next sweep starts at most one drift interval after the last one started; its
    // own time at the budget is a few dry runs, and a cycle's time on a busy machine.
    let bound = drift_interval + Duration::from_millis(1500);
    assert!(took <= bound, "drift found after {took:?}, bound {bound:?}");
    assert_eq!(real_writes(&emu), writes, "report mode writes nothing");

    let s = wait_status(&d.base, "a sweep completes", |s| {
        !s["drift_sweep"]["last_completed_at"].is_null()
    })
    .await;
    let sweep = &s["drift_sweep"];
    assert_eq!(sweep["total"], 5);
    assert_eq!(sweep["drift_found"], 1, "p2, found by every sweep");
    assert!(sweep["last_duration_seconds"].as_f64().unwrap() >= 0.0);
    assert_eq!(sweep["estimated_seconds"], 0.05, "5 keys at 100/s");
    let m = get(&d.base, "/metrics").await.text().await.unwrap();
    assert!(m.contains("immuta_gitops_drift_sweep_objects 5\n"), "{m}");
    assert!(sweeps_completed(&d.base).await >= 1.0);
    d.shutdown().await.0.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sweep_chunk_shows_a_managed_object_gone_from_the_tenant_as_drift_and_deletes_nothing() {
    let emu = emulator(None).await;
    let env = Env::new();
    let repo = Repo::new(env.tmp.path());
    let a = seeded(&repo);
    let state = env.tmp.path().join("state");
    let d = env.start(&repo.url(), &emu.url(), |o| {
        o.interval = Duration::from_millis(100);
        o.drift_interval = Some(Duration::from_millis(300));
        o.dry_run_budget = "100/s".parse().unwrap();
        o.flags.state_dir = Some(state.clone());
        o.flags.prune = Kind::ALL.iter().copied().collect();
    });
    wait_applied(&d.base, &a).await;
    let before = emu.emulator.write_log().len();

    let r = http()
        .delete(format!("{}/api/v2/project/p1", emu.url()))
        .header("Authorization", KEY)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let s = wait_status(&d.base, "p1 reported as drift", |s| {
        s["last_plan"]["drifted"]
            .as_array()
            .is_some_and(|d| d.iter().any(|o| o["key"] == "project/p1"))
    })
    .await;
    assert_eq!(
        s["last_plan"]["drifted"],
        serde_json::json!([{"key": "project/p1", "action": "create"}])
    );
    assert_eq!(s["last_plan"]["summary"]["destroy"], 0);
    wait_cycles(&d.base, 3).await;
    let log = emu.emulator.write_log();
    let deletes: Vec<_> = log[before..]
        .iter()
        .filter(|w| w.method == "DELETE")
        .collect();
    assert_eq!(deletes.len(), 1, "only the hand-made delete: {deletes:?}");
    assert!(
        log[before..]
            .iter()
            .all(|w| w.dry_run || w.method == "DELETE"),
        "report mode writes nothing: {:?}",
        &log[before..]
    );
    d.shutdown().await.0.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_commit_made_during_a_sweep_is_planned_before_the_next_chunk() {
    let emu = emulator(None).await;
    let env = Env::new();
    let repo = Repo::new(env.tmp.path());
    let keys = ["a", "b", "c", "d", "e", "f"];
    let files: Vec<(String, String)> = keys
        .iter()
        .map(|k| (format!("data/{k}.yaml"), data_source(k)))
        .chain([("purpose/alpha.yaml".into(), purpose("Alpha", "first"))])
        .collect();
    let refs: Vec<(&str, Option<&str>)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), Some(c.as_str())))
        .collect();
    let a = repo.commit(&refs);
    let state = env.tmp.path().join("state");
    let d = env.start(&repo.url(), &emu.url(), |o| {
        o.interval = Duration::from_millis(100);
        o.drift_interval = Some(Duration::from_millis(300));
        // One dry run a second: a chunk is one connection, and the sweep of six takes
        // five seconds at least.
        o.dry_run_budget = "1/s".parse().unwrap();
        o.flags.state_dir = Some(state.clone());
    });
    wait_applied(&d.base, &a).await;
    let s = wait_status(&d.base, "the sweep under way", |s| {
        s["drift_sweep"]["state"] == "running" && s["drift_sweep"]["checked"].as_u64() >= Some(2)
    })
    .await;
    assert_eq!(s["drift_sweep"]["total"], 6);
    assert_eq!(s["drift_sweep"]["estimated_seconds"], 6.0);
    assert_eq!(s["last_cycle"]["trigger"], "sweep", "chunks follow at once");

    let b = repo.commit(&[("purpose/alpha.yaml", Some(&purpose("Alpha", "edited")))]);
    let s = wait_applied(&d.base, &b).await;
    let sweep = &s["drift_sweep"];
    assert_eq!(
        sweep["state"], "running",
        "the commit did not wait for the sweep"
    );
    assert!(sweep["checked"].as_u64() < Some(6), "{sweep}");
    assert_eq!(s["last_plan"]["summary"]["change"], 1);
    // The sweep goes on after the commit and completes.
    let s = wait_status(&d.base, "the sweep completes", |s| {
        !s["drift_sweep"]["last_completed_at"].is_null()
    })
    .await;
    // Paced: six dry runs at one a second span five seconds at least (the next sweep
    // may already run, back to back: it cannot fit the 300ms interval).
    let took = s["drift_sweep"]["last_duration_seconds"].as_f64().unwrap();
    assert!(took >= 5.0, "a sweep of six at 1/s took {took}s");
    assert_eq!(s["drift_sweep"]["drift_found"], 0);
    d.shutdown().await.0.unwrap();
}
