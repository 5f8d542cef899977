//! Notifications and apply windows (issue 16), end to end: the daemon in process against
//! the emulator, with receivers on 127.0.0.1 that record, always fail (500) or hang.
//! Every wait polls a condition with a deadline; the window test runs on tokio's paused
//! clock and moves it by hand.

use crate::common;

use std::time::{Duration, Instant};

use common::receiver::{Mode, Receiver, TOKEN};
use common::*;
use immuta_gitops::client::RetryPolicy;
use immuta_gitops::config;
use immuta_gitops::daemon::window::Clock;
use immuta_gitops::daemon::{self, Daemon};
use immuta_gitops::notify::send::Delivery;
use immuta_gitops::redact::Secret;
use serde_json::Value;

const DEADLINE: Duration = Duration::from_secs(20);
const HOOK_SECRET: &str = "notify-hook-secret-77e1";
const GIT_TOKEN: &str = "gtok-9a8b7c6d5e4f3a2b";

/// Short retries, so failing receivers give up within the test.
fn quick() -> Delivery {
    Delivery {
        retry: RetryPolicy {
            max_attempts: 2,
            base: Duration::from_millis(10),
            cap: Duration::from_millis(50),
            max_elapsed: Duration::from_secs(5),
        },
        timeout: Duration::from_millis(500),
    }
}

/// Key, token and hook files, and the common flags.
struct Files {
    tmp: tempfile::TempDir,
}

impl Files {
    fn new() -> Files {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("api-key"), format!("{KEY}\n")).unwrap();
        std::fs::write(tmp.path().join("git-token"), GIT_TOKEN).unwrap();
        std::fs::write(tmp.path().join("hook-secret"), HOOK_SECRET).unwrap();
        Files { tmp }
    }

    /// What `run --webhook-secret-file … --git-token-file … --listen 127.0.0.1:0
    /// --jitter 0% --grace-period 5s --interval 1h` sets, with `notify` receivers.
    fn options(&self, repo: &str, immuta: &str, notify: &[&str]) -> daemon::Options {
        let p = |n: &str| self.tmp.path().join(n);
        daemon::Options {
            flags: config::Flags {
                source: config::SourceArgs {
                    repo: repo.to_string(),
                    cache_dir: Some(p("cache")),
                    git_token_file: Some(p("git-token")),
                    ..Default::default()
                },
                immuta: config::ImmutaArgs::new(immuta.to_string(), p("api-key")),
                prune: Default::default(),
                allow_empty: false,
                max_deletions: 5,
                state_dir: None,
            },
            interval: Duration::from_secs(3600),
            jitter: 0.0,
            drift_interval: None,
            dry_run_budget: immuta_gitops::client::pace::DEFAULT_BUDGET,
            mode: daemon::Mode::Apply,
            drift: daemon::DriftPolicy::Report,
            listen: "127.0.0.1:0".into(),
            webhook_secret_file: Some(p("hook-secret")),
            grace_period: Duration::from_secs(5),
            debounce: Duration::from_secs(2),
            apply_windows: Vec::new(),
            apply_window_tz: "UTC".into(),
            notify: notify.iter().map(|u| Secret::new(*u)).collect(),
            credentials_dir: None,
            weakening: daemon::WeakeningPolicy::Hold,
        }
    }
}

