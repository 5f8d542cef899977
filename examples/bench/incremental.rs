//! `commit_1_requests`: the cost of a commit that changes one policy, after a full apply
//! with a state directory. The full plan of today's CLI reads the whole tenant again; the
//! incremental plan (`Scope::Changed`) reads only the bulk lists and what changed.
//! Requests are counted twice: by the client (every attempt, by route template) and at
//! the emulator (its request-time log, by method, route and dryRun).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use immuta_emulator::{Handle, RequestRecord};
use immuta_gitops::client::Client;
use immuta_gitops::cycle::{Reconciler, Settings};
use immuta_gitops::state::StateDir;
use tokio_util::sync::CancellationToken;

use crate::workload::{commit_one_policy, generate, snapshot};
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
    commit_one_policy(&mut files);
    let rev1 = snapshot(files, "rev-1");
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
    emu.shutdown().await;
    // The incremental plan (`Scope::Changed`) is not on this branch yet.
    format!("not-measured(full_plan={})", full.total())
}
