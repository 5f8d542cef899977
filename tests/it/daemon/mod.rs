//! The daemon (`immuta-gitops run`) end to end, in process: a real Git repository made by
//! the test, the emulator on 127.0.0.1, and the daemon's own HTTP endpoints. Every wait
//! polls a condition with a deadline; nothing sleeps to synchronize, and no assertion
//! depends on how fast the machine is. Timed cycles use the shortest `--interval`
//! (100ms); the timing rules themselves are tested on tokio's paused clock in
//! `daemon::runner` and `daemon::schedule`, where a real clock cannot interfere.

use crate::common;

mod concurrency;
mod harness;
mod sweep;

use std::time::{Duration, Instant};

use common::*;
use immuta_gitops::daemon::{self, webhook};
use immuta_gitops::redact::Secret;

use harness::*;

#[tokio::test(flavor = "multi_thread")]
async fn commits_apply_within_an_interval_and_unchanged_revisions_cost_nothing() {
    let emu = emulator(None).await;
    let env = Env::new();
    let repo = Repo::new(env.tmp.path());
    let a = repo.commit(&[
        ("purpose/alpha.yaml", Some(&purpose("Alpha", "first"))),
        ("purpose/beta.yaml", Some(&purpose("Beta", "second"))),
    ]);
    let d = env.start(&repo.url(), &emu.url(), |o| {
        o.interval = Duration::from_millis(100);
        o.drift_interval = Some(Duration::from_secs(3600));
    });

    let s = wait_applied(&d.base, &a).await;
    assert_eq!(real_writes(&emu), 2);
    assert_eq!(s["last_apply"]["success"], true);
    assert_eq!(s["settings"]["mode"], "apply");

    // A new commit is picked up by the timer (nothing else triggers this daemon). How
    // long a wait takes is the runner's unit tests' business, on a paused clock.
    let b = repo.commit(&[
        (
            "purpose/alpha.yaml",
            Some(&purpose("Alpha", "first, edited")),
        ),
        ("purpose/gamma.yaml", Some(&purpose("Gamma", "third"))),
    ]);
    let s = wait_applied(&d.base, &b).await;
    assert_eq!(s["last_cycle"]["trigger"], "schedule");
    assert_eq!(s["last_plan"]["summary"]["add"], 1);
    assert_eq!(s["last_plan"]["summary"]["change"], 1);
    assert_eq!(real_writes(&emu), 4);

    // Identical cycles: no write, and (no drift check due) not a single API call.
    let before = get(&d.base, "/metrics").await.text().await.unwrap();
    let s = wait_cycles(&d.base, 3).await;
    let after = get(&d.base, "/metrics").await.text().await.unwrap();
    assert_eq!(s["last_cycle"]["result"], "skipped");
    assert_eq!(real_writes(&emu), 4);
    assert_eq!(
        api_requests(&before),
        api_requests(&after),
        "skipped cycles call Immuta"
    );
    assert!(api_requests(&after) > 0.0);

    // /metrics is valid exposition text with the documented families, no object names.
    let m = get(&d.base, "/metrics").await;
    let ctype = m.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ctype.starts_with("application/openmetrics-text"), "{ctype}");
    let text = m.text().await.unwrap();
    let names = parse_exposition(&text);
    for want in [
        "immuta_gitops_reconcile_total",
        "immuta_gitops_reconcile_duration_seconds_bucket",
        "immuta_gitops_reconcile_duration_seconds_count",
        "immuta_gitops_objects",
        "immuta_gitops_last_applied_revision_info",
        "immuta_gitops_api_requests_total",
        "immuta_gitops_drift_total",
    ] {
        assert!(names.iter().any(|n| n == want), "no {want} in:\n{text}");
    }
    assert!(text.contains(&format!(
        "immuta_gitops_last_applied_revision_info{{revision=\"{b}\"}} 1"
    )));
    assert!(
        text.contains("immuta_gitops_objects{kind=\"purpose\",state=\"in_sync\"} 3"),
        "{text}"
    );
    for name in ["Alpha", "Beta", "Gamma"] {
        assert!(!text.contains(name), "object name {name} in metrics");
    }
    let status_text = get(&d.base, "/status").await.text().await.unwrap();
    assert!(!status_text.contains(KEY), "API key in /status");

    let (r, took) = d.shutdown().await;
    r.unwrap();
    assert!(took < Duration::from_secs(10));
}

