//! No perpetual diff, by property test: generated tenants (valid manifests of all four
//! kinds, references resolving) are applied to the emulator over HTTP on 127.0.0.1 with a
//! small page cap; then the next plan must have no changes, and a second apply must make
//! no write at all (counted in `GET /_emulator/writes`). Each tenant is then applied with
//! one free-text value changed ([`gen::Tenant::mutated`]), which must plan an update of
//! that object and of no other, and then with its optional fields left out
//! ([`gen::Tenant::stripped`]); it must converge the same way after each.
//!
//! Seeded and deterministic: [`SEED`] fixes the generator, nothing is persisted. A failure
//! prints the seed, why, and the minimal tenant as YAML files. `CONVERGE_CASES` overrides
//! the number of tenants (default [`CASES`]); `CONVERGE_SEED` (64 hex digits) the seed.

use crate::common;
mod coverage;
mod data_gen;
mod gen;
mod policy_gen;
mod regress;
mod shrink;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use immuta_emulator::{Handle, Options};
use immuta_gitops::client::{Client, ClientConfig};
use immuta_gitops::manifest;
use immuta_gitops::plan::render;
use immuta_gitops::redact::Secret;
use immuta_gitops::source::{FileEntry, Snapshot};
use proptest::test_runner::{
    Config as ProptestConfig, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner,
};

/// Tenants generated per `cargo test`.
const CASES: u32 = 500;

/// The generator's seed (ChaCha, 32 bytes).
const SEED: [u8; 32] = *b"immuta-gitops converge seed 0001";

/// The page cap every emulator of this test runs with: most lists take several pages.
pub const PAGE_CAP: usize = 7;

/// Values for every `{{EnvVar}}` the generator may write.
pub fn secret_env() -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    for i in 0..data_gen::MAX_DATA {
        for what in ["PASSWORD", "KEY"] {
            env.insert(
                format!("SECRET_{i}_{what}"),
                format!("s3cret {what} {i} ünïcode"),
            );
        }
    }
    env
}

/// Starts an emulator seeded with the remote catalog in `seed`.
pub async fn emulator(seed: &Path) -> Handle {
    common::emulator_with(
        Options {
            seed: Some(seed.to_path_buf()),
            ..Default::default()
        }
        .with_max_page_size(PAGE_CAP),
    )
    .await
}

/// A seed directory holding only the generator's remote catalog.
pub fn catalog_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("remote.yaml"),
        data_gen::remote_yaml(data_gen::MAX_DATA),
    )
    .expect("write remote.yaml");
    dir
}

/// Non-dry-run write requests in the emulator's log, read over HTTP.
async fn writes(http: &reqwest::Client, url: &str) -> Result<Vec<serde_json::Value>, String> {
    let log: Vec<serde_json::Value> = http
        .get(format!("{url}/_emulator/writes"))
        .send()
        .await
        .map_err(|e| format!("GET /_emulator/writes: {e}"))?
        .json()
        .await
        .map_err(|e| format!("GET /_emulator/writes: {e}"))?;
    Ok(log
        .into_iter()
        .filter(|w| w["dry_run"] != serde_json::Value::Bool(true))
        .collect())
}

