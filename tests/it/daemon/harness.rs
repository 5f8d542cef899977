//! The daemon tests' harness: a Git repository made with git2, a daemon on its own
//! thread and runtime (as the binary runs it), and bounded polls of its endpoints.

use crate::common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;
use immuta_gitops::config;
use immuta_gitops::daemon::{self, webhook, Daemon};
use immuta_gitops::redact::Secret;
use serde_json::Value;

pub(super) const DEADLINE: Duration = Duration::from_secs(10);
pub(super) const HOOK_SECRET: &str = "hook-secret-9d3f2a";

/// A Git repository in a temp dir, committed to with git2.
pub(super) struct Repo {
    pub(super) dir: PathBuf,
    pub(super) git: git2::Repository,
}

impl Repo {
    pub(super) fn new(tmp: &Path) -> Repo {
        let dir = tmp.join("repo");
        let git = git2::Repository::init(&dir).unwrap();
        Repo { dir, git }
    }

    pub(super) fn url(&self) -> String {
        format!("file://{}", self.dir.display())
    }

    /// The branch HEAD names (after the first commit).
    pub(super) fn branch(&self) -> String {
        self.git.head().unwrap().shorthand().unwrap().to_string()
    }

    /// A GitHub push event body for `branch` of this repository.
    pub(super) fn push_event(&self, branch: &str) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "ref": format!("refs/heads/{branch}"),
            "after": "0000000000000000000000000000000000000000",
            "repository": {"default_branch": self.branch()},
        }))
        .unwrap()
    }

    /// Writes (`Some`) or deletes (`None`) files and commits; returns the commit SHA.
    pub(super) fn commit(&self, files: &[(&str, Option<&str>)]) -> String {
        self.commit_message(files, "change")
    }

    /// Commits `purpose/alpha.yaml` (purpose Alpha, "first"), the one object most daemon
    /// tests start from; returns the commit SHA.
    pub(super) fn commit_alpha(&self) -> String {
        self.commit(&[("purpose/alpha.yaml", Some(&purpose("Alpha", "first")))])
    }

    /// [`Repo::commit`] with a commit message.
    pub(super) fn commit_message(&self, files: &[(&str, Option<&str>)], message: &str) -> String {
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
            .commit(Some("HEAD"), &sig, &sig, message, &tree, &parents)
            .unwrap()
            .to_string()
    }
}

/// What most daemon tests start with: an emulator, an [`Env`] and an empty [`Repo`] in
/// the env's temp dir.
pub(super) struct Setup {
    pub(super) emu: immuta_emulator::Handle,
    pub(super) env: Env,
    pub(super) repo: Repo,
}

pub(super) async fn setup() -> Setup {
    let emu = emulator(None).await;
    let env = Env::new();
    let repo = Repo::new(env.tmp.path());
    Setup { emu, env, repo }
}

pub(super) fn purpose(name: &str, description: &str) -> String {
    format!("name: {name}\ndescription: {description}\n")
}

/// A daemon running on its own thread and runtime (the way the binary runs it).
pub(super) struct Running {
    pub(super) base: String,
    pub(super) stop: Option<tokio::sync::oneshot::Sender<()>>,
    pub(super) thread: Option<std::thread::JoinHandle<anyhow::Result<()>>>,
}

impl Running {
    /// Sends the shutdown signal and waits for `run` to return; returns how long it took.
    pub(super) async fn shutdown(mut self) -> (anyhow::Result<()>, Duration) {
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
pub(super) struct Env {
    pub(super) tmp: tempfile::TempDir,
    pub(super) key_file: PathBuf,
    pub(super) hook_file: PathBuf,
}

impl Env {
    pub(super) fn new() -> Env {
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
    pub(super) fn start(
        &self,
        repo: &str,
        immuta: &str,
        set: impl FnOnce(&mut daemon::Options),
    ) -> Running {
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
                immuta: config::ImmutaArgs::new(immuta.to_string(), self.key_file.clone()),
                prune: Default::default(),
                allow_empty: false,
                max_deletions: 5,
                state_dir: None,
            },
            interval: Duration::from_secs(300),
            jitter: 0.0,
            drift_interval: None,
            dry_run_budget: immuta_gitops::client::pace::DEFAULT_BUDGET,
            mode: daemon::Mode::Apply,
            drift: daemon::DriftPolicy::Report,
            // `run`'s default; the tests that apply weakening changes say `Allow`.
            weakening: daemon::WeakeningPolicy::Hold,
            listen: "127.0.0.1:0".into(),
            webhook_secret_file: None,
            credentials_dir: None,
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

/// Posts `body` to `url` with GitHub's `X-Hub-Signature-256` over it, keyed with
/// [`HOOK_SECRET`], and `X-GitHub-Event: event` when `event` is given.
pub(super) async fn post_signed(
    url: &str,
    event: Option<&str>,
    body: Vec<u8>,
) -> reqwest::Response {
    let sig = webhook::github_signature(&Secret::new(HOOK_SECRET), &body);
    let mut request = http().post(url);
    if let Some(event) = event {
        request = request.header("X-GitHub-Event", event);
    }
    request
        .header("X-Hub-Signature-256", sig)
        .body(body)
        .send()
        .await
        .unwrap()
}

pub(super) async fn get(base: &str, path: &str) -> reqwest::Response {
    http().get(format!("{base}{path}")).send().await.unwrap()
}

pub(super) async fn status(base: &str) -> Value {
    get(base, "/status").await.json().await.unwrap()
}

/// Polls `/status` until `pred` holds; panics with the last status after the deadline.
pub(super) async fn wait_status(base: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
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

pub(super) async fn wait_applied(base: &str, sha: &str) -> Value {
    wait_status(base, &format!("revision {sha} applied"), |s| {
        s["last_applied_revision"] == sha && s["last_cycle"]["revision"] == sha
    })
    .await
}

/// Waits until `n` more cycles ran after the current count.
pub(super) async fn wait_cycles(base: &str, n: u64) -> Value {
    let start = status(base).await["cycles"].as_u64().unwrap();
    wait_status(base, &format!("{n} more cycles"), |s| {
        s["cycles"].as_u64().unwrap() >= start + n
    })
    .await
}

/// Sum of `immuta_gitops_api_requests_total` over every label set.
pub(super) fn api_requests(metrics: &str) -> f64 {
    metrics
        .lines()
        .filter(|l| l.starts_with("immuta_gitops_api_requests_total{"))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum()
}

/// Checks every line of an OpenMetrics/Prometheus text exposition; returns sample names.
pub(super) fn parse_exposition(text: &str) -> Vec<String> {
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

pub(super) fn is_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Splits `a="x",b="y,z"` at commas outside quotes.
pub(super) fn split_labels(s: &str) -> Vec<&str> {
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
