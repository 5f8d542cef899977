//! Bad input never reaches Immuta: each case must fail with a `file:line` error (or a
//! clear connection/auth error) and leave the emulator without a single write.

use crate::common;

use common::*;

const PURPOSE: &str = "name: Fraud Detection\ndescription: Detect fraud\n";
const POLICY: &str = "policyKey: mask-ssn\nname: Mask SSN\ntype: data\nactions:\n  - rules:\n      - type: Masking\n        config:\n          fields:\n            - type: columnTags\n              columnTag: Discovered.SSN\n          maskingConfig:\n            type: Hash\n";

/// Runs `reconcile --apply` on a tree made of the valid base plus `bad`, and checks the
/// outcome: exit 1, stderr naming `expect`, zero requests that changed anything.
async fn refused(bad: &[(&str, &str)], expect: &[&str]) {
    let emu = emulator(None).await;
    let tmp = tempfile::tempdir().unwrap();
    let mut files = vec![
        ("purpose/fraud.yaml", PURPOSE),
        ("policy/mask-ssn.yaml", POLICY),
    ];
    files.extend_from_slice(bad);
    let dir = write_tree(tmp.path(), "repo", &files);
    let out = reconcile(&emu.url(), "--apply", &dir.to_string_lossy(), &[], &[]).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    for e in expect {
        assert!(stderr.contains(e), "expected {e:?} in stderr:\n{stderr}");
    }
    assert!(
        emu.emulator.write_log().is_empty(),
        "no request may reach a write endpoint: {:?}",
        emu.emulator.write_log()
    );
    assert_eq!(real_writes(&emu), 0);
}

#[tokio::test]
async fn malformed_yaml() {
    refused(
        &[(
            "policy/broken.yaml",
            "policyKey: broken\nname: [unclosed\ntype: data\n",
        )],
        &["policy/broken.yaml:"],
    )
    .await;
}

#[tokio::test]
async fn file_in_unknown_directory() {
    refused(
        &[("policies/extra.yaml", PURPOSE)],
        &["policies/extra.yaml:1:1", "unknown directory"],
    )
    .await;
}

#[tokio::test]
async fn wrong_field_type() {
    refused(
        &[(
            "project/p.yaml",
            "projectKey: p1\nname: P1\nallowMaskedJoins: \"yes\"\n",
        )],
        &["project/p.yaml:3:", "allowMaskedJoins"],
    )
    .await;
}

#[tokio::test]
async fn unknown_enum_value() {
    refused(
        &[(
            "policy/sub.yaml",
            "policyKey: sub\nname: Sub\ntype: subscriptions\nactions:\n  type: anyone\n",
        )],
        &["policy/sub.yaml:3:", "subscriptions"],
    )
    .await;
}

#[tokio::test]
async fn duplicate_key_names_both_files() {
    refused(
        &[("purpose/again.yaml", PURPOSE)],
        &["purpose/again.yaml:1", "purpose/fraud.yaml:1", "duplicate"],
    )
    .await;
}

#[tokio::test]
async fn missing_env_var() {
    let ds = "connectionKey: warehouse\nconnection:\n  handler: Snowflake\n  hostname: acme.snowflakecomputing.com\n  port: 443\n  database: ANALYTICS\n  warehouse: COMPUTE_WH\n  authenticationMethod: userPassword\n  username: svc_immuta\n  password: '{{EnvVar \"IMMUTA_GITOPS_TEST_UNSET_VAR\"}}'\nsources:\n  - table: orders\n    schema: public\n";
    refused(
        &[("data/warehouse.yaml", ds)],
        &["data/warehouse.yaml:10:", "IMMUTA_GITOPS_TEST_UNSET_VAR"],
    )
    .await;
}

#[tokio::test]
async fn read_file_outside_the_repository() {
    let ds = "connectionKey: warehouse\nconnection:\n  handler: Snowflake\n  hostname: acme.snowflakecomputing.com\n  port: 443\n  database: ANALYTICS\n  warehouse: COMPUTE_WH\n  authenticationMethod: userPassword\n  username: svc_immuta\n  password: '{{ReadFile \"../../../etc/passwd\"}}'\nsources:\n  - table: orders\n    schema: public\n";
    refused(
        &[("data/warehouse.yaml", ds)],
        &["data/warehouse.yaml:10:", "outside"],
    )
    .await;
}

#[tokio::test]
async fn unreachable_immuta() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = write_tree(tmp.path(), "repo", &[("purpose/fraud.yaml", PURPOSE)]);
    // Bind then drop a listener so the port is known to be closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let out = reconcile(
        &url,
        "--apply",
        &dir.to_string_lossy(),
        &["--timeout", "2s"],
        &[],
    )
    .await;
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot reach Immuta"), "{stderr}");
}

#[tokio::test]
async fn wrong_api_key() {
    let emu = emulator(None).await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = write_tree(tmp.path(), "repo", &[("purpose/fraud.yaml", PURPOSE)]);
    let out = run(
        &[
            "reconcile",
            "--apply",
            "--repo",
            &dir.to_string_lossy(),
            "--immuta-url",
            &emu.url(),
        ],
        &[("IMMUTA_API_KEY", "not-the-right-key")],
    )
    .await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stderr.contains("rejected the API key (401)"), "{stderr}");
    assert!(!stderr.contains("not-the-right-key") && !stdout.contains("not-the-right-key"));
    assert_eq!(real_writes(&emu), 0);
}
