//! Performance benchmark (not a timed test). Run with:
//!
//! ```sh
//! cargo run --release --example bench            # N = 2,000 objects
//! cargo run --release --example bench -- 500     # a smaller N
//! cargo run --release --example bench -- --parse-only   # step 3 alone, five times
//! cargo run --release --example bench -- --daemon-only 2000   # daemon idle RSS alone
//! cargo run --example bench -- --data-reads-only 200   # step 1 alone (debug is fine)
//! ```
//!
//! Generates N objects (60 % data sources, 25 % policies, 10 % projects, 5 % purposes),
//! starts the emulator with 50 ms latency on 127.0.0.1 and prints, from one run:
//! 1. no-op reconcile time ÷ network floor (requests made ÷ concurrency × 50 ms), and
//!    the minimum requests the API needs for the live read; then the V1 data-source
//!    detail reads (issue 13): the extra requests per data source of `--refresh=full`
//!    and of a plan in which every connection changed (a no-op plan makes none);
//! 2. first full apply at concurrency 16 vs the sequential one-request-at-a-time loop
//!    (the CLI's way: one POST per file, no plan), and the same apply at concurrency 64;
//! 3. parse + validate + diff of 10,000 manifests, CPU only;
//! 4. peak RSS of a plan at 10,000 objects (child process), and the idle RSS of the daemon
//!    after its first sync of the N-object tenant (child process running
//!    `daemon::run`, polled on `/readyz`).
//!
//! The last line is `summary: noop_vs_floor=… apply_speedup=… parse_diff_10k_s=…
//! peak_rss_mib=… idle_rss_mib=…`.
//!
//! # Why the apply speedup at concurrency 16 cannot reach 20×
//!
//! Both runs pay the same 50 ms per request, so each is bounded by its request count.
//! The sequential loop sends one POST per object: N requests, N × 50 ms. The first apply
//! sends those N POSTs too, and before them the plan: 3 list reads plus one
//! `POST /api/v2/data?dryRun=true` per data source (0.6 N), because the plan shows the
//! server's own dry-run answer for every data source and V2 has no bulk or read endpoint
//! that could answer for several at once. With c requests in flight the first apply
//! takes at least (1.6 N + 3) ÷ c × 50 ms, so the speedup is at most
//! N × c ÷ (1.6 N + 3) ≈ 0.62 c: about 10× at c = 16 and 40× at c = 64. Levels
//! (purposes → data → policies → projects) and the plan-before-write rule add a partial
//! round per level on top. The benchmark prints this bound next to the measured value and
//! repeats the apply at concurrency 64; the 20× target needs c ≥ 33.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use immuta_emulator::{self as emulator, Options};
use immuta_gitops::client::{Client, ClientConfig};
use immuta_gitops::config;
use immuta_gitops::daemon::{self, LogFormat};
use immuta_gitops::live::{LiveObject, LiveSet};
use immuta_gitops::manifest::{self, DesiredSet};
use immuta_gitops::plan;
use immuta_gitops::redact::Secret;
use immuta_gitops::source::{FileEntry, Snapshot};
use immuta_gitops::{apply, object::Kind};

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

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("--parse-only") => {
            for _ in 0..5 {
                let (s, count) = parse_diff(10_000);
                println!("parse + validate + diff of {count} manifests: {s:.3} s");
            }
        }
        Some("--child-plan") => runtime().block_on(child_plan(&args[2], &args[3])),
        Some("--child-daemon") => child_daemon(&args[2..]),
        Some("--data-reads-only") => {
            let n = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(200);
            runtime().block_on(async {
                let tmp = tempfile::tempdir().unwrap();
                let seed = tmp.path().join("seed");
                write_dir(&seed, &generate(n));
                data_source_reads(&seed, &load(generate(n)), n).await;
            });
        }
        Some("--daemon-only") => {
            let n = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(2000);
            runtime().block_on(async {
                let tmp = tempfile::tempdir().unwrap();
                let seed = tmp.path().join("seed");
                write_dir(&seed, &generate(n));
                let emu = emulator_with(Duration::ZERO, Some(&seed)).await;
                let idle = daemon_idle_rss(&seed, &emu.url(), tmp.path()).await;
                println!(
                    "daemon idle RSS after the first sync of {n} objects: {:.1} MiB (peak {:.1} MiB)",
                    idle.idle_mib, idle.peak_mib
                );
                emu.shutdown().await;
            });
        }
        other => {
            let n = other.and_then(|a| a.parse().ok()).unwrap_or(2000);
            runtime().block_on(bench(n));
        }
    }
}

/// Reads live state for `desired` and diffs: the plan stage alone, without a snapshot.
async fn plan_only(c: &Client, desired: &DesiredSet) -> plan::Plan {
    let live = immuta_gitops::live::read_live(c, desired, &[])
        .await
        .unwrap();
    plan::diff(desired, &live)
}

/// Step 1's figures.
struct Reads {
    noop_s: f64,
    floor_s: f64,
}

