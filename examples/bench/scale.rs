//! The 10,000-object figures: the no-op plan against its floor and the first apply against
//! its floor and the sequential estimate, run in a child process whose peak RSS (VmHWM) is
//! the figure `peak_rss_10k_mib`. The emulators run in the parent, so their memory is not
//! counted.

use std::time::{Duration, Instant};

use immuta_emulator::Options;

use crate::reads::{noop_breakdown, plan_only};
use crate::rss::peak_rss_of;
use crate::workload::{generate, load, write_dir};
use crate::{client, emulator_opts, emulator_with, LATENCY};

/// What the child measured, and its peak RSS.
pub struct Scale {
    pub n: usize,
    pub noop_vs_floor: f64,
    pub apply_vs_floor: f64,
    pub peak_rss_mib: f64,
}

/// Parent side: seeds a tenant of `n` objects (50 ms and zero latency), starts an empty
/// one, runs the child and prints its figures. `seq_per_request_s` is the sequential
/// loop's measured time per POST, for the sequential estimate at `n`.
pub async fn run(n: usize, tmp: &std::path::Path, seq_per_request_s: f64) -> Scale {
    let seed = tmp.join(format!("seed{n}"));
    write_dir(&seed, &generate(n));
    let seeded = emulator_with(LATENCY, Some(&seed)).await;
    let instant = emulator_with(Duration::ZERO, Some(&seed)).await;
    let empty = emulator_opts(Options {
        latency: LATENCY,
        ..Options::default()
    })
    .await;
    let child = std::process::Command::new(std::env::current_exe().unwrap())
        .arg("--child-scale")
        .arg(n.to_string())
        .args([seeded.url(), instant.url(), empty.url()])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (peak, ok, out) = tokio::task::spawn_blocking(move || peak_rss_of(child))
        .await
        .unwrap();
    let noop_log = seeded.requests();
    for e in [seeded, instant, empty] {
        e.shutdown().await;
    }
    assert!(ok, "scale child failed:\n{out}");
    print!("{out}");
    println!("  {}", occupancy(&noop_log, LATENCY, 16));
    if let Some(path) = std::env::var_os("BENCH_SCALE_TRACE") {
        // The no-op plan's arrivals, one `millis method route dryRun` line each.
        let lines: String = noop_log
            .iter()
            .map(|r| format!("{} {} {} {}\n", r.millis, r.method, r.route, r.dry_run))
            .collect();
        std::fs::write(path, lines).unwrap();
    }
    let figure = |name: &str| -> f64 {
        out.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("scale child printed no {name}:\n{out}"))
    };
    let apply_s = figure("apply_s");
    let seq_estimate = seq_per_request_s * n as f64;
    println!(
        "  first apply at {n}: sequential estimate {seq_estimate:.0} s ({n} POSTs × the 2,000-object loop's {:.1} ms each) → speedup {:.1}x",
        seq_per_request_s * 1000.0,
        seq_estimate / apply_s
    );
    println!("  peak RSS of the {n}-object child (no-op plans + first apply): {peak:.1} MiB (target < 300 MiB)");
    Scale {
        n,
        noop_vs_floor: figure("noop_vs_floor"),
        apply_vs_floor: figure("apply_vs_floor"),
        peak_rss_mib: peak,
    }
}

/// Where a plan's time went, seen from the server: each request holds one of
/// `concurrency` places for `latency` from its arrival. The floor assumes every place busy
/// from the first request to the last answer; the time with fewer in flight is what the
/// ratio to the floor pays on top of CPU (client, emulator, diff).
fn occupancy(
    log: &[immuta_emulator::RequestRecord],
    latency: Duration,
    concurrency: usize,
) -> String {
    let lat = u64::try_from(latency.as_millis()).unwrap();
    let mut events: Vec<(u64, i64)> = log
        .iter()
        .flat_map(|r| [(r.millis, 1), (r.millis + lat, -1)])
        .collect();
    events.sort_unstable();
    let (Some(first), Some(last)) = (events.first(), events.last()) else {
        return "no requests at the server".into();
    };
    let span_ms = last.0 - first.0;
    let (mut in_flight, mut under_ms, mut prev) = (0i64, 0u64, first.0);
    for &(t, d) in &events {
        if in_flight < concurrency as i64 {
            under_ms += t - prev;
        }
        in_flight += d;
        prev = t;
    }
    let busy_ms = log.len() as u64 * lat;
    format!(
        "at the server: {} requests over {:.2} s from the first arrival to the last answer, {:.1} of {concurrency} places busy on average; {:.2} s with fewer than {concurrency} in flight",
        log.len(),
        span_ms as f64 / 1000.0,
        busy_ms as f64 / span_ms.max(1) as f64,
        under_ms as f64 / 1000.0
    )
}

/// Child side (`--child-scale N SEEDED INSTANT EMPTY`): the no-op plan of the `n`
/// objects against `seeded` (50 ms) and `instant` (no latency: the client's own cost per
/// request), then the first apply against `empty`, at concurrency 16. Prints
/// `name=value` lines the parent reads.
pub async fn child(n: usize, seeded: &str, instant: &str, empty: &str) {
    let lat = LATENCY.as_secs_f64();
    let desired = load(generate(n));

    let c = client(seeded, 16);
    let t = Instant::now();
    let noop = plan_only(&c, &desired).await;
    let noop_s = t.elapsed().as_secs_f64();
    assert!(!noop.has_changes(), "seeded tenant should be in sync");
    drop(noop);
    let (requests, minimum) = noop_breakdown(&c, &desired);
    let floor = requests as f64 / 16.0 * lat;
    println!(
        "no-op plan at {n} objects: {noop_s:.2} s, {requests} requests ({minimum}); floor {floor:.2} s → {:.2}x (target ≤ 1.2x)",
        noop_s / floor
    );

    let c0 = client(instant, 16);
    let t = Instant::now();
    let noop0 = plan_only(&c0, &desired).await;
    let zero_s = t.elapsed().as_secs_f64();
    assert!(!noop0.has_changes());
    drop(noop0);
    let per_request_us = zero_s / c0.stats().total() as f64 * 1e6;
    println!(
        "  the same plan with no latency: {zero_s:.2} s = {per_request_us:.0} µs per request (client, emulator and diff on this machine's cores, concurrency 16); the 50 ms floor assumes 0"
    );

    let c = client(empty, 16);
    let t = Instant::now();
    let first = plan_only(&c, &desired).await;
    let report = immuta_gitops::apply::apply(&c, &first, &desired, &Default::default()).await;
    let apply_s = t.elapsed().as_secs_f64();
    assert!(report.is_success(), "apply failed: {:?}", report.counts());
    let apply_requests = c.stats().total();
    let apply_floor = apply_requests as f64 / 16.0 * lat;
    println!(
        "first apply at {n} objects (plan + apply, concurrency 16): {apply_s:.2} s, {apply_requests} requests; floor {apply_floor:.2} s → {:.2}x",
        apply_s / apply_floor
    );
    println!("noop_vs_floor={}", noop_s / floor);
    println!("apply_vs_floor={}", apply_s / apply_floor);
    println!("apply_s={apply_s}");
}
