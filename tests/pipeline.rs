//! The core pipeline end to end, through the real binary: Git repository → plan →
//! apply → plan converges, against the emulator over HTTP on 127.0.0.1.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::*;

/// Every `{{EnvVar "NAME"}}` / `${NAME}` used under `dir`, each with a distinct secret value.
fn env_for(dir: &Path) -> Vec<(String, String)> {
    let mut names = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(text) = std::fs::read_to_string(&p) {
                for part in text.split("EnvVar \"").skip(1) {
                    names.insert(part.split('"').next().unwrap().to_string());
                }
                for part in text.split("${").skip(1) {
                    names.insert(part.split('}').next().unwrap().to_string());
                }
            }
        }
    }
    names
        .into_iter()
        .map(|n| (n.clone(), format!("s3cret-value-for-{n}")))
        .collect()
}

fn assert_no_secrets(outputs: &[&str], secrets: &[(String, String)]) {
    for o in outputs {
        assert!(!o.contains(KEY), "API key leaked:\n{o}");
        for (_, v) in secrets {
            assert!(!o.contains(v.as_str()), "secret {v} leaked:\n{o}");
        }
    }
}

/// The demo tenant in an emulator and the demo's desired tree in a Git repository,
/// with a distinct secret value for every placeholder.
struct Demo {
    emu: immuta_gitops::emulator::Handle,
    repo: String,
    secrets: Vec<(String, String)>,
    _tmp: tempfile::TempDir,
}

impl Demo {
    async fn start() -> Demo {
        let root = root();
        let emu = emulator(Some(&root.join("examples/demo/live"))).await;
        let tmp = tempfile::tempdir().unwrap();
        let desired = root.join("examples/demo/desired");
        let repo = git_repo(&desired, tmp.path());
        let secrets = env_for(&desired);
        Demo {
            emu,
            repo,
            secrets,
            _tmp: tmp,
        }
    }

    fn env(&self) -> Vec<(&str, &str)> {
        self.secrets
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_plan_apply_plan_converges() {
    let demo = Demo::start().await;
    let (emu, repo, secrets) = (&demo.emu, &demo.repo, &demo.secrets);
    let env = demo.env();

    let plan = reconcile(&emu.url(), "--plan", repo, &["--detailed-exitcode"], &env).await;
    let (plan_out, plan_err) = text(&plan);
    assert_eq!(plan.status.code(), Some(2), "{plan_out}\n{plan_err}");
    assert!(plan_out.contains(" to add, "), "{plan_out}");
    assert!(plan_out.contains("  + "), "{plan_out}");
    assert!(plan_out.contains("  ~ "), "{plan_out}");
    assert_eq!(real_writes(emu), 0, "a plan must not write");

    let apply = reconcile(&emu.url(), "--apply", repo, &[], &env).await;
    let (apply_out, apply_err) = text(&apply);
    assert_eq!(apply.status.code(), Some(0), "{apply_out}\n{apply_err}");
    assert!(apply_out.contains("Apply complete!"), "{apply_out}");
    assert!(real_writes(emu) > 0);

    let writes_after_apply = real_writes(emu);
    let again = reconcile(&emu.url(), "--plan", repo, &["--detailed-exitcode"], &env).await;
    let (again_out, again_err) = text(&again);
    assert_eq!(
        again.status.code(),
        Some(0),
        "not converged:\n{again_out}\n{again_err}"
    );
    assert!(again_out.contains("No changes."), "{again_out}");
    assert_eq!(real_writes(emu), writes_after_apply);

    assert_no_secrets(
        &[
            &plan_out, &plan_err, &apply_out, &apply_err, &again_out, &again_err,
        ],
        secrets,
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn json_plan_is_versioned_and_secret_free() {
    let demo = Demo::start().await;
    let (emu, repo, secrets) = (&demo.emu, &demo.repo, &demo.secrets);
    let env = demo.env();
    let out = reconcile(&emu.url(), "--plan", repo, &["--output", "json"], &env).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["format_version"], 1);
    assert_eq!(doc["has_changes"], true);
    assert!(doc["summary"]["add"].as_u64().unwrap() > 0);
    assert!(doc["revision"].as_str().unwrap().len() == 40);
    assert_no_secrets(&[&stdout, &stderr], secrets);
}

#[tokio::test(flavor = "multi_thread")]
async fn seed_examples_validate() {
    let dir = root().join("tests/fixtures/seeds");
    let secrets = env_for(&dir);
    let env: Vec<(&str, &str)> = secrets
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let out = run(&["validate", &dir.to_string_lossy()], &env).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("valid"), "{stdout}");
    assert_no_secrets(&[&stdout, &stderr], &secrets);
}

#[tokio::test(flavor = "multi_thread")]
async fn validate_reports_every_problem_with_its_place() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = write_tree(
        tmp.path(),
        "repo",
        &[
            ("purpose/a.yaml", "name: A\ndescription: [1, 2]\n"),
            (
                "policy/b.yaml",
                "policyKey: b\nname: B\ntype: nope\nactions: {type: anyone}\n",
            ),
        ],
    );
    let out = run(&["validate", &dir.to_string_lossy()], &[]).await;
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("purpose/a.yaml:2:"), "{stdout}");
    assert!(stdout.contains("policy/b.yaml:3:"), "{stdout}");
}
