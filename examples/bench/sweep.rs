//! `drift_sweep_peak_rps`: the data-source dry runs of a drift sweep sent through a
//! client paced by a `--dry-run-budget`, measured at the emulator (its request-time log):
//! the most dry runs that started in any one-second window, next to the budget's rate.

use std::path::Path;
use std::time::Instant;

use immuta_emulator::RequestRecord;
use immuta_gitops::client::pace::DEFAULT_BUDGET;
use immuta_gitops::client::{Budget, Pacer};
use immuta_gitops::live;
use immuta_gitops::manifest::DesiredSet;
use immuta_gitops::object::Kind;

use crate::{client, emulator_with, LATENCY};

/// The budget of the measured sweep: ten times the default, so the bench stays short.
pub const BENCH_BUDGET: &str = "3000/min";

/// The sweep's figures.
pub struct Sweep {
    pub peak: usize,
    pub budget: Budget,
}

/// The most records of `starts` (milliseconds, sorted) in any window of `window_ms`.
pub fn peak_in_window(starts: &[u64], window_ms: u64) -> usize {
    let mut peak = 0;
    let mut lo = 0;
    for (hi, &t) in starts.iter().enumerate() {
        while starts[lo] + window_ms <= t {
            lo += 1;
        }
        peak = peak.max(hi + 1 - lo);
    }
    peak
}

/// The start times of the data-source dry runs in `log`, sorted.
fn dry_run_starts(log: &[RequestRecord]) -> Vec<u64> {
    let mut v: Vec<u64> = log
        .iter()
        .filter(|r| r.method == "POST" && r.route == "/api/v2/data" && r.dry_run)
        .map(|r| r.millis)
        .collect();
    v.sort_unstable();
    v
}

/// The peak dry-run starts per second at `emu` since its log was last cleared, and the
/// number of dry runs seen.
fn measured_peak(emu: &immuta_emulator::Handle) -> (usize, usize) {
    let (log, dropped) = emu.emulator.request_log();
    assert_eq!(dropped, 0, "the request-time log overflowed");
    if std::env::var_os("BENCH_SWEEP_TRACE").is_some() {
        for r in &log {
            println!("{} {} {} {}", r.millis, r.method, r.route, r.dry_run);
        }
    }
    let starts = dry_run_starts(&log);
    (peak_in_window(&starts, 1000), starts.len())
}

/// Two sweeps of the seeded tenant through clients paced at [`BENCH_BUDGET`], at
/// concurrency 16: the live read of a plan (every data source dry-run, the lists and
/// the project reads beside them, as a drift check re-reads them), then the dry runs
/// alone. Returns the first (what a sweep sends); prints both.
pub async fn run(seed: &Path, desired: &DesiredSet) -> Sweep {
    let budget: Budget = BENCH_BUDGET.parse().unwrap();
    let rate = budget.per_second();
    let emu = emulator_with(LATENCY, Some(seed)).await;
    let data: Vec<_> = desired
        .objects
        .values()
        .filter(|m| m.key.kind == Kind::Data)
        .collect();

    let c = client(&emu.url(), 16).with_pacer(Pacer::new(budget));
    let t = Instant::now();
    let live = live::read_live(&c, desired, &[]).await.unwrap();
    let seconds = t.elapsed().as_secs_f64();
    assert_eq!(live.data.len(), data.len());
    let (peak, seen) = measured_peak(&emu);
    assert_eq!(seen, data.len(), "one dry run per data source");
    let verdict = if peak as f64 <= rate + 1.0 {
        "within the budget"
    } else {
        "EXCEEDS the budget"
    };
    println!(
        "drift sweep (live read of the plan) of {} data sources, paced at {budget} ({rate:.0}/s; a bench budget, 10x the default to keep this short), concurrency 16: {seconds:.1} s (floor {:.1} s); peak dry-run starts in any 1 s window at the emulator: {peak} — {verdict} ({rate:.0} + 1 slot at the window's edge)",
        data.len(),
        budget.time_for(data.len()).as_secs_f64()
    );

    emu.emulator.reset().unwrap();
    let alone = client(&emu.url(), 16).with_pacer(Pacer::new(budget));
    futures::future::join_all(
        data.iter()
            .map(|m| async { alone.upsert(&m.key, &m.body, true).await.unwrap() }),
    )
    .await;
    let (peak_alone, _) = measured_peak(&emu);
    emu.shutdown().await;
    println!(
        "  the dry runs alone through a paced client: peak {peak_alone} per second (the pacer's own bound: {:.0}); a gap between the two is dry runs that got their slot while the 16 in-flight places were taken by the project reads, then started together",
        rate + 1.0
    );
    println!(
        "  at the default budget {DEFAULT_BUDGET} a sweep of the {} data sources takes {:.0} s (computed: {} × {} ms)",
        data.len(),
        DEFAULT_BUDGET.time_for(data.len()).as_secs_f64(),
        data.len(),
        DEFAULT_BUDGET.spacing().as_millis()
    );
    Sweep { peak, budget }
}
