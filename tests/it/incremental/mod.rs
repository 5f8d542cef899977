//! Incremental plans (issue 15): `--refresh=changed` and `Reconciler::plan_scoped` read
//! from Immuta only what changed since the last check recorded in the state directory.
//!
//! The tenant: the demo (3 connections, 12 policies, 3 projects, 4 purposes) plus 8
//! purposes, 6 projects and 4 policies added in Git: 40 objects. Requests are counted on
//! the client (every attempt, by endpoint) and in the emulator's write log (which tells
//! a dry run from a write).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use immuta_emulator::Handle;
use immuta_gitops::client::{Client, ClientConfig};
use immuta_gitops::cycle::{PruneSettings, Reconciler, Scope, Settings};
use immuta_gitops::live::Refresh;
use immuta_gitops::object::Kind;
use immuta_gitops::plan::{Action, PlanScope};
use immuta_gitops::redact::Secret;
use immuta_gitops::source::SourceSpec;
use immuta_gitops::state::StateDir;

use crate::common::{DemoTenant, TestRepo, KEY};

mod fallback;
mod inputs;
mod saved;

/// Data sources and projects of the tenant: what an incremental plan can carry.
pub const CARRIABLE: usize = 3 + 9;
/// Policies and purposes: compared every plan (the bulk lists bring them whole).
pub const LISTED: usize = 16 + 12;

/// The tenant, its repository and the state directory.
pub struct Tenant {
    pub emu: Handle,
    pub repo: TestRepo,
    pub state: PathBuf,
    /// Placeholder name → value, as the manifests are templated.
    pub env: BTreeMap<String, String>,
    pub prune: BTreeSet<Kind>,
    _tmp: tempfile::TempDir,
    cache: tempfile::TempDir,
}

/// The files added to the demo: 8 purposes, 6 projects (one describing itself with
/// `{{ReadFile}}`), 4 policies.
fn extra_files() -> Vec<(String, String)> {
    let mut files = Vec::new();
    for i in 1..=8 {
        files.push((
            format!("purpose/extra-{i}.yaml"),
            format!("name: Extra Purpose {i}\ndescription: Extra purpose number {i}\n"),
        ));
    }
    for i in 1..=6 {
        let description = if i == 1 {
            "'{{ReadFile \"../notes/extra-1.txt\"}}'".to_string()
        } else {
            format!("Extra project {i}")
        };
        files.push((
            format!("project/extra-{i}.yaml"),
            format!(
                "projectKey: extra-{i}\nname: Extra Project {i}\ndescription: {description}\nsubscriptionPolicy:\n  type: anyone\npurposes:\n  - Extra Purpose {i}\n"
            ),
        ));
    }
    files.push(("notes/extra-1.txt".into(), "Notes, first version".into()));
    for i in 1..=4 {
        files.push((format!("policy/extra-mask-{i}.yaml"), mask_policy(i, "XXX")));
    }
    files
}

/// A masking policy on its own column tag.
pub fn mask_policy(i: usize, replacement: &str) -> String {
    format!(
        "name: Extra Mask {i}\npolicyKey: extra-mask-{i}\ntype: data\nactions:\n- rules:\n  - type: Masking\n    config:\n      fields:\n      - type: columnTags\n        columnTag: Extra.Tag{i}\n      maskingConfig:\n        type: Constant\n        constant: \"{replacement}\"\ncircumstances:\n- type: columnTags\n  columnTag: Extra.Tag{i}\n"
    )
}

impl Tenant {
    /// The demo tenant with the extra objects, applied once with a full plan.
    pub async fn applied(overrides: &[(&str, &str)]) -> Tenant {
        let DemoTenant {
            emu,
            tmp,
            repo,
            secrets,
            ..
        } = DemoTenant::start().await;
        let files = extra_files();
        let refs: Vec<(&str, Option<&str>)> = files
            .iter()
            .map(|(p, c)| (p.as_str(), Some(c.as_str())))
            .collect();
        repo.commit(&refs);
        let mut env: BTreeMap<String, String> = secrets.into_iter().collect();
        for (k, v) in overrides {
            env.insert(k.to_string(), v.to_string());
        }
        let t = Tenant {
            emu,
            repo,
            state: tmp.path().join("state"),
            env,
            prune: BTreeSet::new(),
            _tmp: tmp,
            cache: tempfile::tempdir().unwrap(),
        };
        let (r, planned) = t.plan(Scope::Full).await;
        assert_eq!(planned.desired.objects.len(), 40);
        let applied = r.apply(&planned, Default::default()).await;
        assert!(applied.report.is_success(), "{:#?}", applied.report);
        assert!(applied.objects_error.is_none());
        t
    }

