//! Performance benchmark (not a timed test). Run with:
//!
//! ```sh
//! cargo run --release --example bench            # N = 2,000 objects
//! cargo run --release --example bench -- 500     # a smaller N
//! ```
//!
//! Generates N objects (60 % data sources, 25 % policies, 10 % projects, 5 % purposes),
//! starts the emulator with 50 ms latency on 127.0.0.1 and prints, from one run:
//! 1. no-op reconcile time ÷ network floor (requests made ÷ concurrency × 50 ms), and
//!    the minimum requests the API needs for the live read;
//! 2. first full apply at concurrency 16 vs the sequential one-request-at-a-time loop
//!    (the CLI's way: one call per file);
//! 3. parse + validate + diff of 10,000 manifests, CPU only;
//! 4. peak RSS of a plan at 10,000 objects, and idle RSS of the daemon.
//!
//! The last line is `summary: noop_vs_floor=… apply_speedup=… parse_diff_10k_s=…
//! peak_rss_mib=… idle_rss_mib=…`.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use immuta_gitops::client::{Client, ClientConfig};
use immuta_gitops::emulator::{self, Options};
use immuta_gitops::live::{LiveObject, LiveSet};
use immuta_gitops::manifest::{self, DesiredSet};
use immuta_gitops::plan;
use immuta_gitops::redact::Secret;
use immuta_gitops::source::{FileEntry, Snapshot};
use immuta_gitops::{cycle, object::Kind};

const LATENCY: Duration = Duration::from_millis(50);
const KEY: &str = "bench-key";

/// Manifest files for `n` objects, in repository layout.
fn generate(n: usize) -> BTreeMap<String, FileEntry> {
    let data = n * 60 / 100;
    let policies = n * 25 / 100;
    let projects = n * 10 / 100;
    let purposes = n - data - policies - projects;
    let mut files = BTreeMap::new();
    let mut put = |path: String, body: String| {
        files.insert(path, FileEntry::Blob(body.into_bytes()));
    };
    for i in 0..purposes {
        put(
            format!("purpose/p{i:05}.yaml"),
            format!("name: Purpose {i:05}\ndescription: Purpose number {i}\nsubpurposes:\n  - name: Purpose {i:05}.Child\n"),
        );
    }
    for i in 0..data {
        put(
            format!("data/ds{i:05}.yaml"),
            format!(
                "connectionKey: conn-{i:05}\nconnection:\n  handler: Snowflake\n  hostname: acct{h}.snowflakecomputing.com\n  port: 443\n  database: DB{i:05}\n  warehouse: WH\n  authenticationMethod: userPassword\n  username: svc\n  password: bench-password\nnameTemplate:\n  dataSourceFormat: \"DS {i:05} <Tablename>\"\nsources:\n  - table: orders\n    schema: public\n    tags:\n      table: [Bench.Table]\n",
                h = i % 7
            ),
        );
    }
    for i in 0..policies {
        put(
            format!("policy/pol{i:05}.yaml"),
            format!(
                "policyKey: policy-{i:05}\nname: Policy {i:05}\ntype: data\nactions:\n  - rules:\n      - type: Masking\n        config:\n          fields:\n            - type: columnTags\n              columnTag: Bench.Tag{t}\n          maskingConfig:\n            type: Hash\n        exceptions:\n          groups: [Admins]\ncircumstances:\n  - type: columnTags\n    columnTag: Bench.Tag{t}\n",
                t = i % 50
            ),
        );
    }
    for i in 0..projects {
        let p = if purposes > 0 { i % purposes } else { 0 };
        let d = if data > 0 { i % data } else { 0 };
        put(
            format!("project/prj{i:05}.yaml"),
            format!(
                "projectKey: project-{i:05}\nname: Project {i:05}\ndescription: Project number {i}\npurposes:\n  - Purpose {p:05}\ndatasources:\n  - DS {d:05} Orders\nsubscriptionPolicy:\n  type: anyone\n"
            ),
        );
    }
    files
}

fn write_dir(dir: &Path, files: &BTreeMap<String, FileEntry>) {
    for (rel, entry) in files {
        if let FileEntry::Blob(b) = entry {
            let p = dir.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, b).unwrap();
        }
    }
}

fn load(files: BTreeMap<String, FileEntry>) -> DesiredSet {
    let snap = Snapshot::new("bench", "bench-rev", files);
    manifest::load(&snap, &BTreeMap::<String, String>::new()).unwrap_or_else(|d| panic!("{}", d[0]))
}

fn client(url: &str, concurrency: usize) -> Client {
    let mut cfg = ClientConfig::new(url, Secret::new(KEY));
    cfg.concurrency = concurrency;
    Client::new(cfg).unwrap()
}

async fn emulator_with(latency: Duration, seed: Option<&Path>) -> emulator::Handle {
    emulator::spawn(Options {
        api_key: KEY.into(),
        latency,
        seed: seed.map(Path::to_path_buf),
        ..Default::default()
    })
    .await
    .unwrap()
}

