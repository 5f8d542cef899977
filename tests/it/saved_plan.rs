//! Saved plans through the real binary: `reconcile --plan --out FILE` writes a plan file
//! without secrets; `apply FILE` applies exactly that plan, and refuses it ("plan is
//! stale") when the Git ref moved or an object in it changed in Immuta since.

use crate::common;

use std::collections::BTreeSet;
use std::path::PathBuf;

use common::*;
use immuta_emulator::Handle;
use serde_json::{json, Value};

struct Setup {
    emu: Handle,
    tmp: tempfile::TempDir,
    repo: TestRepo,
    secrets: Vec<(String, String)>,
    scan: SecretScan,
}

impl Setup {
    async fn new() -> Setup {
        let DemoTenant {
            emu,
            tmp,
            repo,
            secrets,
            scan,
        } = DemoTenant::start().await;
        Setup {
            emu,
            tmp,
            repo,
            secrets,
            scan,
        }
    }

    /// `reconcile --plan --out <file>`; returns the file and the plan document in it.
    async fn save_plan(&mut self, name: &str) -> (PathBuf, Value) {
        let file = self.tmp.path().join(name);
        let out = reconcile(
            &self.emu.url(),
            "--plan",
            &self.repo.url(),
            &["--out", &file.to_string_lossy()],
            &env_refs(&self.secrets),
        )
        .await;
        self.scan.output("plan --out", &out);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
        assert!(stderr.contains("Plan saved to"), "{stderr}");
        let body = std::fs::read_to_string(&file).unwrap();
        self.scan.add(&format!("plan file {name}"), body.clone());
        (file, serde_json::from_str(&body).unwrap())
    }

    /// `immuta-gitops apply <file>`.
    async fn apply(&mut self, file: &std::path::Path) -> std::process::Output {
        let cache = self.tmp.path().join("apply-cache");
        let mut env = env_refs(&self.secrets);
        env.push(("IMMUTA_API_KEY", KEY));
        let out = run(
            &[
                "apply",
                &file.to_string_lossy(),
                "--immuta-url",
                &self.emu.url(),
                "--cache-dir",
                &cache.to_string_lossy(),
            ],
            &env,
        )
        .await;
        self.scan.output("apply FILE", &out);
        out
    }

    async fn post(&self, path: &str, body: Value) {
        let resp = reqwest::Client::new()
            .post(format!("{}{path}", self.emu.url()))
            .header("Authorization", KEY)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "{resp:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_saved_plan_applies_exactly_what_was_planned() {
    let mut s = Setup::new().await;
    let (file, saved) = s.save_plan("plan.json").await;
    assert_eq!(saved["format_version"], 2);
    assert_eq!(saved["revision"].as_str().unwrap().len(), 40);
    let planned = planned_writes(&saved["plan"]);
    assert!(planned.len() >= 8, "{planned:?}");
    assert_eq!(real_write_records(&s.emu), vec![], "a plan must not write");

    let out = s.apply(&file).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("Apply complete!"), "{stdout}");
    let written: BTreeSet<String> = real_write_records(&s.emu)
        .iter()
        .map(|(_, path, key)| format!("{}/{key}", path.trim_start_matches("/api/v2/")))
        .collect();
    assert_eq!(written, planned);