    /// A reconciler with a fresh client (so its request counts are this plan's).
    pub fn reconciler(&self) -> Reconciler {
        let client = Client::new(ClientConfig::new(self.emu.url(), Secret::new(KEY))).unwrap();
        Reconciler::new(Settings {
            client,
            prune: PruneSettings {
                kinds: self.prune.clone(),
                ..PruneSettings::default()
            },
            state: Some(StateDir::new(&self.state)),
        })
        .unwrap()
    }

    /// Fetches the repository and plans with `scope`.
    pub async fn plan(&self, scope: Scope) -> (Reconciler, immuta_gitops::cycle::Planned) {
        let r = self.reconciler();
        let snapshot = Reconciler::fetch(&SourceSpec {
            repo: self.repo.url(),
            cache_dir: self.cache.path().to_path_buf(),
            ..Default::default()
        })
        .await
        .unwrap();
        let planned = r
            .plan_scoped(&snapshot, &self.env, Refresh::Changed, scope)
            .await
            .unwrap_or_else(|e| panic!("plan failed: {e:#}"));
        (r, planned)
    }

    /// The emulator's write log length (dry runs included), to count from.
    pub fn mark(&self) -> usize {
        self.emu.emulator.write_log().len()
    }

    /// `(dry runs, writes)` the emulator received since `mark`.
    pub fn writes_since(&self, mark: usize) -> (usize, usize) {
        let log = self.emu.emulator.write_log();
        let new = log.get(mark..).unwrap_or_default();
        let dry = new.iter().filter(|w| w.dry_run).count();
        (dry, new.len() - dry)
    }

    /// `objects.json` as written.
    pub fn records(&self) -> String {
        std::fs::read_to_string(self.state.join("objects.json")).unwrap()
    }
}

/// Requests by endpoint template (every status).
pub fn requests(r: &Reconciler) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for ((endpoint, _), n) in r.client().stats().snapshot() {
        *out.entry(endpoint).or_insert(0) += n;
    }
    out
}

/// The scope of an incremental plan, as `(planned, carried)`.
pub fn incremental(scope: &PlanScope) -> (usize, usize) {
    match scope {
        PlanScope::Incremental {
            planned, carried, ..
        } => (*planned, *carried),
        other => panic!("not incremental: {other:?}"),
    }
}

pub fn changed() -> Scope {
    Scope::Changed {
        max_age: Duration::from_secs(3600),
    }
}

/// The four bulk lists, each read in pages (capped at 7 per page in the tests).
const LISTS: [&str; 4] = [
    "GET /policy/global",
    "GET /project",
    "GET /governance/purpose",
    "GET /dataSource",
];

/// Only the bulk lists and `writes` were sent: no dry run, no project read.
fn assert_lists_and(reqs: &BTreeMap<String, u64>, writes: &[(&str, u64)]) {
    for (endpoint, n) in reqs {
        let listed = LISTS.contains(&endpoint.as_str());
        let written = writes.iter().any(|(e, w)| e == endpoint && w == n);
        assert!(listed || written, "unexpected {n} x {endpoint}: {reqs:#?}");
    }
    for l in LISTS {
        assert!(
            reqs.get(l).copied().unwrap_or(0) >= 1,
            "{l} not read: {reqs:#?}"
        );
    }
    for (e, n) in writes {
        assert_eq!(reqs.get(*e).copied().unwrap_or(0), *n, "{e}: {reqs:#?}");
    }
}