/// A daemon on its own thread and runtime.
struct Running {
    base: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    fn start(options: daemon::Options) -> Running {
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let d = Daemon::new(options).await.unwrap().with_delivery(quick());
                addr_tx.send(d.local_addr()).unwrap();
                d.run(async move {
                    let _ = stop_rx.await;
                })
                .await
                .unwrap();
            });
        });
        let addr = addr_rx.recv_timeout(DEADLINE).unwrap();
        Running {
            base: format!("http://{addr}"),
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Stops the daemon and waits for it (a hanging receiver must not hold it up).
    async fn shutdown(mut self) -> Duration {
        let started = Instant::now();
        let _ = self.stop.take().unwrap().send(());
        let t = self.thread.take().unwrap();
        tokio::task::spawn_blocking(move || t.join().unwrap())
            .await
            .unwrap();
        started.elapsed()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

async fn status(base: &str) -> Value {
    reqwest::get(format!("{base}/status"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn hook(base: &str) {
    let r = reqwest::Client::new()
        .post(format!("{base}/hook"))
        .header("X-Gitlab-Token", HOOK_SECRET)
        .header("X-Gitlab-Event", "Push Hook")
        // A push to the default branch: without `--ref` that is the followed branch.
        .body(r#"{"ref": "refs/heads/main", "repository": {"default_branch": "main"}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
}

/// Waits until the receiver holds `n` bodies; returns them.
async fn wait_bodies(r: &Receiver, n: usize) -> Vec<Value> {
    wait_until(&format!("{n} notifications"), DEADLINE, || {
        r.bodies().len() >= n
    })
    .await;
    r.bodies()
}

/// Triggers a cycle by webhook and waits until it is recorded.
async fn hook_cycle(base: &str) -> Value {
    let before = status(base).await["cycles"].as_u64().unwrap();
    hook(base).await;
    let end = Instant::now() + DEADLINE;
    loop {
        let s = status(base).await;
        if s["cycles"].as_u64().unwrap() > before {
            return s;
        }
        assert!(Instant::now() < end, "no cycle after the hook: {s:#}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn purpose(description: &str) -> String {
    format!("name: Notify Test\ndescription: {description}\n")
}

/// Nothing any receiver got, nor `/status` or `/metrics`, holds a secret or the
/// receivers' URL token.
fn assert_no_secret(what: &str, text: &str) {
    for s in [KEY, GIT_TOKEN, TOKEN, HOOK_SECRET] {
        assert!(!text.contains(s), "{what} holds {s:?}:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn applies_failures_drift_and_recovery_are_announced_once_each() {
    let emu = emulator(None).await;
    let files = Files::new();
    let repo = TestRepo::new(files.tmp.path(), "repo");
    // A hostile subject: the API key, the Git token, a Slack mention and terminal escapes.
    let subject = format!("Add a purpose ({KEY} / {GIT_TOKEN}) <!channel> \x1b]0;x\x07");
    let a = repo.commit_with_message(&subject, &[("purpose/n.yaml", Some(&purpose("one")))]);
    let record = Receiver::start(Mode::Record);
    let slack = Receiver::start(Mode::Record);
    let failing = Receiver::start(Mode::Fail);
    let hanging = Receiver::start(Mode::Hang);
    let slack_url = format!("slack:{}", slack.url);
    let d = Running::start(files.options(
        &repo.url(),
        &emu.url(),
        &[&record.url, &slack_url, &failing.url, &hanging.url],
    ));

    // 1. The first cycle applies: per-object results, trigger, revision, clean subject.
    let got = wait_bodies(&record, 1).await;
    let applied = &got[0];
    assert_eq!(applied["version"], 1);
    assert_eq!(applied["event"], "applied");
    assert_eq!(applied["trigger"], "startup");
    assert_eq!(applied["source"]["revision"], a.as_str());
    assert_eq!(
        applied["source"]["subject"],
        "Add a purpose ((sensitive) / (sensitive)) <!channel> \\x1b]0;x\\x07"
    );
    assert_eq!(
        applied["objects"],
        serde_json::json!([{"key": "purpose/Notify Test", "action": "create", "result": "applied", "error": null}])
    );
    let s = wait_bodies(&slack, 1).await;
    let text = s[0]["text"].as_str().unwrap();
    assert!(
        text.starts_with("immuta-gitops: Applied revision "),
        "{text}"
    );
    let context = s[0]["blocks"].as_array().unwrap().last().unwrap()["elements"][0]["text"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        context.starts_with("trigger: startup · revision `"),
        "{context}"
    );
    assert!(context.contains("&lt;!channel&gt;"), "{context}");

    // 2. A broken revision fails: announced once, however often it is retried.
    repo.commit_with_message(
        "Break it",
        &[("purpose/bad.yaml", Some("name: [unclosed\n"))],
    );
    hook_cycle(&d.base).await;
    let got = wait_bodies(&record, 2).await;
    assert_eq!(got[1]["event"], "failed");
    assert_eq!(got[1]["trigger"], "webhook");
    assert_eq!(got[1]["source"]["subject"], "Break it");
    let error = got[1]["error"].as_str().unwrap();
    assert!(error.contains("purpose/bad.yaml"), "{error}");
    let s = hook_cycle(&d.base).await;
    assert_eq!(s["last_cycle"]["result"], "failed");

    // 3. The fix recovers and applies.
    repo.commit_with_message(
        "Fix it",
        &[
            ("purpose/bad.yaml", None),
            ("purpose/n.yaml", Some(&purpose("two"))),
        ],
    );
    hook_cycle(&d.base).await;
    let got = wait_bodies(&record, 4).await;
    let events: Vec<&str> = got.iter().map(|b| b["event"].as_str().unwrap()).collect();
    assert_eq!(events, ["applied", "failed", "recovered", "applied"]);
    assert_eq!(got[2]["cleared"], serde_json::json!(["failed"]));
    assert_eq!(got[3]["objects"][0]["action"], "update");

    // 4. Drift (someone edits Immuta) is announced once; its end is a recovery.
    let edit = |description: &'static str| {
        let url = format!("{}/api/v2/purpose", emu.url());
        async move {
            let r = reqwest::Client::new()
                .post(url)
                .header("Authorization", KEY)
                .json(&serde_json::json!({"name": "Notify Test", "description": description}))
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "{}", r.status());
        }
    };
    edit("changed by hand").await;
    let s = hook_cycle(&d.base).await;
    assert_eq!(s["last_cycle"]["result"], "reported");
    let got = wait_bodies(&record, 5).await;
    assert_eq!(got[4]["event"], "drift_detected");
    assert_eq!(
        got[4]["objects"],
        serde_json::json!([{"key": "purpose/Notify Test", "action": "update"}])
    );
    hook_cycle(&d.base).await;
    edit("two").await;
    let s = hook_cycle(&d.base).await;
    assert_eq!(s["last_cycle"]["result"], "in_sync");
    let got = wait_bodies(&record, 6).await;
    assert_eq!(got[5]["event"], "recovered");
    assert_eq!(got[5]["cleared"], serde_json::json!(["drift"]));
    assert_eq!(
        got.len(),
        6,
        "no repeated failed or drift message: {got:#?}"
    );

    // The failing and the hanging receivers never held a cycle up, and are counted.
    assert!(failing.hits() >= 2, "the 500 was retried");
    assert!(hanging.hits() >= 1);
    wait_bodies(&slack, 6).await;
    let end = Instant::now() + DEADLINE;
    let metrics = loop {
        let m = reqwest::get(format!("{}/metrics", d.base))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if !m.contains("immuta_gitops_notifications_failed_total 0") {
            break m;
        }
        assert!(Instant::now() < end, "no failure counted:\n{m}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        metrics.contains("immuta_gitops_notifications_sent_total 12"),
        "{metrics}"
    );
    let st = status(&d.base).await;
    assert_eq!(st["settings"]["notify_receivers"], 4);
    assert_no_secret("/status", &st.to_string());
    assert_no_secret("/metrics", &metrics);
    for b in record.bodies().iter().chain(slack.bodies().iter()) {
        assert_no_secret("a notification", &b.to_string());
    }
    let took = d.shutdown().await;
    assert!(took < Duration::from_secs(10), "shutdown took {took:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_held_change_sends_one_held_notification() {
    let emu = emulator(None).await;
    let files = Files::new();
    let repo = TestRepo::new(files.tmp.path(), "repo");
    let acknowledged =
        "name: Notify Held\ndescription: d\nacknowledgement: I will use this data with care.\n";
    repo.commit_with_message("Add a purpose", &[("purpose/h.yaml", Some(acknowledged))]);
    let record = Receiver::start(Mode::Record);
    let d = Running::start(files.options(&repo.url(), &emu.url(), &[&record.url]));
    let got = wait_bodies(&record, 1).await;
    assert_eq!(got[0]["event"], "applied", "{got:#?}");

    // Dropping the acknowledgement weakens protection: held, and announced once.
    repo.commit_with_message(
        "Drop the acknowledgement",
        &[(
            "purpose/h.yaml",
            Some("name: Notify Held\ndescription: d\n"),
        )],
    );
    let s = hook_cycle(&d.base).await;
    assert_eq!(
        s["pending_weakening"].as_array().map(Vec::len),
        Some(1),
        "{s:#}"
    );
    wait_until("a held notification", DEADLINE, || {
        record.bodies().iter().any(|b| b["event"] == "held")
    })
    .await;

    // A later apply with the same change still held announces no second `held`.
    repo.commit_with_message(
        "Add another purpose",
        &[("purpose/o.yaml", Some(&purpose("other")))],
    );
    hook_cycle(&d.base).await;
    wait_until("the other purpose applied", DEADLINE, || {
        record.bodies().iter().any(|b| {
            b["event"] == "applied"
                && b["objects"]
                    .as_array()
                    .is_some_and(|o| o.iter().any(|o| o["key"] == "purpose/Notify Test"))
        })
    })
    .await;
    let bodies = record.bodies();
    let held: Vec<&Value> = bodies.iter().filter(|b| b["event"] == "held").collect();
    assert_eq!(held.len(), 1, "{bodies:#?}");
    let changes = held[0]["weakening"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{:#}", held[0]);
    assert_eq!(changes[0]["key"], "purpose/Notify Held");
    assert_eq!(changes[0]["action"], "update");
    let reason = changes[0]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("acknowledgement"), "{reason}");
    let text = serde_json::to_string(&bodies).unwrap();
    assert_no_secret("the notifications", &text);
    d.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failure_that_quotes_the_api_key_is_announced_redacted() {
    // An Immuta that refuses every write and quotes the request, Authorization included.
    let emu = immuta_emulator::echo::spawn(
        immuta_emulator::Options {
            api_key: KEY.into(),
            ..Default::default()
        },
        immuta_emulator::echo::EchoOptions {
            reject_writes: true,
        },
    )
    .await
    .unwrap();
    let files = Files::new();
    let repo = TestRepo::new(files.tmp.path(), "repo");
    repo.commit(&[("purpose/n.yaml", Some(&purpose("one")))]);
    let record = Receiver::start(Mode::Record);
    let d = Running::start(files.options(&repo.url(), &emu.url(), &[&record.url]));
    let got = wait_bodies(&record, 1).await;
    assert_eq!(got[0]["event"], "failed");
    assert_eq!(got[0]["objects"][0]["result"], "failed");
    let text = got[0].to_string();
    assert!(text.contains("write refused (echo mode)"), "{text}");
    assert!(text.contains("(sensitive)"), "{text}");
    assert_no_secret("the failure notification", &text);
    // The same failure again: not announced again.
    let s = hook_cycle(&d.base).await;
    assert_eq!(s["last_cycle"]["result"], "failed");
    assert_eq!(record.bodies().len(), 1, "{:#?}", record.bodies());
    d.shutdown().await;
}

/// Polls `cond` with real pauses taken on the blocking pool (which keeps the paused
/// clock from advancing by itself).
async fn poll<F: std::future::Future<Output = bool>>(what: &str, mut cond: impl FnMut() -> F) {
    let end = Instant::now() + DEADLINE;
    while !cond().await {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        tokio::task::spawn_blocking(|| std::thread::sleep(Duration::from_millis(10)))
            .await
            .unwrap();
    }
}

#[tokio::test(start_paused = true)]
async fn a_blocked_cycle_writes_nothing_and_the_first_one_inside_the_window_applies() {
    // The emulator and the receiver run on their own threads, on real time.
    let (emu_tx, emu_rx) = std::sync::mpsc::channel();
    let (emu_stop, emu_stop_rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async move {
            let h = emulator(None).await;
            emu_tx.send((h.url(), h.emulator.clone())).unwrap();
            let _ = emu_stop_rx.await;
        });
    });
    let (emu_url, emu) = emu_rx.recv().unwrap();
    let record = Receiver::start(Mode::Record);
    let files = Files::new();
    let repo = TestRepo::new(files.tmp.path(), "repo");
    repo.commit(&[("purpose/n.yaml", Some(&purpose("one")))]);

    // A blocking task keeps the paused clock still while real I/O runs: time moves
    // only when this test advances it.
    let (hold_tx, hold_rx) = std::sync::mpsc::channel::<()>();
    let hold = tokio::task::spawn_blocking(move || {
        let _ = hold_rx.recv();
    });

    // Monday 2 March 2026, 21:58:30 UTC; writes are allowed from 22:00 for an hour.
    let wall = "2026-03-02T21:58:30Z".parse().unwrap();
    let mut options = files.options(&repo.url(), &emu_url, &[&record.url]);
    options.interval = Duration::from_secs(60);
    options.apply_windows = vec!["allow 0 22 * * * 1h".into()];
    let daemon = Daemon::new(options)
        .await
        .unwrap()
        .with_clock(Clock::anchored(wall))
        .with_delivery(quick());
    let base = format!("http://{}", daemon.local_addr());
    let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let run = daemon.run(async move {
        let _ = stop_rx.await;
    });
    let (ran, ()) = tokio::join!(run, steps(&base, &record, emu, stop));
    ran.unwrap();
    hold_tx.send(()).unwrap();
    hold.await.unwrap();
    let _ = emu_stop.send(());
}

/// The window test's steps, beside the daemon on the same (paused) runtime.
async fn steps(
    base: &str,
    record: &Receiver,
    emu: immuta_emulator::Emulator,
    stop: tokio::sync::oneshot::Sender<()>,
) {
    let writes = || {
        emu.write_log()
            .iter()
            .filter(|w| !w.dry_run && w.status < 300)
            .count()
    };
    let (base_ref, record_ref) = (base, record);
    let cycles_and_events = move |n: u64, events: usize| {
        move || async move {
            status(base_ref).await["cycles"].as_u64().unwrap() >= n
                && record_ref.bodies().len() >= events
        }
    };

    // 21:58:30, the startup cycle: planned, blocked, nothing written.
    poll("the startup cycle", cycles_and_events(1, 1)).await;
    let s = status(base).await;
    assert_eq!(s["last_cycle"]["result"], "blocked");
    assert_eq!(s["window"]["writes_blocked"], true);
    assert_eq!(s["window"]["reason"], "outside every allow window");
    assert_eq!(s["window"]["next_change_at"], "2026-03-02T22:00:00Z");
    assert_eq!(
        s["window"]["windows"],
        serde_json::json!(["allow 0 22 * * * 1h"])
    );
    assert_eq!(writes(), 0);
    let b = &record.bodies()[0];
    assert_eq!(b["event"], "window_blocked");
    assert_eq!(b["window"]["next_change_at"], "2026-03-02T22:00:00Z");
    assert_eq!(
        b["objects"],
        serde_json::json!([{"key": "purpose/Notify Test", "action": "create"}])
    );

    // 21:59:30, the interval's cycle: still blocked, not announced again.
    tokio::time::advance(Duration::from_secs(60)).await;
    poll("the second cycle", cycles_and_events(2, 1)).await;
    assert_eq!(status(base).await["last_cycle"]["result"], "blocked");
    assert_eq!(writes(), 0);
    assert_eq!(record.bodies().len(), 1);

    // 22:00:00: the daemon woke when the window opened (30 s, not the 60 s interval).
    tokio::time::advance(Duration::from_secs(30)).await;
    poll("the cycle inside the window", cycles_and_events(3, 2)).await;
    let s = status(base).await;
    assert_eq!(s["last_cycle"]["result"], "applied");
    assert_eq!(s["window"]["writes_blocked"], false);
    assert_eq!(s["window"]["next_change_at"], "2026-03-02T23:00:00Z");
    assert_eq!(writes(), 1);
    assert_eq!(record.bodies()[1]["event"], "applied");

    stop.send(()).unwrap();
}
