//! The daemon (`immuta-gitops run`) end to end, in process: a real Git repository made by
//! the test, the emulator on 127.0.0.1, and the daemon's own HTTP endpoints. Every wait
//! polls a condition with a deadline; nothing sleeps to synchronize.

use crate::common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;
use immuta_gitops::config;
use immuta_gitops::daemon::{self, webhook, Daemon};
use immuta_gitops::redact::Secret;
use serde_json::Value;

const DEADLINE: Duration = Duration::from_secs(10);
const HOOK_SECRET: &str = "hook-secret-9d3f2a";

/// A Git repository in a temp dir, committed to with git2.
struct Repo {
    dir: PathBuf,
    git: git2::Repository,
}

impl Repo {
    fn new(tmp: &Path) -> Repo {
        let dir = tmp.join("repo");
        let git = git2::Repository::init(&dir).unwrap();
        Repo { dir, git }
    }

    fn url(&self) -> String {
        format!("file://{}", self.dir.display())
    }

    /// Writes (`Some`) or deletes (`None`) files and commits; returns the commit SHA.
    fn commit(&self, files: &[(&str, Option<&str>)]) -> String {
        for (rel, content) in files {
            let p = self.dir.join(rel);
            match content {
                Some(c) => {
                    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                    std::fs::write(&p, c).unwrap();
                }
                None => std::fs::remove_file(&p).unwrap(),
            }
        }
        let mut index = self.git.index().unwrap();
        index
            .add_all(["*"].iter(), git2::IndexAddOption::DEFAULT, None)
            .unwrap();
        index.update_all(["*"].iter(), None).unwrap();
        index.write().unwrap();
        let tree = self.git.find_tree(index.write_tree().unwrap()).unwrap();
        let sig = git2::Signature::now("test", "test@example.invalid").unwrap();
        let parent = self.git.head().ok().and_then(|h| h.peel_to_commit().ok());
        let parents: Vec<&git2::Commit> = parent.iter().collect();
        self.git
            .commit(Some("HEAD"), &sig, &sig, "change", &tree, &parents)
            .unwrap()
            .to_string()
    }
}

fn purpose(name: &str, description: &str) -> String {
    format!("name: {name}\ndescription: {description}\n")
}

/// A daemon running on its own thread and runtime (the way the binary runs it).
struct Running {
    base: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<anyhow::Result<()>>>,
}