/// A commit that changes one policy plans and writes that policy alone: the bulk lists
/// and one write, no data-source dry run, no project read; then a commit that changes
/// one connection costs one dry run and one write.
#[tokio::test(flavor = "multi_thread")]
async fn issue_15_a_one_object_commit_reads_and_writes_one_object() {
    let t = Tenant::applied(&[]).await;
    // Nothing changed: every data source and project carried, nothing written.
    let (r, planned) = t.plan(changed()).await;
    assert_eq!(incremental(&planned.scope), (LISTED, CARRIABLE));
    assert!(!planned.plan.has_changes(), "{:#?}", planned.plan);
    let idle = requests(&r);
    assert_lists_and(&idle, &[]);
    let lists: u64 = idle.values().sum();
    // The same tenant planned in full: every connection dry-run, every project read.
    let (r, _) = t.plan(Scope::Full).await;
    let full = requests(&r);
    assert_eq!(full.get("POST /api/v2/data"), Some(&3), "{full:#?}");
    assert_eq!(full.get("GET /project/{id}"), Some(&9), "{full:#?}");
    assert_eq!(full.get("GET /project/{id}/dataSources"), Some(&9));
    println!(
        "no-op plan: {lists} requests incremental, {} full",
        full.values().sum::<u64>()
    );

    t.repo
        .commit(&[("policy/extra-mask-2.yaml", Some(&mask_policy(2, "changed")))]);
    let mark = t.mark();
    let (r, planned) = t.plan(changed()).await;
    assert_eq!(incremental(&planned.scope), (LISTED, CARRIABLE));
    let writes: Vec<String> = planned
        .plan
        .changes
        .iter()
        .filter(|c| c.action.is_write())
        .map(|c| format!("{} {}", c.action, c.key))
        .collect();
    assert_eq!(writes, ["update policy/extra-mask-2"]);
    assert!(planned
        .plan
        .changes
        .iter()
        .all(|c| c.action != Action::Delete));
    let applied = r.apply(&planned, Default::default()).await;
    assert!(applied.report.is_success(), "{:#?}", applied.report);
    assert_eq!(t.writes_since(mark), (0, 1));
    let reqs = requests(&r);
    assert_lists_and(&reqs, &[("POST /api/v2/policy", 1)]);
    assert_eq!(reqs.values().sum::<u64>(), lists + 1, "{reqs:#?}");
    println!(
        "one-policy commit: {} requests ({lists} list pages + 1 write)",
        lists + 1
    );

    // One connection changed: its dry run (and, as the dry run reports a change, its V1
    // detail reads), one write.
    let data = std::fs::read_to_string(t.repo.dir.join("data/acme-redshift-finance.yaml")).unwrap();
    let data = data.replace(
        "- Member.Status",
        "- Member.Status\n            - Finance.Changed",
    );
    assert!(data.contains("Finance.Changed"));
    t.repo
        .commit(&[("data/acme-redshift-finance.yaml", Some(&data))]);
    let mark = t.mark();
    let (r, planned) = t.plan(changed()).await;
    assert_eq!(incremental(&planned.scope), (LISTED + 1, CARRIABLE - 1));
    let writes: Vec<String> = planned
        .plan
        .changes
        .iter()
        .filter(|c| c.action.is_write())
        .map(|c| format!("{} {}", c.action, c.key))
        .collect();
    assert_eq!(writes, ["update data/acme-redshift-finance"]);
    let applied = r.apply(&planned, Default::default()).await;
    assert!(applied.report.is_success(), "{:#?}", applied.report);
    assert_eq!(t.writes_since(mark), (1, 1), "one dry run, one write");
    let reqs = requests(&r);
    assert!(!reqs.contains_key("GET /project/{id}"), "{reqs:#?}");
    assert_eq!(reqs.get("POST /api/v2/data"), Some(&2), "{reqs:#?}");
    println!(
        "one-connection commit: {} requests: {reqs:?}",
        reqs.values().sum::<u64>()
    );

    // The next plan carries everything again.
    let (r, planned) = t.plan(changed()).await;
    assert_eq!(incremental(&planned.scope), (LISTED, CARRIABLE));
    assert!(!planned.plan.has_changes(), "{:#?}", planned.plan);
    assert_lists_and(&requests(&r), &[]);
}

