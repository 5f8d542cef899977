//! issue 11 and 16: the secret scan of a running daemon. Its logs on stderr, `/status`,
//! `/metrics` and its notifications carry no secret and no fragment of one.

use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::AsyncBufReadExt;

use super::*;

/// A daemon run as the binary runs it: logs on stderr, `/status` and `/metrics`.
struct DaemonRun {
    child: tokio::process::Child,
    base: String,
    lines: tokio::sync::mpsc::UnboundedReceiver<String>,
    seen: Vec<String>,
}

impl DaemonRun {
    async fn start(repo: &str, url: &str, format: &str, state: &Path, notify: &str) -> DaemonRun {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_immuta-gitops"));
        cmd.args([
            "run",
            "--repo",
            repo,
            "--immuta-url",
            url,
            "--listen",
            "127.0.0.1:0",
            "--interval",
            "1h",
            "--debounce",
            "20ms",
            "--log-format",
            format,
            "--retry-attempts",
            "1",
            "--cache-dir",
            &state.join("cache").to_string_lossy(),
            "--state-dir",
            &state.to_string_lossy(),
        ]);
        // Both formats to one receiver whose URL holds a token; given in the environment.
        cmd.env("IMMUTA_GITOPS_NOTIFY", format!("{notify} slack:{notify}"));
        for (k, _) in std::env::vars() {
            if k.starts_with("IMMUTA") {
                cmd.env_remove(k);
            }
        }
        for (k, v) in run_env() {
            cmd.env(k, v);
        }
        cmd.env("IMMUTA_GITOPS_LOG", "debug");
        cmd.stderr(Stdio::piped()).stdout(Stdio::piped());
        cmd.kill_on_drop(true);
        let mut child = cmd.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, mut lines) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut r = tokio::io::BufReader::new(stderr).lines();
            while let Ok(Some(l)) = r.next_line().await {
                let _ = tx.send(l);
            }
        });
        let mut seen = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        let base = loop {
            let line = tokio::time::timeout_at(deadline.into(), lines.recv())
                .await
                .expect("daemon starts in time")
                .expect("daemon logs its address");
            let found = line.contains("daemon started").then(|| {
                let at = line.find("127.0.0.1:").unwrap();
                let port: String = line[at + 10..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                format!("http://127.0.0.1:{port}")
            });
            seen.push(line);
            if let Some(b) = found {
                break b;
            }
        };
        DaemonRun {
            child,
            base,
            lines,
            seen,
        }
    }

    /// Waits until `/status` shows one finished cycle; returns `/status` and `/metrics`.
    async fn after_first_cycle(&mut self) -> (String, String) {
        let http = reqwest::Client::new();
        let get = |path: &str| {
            let req = http.get(format!("{}{path}", self.base));
            async move { req.send().await.unwrap().text().await.unwrap() }
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let status = get("/status").await;
            let v: serde_json::Value = serde_json::from_str(&status).unwrap();
            if v["cycles"].as_u64().unwrap_or(0) >= 1 {
                let metrics = get("/metrics").await;
                return (status, metrics);
            }
            assert!(Instant::now() < deadline, "no cycle finished: {status}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the daemon (SIGKILL after the logs of the first cycle) and returns its log.
    async fn stop(mut self) -> String {
        self.child.start_kill().unwrap();
        let _ = self.child.wait().await;
        while let Some(l) = self.lines.recv().await {
            self.seen.push(l);
        }
        self.seen.join("\n")
    }
}

#[tokio::test]
async fn issue_11_no_secret_fragment_in_daemon_logs_status_or_metrics() {
    let tmp = tempfile::tempdir().unwrap();
    let (plain, full) = repos(tmp.path());
    let bad = echo_emulator(true).await;
    let mut scan = Scan::new();
    let plain = plain.to_string_lossy().to_string();
    let full = full.to_string_lossy().to_string();
    let url = bad.url();
    let cases = [
        (plain.as_str(), url.as_str(), "text", "write refused"),
        (plain.as_str(), url.as_str(), "json", "write refused"),
        (full.as_str(), url.as_str(), "text", "write refused"),
        (full.as_str(), url.as_str(), "json", "write refused"),
        (GIT_URL, url.as_str(), "text", "127.0.0.1:1/org/repo.git"),
        (GIT_URL, url.as_str(), "json", "127.0.0.1:1/org/repo.git"),
        (plain.as_str(), IMMUTA_URL, "text", "cannot reach Immuta"),
        (plain.as_str(), IMMUTA_URL, "json", "cannot reach Immuta"),
    ];
    for (i, (repo, immuta, format, expect)) in cases.into_iter().enumerate() {
        let state = tmp.path().join(format!("state-{i}"));
        std::fs::create_dir_all(&state).unwrap();
        let receiver = receiver::Receiver::start(receiver::Mode::Record);
        let mut d = DaemonRun::start(repo, immuta, format, &state, &receiver.url).await;
        let (status, metrics) = d.after_first_cycle().await;
        wait_until("both notifications", Duration::from_secs(20), || {
            receiver.bodies().len() >= 2
        })
        .await;
        let logs = d.stop().await;
        let what = format!("daemon {format} {repo}");
        let bodies = receiver.bodies();
        // The two receivers deliver concurrently: either may come first.
        let generic = bodies.iter().find(|b| b.get("event").is_some()).unwrap();
        let slack = bodies.iter().find(|b| b.get("text").is_some()).unwrap();
        assert_eq!(generic["event"], "failed", "{what}: {bodies:#?}");
        assert!(
            slack["text"].as_str().unwrap().contains("Reconcile failed"),
            "{what}: {bodies:#?}"
        );
        for b in &bodies {
            scan.check(&format!("{what} notification"), &b.to_string());
        }
        scan.check(&format!("{what} /status"), &status);
        scan.check(&format!("{what} /metrics"), &metrics);
        scan.check(&format!("{what} logs"), &logs);
        assert!(status.contains(expect), "{what}: {status}");
        assert!(logs.contains(expect), "{what}: {logs}");
        // Piped logs carry no escape sequence at all (no colour, the S_CONTROL value masked).
        assert!(!logs.contains('\u{1b}'), "{what}: {logs:?}");
        for entry in std::fs::read_dir(&state).unwrap() {
            let p = entry.unwrap().path();
            if p.is_file() {
                scan.check(
                    &format!("{what} {}", p.display()),
                    &std::fs::read_to_string(&p).unwrap_or_default(),
                );
            }
        }
    }
    bad.shutdown().await;
}