impl Running {
    /// Sends the shutdown signal and waits for `run` to return; returns how long it took.
    async fn shutdown(mut self) -> (anyhow::Result<()>, Duration) {
        let started = Instant::now();
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let thread = self.thread.take().unwrap();
        let result = tokio::task::spawn_blocking(move || thread.join().unwrap())
            .await
            .unwrap();
        (result, started.elapsed())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// Everything a test daemon needs besides its own flags.
struct Env {
    tmp: tempfile::TempDir,
    key_file: PathBuf,
    hook_file: PathBuf,
}

impl Env {
    fn new() -> Env {
        let tmp = tempfile::tempdir().unwrap();
        let key_file = tmp.path().join("api-key");
        std::fs::write(&key_file, format!("{KEY}\n")).unwrap();
        let hook_file = tmp.path().join("hook-secret");
        std::fs::write(&hook_file, HOOK_SECRET).unwrap();
        Env {
            tmp,
            key_file,
            hook_file,
        }
    }

    /// Starts the daemon with the settings `run --listen 127.0.0.1:0 --jitter 0%
    /// --grace-period 10s` has, changed by `set`.
    fn start(&self, repo: &str, immuta: &str, set: impl FnOnce(&mut daemon::Options)) -> Running {
        static STARTS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = STARTS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let cache = self.tmp.path().join(format!("cache-{n}"));
        let mut options = daemon::Options {
            flags: config::Flags {
                source: config::SourceArgs {
                    repo: repo.to_string(),
                    cache_dir: Some(cache),
                    ..Default::default()
                },
                immuta: config::ImmutaArgs {
                    url: Some(immuta.to_string()),
                    api_key_file: Some(self.key_file.clone()),
                    concurrency: 8,
                    timeout: Duration::from_secs(60),
                    max_response_bytes: immuta_gitops::limits::DEFAULT_RESPONSE_BYTES,
                    insecure: false,
                    retry: Default::default(),
                },
                prune: Vec::new(),
                allow_empty: false,
                max_deletions: 5,
                state_dir: None,
            },
            interval: Duration::from_secs(300),
            jitter: 0.0,
            drift_interval: None,
            mode: daemon::Mode::Apply,
            drift: daemon::DriftPolicy::Report,
            listen: "127.0.0.1:0".into(),
            webhook_secret_file: None,
            grace_period: Duration::from_secs(10),
            debounce: Duration::from_secs(2),
            apply_windows: Vec::new(),
            apply_window_tz: "UTC".into(),
            notify: Vec::new(),
        };
        set(&mut options);
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || -> anyhow::Result<()> {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            rt.block_on(async move {
                let daemon = match Daemon::new(options).await {
                    Ok(d) => d,
                    Err(e) => {
                        let _ = addr_tx.send(None);
                        return Err(e.into());
                    }
                };
                let _ = addr_tx.send(Some(daemon.local_addr()));
                daemon
                    .run(async move {
                        let _ = stop_rx.await;
                    })
                    .await?;
                Ok(())
            })
        });
        let addr = addr_rx
            .recv_timeout(DEADLINE)
            .unwrap()
            .expect("daemon starts");
        Running {
            base: format!("http://{addr}"),
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }
}

async fn get(base: &str, path: &str) -> reqwest::Response {
    reqwest::get(format!("{base}{path}")).await.unwrap()
}

async fn status(base: &str) -> Value {
    get(base, "/status").await.json().await.unwrap()
}

/// Polls `/status` until `pred` holds; panics with the last status after the deadline.
async fn wait_status(base: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let end = Instant::now() + DEADLINE;
    loop {
        let s = status(base).await;
        if pred(&s) {
            return s;
        }
        assert!(
            Instant::now() < end,
            "timed out waiting for {what}; status:\n{s:#}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn wait_applied(base: &str, sha: &str) -> Value {
    wait_status(base, &format!("revision {sha} applied"), |s| {
        s["last_applied_revision"] == sha && s["last_cycle"]["revision"] == sha
    })
    .await
}

/// Waits until `n` more cycles ran after the current count.
async fn wait_cycles(base: &str, n: u64) -> Value {
    let start = status(base).await["cycles"].as_u64().unwrap();
    wait_status(base, &format!("{n} more cycles"), |s| {
        s["cycles"].as_u64().unwrap() >= start + n
    })
    .await
}

/// Sum of `immuta_gitops_api_requests_total` over every label set.
fn api_requests(metrics: &str) -> f64 {
    metrics
        .lines()
        .filter(|l| l.starts_with("immuta_gitops_api_requests_total{"))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum()
}

/// Checks every line of an OpenMetrics/Prometheus text exposition; returns sample names.
fn parse_exposition(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.last(), Some(&"# EOF"), "ends with # EOF");
    for line in &lines[..lines.len() - 1] {
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let kw = parts.next().unwrap();
            assert!(
                matches!(kw, "HELP" | "TYPE" | "UNIT"),
                "bad comment line {line:?}"
            );
            let name = parts.next().unwrap_or_default();
            assert!(is_metric_name(name), "bad name in {line:?}");
            if kw == "TYPE" {
                let ty = parts.next().unwrap_or_default();
                assert!(
                    matches!(
                        ty,
                        "counter"
                            | "gauge"
                            | "histogram"
                            | "info"
                            | "summary"
                            | "unknown"
                            | "stateset"
                    ),
                    "bad type in {line:?}"
                );
            }
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("no value in {line:?}"));
        assert!(
            value.parse::<f64>().is_ok() || matches!(value, "+Inf" | "-Inf" | "NaN"),
            "bad value in {line:?}"
        );
        let name = match series.split_once('{') {
            Some((name, labels)) => {
                let labels = labels
                    .strip_suffix('}')
                    .unwrap_or_else(|| panic!("unclosed labels in {line:?}"));
                for pair in split_labels(labels) {
                    let (k, v) = pair
                        .split_once('=')
                        .unwrap_or_else(|| panic!("bad label in {line:?}"));
                    assert!(
                        is_metric_name(k) && !k.contains(':'),
                        "bad label name in {line:?}"
                    );
                    assert!(
                        v.len() >= 2 && v.starts_with('"') && v.ends_with('"'),
                        "unquoted value in {line:?}"
                    );
                }
                name
            }
            None => series,
        };
        assert!(is_metric_name(name), "bad sample name in {line:?}");
        names.push(name.to_string());
    }
    names
}

fn is_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Splits `a="x",b="y,z"` at commas outside quotes.
fn split_labels(s: &str) -> Vec<&str> {
    let (mut out, mut start, mut quoted, mut escaped) = (Vec::new(), 0, false, false);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => quoted = !quoted,
            ',' if !quoted => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if start < s.len() {
        out.push(&s[start..]);
    }
    out
}

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
        o.interval = Duration::from_millis(200);
        o.drift_interval = Some(Duration::from_secs(3600));
    });

    let s = wait_applied(&d.base, &a).await;
    assert_eq!(real_writes(&emu), 2);
    assert_eq!(s["last_apply"]["success"], true);
    assert_eq!(s["settings"]["mode"], "apply");

    // A new commit is picked up by the timer within one interval (plus the cycle itself).
    let b = repo.commit(&[
        (
            "purpose/alpha.yaml",
            Some(&purpose("Alpha", "first, edited")),
        ),
        ("purpose/gamma.yaml", Some(&purpose("Gamma", "third"))),
    ]);
    let t0 = Instant::now();
    let s = wait_applied(&d.base, &b).await;
    assert!(
        t0.elapsed() < Duration::from_secs(3),
        "took {:?}",
        t0.elapsed()
    );
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
    let body = br#"{"ref":"refs/heads/master","after":"x"}"#.to_vec();
    let http = reqwest::Client::new();
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
        "refused hooks ran nothing"
    );
    assert_eq!(real_writes(&emu), 2);

    // GitLab's token works too; with the revision unchanged the hook still plans.
    let r = http
        .post(&url)
        .header("X-Gitlab-Token", HOOK_SECRET)
        .body("{}")
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
        o.interval = Duration::from_millis(200);
        o.flags.state_dir = Some(state.clone().into());
    });
    wait_applied(&d.base, &a).await;
    // Identical cycles with a drift check: in sync, zero writes.
    let s = wait_cycles(&d.base, 2).await;
    assert_eq!(s["last_cycle"]["result"], "in_sync");
    assert_eq!(real_writes(&emu), 1);
    assert!(state_dir.join("state.json").is_file());

    // Someone edits the purpose directly in Immuta.
    let r = reqwest::Client::new()
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
        o.interval = Duration::from_millis(200);
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
async fn readyz_turns_ready_after_the_first_sync_and_unready_after_three_failures() {
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
    let http = reqwest::Client::new();
    let hook = || {
        http.post(format!("{}/hook", d.base))
            .header("X-Gitlab-Token", HOOK_SECRET)
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
        503,
        "not ready before a sync"
    );

    let good = repo.commit(&[
        ("purpose/bad.yaml", None),
        ("purpose/ok.yaml", Some(&purpose("Ok", "fine"))),
    ]);
    assert_eq!(hook().await.unwrap().status(), 202);
    wait_applied(&d.base, &good).await;
    assert_eq!(get(&d.base, "/readyz").await.status(), 200);

    repo.commit(&[("purpose/bad.yaml", Some(broken))]);
    for i in 1..=3u64 {
        let before = status(&d.base).await["cycles"].as_u64().unwrap();
        assert_eq!(hook().await.unwrap().status(), 202);
        let s = wait_status(&d.base, "a failed cycle", |s| {
            s["cycles"].as_u64().unwrap() > before
        })
        .await;
        assert_eq!(s["consecutive_failures"], i);
        let want = if i < 3 { 200 } else { 503 };
        assert_eq!(
            get(&d.base, "/readyz").await.status(),
            want,
            "after {i} failures"
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
