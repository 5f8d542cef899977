//! Step 2: the first full apply (plan + apply) against an empty tenant, the sequential
//! one-request-per-file loop it is compared with, and the apply under throttling.

use std::time::{Duration, Instant};

use immuta_emulator::Options;
use immuta_gitops::apply;
use immuta_gitops::manifest::DesiredSet;
use immuta_gitops::object::Kind;

use crate::reads::plan_only;
use crate::{client, emulator_opts, emulator_with, LATENCY};

/// One apply run.
pub struct ApplyRun {
    pub seconds: f64,
    pub requests: u64,
    /// Objects written (applied), of `planned` changes.
    pub applied: usize,
    pub planned: usize,
}

impl ApplyRun {
    /// Objects applied per second.
    pub fn throughput(&self) -> f64 {
        self.applied as f64 / self.seconds
    }
}

/// Plan + apply of `desired` against an empty tenant at `concurrency`.
pub async fn first_apply(desired: &DesiredSet, concurrency: usize) -> ApplyRun {
    first_apply_on(desired, concurrency, Options::default()).await
}

/// Plan + apply of `desired` against an empty emulator made with `opts` (latency
/// [`LATENCY`], the bench key), at `concurrency`. Panics when the plan cannot be read;
/// the apply's failures are counted, not fatal (the throttled run may exhaust retries).
pub async fn first_apply_on(desired: &DesiredSet, concurrency: usize, opts: Options) -> ApplyRun {
    let emu = emulator_opts(Options {
        latency: LATENCY,
        ..opts
    })
    .await;
    let c = client(&emu.url(), concurrency);
    let t = Instant::now();
    let first_plan = plan_only(&c, desired).await;
    let report = apply::apply(&c, &first_plan, desired, &Default::default()).await;
    let seconds = t.elapsed().as_secs_f64();
    emu.shutdown().await;
    let (applied, failed, skipped) = report.counts();
    if failed + skipped > 0 {
        println!("  (apply: {applied} applied, {failed} failed, {skipped} skipped)");
    }
    let limit = c.concurrency_status();
    if limit.decreases > 0 {
        println!(
            "  (adaptive limit: {} of {} at the end, {} decreases, {} increases)",
            limit.limit, limit.max, limit.decreases, limit.increases
        );
    }
    ApplyRun {
        seconds,
        requests: c.stats().total(),
        applied,
        planned: first_plan.changes.len(),
    }
}

/// The apply of `desired` requires every object written.
pub fn assert_complete(run: &ApplyRun) {
    assert_eq!(run.applied, run.planned, "apply failed");
}

/// The sequential loop: one POST per object at concurrency 1, no plan (the CLI's way).
/// Returns (seconds, requests).
pub async fn sequential(desired: &DesiredSet) -> (f64, u64) {
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
    (seq_s, seq_requests)
}

/// The throttled figure: `throttled_throughput` = objects applied per second with 30 %
/// of the answers a 429 with `Retry-After: 1`, ÷ the same without throttling.
pub struct Throttled {
    pub ratio: f64,
}

/// The first apply of `desired` at concurrency 16 with `throttle_rate` 0.3 (fixed dice
/// seed), next to `clean` (the same apply unthrottled).
pub async fn throttled(desired: &DesiredSet, clean: &ApplyRun) -> Throttled {
    let run = first_apply_on(
        desired,
        16,
        Options {
            throttle_rate: 0.3,
            rng_seed: 15,
            ..Options::default()
        },
    )
    .await;
    let ratio = run.throughput() / clean.throughput();
    println!(
        "throttled apply (throttle_rate 0.3: 429 + Retry-After: 1, concurrency 16): {:.2} s, {} requests (every attempt), {}/{} objects applied → {:.1} objects/s vs {:.1} objects/s unthrottled → throttled_throughput {ratio:.3}",
        run.seconds,
        run.requests,
        run.applied,
        run.planned,
        run.throughput(),
        clean.throughput()
    );
    println!(
        "  (a 429 costs its 50 ms plus at least the 1 s Retry-After; at 30 % each request needs 1 ÷ 0.7 = 1.43 attempts, so at a fixed concurrency the floor ratio is 50 ms ÷ (50 ms + 0.43 × 1.05 s) = {:.3})",
        throttle_floor_ratio(0.3, LATENCY, Duration::from_secs(1))
    );
    Throttled { ratio }
}

/// The best throughput ratio a fixed concurrency allows when a fraction `rate` of the
/// answers is a 429 waited out for `retry_after`: each request costs `latency` per
/// attempt plus `retry_after` per throttled one.
fn throttle_floor_ratio(rate: f64, latency: Duration, retry_after: Duration) -> f64 {
    let lat = latency.as_secs_f64();
    let retries = rate / (1.0 - rate);
    lat / (lat + retries * (lat + retry_after.as_secs_f64()))
}
