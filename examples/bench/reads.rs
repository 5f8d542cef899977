//! Step 1 (the no-op plan against its floor, the V1 data-source detail reads) and step 3
//! (parse + validate + diff, CPU only).

use std::path::Path;
use std::time::Instant;

use immuta_gitops::client::Client;
use immuta_gitops::live::{self, LiveObject, LiveSet};
use immuta_gitops::manifest::DesiredSet;
use immuta_gitops::object::Kind;
use immuta_gitops::plan;

use crate::workload::{every_connection_changed, generate, load};
use crate::{client, emulator_with, LATENCY};

/// Reads live state for `desired` and diffs: the plan stage alone, without a snapshot.
pub async fn plan_only(c: &Client, desired: &DesiredSet) -> plan::Plan {
    let live = live::read_live(c, desired, &[]).await.unwrap();
    plan::diff(desired, &live)
}

/// Step 1's figures.
pub struct Reads {
    pub noop_s: f64,
    pub floor_s: f64,
}

/// Requests of one client to the route template `endpoint`.
pub fn by_endpoint(c: &Client, endpoint: &str) -> u64 {
    c.stats()
        .snapshot()
        .iter()
        .filter(|((e, _), _)| e == endpoint)
        .map(|(_, n)| n)
        .sum()
}

/// The no-op figures of one plan: requests, the API minimum for the live read and its
/// parts, as printed.
pub fn noop_breakdown(c: &Client, desired: &DesiredSet) -> (u64, String) {
    let count = |kind: Kind| desired.objects.keys().filter(|k| k.kind == kind).count();
    let (data, projects) = (count(Kind::Data), count(Kind::Project));
    let lists = by_endpoint(c, "GET /policy/global")
        + by_endpoint(c, "GET /project")
        + by_endpoint(c, "GET /governance/purpose")
        + by_endpoint(c, "GET /dataSource");
    let min_requests = lists as usize + data + 2 * projects;
    (
        c.stats().total(),
        format!("API minimum for the live read: {min_requests} = {lists} list pages + {data} data dry runs + 2 × {projects} project reads"),
    )
}

/// Step 1: the no-op plan against its floor, then the V1 data-source reads (issue 13):
/// the same plan with `--refresh=full`, and a plan where every data source changed (its
/// dry run reports an update, so it is read for the field diff).
pub async fn data_source_reads(seed: &Path, desired: &DesiredSet, n: usize) -> Reads {
    let lat = LATENCY.as_secs_f64();
    let emu = emulator_with(LATENCY, Some(seed)).await;
    let noop_client = client(&emu.url(), 16);
    let t = Instant::now();
    let noop = plan_only(&noop_client, desired).await;
    let noop_s = t.elapsed().as_secs_f64();
    assert!(!noop.has_changes(), "seeded tenant should be in sync");
    let (requests, minimum) = noop_breakdown(&noop_client, desired);
    let floor_s = requests as f64 / 16.0 * lat;
    println!(
        "no-op reconcile: {noop_s:.2} s, {requests} requests ({minimum}; 0 data-source detail reads); floor {floor_s:.2} s → {:.2}x (target ≤ 1.5x)",
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
    let data = desired
        .objects
        .keys()
        .filter(|k| k.kind == Kind::Data)
        .count();

    let full_client = client(&emu.url(), 16);
    let t = Instant::now();
    let live = live::read_live_with(&full_client, desired, &[], live::Refresh::Full)
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
    let changed = load(every_connection_changed(n));
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

/// Parse + validate + diff of `n` generated manifests against a live set equal to them.
/// Returns (seconds, objects). Generating the files and building the live set (what the
/// live stage would return) are not timed.
pub fn parse_diff(n: usize) -> (f64, usize) {
    let files = generate(n);
    let t = Instant::now();
    let big = load(files);
    let load_s = t.elapsed().as_secs_f64();
    let mut live = LiveSet::default();
    for (k, m) in &big.objects {
        if k.kind == Kind::Data {
            live.data.insert(
                k.clone(),
                live::DataDryRun {
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