#[tokio::test(flavor = "multi_thread")]
async fn webhook_with_bad_signature_is_refused_and_a_good_one_runs_at_once() {
    let emu = emulator(None).await;
    let env = Env::new();
    let repo = Repo::new(env.tmp.path());
    let a = repo.commit(&[("purpose/alpha.yaml", Some(&purpose("Alpha", "first")))]);
    let hook_file = env.hook_file.to_string_lossy().to_string();
    let d = env.start(&repo.url(), &emu.url(), |o| {
        o.interval = Duration::from_secs(3600);
        o.webhook_secret_file = Some(hook_file.into());
    });
    wait_applied(&d.base, &a).await;
    let cycles = status(&d.base).await["cycles"].as_u64().unwrap();

    let b = repo.commit(&[("purpose/alpha.yaml", Some(&purpose("Alpha", "changed")))]);
    let body = repo.push_event(&repo.branch());
    let http = http();
    let url = format!("{}/hook", d.base);
    for (header, value) in [
        ("X-Hub-Signature-256", "sha256=0000".to_string()),
        (
            "X-Hub-Signature-256",
            webhook::github_signature(&Secret::new("wrong secret"), &body),
        ),
        ("X-Gitlab-Token", "wrong-token".to_string()),
    ] {
        let r = http
            .post(&url)
            .header(header, value)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{header}");
    }
    let r = http.post(&url).body(body.clone()).send().await.unwrap();
    assert_eq!(r.status(), 401, "no signature");

    // Signed, but not a push to the followed branch: answered, and no cycle runs.
    let signed = |event: &'static str, body: Vec<u8>| {
        let sig = webhook::github_signature(&Secret::new(HOOK_SECRET), &body);
        http.post(&url)
            .header("X-GitHub-Event", event)
            .header("X-Hub-Signature-256", sig)
            .body(body)
            .send()
    };
    let ping = signed(
        "ping",
        br#"{"zen":"Speak like a human.","hook_id":1}"#.to_vec(),
    )
    .await
    .unwrap();
    assert_eq!(ping.status(), 200);
    let other = signed("push", repo.push_event("feature")).await.unwrap();
    assert_eq!(other.status(), 202);
    assert!(other
        .text()
        .await
        .unwrap()
        .starts_with("ignored: push to refs/heads/feature"));
    let pr = signed("pull_request", body.clone()).await.unwrap();
    assert_eq!(pr.status(), 202);
    assert!(pr.text().await.unwrap().starts_with("ignored: "));
    let gl_other = http
        .post(&url)
        .header("X-Gitlab-Token", HOOK_SECRET)
        .header("X-Gitlab-Event", "Push Hook")
        .body(repo.push_event("feature"))
        .send()
        .await
        .unwrap();
    assert_eq!(gl_other.status(), 202);
    assert_eq!(
        status(&d.base).await["cycles"].as_u64().unwrap(),
        cycles,
        "ignored deliveries ran nothing"
    );

    let sig = webhook::github_signature(&Secret::new(HOOK_SECRET), &body);
    let r = http
        .post(&url)
        .header("X-Hub-Signature-256", sig)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let s = wait_applied(&d.base, &b).await;
    assert_eq!(s["last_cycle"]["trigger"], "hook");
    assert_eq!(
        s["cycles"].as_u64().unwrap(),
        cycles + 1,
        "refused and ignored hooks ran nothing"
    );
    assert_eq!(real_writes(&emu), 2);

    // GitLab's token works too; with the revision unchanged the hook still plans.
    let r = http
        .post(&url)
        .header("X-Gitlab-Token", HOOK_SECRET)
        .header("X-Gitlab-Event", "Push Hook")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let s = wait_status(&d.base, "a hook cycle", |s| {
        s["cycles"].as_u64().unwrap() >= cycles + 2
    })
    .await;
    assert_eq!(s["last_cycle"]["result"], "in_sync");
    assert_eq!(real_writes(&emu), 2);
    d.shutdown().await.0.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn drift_is_reported_without_writes_then_healed_after_a_restart() {
    let emu = emulator(None).await;
    let env = Env::new();
    let repo = Repo::new(env.tmp.path());
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

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_mid_apply_exits_cleanly_and_the_next_start_converges() {
    let emu = immuta_emulator::spawn(
        immuta_emulator::Options {
            api_key: KEY.into(),
            latency: Duration::from_millis(150),
            ..Default::default()
        }
        .with_max_page_size(common::PAGE_CAP),
    )
    .await
    .unwrap();
    let env = Env::new();
    let repo = Repo::new(env.tmp.path());
    let policy = "name: Research Only\npolicyKey: research-only\ntype: data\nactions:\n- rules:\n  - type: Purpose Restriction\n    config:\n      operator: any\n      purposes:\n      - P1\ncircumstances:\n- type: tags\n  tag: Research\n";
    let files: Vec<(String, String)> = (1..=4)
        .map(|i| (format!("purpose/p{i}.yaml"), purpose(&format!("P{i}"), "x")))
        .chain([("policy/research-only.yaml".to_string(), policy.to_string())])
        .collect();
    let refs: Vec<(&str, Option<&str>)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), Some(c.as_str())))
        .collect();
    let sha = repo.commit(&refs);

    let d = env.start(&repo.url(), &emu.url(), |o| {
        o.interval = Duration::from_secs(3600);
        o.flags.immuta.concurrency = 1;
    });
    let end = Instant::now() + DEADLINE;
    while real_writes(&emu) == 0 {
        assert!(Instant::now() < end, "apply never started");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (r, took) = d.shutdown().await;
    r.expect("clean exit after a shutdown mid-apply");
    assert!(
        took < Duration::from_secs(10),
        "within the grace period: {took:?}"
    );
    let written = real_writes(&emu);
    assert!(
        written < 5,
        "the policy level never started: {written} writes"
    );

    let d = env.start(&repo.url(), &emu.url(), |o| {
        o.interval = Duration::from_secs(3600)
    });
    let s = wait_applied(&d.base, &sha).await;
    assert_eq!(s["last_apply"]["success"], true);
    assert_eq!(real_writes(&emu), 5, "only what was missing is written");
    d.shutdown().await.0.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn readyz_means_serving_and_sync_health_is_in_status_and_metrics() {
    let emu = emulator(None).await;
    let env = Env::new();
    let repo = Repo::new(env.tmp.path());
    let broken = "name: [unclosed\n";
    repo.commit(&[("purpose/bad.yaml", Some(broken))]);
    let hook_file = env.hook_file.to_string_lossy().to_string();
    let d = env.start(&repo.url(), &emu.url(), |o| {
        o.interval = Duration::from_secs(3600);
        o.webhook_secret_file = Some(hook_file.into());
    });
    let http = http();
    let hook = || {
        http.post(format!("{}/hook", d.base))
            .header("X-Gitlab-Token", HOOK_SECRET)
            .header("X-Gitlab-Event", "Push Hook")
            .body(repo.push_event(&repo.branch()))
            .send()
    };
    assert_eq!(get(&d.base, "/healthz").await.status(), 200);
    let s = wait_status(&d.base, "first cycle failed", |s| s["cycles"] == 1).await;
    assert_eq!(s["last_cycle"]["result"], "failed");
    assert!(
        s["last_error"].as_str().unwrap().contains("bad.yaml"),
        "{s:#}"
    );
    assert_eq!(
        get(&d.base, "/readyz").await.status(),
        200,
        "ready (serving) before any sync: the webhook that fixes it must reach the pod"
    );
    assert_eq!(s["sync_healthy"], false, "never synced");
    let healthy = |m: &str, v: u8| m.contains(&format!("\nimmuta_gitops_sync_healthy {v}\n"));
    assert!(healthy(
        &get(&d.base, "/metrics").await.text().await.unwrap(),
        0
    ));

    let good = repo.commit(&[
        ("purpose/bad.yaml", None),
        ("purpose/ok.yaml", Some(&purpose("Ok", "fine"))),
    ]);
    assert_eq!(hook().await.unwrap().status(), 202);
    let s = wait_applied(&d.base, &good).await;
    assert_eq!(s["sync_healthy"], true);
    assert!(healthy(
        &get(&d.base, "/metrics").await.text().await.unwrap(),
        1
    ));

    repo.commit(&[("purpose/bad.yaml", Some(broken))]);
    for i in 1..=3u64 {
        let before = status(&d.base).await["cycles"].as_u64().unwrap();
        assert_eq!(hook().await.unwrap().status(), 202);
        let s = wait_status(&d.base, "a failed cycle", |s| {
            s["cycles"].as_u64().unwrap() > before
        })
        .await;
        assert_eq!(s["consecutive_failures"], i);
        assert_eq!(s["sync_healthy"], i < 3, "after {i} failures");
        let m = get(&d.base, "/metrics").await.text().await.unwrap();
        assert!(healthy(&m, u8::from(i < 3)), "after {i} failures:\n{m}");
        assert!(
            m.contains(&format!("\nimmuta_gitops_consecutive_failures {i}\n")),
            "{m}"
        );
        assert_eq!(
            get(&d.base, "/readyz").await.status(),
            200,
            "still serving after {i} failures"
        );
    }
    assert_eq!(
        get(&d.base, "/healthz").await.status(),
        200,
        "alive while unready"
    );
    d.shutdown().await.0.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_local_directory_is_watched_and_changes_apply_without_waiting_for_the_timer() {
    let emu = emulator(None).await;
    let env = Env::new();
    let dir = write_tree(
        env.tmp.path(),
        "manifests",
        &[("purpose/alpha.yaml", &purpose("Alpha", "first"))],
    );
    let d = env.start(&dir.to_string_lossy(), &emu.url(), |o| {
        o.interval = Duration::from_secs(3600);
        o.debounce = Duration::from_millis(50);
    });
    let s = wait_status(&d.base, "first apply", |s| {
        s["last_cycle"]["result"] == "applied"
    })
    .await;
    assert_eq!(s["settings"]["watch"], true);
    let first = s["last_applied_revision"].as_str().unwrap().to_string();
    assert!(first.starts_with("dir:"), "{first}");

    std::fs::write(dir.join("purpose/beta.yaml"), purpose("Beta", "second")).unwrap();
    let s = wait_status(&d.base, "a watch-triggered apply", |s| {
        s["last_cycle"]["trigger"] == "watch"
            && s["last_cycle"]["result"] == "applied"
            && s["last_applied_revision"] != first.as_str()
    })
    .await;
    assert_eq!(s["last_apply"]["results"][0]["key"], "purpose/Beta");
    assert_eq!(real_writes(&emu), 2);
    d.shutdown().await.0.unwrap();
}

/// The value of an unlabelled gauge or counter in exposition text.
fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

/// The keys the emulator wrote for real, in order.
fn written(emu: &immuta_emulator::Handle) -> Vec<String> {
    real_write_records(emu)
        .into_iter()
        .map(|(_, _, k)| k)
        .collect()
}

/// issue 16: with `--weakening hold` (the default) a weakening change waits — in
/// `/status`, in the metric — while the rest of the revision applies; a later commit
/// carrying `Immuta-Approve: purpose/Fraud` approves it and the next cycle applies it.
#[tokio::test(flavor = "multi_thread")]
async fn issue_16_a_weakening_change_waits_for_a_commit_that_approves_it() {
    let emu = emulator(None).await;
    let env = Env::new();
    let repo = Repo::new(env.tmp.path());
    let state = env.tmp.path().join("state");
    let fraud = "name: Fraud\nacknowledgement: I will only investigate fraud.\n";
    let a = repo.commit(&[
        ("purpose/fraud.yaml", Some(fraud)),
        ("purpose/alpha.yaml", Some(&purpose("Alpha", "first"))),
    ]);
    let d = env.start(&repo.url(), &emu.url(), |o| {
        o.interval = Duration::from_millis(200);
        o.drift_interval = Some(Duration::from_secs(3600));
        o.flags.state_dir = Some(state.clone());
    });
    let s = wait_applied(&d.base, &a).await;
    assert_eq!(s["settings"]["weakening"], "hold");
    assert_eq!(s["pending_weakening"], serde_json::json!([]));
    // Purposes are written concurrently: compare as a set.
    let mut first = written(&emu);
    first.sort();
    assert_eq!(first, ["Alpha", "Fraud"], "new purposes are neutral");

    // The acknowledgement goes (weakens); Alpha's description changes (neutral).
    let b = repo.commit(&[
        ("purpose/fraud.yaml", Some("name: Fraud\n")),
        ("purpose/alpha.yaml", Some(&purpose("Alpha", "edited"))),
    ]);
    let s = wait_applied(&d.base, &b).await;
    let pending = s["pending_weakening"].as_array().unwrap();
    assert_eq!(pending.len(), 1, "{s:#}");
    assert_eq!(pending[0]["key"], "purpose/Fraud");
    assert_eq!(pending[0]["action"], "update");
    assert!(
        pending[0]["reason"]
            .as_str()
            .unwrap()
            .contains("purpose acknowledgement removed"),
        "{s:#}"
    );
    assert_eq!(s["last_plan"]["summary"]["held"], 1, "{s:#}");
    assert_eq!(written(&emu).len(), 3);
    assert_eq!(written(&emu)[2], "Alpha", "Fraud is left as it was");
    let m = get(&d.base, "/metrics").await.text().await.unwrap();
    assert_eq!(
        metric(&m, "immuta_gitops_pending_weakening"),
        Some(1.0),
        "{m}"
    );

    // A trailer in the subject line is not a trailer; nothing is approved.
    let subject = repo.commit_message(&[], "Immuta-Approve: purpose/Fraud");
    let s = wait_applied(&d.base, &subject).await;
    assert_eq!(s["pending_weakening"].as_array().unwrap().len(), 1, "{s:#}");
    assert_eq!(written(&emu).len(), 3);

    // The approving commit changes nothing else; the next cycle applies the change.
    let c = repo.commit_message(
        &[],
        "Approve removing the fraud acknowledgement\n\nReviewed with the privacy office.\n\nImmuta-Approve: purpose/Fraud\n",
    );
    let s = wait_status(&d.base, "the approved change applied", |s| {
        s["last_applied_revision"] == c.as_str()
            && s["pending_weakening"].as_array().is_some_and(Vec::is_empty)
    })
    .await;
    // Not `last_cycle`: a later timed cycle on the same revision may already have
    // replaced it. The write itself is the evidence.
    assert!(s["pending_weakening"].as_array().is_some_and(Vec::is_empty));
    assert_eq!(written(&emu).len(), 4);
    assert_eq!(written(&emu)[3], "Fraud");
    let m = get(&d.base, "/metrics").await.text().await.unwrap();
    assert_eq!(
        metric(&m, "immuta_gitops_pending_weakening"),
        Some(0.0),
        "{m}"
    );
    let used = std::fs::read_to_string(state.join("approvals.json")).unwrap();
    assert!(used.contains(&c) && used.contains("Fraud"), "{used}");

    // Put back, then weakened again without a new approval: held again.
    let e = repo.commit(&[("purpose/fraud.yaml", Some(fraud))]);
    wait_applied(&d.base, &e).await;
    let f = repo.commit(&[("purpose/fraud.yaml", Some("name: Fraud\n"))]);
    let s = wait_applied(&d.base, &f).await;
    assert_eq!(s["pending_weakening"][0]["key"], "purpose/Fraud", "{s:#}");
    assert_eq!(
        written(&emu).len(),
        5,
        "only the strengthening write went out"
    );
    d.shutdown().await.0.unwrap();
}

/// A state.json whose times are past what the clock can hold (a damaged or hand-edited
/// file) used to panic the daemon at start (`UNIX_EPOCH + secs`, then humantime's
/// formatting past year 9999). It now starts, shows the time clamped, and reconciles.
#[tokio::test(flavor = "multi_thread")]
async fn a_state_file_with_times_past_the_clock_does_not_stop_the_daemon() {
    let emu = emulator(None).await;
    let env = Env::new();
    let repo = Repo::new(env.tmp.path());
    let a = repo.commit(&[("purpose/alpha.yaml", Some(&purpose("Alpha", "first")))]);
    let state_dir = env.tmp.path().join("state");
    std::fs::create_dir_all(&state_dir).unwrap();
    let damaged = serde_json::json!({
        "version": 2,
        "origin": "elsewhere",
        "source": null,
        "path": null,
        "revision": "0000000000000000000000000000000000000000",
        "applied_at": u64::MAX,
        "checked_at": u64::MAX,
    });
    std::fs::write(state_dir.join("state.json"), damaged.to_string()).unwrap();
    let d = env.start(&repo.url(), &emu.url(), |o| {
        o.interval = Duration::from_secs(3600);
        o.flags.state_dir = Some(state_dir.clone());
    });
    let s = wait_applied(&d.base, &a).await;
    assert_eq!(s["last_apply"]["success"], true);
    assert_eq!(real_writes(&emu), 1);
    d.shutdown().await.0.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_credentials_dir_without_files_starts_and_one_with_a_webhook_secret_enables_the_hook() {
    let emu = emulator(None).await;
    let env = Env::new();
    let repo = Repo::new(env.tmp.path());
    let a = repo.commit(&[("purpose/alpha.yaml", Some(&purpose("Alpha", "first")))]);
    // The Secret is not there at all (an optional volume that is empty).
    let creds = env.tmp.path().join("git-credentials");
    std::fs::create_dir_all(&creds).unwrap();
    let dir = creds.clone();
    let d = env.start(&repo.url(), &emu.url(), |o| {
        o.interval = Duration::from_secs(3600);
        o.credentials_dir = Some(dir);
    });
    wait_applied(&d.base, &a).await;
    let http = http();
    let post = http
        .post(format!("{}/hook", d.base))
        .body(repo.push_event(&repo.branch()))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 404, "no webhook secret: no hook endpoint");
    d.shutdown().await.0.unwrap();

    // The Secret gained a webhook-secret key: the next start serves the hook.
    std::fs::write(creds.join("webhook-secret"), format!("{HOOK_SECRET}\n")).unwrap();
    let dir = creds.clone();
    let d = env.start(&repo.url(), &emu.url(), |o| {
        o.interval = Duration::from_secs(3600);
        o.credentials_dir = Some(dir);
    });
    wait_applied(&d.base, &a).await;
    let body = repo.push_event(&repo.branch());
    let r = http
        .post(format!("{}/hook", d.base))
        .header("X-GitHub-Event", "push")
        .header(
            "X-Hub-Signature-256",
            webhook::github_signature(&Secret::new(HOOK_SECRET), &body),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let s = wait_status(&d.base, "a hook cycle", |s| {
        s["last_cycle"]["trigger"] == "hook"
    })
    .await;
    assert_eq!(s["settings"]["webhook"], true);
    d.shutdown().await.0.unwrap();
}

/// The drift warning in the daemon's own log names what drifted (JSON fields `drifted`
/// and `objects`, and the message), and so does `/status`.
#[tokio::test(flavor = "multi_thread")]
async fn the_drift_warning_names_the_objects_that_drifted() {
    let emu = emulator(None).await;
    let env = Env::new();
    let repo = Repo::new(env.tmp.path());
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
    let r = http()
        .post(format!("{}/hook", d.base))
        .header("X-GitHub-Event", "push")
        .header(
            "X-Hub-Signature-256",
            webhook::github_signature(&Secret::new(HOOK_SECRET), &body),
        )
        .body(body)
        .send()
        .await
        .unwrap();
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
    let emu = emulator(None).await;
    let env = Env::new();
    let repo = Repo::new(env.tmp.path());
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
