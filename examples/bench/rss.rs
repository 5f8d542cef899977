//! Step 4: memory. Peak RSS (VmHWM) of a child process, a plan at 10,000 objects in a
//! child, and the idle RSS of the daemon after its first sync (child running
//! `daemon::run`, polled on `/readyz`).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use immuta_gitops::config;
use immuta_gitops::daemon::{self, LogFormat};
use immuta_gitops::manifest;
use immuta_gitops::plan;

use crate::reads::plan_only;
use crate::workload::{generate, write_dir};
use crate::{client, emulator_with, runtime, KEY};

/// Peak resident memory (VmHWM) of a child process, polled until it exits, whether it
/// succeeded, and what it printed when its stdout is piped (kept short: it is read once
/// the child has exited).
pub fn peak_rss_of(mut child: std::process::Child) -> (f64, bool, String) {
    let pid = child.id();
    let mut peak_kib = 0u64;
    loop {
        if let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            if let Some(v) = field_kib(&s, "VmHWM:") {
                peak_kib = peak_kib.max(v);
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            let mut out = String::new();
            if let Some(mut stdout) = child.stdout.take() {
                use std::io::Read;
                let _ = stdout.read_to_string(&mut out);
            }
            return (peak_kib as f64 / 1024.0, status.success(), out);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn field_kib(status: &str, name: &str) -> Option<u64> {
    status
        .lines()
        .find(|l| l.starts_with(name))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Peak RSS of a plan of `n` objects in a child process, against a seeded emulator with
/// no latency (run in this process, so its memory is not counted).
pub async fn plan_peak_rss(n: usize, tmp: &Path) -> f64 {
    let seed = tmp.join(format!("seed-plan{n}"));
    write_dir(&seed, &generate(n));
    let emu = emulator_with(Duration::ZERO, Some(&seed)).await;
    let child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--child-plan", &seed.to_string_lossy(), &emu.url()])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let (peak, ok, _) = tokio::task::spawn_blocking(move || peak_rss_of(child))
        .await
        .unwrap();
    assert!(ok, "child plan failed");
    emu.shutdown().await;
    peak
}

/// Child mode: plan `dir` against `url` and exit (measured by the parent).
pub async fn child_plan(dir: &str, url: &str) {
    let snap =
        immuta_gitops::source::local::read_dir(Path::new(dir), None, &Default::default()).unwrap();
    let desired = manifest::load(&snap, &BTreeMap::<String, String>::new()).unwrap();
    let p = plan_only(&client(url, 16), &desired).await;
    let mut out = std::io::sink();
    plan::render::text(&p, &mut out).unwrap();
    println!(
        "child plan: {} objects, {} changes",
        p.changes.len(),
        p.summary().add + p.summary().change
    );
}

/// Child mode: `immuta-gitops run` with the given flags, on the same runtime the binary
/// uses, until killed.
pub fn child_daemon(args: &[String]) {
    let [repo, url, key_file, listen] = args else {
        panic!("--child-daemon REPO URL KEY_FILE LISTEN, got {args:?}");
    };
    let options = daemon::Options {
        flags: config::Flags {
            source: config::SourceArgs {
                repo: repo.clone(),
                ..Default::default()
            },
            immuta: config::ImmutaArgs {
                concurrency: 16,
                ..config::ImmutaArgs::new(url.clone(), key_file)
            },
            prune: Default::default(),
            allow_empty: false,
            max_deletions: 5,
            state_dir: None,
        },
        interval: Duration::from_secs(3600),
        jitter: 0.1,
        drift_interval: None,
        dry_run_budget: immuta_gitops::client::pace::DEFAULT_BUDGET,
        mode: daemon::Mode::Apply,
        drift: daemon::DriftPolicy::Report,
        // The workload applies weakening changes; the benchmark measures the apply.
        weakening: daemon::WeakeningPolicy::Allow,
        listen: listen.clone(),
        webhook_secret_file: None,
        credentials_dir: None,
        grace_period: Duration::from_secs(30),
        debounce: Duration::from_secs(2),
        apply_windows: Vec::new(),
        apply_window_tz: "UTC".into(),
        notify: Vec::new(),
    };
    daemon::init_tracing(
        "info",
        "info",
        LogFormat::Text,
        immuta_gitops::terminal::colour::ColourChoice::Auto,
    );
    runtime()
        .block_on(daemon::run(options, std::future::pending()))
        .unwrap();
}

/// Resident memory of the daemon child.
pub struct IdleRss {
    pub idle_mib: f64,
    pub peak_mib: f64,
}

/// Starts the daemon on `repo` against `url`, waits until `/readyz` answers 200 (first
/// sync done), lets it idle for a second, reads VmRSS and VmHWM, and kills it.
pub async fn daemon_idle_rss(repo: &Path, url: &str, tmp: &Path) -> IdleRss {
    let key_file = tmp.join("api-key");
    std::fs::write(&key_file, KEY).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log_path = tmp.join("daemon.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .arg("--child-daemon")
        .arg(repo)
        .arg(url)
        .arg(&key_file)
        .arg(format!("127.0.0.1:{port}"))
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let ready = format!("http://127.0.0.1:{port}/readyz");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            panic!("daemon exited early ({status}):\n{log}");
        }
        if let Ok(r) = http.get(&ready).send().await {
            if r.status() == reqwest::StatusCode::OK {
                break;
            }
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            panic!("daemon not ready in time:\n{log}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    let kib = |name| field_kib(&status, name).unwrap_or(0) as f64 / 1024.0;
    let rss = IdleRss {
        idle_mib: kib("VmRSS:"),
        peak_mib: kib("VmHWM:"),
    };
    child.kill().unwrap();
    child.wait().unwrap();
    rss
}