/// The one-shot CLI: `--refresh=changed` says in the header what it read; the default
/// plan reads everything and says so.
#[tokio::test(flavor = "multi_thread")]
async fn the_cli_header_says_which_mode_it_used() {
    let t = Tenant::applied(&[]).await;
    let env: Vec<(&str, &str)> = t
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let state = t.state.to_string_lossy().to_string();
    let run = |extra: Vec<&'static str>| {
        let (url, repo, state, env) = (t.emu.url(), t.repo.url(), state.clone(), env.clone());
        async move {
            let mut args = vec!["--state-dir", state.as_str()];
            args.extend(extra);
            crate::common::reconcile(&url, "--plan", &repo, &args, &env).await
        }
    };
    let out = run(vec!["--refresh=changed"]).await;
    let (stdout, stderr) = crate::common::text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let header = stdout.lines().nth(1).unwrap_or_default();
    assert!(
        header.starts_with(&format!(
            "Refresh: changed — {LISTED} objects compared with Immuta, {CARRIABLE} carried as in sync from their last check (oldest 20"
        )),
        "{stdout}"
    );
    let out = run(vec![]).await;
    let (stdout, _) = crate::common::text(&out);
    assert_eq!(
        stdout.lines().nth(1),
        Some("Refresh: full — every object read")
    );
    let out = run(vec!["--refresh=changed", "--output", "json"]).await;
    let (stdout, _) = crate::common::text(&out);
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["scope"]["incremental"]["carried"], CARRIABLE);
    // Without a state directory: a full plan, and the note says why.
    let out = crate::common::reconcile(
        &t.emu.url(),
        "--plan",
        &t.repo.url(),
        &["--refresh=changed"],
        &env,
    )
    .await;
    let (stdout, stderr) = crate::common::text(&out);
    assert!(
        stdout.contains("Refresh: full — every object read (no state directory (--state-dir)"),
        "{stdout}"
    );
    assert!(stderr.contains("planning in full"), "{stderr}");
}

/// A project edited in Immuta is carried by `Changed` (its record says in sync), found
/// by a `Recheck` of its key, and, once `record_check` marks it out of sync, read by
/// every later `Changed` plan until it is written back.
#[tokio::test(flavor = "multi_thread")]
async fn a_recheck_finds_drift_that_a_changed_plan_carries() {
    let t = Tenant::applied(&[]).await;
    let resp = crate::common::http()
        .post(format!("{}/api/v2/project", t.emu.url()))
        .header("Authorization", KEY)
        .json(&serde_json::json!({
            "projectKey": "extra-4", "name": "Extra Project 4",
            "description": "edited in Immuta",
            "subscriptionPolicy": {"type": "anyone"}, "purposes": ["Extra Purpose 4"]
        }))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{resp:?}");
    let key = immuta_gitops::object::ObjectKey::new(Kind::Project, "extra-4");

    let (_, planned) = t.plan(changed()).await;
    assert!(planned.carried().contains(&key));
    assert!(!planned.plan.has_changes());

    let (r, planned) = t
        .plan(Scope::Recheck {
            keys: [key.clone()].into(),
        })
        .await;
    assert_eq!(incremental(&planned.scope), (LISTED + 1, CARRIABLE - 1));
    assert!(planned.sweepable().contains(&key));
    let updates: Vec<String> = planned
        .plan
        .changes
        .iter()
        .filter(|c| c.action == Action::Update)
        .map(|c| c.key.to_string())
        .collect();
    assert_eq!(updates, ["project/extra-4"]);
    assert_eq!(requests(&r).get("GET /project/{id}"), Some(&1));
    r.record_check(&planned).unwrap();

    // Out of sync by its record: read (and shown) by the next Changed plan.
    let (_, planned) = t.plan(changed()).await;
    assert!(!planned.carried().contains(&key));
    assert!(planned.plan.has_changes());
}

/// The data-source list is read every plan: a carried connection whose data sources
/// were deleted outside Git is dry-run after all, and the plan shows them coming back.
#[tokio::test(flavor = "multi_thread")]
async fn a_connection_deleted_outside_git_is_not_carried() {
    let t = Tenant::applied(&[]).await;
    let resp = crate::common::http()
        .delete(format!(
            "{}/api/v2/data/acme-redshift-finance?dryRun=false",
            t.emu.url()
        ))
        .header("Authorization", KEY)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{resp:?}");
    let key = immuta_gitops::object::ObjectKey::new(Kind::Data, "acme-redshift-finance");

    let mark = t.mark();
    let (_, planned) = t.plan(changed()).await;
    assert!(!planned.carried().contains(&key));
    assert!(planned.live.uncarried.contains(&key));
    assert_eq!(incremental(&planned.scope), (LISTED + 1, CARRIABLE - 1));
    assert_eq!(
        t.writes_since(mark),
        (1, 0),
        "one dry run, for that connection alone"
    );
    let change = planned.plan.changes.iter().find(|c| c.key == key).unwrap();
    assert_eq!(change.action, Action::Create, "{change:#?}");
}
