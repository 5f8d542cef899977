//! Weakening changes through the real binary (issue 16): `reconcile --apply` and
//! `apply plan.json` hold them unless `--allow-weakening`, apply the rest, say what was
//! held and why, and exit 3.

use crate::common;

use common::*;
use serde_json::Value;

/// Live: a purpose with an acknowledgement, another purpose, and a project that names
/// the first. Desired: the acknowledgement removed (weakens), the other purpose's
/// description edited (neutral) and the project's description edited (neutral, but it
/// names the held purpose).
struct Tenant {
    emu: immuta_emulator::Handle,
    tmp: tempfile::TempDir,
    repo: TestRepo,
}

const FRAUD_LIVE: &str =
    "name: Fraud\nacknowledgement: I will only investigate fraud.\ndescription: d\n";
const FRAUD_GIT: &str = "name: Fraud\ndescription: d\n";
const BILLING_LIVE: &str = "name: Billing\ndescription: old\n";
const BILLING_GIT: &str = "name: Billing\ndescription: new\n";
const PROJECT_LIVE: &str =
    "projectKey: fraud-review\nname: Fraud Review\ndescription: old\npurposes: [Fraud]\n";
const PROJECT_GIT: &str =
    "projectKey: fraud-review\nname: Fraud Review\ndescription: new\npurposes: [Fraud]\n";

impl Tenant {
    async fn start(with_project: bool) -> Tenant {
        let tmp = tempfile::tempdir().unwrap();
        let mut live = vec![
            ("purpose/fraud.yaml", FRAUD_LIVE),
            ("purpose/billing.yaml", BILLING_LIVE),
        ];
        let mut git = vec![
            ("purpose/fraud.yaml", Some(FRAUD_GIT)),
            ("purpose/billing.yaml", Some(BILLING_GIT)),
        ];
        if with_project {
            live.push(("project/fraud-review.yaml", PROJECT_LIVE));
            git.push(("project/fraud-review.yaml", Some(PROJECT_GIT)));
        }
        let seed = write_tree(tmp.path(), "live", &live);
        let emu = emulator(Some(&seed)).await;
        let repo = TestRepo::new(tmp.path(), "repo");
        repo.commit(&git);
        Tenant { emu, tmp, repo }
    }

    /// `reconcile` as users run it: without `--allow-weakening` unless `extra` has it.
    async fn reconcile(&self, mode: &str, extra: &[&str]) -> std::process::Output {
        let env = [(ALLOW_WEAKENING, "false")];
        reconcile(&self.emu.url(), mode, &self.repo.url(), extra, &env).await
    }

    /// The key of every object written for real, in order.
    fn written(&self) -> Vec<String> {
        real_write_records(&self.emu)
            .into_iter()
            .map(|(_, _, key)| key)
            .collect()
    }
}

#[tokio::test]
async fn reconcile_apply_holds_the_weakening_change_and_applies_the_neutral_one() {
    let t = Tenant::start(false).await;
    let out = t.reconcile("--apply", &[]).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(3), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("! ~ purpose/Fraud is HELD for approval: it will be updated in place once approved\n      ! weakens data protection: purpose acknowledgement removed"),
        "{stdout}"
    );
    assert!(
        stdout.contains("1 change weakens data protection (1 held for approval)."),
        "{stdout}"
    );
    assert!(
        stdout.contains("  ! purpose/Fraud held: held for approval (weakens data protection): purpose acknowledgement removed"),
        "{stdout}"
    );
    assert!(stdout.contains("  ✓ purpose/Billing updated"), "{stdout}");
    assert!(stderr.contains("--allow-weakening"), "{stderr}");
    assert_eq!(t.written(), vec!["Billing".to_string()]);

    // Allowed: the held change goes through, and the next plan is empty.
    let out = t.reconcile("--apply", &["--allow-weakening"]).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("  ✓ purpose/Fraud updated"), "{stdout}");
    assert_eq!(t.written().last().map(String::as_str), Some("Fraud"));
    let again = t.reconcile("--plan", &[]).await;
    assert!(text(&again).0.contains("No changes."), "{}", text(&again).0);
}

#[tokio::test]
async fn what_names_a_held_change_waits_for_it() {
    let t = Tenant::start(true).await;
    let out = t.reconcile("--apply", &["--output", "json"]).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(3), "{stdout}\n{stderr}");
    let docs = json_docs(&stdout);
    let plan = &docs[0];
    assert_eq!(plan["summary"]["weakening"], 1, "{plan:#}");
    assert_eq!(plan["summary"]["held"], 1, "{plan:#}");
    let results: Vec<(String, String)> = docs[1]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                format!(
                    "{}/{}",
                    r["key"]["kind"].as_str().unwrap(),
                    r["key"]["name"].as_str().unwrap()
                ),
                r["outcome"]["result"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        results,
        vec![
            ("purpose/Billing".to_string(), "applied".to_string()),
            ("purpose/Fraud".to_string(), "held".to_string()),
            ("project/fraud-review".to_string(), "held".to_string()),
        ]
    );
    let reason = docs[1]["results"][2]["outcome"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("depends on purpose/Fraud, which is held for approval"),
        "{reason}"
    );
    assert_eq!(t.written(), vec!["Billing".to_string()]);
}

#[tokio::test]
async fn a_saved_plan_is_held_the_same_way() {
    let t = Tenant::start(false).await;
    let file = t.tmp.path().join("plan.json");
    let file = file.to_string_lossy().to_string();
    let out = t.reconcile("--plan", &["--out", &file]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert!(
        saved["plan"].get("held").is_none(),
        "a saved plan holds nothing yet"
    );
    let apply = |extra: &'static [&'static str]| {
        let (url, file) = (t.emu.url(), file.clone());
        async move {
            let mut args = vec!["apply", file.as_str(), "--immuta-url", url.as_str()];
            args.extend_from_slice(extra);
            run(
                &args,
                &[("IMMUTA_API_KEY", KEY), (ALLOW_WEAKENING, "false")],
            )
            .await
        }
    };
    let out = apply(&[]).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(3), "{stdout}\n{stderr}");
    assert!(stdout.contains("purpose/Fraud held"), "{stdout}");
    assert_eq!(t.written(), vec!["Billing".to_string()]);
}