/// Peak resident memory (VmHWM) of a child process, polled until it exits.
fn peak_rss_of(mut child: std::process::Child) -> (f64, bool) {
    let pid = child.id();
    let mut peak_kib = 0u64;
    loop {
        if let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            if let Some(v) = field_kib(&s, "VmHWM:") {
                peak_kib = peak_kib.max(v);
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            return (peak_kib as f64 / 1024.0, status.success());
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

/// Child mode: plan `dir` against `url` and exit (measured by the parent).
async fn child_plan(dir: &str, url: &str) {
    let snap = immuta_gitops::source::local::read_dir(Path::new(dir), None).unwrap();
    let desired = manifest::load(&snap, &BTreeMap::<String, String>::new()).unwrap();
    let (_, p) = cycle::plan(&client(url, 16), &desired).await.unwrap();
    println!(
        "child plan: {} objects, {} changes",
        p.changes.len(),
        p.summary().add + p.summary().change
    );
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--child-plan") {
        child_plan(&args[2], &args[3]).await;
        return;
    }
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(2000);
    println!(
        "benchmark: {n} objects, emulator latency {LATENCY:?}, {} cores",
        std::thread::available_parallelism()
            .map(|p| p.get())
            .unwrap_or(1)
    );

    // 2. First full apply, concurrent vs sequential.
    let desired = load(generate(n));
    let emu = emulator_with(LATENCY, None).await;
    let fast = client(&emu.url(), 16);
    let t = Instant::now();
    let (_, first_plan) = cycle::plan(&fast, &desired).await.unwrap();
    let report = cycle::apply(&fast, &first_plan, &desired, None).await;
    let apply_s = t.elapsed().as_secs_f64();
    assert!(report.is_success(), "apply failed: {:?}", report.counts());
    println!(
        "first apply (plan + apply, concurrency 16): {apply_s:.2} s, {} requests",
        fast.stats().total()
    );
    emu.shutdown().await;

    let emu = emulator_with(LATENCY, None).await;
    let slow = client(&emu.url(), 1);
    let t = Instant::now();
    for kind in Kind::ALL {
        for m in desired.objects.values().filter(|m| m.key.kind == kind) {
            slow.upsert(&m.key, &m.body, false).await.unwrap();
        }
    }
    let seq_s = t.elapsed().as_secs_f64();
    emu.shutdown().await;
    let speedup = seq_s / apply_s;
    println!("sequential loop (one POST per file, no plan): {seq_s:.2} s  → speedup {speedup:.1}x (target ≥ 20x)");

    // 1. No-op reconcile against the converged tenant.
    let tmp = tempfile::tempdir().unwrap();
    let seed = tmp.path().join("seed");
    write_dir(&seed, &generate(n));
    let emu = emulator_with(LATENCY, Some(&seed)).await;
    let noop_client = client(&emu.url(), 16);
    let t = Instant::now();
    let (_, noop) = cycle::plan(&noop_client, &desired).await.unwrap();
    let noop_s = t.elapsed().as_secs_f64();
    assert!(!noop.has_changes(), "seeded tenant should be in sync");
    let requests = noop_client.stats().total();
    let floor_s = requests as f64 / 16.0 * LATENCY.as_secs_f64();
    let data = desired
        .objects
        .keys()
        .filter(|k| k.kind == Kind::Data)
        .count();
    let projects = desired
        .objects
        .keys()
        .filter(|k| k.kind == Kind::Project)
        .count();
    let min_requests = 3 + data + 2 * projects;
    println!(
        "no-op reconcile: {noop_s:.2} s, {requests} requests (API minimum for the live read: {min_requests} = 3 lists + {data} data dry runs + 2 × {projects} project reads); floor {floor_s:.2} s → {:.2}x (target ≤ 1.5x)",
        noop_s / floor_s
    );
    emu.shutdown().await;

    // 3. Parse + validate + diff of 10,000 manifests, CPU only.
    let files = generate(10_000);
    let t = Instant::now();
    let big = load(files);
    let mut live = LiveSet::default();
    for (k, m) in &big.objects {
        if k.kind == Kind::Data {
            live.data.insert(
                k.clone(),
                immuta_gitops::live::DataDryRun {
                    no_change: vec!["x".into()],
                    ..Default::default()
                },
            );
        } else {
            live.objects.insert(
                k.clone(),
                LiveObject {
                    key: k.clone(),
                    id: Some(1),
                    system: false,
                    body: Some(m.body.clone()),
                },
            );
        }
    }
    let p = plan::diff(&big, &live);
    let parse_s = t.elapsed().as_secs_f64();
    assert!(!p.has_changes());
    println!(
        "parse + validate + diff of {} manifests: {parse_s:.3} s (target < 1 s)",
        big.objects.len()
    );

    // 4. Peak RSS of a plan at 10,000 objects (in a child process), no latency.
    let seed10k = tmp.path().join("seed10k");
    write_dir(&seed10k, &generate(10_000));
    let emu = emulator_with(Duration::ZERO, Some(&seed10k)).await;
    let child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--child-plan", &seed10k.to_string_lossy(), &emu.url()])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let (peak, ok) = tokio::task::spawn_blocking(move || peak_rss_of(child))
        .await
        .unwrap();
    assert!(ok, "child plan failed");
    println!("peak RSS of a plan at 10,000 objects: {peak:.1} MiB (target < 150 MiB)");
    emu.shutdown().await;

    let idle = idle_rss();
    println!("daemon idle RSS: {idle:.1} MiB (target < 30 MiB)");
    println!(
        "summary: noop_vs_floor={:.2} apply_speedup={speedup:.1} parse_diff_10k_s={parse_s:.3} peak_rss_mib={peak:.1} idle_rss_mib={idle:.1}",
        noop_s / floor_s
    );
}

/// Idle RSS of the daemon: measured by the daemon benchmark step when available.
fn idle_rss() -> f64 {
    f64::NAN
}