/// Requests of one plan by route template.
fn by_endpoint(c: &Client, endpoint: &str) -> u64 {
    c.stats()
        .snapshot()
        .iter()
        .filter(|((e, _), _)| e == endpoint)
        .map(|(_, n)| n)
        .sum()
}

/// Step 1: the no-op plan against its floor, then the V1 data-source reads (issue 13):
/// the same plan with `--refresh=full`, and a plan where every data source changed (its
/// dry run reports an update, so it is read for the field diff).
async fn data_source_reads(seed: &Path, desired: &DesiredSet, n: usize) -> Reads {
    let lat = LATENCY.as_secs_f64();
    let emu = emulator_with(LATENCY, Some(seed)).await;
    let noop_client = client(&emu.url(), 16);
    let t = Instant::now();
    let noop = plan_only(&noop_client, desired).await;
    let noop_s = t.elapsed().as_secs_f64();
    assert!(!noop.has_changes(), "seeded tenant should be in sync");
    let requests = noop_client.stats().total();
    let floor_s = requests as f64 / 16.0 * lat;
    let count = |kind: Kind| desired.objects.keys().filter(|k| k.kind == kind).count();
    let (data, projects) = (count(Kind::Data), count(Kind::Project));
    let list_pages = |e: &str| by_endpoint(&noop_client, e);
    let lists = list_pages("GET /policy/global")
        + list_pages("GET /project")
        + list_pages("GET /governance/purpose")
        + list_pages("GET /dataSource");
    let min_requests = lists as usize + data + 2 * projects;
    println!(
        "no-op reconcile: {noop_s:.2} s, {requests} requests (API minimum for the live read: {min_requests} = {lists} list pages + {data} data dry runs + 2 × {projects} project reads; 0 data-source detail reads); floor {floor_s:.2} s → {:.2}x (target ≤ 1.5x)",
        noop_s / floor_s
    );
    let detail = |c: &Client| {
        [
            "GET /{handler}/handler/{id}",
            "GET /dataSource/{id}/tags",
            "GET /dataSource/{id}/access",
            "GET /dictionary/{id}",
        ]
        .iter()
        .map(|e| by_endpoint(c, e))
        .sum::<u64>()
    };
    assert_eq!(detail(&noop_client), 0, "a no-op plan makes no detail read");

    let full_client = client(&emu.url(), 16);
    let t = Instant::now();
    let live = immuta_gitops::live::read_live_with(
        &full_client,
        desired,
        &[],
        immuta_gitops::live::Refresh::Full,
    )
    .await
    .unwrap();
    assert!(!plan::diff(desired, &live).has_changes());
    let full_s = t.elapsed().as_secs_f64();
    let full_extra = full_client.stats().total() - requests;
    let per_source = |x: u64| x as f64 / data.max(1) as f64;
    println!(
        "--refresh=full on the same tenant: {full_s:.2} s, {} requests: +{full_extra} V1 detail reads = {:.1} per data source (1 handler read per connection + tags, owners, dictionary per data source); {:.2}x the no-op floor",
        full_client.stats().total(),
        per_source(full_extra),
        full_s / floor_s
    );

    // Every connection changed in Git (a new table tag): each is read for its field diff.
    let changed = load(
        generate(n)
            .into_iter()
            .map(|(p, e)| match e {
                FileEntry::Blob(b) if p.starts_with("data/") => (
                    p,
                    FileEntry::Blob(
                        String::from_utf8(b)
                            .unwrap()
                            .replace("[Bench.Table]", "[Bench.Table, Bench.New]")
                            .into_bytes(),
                    ),
                ),
                other => (p, other),
            })
            .collect(),
    );
    let changed_client = client(&emu.url(), 16);
    let p = plan_only(&changed_client, &changed).await;
    let fields: usize = p
        .changes
        .iter()
        .filter(|c| c.key.kind == Kind::Data)
        .map(|c| c.fields.iter().filter(|f| f.note.is_none()).count())
        .sum();
    println!(
        "every data source changed: {} requests, {} detail reads = {:.1} per changed data source, {fields} field changes shown",
        changed_client.stats().total(),
        detail(&changed_client),
        per_source(detail(&changed_client))
    );
    emu.shutdown().await;
    Reads { noop_s, floor_s }
}

/// The apply and sequential-loop results of step 2.
struct ApplyRun {
    seconds: f64,
    requests: u64,
}

/// Plan + apply of `desired` against an empty tenant at `concurrency`.
async fn first_apply(desired: &DesiredSet, concurrency: usize) -> ApplyRun {
    let emu = emulator_with(LATENCY, None).await;
    let c = client(&emu.url(), concurrency);
    let t = Instant::now();
    let first_plan = plan_only(&c, desired).await;
    let report = apply::apply(&c, &first_plan, desired, &Default::default()).await;
    let seconds = t.elapsed().as_secs_f64();
    assert!(report.is_success(), "apply failed: {:?}", report.counts());
    emu.shutdown().await;
    ApplyRun {
        seconds,
        requests: c.stats().total(),
    }
}

