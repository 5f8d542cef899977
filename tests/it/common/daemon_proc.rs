//! `immuta-gitops run` as a child process with JSON logs, for the tests that need the
//! daemon's own view (`/status`, its log) of a cycle.

use std::io::BufRead;
use std::time::Duration;

use serde_json::Value;

/// A running daemon.
pub struct DaemonChild {
    child: std::process::Child,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    reader: std::thread::JoinHandle<String>,
}

impl DaemonChild {
    /// Starts `run` with `args` (after `--listen 127.0.0.1:0 --log-format json --interval
    /// 1h --jitter 0% --weakening allow`: these tests apply weakening changes as they
    /// always did; the hold is tested in `daemon::`) and only the `IMMUTA*` variables of
    /// `env`.
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> DaemonChild {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_immuta-gitops"));
        cmd.arg("run")
            .args(["--listen", "127.0.0.1:0", "--log-format", "json"])
            .args(["--interval", "1h", "--jitter", "0%", "--weakening", "allow"])
            .args(args);
        for (k, _) in std::env::vars() {
            if k.starts_with("IMMUTA") {
                cmd.env_remove(k);
            }
        }
        cmd.envs(env.iter().copied());
        cmd.stdout(std::process::Stdio::null());
        cmd.stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut log = String::new();
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    if v["message"] == "daemon started" {
                        let _ = tx.send(v["listen"].as_str().unwrap_or_default().to_string());
                    }
                }
                log.push_str(&line);
                log.push('\n');
            }
            log
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the daemon starts");
        DaemonChild {
            child,
            base: format!("http://{addr}"),
            reader,
        }
    }

    /// Polls `/status` until `pred` holds (10 s deadline); returns the body.
    pub async fn wait_status(&self, what: &str, pred: impl Fn(&Value) -> bool) -> String {
        let end = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let body = reqwest::get(format!("{}/status", self.base))
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            if pred(&serde_json::from_str(&body).unwrap()) {
                return body;
            }
            assert!(
                std::time::Instant::now() < end,
                "timed out waiting for {what}:\n{body}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops the daemon; returns its log.
    pub fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.reader.join().unwrap_or_default()
    }
}
