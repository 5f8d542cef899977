//! The core pipeline end to end, through the real binary: Git repository → plan →
//! apply → plan converges, against the emulator over HTTP on 127.0.0.1.

mod common;

use common::*;

fn assert_no_secrets(outputs: &[&str], secrets: &[(String, String)]) {
    for o in outputs {
        assert!(!o.contains(KEY), "API key leaked:\n{o}");
        for (_, v) in secrets {
            assert!(!o.contains(v.as_str()), "secret {v} leaked:\n{o}");
        }
    }
}

/// The demo tenant plus the repository URL and the env pairs the binary needs.
struct Demo {
    tenant: DemoTenant,
    repo: String,
}

impl Demo {
    async fn start() -> Demo {
        let tenant = DemoTenant::start().await;
        let repo = tenant.repo.url();
        Demo { tenant, repo }
    }

    fn env(&self) -> Vec<(&str, &str)> {
        env_refs(&self.tenant.secrets)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_plan_apply_plan_converges() {
    let demo = Demo::start().await;
    let (emu, repo, secrets) = (&demo.tenant.emu, &demo.repo, &demo.tenant.secrets);
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
    let (emu, repo, secrets) = (&demo.tenant.emu, &demo.repo, &demo.tenant.secrets);
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
    let secrets = secret_env(&dir);
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

/// Issue 10: `GET /policy/global` lists policy templates unless `templates=false`
/// (002:1566-1570). A tenant holding a template (as 000:3960-3981 shows one) must not plan
/// it as an unmanaged policy, while a real unmanaged policy still shows.
#[tokio::test(flavor = "multi_thread")]
async fn policy_templates_never_show_in_a_plan() {
    let tmp = tempfile::tempdir().unwrap();
    let template = "name: Manual global write policy\npolicyKey: Manual global write policy\ntype: subscription\ntemplate: true\nactions:\n  type: manual\n";
    let real =
        "name: Hand Made\npolicyKey: hand-made\ntype: subscription\nactions:\n  type: anyone\n";
    let seed = write_tree(
        tmp.path(),
        "seed",
        &[
            ("policy/template.yaml", template),
            ("policy/real.yaml", real),
        ],
    );
    let src = write_tree(
        tmp.path(),
        "src",
        &[("purpose/p.yaml", "name: Fraud Detection\n")],
    );
    let repo = git_repo(&src, tmp.path());
    let emu = emulator(Some(&seed)).await;
    let plan = reconcile(&emu.url(), "--plan", &repo, &[], &[]).await;
    let (out, err) = text(&plan);
    assert_eq!(plan.status.code(), Some(0), "{out}\n{err}");
    assert!(out.contains("? policy/hand-made exists in Immuta"), "{out}");
    assert!(
        !out.contains("Manual global write policy"),
        "a template showed in the plan:\n{out}"
    );
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn issue_10_all_tables_of_an_empty_database_converge_without_writes() {
    // The emulator knows no remote database here, so `sources: [{all: true}]` matches
    // nothing: the dry run lists no data source at all.
    let emu = emulator(None).await;
    let tmp = tempfile::tempdir().unwrap();
    let yaml = "connectionKey: empty-warehouse\nconnection:\n  handler: Snowflake\n  hostname: empty.snowflakecomputing.com\n  port: 443\n  database: NOTHING\n  warehouse: WH\n  authenticationMethod: userPassword\n  username: svc\n  password: '{{EnvVar \"EMPTY_DB_PASSWORD\"}}'\nsources:\n  - all: true\n";
    let src = write_tree(tmp.path(), "src", &[("data/empty.yaml", yaml)]);
    let repo = git_repo(&src, tmp.path());
    let env = [("EMPTY_DB_PASSWORD", "pw-4c1d9e")];
    for mode in ["--plan", "--apply", "--plan"] {
        let out = reconcile(&emu.url(), mode, &repo, &["--detailed-exitcode"], &env).await;
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{mode}:\n{stdout}\n{stderr}");
        assert!(
            stdout.contains(
                "data/empty-warehouse has nothing to write: connection matches no tables"
            ),
            "{mode}:\n{stdout}"
        );
        assert!(!stdout.contains("pw-4c1d9e") && !stderr.contains("pw-4c1d9e"));
    }
    assert_eq!(real_writes(&emu), 0, "nothing to create is never a create");
}