async fn bench(n: usize) {
    let started = Instant::now();
    println!(
        "benchmark: {n} objects, emulator latency {LATENCY:?}, {} cores",
        std::thread::available_parallelism()
            .map(|p| p.get())
            .unwrap_or(1)
    );
    let desired = load(generate(n));
    let lat = LATENCY.as_secs_f64();

    // 2. First full apply, concurrent vs sequential.
    let fast = first_apply(&desired, 16).await;
    let floor16 = fast.requests as f64 / 16.0 * lat;
    println!(
        "first apply (plan + apply, concurrency 16): {:.2} s, {} requests; floor {floor16:.2} s",
        fast.seconds, fast.requests
    );
    let emu = emulator_with(LATENCY, None).await;
    let slow = client(&emu.url(), 1);
    let t = Instant::now();
    for &kind in Kind::ALL {
        for m in desired.objects.values().filter(|m| m.key.kind == kind) {
            slow.upsert(&m.key, &m.body, false).await.unwrap();
        }
    }
    let seq_s = t.elapsed().as_secs_f64();
    let seq_requests = slow.stats().total();
    emu.shutdown().await;
    let speedup = seq_s / fast.seconds;
    let bound = |c: usize, requests: u64| seq_requests as f64 * c as f64 / requests as f64;
    println!(
        "sequential loop (one POST per file, no plan): {seq_s:.2} s, {seq_requests} requests; floor {:.2} s",
        seq_requests as f64 * lat
    );
    println!(
        "  → speedup at concurrency 16: {speedup:.1}x (target ≥ 20x; upper bound by request count {seq_requests} × 16 ÷ {} = {:.1}x)",
        fast.requests,
        bound(16, fast.requests)
    );
    let wide = first_apply(&desired, 64).await;
    println!(
        "first apply at concurrency 64: {:.2} s, {} requests → speedup {:.1}x (upper bound {:.1}x)",
        wide.seconds,
        wide.requests,
        seq_s / wide.seconds,
        bound(64, wide.requests)
    );

    // 1. No-op reconcile against the converged tenant, and the V1 data-source reads.
    let tmp = tempfile::tempdir().unwrap();
    let seed = tmp.path().join("seed");
    write_dir(&seed, &generate(n));
    let reads = data_source_reads(&seed, &desired, n).await;
    let (noop_s, floor_s) = (reads.noop_s, reads.floor_s);

    // 3. Parse + validate + diff of 10,000 manifests, CPU only.
    let (parse_s, parsed) = parse_diff(10_000);
    println!("parse + validate + diff of {parsed} manifests: {parse_s:.3} s (target < 1 s)");

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

    // 4b. Idle RSS of the daemon after its first sync of the N-object tenant.
    let emu = emulator_with(Duration::ZERO, Some(&seed)).await;
    let idle = daemon_idle_rss(&seed, &emu.url(), tmp.path()).await;
    println!(
        "daemon idle RSS after the first sync of {n} objects: {:.1} MiB (peak during the sync {:.1} MiB; target < 30 MiB)",
        idle.idle_mib, idle.peak_mib
    );
    emu.shutdown().await;

    println!(
        "total benchmark time: {:.0} s",
        started.elapsed().as_secs_f64()
    );
    println!(
        "summary: noop_vs_floor={:.2} apply_speedup={speedup:.1} parse_diff_10k_s={parse_s:.3} peak_rss_mib={peak:.1} idle_rss_mib={:.1}",
        noop_s / floor_s,
        idle.idle_mib
    );
}

/// Parse + validate + diff of `n` generated manifests against a live set equal to them.
/// Returns (seconds, objects). Generating the files and building the live set (what the
/// live stage would return) are not timed.
fn parse_diff(n: usize) -> (f64, usize) {
    let files = generate(n);
    let t = Instant::now();
    let big = load(files);
    let load_s = t.elapsed().as_secs_f64();
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
    let t = Instant::now();
    let p = plan::diff(&big, &live);
    let diff_s = t.elapsed().as_secs_f64();
    assert!(!p.has_changes());
    (load_s + diff_s, big.objects.len())
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
fn child_daemon(args: &[String]) {
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
                url: Some(url.clone()),
                api_key_file: Some(key_file.into()),
                concurrency: 16,
                timeout: Duration::from_secs(60),
                max_response_bytes: immuta_gitops::limits::DEFAULT_RESPONSE_BYTES,
                insecure: false,
                retry: Default::default(),
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
struct IdleRss {
    idle_mib: f64,
    peak_mib: f64,
}

/// Starts the daemon on `repo` against `url`, waits until `/readyz` answers 200 (first
/// sync done), lets it idle for a second, reads VmRSS and VmHWM, and kills it.
async fn daemon_idle_rss(repo: &Path, url: &str, tmp: &Path) -> IdleRss {
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