    let again = reconcile(
        &s.emu.url(),
        "--plan",
        &s.repo.url(),
        &["--detailed-exitcode"],
        &env_refs(&s.secrets),
    )
    .await;
    s.scan.output("re-plan", &again);
    assert_eq!(again.status.code(), Some(0), "{:?}", text(&again));
    s.scan.assert_clean(&s.secrets);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_saved_plan_is_stale_once_an_object_in_it_changed_in_immuta() {
    let mut s = Setup::new().await;
    let hand_changes = [
        // An object the plan updates, edited by hand.
        (
            "purpose/Fraud Detection",
            json!({"name": "Fraud Detection", "description": "edited in the UI"}),
        ),
        // An object the plan creates, created by hand first.
        (
            "purpose/Population Health",
            json!({"name": "Population Health", "description": "made in the UI"}),
        ),
    ];
    for (i, (key, body)) in hand_changes.into_iter().enumerate() {
        let (file, saved) = s.save_plan(&format!("plan-{i}.json")).await;
        assert!(planned_writes(&saved["plan"]).contains(key), "{key}");
        s.post("/api/v2/purpose", body).await;
        let before = real_write_records(&s.emu).len();
        let out = s.apply(&file).await;
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
        assert!(
            stderr.contains(&format!(
                "plan is stale: {key} changed in Immuta since the plan was made"
            )),
            "{stderr}"
        );
        assert_eq!(
            real_write_records(&s.emu).len(),
            before,
            "a stale plan wrote"
        );
    }
    s.scan.assert_clean(&s.secrets);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_saved_plan_is_stale_once_the_ref_moved() {
    let mut s = Setup::new().await;
    let (file, saved) = s.save_plan("plan.json").await;
    let new = s.repo.commit(&[(
        "purpose/marketing.yaml",
        Some("name: Marketing\ndescription: Campaign analytics\n"),
    )]);
    assert_ne!(saved["revision"], new.as_str());
    let out = s.apply(&file).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stderr.contains(&format!(
            "plan is stale: the source is now at revision {new}"
        )),
        "{stderr}"
    );
    assert_eq!(real_write_records(&s.emu), vec![]);
    // A file that is not a plan is refused before anything is read.
    let junk = s.tmp.path().join("junk.json");
    std::fs::write(&junk, "{\"hello\": 1}").unwrap();
    let out = s.apply(&junk).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).1.contains("is not a plan file"),
        "{:?}",
        text(&out)
    );
    assert_eq!(real_write_records(&s.emu), vec![]);
    s.scan.assert_clean(&s.secrets);
}

/// issue 11: a saved plan stores its repository URL without credentials (query values
/// masked), so `apply` refuses such a URL with a clear message instead of sending
/// `(sensitive)` as a token, and writes nothing.
#[tokio::test(flavor = "multi_thread")]
async fn issue_11_a_saved_plan_never_holds_a_query_token() {
    let mut s = Setup::new().await;
    let (file, mut saved) = s.save_plan("plan.json").await;
    saved["source"]["repo"] = json!("https://git.example/org/repo.git?private_token=(sensitive)");
    std::fs::write(&file, serde_json::to_vec(&saved).unwrap()).unwrap();
    let before = real_writes(&s.emu);
    let out = s.apply(&file).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("carried credentials in its query string")
            && stderr.contains("--git-token-file"),
        "{stderr}"
    );
    assert_eq!(real_writes(&s.emu), before);
}

/// A plan file written by an earlier build (`tests/fixtures/saved-plan/main-v2.json`,
/// saved by `reconcile --plan --out` against the demo tenant) still loads with typed
/// keys, and is written back byte for byte: the file format did not move.
#[test]
fn a_plan_saved_by_an_earlier_build_still_loads_and_writes_back_the_same() {
    use immuta_gitops::object::{Kind, ObjectKey};
    use immuta_gitops::plan::saved::SavedPlan;

    let path = root().join("tests/fixtures/saved-plan/main-v2.json");
    let bytes = std::fs::read(&path).unwrap();
    let saved: SavedPlan = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(saved.format_version, 2);
    assert_eq!(saved.fingerprints.len(), 23);
    assert_eq!(saved.fingerprints.len(), saved.plan.changes.len());
    for c in &saved.plan.changes {
        assert!(saved.fingerprints.contains_key(&c.key), "{}", c.key);
    }
    assert!(saved
        .fingerprints
        .contains_key(&ObjectKey::new(Kind::Purpose, "Fraud Detection")));
    let again = String::from_utf8(serde_json::to_vec_pretty(&saved).unwrap()).unwrap();
    assert_eq!(again, String::from_utf8_lossy(&bytes));

    // A key that names no kind is a plan-file error, not a silently missing fingerprint.
    let mut doc: Value = serde_json::from_slice(&bytes).unwrap();
    doc["fingerprints"] = json!({"datasource/x": "00"});
    let err = serde_json::from_value::<SavedPlan>(doc)
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown kind \"datasource\""), "{err}");
}
