//! `immuta-gitops run` as a child process with JSON logs, for the tests that need the
//! daemon's own view (`/status`, its log) of a cycle.

use std::io::BufRead;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

/// A running daemon.
pub struct DaemonChild {
    child: std::process::Child,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// Its stderr so far, one JSON line per event (shown when a wait times out).
    log: Arc<Mutex<String>>,
    reader: std::thread::JoinHandle<()>,
}

impl DaemonChild {
    /// Starts `run` with `args` (after `--listen 127.0.0.1:0 --log-format json --interval
    /// 1h --jitter 0%`) and only the `IMMUTA*` variables of `env`.
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> DaemonChild {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_immuta-gitops"));
        cmd.arg("run")
            .args(["--listen", "127.0.0.1:0", "--log-format", "json"])
            .args(["--interval", "1h", "--jitter", "0%"])
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
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = {
            let log = log.clone();
            std::thread::spawn(move || {
                for line in std::io::BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    if let Ok(v) = serde_json::from_str::<Value>(&line) {
                        if v["message"] == "daemon started" {
                            let _ = tx.send(v["listen"].as_str().unwrap_or_default().to_string());
                        }
                    }
                    let mut l = log.lock().unwrap();
                    l.push_str(&line);
                    l.push('\n');
                }
            })
        };
        let addr = rx
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("the daemon did not start:\n{}", log.lock().unwrap()));
        DaemonChild {
            child,
            base: format!("http://{addr}"),
            log,
            reader,
        }
    }

    /// `GET /status`, the body as sent.
    pub async fn status(&self) -> String {
        super::http()
            .get(format!("{}/status", self.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Polls `/status` until `pred` holds (10 s deadline); returns the body. On timeout
    /// the panic shows the last status and the daemon's log.
    pub async fn wait_status(&self, what: &str, pred: impl Fn(&Value) -> bool) -> String {
        let end = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let body = self.status().await;
            if pred(&serde_json::from_str(&body).unwrap()) {
                return body;
            }
            assert!(
                std::time::Instant::now() < end,
                "timed out waiting for {what}:\n{body}\n{}",
                self.log.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops the daemon; returns its log.
    pub fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The reader ends at EOF, which the kill brings: then the log is complete.
        let _ = self.reader.join();
        let log = self.log.lock().unwrap().clone();
        log
    }
}