fn plan_text(plan: &immuta_gitops::plan::Plan) -> String {
    let mut out = Vec::new();
    let _ = render::text(plan, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// One emulator and one client for every case of a test process (building a client
/// sets up TLS, which costs more than a whole case); [`Harness::converges`] resets the
/// emulator before each tenant.
pub struct Harness {
    emu: Handle,
    client: Client,
    http: reqwest::Client,
    env: BTreeMap<String, String>,
    _catalog: tempfile::TempDir,
}

impl Harness {
    /// Starts the emulator with the generator's catalog and the page cap.
    pub async fn start() -> Harness {
        let catalog = catalog_dir();
        let emu = emulator(catalog.path()).await;
        // The client asks for its usual page size; the server answers at most PAGE_CAP.
        let cfg = ClientConfig::new(emu.url(), Secret::new(common::KEY.to_string()));
        Harness {
            client: Client::new(cfg).expect("client"),
            emu,
            http: reqwest::Client::new(),
            env: secret_env(),
            _catalog: catalog,
        }
    }

    /// Resets the emulator, then applies each revision of `revisions` in turn and checks
    /// after each that the tenant converged: the next plan is empty and a second apply
    /// writes nothing. The message names the revision (1-based) that did not converge.
    pub async fn converges(&self, revisions: &[gen::Revision]) -> Result<(), String> {
        self.emu
            .emulator
            .reset()
            .map_err(|e| format!("emulator reset failed: {e}"))?;
        for (n, rev) in revisions.iter().enumerate() {
            self.revision(rev)
                .await
                .map_err(|why| format!("revision {}: {why}", n + 1))?;
        }
        Ok(())
    }

    async fn revision(&self, rev: &gen::Revision) -> Result<(), String> {
        let files = &rev.files;
        let snapshot = Snapshot::new(
            "generated",
            "generated-revision",
            files
                .iter()
                .map(|(p, y)| (p.clone(), FileEntry::Blob(y.clone().into_bytes())))
                .collect(),
        );
        let desired = manifest::load(&snapshot, &self.env).map_err(|ds| {
            let lines: Vec<String> = ds.iter().map(ToString::to_string).collect();
            format!("the generated manifests are invalid:\n{}", lines.join("\n"))
        })?;
        if !desired.warnings.is_empty() {
            let lines: Vec<String> = desired.warnings.iter().map(ToString::to_string).collect();
            return Err(format!(
                "the generated manifests draw warnings:\n{}",
                lines.join("\n")
            ));
        }
        let client = self.client.clone().with_secrets(&desired.redactor);
        let url = self.emu.url();
        let before = writes(&self.http, &url).await?.len();

        let first = plan_allowing_table_removals(&client, &desired)
            .await
            .map_err(|e| format!("first plan failed: {e}"))?;
        if let Some(want) = &rev.changes {
            let writes: Vec<String> = first
                .changes
                .iter()
                .filter(|c| c.action.is_write())
                .map(|c| c.key.to_string())
                .collect();
            if writes != [want.clone()] {
                return Err(format!(
                    "a changed value in {want} planned writes to {writes:?}:\n{}",
                    plan_text(&first)
                ));
            }
        }
        let report =
            immuta_gitops::apply::apply(&client, &first, &desired, &Default::default()).await;
        if !report.is_success() {
            let mut out = Vec::new();
            let _ = report.render_text(&mut out);
            return Err(format!(
                "the first apply failed:\n{}\nplan:\n{}",
                String::from_utf8_lossy(&out),
                plan_text(&first)
            ));
        }
        let applied = writes(&self.http, &url).await?.len();
        if first.has_changes() && applied == before {
            return Err(format!(
                "the first apply wrote nothing for a plan with changes:\n{}",
                plan_text(&first)
            ));
        }

        let second = plan_allowing_table_removals(&client, &desired)
            .await
            .map_err(|e| format!("second plan failed: {e}"))?;
        if second.has_changes() {
            return Err(format!(
                "perpetual diff: the plan after apply has changes:\n{}",
                plan_text(&second)
            ));
        }
        let again =
            immuta_gitops::apply::apply(&client, &second, &desired, &Default::default()).await;
        let after = writes(&self.http, &url).await?;
        if after.len() != applied || !again.is_success() {
            return Err(format!(
                "the second apply wrote {} time(s): {:?}",
                after.len() - applied.min(after.len()),
                after.get(applied..).unwrap_or_default()
            ));
        }
        Ok(())
    }
}

/// The plan with every generated data source allowed to drop or replace its tables (a
/// later revision may rename them): what is tested here is convergence, not the guard
/// that refuses table removals by default (`tests/it/table_removal.rs`).
async fn plan_allowing_table_removals(
    client: &Client,
    desired: &manifest::DesiredSet,
) -> Result<immuta_gitops::plan::Plan, Box<dyn std::error::Error>> {
    let prune = immuta_gitops::plan::prune::PruneOptions {
        allow_table_removal: desired
            .objects
            .keys()
            .filter(|k| k.kind == immuta_gitops::object::Kind::Data)
            .map(|k| k.name.clone())
            .collect(),
        max_deletions: usize::MAX,
        ..Default::default()
    };
    let live = immuta_gitops::live::read_live(client, desired, &[]).await?;
    let mut plan = immuta_gitops::plan::diff(desired, &live);
    immuta_gitops::plan::prune::add_deletes(&mut plan, desired, &live, None, &prune)?;
    Ok(plan)
}

fn seed() -> [u8; 32] {
    let Ok(hex) = std::env::var("CONVERGE_SEED") else {
        return SEED;
    };
    let bytes = hex::decode(hex.trim()).expect("CONVERGE_SEED is 64 hex digits");
    bytes.try_into().expect("CONVERGE_SEED is 64 hex digits")
}

#[test]
fn generated_tenants_converge_after_one_apply() {
    let cases = std::env::var("CONVERGE_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(CASES);
    let seed = seed();
    let config = ProptestConfig {
        cases,
        failure_persistence: None,
        max_shrink_iters: 64,
        ..ProptestConfig::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let harness = rt.block_on(Harness::start());
    let runs = AtomicUsize::new(0);
    let seen = std::sync::Mutex::new(std::collections::BTreeSet::new());
    let paged: [AtomicUsize; 4] = Default::default();
    let started = std::time::Instant::now();
    let result = runner.run(&gen::tenant(), |tenant| {
        runs.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut seen) = seen.lock() {
            coverage::record(&tenant, &mut seen);
        }
        for (n, long) in paged.iter().zip(tenant.longer_than(PAGE_CAP)) {
            if long {
                n.fetch_add(1, Ordering::Relaxed);
            }
        }
        rt.block_on(harness.converges(&tenant.revisions()))
            .map_err(TestCaseError::fail)
    });
    let paged: Vec<usize> = paged.iter().map(|n| n.load(Ordering::Relaxed)).collect();
    eprintln!(
        "converge: {} tenant(s) run in {:.1?} (seed {}); lists longer than a page of {PAGE_CAP}: \
         purposes in {}, policies in {}, projects in {}, a project's data sources in {}",
        runs.load(Ordering::Relaxed),
        started.elapsed(),
        hex::encode(seed),
        paged[0],
        paged[1],
        paged[2],
        paged[3],
    );
    match result {
        Ok(()) => {}
        Err(TestError::Fail(why, mut tenant)) => {
            tenant.pin_mutation();
            let (tenant, why) = shrink::minimise(tenant, why.to_string(), 1500, &mut |t| {
                rt.block_on(harness.converges(&t.revisions()))
            });
            panic!(
                "a generated tenant did not converge (CONVERGE_SEED={}):\n{why}\n\nminimal tenant:\n{}",
                hex::encode(seed),
                tenant.yaml()
            )
        }
        Err(TestError::Abort(why)) => panic!("property test aborted: {why}"),
    }
    let seen = seen.into_inner().unwrap_or_default();
    let missing = coverage::missing(&seen);
    assert!(
        missing.is_empty() || cases < CASES,
        "the generated tenants never held: {missing:?}"
    );
    assert!(
        paged.iter().all(|n| *n > 0) || cases < CASES,
        "some list was never longer than a page: {paged:?}"
    );
}
