//! `commit_1_requests`: the cost of a commit that changes one policy, after a full apply
//! with a state directory. The full plan of today's CLI reads the whole tenant again; the
//! incremental plan (`Scope::Changed`) reads only the bulk lists and what changed.
//! Requests are counted twice: by the client (every attempt, by route template) and at
//! the emulator (its request-time log, by method, route and dryRun).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use immuta_emulator::{Handle, RequestRecord};
use immuta_gitops::client::Client;
use immuta_gitops::cycle::{Reconciler, Scope, Settings};
use immuta_gitops::live::Refresh;
use immuta_gitops::plan::PlanScope;
use immuta_gitops::state::StateDir;
use tokio_util::sync::CancellationToken;

use crate::workload::{change_policy, generate, snapshot};
use crate::{client, emulator_with, LATENCY};

/// No template inputs in the workload.
fn env() -> BTreeMap<String, String> {
    BTreeMap::new()
}

/// Requests sent since `before` (a snapshot of the client's stats), by route template.
fn client_delta(c: &Client, before: &BTreeMap<(String, String), u64>) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for ((endpoint, status), n) in c.stats().snapshot() {
        let d = n - before
            .get(&(endpoint.clone(), status))
            .copied()
            .unwrap_or(0);
        if d > 0 {
            *out.entry(endpoint).or_insert(0) += d;
        }
    }
    out
}

/// The emulator's records after the first `skip`, by method, route and dry run.
fn server_breakdown(log: &[RequestRecord], skip: usize) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for r in log.iter().skip(skip) {
        let dry = if r.dry_run { "?dryRun=true" } else { "" };
        *out.entry(format!("{} {}{dry}", r.method, r.route))
            .or_insert(0) += 1;
    }
    out
}

fn show(m: &BTreeMap<String, u64>) -> String {
    m.iter()
        .map(|(e, n)| format!("{e} ×{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A measured step: requests by the client and at the server.
struct Counted {
    client: BTreeMap<String, u64>,
    server: BTreeMap<String, u64>,
    seconds: f64,
}

impl Counted {
    fn total(&self) -> u64 {
        self.client.values().sum()
    }
}

/// Runs `step`, counting what it sends through `c` to `emu`.
async fn counted<T>(
    c: &Client,
    emu: &Handle,
    step: impl std::future::Future<Output = T>,
) -> (T, Counted) {
    let before = c.stats().snapshot();
    let skip = emu.requests().len();
    let t = Instant::now();
    let out = step.await;
    let seconds = t.elapsed().as_secs_f64();
    let counted = Counted {
        client: client_delta(c, &before),
        server: server_breakdown(&emu.requests(), skip),
        seconds,
    };
    assert_eq!(
        counted.total(),
        counted.server.values().sum::<u64>(),
        "the client and the emulator count the same requests"
    );
    (out, counted)
}

/// The first full apply of `n` objects with a state directory under `tmp`, then the
/// commit that changes one policy: planned in full (today's CLI) and incrementally.
/// Returns the requests of the incremental plan + apply, as the summary shows them.
/// Panics unless the commit is planned incrementally and writes exactly one object.
pub async fn commit_1(n: usize, tmp: &Path) -> String {
    let emu = emulator_with(LATENCY, None).await;
    let c = client(&emu.url(), 16);
    let state = tmp.join("state-commit");
    let rec = Reconciler::new(Settings {
        client: c.clone(),
        prune: Default::default(),
        state: Some(StateDir::new(&state)),
    })
    .unwrap();

    let rev0 = snapshot(generate(n), "rev-0");
    let (_, first) = counted(&c, &emu, async {
        let planned = rec.plan(&rev0, &env()).await.unwrap();
        let applied = rec.apply(&planned, CancellationToken::new()).await;
        assert!(applied.report.is_success(), "first apply failed");
        assert!(applied.objects_error.is_none());
    })
    .await;
    println!(
        "commit_1: first full apply of {n} objects with a state directory: {} requests, {:.2} s",
        first.total(),
        first.seconds
    );

    let mut files = generate(n);
    change_policy(&mut files, 0, 49);
    let rev1 = snapshot(files.clone(), "rev-1");
    let (changes, full) = counted(&c, &emu, async {
        let planned = rec.plan(&rev1, &env()).await.unwrap();
        let s = planned.plan.summary();
        (s.add, s.change, s.destroy)
    })
    .await;
    assert_eq!(changes, (0, 1, 0), "the commit changes one object");
    println!(
        "  the commit, full plan (today's CLI default): {} requests, {:.2} s — {}",
        full.total(),
        full.seconds,
        show(&full.client)
    );

    // The same commit, planned incrementally from the state directory and applied.
    let incr = incremental_commit(&rec, &c, &emu, &rev1, "right after the first apply").await;

    // A drift check records every object as compared now (projects with their ids,
    // which a create does not tell), then the next one-policy commit.
    let (_, check) = counted(&c, &emu, async {
        let planned = rec.plan(&rev1, &env()).await.unwrap();
        assert!(!planned.plan.has_changes());
        rec.record_check(&planned).unwrap();
    })
    .await;
    println!(
        "  a full drift check of the tenant, recorded (record_check): {} requests",
        check.total()
    );
    change_policy(&mut files, 1, 48);
    let rev2 = snapshot(files, "rev-2");
    let checked = incremental_commit(&rec, &c, &emu, &rev2, "after a recorded check").await;
    println!(
        "  → commit_1_requests = {} right after the first apply, {} after a recorded check (target ≤ 10; the full plan of the same commit: {})",
        incr.total(),
        checked.total(),
        full.total()
    );
    emu.shutdown().await;
    format!(
        "{} ({} after a recorded check)",
        incr.total(),
        checked.total()
    )
}

/// Plans `rev` with `Scope::Changed` and applies it; checks that it was incremental and
/// wrote one object; prints and returns what it sent.
async fn incremental_commit(
    rec: &Reconciler,
    c: &Client,
    emu: &Handle,
    rev: &immuta_gitops::source::Snapshot,
    when: &str,
) -> Counted {
    let skip = emu.requests().len();
    let writes_before = emu.emulator.write_log().len();
    let (scope, incr) = counted(c, emu, async {
        let planned = rec
            .plan_scoped(
                rev,
                &env(),
                Refresh::Changed,
                Scope::Changed {
                    max_age: Duration::from_secs(3600),
                },
            )
            .await
            .unwrap();
        let s = planned.plan.summary();
        assert_eq!((s.add, s.change, s.destroy), (0, 1, 0));
        let applied = rec.apply(&planned, CancellationToken::new()).await;
        assert!(applied.report.is_success(), "the commit's apply failed");
        planned.scope
    })
    .await;
    let PlanScope::Incremental {
        planned, carried, ..
    } = scope
    else {
        panic!("the commit was not planned incrementally: {scope:?}");
    };
    let writes: Vec<_> = emu.emulator.write_log()[writes_before..]
        .iter()
        .filter(|w| !w.dry_run && w.status < 300)
        .map(|w| format!("{} {} {}", w.method, w.path, w.key))
        .collect();
    assert_eq!(writes.len(), 1, "one object written: {writes:?}");
    println!(
        "  the commit {when}, incremental plan (Scope::Changed) + apply: {} requests, {:.2} s ({planned} objects compared, {carried} carried) — client: {}; at the emulator ({} arrivals): {}; real writes: {}",
        incr.total(),
        incr.seconds,
        show(&incr.client),
        emu.requests().len() - skip,
        show(&incr.server),
        writes.join(", ")
    );
    incr
}
