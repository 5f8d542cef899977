//! `drift_sweep_peak_rps`: a drift sweep of an applied revision as the daemon runs it —
//! the sweepable keys (data sources and projects, sorted) in chunks of the budget's count,
//! each planned with `Scope::Recheck` through a client paced by the `--dry-run-budget` —
//! measured at the emulator (its request-time log): the most data-source dry runs that
//! started in any one-second window, next to the budget's rate.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Instant;

use immuta_emulator::RequestRecord;
use immuta_gitops::client::pace::DEFAULT_BUDGET;
use immuta_gitops::client::{Budget, Client, Pacer};
use immuta_gitops::cycle::{Reconciler, Scope, Settings};
use immuta_gitops::live::Refresh;
use immuta_gitops::object::Kind;
use immuta_gitops::plan::PlanScope;
use immuta_gitops::state::StateDir;

use crate::workload::{generate, snapshot};
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

/// The peak dry-run starts per second in `log`, and the number of dry runs seen.
fn measured_peak(log: &[RequestRecord]) -> (usize, usize) {
    if std::env::var_os("BENCH_SWEEP_TRACE").is_some() {
        for r in log {
            println!("{} {} {} {}", r.millis, r.method, r.route, r.dry_run);
        }
    }
    let starts = dry_run_starts(log);
    (peak_in_window(&starts, 1000), starts.len())
}

/// A reconciler on `c` with the state directory `state`.
fn reconciler(c: Client, state: &Path) -> Reconciler {
    Reconciler::new(Settings {
        client: c,
        prune: Default::default(),
        state: Some(StateDir::new(state)),
    })
    .unwrap()
}

/// The seeded tenant of `n` objects (seed directory `seed`), checked once in full and
/// recorded, then swept in `Scope::Recheck` chunks through a client paced at
/// [`BENCH_BUDGET`], concurrency 16; then the dry runs alone through a paced client.
/// Returns the sweep's figure; prints both.
pub async fn run(n: usize, seed: &Path, tmp: &Path) -> Sweep {
    let budget: Budget = BENCH_BUDGET.parse().unwrap();
    let rate = budget.per_second();
    let emu = emulator_with(LATENCY, Some(seed)).await;
    let env = BTreeMap::<String, String>::new();
    let state = tmp.join("state-sweep");
    let snap = snapshot(generate(n), "rev-0");

    let setup = reconciler(client(&emu.url(), 16), &state);
    let checked = setup.plan(&snap, &env).await.unwrap();
    assert!(
        !checked.plan.has_changes(),
        "seeded tenant should be in sync"
    );
    setup.record_check(&checked).unwrap();
    let keys = checked.sweepable();
    let data: Vec<_> = checked
        .desired
        .objects
        .values()
        .filter(|m| m.key.kind == Kind::Data)
        .map(|m| (m.key.clone(), m.body.clone()))
        .collect();

    let paced = reconciler(
        client(&emu.url(), 16).with_pacer(Pacer::new(budget)),
        &state,
    );
    let skip = emu.requests().len();
    let t = Instant::now();
    let chunk = usize::try_from(budget.count()).unwrap();
    let mut shapes = Vec::new();
    for part in keys.chunks(chunk) {
        let keys: BTreeSet<_> = part.iter().cloned().collect();
        let p = paced
            .plan_scoped(&snap, &env, Refresh::Changed, Scope::Recheck { keys })
            .await
            .unwrap();
        assert!(!p.plan.has_changes());
        let PlanScope::Incremental {
            planned, carried, ..
        } = p.scope
        else {
            panic!("a sweep chunk was not incremental: {:?}", p.scope);
        };
        shapes.push(format!("{planned} compared/{carried} carried"));
        paced.record_check(&p).unwrap();
    }
    let seconds = t.elapsed().as_secs_f64();
    let log = &emu.requests()[skip..];
    let (peak, seen) = measured_peak(log);
    assert_eq!(seen, data.len(), "one dry run per data source");
    let verdict = if peak as f64 <= rate + 1.0 {
        "within the budget"
    } else {
        "EXCEEDS the budget"
    };
    println!(
        "drift sweep of {} keys ({} data sources) in {} Recheck chunk(s) of ≤ {chunk} keys ({}), paced at {budget} ({rate:.0}/s; a bench budget, 10x the default to keep this short), concurrency 16: {seconds:.1} s, {} requests (floor of the dry runs {:.1} s); peak dry-run starts in any 1 s window at the emulator: {peak} — {verdict} ({rate:.0} + 1 slot at the window's edge)",
        keys.len(),
        data.len(),
        shapes.len(),
        shapes.join(", "),
        log.len(),
        budget.time_for(data.len()).as_secs_f64()
    );

    let skip = emu.requests().len();
    let alone = client(&emu.url(), 16).with_pacer(Pacer::new(budget));
    futures::future::join_all(
        data.iter()
            .map(|(key, body)| async { alone.upsert(key, body, true).await.unwrap() }),
    )
    .await;
    let (peak_alone, _) = measured_peak(&emu.requests()[skip..]);
    emu.shutdown().await;
    let limit = alone.concurrency_status();
    println!(
        "  the dry runs alone through a paced client: peak {peak_alone} per second (the pacer's own bound: {:.0}; adaptive limit now {} of {}, {} decreases)",
        rate + 1.0,
        limit.limit,
        limit.max,
        limit.decreases
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
